//! A small pull reader for the XML the SLAP codecs exchange, and the escaping
//! rules of the libxml2 serialiser both Python encoders go through.
//!
//! Why our own reader: the marshal and instance formats use a tiny subset of
//! XML (elements, attributes, text, the predefined entities and character
//! references), and their decoders must report the byte position and what was
//! expected for any bad input, never panic, and never recurse. This reader
//! walks the input once, keeps only the stack of open element names, and
//! rejects what expat and libxml2 reject where it matters: mismatched tags,
//! undefined entities, raw control characters, text or a second element
//! outside the root, and any `<!DOCTYPE` (no DTD, so no entity expansion).
//!
//! Deliberate leniencies: character references may name any Unicode scalar
//! value, NUL included (XML 1.0 forbids the C0 controls, but our encoders
//! write them as references rather than fail; see `escape_text`), `]]>` and `--`
//! are accepted in text and comments, and namespace prefixes are stripped
//! without checking their declarations.

use std::borrow::Cow;

#[cfg(test)]
mod tests;

/// A syntax error: the byte offset and what the reader expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlError {
    /// Byte offset into the input.
    pub(crate) position: usize,
    /// What would have been valid at `position`.
    pub(crate) expected: String,
}

impl XmlError {
    fn new(position: usize, expected: impl Into<String>) -> XmlError {
        XmlError {
            position,
            expected: expected.into(),
        }
    }
}

/// A start tag: the local name (namespace prefix stripped) and its
/// attributes, values decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StartTag<'a> {
    /// Local name of the element.
    pub(crate) name: &'a str,
    /// Attributes in document order, names without prefix, values decoded.
    pub(crate) attributes: Vec<(&'a str, String)>,
    /// Byte offset of the `<`.
    pub(crate) position: usize,
}

impl StartTag<'_> {
    /// The decoded value of attribute `name`, if present.
    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// One step of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    /// An element opens; a self-closing tag yields `Start` then `End`.
    Start(StartTag<'a>),
    /// An element closes.
    End {
        /// Local name.
        name: &'a str,
        /// Byte offset of the `</` (or of the self-closing tag).
        position: usize,
    },
    /// Character data inside the root element, entities decoded and line
    /// ends normalised to `\n`; CDATA sections come through here too.
    Text {
        /// The decoded text.
        text: Cow<'a, str>,
        /// Byte offset where it starts.
        position: usize,
    },
    /// A comment or processing instruction inside the root element: SAX
    /// skips it, libxml2's `.text` stops at it.
    Other {
        /// Byte offset of the `<`.
        position: usize,
    },
    /// The end of a complete document.
    Eof,
}

/// Pull reader over one document.
pub(crate) struct Reader<'a> {
    source: &'a str,
    position: usize,
    open: Vec<&'a str>,
    root_seen: bool,
    pending_end: Option<(&'a str, usize)>,
}

const XML_WHITESPACE: [char; 4] = [' ', '\t', '\n', '\r'];

impl<'a> Reader<'a> {
    /// A reader at the start of `source` (a leading byte order mark and XML
    /// declaration are consumed by the first `next_event`).
    pub(crate) fn new(source: &'a str) -> Reader<'a> {
        Reader {
            source,
            position: 0,
            open: Vec::new(),
            root_seen: false,
            pending_end: None,
        }
    }

    /// Number of elements currently open.
    pub(crate) fn depth(&self) -> usize {
        self.open.len()
    }

    /// The next event, or the first syntax error.
    pub(crate) fn next_event(&mut self) -> Result<Event<'a>, XmlError> {
        if let Some((name, position)) = self.pending_end.take() {
            self.close(name, position)?;
            return Ok(Event::End {
                name: local_name(name),
                position,
            });
        }
        if self.position == 0 {
            self.prolog()?;
        }
        if self.open.is_empty() {
            return self.outside_root();
        }
        self.inside_root()
    }

