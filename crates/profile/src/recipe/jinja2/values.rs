//! Python data in minijinja: [`PyValue`]s (from `!py!` options, JSON,
//! sections) become template values and back, so that `dumps` writes the
//! same `!py!` text Python would, and printing follows Python's `str()`
//! (`True`, `None`, `['a', 1]`), not minijinja's spelling. Tuples are
//! objects of their own ([`PyTuple`]) so they keep their type through a
//! template; lists, dicts (in insertion order) and sets are the mutable
//! containers of [`super::containers`].

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind};

use super::containers::{self, PyDict, PyList, PySet};
use crate::python::{python_repr, PyValue};

/// How deep [`to_py`] follows nested containers (a list holding itself
/// would otherwise never end).
const NESTING_MAX: usize = 200;

/// A Python tuple.
#[derive(Debug)]
pub(crate) struct PyTuple(pub(crate) Vec<Value>);

impl Object for PyTuple {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let index = key.as_usize()?;
        self.0.get(index).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }
}

/// A Python value minijinja has no kind for (complex, bytearray): printed
/// and dumped as Python does, opaque otherwise.
#[derive(Debug)]
pub(crate) struct PyOpaque(pub(crate) PyValue);

impl Object for PyOpaque {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn is_true(self: &Arc<Self>) -> bool {
        self.0.is_truthy()
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&python_repr(&self.0))
    }
}

/// A tuple value.
pub(crate) fn tuple(items: Vec<Value>) -> Value {
    Value::from_object(PyTuple(items))
}

/// The template value of a Python value.
pub(crate) fn to_value(value: &PyValue) -> Value {
    match value {
        PyValue::None => Value::from(()),
        PyValue::Bool(b) => Value::from(*b),
        PyValue::Int(i) => Value::from(*i),
        PyValue::Float(f) => Value::from(*f),
        PyValue::Str(s) => Value::from(s.as_str()),
        PyValue::Bytes(b) => Value::from_bytes(b.clone()),
        PyValue::List(items) => containers::list(items.iter().map(to_value).collect()),
        PyValue::Tuple(items) => tuple(items.iter().map(to_value).collect()),
        PyValue::Dict(pairs) => containers::dict(pairs.iter().map(|(key, value)| (to_value(key), to_value(value)))),
        PyValue::Set(items) => containers::set(false, items.iter().map(to_value).collect()),
        PyValue::FrozenSet(items) => containers::set(true, items.iter().map(to_value).collect()),
        PyValue::Complex(..) | PyValue::ByteArray(_) => Value::from_object(PyOpaque(value.clone())),
    }
}

/// A deep copy of a context value, so that one render's in-place changes
/// do not leak into the next (values that are not Python data are shared).
pub(crate) fn fresh_copy(value: &Value) -> Value {
    match to_py(value) {
        Ok(data) => to_value(&data),
        Err(_) => value.clone(),
    }
}

/// The Python value of a template value.
///
/// # Errors
/// Values with no Python data counterpart (undefined, functions, macros).
pub(crate) fn to_py(value: &Value) -> Result<PyValue, Error> {
    to_py_nested(value, 0)
}

fn to_py_all(items: &[Value], depth: usize) -> Result<Vec<PyValue>, Error> {
    items.iter().map(|item| to_py_nested(item, depth + 1)).collect()
}

fn to_py_nested(value: &Value, depth: usize) -> Result<PyValue, Error> {
    if depth > NESTING_MAX {
        return Err(Error::new(ErrorKind::InvalidOperation, "RecursionError: containers nested too deeply"));
    }
    if let Some(list) = value.downcast_object_ref::<PyList>() {
        return Ok(PyValue::List(to_py_all(&list.snapshot(), depth)?));
    }
    if let Some(dict) = value.downcast_object_ref::<PyDict>() {
        let snapshot = dict.snapshot();
        let pairs = snapshot.iter().map(|(key, item)| Ok((to_py_nested(key, depth + 1)?, to_py_nested(item, depth + 1)?)));
        return Ok(PyValue::Dict(pairs.collect::<Result<_, Error>>()?));
    }
    if let Some(tuple) = value.downcast_object_ref::<PyTuple>() {
        return Ok(PyValue::Tuple(to_py_all(&tuple.0, depth)?));
    }
    if let Some(set) = value.downcast_object_ref::<PySet>() {
        let items = to_py_all(&set.snapshot(), depth)?;
        return Ok(if set.frozen { PyValue::FrozenSet(items) } else { PyValue::Set(items) });
    }
    if let Some(opaque) = value.downcast_object_ref::<PyOpaque>() {
        return Ok(opaque.0.clone());
    }
    match value.kind() {
        ValueKind::None => Ok(PyValue::None),
        ValueKind::Bool => Ok(PyValue::Bool(value.is_true())),
        ValueKind::Number if value.is_integer() => i64::try_from(value.clone())
            .map(PyValue::Int)
            .map_err(|_| Error::new(ErrorKind::InvalidOperation, "integer outside the 64-bit range")),
        ValueKind::Number => Ok(PyValue::Float(f64::try_from(value.clone())?)),
        ValueKind::String => Ok(PyValue::Str(value.as_str().unwrap_or_default().to_owned())),
        ValueKind::Bytes => Ok(PyValue::Bytes(value.as_bytes().unwrap_or_default().to_vec())),
        ValueKind::Seq | ValueKind::Iterable => Ok(PyValue::List(to_py_all(&value.try_iter()?.collect::<Vec<_>>(), depth)?)),
        ValueKind::Map => {
            let mut pairs = Vec::new();
            for key in value.try_iter()? {
                let item = value.get_item(&key)?;
                pairs.push((to_py_nested(&key, depth + 1)?, to_py_nested(&item, depth + 1)?));
            }
            Ok(PyValue::Dict(pairs))
        }
        ValueKind::Undefined => Err(Error::new(ErrorKind::UndefinedError, "undefined value")),
        _ => Err(Error::new(ErrorKind::InvalidOperation, format!("cannot use {value} as Python data"))),
    }
}

/// Python's `str(value)`: the text of a string, the repr of data, the
/// template engine's own spelling for anything else (functions, macros).
pub(crate) fn py_str(value: &Value) -> String {
    if let Some(text) = value.as_str() {
        return text.to_owned();
    }
    match to_py(value) {
        Ok(PyValue::Str(text)) => text,
        Ok(data) => python_repr(&data),
        Err(_) => value.to_string(),
    }
}

/// Python's `repr(value)`.
pub(crate) fn py_repr(value: &Value) -> String {
    match to_py(value) {
        Ok(data) => python_repr(&data),
        Err(_) => value.to_string(),
    }
}

/// JSON as `json.loads` reads it (objects keep their order).
///
/// # Errors
/// Invalid JSON, in serde_json's words.
pub(crate) fn from_json(text: &str) -> Result<Value, String> {
    serde_json::from_str::<Value>(text).map(containers::into_python).map_err(|error| error.to_string())
}
