//! `application/x-www-form-urlencoded` bodies and query strings, decoded
//! strictly: a field that is not UTF-8 is an error naming it, never a
//! silently mangled value.

use super::error::ApiError;

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