    fn rest(&self) -> &'a str {
        self.source.get(self.position..).unwrap_or("")
    }

    fn prolog(&mut self) -> Result<(), XmlError> {
        if self.rest().starts_with('\u{feff}') {
            self.position += '\u{feff}'.len_utf8();
        }
        let rest = self.rest();
        let Some(after) = rest.strip_prefix("<?xml") else {
            return Ok(());
        };
        if after.starts_with(XML_WHITESPACE) {
            let start = self.position;
            let end = after
                .find("?>")
                .ok_or_else(|| XmlError::new(start, "`?>` closing the xml declaration"))?;
            check_declaration(after.get(..end).unwrap_or(""), start)?;
            self.position += 5 + end + 2;
        }
        Ok(())
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.position += rest.len() - rest.trim_start_matches(XML_WHITESPACE).len();
    }

    fn outside_root(&mut self) -> Result<Event<'a>, XmlError> {
        loop {
            self.skip_whitespace();
            let rest = self.rest();
            if rest.is_empty() {
                if self.root_seen {
                    return Ok(Event::Eof);
                }
                return Err(XmlError::new(self.position, "a root element"));
            }
            if rest.starts_with("<!--") || rest.starts_with("<?") {
                self.skip_markup()?;
            } else if rest.starts_with("<!") {
                return Err(XmlError::new(
                    self.position,
                    "an element (doctype and dtd are not supported)",
                ));
            } else if rest.starts_with("</") || !rest.starts_with('<') {
                let what = if self.root_seen {
                    "nothing after the root element"
                } else {
                    "a root element"
                };
                return Err(XmlError::new(self.position, what));
            } else if self.root_seen {
                return Err(XmlError::new(
                    self.position,
                    "nothing after the root element",
                ));
            } else {
                self.root_seen = true;
                return self.start_tag();
            }
        }
    }

    fn inside_root(&mut self) -> Result<Event<'a>, XmlError> {
        let rest = self.rest();
        let position = self.position;
        if rest.is_empty() {
            let name = self.open.last().copied().unwrap_or("");
            return Err(XmlError::new(
                position,
                format!("`</{name}>` before the end of input"),
            ));
        }
        if let Some(body) = rest.strip_prefix("<![CDATA[") {
            let end = body
                .find("]]>")
                .ok_or_else(|| XmlError::new(position, "`]]>` closing the cdata section"))?;
            self.position += 9 + end + 3;
            check_chars(&body[..end], position + 9)?;
            return Ok(text_event(normalize_line_ends(&body[..end]), position));
        }
        if rest.starts_with("<!--") || rest.starts_with("<?") {
            self.skip_markup()?;
            return Ok(Event::Other { position });
        }
        if rest.starts_with("<!") {
            return Err(XmlError::new(
                position,
                "an element, text, comment or cdata section",
            ));
        }
        if rest.starts_with("</") {
            return self.end_tag();
        }
        if rest.starts_with('<') {
            return self.start_tag();
        }
        let end = rest.find('<').unwrap_or(rest.len());
        self.position += end;
        let text = decode_text(&rest[..end], position)?;
        Ok(text_event(text, position))
    }

    fn skip_markup(&mut self) -> Result<(), XmlError> {
        let rest = self.rest();
        let (terminator, body_start) = if rest.starts_with("<!--") {
            ("-->", 4)
        } else {
            ("?>", 2)
        };
        let body = &rest[body_start..];
        if terminator == "?>"
            && (body.starts_with("xml ") || body.starts_with("xml?") || body.starts_with("xml\n"))
        {
            return Err(XmlError::new(
                self.position,
                "no xml declaration except at the start",
            ));
        }
        let end = body
            .find(terminator)
            .ok_or_else(|| XmlError::new(self.position, format!("`{terminator}`")))?;
        check_chars(&body[..end], self.position + body_start)?;
        self.position += body_start + end + terminator.len();
        Ok(())
    }

    fn start_tag(&mut self) -> Result<Event<'a>, XmlError> {
        let position = self.position;
        self.position += 1;
        let name = self.name()?;
        let mut attributes: Vec<(&'a str, String)> = Vec::new();
        loop {
            let before = self.position;
            self.skip_whitespace();
            let rest = self.rest();
            if rest.starts_with("/>") {
                self.position += 2;
                self.open.push(name);
                self.pending_end = Some((name, position));
                break;
            }
            if rest.starts_with('>') {
                self.position += 1;
                self.open.push(name);
                break;
            }
            if before == self.position || rest.is_empty() {
                return Err(XmlError::new(
                    self.position,
                    "whitespace, an attribute, `>` or `/>`",
                ));
            }
            let attribute_position = self.position;
            let key = self.name()?;
            self.skip_whitespace();
            if !self.rest().starts_with('=') {
                return Err(XmlError::new(self.position, "`=` after the attribute name"));
            }
            self.position += 1;
            self.skip_whitespace();
            let value = self.attribute_value()?;
            if key.starts_with("xmlns") && (key.len() == 5 || key.as_bytes().get(5) == Some(&b':'))
            {
                continue;
            }
            let key = local_name(key);
            if attributes.iter().any(|(existing, _)| *existing == key) {
                return Err(XmlError::new(
                    attribute_position,
                    format!("no second `{key}` attribute"),
                ));
            }
            attributes.push((key, value));
        }
        Ok(Event::Start(StartTag {
            name: local_name(name),
            attributes,
            position,
        }))
    }

    fn end_tag(&mut self) -> Result<Event<'a>, XmlError> {
        let position = self.position;
        self.position += 2;
        let name = self.name()?;
        self.skip_whitespace();
        if !self.rest().starts_with('>') {
            return Err(XmlError::new(self.position, "`>` closing the end tag"));
        }
        self.position += 1;
        self.close(name, position)?;
        Ok(Event::End {
            name: local_name(name),
            position,
        })
    }

    fn close(&mut self, name: &'a str, position: usize) -> Result<(), XmlError> {
        match self.open.pop() {
            Some(open) if open == name => Ok(()),
            Some(open) => Err(XmlError::new(position, format!("`</{open}>`"))),
            None => Err(XmlError::new(
                position,
                "no end tag outside the root element",
            )),
        }
    }

    fn name(&mut self) -> Result<&'a str, XmlError> {
        let rest = self.rest();
        let mut chars = rest.char_indices();
        match chars.next() {
            Some((_, c)) if is_name_start(c) => {}
            _ => return Err(XmlError::new(self.position, "a name")),
        }
        let end = chars
            .find(|(_, c)| !is_name_char(*c))
            .map_or(rest.len(), |(index, _)| index);
        self.position += end;
        Ok(&rest[..end])
    }

    fn attribute_value(&mut self) -> Result<String, XmlError> {
        let rest = self.rest();
        let quote = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => quote,
            _ => return Err(XmlError::new(self.position, "a quoted attribute value")),
        };
        let body = &rest[1..];
        let end = body
            .find(quote)
            .ok_or_else(|| XmlError::new(self.position, "the closing quote"))?;
        let raw = &body[..end];
        let start = self.position + 1;
        if let Some(index) = raw.find('<') {
            return Err(XmlError::new(start + index, "no `<` in an attribute value"));
        }
        self.position += end + 2;
        // Attribute-value normalisation: literal whitespace becomes a space
        // (after line-end folding); references such as `&#10;` are kept.
        if raw.contains(['\t', '\n', '\r']) {
            let folded = normalize_line_ends(raw);
            let spaced: String = folded
                .chars()
                .map(|c| if matches!(c, '\t' | '\n') { ' ' } else { c })
                .collect();
            return Ok(decode_text(&spaced, start)?.into_owned());
        }
        Ok(decode_text(raw, start)?.into_owned())
    }
}

