//! Python's operators on data values: arithmetic with `int`/`float`/
//! `complex` promotion and 64-bit overflow as an error, sequence
//! concatenation and repetition, comparisons (chained by the caller),
//! membership, subscripts and slices with Python's index adjustment, and
//! iteration. Messages follow CPython's exception texts.

use std::cmp::Ordering;

use super::eval::{Object, MAX_SEQUENCE_LENGTH};
use super::parser::{BinaryOp, CompareOp, UnaryOp};
use super::value::{python_compare, python_equal, Number, PyValue};
use super::PythonError;

/// What goes between `[` and `]`.
#[derive(Debug, Clone)]
pub(crate) enum Index {
    Item(PyValue),
    Slice(Option<PyValue>, Option<PyValue>, Option<PyValue>),
}

fn overflow() -> PythonError {
    PythonError::new("integer result outside the 64-bit range is not supported")
}

fn type_error(message: String) -> PythonError {
    PythonError::new(format!("TypeError: {message}"))
}

fn operand_error(symbol: &str, left: &PyValue, right: &PyValue) -> PythonError {
    type_error(format!(
        "unsupported operand type(s) for {symbol}: '{}' and '{}'",
        left.type_name(),
        right.type_name()
    ))
}

fn too_long() -> PythonError {
    PythonError::new(format!(
        "MemoryError: sequence longer than {MAX_SEQUENCE_LENGTH} items"
    ))
}

/// `+x`, `-x`, `~x`.
///
/// # Errors
/// A `TypeError` for a non-number, or an overflow.
pub(crate) fn unary(op: UnaryOp, value: PyValue) -> Result<PyValue, PythonError> {
    let symbol = match op {
        UnaryOp::Plus => "+",
        UnaryOp::Minus => "-",
        UnaryOp::Invert => "~",
    };
    match (op, &value) {
        (_, PyValue::Complex(re, im)) if op != UnaryOp::Invert => Ok(match op {
            UnaryOp::Minus => PyValue::Complex(-re, -im),
            _ => value,
        }),
        (_, _) => match (op, value.as_number()) {
            (UnaryOp::Plus, Some(Number::Int(i))) => Ok(PyValue::Int(i)),
            (UnaryOp::Minus, Some(Number::Int(i))) => {
                i.checked_neg().map(PyValue::Int).ok_or_else(overflow)
            }
            (UnaryOp::Invert, Some(Number::Int(i))) => Ok(PyValue::Int(!i)),
            (UnaryOp::Plus, Some(Number::Float(f))) => Ok(PyValue::Float(f)),
            (UnaryOp::Minus, Some(Number::Float(f))) => Ok(PyValue::Float(-f)),
            _ => Err(type_error(format!(
                "bad operand type for unary {symbol}: '{}'",
                value.type_name()
            ))),
        },
    }
}

/// A binary operator other than `**`.
///
/// # Errors
/// A `TypeError` for unsupported operand types, `ZeroDivisionError`, an
/// overflow, or a result longer than the sequence cap.
pub(crate) fn binary(op: BinaryOp, left: PyValue, right: PyValue) -> Result<PyValue, PythonError> {
    if let (Some(a), Some(b)) = (left.as_number(), right.as_number()) {
        if let (PyValue::Bool(x), PyValue::Bool(y)) = (&left, &right) {
            match op {
                BinaryOp::BitAnd => return Ok(PyValue::Bool(*x & *y)),
                BinaryOp::BitOr => return Ok(PyValue::Bool(*x | *y)),
                BinaryOp::BitXor => return Ok(PyValue::Bool(*x ^ *y)),
                _ => {}
            }
        }
        return numeric(op, a, b, &left, &right);
    }
    match op {
        BinaryOp::Add => concatenate(left, right),
        BinaryOp::Mul => repeat(left, right),
        BinaryOp::Sub | BinaryOp::Div if is_complex_pair(&left, &right) => {
            complex_arithmetic(op, &left, &right)
        }
        BinaryOp::Mod if matches!(left, PyValue::Str(_) | PyValue::Bytes(_)) => Err(
            PythonError::new("printf-style '%' formatting is not supported"),
        ),
        _ => Err(operand_error(symbol(op), &left, &right)),
    }
}

