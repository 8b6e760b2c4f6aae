//! The JSON-RPC API (`POST /slapos.<verb>.v0.<object>`, spec §4): the
//! newer API of the real master, which the proxy mirrors for its web panel.
//!
//! This module owns the envelope every endpoint shares, in the proxy's
//! order: POST only (another method is a 405 HTML page, as werkzeug's);
//! an `Accept` that does not allow JSON is a 406; a body that is not
//! declared JSON is a 415; a body that is not JSON, or does not match the
//! endpoint's request schema (every object closed, as the proxy's OpenAPI
//! file says), is a 400. The 406 is decided before any change to the store,
//! where the proxy decides it after. Errors are JSON
//! `{"status", "type", "title"}`; "not found" is a 403, as the proxy says
//! it. Successes are `application/json`, exactly.
//!
//! The endpoints live in `node` (compute nodes and software installations)
//! and `instance` (instances, shared instances, trees); `document` renders
//! store rows as the API's documents.

mod document;
mod instance;
mod node;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::error::{status_response, ApiError};
use super::AppState;
use crate::store::StoreError;

/// Every JSON-RPC endpoint, for `app()` to merge.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/slapos.get.v0.hateoas_url", endpoint(node::hateoas_url))
        .route("/slapos.post.v0.software_installation", endpoint(node::supply))
        .route("/slapos.allDocs.v0.compute_node_software_installation_list", endpoint(node::software_installation_list))
        .route("/slapos.put.v0.software_installation_reported_state", endpoint(node::software_installation_reported))
        .route("/slapos.put.v0.software_installation_error", endpoint(node::ignored::<node::SoftwareInstallationError>))
        .route("/slapos.put.v0.compute_node_format", endpoint(node::format))
        .route("/slapos.put.v0.compute_node_bang", endpoint(node::ignored::<node::ComputeNodeMessage>))
        .route("/slapos.post.v0.compute_node_usage", endpoint(node::ignored::<node::ComputeNodeUsage>))
        .route("/slapos.remove.v0.compute_node_certificate", endpoint(node::ignored::<node::ComputeNode>))
        .route("/slapos.post.v0.compute_node_certificate", endpoint(node::certificate::<node::ComputeNode>))
        .route("/slapos.get.v0.compute_node_status", endpoint(node::status))
        .route("/slapos.allDocs.v0.compute_node_instance_list", endpoint(node::instance_list))
        .route("/slapos.allDocs.WIP.compute_node_list", endpoint(node::compute_node_list))
        .route("/slapos.get.v0.software_instance_certificate", endpoint(node::certificate::<instance::InstanceGuidOnly>))
        .route("/slapos.post.v0.software_instance", endpoint(instance::request))
        .route("/slapos.get.v0.software_instance", endpoint(instance::get))
        .route("/slapos.get.v0.compute_partition", endpoint(instance::compute_partition))
        .route("/slapos.get.v0.instance_tree", endpoint(instance::tree))
        .route("/slapos.allDocs.v0.instance_tree_list", endpoint(instance::tree_list))
        .route("/slapos.allDocs.v0.instance_node_instance_list", endpoint(instance::hosted_list))
        .route("/slapos.put.v0.software_instance_reported_state", endpoint(instance::reported_state))
        .route("/slapos.put.v0.software_instance_bang", endpoint(instance::bang))
        .route("/slapos.put.v0.software_instance_title", endpoint(instance::rename))
        .route("/slapos.put.v0.software_instance_connection_parameter", endpoint(instance::connection_parameters))
        .route("/slapos.put.v0.software_instance_error", endpoint(instance::ignored_error))
}

/// A POST-only route whose other methods get werkzeug's 405 page.
fn endpoint<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    post(handler).fallback(method_not_allowed)
}

