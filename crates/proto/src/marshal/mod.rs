//! The `xml_marshaller` format: every `*_xml` form field and every XML
//! response body of the classic SLAP API is one marshalled Python value
//! (`shared/spec/slap-protocol.md` §2.1).
//!
//! [`encode`] writes exactly what `xml_marshaller` 1.0.3 `dumps` writes for
//! the same Python value (golden files in `test_data/marshal/`, recorded from
//! the real library by `test_data/generate.py`); [`decode`] reads what
//! `slapos.util.loads` reads, with the limits its module docs list.
//!
//! Format facts found in the real library beyond the spec: the `<int>` /
//! `<long>` boundary is the float `1e24` (999999999999999983222784), an
//! empty string is `<string></string>` while empty containers self-close,
//! DEL (0x7f) stays raw while every non-ASCII character (C1 controls too) is
//! a decimal reference, and a raw `\r` read back becomes `\n` (hence
//! `&#13;`).
//!
//! Large answers are streamed: a document's layout is written once against
//! [`Sink`], into a [`Writer`] (text, no [`Value`] tree) or a
//! [`ValueBuilder`] (the tree, for tests and readers).

mod decode;
mod encode;
mod number;
mod order;
mod sink;
mod value;

#[cfg(test)]
pub(crate) mod proptests;
#[cfg(test)]
mod tests;

pub use decode::{decode, DecodeError, MAX_DEPTH};
pub use encode::{encode, Writer};
pub use sink::{Container, Sink, ValueBuilder, WriteValue};
pub use value::{Class, Object, Value};
