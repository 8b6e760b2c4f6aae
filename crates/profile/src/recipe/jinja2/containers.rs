//! Python's mutable containers as minijinja objects: [`PyList`], [`PyDict`]
//! and [`PySet`] hold their items behind a mutex, so that the in-place
//! methods SlapOS templates call (`l.append(x)`, `d.update(…)`,
//! `d.setdefault(k, v)`, `d.__setitem__(k, v)`, `s.add(x)`, …) change the
//! one object every alias sees, as in Python. They present themselves as
//! sequences and maps, so iteration, `len`, subscripts, `in` and filters
//! work on them; methods that do not mutate fall through to
//! [`super::pycompat`].
//!
//! Every list, tuple-free dict and set a template sees is one of these:
//! context values, literals (rewritten by [`super::rewrite`]) and builtin
//! results. Values built by minijinja itself (filter results, slices, `+`)
//! stay immutable and say so when mutated.
//!
//! A lock is only held to copy or change the items, never while comparing
//! or converting them (which may lock another container, or this one when a
//! container holds itself). Dicts keep insertion order with linear lookup.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

use super::builtins::split_arguments;
use super::values::{py_repr, to_py, tuple};
use crate::python::python_repr;

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn python_error(kind: &str, message: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("{kind}: {message}"))
}

fn one<'a>(method: &str, args: &'a [Value]) -> Result<&'a Value, Error> {
    match arguments(method, args, 1, 1)? {
        [first] => Ok(first),
        _ => Err(python_error("TypeError", format!("{method}() takes exactly one argument"))),
    }
}

fn two<'a>(method: &str, args: &'a [Value]) -> Result<(&'a Value, &'a Value), Error> {
    match arguments(method, args, 2, 2)? {
        [first, second] => Ok((first, second)),
        _ => Err(python_error("TypeError", format!("{method}() takes exactly two arguments"))),
    }
}

fn arguments<'a>(method: &str, args: &'a [Value], min: usize, max: usize) -> Result<&'a [Value], Error> {
    if args.len() < min || args.len() > max || args.iter().any(Value::is_kwargs) {
        return Err(python_error("TypeError", format!("{method}() takes {min} to {max} positional arguments ({} given)", args.len())));
    }
    Ok(args)
}

/// The items of any iterable value (a string gives its characters).
pub(crate) fn iterate(value: &Value) -> Result<Vec<Value>, Error> {
    if let Some(text) = value.as_str() {
        return Ok(text.chars().map(|c| Value::from(c.to_string())).collect());
    }
    Ok(value.try_iter()?.collect())
}

/// A Python list.
#[derive(Debug, Default)]
pub(crate) struct PyList {
    items: Mutex<Vec<Value>>,
}

/// A new list value.
pub(crate) fn list(items: Vec<Value>) -> Value {
    Value::from_object(PyList { items: Mutex::new(items) })
}

impl PyList {
    /// The items now.
    pub(crate) fn snapshot(&self) -> Vec<Value> {
        locked(&self.items).clone()
    }

    /// A Python index (negative from the end) as a position below `length`.
    fn position(index: &Value, length: usize) -> Option<usize> {
        let index = i64::try_from(index.clone()).ok()?;
        let length = i64::try_from(length).ok()?;
        let absolute = if index < 0 { index + length } else { index };
        usize::try_from(absolute).ok().filter(|_| absolute < length)
    }

    fn mutate(&self, method: &str, args: &[Value]) -> Result<Option<Value>, Error> {
        let result = match method {
            "append" => {
                let item = one(method, args)?;
                locked(&self.items).push(item.clone());
                Value::from(())
            }
            "extend" => {
                let source = one(method, args)?;
                let added = iterate(source)?;
                locked(&self.items).extend(added);
                Value::from(())
            }
            "insert" => {
                let (index, item) = two(method, args)?;
                let index = i64::try_from(index.clone()).map_err(|_| python_error("TypeError", "an integer is required"))?;
                let mut items = locked(&self.items);
                let length = i64::try_from(items.len()).unwrap_or(i64::MAX);
                let at = if index < 0 { (index + length).max(0) } else { index.min(length) };
                items.insert(usize::try_from(at).unwrap_or(0), item.clone());
                Value::from(())
            }
            "pop" => {
                let args = arguments(method, args, 0, 1)?;
                let mut items = locked(&self.items);
                if items.is_empty() {
                    return Err(python_error("IndexError", "pop from empty list"));
                }
                let at = match args.first() {
                    Some(index) => Self::position(index, items.len()).ok_or_else(|| python_error("IndexError", "pop index out of range"))?,
                    None => items.len() - 1,
                };
                items.remove(at)
            }
            "remove" => {
                let item = one(method, args)?;
                let at = self.snapshot().iter().position(|existing| existing == item);
                let at = at.ok_or_else(|| python_error("ValueError", "list.remove(x): x not in list"))?;
                locked(&self.items).remove(at);
                Value::from(())
            }
            "clear" => {
                arguments(method, args, 0, 0)?;
                locked(&self.items).clear();
                Value::from(())
            }
            "reverse" => {
                arguments(method, args, 0, 0)?;
                locked(&self.items).reverse();
                Value::from(())
            }
            "sort" => {
                let (positional, keywords) = split_arguments(args)?;
                if !positional.is_empty() || keywords.iter().any(|(name, _)| name != "reverse") {
                    return Err(python_error("TypeError", "sort() takes only reverse= in this engine"));
                }
                let mut sorted = self.snapshot();
                sorted.sort();
                if keywords.iter().any(|(_, reverse)| reverse.is_true()) {
                    sorted.reverse();
                }
                *locked(&self.items) = sorted;
                Value::from(())
            }
            "copy" => {
                arguments(method, args, 0, 0)?;
                list(self.snapshot())
            }
            "__getitem__" => {
                let index = one(method, args)?;
                let items = self.snapshot();
                let at = Self::position(index, items.len()).ok_or_else(|| python_error("IndexError", "list index out of range"))?;
                items[at].clone()
            }
            "__setitem__" => {
                let (index, item) = two(method, args)?;
                let mut items = locked(&self.items);
                let at = Self::position(index, items.len())
                    .ok_or_else(|| python_error("IndexError", "list assignment index out of range"))?;
                items[at] = item.clone();
                Value::from(())
            }
            _ => return Ok(None),
        };
        Ok(Some(result))
    }
}