fn text_event(text: Cow<'_, str>, position: usize) -> Event<'_> {
    Event::Text { text, position }
}

fn local_name(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || !c.is_ascii()
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == '-' || c == '.'
}

/// Whether XML 1.0 allows `c` literally in a document.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{fffd}' | '\u{10000}'..)
}

fn check_chars(text: &str, start: usize) -> Result<(), XmlError> {
    match text.char_indices().find(|(_, c)| !is_xml_char(*c)) {
        Some((index, c)) => Err(XmlError::new(
            start + index,
            format!("a character allowed in xml, not U+{:04X}", u32::from(c)),
        )),
        None => Ok(()),
    }
}

fn check_declaration(body: &str, start: usize) -> Result<(), XmlError> {
    let lower = body.to_ascii_lowercase();
    if !lower.contains("version") {
        return Err(XmlError::new(start, "a version in the xml declaration"));
    }
    if let Some(index) = lower.find("encoding") {
        let after = lower[index + 8..].trim_start_matches(XML_WHITESPACE);
        let value = after
            .strip_prefix('=')
            .unwrap_or("")
            .trim_start_matches(XML_WHITESPACE);
        let value = value.trim_start_matches(['"', '\'']);
        let name: String = value
            .chars()
            .take_while(|c| !matches!(c, '"' | '\''))
            .collect();
        if !matches!(name.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii") {
            return Err(XmlError::new(
                start,
                format!("encoding utf-8 in the xml declaration, not {name:?}"),
            ));
        }
    }
    Ok(())
}

