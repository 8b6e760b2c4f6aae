//! The encoder: writes a [`Value`], or a document streamed item by item
//! through [`Writer`], byte for byte as `xml_marshaller` 1.0.3 `dumps` (via
//! lxml) does, except that it never emits `<reference>`: a value has no
//! shared sub-objects, so every occurrence is written in full.
//!
//! Everything goes into one `String`: no intermediate strings for escaping,
//! numbers or ids, and a fast path copies runs of plain ASCII at once, since
//! the large answers (a compute node's 1000 partitions) are mostly that.

use super::number::Integer;
use super::order::marshal_order;
use super::sink::{Container, Sink};
use super::{Class, Value};
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
    let mut writer = Writer::new();
    writer.value(value);
    writer.finish()
}

/// Streams one marshalled value into a `String`, as [`encode`] would write
/// the same value, without building it: the [`Sink`] for large answers.
///
/// Ids are numbered as items are written; dict items are written in the
/// order given (see [`Sink`]), except inside [`Sink::value`], which sorts.
#[derive(Debug)]
pub struct Writer {
    out: String,
    last_id: u64,
    open: Vec<Container>,
    /// The innermost start tag still lacks its `>`: it becomes `/>` if the
    /// container ends with no item, as lxml writes empty elements.
    start_pending: bool,
}

impl Default for Writer {
    fn default() -> Writer {
        Writer::new()
    }
}

impl Writer {
    /// A writer with the `<marshal>` root opened.
    pub fn new() -> Writer {
        Writer::with_capacity(0)
    }

    /// A writer whose buffer holds `bytes` before it grows: a good guess
    /// saves copying a large answer as it grows.
    pub fn with_capacity(bytes: usize) -> Writer {
        let mut out = String::with_capacity(bytes.max(64));
        out.push_str("<marshal>");
        Writer {
            out,
            last_id: 1,
            open: Vec::new(),
            start_pending: false,
        }
    }

    /// The marshalled document; containers left open are closed first (a
    /// caller bug, but the document stays well-formed).
    pub fn finish(mut self) -> String {
        debug_assert!(self.open.is_empty(), "unclosed {:?}", self.open);
        while !self.open.is_empty() {
            self.end();
        }
        self.out.push_str("</marshal>");
        self.out
    }

    /// Ends a pending start tag before an item is written inside it.
    fn settle(&mut self) {
        if self.start_pending {
            self.out.push('>');
            self.start_pending = false;
        }
    }

    fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    fn scalar(&mut self, tag: &str, text: &str) {
        self.settle();
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self.out.push_str(text);
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
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

    fn sequence(&mut self, container: Container, items: &[Value]) {
        self.begin(container);
        for item in items {
            self.value(item);
        }
        self.end();
    }

    fn dict(&mut self, items: &[(Value, Value)]) {
        self.begin(Container::Dict);
        let keys: Vec<&Value> = items.iter().map(|(key, _)| key).collect();
        for index in marshal_order(&keys) {
            let (key, value) = &items[index];
            self.value(key);
            self.value(value);
        }
        self.end();
    }
}

/// The start of the element's start tag, up to its id's digits if it has one.
fn start_tag(container: Container) -> &'static str {
    match container {
        Container::Tuple => "<tuple",
        Container::List => "<list id=\"i",
        Container::Set => "<set id=\"i",
        Container::Dict => "<dictionary id=\"i",
        Container::Object(_) => "<object id=\"i",
    }
}

fn end_tag(container: Container) -> &'static str {
    match container {
        Container::Tuple => "</tuple>",
        Container::List => "</list>",
        Container::Set => "</set>",
        Container::Dict => "</dictionary>",
        Container::Object(_) => "</object>",
    }
}

impl Sink for Writer {
    fn none(&mut self) {
        self.settle();
        self.out.push_str("<none/>");
    }

    fn int(&mut self, number: i128) {
        self.settle();
        let tag = if -LONG_THRESHOLD < number && number < LONG_THRESHOLD {
            "int"
        } else {
            "long"
        };
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        if number < 0 {
            self.out.push('-');
        }
        push_decimal(&mut self.out, number.unsigned_abs());
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
    }

