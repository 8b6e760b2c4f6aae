//! Properties of the marshal codec: every value survives `encode` then
//! `decode` (dicts come back in marshal order), and `decode` returns rather
//! than panics on arbitrary bytes, on soups of marshal tokens and on
//! mutations of valid documents.
//!
//! Case counts follow proptest's `PROPTEST_CASES` environment variable
//! (default 256); a long fuzz run is `PROPTEST_CASES=100000 cargo test -p
//! proto proptests`. Failures are persisted under `proptest-regressions/`,
//! which is committed.

use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;

use super::order::marshal_order;
use super::{decode, encode, Class, Container, Object, Sink, Value, ValueBuilder, Writer};
use crate::xml::escape_text;

/// Any text, plus text dense in the characters the escaping handles.
pub(crate) fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        vec(any::<char>(), 0..12).prop_map(String::from_iter),
        "[a-z&<>\"' \r\n\t;#é]{0,10}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i128>().prop_map(Value::Int),
        any::<i32>().prop_map(|number| Value::Int(i128::from(number))),
        (any::<bool>(), "[1-9][0-9]{39,80}").prop_map(|(negative, digits)| Value::BigInt(
            if negative {
                format!("-{digits}")
            } else {
                digits
            }
        )),
        any::<f64>().prop_map(Value::Float),
        text().prop_map(Value::String),
    ]
}

fn object(inner: impl Strategy<Value = Value> + Clone) -> impl Strategy<Value = Value> {
    let initargs = prop_oneof![
        text().prop_map(|id| (Class::Computer, vec![Value::String(id)])),
        (text(), text()).prop_map(|(computer, slot)| {
            (
                Class::ComputerPartition,
                vec![Value::String(computer), Value::String(slot), Value::None],
            )
        }),
        (text(), text()).prop_map(|(url, computer)| {
            (
                Class::SoftwareRelease,
                vec![Value::String(url), Value::String(computer)],
            )
        }),
        Just((Class::SoftwareInstance, Vec::new())),
    ];
    (initargs, btree_map(text(), inner, 0..4)).prop_map(|((class, initargs), state)| {
        Value::object(
            class,
            initargs,
            state
                .into_iter()
                .map(|(key, value)| (Value::String(key), value))
                .collect(),
        )
    })
}

/// Values of every variant, nested a few levels; dict keys distinct.
pub(crate) fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Tuple),
            vec(inner.clone(), 0..5).prop_map(Value::List),
            btree_set(text(), 0..4)
                .prop_map(|items| Value::Set(items.into_iter().map(Value::String).collect())),
            (
                btree_map(text(), inner.clone(), 0..5),
                btree_map(any::<i64>(), inner.clone(), 0..3)
            )
                .prop_map(|(strings, numbers)| {
                    let strings = strings
                        .into_iter()
                        .map(|(key, value)| (Value::String(key), value));
                    let numbers = numbers
                        .into_iter()
                        .map(|(key, value)| (Value::from(key), value));
                    Value::Dict(strings.chain(numbers).collect())
                }),
            object(inner),
        ]
    })
}

/// `value` with every dict (and object state) in the encoder's order.
fn in_marshal_order(value: &Value) -> Value {
    fn sorted(items: &[(Value, Value)]) -> Vec<(Value, Value)> {
        let keys: Vec<&Value> = items.iter().map(|(key, _)| key).collect();
        marshal_order(&keys)
            .into_iter()
            .map(|index| {
                (
                    in_marshal_order(&items[index].0),
                    in_marshal_order(&items[index].1),
                )
            })
            .collect()
    }
    match value {
        Value::Tuple(items) => Value::Tuple(items.iter().map(in_marshal_order).collect()),
        Value::List(items) => Value::List(items.iter().map(in_marshal_order).collect()),
        Value::Set(items) => Value::Set(items.iter().map(in_marshal_order).collect()),
        Value::Dict(items) => Value::Dict(sorted(items)),
        Value::Object(object) => Value::Object(Box::new(Object {
            class: object.class,
            initargs: object.initargs.iter().map(in_marshal_order).collect(),
            state: sorted(&object.state),
        })),
        other => other.clone(),
    }
}

/// Writes `value` item by item, with only the streaming calls of [`Sink`]
/// (never [`Sink::value`]); dicts must already be in marshal order.
fn stream(sink: &mut dyn Sink, value: &Value) {
    let sequence = |sink: &mut dyn Sink, container, items: &[Value]| {
        sink.begin(container);
        items.iter().for_each(|item| stream(sink, item));
        sink.end();
    };
    let dict = |sink: &mut dyn Sink, items: &[(Value, Value)]| {
        sink.begin(Container::Dict);
        for (key, item) in items {
            stream(sink, key);
            stream(sink, item);
        }
        sink.end();
    };
    match value {
        Value::None => sink.none(),
        Value::Int(number) => sink.int(*number),
        Value::String(text) => sink.string(text),
        Value::Tuple(items) => sequence(sink, Container::Tuple, items),
        Value::List(items) => sequence(sink, Container::List, items),
        Value::Set(items) => sequence(sink, Container::Set, items),
        Value::Dict(items) => dict(sink, items),
        Value::Object(object) => {
            sink.begin(Container::Object(object.class));
            sequence(sink, Container::Tuple, &object.initargs);
            dict(sink, &object.state);
            sink.end();
        }
        Value::Bool(_) | Value::BigInt(_) | Value::Float(_) => sink.value(value),
    }
}