impl Object for PyList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = locked(&self.items);
        let at = Self::position(key, items.len())?;
        items.get(at).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.snapshot())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(locked(&self.items).len())
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        self.mutate(method, args)?.ok_or_else(|| Error::from(ErrorKind::UnknownMethod))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        render(f, &Value::from_dyn_object(self.clone()), "[...]")
    }
}

/// Python's repr of a container; `fallback` when it holds what is not
/// Python data (a macro) or holds itself.
fn render(f: &mut std::fmt::Formatter<'_>, container: &Value, fallback: &str) -> std::fmt::Result {
    match to_py(container) {
        Ok(data) => f.write_str(&python_repr(&data)),
        Err(_) => f.write_str(fallback),
    }
}

/// A Python dict, in insertion order.
#[derive(Debug, Default)]
pub(crate) struct PyDict {
    pairs: Mutex<Vec<(Value, Value)>>,
}

/// A new dict value; a repeated key keeps its first place and last value.
pub(crate) fn dict(pairs: impl IntoIterator<Item = (Value, Value)>) -> Value {
    let dict = PyDict::default();
    for (key, value) in pairs {
        dict.set(key, value);
    }
    Value::from_object(dict)
}

/// A new dict value with the pairs of a map value.
pub(crate) fn dict_from_map(map: &Value) -> Result<Value, Error> {
    let mut pairs = Vec::new();
    for key in map.try_iter()? {
        let value = map.get_item(&key)?;
        pairs.push((key, value));
    }
    Ok(dict(pairs))
}

impl PyDict {
    /// The pairs now.
    pub(crate) fn snapshot(&self) -> Vec<(Value, Value)> {
        locked(&self.pairs).clone()
    }

    fn index_of(&self, key: &Value) -> Option<usize> {
        self.snapshot().iter().position(|(existing, _)| existing == key)
    }

    fn get(&self, key: &Value) -> Option<Value> {
        let at = self.index_of(key)?;
        locked(&self.pairs).get(at).map(|(_, value)| value.clone())
    }

    fn set(&self, key: Value, value: Value) {
        let at = self.index_of(&key);
        let mut pairs = locked(&self.pairs);
        match at.and_then(|at| pairs.get_mut(at)) {
            Some(pair) => pair.1 = value,
            None => pairs.push((key, value)),
        }
    }

    fn remove(&self, key: &Value) -> Option<Value> {
        let at = self.index_of(key)?;
        let mut pairs = locked(&self.pairs);
        (at < pairs.len()).then(|| pairs.remove(at).1)
    }

    /// `dict.update(other, **keywords)`.
    fn update(&self, args: &[Value]) -> Result<(), Error> {
        let (positional, keywords) = split_arguments(args)?;
        if positional.len() > 1 {
            return Err(python_error("TypeError", format!("update expected at most 1 argument, got {}", positional.len())));
        }
        if let Some(source) = positional.first() {
            if source.kind() == ValueKind::Map {
                for key in source.try_iter()? {
                    let value = source.get_item(&key)?;
                    self.set(key, value);
                }
            } else {
                for pair in iterate(source)? {
                    let [key, value] = <[Value; 2]>::try_from(iterate(&pair)?).map_err(|_| {
                        python_error("ValueError", "dictionary update sequence element has wrong length; 2 is required")
                    })?;
                    self.set(key, value);
                }
            }
        }
        for (key, value) in keywords {
            self.set(Value::from(key), value);
        }
        Ok(())
    }

    fn key_error(key: &Value) -> Error {
        python_error("KeyError", py_repr(key))
    }

