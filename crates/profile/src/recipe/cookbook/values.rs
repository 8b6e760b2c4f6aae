//! Value conversions shared by the cookbook recipes: option text read as
//! the SlapOS fork gives it to a recipe (a `!py!` value decoded), values
//! set on options (strings as is, anything else as `!py!`, spec §7.3),
//! JSON from the master turned into Python values, and JSON written as
//! Python's `json.dumps` writes it (the `{"_": json}` serialisation and
//! the password storage file must match it byte for byte).

use crate::python::{decode_py_value, encode_py_value, python_repr, PyValue};

/// `GenericBaseRecipe.TRUE_VALUES`, compared lowercased.
pub(super) fn is_true(value: &str) -> bool {
    matches!(value.to_lowercase().as_str(), "y" | "yes" | "1" | "true")
}

/// The text a Python recipe would see for an option: a `!py!` string
/// decoded, another `!py!` value as Python's `str()` of it, anything else
/// as written.
pub(super) fn option_text(raw: &str) -> String {
    match raw.strip_prefix("!py!").map(decode_py_value) {
        Some(Ok(PyValue::Str(text))) => text,
        Some(Ok(value)) => python_repr(&value),
        _ => raw.to_owned(),
    }
}

/// The option text for a value a recipe sets: a string as is, anything
/// else `!py!`-encoded.
pub(super) fn option_value(value: &PyValue) -> String {
    match value {
        PyValue::Str(text) => text.clone(),
        other => encode_py_value(other),
    }
}

/// JSON as `json.loads` gives it to Python (objects keep serde_json's
/// key order, which is sorted).
pub(super) fn json_to_py(value: &serde_json::Value) -> PyValue {
    match value {
        serde_json::Value::Null => PyValue::None,
        serde_json::Value::Bool(b) => PyValue::Bool(*b),
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(integer) => PyValue::Int(integer),
            None => PyValue::Float(number.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(text) => PyValue::Str(text.clone()),
        serde_json::Value::Array(items) => PyValue::List(items.iter().map(json_to_py).collect()),
        serde_json::Value::Object(map) => {
            PyValue::Dict(map.iter().map(|(key, value)| (PyValue::Str(key.clone()), json_to_py(value))).collect())
        }
    }
}

/// Python's `json.dumps(value)` with default arguments: `", "` and `": "`
/// separators, ASCII only, keys in the map's order.
pub(super) fn python_json_dumps(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Null => out.push_str("null"),
        serde_json::Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        serde_json::Value::Number(number) => match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(integer), _, _) => out.push_str(&integer.to_string()),
            (None, Some(integer), _) => out.push_str(&integer.to_string()),
            (None, None, Some(float)) => out.push_str(&python_repr(&PyValue::Float(float))),
            _ => out.push_str("NaN"),
        },
        serde_json::Value::String(text) => crate::python::write_json_string(text, out),
        serde_json::Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_json(item, out);
            }
            out.push(']');
        }
        serde_json::Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                crate::python::write_json_string(key, out);
                out.push_str(": ");
                write_json(item, out);
            }
            out.push('}');
        }
    }
}


/// `librecipe.wrap`: `{"_": json.dumps(value)}`.
pub(super) fn wrap(value: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    std::collections::BTreeMap::from([("_".to_owned(), python_json_dumps(value))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_dumps_matches_python_defaults() {
        let value = serde_json::json!({"a": [1, true, null, 1.5], "é": "x\"\n"});
        assert_eq!(python_json_dumps(&value), r#"{"a": [1, true, null, 1.5], "\u00e9": "x\"\n"}"#);
    }

    #[test]
    fn option_text_decodes_py_strings() {
        assert_eq!(option_text("!py!'abc'"), "abc");
        assert_eq!(option_text("!py!16"), "16");
        assert_eq!(option_text("plain"), "plain");
    }
}
