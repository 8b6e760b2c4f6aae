//! How Python orders and identifies dictionary keys, so the encoder writes
//! items in the order `xml_marshaller` does and the decoder merges keys
//! Python would merge.
//!
//! `xml_marshaller` sorts items with `cmp(a, b)` and, where Python refuses
//! to compare the two keys (`TypeError`, e.g. `1` and `'a'`), with
//! `cmp(repr(a), repr(b))`. That comparison is not transitive for mixed key
//! types, so the result depends on CPython's sort algorithm and the dict's
//! insertion order. We reproduce it exactly where it is cheap to: keys of one
//! comparable kind (all strings, or all NaN-free numbers) are totally ordered
//! and any sort agrees; fewer than 64 mixed keys go through a replica of
//! CPython 3.11's `list.sort` for short lists (one run, then binary
//! insertion), which gives Python's exact order. Larger mixed dicts (never
//! seen in SLAP) use a deterministic total order instead: strings, numbers,
//! `None`, then everything else by `repr`. Object keys compare by our
//! address-free `repr`, where Python would use the memory address.

use std::cmp::Ordering;

use super::number::{Number, NumberKey};
use super::Value;
use crate::python_repr::repr_of;

/// CPython sorts lists shorter than this with one binary insertion sort.
const PYTHON_MIN_MERGE: usize = 64;

/// The order in which `xml_marshaller` writes a dict whose keys, in
/// insertion order, are `keys`: indices into `keys`.
pub(crate) fn marshal_order(keys: &[&Value]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    if keys.len() < 2 {
        return order;
    }
    if keys.iter().all(|key| matches!(key, Value::String(_))) {
        order.sort_by(|&a, &b| keys[a].as_str().cmp(&keys[b].as_str()));
        return order;
    }
    let numbers: Option<Vec<Number>> = keys.iter().map(|key| Number::of(key)).collect();
    if let Some(numbers) = numbers.filter(|numbers| !numbers.iter().any(Number::is_nan)) {
        order.sort_by(|&a, &b| numbers[a].compare(&numbers[b]).unwrap_or(Ordering::Equal));
        return order;
    }
    if keys.len() < PYTHON_MIN_MERGE {
        return python_short_sort(keys);
    }
    total_order_fallback(keys)
}

/// `version_independent_cmp` of `xml_marshaller`: `cmp`, or `cmp` of the
/// `repr`s when Python refuses to compare.
fn marshal_cmp(a: &Value, b: &Value) -> Ordering {
    rich_cmp(a, b).unwrap_or_else(|| repr_of(a).cmp(&repr_of(b)))
}

/// Python's `(a > b) - (a < b)`; `None` where Python raises `TypeError`.
fn rich_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (Number::of(a), Number::of(b)) {
        return Some(x.compare(&y).unwrap_or(Ordering::Equal));
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Tuple(x), Value::Tuple(y)) | (Value::List(x), Value::List(y)) => {
            match x.iter().zip(y).find(|(p, q)| !python_eq(p, q)) {
                Some((p, q)) => rich_cmp(p, q),
                None => Some(x.len().cmp(&y.len())),
            }
        }
        _ => None,
    }
}

/// Python's `a == b` (objects compare by identity, so never equal here).
fn python_eq(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (Number::of(a), Number::of(b)) {
        return x.compare(&y) == Some(Ordering::Equal);
    }
    match (a, b) {
        (Value::None, Value::None) => true,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Tuple(x), Value::Tuple(y)) | (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| python_eq(p, q))
        }
        (Value::Set(x), Value::Set(y)) => {
            x.len() == y.len() && x.iter().all(|p| y.iter().any(|q| python_eq(p, q)))
        }
        (Value::Dict(x), Value::Dict(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    y.iter()
                        .any(|(kk, vv)| python_eq(k, kk) && python_eq(v, vv))
                })
        }
        _ => false,
    }
}

