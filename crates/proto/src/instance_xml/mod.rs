//! Instance parameter XML, the stored form of instance and connection
//! parameters (`slapos.util.dict2xml` / `xml2dict`, spec §2.2):
//!
//! ```text
//! <?xml version='1.0' encoding='utf-8'?>
//! <instance>
//!   <parameter id="foo">bar</parameter>
//! </instance>
//! ```
//!
//! What the real code does, reproduced byte for byte (golden files in
//! `test_data/instance_xml/`): keys sorted by code point; every non-string
//! value `str()`'d; an empty dict is `<instance/>`; an empty string is
//! `<parameter id="x"></parameter>`, which reads back as `None` (so `''`
//! does not survive a round trip); text escapes `&`, `<`, `>` and `\r`
//! (`&#13;`), keeps quotes and writes non-ASCII as raw UTF-8; the `id`
//! attribute also escapes `"`, tab and newline. Reading: any root element,
//! its `<parameter>` children only, text up to the first child node, a
//! repeated id joins values with a space (Python raises `TypeError` when a
//! non-empty value is followed by an empty one; so do we), and an empty
//! input is an empty dict.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::marshal::Value;
use crate::python_repr::{repr_of, str_of};
use crate::xml::{escape_attribute, escape_text, is_xml_char, Event, Reader};

/// Why parameters cannot be converted to or from instance XML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstanceXmlError {
    /// The marshalled parameters are not a dict.
    #[error("instance parameters must be a dict, not {found}")]
    NotADict {
        /// The Python type name found.
        found: String,
    },
    /// A parameter name is not a string (lxml refuses it as an attribute).
    #[error("parameter name must be a string, not {key}")]
    NonStringKey {
        /// `repr` of the key.
        key: String,
    },
    /// A name or value holds a character XML 1.0 cannot carry (lxml raises
    /// "All strings must be XML compatible").
    #[error("parameter {key:?} holds U+{code:04X}, which xml cannot carry")]
    UnencodableChar {
        /// The parameter name.
        key: String,
        /// The code point.
        code: u32,
    },
    /// The text is not well-formed XML.
    #[error("byte {position}: malformed xml, expected {expected}")]
    Syntax {
        /// Byte offset.
        position: usize,
        /// What would have been valid there.
        expected: String,
    },
    /// A `<parameter>` without `id`.
    #[error("byte {position}: parameter element without an id attribute")]
    MissingId {
        /// Offset of the element.
        position: usize,
    },
    /// A repeated id whose later element is empty after a non-empty one.
    #[error("byte {position}: parameter {key:?} repeated with an empty value")]
    EmptyRepeat {
        /// Offset of the empty element.
        position: usize,
        /// The parameter name.
        key: String,
    },
}

/// The string map `dict2xml` would write for a marshalled dict: values go
/// through Python `str()` (`None` → `"None"`, `1` → `"1"`, containers →
/// their `repr`).
///
/// # Errors
///
/// [`InstanceXmlError::NotADict`] for a non-dict, `NonStringKey` for a
/// non-string key, `UnencodableChar` for characters XML cannot carry.
pub fn from_dict(value: &Value) -> Result<BTreeMap<String, String>, InstanceXmlError> {
    let Value::Dict(items) = value else {
        return Err(InstanceXmlError::NotADict {
            found: value.type_name().to_owned(),
        });
    };
    let mut params = BTreeMap::new();
    for (key, item) in items {
        let Value::String(key) = key else {
            return Err(InstanceXmlError::NonStringKey { key: repr_of(key) });
        };
        params.insert(key.clone(), str_of(item));
    }
    validate(&params)?;
    Ok(params)
}

/// Checks that every name and value can be written as XML 1.0.
///
/// # Errors
///
/// [`InstanceXmlError::UnencodableChar`] naming the first offending key.
pub fn validate(params: &BTreeMap<String, String>) -> Result<(), InstanceXmlError> {
    for (key, value) in params {
        if let Some(c) = key.chars().chain(value.chars()).find(|c| !is_xml_char(*c)) {
            return Err(InstanceXmlError::UnencodableChar {
                key: key.clone(),
                code: u32::from(c),
            });
        }
    }
    Ok(())
}

/// Writes `params` exactly as `dict2xml` does. Characters XML cannot carry
/// (see [`validate`]) become character references, which lxml would refuse
/// to read: validate first where that matters.
pub fn encode(params: &BTreeMap<String, String>) -> String {
    const DECLARATION: &str = "<?xml version='1.0' encoding='utf-8'?>\n";
    if params.is_empty() {
        return format!("{DECLARATION}<instance/>\n");
    }
    let mut out = String::from(DECLARATION);
    out.push_str("<instance>\n");
    for (key, value) in params {
        out.push_str("  <parameter id=\"");
        escape_attribute(&mut out, key);
        out.push_str("\">");
        escape_text(&mut out, value, false);
        out.push_str("</parameter>\n");
    }
    out.push_str("</instance>\n");
    out
}

/// Reads instance XML as `xml2dict` does: `None` for an empty element.
///
/// # Errors
///
/// [`InstanceXmlError::Syntax`] for malformed XML, `MissingId` and
/// `EmptyRepeat` as described in the module docs.
pub fn decode(xml: &str) -> Result<BTreeMap<String, Option<String>>, InstanceXmlError> {
    let mut params: BTreeMap<String, Option<String>> = BTreeMap::new();
    if xml.is_empty() {
        return Ok(params);
    }
    let mut reader = Reader::new(xml);
    // The parameter being read: its id, offset, text so far, and whether a
    // child node already ended its `.text`.
    let mut current: Option<(String, usize, String, bool)> = None;
    loop {
        let event = reader
            .next_event()
            .map_err(|error| InstanceXmlError::Syntax {
                position: error.position,
                expected: error.expected,
            })?;
        let depth = reader.depth();
        match event {
            Event::Start(tag) if depth == 2 && tag.name == "parameter" => {
                let Some(id) = tag.attribute("id") else {
                    return Err(InstanceXmlError::MissingId {
                        position: tag.position,
                    });
                };
                current = Some((id.to_owned(), tag.position, String::new(), false));
            }
            Event::Start(_) | Event::Other { .. } if depth >= 2 => {
                if let Some(parameter) = current.as_mut() {
                    parameter.3 = true;
                }
            }
            Event::Text { text, .. } if depth == 2 => {
                if let Some((_, _, buffer, false)) = current.as_mut() {
                    buffer.push_str(&text);
                }
            }
            Event::End { .. } if depth == 1 => {
                if let Some((key, position, text, _)) = current.take() {
                    let value = if text.is_empty() { None } else { Some(text) };
                    merge(&mut params, key, value, position)?;
                }
            }
            Event::Eof => return Ok(params),
            _ => {}
        }
    }
}

fn merge(
    params: &mut BTreeMap<String, Option<String>>,
    key: String,
    value: Option<String>,
    position: usize,
) -> Result<(), InstanceXmlError> {
    match (params.get_mut(&key), value) {
        (Some(Some(previous)), Some(text)) => {
            previous.push(' ');
            previous.push_str(&text);
        }
        (Some(Some(_)), None) => return Err(InstanceXmlError::EmptyRepeat { position, key }),
        (_, value) => {
            params.insert(key, value);
        }
    }
    Ok(())
}

/// The dict `xml2dict` returns, as a marshalled value: string keys in
/// order, values strings or `None`.
pub fn to_value(params: &BTreeMap<String, Option<String>>) -> Value {
    Value::dict_from(
        params
            .iter()
            .map(|(key, value)| (key.clone(), Value::from(value.clone()))),
    )
}