fn normalize_line_ends(text: &str) -> Cow<'_, str> {
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Decodes entity and character references and normalises line ends.
fn decode_text(raw: &str, start: usize) -> Result<Cow<'_, str>, XmlError> {
    check_chars(raw, start)?;
    if !raw.contains('&') {
        return Ok(normalize_line_ends(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(index) = rest.find('&') {
        out.push_str(&normalize_line_ends(&rest[..index]));
        let reference_start = start + (raw.len() - rest.len()) + index;
        let after = &rest[index + 1..];
        let end = after
            .find(';')
            .filter(|end| *end <= 12)
            .ok_or_else(|| XmlError::new(reference_start, "a reference ending in `;`"))?;
        out.push(decode_reference(&after[..end], reference_start)?);
        rest = &after[end + 1..];
    }
    out.push_str(&normalize_line_ends(rest));
    Ok(Cow::Owned(out))
}

fn decode_reference(name: &str, position: usize) -> Result<char, XmlError> {
    let code = match name {
        "lt" => return Ok('<'),
        "gt" => return Ok('>'),
        "amp" => return Ok('&'),
        "quot" => return Ok('"'),
        "apos" => return Ok('\''),
        _ => {
            if let Some(hex) = name.strip_prefix("#x") {
                parse_digits(hex, 16)
            } else if let Some(decimal) = name.strip_prefix('#') {
                parse_digits(decimal, 10)
            } else {
                return Err(XmlError::new(
                    position,
                    format!("a predefined entity, not `&{name};`"),
                ));
            }
        }
    };
    match code.and_then(char::from_u32) {
        Some(c) => Ok(c),
        _ => Err(XmlError::new(
            position,
            format!("a valid character reference, not `&{name};`"),
        )),
    }
}

fn parse_digits(digits: &str, radix: u32) -> Option<u32> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// Appends `text` escaped as libxml2 writes element content: `&`, `<`, `>`
/// as entities, `\r` as `&#13;` (a parser would fold a raw one into `\n`),
/// and, when `ascii_only`, every non-ASCII character as a decimal reference
/// (how lxml's `tostring()` without an encoding writes). Characters XML 1.0
/// forbids become decimal references too: libxml2 refuses them, but an
/// encoder here cannot fail, and our reader accepts them back.
pub(crate) fn escape_text(out: &mut String, text: &str, ascii_only: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' | '\n' => out.push(c),
            _ if !is_xml_char(c) || c == '\r' || (ascii_only && !c.is_ascii()) => {
                push_char_reference(out, c)
            }
            _ => out.push(c),
        }
    }
}

/// Appends `text` escaped as libxml2 writes a double-quoted attribute value
/// in a UTF-8 document: `&`, `<`, `>`, `"` as entities and tab, newline and
/// carriage return as references (a parser would turn raw ones into spaces).
pub(crate) fn escape_attribute(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => push_char_reference(out, c),
            _ if !is_xml_char(c) => push_char_reference(out, c),
            _ => out.push(c),
        }
    }
}

fn push_char_reference(out: &mut String, c: char) {
    out.push_str("&#");
    out.push_str(&u32::from(c).to_string());
    out.push(';');
}