/// CPython 3.11 `list.sort` for fewer than 64 items: find the leading run
/// (reversing a strictly descending one), then binary-insert the rest.
fn python_short_sort(keys: &[&Value]) -> Vec<usize> {
    let less = |a: usize, b: usize| marshal_cmp(keys[a], keys[b]) == Ordering::Less;
    let count = keys.len();
    let mut order: Vec<usize> = (0..count).collect();
    let mut run = 2;
    if less(1, 0) {
        while run < count && less(run, run - 1) {
            run += 1;
        }
        order[..run].reverse();
    } else {
        while run < count && !less(run, run - 1) {
            run += 1;
        }
    }
    for start in run..count {
        let pivot = order[start];
        let (mut low, mut high) = (0, start);
        while low < high {
            let middle = low + (high - low) / 2;
            if less(pivot, order[middle]) {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        order.copy_within(low..start, low + 1);
        order[low] = pivot;
    }
    order
}

/// A total order for large mixed-type dicts: strings, numbers (NaN last),
/// `None`, then the rest by `repr`.
fn total_order_fallback(keys: &[&Value]) -> Vec<usize> {
    enum Rank<'v> {
        Text(&'v str),
        Numeric(Option<Number>),
        Nothing,
        Other(String),
    }
    fn rank_index(rank: &Rank<'_>) -> u8 {
        match rank {
            Rank::Text(_) => 0,
            Rank::Numeric(_) => 1,
            Rank::Nothing => 2,
            Rank::Other(_) => 3,
        }
    }
    let ranks: Vec<Rank<'_>> = keys
        .iter()
        .map(|key| match key {
            Value::String(text) => Rank::Text(text),
            Value::None => Rank::Nothing,
            _ => match Number::of(key) {
                Some(number) if number.is_nan() => Rank::Numeric(None),
                Some(number) => Rank::Numeric(Some(number)),
                None => Rank::Other(repr_of(key)),
            },
        })
        .collect();
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| match (&ranks[a], &ranks[b]) {
        (Rank::Text(x), Rank::Text(y)) => x.cmp(y),
        (Rank::Numeric(x), Rank::Numeric(y)) => match (x, y) {
            (Some(x), Some(y)) => x.compare(y).unwrap_or(Ordering::Equal),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
        (Rank::Other(x), Rank::Other(y)) => x.cmp(y),
        (x, y) => rank_index(x).cmp(&rank_index(y)),
    });
    order
}

/// What makes two dict keys or set items the same entry in Python.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum HashKey {
    /// `None`.
    Nothing,
    /// A number (`1`, `1.0` and `True` share one key).
    Number(NumberKey),
    /// A string.
    Text(String),
    /// A tuple of hashable items.
    Tuple(Vec<HashKey>),
    /// Equal only to itself: an object, or a NaN.
    Unique(usize),
}

/// The [`HashKey`] of `value`, or the Python type name when Python would
/// raise "unhashable type". `next_unique` numbers identity-hashed values.
pub(crate) fn hash_key(value: &Value, next_unique: &mut usize) -> Result<HashKey, &'static str> {
    fn unique(next_unique: &mut usize) -> HashKey {
        *next_unique += 1;
        HashKey::Unique(*next_unique)
    }
    match value {
        Value::None => Ok(HashKey::Nothing),
        Value::String(text) => Ok(HashKey::Text(text.clone())),
        Value::Tuple(items) => items
            .iter()
            .map(|item| hash_key(item, next_unique))
            .collect::<Result<_, _>>()
            .map(HashKey::Tuple),
        Value::Object(_) => Ok(unique(next_unique)),
        Value::List(_) | Value::Dict(_) | Value::Set(_) => Err(value.type_name()),
        Value::Bool(_) | Value::Int(_) | Value::BigInt(_) | Value::Float(_) => {
            match Number::of(value).and_then(|number| number.equality_key()) {
                Some(key) => Ok(HashKey::Number(key)),
                None => Ok(unique(next_unique)),
            }
        }
    }
}