fn symbol(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "+",
        BinaryOp::Sub => "-",
        BinaryOp::Mul => "*",
        BinaryOp::Div => "/",
        BinaryOp::FloorDiv => "//",
        BinaryOp::Mod => "%",
        BinaryOp::MatMul => "@",
        BinaryOp::BitOr => "|",
        BinaryOp::BitXor => "^",
        BinaryOp::BitAnd => "&",
        BinaryOp::LeftShift => "<<",
        BinaryOp::RightShift => ">>",
    }
}

fn is_complex_pair(left: &PyValue, right: &PyValue) -> bool {
    let is_number =
        |value: &PyValue| value.as_number().is_some() || matches!(value, PyValue::Complex(..));
    is_number(left) && is_number(right)
}

fn as_complex(value: &PyValue) -> (f64, f64) {
    match value {
        PyValue::Complex(re, im) => (*re, *im),
        other => (other.as_number().map_or(0.0, Number::as_f64), 0.0),
    }
}

fn complex_arithmetic(
    op: BinaryOp,
    left: &PyValue,
    right: &PyValue,
) -> Result<PyValue, PythonError> {
    let (a, b) = as_complex(left);
    let (c, d) = as_complex(right);
    match op {
        BinaryOp::Add => Ok(PyValue::Complex(a + c, b + d)),
        BinaryOp::Sub => Ok(PyValue::Complex(a - c, b - d)),
        BinaryOp::Mul => Ok(PyValue::Complex(a * c - b * d, a * d + b * c)),
        _ => Err(PythonError::new("complex division is not supported")),
    }
}

fn numeric(
    op: BinaryOp,
    a: Number,
    b: Number,
    left: &PyValue,
    right: &PyValue,
) -> Result<PyValue, PythonError> {
    if let (Number::Int(x), Number::Int(y)) = (a, b) {
        return integer(op, x, y, left, right);
    }
    let (x, y) = (a.as_f64(), b.as_f64());
    let zero = || PythonError::new("ZeroDivisionError: float division by zero");
    let result = match op {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div if y == 0.0 => return Err(zero()),
        BinaryOp::Div => x / y,
        BinaryOp::FloorDiv | BinaryOp::Mod if y == 0.0 => {
            return Err(PythonError::new(
                "ZeroDivisionError: float floor division by zero",
            ))
        }
        BinaryOp::FloorDiv => python_float_divmod(x, y).0,
        BinaryOp::Mod => python_float_divmod(x, y).1,
        _ => return Err(operand_error(symbol(op), left, right)),
    };
    Ok(PyValue::Float(result))
}

/// Python's float `divmod` (CPython's `float_divmod`): the remainder
/// takes the divisor's sign and the quotient is rounded to an integer.
fn python_float_divmod(x: f64, y: f64) -> (f64, f64) {
    let mut remainder = x % y;
    let mut quotient = (x - remainder) / y;
    if remainder != 0.0 {
        if (y < 0.0) != (remainder < 0.0) {
            remainder += y;
            quotient -= 1.0;
        }
    } else {
        remainder = 0.0_f64.copysign(y);
    }
    let floored = if quotient != 0.0 {
        let floor = quotient.floor();
        if quotient - floor > 0.5 {
            floor + 1.0
        } else {
            floor
        }
    } else {
        0.0_f64.copysign(x / y)
    };
    (floored, remainder)
}

fn integer(
    op: BinaryOp,
    x: i64,
    y: i64,
    left: &PyValue,
    right: &PyValue,
) -> Result<PyValue, PythonError> {
    let checked = |result: Option<i64>| result.map(PyValue::Int).ok_or_else(overflow);
    let zero = |what: &str| PythonError::new(format!("ZeroDivisionError: {what}"));
    match op {
        BinaryOp::Add => checked(x.checked_add(y)),
        BinaryOp::Sub => checked(x.checked_sub(y)),
        BinaryOp::Mul => checked(x.checked_mul(y)),
        BinaryOp::Div if y == 0 => Err(zero("division by zero")),
        BinaryOp::Div => Ok(PyValue::Float(x as f64 / y as f64)),
        BinaryOp::FloorDiv if y == 0 => Err(zero("integer division or modulo by zero")),
        BinaryOp::FloorDiv => checked(floor_div(x, y)),
        BinaryOp::Mod if y == 0 => Err(zero("integer modulo by zero")),
        BinaryOp::Mod => checked(
            floor_div(x, y)
                .and_then(|q| y.checked_mul(q))
                .and_then(|p| x.checked_sub(p)),
        ),
        BinaryOp::BitAnd => Ok(PyValue::Int(x & y)),
        BinaryOp::BitOr => Ok(PyValue::Int(x | y)),
        BinaryOp::BitXor => Ok(PyValue::Int(x ^ y)),
        BinaryOp::LeftShift | BinaryOp::RightShift if y < 0 => {
            Err(PythonError::new("ValueError: negative shift count"))
        }
        BinaryOp::LeftShift => {
            let shift = u32::try_from(y).map_err(|_| overflow())?;
            let shifted = x.checked_shl(shift).ok_or_else(overflow)?;
            if shifted >> shift == x {
                Ok(PyValue::Int(shifted))
            } else {
                Err(overflow())
            }
        }
        BinaryOp::RightShift => Ok(PyValue::Int(if y >= 63 {
            if x < 0 {
                -1
            } else {
                0
            }
        } else {
            x >> y
        })),
        BinaryOp::MatMul => Err(operand_error("@", left, right)),
    }
}

