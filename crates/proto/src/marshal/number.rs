//! Python number semantics the codec needs: parsing `<int>`/`<float>` text
//! as Python's `int()` and `float()` do, and comparing ints, big ints and
//! floats exactly, as Python does when it sorts or deduplicates dict keys.

use std::cmp::Ordering;

use super::Value;

/// Python 3.11 refuses to convert integers with more digits than this
/// (`sys.int_info.str_digits_check_threshold` default); so do we.
pub(crate) const MAX_INT_DIGITS: usize = 4300;

/// Why an integer text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntError {
    /// Not an integer literal.
    Invalid,
    /// More than [`MAX_INT_DIGITS`] digits.
    TooLong,
}

/// Parses `text` as Python's `int(text)`: surrounding whitespace, an
/// optional sign, ASCII digits with single `_` between digits.
pub(crate) fn parse_int(text: &str) -> Result<Value, IntError> {
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let (negative, body) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let digits = strip_underscores(body).ok_or(IntError::Invalid)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IntError::Invalid);
    }
    if digits.len() > MAX_INT_DIGITS {
        return Err(IntError::TooLong);
    }
    Ok(int_from_digits(negative, &digits))
}

/// The value of a sign and ASCII decimal digits: `Int` when it fits `i128`.
pub(crate) fn int_from_digits(negative: bool, digits: &str) -> Value {
    let significant = digits.trim_start_matches('0');
    let signed = if negative {
        format!("-{significant}")
    } else {
        significant.to_owned()
    };
    if significant.is_empty() {
        return Value::Int(0);
    }
    match signed.parse::<i128>() {
        Ok(number) => Value::Int(number),
        Err(_) => Value::BigInt(signed),
    }
}

/// Parses `text` as Python's `float(text)`.
pub(crate) fn parse_float(text: &str) -> Option<f64> {
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let unsigned = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    let lower = unsigned.to_ascii_lowercase();
    if matches!(lower.as_str(), "nan" | "inf" | "infinity") {
        return trimmed.parse().ok();
    }
    if !unsigned
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'))
    {
        return None;
    }
    strip_underscores(trimmed)?.parse().ok()
}