    fn string(&mut self, text: &str) {
        self.settle();
        self.out.push_str("<string>");
        push_escaped_twice(&mut self.out, text);
        self.out.push_str("</string>");
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::None => self.none(),
            Value::Bool(flag) => self.scalar("bool", if *flag { "1" } else { "0" }),
            Value::Int(number) => self.int(*number),
            Value::BigInt(text) => self.big_int(text),
            Value::Float(number) => self.scalar("float", &float_repr(*number)),
            Value::String(text) => self.string(text),
            Value::Tuple(items) => self.sequence(Container::Tuple, items),
            Value::List(items) => self.sequence(Container::List, items),
            Value::Set(items) => self.sequence(Container::Set, items),
            Value::Dict(items) => self.dict(items),
            Value::Object(object) => {
                self.begin(Container::Object(object.class));
                self.sequence(Container::Tuple, &object.initargs);
                self.dict(&object.state);
                self.end();
            }
        }
    }

    fn begin(&mut self, container: Container) {
        self.settle();
        self.out.push_str(start_tag(container));
        if container != Container::Tuple {
            let id = self.next_id();
            push_decimal(&mut self.out, u128::from(id));
            self.out.push('"');
        }
        if let Container::Object(class) = container {
            self.out.push_str(" module=\"");
            self.out.push_str(Class::MODULE);
            self.out.push_str("\" class=\"");
            self.out.push_str(class.name());
            self.out.push('"');
        }
        self.open.push(container);
        self.start_pending = true;
    }

    fn end(&mut self) {
        let Some(container) = self.open.pop() else {
            debug_assert!(false, "end without begin");
            return;
        };
        if self.start_pending {
            self.start_pending = false;
            self.out.push_str("/>");
        } else {
            self.out.push_str(end_tag(container));
        }
    }
}

/// Appends the decimal digits of `number`.
fn push_decimal(out: &mut String, mut number: u128) {
    let mut digits = [0u8; 40];
    let mut start = digits.len();
    loop {
        start -= 1;
        // The remainder is below 10: the cast cannot truncate.
        digits[start] = b'0' + (number % 10) as u8;
        number /= 10;
        if number == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        out.push(char::from(digit));
    }
}

/// Appends `text` as a marshalled string's content: `xml.sax.saxutils.escape`
/// first (`&`, `<`, `>`), then the XML serialiser escapes again, so `&` ends
/// up as `&amp;amp;`. The serialiser writes ASCII only: every non-ASCII
/// character, `\r` (which a parser would read back as `\n`) and the C0
/// controls XML forbids become decimal character references; tab, newline
/// and DEL stay raw.
fn push_escaped_twice(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut plain_from = 0;
    while let Some(offset) = bytes[plain_from..].iter().position(|&byte| !is_plain(byte)) {
        let special = plain_from + offset;
        out.push_str(&text[plain_from..special]);
        // Plain bytes are ASCII, so `special` is on a character boundary.
        let next = match bytes[special] {
            b'&' => {
                out.push_str("&amp;amp;");
                special + 1
            }
            b'<' => {
                out.push_str("&amp;lt;");
                special + 1
            }
            b'>' => {
                out.push_str("&amp;gt;");
                special + 1
            }
            _ => {
                // A control character or the first byte of a non-ASCII one.
                let c = text[special..].chars().next().unwrap_or('\u{fffd}');
                out.push_str("&#");
                push_decimal(out, u128::from(u32::from(c)));
                out.push(';');
                special + c.len_utf8().max(1)
            }
        };
        plain_from = next;
    }
    out.push_str(&text[plain_from..]);
}

/// Whether `byte` is written as it is inside a marshalled string: printable
/// ASCII and DEL but `&`, `<`, `>`; tab; newline.
fn is_plain(byte: u8) -> bool {
    matches!(byte, b'\t' | b'\n' | 0x20..=0x7f) && !matches!(byte, b'&' | b'<' | b'>')
}
