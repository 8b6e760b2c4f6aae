//! Where a document is written to, item by item: the streaming [`Writer`]
//! (marshalled text, for answers) or a [`ValueBuilder`] (a [`Value`] tree,
//! for tests and callers that inspect the document). A document's layout is
//! written once, against [`Sink`], and serves both.
//!
//! [`Writer`]: super::Writer

use super::{Class, Object, Value};

/// A container opened by [`Sink::begin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// `<tuple>` (no id).
    Tuple,
    /// `<list id="iN">`.
    List,
    /// `<set id="iN">`.
    Set,
    /// `<dictionary id="iN">`: items alternate key and value.
    Dict,
    /// `<object id="iN" …>`: a tuple (the initargs), then a dict (the state).
    Object(Class),
}

/// A consumer of one marshalled value, written in document order.
///
/// Containers are written as [`begin`](Sink::begin), their items, then
/// [`end`](Sink::end). Unlike [`Value::Dict`], whose items [`encode`] sorts,
/// streamed dict items must come in marshal order already (for string keys:
/// sorted by code point); objects take their initargs tuple then their state
/// dict. Writing out of that order is a bug of the caller, not an error.
///
/// [`encode`]: super::encode
pub trait Sink {
    /// Python `None`.
    fn none(&mut self);
    /// An integer (`<int>`, or `<long>` from 1e24 on in magnitude).
    fn int(&mut self, number: i128);
    /// A `str`.
    fn string(&mut self, text: &str);
    /// A whole value, dict items sorted as [`encode`](super::encode) sorts.
    fn value(&mut self, value: &Value);
    /// Opens a container; its items follow, then [`Sink::end`].
    fn begin(&mut self, container: Container);
    /// Closes the innermost open container.
    fn end(&mut self);
}

/// Something written on demand into a [`Sink`], so that a document can be
/// streamed from borrowed data instead of a [`Value`] built for it.
pub trait WriteValue {
    /// Writes exactly one value.
    fn write_value(&self, sink: &mut dyn Sink);
}

impl WriteValue for Value {
    fn write_value(&self, sink: &mut dyn Sink) {
        sink.value(self);
    }
}

/// A [`Sink`] that builds the [`Value`] tree the written items describe:
/// dict items stay in the order written.
#[derive(Debug, Default)]
pub struct ValueBuilder {
    open: Vec<(Container, Vec<Value>)>,
    done: Option<Value>,
}

impl ValueBuilder {
    /// A builder expecting one value.
    pub fn new() -> ValueBuilder {
        ValueBuilder::default()
    }

    /// The value written, `None` if nothing was (containers still open are
    /// closed first).
    pub fn finish(mut self) -> Value {
        while !self.open.is_empty() {
            self.end();
        }
        self.done.unwrap_or(Value::None)
    }

    fn push(&mut self, value: Value) {
        match self.open.last_mut() {
            Some((_, items)) => items.push(value),
            None => self.done = Some(value),
        }
    }
}

/// Alternating keys and values as pairs (a dangling key is dropped).
fn pairs(items: Vec<Value>) -> Vec<(Value, Value)> {
    let mut pairs = Vec::with_capacity(items.len() / 2);
    let mut items = items.into_iter();
    while let (Some(key), Some(value)) = (items.next(), items.next()) {
        pairs.push((key, value));
    }
    pairs
}

impl Sink for ValueBuilder {
    fn none(&mut self) {
        self.push(Value::None);
    }

    fn int(&mut self, number: i128) {
        self.push(Value::Int(number));
    }

    fn string(&mut self, text: &str) {
        self.push(Value::str(text));
    }

    fn value(&mut self, value: &Value) {
        self.push(value.clone());
    }

    fn begin(&mut self, container: Container) {
        self.open.push((container, Vec::new()));
    }

    fn end(&mut self) {
        let Some((container, items)) = self.open.pop() else {
            return;
        };
        let value = match container {
            Container::Tuple => Value::Tuple(items),
            Container::List => Value::List(items),
            Container::Set => Value::Set(items),
            Container::Dict => Value::Dict(pairs(items)),
            Container::Object(class) => {
                let mut parts = items.into_iter();
                let initargs = match parts.next() {
                    Some(Value::Tuple(initargs)) => initargs,
                    _ => Vec::new(),
                };
                let state = match parts.next() {
                    Some(Value::Dict(state)) => state,
                    _ => Vec::new(),
                };
                Value::Object(Box::new(Object {
                    class,
                    initargs,
                    state,
                }))
            }
        };
        self.push(value);
    }
}