/// Removes `_` that sit between two digits; `None` for any other `_`.
fn strip_underscores(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (index, c) in text.char_indices() {
        if c == '_' {
            let before = index
                .checked_sub(1)
                .and_then(|i| bytes.get(i))
                .is_some_and(u8::is_ascii_digit);
            let after = bytes.get(index + 1).is_some_and(u8::is_ascii_digit);
            if !(before && after) {
                return None;
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// An integer of any size: sign and decimal digits without leading zeros
/// (zero is `"0"`, never negative). Ordered by value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Integer {
    negative: bool,
    digits: String,
}

impl Integer {
    fn from_i128(number: i128) -> Integer {
        Integer {
            negative: number < 0,
            digits: number.unsigned_abs().to_string(),
        }
    }

    /// Parses the text of a [`Value::BigInt`]; `None` if it is not one.
    pub(crate) fn parse(text: &str) -> Option<Integer> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = digits.trim_start_matches('0');
        let digits = if digits.is_empty() { "0" } else { digits };
        Some(Integer {
            negative: negative && digits != "0",
            digits: digits.to_owned(),
        })
    }

    /// The exact integral part of a finite float.
    fn from_float_trunc(number: f64) -> Integer {
        let truncated = number.trunc();
        if truncated.abs() < 1.7e38 {
            // |truncated| < 2^127: exact in i128.
            return Integer::from_i128(truncated as i128);
        }
        let bits = truncated.to_bits();
        let exponent = ((bits >> 52) & 0x7ff) as u32;
        let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
        // value = mantissa * 2^(exponent - 1075), exponent - 1075 > 0 here.
        let shift = exponent.saturating_sub(1075);
        Integer {
            negative: number < 0.0,
            digits: shifted_decimal(mantissa, shift),
        }
    }

    /// The value: `Int` when it fits `i128`, else a normalised `BigInt`.
    pub(crate) fn to_value(&self) -> Value {
        int_from_digits(self.negative, &self.digits)
    }
}

impl Ord for Integer {
    fn cmp(&self, other: &Integer) -> Ordering {
        let magnitude = self
            .digits
            .len()
            .cmp(&other.digits.len())
            .then_with(|| self.digits.cmp(&other.digits));
        match (self.negative, other.negative) {
            (false, false) => magnitude,
            (true, true) => magnitude.reverse(),
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
        }
    }
}

impl PartialOrd for Integer {
    fn partial_cmp(&self, other: &Integer) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Decimal digits of `mantissa * 2^shift`, by doubling base-1e9 limbs.
fn shifted_decimal(mantissa: u64, shift: u32) -> String {
    const BASE: u64 = 1_000_000_000;
    let mut limbs: Vec<u64> = vec![
        mantissa % BASE,
        (mantissa / BASE) % BASE,
        mantissa / BASE / BASE,
    ];
    for _ in 0..shift {
        let mut carry = 0;
        for limb in &mut limbs {
            let doubled = *limb * 2 + carry;
            *limb = doubled % BASE;
            carry = doubled / BASE;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mut out = String::new();
    for (index, limb) in limbs.iter().rev().enumerate() {
        if index == 0 {
            out.push_str(&limb.to_string());
        } else {
            out.push_str(&format!("{limb:09}"));
        }
    }
    out
}

/// A Python number (bool, int or float), viewed for exact comparison.
#[derive(Debug, Clone)]
pub(crate) enum Number {
    /// An integer of any size.
    Integer(Integer),
    /// A float.
    Float(f64),
}

impl Number {
    /// The number `value` holds; `None` for non-numbers and malformed
    /// [`Value::BigInt`] text.
    pub(crate) fn of(value: &Value) -> Option<Number> {
        match value {
            Value::Bool(flag) => Some(Number::Integer(Integer::from_i128(i128::from(*flag)))),
            Value::Int(number) => Some(Number::Integer(Integer::from_i128(*number))),
            Value::BigInt(text) => Integer::parse(text).map(Number::Integer),
            Value::Float(number) => Some(Number::Float(*number)),
            _ => None,
        }
    }

    /// Whether this is a float NaN.
    pub(crate) fn is_nan(&self) -> bool {
        matches!(self, Number::Float(number) if number.is_nan())
    }

    /// Exact comparison as Python does it; `None` when a NaN is involved.
    pub(crate) fn compare(&self, other: &Number) -> Option<Ordering> {
        match (self, other) {
            (Number::Integer(a), Number::Integer(b)) => Some(a.cmp(b)),
            (Number::Float(a), Number::Float(b)) => a.partial_cmp(b),
            (Number::Integer(a), Number::Float(b)) => compare_integer_float(a, *b),
            (Number::Float(a), Number::Integer(b)) => {
                compare_integer_float(b, *a).map(Ordering::reverse)
            }
        }
    }

    /// A key equal for numbers Python considers equal (`1 == 1.0 == True`),
    /// distinct otherwise; NaN gets `None` (it equals nothing).
    pub(crate) fn equality_key(&self) -> Option<NumberKey> {
        match self {
            Number::Integer(integer) => Some(NumberKey::Integer(integer.clone())),
            Number::Float(number) if number.is_nan() => None,
            Number::Float(number) if number.is_infinite() || number.fract() != 0.0 => {
                Some(NumberKey::Fraction(number.to_bits()))
            }
            Number::Float(number) => Some(NumberKey::Integer(Integer::from_float_trunc(*number))),
        }
    }
}

/// See [`Number::equality_key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum NumberKey {
    /// An integral value.
    Integer(Integer),
    /// The bits of a non-integral (or infinite) float.
    Fraction(u64),
}

fn compare_integer_float(integer: &Integer, float: f64) -> Option<Ordering> {
    if float.is_nan() {
        return None;
    }
    if float.is_infinite() {
        return Some(if float > 0.0 {
            Ordering::Less
        } else {
            Ordering::Greater
        });
    }
    let truncated = Integer::from_float_trunc(float);
    let fraction = float - float.trunc();
    Some(
        integer
            .cmp(&truncated)
            .then(0.0_f64.partial_cmp(&fraction).unwrap_or(Ordering::Equal)),
    )
}
