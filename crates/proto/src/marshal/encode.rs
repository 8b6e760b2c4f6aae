//! The encoder: writes a [`Value`] byte for byte as `xml_marshaller` 1.0.3
//! `dumps` (via lxml) does, except that it never emits `<reference>`: a value
//! has no shared sub-objects, so every occurrence is written in full.

use super::number::Integer;
use super::order::marshal_order;
use super::{Class, Object, Value};
use crate::python_repr::float_repr;
use crate::xml::escape_text;

/// Python's `-1e24 < v < 1e24` compares the int with the float `1e24`, whose
/// exact value is this: integers of at least this magnitude are `<long>`.
const LONG_THRESHOLD: i128 = 999_999_999_999_999_983_222_784;

/// Marshals `value`: `<marshal>` with one child, no XML declaration, ASCII
/// only. Dict items are sorted as Python sorts them (see `order`); list,
/// dict, set and object elements get ids `i2`, `i3`, … in document order.
///
/// Strings holding characters XML 1.0 forbids (C0 controls other than tab,
/// newline and carriage return; U+FFFE, U+FFFF) are written as character
/// references: Python refuses to marshal them, and its parser refuses the
/// references, but [`decode`](super::decode) accepts them back. Recursion
/// follows the value's nesting, which [`decode`](super::decode) bounds.
pub fn encode(value: &Value) -> String {
    let mut writer = Writer {
        out: String::from("<marshal>"),
        last_id: 1,
    };
    writer.value(value);
    writer.out.push_str("</marshal>");
    writer.out
}

struct Writer {
    out: String,
    last_id: u64,
}

impl Writer {
    fn value(&mut self, value: &Value) {
        match value {
            Value::None => self.out.push_str("<none/>"),
            Value::Bool(flag) => self.out.push_str(if *flag {
                "<bool>1</bool>"
            } else {
                "<bool>0</bool>"
            }),
            Value::Int(number) => self.int(*number),
            Value::BigInt(text) => self.big_int(text),
            Value::Float(number) => self.scalar("float", &float_repr(*number)),
            Value::String(text) => self.string(text),
            Value::Tuple(items) => self.sequence("tuple", None, items),
            Value::List(items) => {
                let id = self.next_id();
                self.sequence("list", Some(id), items);
            }
            Value::Set(items) => {
                let id = self.next_id();
                self.sequence("set", Some(id), items);
            }
            Value::Dict(items) => self.dict(items),
            Value::Object(object) => self.object(object),
        }
    }

    fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    fn scalar(&mut self, tag: &str, text: &str) {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self.out.push_str(text);
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
    }

    fn int(&mut self, number: i128) {
        let tag = if -LONG_THRESHOLD < number && number < LONG_THRESHOLD {
            "int"
        } else {
            "long"
        };
        self.scalar(tag, &number.to_string());
    }

    fn big_int(&mut self, text: &str) {
        match Integer::parse(text).map(|integer| integer.to_value()) {
            Some(Value::Int(number)) => self.int(number),
            Some(Value::BigInt(digits)) => self.scalar("long", &digits),
            // Not an integer: a caller bug; keep the document well-formed.
            _ => {
                let mut escaped = String::new();
                escape_text(&mut escaped, text, true);
                self.scalar("long", &escaped);
            }
        }
    }

    /// `xml.sax.saxutils.escape` first (`&`, `<`, `>`), then the XML
    /// serialiser escapes again: `&` ends up as `&amp;amp;`.
    fn string(&mut self, text: &str) {
        let mut pre_escaped = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '&' => pre_escaped.push_str("&amp;"),
                '<' => pre_escaped.push_str("&lt;"),
                '>' => pre_escaped.push_str("&gt;"),
                _ => pre_escaped.push(c),
            }
        }
        self.out.push_str("<string>");
        escape_text(&mut self.out, &pre_escaped, true);
        self.out.push_str("</string>");
    }

    fn open(&mut self, tag: &str, id: Option<u64>, empty: bool) {
        self.out.push('<');
        self.out.push_str(tag);
        if let Some(id) = id {
            self.out.push_str(" id=\"i");
            self.out.push_str(&id.to_string());
            self.out.push('"');
        }
        self.out.push_str(if empty { "/>" } else { ">" });
    }

    fn close(&mut self, tag: &str) {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
    }

    fn sequence(&mut self, tag: &str, id: Option<u64>, items: &[Value]) {
        self.open(tag, id, items.is_empty());
        if items.is_empty() {
            return;
        }
        for item in items {
            self.value(item);
        }
        self.close(tag);
    }

    fn dict(&mut self, items: &[(Value, Value)]) {
        let id = self.next_id();
        self.open("dictionary", Some(id), items.is_empty());
        if items.is_empty() {
            return;
        }
        let keys: Vec<&Value> = items.iter().map(|(key, _)| key).collect();
        for index in marshal_order(&keys) {
            let (key, value) = &items[index];
            self.value(key);
            self.value(value);
        }
        self.close("dictionary");
    }

    fn object(&mut self, object: &Object) {
        let id = self.next_id();
        self.out.push_str("<object id=\"i");
        self.out.push_str(&id.to_string());
        self.out.push_str("\" module=\"");
        self.out.push_str(Class::MODULE);
        self.out.push_str("\" class=\"");
        self.out.push_str(object.class.name());
        self.out.push_str("\">");
        self.sequence("tuple", None, &object.initargs);
        self.dict(&object.state);
        self.close("object");
    }
}
