//! Python's `repr` (and `str`) of data values, byte for byte as CPython
//! 3.11 writes them: the quote choice and escapes of `str` and `bytes`
//! (printability from the generated Unicode table in `printable`), the
//! shortest round-trip float format with Python's switch to exponent
//! notation, `complex`, and the container spellings.

use super::printable::is_printable;
use super::value::PyValue;

/// `repr(value)`.
pub(crate) fn repr(value: &PyValue) -> String {
    let mut out = String::new();
    write_repr(value, &mut out);
    out
}

/// `str(value)`: the text itself for `str`, the repr otherwise.
pub(crate) fn str_of(value: &PyValue) -> String {
    match value {
        PyValue::Str(text) => text.clone(),
        other => repr(other),
    }
}

fn write_repr(value: &PyValue, out: &mut String) {
    match value {
        PyValue::None => out.push_str("None"),
        PyValue::Bool(true) => out.push_str("True"),
        PyValue::Bool(false) => out.push_str("False"),
        PyValue::Int(i) => out.push_str(&i.to_string()),
        PyValue::Float(f) => out.push_str(&float_repr(*f, true)),
        PyValue::Complex(re, im) => out.push_str(&complex_repr(*re, *im)),
        PyValue::Str(text) => write_str_repr(text, out),
        PyValue::Bytes(bytes) => write_bytes_repr(bytes, out),
        PyValue::ByteArray(bytes) => {
            out.push_str("bytearray(");
            write_bytes_repr(bytes, out);
            out.push(')');
        }
        PyValue::List(items) => write_items(items, "[", "]", out),
        PyValue::Tuple(items) if items.len() == 1 => write_items(items, "(", ",)", out),
        PyValue::Tuple(items) => write_items(items, "(", ")", out),
        PyValue::Dict(pairs) => {
            out.push('{');
            for (index, (key, item)) in pairs.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_repr(key, out);
                out.push_str(": ");
                write_repr(item, out);
            }
            out.push('}');
        }
        PyValue::Set(items) if items.is_empty() => out.push_str("set()"),
        PyValue::Set(items) => write_items(items, "{", "}", out),
        PyValue::FrozenSet(items) if items.is_empty() => out.push_str("frozenset()"),
        PyValue::FrozenSet(items) => write_items(items, "frozenset({", "})", out),
    }
}

fn write_items(items: &[PyValue], open: &str, close: &str, out: &mut String) {
    out.push_str(open);
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        write_repr(item, out);
    }
    out.push_str(close);
}

/// The quote Python picks: `'` unless the text has `'` and no `"`.
fn quote_for(has_single: bool, has_double: bool) -> char {
    if has_single && !has_double {
        '"'
    } else {
        '\''
    }
}

/// Python's `repr()` of a string.
pub(crate) fn str_repr(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    write_str_repr(text, &mut out);
    out
}

fn write_str_repr(text: &str, out: &mut String) {
    let quote = quote_for(text.contains('\''), text.contains('"'));
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if u32::from(c) < 0x20 || u32::from(c) == 0x7f => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if c.is_ascii() || is_printable(c) => out.push(c),
            c if u32::from(c) <= 0xff => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if u32::from(c) <= 0xffff => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push(quote);
}

fn write_bytes_repr(bytes: &[u8], out: &mut String) {
    let quote = quote_for(bytes.contains(&b'\''), bytes.contains(&b'"'));
    out.push('b');
    out.push(quote);
    for &byte in bytes {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b if char::from(b) == quote => {
                out.push('\\');
                out.push(char::from(b));
            }
            b if !(0x20..0x7f).contains(&b) => out.push_str(&format!("\\x{b:02x}")),
            b => out.push(char::from(b)),
        }
    }
    out.push(quote);
}

/// Python's `float.__repr__` (`add_dot_zero`) or the complex component
/// format (no `.0`).
pub(crate) fn float_repr(value: f64, add_dot_zero: bool) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    // `{:e}` is the shortest round-trip digits, e.g. `1.2345e-5`.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let point = exponent + 1;
    let count = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let body = if !(-4 < point && point <= 16) {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_owned()
        } else {
            format!("{first}.{rest}")
        };
        let exponent = point - 1;
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{exponent_sign}{:02}", exponent.abs())
    } else if point <= 0 {
        format!(
            "0.{}{digits}",
            "0".repeat(usize::try_from(-point).unwrap_or(0))
        )
    } else if point >= count {
        let zeros = "0".repeat(usize::try_from(point - count).unwrap_or(0));
        if add_dot_zero {
            format!("{digits}{zeros}.0")
        } else {
            format!("{digits}{zeros}")
        }
    } else {
        let (whole, fraction) = digits.split_at(usize::try_from(point).unwrap_or(0));
        format!("{whole}.{fraction}")
    };
    format!("{sign}{body}")
}

/// Python's `complex.__repr__`.
fn complex_repr(re: f64, im: f64) -> String {
    let imaginary = float_repr(im, false);
    if re == 0.0 && re.is_sign_positive() {
        return format!("{imaginary}j");
    }
    let real = float_repr(re, false);
    let signed = if imaginary.starts_with('-') {
        imaginary
    } else {
        format!("+{imaginary}")
    };
    format!("({real}{signed}j)")
}

/// Appends `text` as a JSON string literal exactly as Python's `json`
/// module writes it by default (`ensure_ascii=True`: non-ASCII as `\uXXXX`
/// UTF-16 units).
pub fn write_json_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(character),
            other => {
                let mut units = [0u16; 2];
                for unit in other.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}
