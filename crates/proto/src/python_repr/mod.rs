//! Python 3's `str()` and `repr()` of marshalled values.
//!
//! Why: the master stores instance and connection parameters as instance
//! XML, where every non-string value is `str()`'d (`1` → `'1'`, `None` →
//! `'None'`, dicts and lists → their Python `repr`); floats in the marshal
//! format are written as `repr`; and the encoder falls back to comparing
//! `repr`s for keys Python cannot order. Rules followed (CPython 3.11):
//! strings pick `'` unless they contain `'` and no `"`; `\\`, the quote,
//! `\t`, `\n`, `\r` are backslash-escaped; other C0 controls, DEL and
//! non-printable characters (per `str.isprintable`, Unicode 14 table in
//! `unprintable.rs`) become `\xNN`, `\uNNNN` or `\UNNNNNNNN`; floats use the
//! shortest round-trip digits, positional when the decimal exponent is in
//! `-4..16` (with `.0` when integral), else `1e+16` / `1.5e-05` style.
//! Objects have no stable Python `repr` (it holds a memory address): we
//! write `<slapos.slap.slap.Class object>`.

mod unprintable;

#[cfg(test)]
mod tests;

use crate::marshal::{Class, Value};

/// Python `str(value)`: strings as they are, everything else as `repr`.
pub fn str_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        _ => repr_of(value),
    }
}

/// Python `repr(value)`.
pub fn repr_of(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &Value) {
    match value {
        Value::None => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(number) => out.push_str(&number.to_string()),
        Value::BigInt(text) => out.push_str(text),
        Value::Float(number) => out.push_str(&float_repr(*number)),
        Value::String(text) => out.push_str(&string_repr(text)),
        Value::Tuple(items) => {
            out.push('(');
            write_items(out, items);
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Value::List(items) => {
            out.push('[');
            write_items(out, items);
            out.push(']');
        }
        Value::Set(items) if items.is_empty() => out.push_str("set()"),
        Value::Set(items) => {
            out.push('{');
            write_items(out, items);
            out.push('}');
        }
        Value::Dict(items) => {
            out.push('{');
            for (index, (key, item)) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_repr(out, key);
                out.push_str(": ");
                write_repr(out, item);
            }
            out.push('}');
        }
        Value::Object(object) => {
            out.push('<');
            out.push_str(Class::MODULE);
            out.push('.');
            out.push_str(object.class.name());
            out.push_str(" object>");
        }
    }
}

fn write_items(out: &mut String, items: &[Value]) {
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        write_repr(out, item);
    }
}

/// Python `repr` of a `str`: quoted and escaped as CPython 3.11 does.
pub fn string_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if c == quote => {
                out.push('\\');
                out.push(c);
            }
            _ if is_printable(c) => out.push(c),
            _ => {
                let code = u32::from(c);
                if code <= 0xff {
                    out.push_str(&format!("\\x{code:02x}"));
                } else if code <= 0xffff {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable()` for one character.
pub fn is_printable(c: char) -> bool {
    let code = u32::from(c);
    let index = unprintable::UNPRINTABLE.partition_point(|&(_, last)| last < code);
    unprintable::UNPRINTABLE
        .get(index)
        .is_none_or(|&(first, _)| first > code)
}

/// Python `repr(float)`: shortest digits that round-trip; positional when
/// the decimal exponent is in `-4..16`, else `d.ddde±XX`; `nan`, `inf`,
/// `-inf`, `-0.0`.
pub fn float_repr(number: f64) -> String {
    if number.is_nan() {
        return "nan".to_owned();
    }
    if number.is_infinite() {
        return if number > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if number == 0.0 {
        return if number.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .to_owned();
    }
    // Rust's `{:e}` gives a shortest round-trip digit string ("-1.2345e-7"),
    // but breaks ties between two equally close shortest strings differently
    // from CPython (`608448070346817.25` → `…817.3`, CPython `…817.2`).
    // CPython takes the round-trip string closest to the exact value, ties to
    // even: the correctly rounded (half-even) string of the same length,
    // whenever that one round-trips.
    let shortest = format!("{number:e}");
    let significant = shortest
        .split('e')
        .next()
        .unwrap_or("")
        .bytes()
        .filter(u8::is_ascii_digit)
        .count();
    let nearest = format!(
        "{number:.precision$e}",
        precision = significant.saturating_sub(1)
    );
    let scientific = if nearest.parse::<f64>() == Ok(number) {
        nearest
    } else {
        shortest
    };
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if !(-4..16).contains(&exponent) {
        let (first, rest) = digits.split_at(digits.len().min(1));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exponent.unsigned_abs()));
    } else if exponent < 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n(
            '0',
            exponent.unsigned_abs() as usize - 1,
        ));
        out.push_str(&digits);
    } else {
        let integral = exponent as usize + 1;
        match (digits.get(..integral), digits.get(integral..)) {
            (Some(whole), Some(fraction)) if !fraction.is_empty() => {
                out.push_str(whole);
                out.push('.');
                out.push_str(fraction);
            }
            _ => {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n(
                    '0',
                    integral.saturating_sub(digits.len()),
                ));
                out.push_str(".0");
            }
        }
    }
    out
}
