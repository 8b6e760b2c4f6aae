//! `PyValue`, the Python data a `!py!` option or a condition can hold, and
//! the parts of Python's data model the evaluator needs on it: truthiness,
//! `==` across numeric types, hashability, ordering and type names.

use std::cmp::Ordering;

use super::PythonError;

/// A Python data value: what `!py!` option values carry.
///
/// Containers keep Python's order: dicts in insertion order as a `Vec` of
/// pairs, sets in insertion order (Python's hash order is not reproduced).
#[derive(Debug, Clone)]
pub enum PyValue {
    /// `None`.
    None,
    /// `True` or `False`.
    Bool(bool),
    /// An `int` that fits in `i64`.
    Int(i64),
    /// A `float`.
    Float(f64),
    /// A `complex`: real and imaginary parts.
    Complex(f64, f64),
    /// A `str`.
    Str(String),
    /// A `bytes`.
    Bytes(Vec<u8>),
    /// A `bytearray`.
    ByteArray(Vec<u8>),
    /// A `list`.
    List(Vec<PyValue>),
    /// A `tuple`.
    Tuple(Vec<PyValue>),
    /// A `dict`, in insertion order, keys unique under Python `==`.
    Dict(Vec<(PyValue, PyValue)>),
    /// A `set`, elements unique under Python `==`.
    Set(Vec<PyValue>),
    /// A `frozenset`, elements unique under Python `==`.
    FrozenSet(Vec<PyValue>),
}

impl PartialEq for PyValue {
    /// Python's `==`: `1 == 1.0 == True`, sets and dicts ignore order.
    fn eq(&self, other: &PyValue) -> bool {
        python_equal(self, other)
    }
}

impl PyValue {
    /// The Python type name, as error messages print it.
    pub fn type_name(&self) -> &'static str {
        match self {
            PyValue::None => "NoneType",
            PyValue::Bool(_) => "bool",
            PyValue::Int(_) => "int",
            PyValue::Float(_) => "float",
            PyValue::Complex(..) => "complex",
            PyValue::Str(_) => "str",
            PyValue::Bytes(_) => "bytes",
            PyValue::ByteArray(_) => "bytearray",
            PyValue::List(_) => "list",
            PyValue::Tuple(_) => "tuple",
            PyValue::Dict(_) => "dict",
            PyValue::Set(_) => "set",
            PyValue::FrozenSet(_) => "frozenset",
        }
    }

    /// Python's truth value (`bool(x)`).
    pub fn is_truthy(&self) -> bool {
        match self {
            PyValue::None => false,
            PyValue::Bool(b) => *b,
            PyValue::Int(i) => *i != 0,
            PyValue::Float(f) => *f != 0.0,
            PyValue::Complex(re, im) => *re != 0.0 || *im != 0.0,
            PyValue::Str(s) => !s.is_empty(),
            PyValue::Bytes(b) | PyValue::ByteArray(b) => !b.is_empty(),
            PyValue::List(v) | PyValue::Tuple(v) | PyValue::Set(v) | PyValue::FrozenSet(v) => {
                !v.is_empty()
            }
            PyValue::Dict(d) => !d.is_empty(),
        }
    }

    /// Whether Python could use this value as a dict key or set element.
    pub(crate) fn is_hashable(&self) -> bool {
        match self {
            PyValue::List(_) | PyValue::Dict(_) | PyValue::Set(_) | PyValue::ByteArray(_) => false,
            PyValue::Tuple(items) => items.iter().all(PyValue::is_hashable),
            _ => true,
        }
    }

    /// A rough size in 8-byte units, counting nested items, so that the
    /// evaluator can bound the memory an expression makes it allocate.
    pub(crate) fn weight(&self) -> usize {
        match self {
            PyValue::Str(s) => 1 + s.len() / 8,
            PyValue::Bytes(b) | PyValue::ByteArray(b) => 1 + b.len() / 8,
            PyValue::List(v) | PyValue::Tuple(v) | PyValue::Set(v) | PyValue::FrozenSet(v) => v
                .iter()
                .fold(1, |total, item| total.saturating_add(item.weight())),
            PyValue::Dict(d) => d.iter().fold(1, |total, (key, value)| {
                total
                    .saturating_add(key.weight())
                    .saturating_add(value.weight())
            }),
            _ => 1,
        }
    }

    /// The value as a number for arithmetic and comparison: bools are ints.
    pub(crate) fn as_number(&self) -> Option<Number> {
        match self {
            PyValue::Bool(b) => Some(Number::Int(i64::from(*b))),
            PyValue::Int(i) => Some(Number::Int(*i)),
            PyValue::Float(f) => Some(Number::Float(*f)),
            _ => None,
        }
    }
}

/// A real number operand: Python's `int` (and `bool`) or `float`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            // Python converts exactly when it can and rounds otherwise; `as`
            // rounds to nearest, which is what `float(int)` does.
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// Compares an `i64` with an `f64` exactly, as Python does (no rounding of
/// the integer to a float first). `None` when the float is NaN.
fn compare_int_float(int: i64, float: f64) -> Option<Ordering> {
    if float.is_nan() {
        return None;
    }
    if float >= 9.3e18 {
        return Some(Ordering::Less);
    }
    if float <= -9.3e18 {
        return Some(Ordering::Greater);
    }
    let truncated = float.trunc();
    // |truncated| < 9.3e18 here, inside i128 for sure.
    let truncated_int = truncated as i128;
    match i128::from(int).cmp(&truncated_int) {
        Ordering::Equal => {
            let fraction = float - truncated;
            Some(if fraction > 0.0 {
                Ordering::Less
            } else if fraction < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            })
        }
        other => Some(other),
    }
}

