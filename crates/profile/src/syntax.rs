//! One profile file's text to raw sections (spec §1), line by line as
//! zc.buildout 6.0.1's `configparser.parse` reads it: comments in column 0,
//! continuation lines, `[name]` and `[name:expr]` headers, `name = value`,
//! `name += value`, `name -= value` and `=> parts` lines, line and block
//! mode values. Bad lines are all collected and reported together; a
//! missing first header or a condition that cannot be evaluated stops at
//! once, as in buildout.

use std::sync::Arc;

use crate::error::{Location, ProfileError};
use crate::model::{Origin, RawSections, RawValue};
use crate::python::{evaluate_condition, PythonEnv};
use crate::pytext::{dedent, is_space, rstrip, strip, strip_leading_blank_lines};

/// What a header line says.
struct Header<'a> {
    name: &'a str,
    /// The text after `:`, when there is one (possibly empty).
    expression: Option<&'a str>,
}

/// The parser's state between lines.
struct Parser<'a> {
    file: Arc<str>,
    python: &'a PythonEnv,
    sections: RawSections,
    current: Option<String>,
    option: Option<String>,
    condition: bool,
    block_mode: bool,
    bad_lines: Vec<(u32, String)>,
    /// Keys inserted so far: each new key's insertion rank (Python dict
    /// order, see [`RawValue::order`]).
    inserted: u32,
}

/// Parses one file. `file` names it in messages and origins.
///
/// # Errors
/// [`ProfileError::Parsing`] listing every bad line,
/// [`ProfileError::NoSectionHeaders`], [`ProfileError::Condition`].
pub(crate) fn parse(text: &str, file: &Arc<str>, python: &PythonEnv) -> Result<RawSections, ProfileError> {
    let text = universal_newlines(text);
    let mut parser = Parser {
        file: file.clone(),
        python,
        sections: RawSections::new(),
        current: None,
        option: None,
        condition: true,
        block_mode: false,
        bad_lines: Vec::new(),
        inserted: 0,
    };
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        parser.line(number, line)?;
    }
    if !parser.bad_lines.is_empty() {
        return Err(ProfileError::Parsing { file: file.to_string(), lines: parser.bad_lines });
    }
    let mut sections = parser.sections;
    for section in sections.values_mut() {
        for value in section.values_mut() {
            if value.text.starts_with(is_space) {
                value.text = strip_leading_blank_lines(&dedent(rstrip(&value.text))).to_owned();
            }
        }
    }
    Ok(sections)
}

/// Python's universal newlines: `\r\n` and `\r` read as `\n`.
fn universal_newlines(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\r') {
        std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

impl Parser<'_> {
    fn line(&mut self, number: u32, line: &str) -> Result<(), ProfileError> {
        let Some(first) = line.chars().next() else { return Ok(()) };
        if first == '#' || first == ';' {
            return Ok(());
        }
        if is_space(first) && self.current.is_some() && self.option.is_some() {
            self.continuation(line);
            return Ok(());
        }
        if let Some(header) = section_header(line) {
            return self.header(number, &header);
        }
        if self.current.is_none() {
            if strip(line).is_empty() {
                return Ok(());
            }
            let location = Box::new(Location { file: self.file.to_string(), line: number });
            return Err(ProfileError::NoSectionHeaders { location, text: line.to_owned() });
        }
        let rewritten;
        let line = match line.strip_prefix("=>") {
            Some(rest) => {
                rewritten = format!("<part-dependencies> = {rest}");
                rewritten.as_str()
            }
            None => line,
        };
        if let Some((name, value)) = option_start(line) {
            if self.condition {
                self.option_line(number, name, value);
            }
        } else if self.option.is_none() && strip(line).is_empty() {
            // A blank line right after a header.
        } else {
            self.bad_lines.push((number, line.to_owned()));
        }
        Ok(())
    }

    fn continuation(&mut self, line: &str) {
        if !self.condition {
            return;
        }
        let text = if self.block_mode {
            rstrip(line)
        } else {
            let stripped = strip(line);
            if stripped.is_empty() {
                return;
            }
            stripped
        };
        if let Some(value) = self.current_value() {
            value.text.push('\n');
            value.text.push_str(text);
        }
    }

    fn current_value(&mut self) -> Option<&mut RawValue> {
        let section = self.sections.get_mut(self.current.as_deref()?)?;
        section.get_mut(self.option.as_deref()?)
    }

    fn header(&mut self, number: u32, header: &Header<'_>) -> Result<(), ProfileError> {
        self.condition = true;
        if let Some(expression) = header.expression.filter(|expression| !expression.is_empty()) {
            let holds = evaluate_condition(expression, self.python).map_err(|error| ProfileError::Condition {
                location: Box::new(Location { file: self.file.to_string(), line: number }),
                section: header.name.to_owned(),
                expression: expression.to_owned(),
                reason: error.message,
            })?;
            if !holds {
                // buildout keeps the previous section and option current.
                self.condition = false;
                return Ok(());
            }
        }
        self.sections.entry(header.name.to_owned()).or_default();
        self.current = Some(header.name.to_owned());
        self.option = None;
        Ok(())
    }

    fn option_line(&mut self, number: u32, name: &str, value: &str) {
        let name = rstrip(name);
        let value = strip(value);
        let operator = name.ends_with('+') || name.ends_with('-');
        let origin = Origin::File { file: self.file.clone(), line: number };
        let Some(section) = self.current.as_deref().and_then(|current| self.sections.get_mut(current)) else {
            return;
        };
        match section.get_mut(name) {
            Some(existing) if operator => {
                let kept = rstrip(&existing.text).len();
                existing.text.truncate(kept);
                if !value.is_empty() {
                    existing.text.push('\n');
                    existing.text.push_str(value);
                }
                existing.origin = origin;
            }
            _ => {
                if !operator {
                    section.remove(&format!("{name} +"));
                    section.remove(&format!("{name} -"));
                }
                // A key deleted above, or new, goes to the end of the dict;
                // a key set again keeps its place.
                let order = match section.get(name) {
                    Some(existing) => existing.order,
                    None => {
                        self.inserted += 1;
                        self.inserted
                    }
                };
                section.insert(name.to_owned(), RawValue::ordered(value, origin, order));
            }
        }
        self.option = Some(name.to_owned());
        self.block_mode = value.is_empty();
    }
}