/// Floor division of integers (rounds toward negative infinity); `None`
/// on overflow (`i64::MIN // -1`). The caller checked `y != 0`.
fn floor_div(x: i64, y: i64) -> Option<i64> {
    let quotient = x.checked_div(y)?;
    let remainder = x.checked_rem(y)?;
    if remainder != 0 && ((x < 0) != (y < 0)) {
        quotient.checked_sub(1)
    } else {
        Some(quotient)
    }
}

/// `x ** y`.
///
/// # Errors
/// A `TypeError`, `ZeroDivisionError` (`0 ** -1`) or an overflow.
pub(crate) fn power(base: PyValue, exponent: PyValue) -> Result<PyValue, PythonError> {
    match (base.as_number(), exponent.as_number()) {
        (Some(Number::Int(b)), Some(Number::Int(e))) if e >= 0 => {
            let e = u32::try_from(e).map_err(|_| overflow())?;
            b.checked_pow(e).map(PyValue::Int).ok_or_else(overflow)
        }
        (Some(b), Some(e)) => {
            let (x, y) = (b.as_f64(), e.as_f64());
            if x == 0.0 && y < 0.0 {
                return Err(PythonError::new(
                    "ZeroDivisionError: 0.0 cannot be raised to a negative power",
                ));
            }
            if x < 0.0 && y.fract() != 0.0 {
                return Err(PythonError::new(
                    "complex results of '**' are not supported",
                ));
            }
            Ok(PyValue::Float(x.powf(y)))
        }
        _ => Err(operand_error("** or pow()", &base, &exponent)),
    }
}

fn concatenate(left: PyValue, right: PyValue) -> Result<PyValue, PythonError> {
    let result = match (left, right) {
        (PyValue::Str(mut a), PyValue::Str(b)) => {
            a.push_str(&b);
            PyValue::Str(a)
        }
        (PyValue::Bytes(mut a), PyValue::Bytes(b) | PyValue::ByteArray(b)) => {
            a.extend(b);
            PyValue::Bytes(a)
        }
        (PyValue::ByteArray(mut a), PyValue::Bytes(b) | PyValue::ByteArray(b)) => {
            a.extend(b);
            PyValue::ByteArray(a)
        }
        (PyValue::List(mut a), PyValue::List(b)) => {
            a.extend(b);
            PyValue::List(a)
        }
        (PyValue::Tuple(mut a), PyValue::Tuple(b)) => {
            a.extend(b);
            PyValue::Tuple(a)
        }
        (left, right) if is_complex_pair(&left, &right) => {
            return complex_arithmetic(BinaryOp::Add, &left, &right)
        }
        (left @ (PyValue::Str(_) | PyValue::List(_) | PyValue::Tuple(_)), right) => {
            return Err(type_error(format!(
                "can only concatenate {} (not \"{}\") to {}",
                left.type_name(),
                right.type_name(),
                left.type_name()
            )))
        }
        (left, right) => return Err(operand_error("+", &left, &right)),
    };
    if sequence_length(&result) > MAX_SEQUENCE_LENGTH {
        return Err(too_long());
    }
    Ok(result)
}

fn sequence_length(value: &PyValue) -> usize {
    match value {
        PyValue::Str(s) => s.len(),
        PyValue::Bytes(b) | PyValue::ByteArray(b) => b.len(),
        PyValue::List(v) | PyValue::Tuple(v) => v.len(),
        _ => 0,
    }
}

