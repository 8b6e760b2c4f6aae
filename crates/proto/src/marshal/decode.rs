//! The decoder: reads what `xml_marshaller` 1.0.3 `loads` (as wrapped by
//! `slapos.util.loads`) accepts, into a [`Value`], without recursion.
//!
//! Python rules kept: whitespace around numbers is ignored (`int(' 5 ')`),
//! `<unicode>` is a string, `<long>` and `<int>` are both integers, `<bool>`
//! is `bool(int(text))`, `<none>` ignores its text, strings are unescaped
//! (`&lt;`, `&gt;`, then `&amp;`) after XML parsing, repeated dict keys keep
//! the first position and the last value (`1`, `1.0` and `True` are one
//! key), unhashable keys are refused, objects must be one of the four
//! `slapos.slap.slap` classes with arguments their constructor takes.
//!
//! Limits Python lacks: nesting beyond [`MAX_DEPTH`] elements, integers of
//! more than 4300 digits (Python 3.11's own `int()` limit), references that
//! would copy more than sixteen times the input, references to an element
//! still open (a cycle; Python would build a self-containing list), and
//! non-blank text between elements (Python ignores it) are errors. A
//! `<reference>` yields a copy of the element it names: the value model has
//! no sharing. (Python resolves a reference to an *object* to an empty
//! placeholder instance; we copy the object.)

use std::collections::{HashMap, HashSet};

use super::number::{parse_float, parse_int, IntError, MAX_INT_DIGITS};
use super::order::{hash_key, HashKey};
use super::{Class, Object, Value};
use crate::xml::{Event, Reader, StartTag, XmlError};

/// Elements nested deeper than this are refused.
pub const MAX_DEPTH: usize = 256;

/// Why bytes are not a marshalled value. Every variant carries the byte
/// offset in the input where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input is not UTF-8.
    #[error("byte {position}: input is not valid utf-8")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        position: usize,
    },
    /// The input is not well-formed XML.
    #[error("byte {position}: malformed xml, expected {expected}")]
    Syntax {
        /// Where the reader stopped.
        position: usize,
        /// What would have been valid there.
        expected: String,
    },
    /// Well-formed XML that is not a marshalled value.
    #[error("byte {position}: unexpected {found}, expected {expected}")]
    Unexpected {
        /// Where.
        position: usize,
        /// What was found (an element, text, end of input).
        found: String,
        /// What would have been valid there.
        expected: String,
    },
    /// A scalar element whose text Python would refuse to convert.
    #[error("byte {position}: invalid <{element}> text {text:?}")]
    InvalidScalar {
        /// Offset of the element.
        position: usize,
        /// `int`, `long`, `bool` or `float`.
        element: String,
        /// The text (at most 64 characters of it).
        text: String,
    },
    /// An object of a class the client's safe unmarshaller refuses.
    #[error("byte {position}: refusing to unmarshall {module}.{class}")]
    ForbiddenClass {
        /// Offset of the `<object>`.
        position: usize,
        /// The `module` attribute.
        module: String,
        /// The `class` attribute.
        class: String,
    },
    /// An allowed class whose constructor would refuse these arguments, or
    /// an object element not made of a tuple and a string-keyed dict.
    #[error("byte {position}: cannot build {class}: {reason}")]
    BadObject {
        /// Offset of the `<object>`.
        position: usize,
        /// The class name.
        class: String,
        /// What is wrong.
        reason: String,
    },
    /// A `<reference>` to an id no earlier element has.
    #[error("byte {position}: reference to unknown id {id:?}")]
    UnknownReference {
        /// Offset of the `<reference>`.
        position: usize,
        /// The id.
        id: String,
    },
    /// A `<reference>` to an element that is still open: a cycle.
    #[error("byte {position}: reference to {id:?}, an element still open (a cycle)")]
    CyclicReference {
        /// Offset of the `<reference>`.
        position: usize,
        /// The id.
        id: String,
    },
    /// A list, dict or set used as a dict key or set item.
    #[error("byte {position}: unhashable type {type_name} used as a dictionary key or set item")]
    Unhashable {
        /// Offset of the enclosing dictionary or set.
        position: usize,
        /// The Python type name.
        type_name: String,
    },
    /// Elements nested deeper than [`MAX_DEPTH`].
    #[error("byte {position}: nesting deeper than {limit} elements")]
    TooDeep {
        /// Offset of the element one too deep.
        position: usize,
        /// The limit.
        limit: usize,
    },
    /// References would expand the document beyond the copy budget.
    #[error("byte {position}: references expand the document beyond {limit} units")]
    TooLarge {
        /// Offset of the `<reference>` that crossed the budget.
        position: usize,
        /// The budget (values plus string bytes).
        limit: usize,
    },
}