    fn mutate(&self, method: &str, args: &[Value]) -> Result<Option<Value>, Error> {
        let result = match method {
            "__setitem__" => {
                let (key, value) = two(method, args)?;
                self.set(key.clone(), value.clone());
                Value::from(())
            }
            "__getitem__" => {
                let key = one(method, args)?;
                self.get(key).ok_or_else(|| Self::key_error(key))?
            }
            "__delitem__" => {
                let key = one(method, args)?;
                self.remove(key).ok_or_else(|| Self::key_error(key))?;
                Value::from(())
            }
            "__contains__" => {
                let key = one(method, args)?;
                Value::from(self.index_of(key).is_some())
            }
            "update" => {
                self.update(args)?;
                Value::from(())
            }
            "setdefault" => {
                let args = arguments(method, args, 1, 2)?;
                let key = &args[0];
                match self.get(key) {
                    Some(existing) => existing,
                    None => {
                        let default = args.get(1).cloned().unwrap_or(Value::from(()));
                        self.set(key.clone(), default.clone());
                        default
                    }
                }
            }
            "pop" => {
                let args = arguments(method, args, 1, 2)?;
                match (self.remove(&args[0]), args.get(1)) {
                    (Some(value), _) => value,
                    (None, Some(default)) => default.clone(),
                    (None, None) => return Err(Self::key_error(&args[0])),
                }
            }
            "popitem" => {
                arguments(method, args, 0, 0)?;
                let (key, value) = locked(&self.pairs).pop().ok_or_else(|| python_error("KeyError", "'popitem(): dictionary is empty'"))?;
                tuple(vec![key, value])
            }
            "clear" => {
                arguments(method, args, 0, 0)?;
                locked(&self.pairs).clear();
                Value::from(())
            }
            "copy" => {
                arguments(method, args, 0, 0)?;
                dict(self.snapshot())
            }
            _ => return Ok(None),
        };
        Ok(Some(result))
    }
}

impl Object for PyDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get(key)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(locked(&self.pairs).iter().map(|(key, _)| key.clone()).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(locked(&self.pairs).len())
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        self.mutate(method, args)?.ok_or_else(|| Error::from(ErrorKind::UnknownMethod))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        render(f, &Value::from_dyn_object(self.clone()), "{...}")
    }
}

/// A Python set or frozenset, in insertion order (Python's hash order is
/// not reproduced).
#[derive(Debug)]
pub(crate) struct PySet {
    pub(crate) frozen: bool,
    items: Mutex<Vec<Value>>,
}

/// A new set (or frozenset) value of the distinct `items`.
pub(crate) fn set(frozen: bool, items: Vec<Value>) -> Value {
    let set = PySet { frozen, items: Mutex::new(Vec::new()) };
    for item in items {
        set.add(item);
    }
    Value::from_object(set)
}

impl PySet {
    /// The items now.
    pub(crate) fn snapshot(&self) -> Vec<Value> {
        locked(&self.items).clone()
    }

    fn add(&self, item: Value) {
        if !self.snapshot().contains(&item) {
            locked(&self.items).push(item);
        }
    }

    fn discard(&self, item: &Value) -> bool {
        let at = self.snapshot().iter().position(|existing| existing == item);
        at.map(|at| locked(&self.items).remove(at)).is_some()
    }

    fn mutate(&self, method: &str, args: &[Value]) -> Result<Option<Value>, Error> {
        if self.frozen && method != "copy" {
            return Ok(None);
        }
        match method {
            "add" => {
                let item = one(method, args)?;
                self.add(item.clone());
            }
            "discard" => {
                let item = one(method, args)?;
                self.discard(item);
            }
            "remove" => {
                let item = one(method, args)?;
                if !self.discard(item) {
                    return Err(python_error("KeyError", py_repr(item)));
                }
            }
            "update" => {
                for source in args {
                    for item in iterate(source)? {
                        self.add(item);
                    }
                }
            }
            "clear" => locked(&self.items).clear(),
            "copy" => return Ok(Some(set(self.frozen, self.snapshot()))),
            _ => return Ok(None),
        }
        Ok(Some(Value::from(())))
    }
}

impl Object for PySet {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Iterable
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.snapshot())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(locked(&self.items).len())
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        self.mutate(method, args)?.ok_or_else(|| Error::from(ErrorKind::UnknownMethod))
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        render(f, &Value::from_dyn_object(self.clone()), "{...}")
    }
}

/// `value` with every minijinja list and map inside it (JSON data) turned
/// into [`PyList`]s and [`PyDict`]s.
pub(crate) fn into_python(value: Value) -> Value {
    if value.as_object().is_none() || value.downcast_object_ref::<PyList>().is_some() || value.downcast_object_ref::<PyDict>().is_some() {
        return value;
    }
    match value.kind() {
        ValueKind::Seq if value.downcast_object_ref::<Vec<Value>>().is_some() => {
            list(value.try_iter().map(|items| items.map(into_python).collect()).unwrap_or_default())
        }
        ValueKind::Map if !value.is_kwargs() => {
            let keys: Vec<Value> = value.try_iter().map(Iterator::collect).unwrap_or_default();
            dict(keys.into_iter().map(|key| {
                let item = value.get_item(&key).unwrap_or_default();
                (key, into_python(item))
            }))
        }
        _ => value,
    }
}