fn repeat(left: PyValue, right: PyValue) -> Result<PyValue, PythonError> {
    let (sequence, count) = match (&left, &right) {
        (_, PyValue::Int(_) | PyValue::Bool(_)) if is_sequence(&left) => (left, right),
        (PyValue::Int(_) | PyValue::Bool(_), _) if is_sequence(&right) => (right, left),
        _ if is_complex_pair(&left, &right) => {
            return complex_arithmetic(BinaryOp::Mul, &left, &right)
        }
        _ => return Err(operand_error("*", &left, &right)),
    };
    let count = match count.as_number() {
        Some(Number::Int(n)) => usize::try_from(n.max(0)).map_err(|_| too_long())?,
        _ => 0,
    };
    if sequence_length(&sequence).saturating_mul(count) > MAX_SEQUENCE_LENGTH
        || sequence.weight().saturating_mul(count) > super::eval::MAX_WORK
    {
        return Err(too_long());
    }
    Ok(match sequence {
        PyValue::Str(s) => PyValue::Str(s.repeat(count)),
        PyValue::Bytes(b) => PyValue::Bytes(b.repeat(count)),
        PyValue::ByteArray(b) => PyValue::ByteArray(b.repeat(count)),
        PyValue::List(v) => PyValue::List(repeat_items(&v, count)),
        PyValue::Tuple(v) => PyValue::Tuple(repeat_items(&v, count)),
        other => return Err(operand_error("*", &other, &PyValue::Int(0))),
    })
}

fn is_sequence(value: &PyValue) -> bool {
    matches!(
        value,
        PyValue::Str(_)
            | PyValue::Bytes(_)
            | PyValue::ByteArray(_)
            | PyValue::List(_)
            | PyValue::Tuple(_)
    )
}

fn repeat_items(items: &[PyValue], count: usize) -> Vec<PyValue> {
    let mut result = Vec::with_capacity(items.len() * count);
    for _ in 0..count {
        result.extend_from_slice(items);
    }
    result
}

/// One comparison of a chain.
///
/// # Errors
/// A `TypeError` for unordered types or a bad membership test.
pub(crate) fn compare(op: CompareOp, left: &Object, right: &Object) -> Result<bool, PythonError> {
    let (left, right) = match (data(left), data(right)) {
        (Some(l), Some(r)) => (l, r),
        _ => return compare_objects(op, left, right),
    };
    let ordered = |accept: fn(Ordering) -> bool| -> Result<bool, PythonError> {
        Ok(python_compare(&left, &right, op.symbol())?.is_some_and(accept))
    };
    match op {
        CompareOp::Eq => Ok(python_equal(&left, &right)),
        CompareOp::Ne => Ok(!python_equal(&left, &right)),
        CompareOp::Lt => ordered(|o| o == Ordering::Less),
        CompareOp::Le => ordered(|o| o != Ordering::Greater),
        CompareOp::Gt => ordered(|o| o == Ordering::Greater),
        CompareOp::Ge => ordered(|o| o != Ordering::Less),
        CompareOp::In => contains(&right, &left),
        CompareOp::NotIn => contains(&right, &left).map(|found| !found),
        CompareOp::Is | CompareOp::IsNot => {
            let same = identical(&left, &right)?;
            Ok(same == (op == CompareOp::Is))
        }
    }
}

fn data(object: &Object) -> Option<PyValue> {
    match object {
        Object::Value(value) => Some(value.clone()),
        Object::VersionInfo(items) => Some(PyValue::Tuple(items.clone())),
        _ => None,
    }
}

/// Comparisons involving modules or functions: identity only.
fn compare_objects(op: CompareOp, left: &Object, right: &Object) -> Result<bool, PythonError> {
    let same = match (left, right) {
        (Object::Module(a), Object::Module(b)) => a == b,
        (Object::Function(a), Object::Function(b)) => a == b,
        _ => false,
    };
    match op {
        CompareOp::Eq | CompareOp::Is => Ok(same),
        CompareOp::Ne | CompareOp::IsNot => Ok(!same),
        _ => Err(type_error(format!(
            "'{}' not supported between instances of '{}' and '{}'",
            op.symbol(),
            left.type_name(),
            right.type_name()
        ))),
    }
}