impl DecodeError {
    /// Byte offset in the input where the problem was found.
    pub fn position(&self) -> usize {
        match self {
            DecodeError::NotUtf8 { position }
            | DecodeError::Syntax { position, .. }
            | DecodeError::Unexpected { position, .. }
            | DecodeError::InvalidScalar { position, .. }
            | DecodeError::ForbiddenClass { position, .. }
            | DecodeError::BadObject { position, .. }
            | DecodeError::UnknownReference { position, .. }
            | DecodeError::CyclicReference { position, .. }
            | DecodeError::Unhashable { position, .. }
            | DecodeError::TooDeep { position, .. }
            | DecodeError::TooLarge { position, .. } => *position,
        }
    }
}

impl From<XmlError> for DecodeError {
    fn from(error: XmlError) -> DecodeError {
        DecodeError::Syntax {
            position: error.position,
            expected: error.expected,
        }
    }
}

const VALUE_ELEMENTS: &str =
    "a value element (none, bool, int, long, float, string, tuple, list, dictionary, set, object, reference)";

/// Unmarshals one value.
///
/// # Errors
///
/// A [`DecodeError`] naming the byte offset and the problem for anything
/// `slapos.util.loads` would refuse, and for the limits listed in this
/// module's documentation. Never panics, whatever the bytes.
pub fn decode(input: &[u8]) -> Result<Value, DecodeError> {
    let source = std::str::from_utf8(input).map_err(|error| DecodeError::NotUtf8 {
        position: error.valid_up_to(),
    })?;
    let referenced = referenced_ids(source);
    let budget = input.len().saturating_mul(16).saturating_add(65_536);
    let mut decoder = Decoder {
        frames: Vec::new(),
        ids: HashMap::new(),
        referenced,
        copied: 0,
        budget,
    };
    let mut reader = Reader::new(source);
    loop {
        match reader.next_event()? {
            Event::Start(tag) => decoder.start(tag)?,
            Event::End { position, .. } => {
                if let Some(value) = decoder.end(position)? {
                    return finish(&mut reader, value, source.len());
                }
            }
            Event::Text { text, position } => decoder.text(&text, position)?,
            Event::Other { .. } => {}
            Event::Eof => return Err(unexpected(source.len(), "end of input", "<marshal>")),
        }
    }
}

/// After the root closes the reader yields only `Eof` or a syntax error.
fn finish(reader: &mut Reader<'_>, value: Value, end: usize) -> Result<Value, DecodeError> {
    match reader.next_event()? {
        Event::Eof => Ok(value),
        _ => Err(unexpected(end, "content", "nothing after </marshal>")),
    }
}

