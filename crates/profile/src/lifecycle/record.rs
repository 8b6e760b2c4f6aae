//! `.installed.cfg` as text (spec §8.1): what zc.buildout 6.0.1's
//! `_save_options` writes and `_read_installed_part_options` reads back,
//! byte for byte. Keys are sorted, part sections follow `[buildout]` in the
//! order of its `parts`, each behind a blank line; a value's newlines become
//! `\n\t`, and spaces, `\r`, `\f`, `\v` (and extra newlines) next to a
//! newline or at either end become `%(__buildout_space__)s` and its
//! `_r__`, `_f__`, `_v__`, `_n__` siblings, so that the configparser gives
//! the value back unchanged. Tabs are not escaped (buildout does not either).
//! Pure: no I/O here (`store` reads and writes the file).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::python::PythonEnv;
use crate::recipe::Options;
use crate::ProfileError;

/// The option of a part's record holding the paths its recipe returned,
/// one per line.
pub const INSTALLED_KEY: &str = "__buildout_installed__";
/// The option of a part's record holding its signature (§8.3).
pub const SIGNATURE_KEY: &str = "__buildout_signature__";

/// The placeholders and what they stand for, in the order buildout
/// replaces them when reading.
const SPACEY: [(&str, char); 5] = [
    ("%(__buildout_space__)s", ' '),
    ("%(__buildout_space_n__)s", '\n'),
    ("%(__buildout_space_r__)s", '\r'),
    ("%(__buildout_space_f__)s", '\x0c'),
    ("%(__buildout_space_v__)s", '\x0b'),
];

/// What `.installed.cfg` says: the `[buildout]` section and one section per
/// installed part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstalledRecord {
    /// `[buildout]` minus `parts` (`installed_develop_eggs` and anything
    /// an older writer left).
    pub buildout: Options,
    /// The installed parts, in record order.
    pub parts: Vec<String>,
    /// Each installed part's recorded options, with
    /// [`INSTALLED_KEY`] and [`SIGNATURE_KEY`].
    pub sections: BTreeMap<String, Options>,
}

impl InstalledRecord {
    /// The record of a directory where nothing is installed yet: what
    /// buildout writes first (`installed_develop_eggs` empty, no parts).
    pub fn empty() -> InstalledRecord {
        let mut buildout = Options::new();
        buildout.insert("installed_develop_eggs".to_owned(), String::new());
        InstalledRecord { buildout, parts: Vec::new(), sections: BTreeMap::new() }
    }

    /// Whether `part` is recorded as installed.
    pub fn contains(&self, part: &str) -> bool {
        self.parts.iter().any(|name| name == part)
    }

    /// The paths recorded for `part`, one per non-empty line of its
    /// [`INSTALLED_KEY`].
    pub fn installed_paths(&self, part: &str) -> Vec<String> {
        self.sections.get(part).map(|options| split_paths(options.get(INSTALLED_KEY).map_or("", String::as_str))).unwrap_or_default()
    }

    /// Drops `part` from the parts and its section.
    pub fn remove(&mut self, part: &str) {
        self.parts.retain(|name| name != part);
        self.sections.remove(part);
    }

    /// Records `part` with `options`; a new part goes last, a recorded one
    /// keeps its place (the SlapOS fork's order).
    pub fn put(&mut self, part: &str, options: Options) {
        if !self.contains(part) {
            self.parts.push(part.to_owned());
        }
        self.sections.insert(part.to_owned(), options);
    }

    /// Whether the record would remove its file: no part and no develop
    /// egg left.
    pub fn is_vacant(&self) -> bool {
        self.parts.is_empty() && self.buildout.get("installed_develop_eggs").is_none_or(|eggs| eggs.is_empty())
    }

    /// The file text, as `_save_installed_options` writes it.
    pub fn render(&self) -> String {
        let mut text = String::new();
        let mut buildout = self.buildout.clone();
        buildout.insert("parts".to_owned(), self.parts.join(" "));
        render_section(&mut text, "buildout", &buildout);
        for part in &self.parts {
            text.push('\n');
            let empty = Options::new();
            render_section(&mut text, part, self.sections.get(part).unwrap_or(&empty));
        }
        text
    }