/// `is` on data: defined for the singletons `None`, `True`, `False`.
fn identical(left: &PyValue, right: &PyValue) -> Result<bool, PythonError> {
    match (left, right) {
        (PyValue::None, PyValue::None) => Ok(true),
        (PyValue::Bool(a), PyValue::Bool(b)) => Ok(a == b),
        (PyValue::None | PyValue::Bool(_), _) | (_, PyValue::None | PyValue::Bool(_)) => Ok(false),
        _ => Err(PythonError::new(
            "'is' is only supported with None, True or False",
        )),
    }
}

/// `needle in haystack`.
fn contains(haystack: &PyValue, needle: &PyValue) -> Result<bool, PythonError> {
    match haystack {
        PyValue::Str(text) => match needle {
            PyValue::Str(part) => Ok(text.contains(part.as_str())),
            other => Err(type_error(format!(
                "'in <string>' requires string as left operand, not {}",
                other.type_name()
            ))),
        },
        PyValue::Bytes(bytes) | PyValue::ByteArray(bytes) => match needle {
            PyValue::Bytes(part) | PyValue::ByteArray(part) => Ok(part.is_empty()
                || bytes
                    .windows(part.len())
                    .any(|window| window == part.as_slice())),
            PyValue::Int(byte) => {
                let byte = u8::try_from(*byte)
                    .map_err(|_| PythonError::new("ValueError: byte must be in range(0, 256)"))?;
                Ok(bytes.contains(&byte))
            }
            other => Err(type_error(format!(
                "a bytes-like object is required, not '{}'",
                other.type_name()
            ))),
        },
        PyValue::List(items) | PyValue::Tuple(items) => {
            Ok(items.iter().any(|item| python_equal(item, needle)))
        }
        PyValue::Set(items) | PyValue::FrozenSet(items) => {
            if !needle.is_hashable() {
                return Err(super::value::unhashable(needle));
            }
            Ok(items.iter().any(|item| python_equal(item, needle)))
        }
        PyValue::Dict(pairs) => {
            if !needle.is_hashable() {
                return Err(super::value::unhashable(needle));
            }
            Ok(pairs.iter().any(|(key, _)| python_equal(key, needle)))
        }
        other => Err(type_error(format!(
            "argument of type '{}' is not iterable",
            other.type_name()
        ))),
    }
}

/// The items of an iterable value, as `for` sees them.
///
/// # Errors
/// A `TypeError` for a non-iterable.
pub(crate) fn iterate(value: PyValue) -> Result<Vec<PyValue>, PythonError> {
    match value {
        PyValue::Str(text) => Ok(text.chars().map(|c| PyValue::Str(c.to_string())).collect()),
        PyValue::Bytes(bytes) | PyValue::ByteArray(bytes) => Ok(bytes
            .into_iter()
            .map(|b| PyValue::Int(i64::from(b)))
            .collect()),
        PyValue::List(items)
        | PyValue::Tuple(items)
        | PyValue::Set(items)
        | PyValue::FrozenSet(items) => Ok(items),
        PyValue::Dict(pairs) => Ok(pairs.into_iter().map(|(key, _)| key).collect()),
        other => Err(type_error(format!(
            "'{}' object is not iterable",
            other.type_name()
        ))),
    }
}

/// `container[index]`.
///
/// # Errors
/// `IndexError`, `KeyError`, `TypeError` as Python raises them.
pub(crate) fn subscript(container: PyValue, index: Index) -> Result<PyValue, PythonError> {
    if let PyValue::Dict(pairs) = &container {
        let Index::Item(key) = index else {
            return Err(type_error("unhashable type: 'slice'".to_owned()));
        };
        if !key.is_hashable() {
            return Err(super::value::unhashable(&key));
        }
        return pairs
            .iter()
            .find(|(existing, _)| python_equal(existing, &key))
            .map(|(_, value)| value.clone())
            .ok_or_else(|| PythonError::new(format!("KeyError: {}", super::repr::repr(&key))));
    }
    let type_name = container.type_name();
    match index {
        Index::Item(item) => {
            let position = match item.as_number() {
                Some(Number::Int(i)) if !matches!(item, PyValue::Float(_)) => i,
                _ => {
                    return Err(type_error(format!(
                        "{type_name} indices must be integers or slices, not {}",
                        item.type_name()
                    )))
                }
            };
            index_item(container, position)
        }
        Index::Slice(start, stop, step) => slice(container, start, stop, step),
    }
}