async fn method_not_allowed() -> Response {
    let page = "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n\
                <h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n";
    let mut response = status_response(StatusCode::METHOD_NOT_ALLOWED, page.to_owned());
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

/// A failed call: its status and the message the client sees as `title`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct JsonError {
    status: StatusCode,
    title: String,
}

impl JsonError {
    fn new(status: StatusCode, title: impl Into<String>) -> JsonError {
        JsonError { status, title: title.into() }
    }

    /// A request the schema or the API refuses.
    pub(super) fn bad_request(title: impl Into<String>) -> JsonError {
        JsonError::new(StatusCode::BAD_REQUEST, title)
    }

    /// Something named that does not exist, or an operation refused: the
    /// proxy answers both with 403.
    pub(super) fn forbidden(title: impl Into<String>) -> JsonError {
        JsonError::new(StatusCode::FORBIDDEN, title)
    }

    fn kind(&self) -> &'static str {
        match self.status.as_u16() {
            // werkzeug's name, which the proxy sends, differs from RFC 9110's.
            413 => "Request Entity Too Large",
            _ => self.status.canonical_reason().unwrap_or("Unknown Error"),
        }
    }
}

impl From<ApiError> for JsonError {
    fn from(error: ApiError) -> JsonError {
        match error {
            ApiError::BadRequest(title) => JsonError::bad_request(title),
            ApiError::NotFound(title) | ApiError::Forbidden(title) => JsonError::forbidden(title),
            ApiError::TooLarge(title) => JsonError::new(StatusCode::PAYLOAD_TOO_LARGE, title),
            ApiError::Conflict(title) => JsonError::new(StatusCode::CONFLICT, title),
            ApiError::NotReady(title) => JsonError::new(StatusCode::REQUEST_TIMEOUT, title),
            ApiError::BadGateway(title) => JsonError::new(StatusCode::BAD_GATEWAY, title),
            ApiError::Unreachable(title) => JsonError::new(super::error::unreachable_status(), title),
            ApiError::Store(error) => {
                tracing::error!(error = %error, "store failed");
                JsonError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            }
        }
    }
}

impl From<StoreError> for JsonError {
    fn from(error: StoreError) -> JsonError {
        JsonError::from(ApiError::from(error))
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "status": self.status.as_u16(), "type": self.kind(), "title": self.title });
        json_response(self.status, &body)
    }
}

/// A JSON answer with the upper-case reason phrase the other APIs send.
fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = status_response(status, body.to_string());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A successful call's document.
pub(super) fn reply(body: serde_json::Value) -> Response {
    json_response(StatusCode::OK, &body)
}

/// The `{"type": "success", "title": …}` acknowledgement.
pub(super) fn success(title: impl Into<String>) -> Response {
    reply(serde_json::json!({ "type": "success", "title": title.into() }))
}

/// The result of an endpoint.
pub(super) type Answer = Result<Response, JsonError>;

/// Checks a request makes beyond its shape: string lengths, value types
/// of open maps. The shape itself (fields, types, enums) is serde's.
pub(super) trait Checked {
    /// # Errors
    /// The message of the first violated rule.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The validated request body of a call, as `T`.
#[derive(Debug)]
pub(super) struct Call<T>(pub(super) T);

impl<T, S> FromRequest<S> for Call<T>
where
    T: DeserializeOwned + Checked,
    S: Send + Sync,
{
    type Rejection = JsonError;

    async fn from_request(request: Request, state: &S) -> Result<Call<T>, JsonError> {
        if !accepts_json(request.headers()) {
            return Err(JsonError::new(
                StatusCode::NOT_ACCEPTABLE,
                "The resource identified by the request is only capable of generating response entities \
                 which have content characteristics not acceptable according to the accept headers sent \
                 in the request.",
            ));
        }
        if !is_json(request.headers()) {
            return Err(JsonError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Did not attempt to load JSON data because the request Content-Type was not 'application/json'.",
            ));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| JsonError::new(rejection.status(), rejection.body_text()))?;
        decode(&body).map(Call)
    }
}

