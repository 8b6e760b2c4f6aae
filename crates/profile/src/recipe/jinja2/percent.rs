//! Python's `%` operator, which [`super::rewrite`] turns every `a % b` of a
//! template into: printf-style formatting when `a` is a string
//! (`'%s:%d' % (host, port)`, `'%(ip)s' % d`, `'%-5s|%05.1f|%x|%r|%%'`),
//! Python's floored modulo on numbers otherwise.
//!
//! Supported conversions: `s r a d i u o x X e E f F g G c %`, with a
//! `(name)` mapping key, the flags `#0- +`, a width and a precision (either
//! may be `*`). A tuple on the right gives the arguments; anything else is
//! one argument, and a dict (or list) may also be looked up by `(name)`, as
//! CPython's `PyUnicode_Format` does.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

use super::values::{py_repr, py_str, to_py, PyTuple};
use crate::python::PyValue;

fn type_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("TypeError: {}", message.into()))
}

fn value_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("ValueError: {}", message.into()))
}

/// `left % right`.
///
/// # Errors
/// Python's: bad format, wrong argument count or type, division by zero.
pub(crate) fn modulo(left: &Value, right: &Value) -> Result<Value, Error> {
    if let Some(format) = left.as_str() {
        return format_string(format, right).map(Value::from);
    }
    match (to_py(left), to_py(right)) {
        (Ok(a), Ok(b)) => match (integer(&a), integer(&b)) {
            (Some(_), Some(0)) => Err(Error::new(ErrorKind::InvalidOperation, "ZeroDivisionError: integer modulo by zero")),
            (Some(a), Some(b)) => {
                let remainder = a.checked_rem_euclid(b).unwrap_or(0);
                Ok(Value::from(if b < 0 && remainder != 0 { remainder + b } else { remainder }))
            }
            _ => match (real(&a), real(&b)) {
                (Some(_), Some(0.0)) => Err(Error::new(ErrorKind::InvalidOperation, "ZeroDivisionError: float modulo")),
                (Some(a), Some(b)) => Ok(Value::from(a - (a / b).floor() * b)),
                _ => Err(unsupported(&a, &b)),
            },
        },
        _ => Err(type_error("unsupported operand type(s) for %")),
    }
}

fn unsupported(a: &PyValue, b: &PyValue) -> Error {
    type_error(format!("unsupported operand type(s) for %: '{}' and '{}'", a.type_name(), b.type_name()))
}

fn integer(value: &PyValue) -> Option<i64> {
    match value {
        PyValue::Int(i) => Some(*i),
        PyValue::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

fn real(value: &PyValue) -> Option<f64> {
    match value {
        PyValue::Float(f) => Some(*f),
        other => integer(other).map(|i| i as f64),
    }
}

/// One conversion specifier, once parsed.
#[derive(Default)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    alternate: bool,
    width: usize,
    precision: Option<usize>,
}

/// Where the arguments of a format come from.
struct Arguments<'a> {
    items: Vec<Value>,
    next: usize,
    mapping: Option<&'a Value>,
}

impl Arguments<'_> {
    fn take(&mut self) -> Result<Value, Error> {
        let item = self.items.get(self.next).cloned().ok_or_else(|| type_error("not enough arguments for format string"))?;
        self.next += 1;
        Ok(item)
    }

    fn take_count(&mut self) -> Result<usize, Error> {
        let item = self.take()?;
        let count = i64::try_from(item).map_err(|_| type_error("* wants int"))?;
        Ok(usize::try_from(count).unwrap_or(0))
    }
}