fn index_item(container: PyValue, position: i64) -> Result<PyValue, PythonError> {
    let type_name = container.type_name();
    let resolve = |length: usize| -> Result<usize, PythonError> {
        let length = i64::try_from(length).map_err(|_| overflow())?;
        let adjusted = if position < 0 {
            position + length
        } else {
            position
        };
        if adjusted < 0 || adjusted >= length {
            let what = if type_name == "str" {
                "string"
            } else {
                type_name
            };
            return Err(PythonError::new(format!(
                "IndexError: {what} index out of range"
            )));
        }
        usize::try_from(adjusted).map_err(|_| overflow())
    };
    match container {
        PyValue::Str(text) => {
            let chars: Vec<char> = text.chars().collect();
            let at = resolve(chars.len())?;
            Ok(PyValue::Str(chars[at].to_string()))
        }
        PyValue::Bytes(bytes) | PyValue::ByteArray(bytes) => {
            let at = resolve(bytes.len())?;
            Ok(PyValue::Int(i64::from(bytes[at])))
        }
        PyValue::List(items) | PyValue::Tuple(items) => {
            let at = resolve(items.len())?;
            Ok(items[at].clone())
        }
        other => Err(type_error(format!(
            "'{}' object is not subscriptable",
            other.type_name()
        ))),
    }
}

fn slice_bound(value: Option<PyValue>) -> Result<Option<i64>, PythonError> {
    match value {
        None | Some(PyValue::None) => Ok(None),
        Some(PyValue::Int(i)) => Ok(Some(i)),
        Some(PyValue::Bool(b)) => Ok(Some(i64::from(b))),
        Some(_) => Err(type_error(
            "slice indices must be integers or None or have an __index__ method".to_owned(),
        )),
    }
}

/// The positions a slice selects in a sequence of `length`, per CPython's
/// `PySlice_AdjustIndices`.
fn slice_positions(
    length: usize,
    start: Option<i64>,
    stop: Option<i64>,
    step: Option<i64>,
) -> Result<Vec<usize>, PythonError> {
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err(PythonError::new("ValueError: slice step cannot be zero"));
    }
    let length = i64::try_from(length).map_err(|_| overflow())?;
    let adjust = |bound: Option<i64>, default_forward: i64, default_backward: i64| -> i64 {
        match bound {
            None => {
                if step < 0 {
                    default_backward
                } else {
                    default_forward
                }
            }
            Some(mut value) => {
                if value < 0 {
                    value = value.saturating_add(length);
                    if value < 0 {
                        value = if step < 0 { -1 } else { 0 };
                    }
                } else if value >= length {
                    value = if step < 0 { length - 1 } else { length };
                }
                value
            }
        }
    };
    let start = adjust(start, 0, length - 1);
    let stop = adjust(stop, length, -1);
    let mut positions = Vec::new();
    let mut at = start;
    while (step > 0 && at < stop) || (step < 0 && at > stop) {
        positions.push(usize::try_from(at).map_err(|_| overflow())?);
        at = match at.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(positions)
}

fn slice(
    container: PyValue,
    start: Option<PyValue>,
    stop: Option<PyValue>,
    step: Option<PyValue>,
) -> Result<PyValue, PythonError> {
    let (start, stop, step) = (slice_bound(start)?, slice_bound(stop)?, slice_bound(step)?);
    match container {
        PyValue::Str(text) => {
            let chars: Vec<char> = text.chars().collect();
            let positions = slice_positions(chars.len(), start, stop, step)?;
            Ok(PyValue::Str(
                positions.into_iter().map(|at| chars[at]).collect(),
            ))
        }
        PyValue::Bytes(bytes) => {
            let positions = slice_positions(bytes.len(), start, stop, step)?;
            Ok(PyValue::Bytes(
                positions.into_iter().map(|at| bytes[at]).collect(),
            ))
        }
        PyValue::ByteArray(bytes) => {
            let positions = slice_positions(bytes.len(), start, stop, step)?;
            Ok(PyValue::ByteArray(
                positions.into_iter().map(|at| bytes[at]).collect(),
            ))
        }
        PyValue::List(items) => {
            let positions = slice_positions(items.len(), start, stop, step)?;
            Ok(PyValue::List(
                positions.into_iter().map(|at| items[at].clone()).collect(),
            ))
        }
        PyValue::Tuple(items) => {
            let positions = slice_positions(items.len(), start, stop, step)?;
            Ok(PyValue::Tuple(
                positions.into_iter().map(|at| items[at].clone()).collect(),
            ))
        }
        other => Err(type_error(format!(
            "'{}' object is not subscriptable",
            other.type_name()
        ))),
    }
}