/// Parses and validates a request body.
fn decode<T: DeserializeOwned + Checked>(body: &[u8]) -> Result<T, JsonError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|error| JsonError::bad_request(format!("Failed to decode JSON object: {error}")))?;
    if !value.is_object() {
        let repr = proto::python_repr::repr_of(&proto::Value::from(&value));
        return Err(JsonError::bad_request(format!("{repr} is not of type 'object'")));
    }
    let request: T = serde_json::from_value(value).map_err(|error| JsonError::bad_request(error.to_string()))?;
    request.check().map_err(JsonError::bad_request)?;
    Ok(request)
}

/// Whether the `Content-Type` is JSON (`application/json` or
/// `application/…+json`, as werkzeug's `is_json`).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Whether the `Accept` headers allow `application/json`: no header, or a
/// media range matching it with a non-zero quality.
fn accepts_json(headers: &HeaderMap) -> bool {
    let mut ranges = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .peekable();
    if ranges.peek().is_none() {
        return true;
    }
    ranges.any(|item| {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, q)| q.trim().parse::<f64>().ok());
        let matches = matches!(range.as_str(), "*" | "*/*" | "application/*" | "application/json");
        matches && quality.is_some_and(|q| q > 0.0)
    })
}

/// For optional fields: absent is `None`, but an explicit `null` is a type
/// error, as JSON schema says (serde alone would read it as absent).
pub(super) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Checks a string's length in characters, as JSON schema's `maxLength`.
pub(super) fn check_max_length(value: &str, max: usize) -> Result<(), String> {
    if value.chars().count() > max {
        return Err(format!("{} is too long", proto::python_repr::repr_of(&proto::Value::str(value))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn accept_allows_json_like_werkzeug_best_match() {
        let check = |accept: &'static str| accepts_json(&headers(header::ACCEPT, accept));
        assert!(accepts_json(&HeaderMap::new()));
        assert!(check("*/*"));
        assert!(check("application/*"));
        assert!(check("text/html, application/json;q=0.5"));
        assert!(check("application/json;q=0, */*"));
        assert!(!check("text/html"));
        assert!(!check("application/json;q=0"));
        assert!(!check("application/xml"));
    }

    #[test]
    fn content_type_is_json_with_parameters_and_suffixes() {
        let check = |value: &'static str| is_json(&headers(header::CONTENT_TYPE, value));
        assert!(check("application/json"));
        assert!(check("Application/JSON; charset=utf-8"));
        assert!(check("application/problem+json"));
        assert!(!check("text/json"));
        assert!(!check("application/x-www-form-urlencoded"));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        name: String,
        #[serde(default, deserialize_with = "present")]
        note: Option<String>,
    }

    impl Checked for Sample {
        fn check(&self) -> Result<(), String> {
            check_max_length(&self.name, 3)
        }
    }

    #[test]
    fn bodies_are_checked_like_the_schema() {
        let error = |body: &str| decode::<Sample>(body.as_bytes()).expect_err(body).title;
        assert_eq!(decode::<Sample>(br#"{"name": "abc"}"#).expect("valid").name, "abc");
        assert!(decode::<Sample>(br#"{"name": "abc", "note": "n"}"#).expect("valid").note.is_some());
        assert_eq!(error("[]"), "[] is not of type 'object'");
        assert_eq!(error(r#""x""#), "'x' is not of type 'object'");
        assert!(error("{").starts_with("Failed to decode JSON object"));
        assert!(error("{}").contains("missing field `name`"));
        assert!(error(r#"{"name": "a", "x": 1}"#).contains("unknown field `x`"));
        assert!(error(r#"{"name": 1}"#).contains("invalid type"));
        assert!(error(r#"{"name": "a", "note": null}"#).contains("invalid type: null"));
        assert_eq!(error(r#"{"name": "abcd"}"#), "'abcd' is too long");
    }
}