fn format_string(format: &str, right: &Value) -> Result<String, Error> {
    let is_tuple = right.downcast_object_ref::<PyTuple>().is_some();
    let mapping = (!is_tuple && matches!(right.kind(), ValueKind::Map | ValueKind::Seq)).then_some(right);
    let items = match right.downcast_object_ref::<PyTuple>() {
        Some(tuple) => tuple.0.clone(),
        None => vec![right.clone()],
    };
    let mut arguments = Arguments { items, next: 0, mapping };
    let mut out = String::with_capacity(format.len());
    let mut chars = format.chars().peekable();
    let mut used_mapping = false;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut key = None;
        if chars.peek() == Some(&'(') {
            chars.next();
            let mut depth = 1;
            let mut name = String::new();
            for c in chars.by_ref() {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                if depth == 0 {
                    break;
                }
                name.push(c);
            }
            if depth != 0 {
                return Err(value_error("incomplete format key"));
            }
            key = Some(name);
        }
        let mut spec = Spec::default();
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alternate = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = number_or_star(&mut chars, &mut arguments)?.unwrap_or(0);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(number_or_star(&mut chars, &mut arguments)?.unwrap_or(0));
        }
        while matches!(chars.peek(), Some('h' | 'l' | 'L')) {
            chars.next();
        }
        let conversion = chars.next().ok_or_else(|| value_error("incomplete format"))?;
        if conversion == '%' {
            out.push('%');
            continue;
        }
        let value = match key {
            Some(name) => {
                used_mapping = true;
                let mapping = arguments.mapping.ok_or_else(|| type_error("format requires a mapping"))?;
                let item = mapping.get_item(&Value::from(name.as_str())).unwrap_or_default();
                if item.is_undefined() {
                    return Err(Error::new(ErrorKind::InvalidOperation, format!("KeyError: {}", crate::python::str_repr(&name))));
                }
                item
            }
            None => arguments.take()?,
        };
        out.push_str(&convert(conversion, &spec, &value)?);
    }
    if arguments.next < arguments.items.len() && arguments.mapping.is_none() && !used_mapping {
        return Err(type_error("not all arguments converted during string formatting"));
    }
    Ok(out)
}

fn number_or_star(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, arguments: &mut Arguments<'_>) -> Result<Option<usize>, Error> {
    if chars.peek() == Some(&'*') {
        chars.next();
        return arguments.take_count().map(Some);
    }
    let mut digits = String::new();
    while let Some(&digit) = chars.peek().filter(|c| c.is_ascii_digit()) {
        digits.push(digit);
        chars.next();
    }
    if digits.is_empty() {
        return Ok(None);
    }
    digits.parse().map(Some).map_err(|_| value_error("width too big"))
}

/// One converted argument, padded.
fn convert(conversion: char, spec: &Spec, value: &Value) -> Result<String, Error> {
    let (sign, body, numeric) = match conversion {
        's' | 'r' | 'a' => {
            let text = match conversion {
                's' => py_str(value),
                'r' => py_repr(value),
                _ => ascii(&py_repr(value)),
            };
            let text = match spec.precision {
                Some(precision) => text.chars().take(precision).collect(),
                None => text,
            };
            (String::new(), text, false)
        }
        'c' => (String::new(), character(value)?, false),
        'd' | 'i' | 'u' | 'o' | 'x' | 'X' => {
            let number = integer_argument(conversion, value)?;
            let digits = match conversion {
                'o' => format!("{:o}", number.unsigned_abs()),
                'x' => format!("{:x}", number.unsigned_abs()),
                'X' => format!("{:X}", number.unsigned_abs()),
                _ => number.unsigned_abs().to_string(),
            };
            let digits = match spec.precision {
                Some(precision) if digits.len() < precision => format!("{}{digits}", "0".repeat(precision - digits.len())),
                _ => digits,
            };
            let prefix = match conversion {
                'o' if spec.alternate => "0o",
                'x' if spec.alternate => "0x",
                'X' if spec.alternate => "0X",
                _ => "",
            };
            (sign(number < 0, spec) + prefix, digits, true)
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let number = float_argument(conversion, value)?;
            let body = float(conversion, spec, number.abs());
            (sign(number.is_sign_negative() && !number.is_nan(), spec), body, number.is_finite())
        }
        other => {
            return Err(value_error(format!("unsupported format character '{other}' ({:#x})", u32::from(other))));
        }
    };
    Ok(pad(spec, &sign, &body, numeric))
}

fn sign(negative: bool, spec: &Spec) -> String {
    match (negative, spec.plus, spec.space) {
        (true, _, _) => "-",
        (false, true, _) => "+",
        (false, false, true) => " ",
        _ => "",
    }
    .to_owned()
}

