//! The one error type of the HTTP server and its mapping to statuses, in
//! one place. Statuses are those the real SlapOS clients expect
//! (`shared/spec/slap-protocol.md` §1): 404 for unknown things and for
//! allocation failures, 400 for malformed input, never 500 for bad input;
//! for an order forwarded to another master (§7.9), 408 when it is not
//! ready there, 502 when that master fails it, 523 when it is unreachable.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::store::{Refusal, StoreError};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request itself is wrong: missing field, malformed XML, bad type.
    #[error("{0}")]
    BadRequest(String),
    /// A partition acting for another partition.
    #[error("{0}")]
    Forbidden(String),
    /// The body is larger than the configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// Unknown computer, partition, instance; no free partition.
    #[error("{0}")]
    NotFound(String),
    /// Well-formed but refused for the current state of the store.
    #[error("{0}")]
    Conflict(String),
    /// A forwarded request the other master accepted but has not allocated
    /// yet (it answered 408): ask again later.
    #[error("{0}")]
    NotReady(String),
    /// The master a request was forwarded to answered with an error, or
    /// with something that is not an instance.
    #[error("{0}")]
    BadGateway(String),
    /// The master a request was forwarded to cannot be reached: 523, as
    /// the proxy's `HTTPConnectionError`.
    #[error("{0}")]
    Unreachable(String),
    /// The store failed; the detail is logged, not sent.
    #[error("internal error")]
    Store(#[source] StoreError),
}

impl ApiError {
    /// A missing form or query field.
    pub fn missing(field: &str) -> ApiError {
        ApiError::BadRequest(format!("missing required field {field:?}"))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::Refused(refusal @ (Refusal::NoFreePartition { .. } | Refusal::NoSharedHost { .. })) => {
                ApiError::NotFound(refusal.to_string())
            }
            StoreError::Refused(refusal @ Refusal::TitleTaken { .. }) => ApiError::Conflict(refusal.to_string()),
            other => ApiError::Store(other),
        }
    }
}

/// The proxy's status for an unreachable forward target (Cloudflare's
/// "origin is unreachable"), which werkzeug does not know.
pub(super) const STATUS_UNREACHABLE: u16 = 523;

/// The status line werkzeug would send: its reason phrases are upper case,
/// and a test of the real client greps `400 Client Error: BAD REQUEST`.
pub(super) fn status_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, [("content-type", "text/html; charset=utf-8")], body).into_response();
    if let Some(reason) = upper_reason(status) {
        response.extensions_mut().insert(hyper::ext::ReasonPhrase::from_static(reason));
    }
    response
}

fn upper_reason(status: StatusCode) -> Option<&'static [u8]> {
    Some(match status.as_u16() {
        400 => b"BAD REQUEST",
        403 => b"FORBIDDEN",
        404 => b"NOT FOUND",
        405 => b"METHOD NOT ALLOWED",
        406 => b"NOT ACCEPTABLE",
        408 => b"REQUEST TIMEOUT",
        409 => b"CONFLICT",
        413 => b"REQUEST ENTITY TOO LARGE",
        415 => b"UNSUPPORTED MEDIA TYPE",
        500 => b"INTERNAL SERVER ERROR",
        502 => b"BAD GATEWAY",
        // werkzeug's name for a code it does not know.
        STATUS_UNREACHABLE => b"UNKNOWN",
        _ => return None,
    })
}

/// The 523 status.
pub(super) fn unreachable_status() -> StatusCode {
    StatusCode::from_u16(STATUS_UNREACHABLE).expect("523 is within 100..=999")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::NotReady(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unreachable(_) => unreachable_status(),
            ApiError::Store(error) => {
                tracing::error!(error = %error, "store failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        status_response(status, self.to_string())
    }
}