/// Ids named by `<reference>` elements: only those elements' values are
/// kept for copying. A syntax error stops the scan; the real pass reports it.
fn referenced_ids(source: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    if !source.contains("reference") {
        return ids;
    }
    let mut reader = Reader::new(source);
    while let Ok(event) = reader.next_event() {
        match event {
            Event::Start(tag) if tag.name == "reference" => {
                if let Some(id) = tag.attribute("id") {
                    ids.insert(id.to_owned());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    ids
}

fn unexpected(
    position: usize,
    found: impl Into<String>,
    expected: impl Into<String>,
) -> DecodeError {
    DecodeError::Unexpected {
        position,
        found: found.into(),
        expected: expected.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScalarKind {
    None,
    Bool,
    Int,
    Long,
    Float,
    String,
}

enum Body {
    Root(Option<Value>),
    Scalar(ScalarKind, String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Set(Vec<Value>),
    Dict(Vec<Value>),
    Object(Class, Vec<Value>),
    Reference(Value),
}

struct Frame {
    body: Body,
    id: Option<String>,
    position: usize,
}

enum Slot {
    Open,
    Done(Value, usize),
}

struct Decoder {
    frames: Vec<Frame>,
    ids: HashMap<String, Slot>,
    referenced: HashSet<String>,
    copied: usize,
    budget: usize,
}

impl Decoder {
    fn start(&mut self, tag: StartTag<'_>) -> Result<(), DecodeError> {
        let position = tag.position;
        let element = format!("element <{}>", tag.name);
        let Some(parent) = self.frames.last() else {
            if tag.name != "marshal" {
                return Err(unexpected(position, element, "<marshal>"));
            }
            self.frames.push(Frame {
                body: Body::Root(None),
                id: None,
                position,
            });
            return Ok(());
        };
        match &parent.body {
            Body::Scalar(..) => return Err(unexpected(position, element, "text")),
            Body::Reference(_) => return Err(unexpected(position, element, "</reference>")),
            _ => {}
        }
        if self.frames.len() > MAX_DEPTH {
            return Err(DecodeError::TooDeep {
                position,
                limit: MAX_DEPTH,
            });
        }
        let body = match tag.name {
            "none" => Body::Scalar(ScalarKind::None, String::new()),
            "bool" => Body::Scalar(ScalarKind::Bool, String::new()),
            "int" => Body::Scalar(ScalarKind::Int, String::new()),
            "long" => Body::Scalar(ScalarKind::Long, String::new()),
            "float" => Body::Scalar(ScalarKind::Float, String::new()),
            "string" | "unicode" => Body::Scalar(ScalarKind::String, String::new()),
            "tuple" => Body::Tuple(Vec::new()),
            "list" => Body::List(Vec::new()),
            "set" => Body::Set(Vec::new()),
            "dictionary" => Body::Dict(Vec::new()),
            "object" => Body::Object(object_class(&tag)?, Vec::new()),
            "reference" => Body::Reference(self.resolve(&tag)?),
            _ => return Err(unexpected(position, element, VALUE_ELEMENTS)),
        };
        let id = match body {
            Body::List(_) | Body::Set(_) | Body::Dict(_) | Body::Object(..) => tag
                .attribute("id")
                .filter(|id| self.referenced.contains(*id))
                .map(str::to_owned),
            _ => None,
        };
        if let Some(id) = &id {
            self.ids.insert(id.clone(), Slot::Open);
        }
        self.frames.push(Frame { body, id, position });
        Ok(())
    }

    fn resolve(&mut self, tag: &StartTag<'_>) -> Result<Value, DecodeError> {
        let position = tag.position;
        let id = tag.attribute("id").unwrap_or_default();
        match self.ids.get(id) {
            None => Err(DecodeError::UnknownReference {
                position,
                id: id.to_owned(),
            }),
            Some(Slot::Open) => Err(DecodeError::CyclicReference {
                position,
                id: id.to_owned(),
            }),
            Some(Slot::Done(value, weight)) => {
                self.copied = self.copied.saturating_add(*weight);
                if self.copied > self.budget {
                    return Err(DecodeError::TooLarge {
                        position,
                        limit: self.budget,
                    });
                }
                Ok(value.clone())
            }
        }
    }

    fn text(&mut self, text: &str, position: usize) -> Result<(), DecodeError> {
        match self.frames.last_mut() {
            Some(Frame {
                body: Body::Scalar(_, buffer),
                ..
            }) => {
                buffer.push_str(text);
                Ok(())
            }
            _ if text.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r')) => Ok(()),
            _ => Err(unexpected(position, "text", "an element")),
        }
    }

    /// Closes the innermost element; returns the document's value when the
    /// root closes.
    fn end(&mut self, position: usize) -> Result<Option<Value>, DecodeError> {
        let Some(frame) = self.frames.pop() else {
            return Err(unexpected(position, "end tag", "<marshal>"));
        };
        let value = match frame.body {
            Body::Root(Some(value)) => return Ok(Some(value)),
            Body::Root(None) => return Err(unexpected(position, "</marshal>", VALUE_ELEMENTS)),
            Body::Scalar(kind, text) => scalar(kind, &text, frame.position)?,
            Body::Tuple(items) => Value::Tuple(items),
            Body::List(items) => Value::List(items),
            Body::Set(items) => Value::Set(dedupe_set(items, frame.position)?),
            Body::Dict(items) => Value::Dict(pair_up(items, frame.position)?),
            Body::Object(class, children) => build_object(class, children, frame.position)?,
            Body::Reference(value) => value,
        };
        if let Some(id) = frame.id {
            let weight = weight(&value);
            self.ids.insert(id, Slot::Done(value.clone(), weight));
        }
        self.deliver(value, position)?;
        Ok(None)
    }

    fn deliver(&mut self, value: Value, position: usize) -> Result<(), DecodeError> {
        let Some(parent) = self.frames.last_mut() else {
            return Err(unexpected(position, "value", "<marshal>"));
        };
        match &mut parent.body {
            Body::Root(slot @ None) => *slot = Some(value),
            Body::Root(Some(_)) => {
                return Err(unexpected(position, "a second value", "</marshal>"))
            }
            Body::Tuple(items) | Body::List(items) | Body::Set(items) | Body::Dict(items) => {
                items.push(value)
            }
            Body::Object(_, children) if children.len() < 2 => children.push(value),
            Body::Object(..) => return Err(unexpected(position, "a third child", "</object>")),
            Body::Scalar(..) | Body::Reference(_) => {
                return Err(unexpected(position, "element", "text"))
            }
        }
        Ok(())
    }
}

/// Values plus string bytes: what copying `value` costs.
fn weight(value: &Value) -> usize {
    let mut total = 0usize;
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        total = total.saturating_add(1);
        match value {
            Value::String(text) | Value::BigInt(text) => total = total.saturating_add(text.len()),
            Value::Tuple(items) | Value::List(items) | Value::Set(items) => pending.extend(items),
            Value::Dict(items) => {
                pending.extend(items.iter().flat_map(|(key, value)| [key, value]))
            }
            Value::Object(object) => {
                pending.extend(&object.initargs);
                pending.extend(object.state.iter().flat_map(|(key, value)| [key, value]));
            }
            Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
        }
    }
    total
}

fn scalar(kind: ScalarKind, text: &str, position: usize) -> Result<Value, DecodeError> {
    let invalid = |element: &str| DecodeError::InvalidScalar {
        position,
        element: element.to_owned(),
        text: text.chars().take(64).collect(),
    };
    match kind {
        ScalarKind::None => Ok(Value::None),
        ScalarKind::String => Ok(Value::String(unescape(text))),
        ScalarKind::Float => parse_float(text)
            .map(Value::Float)
            .ok_or_else(|| invalid("float")),
        ScalarKind::Int | ScalarKind::Long | ScalarKind::Bool => {
            let element = match kind {
                ScalarKind::Bool => "bool",
                ScalarKind::Long => "long",
                _ => "int",
            };
            let number = parse_int(text).map_err(|error| match error {
                IntError::Invalid => invalid(element),
                IntError::TooLong => DecodeError::InvalidScalar {
                    position,
                    element: element.to_owned(),
                    text: format!("more than {MAX_INT_DIGITS} digits"),
                },
            })?;
            if kind == ScalarKind::Bool {
                return Ok(Value::Bool(number != Value::Int(0)));
            }
            Ok(number)
        }
    }
}

/// `xml.sax.saxutils.unescape`: `&lt;`, then `&gt;`, then `&amp;`.
fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn pair_up(children: Vec<Value>, position: usize) -> Result<Vec<(Value, Value)>, DecodeError> {
    if children.len() % 2 == 1 {
        return Err(unexpected(
            position,
            "a key without a value",
            "an even number of children in <dictionary>",
        ));
    }
    let mut items: Vec<(Value, Value)> = Vec::with_capacity(children.len() / 2);
    let mut index_of: HashMap<HashKey, usize> = HashMap::new();
    let mut next_unique = 0;
    let mut children = children.into_iter();
    while let (Some(key), Some(value)) = (children.next(), children.next()) {
        let hashed =
            hash_key(&key, &mut next_unique).map_err(|type_name| DecodeError::Unhashable {
                position,
                type_name: type_name.to_owned(),
            })?;
        match index_of.get(&hashed) {
            Some(&index) => {
                if let Some(item) = items.get_mut(index) {
                    item.1 = value;
                }
            }
            None => {
                index_of.insert(hashed, items.len());
                items.push((key, value));
            }
        }
    }
    Ok(items)
}

fn dedupe_set(items: Vec<Value>, position: usize) -> Result<Vec<Value>, DecodeError> {
    let mut seen = HashSet::new();
    let mut next_unique = 0;
    let mut kept = Vec::with_capacity(items.len());
    for item in items {
        let hashed =
            hash_key(&item, &mut next_unique).map_err(|type_name| DecodeError::Unhashable {
                position,
                type_name: type_name.to_owned(),
            })?;
        if seen.insert(hashed) {
            kept.push(item);
        }
    }
    Ok(kept)
}

fn object_class(tag: &StartTag<'_>) -> Result<Class, DecodeError> {
    let position = tag.position;
    let (Some(module), Some(class)) = (tag.attribute("module"), tag.attribute("class")) else {
        return Err(unexpected(
            position,
            "<object> without module or class",
            "module and class attributes",
        ));
    };
    match Class::from_name(class) {
        Some(found) if module == Class::MODULE => Ok(found),
        _ => Err(DecodeError::ForbiddenClass {
            position,
            module: module.to_owned(),
            class: class.to_owned(),
        }),
    }
}

fn build_object(class: Class, children: Vec<Value>, position: usize) -> Result<Value, DecodeError> {
    let bad = |reason: &str| DecodeError::BadObject {
        position,
        class: class.name().to_owned(),
        reason: reason.to_owned(),
    };
    let mut children = children.into_iter();
    let (Some(initargs), Some(state)) = (children.next(), children.next()) else {
        return Err(bad("expected an initargs tuple and a state dictionary"));
    };
    let initargs = match initargs {
        Value::Tuple(items) | Value::List(items) => items,
        _ => return Err(bad("the initargs are not a tuple")),
    };
    let Value::Dict(state) = state else {
        return Err(bad("the state is not a dictionary"));
    };
    if state
        .iter()
        .any(|(key, _)| !matches!(key, Value::String(_)))
    {
        return Err(bad("attribute name must be string"));
    }
    check_constructor(class, &initargs).map_err(|reason| bad(&reason))?;
    Ok(Value::Object(Box::new(Object {
        class,
        initargs,
        state,
    })))
}

/// Whether the Python constructor accepts these positional arguments.
fn check_constructor(class: Class, initargs: &[Value]) -> Result<(), String> {
    let count = initargs.len();
    let (low, high) = match class {
        Class::Computer => (1, 3),
        Class::ComputerPartition => (0, 5),
        Class::SoftwareRelease => (0, 3),
        Class::SoftwareInstance => (0, 0),
    };
    if count < low || count > high {
        return Err(format!(
            "takes {low} to {high} positional arguments but {count} were given"
        ));
    }
    if class == Class::ComputerPartition {
        let is_none = |index: usize| initargs.get(index).is_none_or(Value::is_none);
        if !(is_none(2) || (is_none(0) && is_none(1))) {
            return Err("request_dict conflicts with computer_id and partition_id".to_owned());
        }
        if is_none(2) && (is_none(0) || is_none(1)) {
            return Err("computer_id and partition_id or request_dict are required".to_owned());
        }
    }
    Ok(())
}