fn pad(spec: &Spec, sign: &str, body: &str, numeric: bool) -> String {
    let length = sign.chars().count() + body.chars().count();
    let fill = spec.width.saturating_sub(length);
    if spec.left {
        format!("{sign}{body}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        format!("{sign}{}{body}", "0".repeat(fill))
    } else {
        format!("{}{sign}{body}", " ".repeat(fill))
    }
}

fn ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match u32::from(c) {
            0..=0x7f => out.push(c),
            code @ 0x80..=0xff => out.push_str(&format!("\\x{code:02x}")),
            code @ 0x100..=0xffff => out.push_str(&format!("\\u{code:04x}")),
            code => out.push_str(&format!("\\U{code:08x}")),
        }
    }
    out
}

fn character(value: &Value) -> Result<String, Error> {
    if let Some(text) = value.as_str() {
        if text.chars().count() == 1 {
            return Ok(text.to_owned());
        }
        return Err(type_error("%c requires int or char"));
    }
    let code = to_py(value).ok().as_ref().and_then(integer).ok_or_else(|| type_error("%c requires int or char"))?;
    u32::try_from(code).ok().and_then(char::from_u32).map(String::from).ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "OverflowError: %c arg not in range(0x110000)"))
}

fn integer_argument(conversion: char, value: &Value) -> Result<i64, Error> {
    let data = to_py(value).map_err(|_| type_error(format!("%{conversion} format: a number is required")))?;
    match (&data, conversion) {
        (PyValue::Float(f), 'd' | 'i' | 'u') if f.is_finite() => Ok(f.trunc() as i64),
        _ => integer(&data).ok_or_else(|| {
            let kind = if matches!(conversion, 'd' | 'i' | 'u') { "a real number" } else { "an integer" };
            type_error(format!("%{conversion} format: {kind} is required, not {}", data.type_name()))
        }),
    }
}

fn float_argument(conversion: char, value: &Value) -> Result<f64, Error> {
    let data = to_py(value).map_err(|_| type_error("must be real number"))?;
    real(&data).ok_or_else(|| type_error(format!("must be real number, not {} (%{conversion})", data.type_name())))
}

/// A non-negative float in `e`, `f` or `g` style.
fn float(conversion: char, spec: &Spec, number: f64) -> String {
    let upper = conversion.is_ascii_uppercase();
    let text = if number.is_nan() {
        "nan".to_owned()
    } else if number.is_infinite() {
        "inf".to_owned()
    } else {
        let precision = spec.precision.unwrap_or(6);
        match conversion.to_ascii_lowercase() {
            'e' => exponent_form(number, precision, spec.alternate),
            'f' => {
                let text = format!("{number:.precision$}");
                if spec.alternate && precision == 0 { text + "." } else { text }
            }
            _ => general_form(number, precision.max(1), spec.alternate),
        }
    };
    if upper { text.to_uppercase() } else { text }
}

/// `d.ddde±XX`, as C's `%e`.
fn exponent_form(number: f64, precision: usize, alternate: bool) -> String {
    let text = format!("{number:.precision$e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let point = if alternate && precision == 0 { "." } else { "" };
    format!("{mantissa}{point}e{}{:02}", if exponent < 0 { '-' } else { '+' }, exponent.abs())
}

/// C's `%g`: `e` style for very small or large exponents, trailing zeros
/// dropped unless `#`.
fn general_form(number: f64, precision: usize, alternate: bool) -> String {
    let exponent_text = format!("{number:.prec$e}", prec = precision - 1);
    let exponent: i64 = exponent_text.split_once('e').and_then(|(_, e)| e.parse().ok()).unwrap_or(0);
    let precision_i = i64::try_from(precision).unwrap_or(i64::MAX);
    let text = if (-4..precision_i).contains(&exponent) {
        let decimals = usize::try_from(precision_i - 1 - exponent).unwrap_or(0);
        format!("{number:.decimals$}")
    } else {
        exponent_form(number, precision - 1, false)
    };
    if alternate {
        return text;
    }
    match text.split_once('e') {
        Some((mantissa, exponent)) => format!("{}e{exponent}", strip_zeros(mantissa)),
        None => strip_zeros(&text).to_owned(),
    }
}

fn strip_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}
