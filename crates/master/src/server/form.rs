//! `application/x-www-form-urlencoded` bodies and query strings, decoded
//! strictly: a field that is not UTF-8 is an error naming it, never a
//! silently mangled value.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};

use super::error::ApiError;

/// A POSTed SLAP form, decoded, whose slot ids agree with the
/// `X-SlapPartition` header when both are sent: a partition may only speak
/// for itself, never name another partition in the form.
#[derive(Debug)]
pub(super) struct SlapForm(pub(super) Fields);

impl<S: Send + Sync> FromRequest<S> for SlapForm {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<SlapForm, ApiError> {
        let header = request.headers().get(axum::http::header::AUTHORIZATION).cloned();
        let body = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(rejection.body_text())
            } else {
                ApiError::BadRequest(rejection.body_text())
            }
        })?;
        let fields = Fields::parse(&body)?;
        if let Some(header) = header {
            let header = header.to_str().map_err(|_| ApiError::BadRequest("Authorization header is not ASCII".into()))?;
            if let Some(auth) = proto::auth::parse_authorization(header)
                .map_err(|error| ApiError::BadRequest(format!("Authorization header: {error}")))?
            {
                check_same_partition(&fields, &auth.computer_id, &auth.partition_id)?;
            }
        }
        Ok(SlapForm(fields))
    }
}

/// Refuses a form whose `computer_id`/`computer_partition_id` name another
/// slot than the authorization header.
fn check_same_partition(fields: &Fields, computer_id: &str, partition_id: &str) -> Result<(), ApiError> {
    let form_computer = fields.optional("computer_id");
    let form_partition = fields.optional("computer_partition_id");
    let differs = form_computer.is_some_and(|c| c != computer_id) || form_partition.is_some_and(|p| p != partition_id);
    if differs {
        return Err(ApiError::Forbidden(format!(
            "the Authorization header is for partition ({computer_id} / {partition_id}) but the form names ({} / {})",
            form_computer.unwrap_or("-"),
            form_partition.unwrap_or("-"),
        )));
    }
    Ok(())
}

/// Decoded form fields, in order; a repeated field keeps its last value on
/// lookup, as werkzeug's `request.form[...]` does for its first — the SLAP
/// clients never repeat a field.
#[derive(Debug, Default, Clone)]
pub(super) struct Fields(Vec<(String, String)>);

impl Fields {
    /// Parses `a=1&b=x+y&c=%C3%A9`.
    ///
    /// # Errors
    /// [`ApiError::BadRequest`] naming the field whose name or value is not
    /// UTF-8 once percent-decoded.
    pub(super) fn parse(encoded: &[u8]) -> Result<Fields, ApiError> {
        let mut fields = Vec::new();
        for pair in encoded.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &b""[..]),
            };
            let name = decode(name).map_err(|_| {
                ApiError::BadRequest(format!("form field name {:?} is not UTF-8", String::from_utf8_lossy(name)))
            })?;
            let value = decode(value)
                .map_err(|_| ApiError::BadRequest(format!("form field {name:?} is not UTF-8")))?;
            fields.push((name, value));
        }
        Ok(Fields(fields))
    }

    /// The value of a field, if sent.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The value of a required field.
    ///
    /// # Errors
    /// [`ApiError::BadRequest`] naming the missing field.
    pub(super) fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::missing(name))
    }

    /// A field the Python client may send as the string `None` for a Python
    /// `None` (§1): that, an empty value and an absent field are all `None`.
    pub(super) fn optional(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty() && *v != "None")
    }
}

fn decode(raw: &[u8]) -> Result<String, std::string::FromUtf8Error> {
    let plus_as_space: Vec<u8> = raw.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus_as_space).collect();
    String::from_utf8(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent_and_keeps_order() {
        let fields = Fields::parse(b"a=1&b=x+y&c=%C3%A9&d&e=None").expect("valid form");
        assert_eq!(fields.get("a"), Some("1"));
        assert_eq!(fields.get("b"), Some("x y"));
        assert_eq!(fields.get("c"), Some("é"));
        assert_eq!(fields.get("d"), Some(""));
        assert_eq!(fields.optional("e"), None);
        assert!(fields.require("z").is_err());
    }

    #[test]
    fn non_utf8_value_is_an_error_naming_the_field() {
        let error = Fields::parse(b"computer_id=%FF%FE").expect_err("not UTF-8");
        assert_eq!(error.to_string(), "form field \"computer_id\" is not UTF-8");
    }
}