    /// Reads a record file's text (`file` names it in errors). Several
    /// `[buildout]` sections (zc.buildout appends one after each update)
    /// read as one, the last value winning.
    ///
    /// # Errors
    /// Syntax errors of the configparser, and a part listed in `parts`
    /// without its section.
    pub fn parse(text: &str, file: &str) -> Result<InstalledRecord, ProfileError> {
        let mut sections = parse_sections(text, file)?;
        let mut buildout = sections.remove("buildout").unwrap_or_default();
        let parts: Vec<String> = buildout.remove("parts").unwrap_or_default().split_whitespace().map(str::to_owned).collect();
        let mut record = InstalledRecord { buildout, parts: Vec::new(), sections: BTreeMap::new() };
        for part in parts {
            let Some(options) = sections.remove(&part) else {
                return Err(ProfileError::Recipe {
                    section: part.clone(),
                    message: format!("{file}: part {part:?} is listed in [buildout] parts but has no section"),
                });
            };
            record.put(&part, options);
        }
        Ok(record)
    }
}

/// Sections of a file in the record's encoding, values unquoted.
///
/// # Errors
/// Syntax errors of the configparser.
pub(crate) fn parse_sections(text: &str, file: &str) -> Result<BTreeMap<String, Options>, ProfileError> {
    let file: Arc<str> = Arc::from(file);
    let sections = crate::syntax::parse(text, &file, &PythonEnv::new((3, 11, 2)))?;
    Ok(sections
        .into_iter()
        .map(|(name, section)| {
            let options = section.into_iter().map(|(key, value)| (key, unquote(&value.text))).collect();
            (name, options)
        })
        .collect())
}

/// The non-empty lines of a recorded path list.
pub fn split_paths(text: &str) -> Vec<String> {
    text.split('\n').filter(|line| !line.is_empty()).map(str::to_owned).collect()
}

/// Appends `[name]` and its options, sorted and quoted.
pub(crate) fn render_section(text: &mut String, name: &str, options: &Options) {
    text.push('[');
    text.push_str(name);
    text.push_str("]\n");
    for (key, value) in options {
        text.push_str(key);
        text.push_str(" = ");
        text.push_str(&quote(value));
        text.push('\n');
    }
}

/// Whitespace other than the newline, as buildout's `_spacey_nl` sees it.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\x0c' | '\x0b')
}

/// A value as `_save_option` writes it: `_spacey_nl.sub(_quote_spacey_nl,
/// value)`, then a leading or trailing `\n\t` turned into
/// `%(__buildout_space_n__)s`.
pub fn quote(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let mut out = String::with_capacity(value.len());
    let mut index = 0;
    while index < chars.len() {
        let mut end = index;
        while end < chars.len() && is_blank(chars[end]) {
            end += 1;
        }
        if end < chars.len() && chars[end] == '\n' {
            // `[ \t\r\f\v]*\n[ \t\r\f\v\n]*`
            end += 1;
            while end < chars.len() && (is_blank(chars[end]) || chars[end] == '\n') {
                end += 1;
            }
        } else if end == index || (index != 0 && end != chars.len()) {
            // Neither `^[ \t\r\f\v]+` nor `[ \t\r\f\v]+$`.
            out.push(chars[index]);
            index += 1;
            continue;
        }
        let run: String = chars[index..end].iter().collect();
        out.push_str(&quote_run(&run));
        index = end;
    }
    if let Some(rest) = out.strip_prefix("\n\t") {
        out = format!("%(__buildout_space_n__)s{rest}");
    }
    if let Some(rest) = out.strip_suffix("\n\t") {
        out = format!("{rest}%(__buildout_space_n__)s");
    }
    out
}

/// `_quote_spacey_nl` on one matched run.
fn quote_run(run: &str) -> String {
    let escape = |piece: &str| {
        piece
            .replace(' ', "%(__buildout_space__)s")
            .replace('\r', "%(__buildout_space_r__)s")
            .replace('\x0c', "%(__buildout_space_f__)s")
            .replace('\x0b', "%(__buildout_space_v__)s")
            .replace('\n', "%(__buildout_space_n__)s")
    };
    match run.split_once('\n') {
        Some((before, after)) => format!("{}\n\t{}", escape(before), escape(after)),
        None => escape(run),
    }
}

/// A value as `_read_installed_part_options` gives it back.
pub fn unquote(value: &str) -> String {
    if !value.contains("%(") {
        return value.to_owned();
    }
    let mut value = value.to_owned();
    for (placeholder, character) in SPACEY {
        value = value.replace(placeholder, &character.to_string());
    }
    value
}