/// Characters a section name cannot hold (besides whitespace).
const SECTION_NAME_EXCLUDED: &str = "#[]:;{}";
/// Characters an option name cannot hold (besides whitespace).
const OPTION_NAME_EXCLUDED: &str = "{}[]=:";

/// `\[\s*NAME\s*(:EXPR)?\s*\]\s*([#;].*)?$`, with EXPR the longest text
/// without `#`/`;` that lets the rest match.
fn section_header(line: &str) -> Option<Header<'_>> {
    let rest = line.strip_prefix('[')?.trim_start_matches(is_space);
    let name_length = rest.find(|c: char| is_space(c) || SECTION_NAME_EXCLUDED.contains(c)).unwrap_or(rest.len());
    if name_length == 0 {
        return None;
    }
    let name = &rest[..name_length];
    let after_name = rest[name_length..].trim_start_matches(is_space);
    match after_name.strip_prefix(':') {
        None => header_tail_matches(after_name).then_some(Header { name, expression: None }),
        Some(expression_and_tail) => {
            let run = expression_and_tail.find(['#', ';']).unwrap_or(expression_and_tail.len());
            let closing = expression_and_tail[..run]
                .match_indices(']')
                .map(|(index, _)| index)
                .rev()
                .find(|index| header_tail_matches(&expression_and_tail[*index..]))?;
            Some(Header { name, expression: Some(&expression_and_tail[..closing]) })
        }
    }
}

/// `\s*\]\s*([#;].*)?$` at the start of `text`.
fn header_tail_matches(text: &str) -> bool {
    let Some(after) = text.trim_start_matches(is_space).strip_prefix(']') else { return false };
    let after = after.trim_start_matches(is_space);
    after.is_empty() || after.starts_with(['#', ';'])
}

/// `NAME\s*[-+]?=VALUE`: the name (with its spaces and operator) and the
/// value (without the final newline).
fn option_start(line: &str) -> Option<(&str, &str)> {
    let name_length = line.find(|c: char| is_space(c) || OPTION_NAME_EXCLUDED.contains(c)).unwrap_or(line.len());
    if name_length == 0 {
        return None;
    }
    let after_name = &line[name_length..];
    let after_spaces = after_name.trim_start_matches(is_space);
    let after_operator = after_spaces.strip_prefix(['+', '-']).unwrap_or(after_spaces);
    let value = after_operator.strip_prefix('=')?;
    let name_end = line.len() - value.len() - 1;
    Some((&line[..name_end], value.strip_suffix('\n').unwrap_or(value)))
}

/// The sections of one file without origins, for tests.
#[cfg(test)]
pub(crate) fn parse_plain(text: &str) -> Result<std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>, ProfileError> {
    let file: Arc<str> = Arc::from("test.cfg");
    let python = PythonEnv::new((3, 11, 2));
    let sections = parse(text, &file, &python)?;
    Ok(sections.iter().map(|(name, section): (&String, &crate::model::RawSection)| (name.clone(), crate::model::plain(section))).collect())
}

#[cfg(test)]
mod tests;
