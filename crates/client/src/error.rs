//! The one error type of the crate. Every variant names the URL it was
//! about, and HTTP variants the status, so a user can tell which call of
//! which master failed and why.
//!
//! Status mapping is the Python `ConnectionHelper.do_request` one, in
//! [`ClientError::from_status`]: 404 → [`ClientError::NotFound`], 408 →
//! [`ClientError::ResourceNotReady`] (the master accepted the order but has
//! not allocated it yet), 500/502/503/520/523/524/526 →
//! [`ClientError::Server`], any other 4xx or 5xx → [`ClientError::Http`].

/// What can go wrong talking to a SlapOS master.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A URL given by the user or by the master cannot be used.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built (TLS backend, resolver).
    #[error("cannot set up an HTTP client for {master_url}: {source}")]
    Setup {
        /// The master the client was for.
        master_url: String,
        /// The builder's error.
        #[source]
        source: reqwest::Error,
    },
    /// No HTTP answer: refused, reset, timed out, bad redirect.
    #[error("cannot reach {url}: {source}")]
    Connection {
        /// The URL called.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// 404: the master does not know the thing asked for (computer,
    /// partition, free slot, host for a shared instance).
    #[error("{url}: not found (HTTP 404){}", detail(.body))]
    NotFound {
        /// The URL called.
        url: String,
        /// The answer's body, for the master's explanation.
        body: String,
    },
    /// 408: the master accepted the request but the resource is not ready
    /// yet (an instance not allocated yet). Not a failure: ask again later.
    #[error("{url}: resource not ready yet (HTTP 408)")]
    ResourceNotReady {
        /// The URL called.
        url: String,
    },
    /// 500, 502, 503, 520, 523, 524 or 526: the master (or a master it
    /// forwards to) failed.
    #[error("{url}: server error (HTTP {status}){}", detail(.body))]
    Server {
        /// The URL called.
        url: String,
        /// The status code.
        status: u16,
        /// The answer's body.
        body: String,
    },
    /// Any other error status (400 bad field, 401, 403, 405, 501...).
    #[error("{url}: HTTP error {status}{}", detail(.body))]
    Http {
        /// The URL called.
        url: String,
        /// The status code.
        status: u16,
        /// The answer's body.
        body: String,
    },
    /// A 2xx answer whose body is not what the call expects.
    #[error("{url}: unexpected answer: {reason}")]
    InvalidResponse {
        /// The URL called.
        url: String,
        /// What is wrong with the body.
        reason: String,
    },
    /// An operation needs the HATEOAS API (`service`/`computer` list and
    /// info) but neither `master_rest_url` nor `getHateoasUrl` gave one.
    #[error("the master {master_url} has no HATEOAS API: set master_rest_url in the client configuration")]
    NoHateoas {
        /// The classic master URL that was asked for `getHateoasUrl`.
        master_url: String,
    },
}

/// Bodies longer than this are cut in error messages.
const BODY_IN_MESSAGE_CHARS_MAX: usize = 400;

fn detail(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return String::new();
    }
    match body.char_indices().nth(BODY_IN_MESSAGE_CHARS_MAX) {
        Some((cut, _)) => format!(": {}…", &body[..cut]),
        None => format!(": {body}"),
    }
}

impl ClientError {
    /// The error for an HTTP answer with status `status`, or `None` when
    /// the status is a success (below 400), as Python's
    /// `raise_for_status` decides.
    pub fn from_status(url: &str, status: u16, body: &str) -> Option<ClientError> {
        let url = url.to_owned();
        let body = body.to_owned();
        match status {
            0..=399 => None,
            404 => Some(ClientError::NotFound { url, body }),
            408 => Some(ClientError::ResourceNotReady { url }),
            500 | 502 | 503 | 520 | 523 | 524 | 526 => Some(ClientError::Server { url, status, body }),
            _ => Some(ClientError::Http { url, status, body }),
        }
    }

    /// The HTTP status behind this error, if it came from an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::NotFound { .. } => Some(404),
            ClientError::ResourceNotReady { .. } => Some(408),
            ClientError::Server { status, .. } | ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether this is a 404 ([`ClientError::NotFound`]).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::NotFound { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: u16, expected: Option<&str>) {
        let error = ClientError::from_status("http://m/x", status, "why");
        assert_eq!(error.map(|error| error.to_string()).as_deref(), expected, "status {status}");
    }

    #[test]
    fn status_mapping_follows_the_python_connection_helper() {
        check(200, None);
        check(302, None);
        check(404, Some("http://m/x: not found (HTTP 404): why"));
        check(408, Some("http://m/x: resource not ready yet (HTTP 408)"));
        for status in [500, 502, 503, 520, 523, 524, 526] {
            check(status, Some(&format!("http://m/x: server error (HTTP {status}): why")));
        }
        for status in [400, 401, 403, 405, 501, 504] {
            check(status, Some(&format!("http://m/x: HTTP error {status}: why")));
        }
    }

    #[test]
    fn long_bodies_are_cut_and_empty_ones_omitted() {
        let error = ClientError::from_status("u", 400, &"x".repeat(1000)).expect("error status");
        assert!(error.to_string().ends_with('…'));
        assert!(error.to_string().len() < 500);
        let error = ClientError::from_status("u", 500, " \n").expect("error status");
        assert_eq!(error.to_string(), "u: server error (HTTP 500)");
        assert_eq!(error.status(), Some(500));
    }
}