/// Orders two numbers as Python does; `None` when a NaN is involved.
pub(crate) fn compare_numbers(left: Number, right: Number) -> Option<Ordering> {
    match (left, right) {
        (Number::Int(a), Number::Int(b)) => Some(a.cmp(&b)),
        (Number::Float(a), Number::Float(b)) => a.partial_cmp(&b),
        (Number::Int(a), Number::Float(b)) => compare_int_float(a, b),
        (Number::Float(a), Number::Int(b)) => compare_int_float(b, a).map(Ordering::reverse),
    }
}

/// Python's `==` on data values.
pub(crate) fn python_equal(left: &PyValue, right: &PyValue) -> bool {
    if let (Some(a), Some(b)) = (left.as_number(), right.as_number()) {
        return compare_numbers(a, b) == Some(Ordering::Equal);
    }
    match (left, right) {
        (PyValue::None, PyValue::None) => true,
        (PyValue::Complex(ar, ai), PyValue::Complex(br, bi)) => ar == br && ai == bi,
        (PyValue::Complex(re, im), other) | (other, PyValue::Complex(re, im)) => {
            *im == 0.0
                && other.as_number().is_some_and(|number| {
                    compare_numbers(number, Number::Float(*re)) == Some(Ordering::Equal)
                })
        }
        (PyValue::Str(a), PyValue::Str(b)) => a == b,
        (PyValue::Bytes(a) | PyValue::ByteArray(a), PyValue::Bytes(b) | PyValue::ByteArray(b)) => {
            a == b
        }
        (PyValue::List(a), PyValue::List(b)) | (PyValue::Tuple(a), PyValue::Tuple(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| python_equal(x, y))
        }
        (PyValue::Set(a) | PyValue::FrozenSet(a), PyValue::Set(b) | PyValue::FrozenSet(b)) => {
            a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| python_equal(x, y)))
        }
        (PyValue::Dict(a), PyValue::Dict(b)) => {
            a.len() == b.len()
                && a.iter().all(|(key, value)| {
                    b.iter().any(|(other_key, other_value)| {
                        python_equal(key, other_key) && python_equal(value, other_value)
                    })
                })
        }
        _ => false,
    }
}

/// Python's `<`-family ordering: numbers, strings, bytes, and lists or
/// tuples of the same kind lexicographically. Sets (subset order) are not
/// supported. `Ok(None)` means "unordered" (NaN involved).
///
/// # Errors
/// A `TypeError` for types Python does not order against each other.
pub(crate) fn python_compare(
    left: &PyValue,
    right: &PyValue,
    operator: &str,
) -> Result<Option<Ordering>, PythonError> {
    if let (Some(a), Some(b)) = (left.as_number(), right.as_number()) {
        return Ok(compare_numbers(a, b));
    }
    match (left, right) {
        (PyValue::Str(a), PyValue::Str(b)) => Ok(Some(a.cmp(b))),
        (PyValue::Bytes(a) | PyValue::ByteArray(a), PyValue::Bytes(b) | PyValue::ByteArray(b)) => {
            Ok(Some(a.cmp(b)))
        }
        (PyValue::List(a), PyValue::List(b)) | (PyValue::Tuple(a), PyValue::Tuple(b)) => {
            compare_sequences(a, b, operator)
        }
        _ => Err(PythonError::new(format!(
            "TypeError: '{operator}' not supported between instances of '{}' and '{}'",
            left.type_name(),
            right.type_name()
        ))),
    }
}

/// Lexicographic order of two sequences: the first unequal pair decides.
fn compare_sequences(
    left: &[PyValue],
    right: &[PyValue],
    operator: &str,
) -> Result<Option<Ordering>, PythonError> {
    for (a, b) in left.iter().zip(right) {
        if !python_equal(a, b) {
            return python_compare(a, b, operator);
        }
    }
    Ok(Some(left.len().cmp(&right.len())))
}

/// Inserts into a set, keeping the first of equal elements as Python does.
///
/// # Errors
/// A `TypeError` for an unhashable element.
pub(crate) fn set_insert(items: &mut Vec<PyValue>, item: PyValue) -> Result<(), PythonError> {
    if !item.is_hashable() {
        return Err(unhashable(&item));
    }
    if !items.iter().any(|existing| python_equal(existing, &item)) {
        items.push(item);
    }
    Ok(())
}

/// Inserts into a dict: an equal key keeps its first spelling and position
/// and takes the new value, as Python does.
///
/// # Errors
/// A `TypeError` for an unhashable key.
pub(crate) fn dict_insert(
    pairs: &mut Vec<(PyValue, PyValue)>,
    key: PyValue,
    value: PyValue,
) -> Result<(), PythonError> {
    if !key.is_hashable() {
        return Err(unhashable(&key));
    }
    match pairs
        .iter_mut()
        .find(|(existing, _)| python_equal(existing, &key))
    {
        Some(pair) => pair.1 = value,
        None => pairs.push((key, value)),
    }
    Ok(())
}

/// The `TypeError` Python raises for an unhashable key.
pub(crate) fn unhashable(value: &PyValue) -> PythonError {
    PythonError::new(format!(
        "TypeError: unhashable type: '{}'",
        value.type_name()
    ))
}
