//! Python's `json.dumps(value, sort_keys=True, indent=N)`, byte for byte:
//! the real node writes `P/.slapos-resource` (indent 4) and the optional
//! `computer_json` (indent 2) this way, and instance profiles and operators
//! read or diff them, so the text must not depend on serde_json's printer.
//!
//! Facts of Python 3's encoder reproduced here: with an indent the item
//! separator is `,` at line ends and the key separator `": "`; empty lists
//! and dicts stay `[]` and `{}`; `ensure_ascii` escapes every character
//! outside space..`~` (DEL included) as lowercase `\uXXXX`, characters
//! beyond the BMP as a surrogate pair; keys are sorted by code point; no
//! final newline.

use serde_json::Value;

/// `value` as `json.dumps(value, sort_keys=True, indent=indent)` writes it.
pub(crate) fn dumps(value: &Value, indent: usize) -> String {
    let mut out = String::new();
    write_value(&mut out, value, indent, 0);
    out
}

fn write_value(out: &mut String, value: &Value, indent: usize, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::String(text) => profile::python::write_json_string(text, out),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                separate(out, index, indent, depth + 1);
                write_value(out, item, indent, depth + 1);
            }
            newline(out, indent, depth);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            // Python sorts `str` keys by code point, which is UTF-8 byte order.
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                separate(out, index, indent, depth + 1);
                profile::python::write_json_string(key, out);
                out.push_str(": ");
                write_value(out, &map[key], indent, depth + 1);
            }
            newline(out, indent, depth);
            out.push('}');
        }
    }
}

/// The `,` closing the previous item, then the new line of item `index`.
fn separate(out: &mut String, index: usize, indent: usize, depth: usize) {
    if index > 0 {
        out.push(',');
    }
    newline(out, indent, depth);
}

fn newline(out: &mut String, indent: usize, depth: usize) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', indent * depth));
}


#[cfg(test)]
mod tests {
    use super::dumps;

    #[test]
    fn matches_python_sorted_indented_output() {
        let value = serde_json::json!({
            "b": [1, {"x": "é\"\\\n\u{1}\u{7f}😀"}],
            "a": {},
            "c": [],
            "d": null,
            "e": true,
            "f": {"z": "y"},
        });
        // python3 -c 'import json; print(repr(json.dumps(d, sort_keys=True, indent=4)))'
        let python = "{\n    \"a\": {},\n    \"b\": [\n        1,\n        {\n            \"x\": \"\\u00e9\\\"\\\\\\n\\u0001\\u007f\\ud83d\\ude00\"\n        }\n    ],\n    \"c\": [],\n    \"d\": null,\n    \"e\": true,\n    \"f\": {\n        \"z\": \"y\"\n    }\n}";
        assert_eq!(dumps(&value, 4), python);
    }

    #[test]
    fn indent_two_for_the_computer_copy() {
        let value = serde_json::json!({"k": ["v"]});
        assert_eq!(dumps(&value, 2), "{\n  \"k\": [\n    \"v\"\n  ]\n}");
    }
}