/// The two escaping passes the encoder fuses, as Python runs them:
/// `xml.sax.saxutils.escape`, then libxml2's ASCII serialiser.
fn escaped_in_two_passes(text: &str) -> String {
    let pre_escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let mut out = String::new();
    escape_text(&mut out, &pre_escaped, true);
    out
}

const TOKENS: &[&str] = &[
    "<marshal>",
    "</marshal>",
    "<list id=\"i2\">",
    "</list>",
    "<list id=\"i3\">",
    "<tuple>",
    "</tuple>",
    "<tuple/>",
    "<dictionary id=\"i4\">",
    "</dictionary>",
    "<set id=\"i5\">",
    "</set>",
    "<reference id=\"i2\"/>",
    "<reference id=\"i4\"/>",
    "<int>",
    "</int>",
    "<long>",
    "</long>",
    "<bool>",
    "</bool>",
    "<float>",
    "</float>",
    "<string>",
    "</string>",
    "<none/>",
    "<unicode>",
    "</unicode>",
    "<object id=\"i6\" module=\"slapos.slap.slap\" class=\"ComputerPartition\">",
    "</object>",
    "<object module=\"os\" class=\"system\">",
    "5",
    "-1",
    "1e5",
    "nan",
    "1_0",
    " ",
    "\n",
    "&amp;",
    "&lt;",
    "&#13;",
    "&#0;",
    "&bogus;",
    "<!-- c -->",
    "<![CDATA[x]]>",
    "<?xml version='1.0'?>",
    "é",
    "\u{1}",
    "<",
    ">",
    "&",
    "\"",
];

#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    Delete(usize, usize),
    Insert(usize, u8),
    Replace(usize, u8),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0..16usize).prop_map(|(at, length)| Mutation::Delete(at, length)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Replace(at, byte)),
        (any::<usize>(), 0..32usize).prop_map(|(at, length)| Mutation::Duplicate(at, length)),
    ]
}

/// Applies `mutations` to `bytes`, positions taken modulo the length.
pub(crate) fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let length = bytes.len().max(1);
        match *mutation {
            Mutation::Delete(at, count) => {
                let start = at % length;
                let end = (start + count).min(bytes.len());
                if start < end {
                    bytes.drain(start..end);
                }
            }
            Mutation::Insert(at, byte) => bytes.insert((at % length).min(bytes.len()), byte),
            Mutation::Replace(at, byte) => {
                if let Some(slot) = bytes.get_mut(at % length) {
                    *slot = byte;
                }
            }
            Mutation::Duplicate(at, count) => {
                let start = (at % length).min(bytes.len());
                let end = (start + count).min(bytes.len());
                let copy = bytes[start..end].to_vec();
                bytes.splice(end..end, copy);
            }
        }
    }
    bytes
}

pub(crate) fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    vec(mutation(), 1..8)
}

proptest! {
    #[test]
    fn encode_then_decode_gives_the_value_back(value in value()) {
        let encoded = encode(&value);
        let decoded = decode(encoded.as_bytes());
        prop_assert!(decoded.is_ok(), "{encoded}: {decoded:?}");
        let decoded = decoded.unwrap_or(Value::None);
        let expected = in_marshal_order(&value);
        prop_assert!(decoded.equivalent(&expected), "{encoded}\n{decoded:?}\n{expected:?}");
        prop_assert!(encoded.is_ascii());
    }

    #[test]
    fn streaming_writes_what_encode_writes(value in value()) {
        let ordered = in_marshal_order(&value);
        let mut writer = Writer::new();
        stream(&mut writer, &ordered);
        prop_assert_eq!(writer.finish(), encode(&value));
        let mut builder = ValueBuilder::new();
        stream(&mut builder, &ordered);
        let built = builder.finish();
        prop_assert!(built.equivalent(&ordered), "{built:?}\n{ordered:?}");
    }

    #[test]
    fn strings_escape_as_the_two_python_passes(text in text()) {
        prop_assert_eq!(
            encode(&Value::String(text.clone())),
            format!("<marshal><string>{}</string></marshal>", escaped_in_two_passes(&text))
        );
    }

    #[test]
    fn decode_survives_arbitrary_bytes(bytes in vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn decode_survives_token_soup(tokens in vec(0..TOKENS.len(), 0..40)) {
        let soup: String = tokens.into_iter().map(|index| TOKENS[index]).collect();
        let _ = decode(soup.as_bytes());
        let _ = decode(format!("<marshal>{soup}</marshal>").as_bytes());
    }

    #[test]
    fn decode_survives_mutated_documents(value in value(), mutations in mutations()) {
        let bytes = mutate(encode(&value).into_bytes(), &mutations);
        if let Ok(decoded) = decode(&bytes) {
            // Whatever decodes must encode and decode again.
            prop_assert!(decode(encode(&decoded).as_bytes()).is_ok());
        }
    }
}
