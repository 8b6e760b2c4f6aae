//! Python `configparser` syntax, as `slapos.cfg` and `slapos-client.cfg`
//! are written: `[section]`, `key = value` or `key: value`, indented
//! continuation lines, `#`/`;` comment lines, case-insensitive keys.
//! Errors name the file and line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A parsed configuration file: section → key → value.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Ini {
    /// Where it was read from, for error messages.
    pub path: PathBuf,
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

/// A syntax error in a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum IniError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line is neither a section, an option, a continuation nor a comment.
    #[error("{path}:{line}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl Ini {
    /// Reads and parses a file.
    ///
    /// # Errors
    /// Unreadable file or syntax error (with its line).
    pub fn read(path: &Path) -> Result<Ini, IniError> {
        let text = std::fs::read_to_string(path).map_err(|source| IniError::Read { path: path.to_owned(), source })?;
        Ini::parse(path, &text)
    }

    /// Parses text read from `path`.
    ///
    /// # Errors
    /// A syntax error, with its line.
    pub fn parse(path: &Path, text: &str) -> Result<Ini, IniError> {
        let mut ini = Ini { path: path.to_owned(), sections: BTreeMap::new() };
        let mut section: Option<String> = None;
        let mut last_key: Option<String> = None;
        for (index, raw) in text.lines().enumerate() {
            let syntax = |message: &str| IniError::Syntax { path: path.to_owned(), line: index + 1, message: message.to_owned() };
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                if trimmed.is_empty() {
                    last_key = None;
                }
                continue;
            }
            if raw.starts_with(char::is_whitespace) {
                let (Some(section), Some(key)) = (&section, &last_key) else {
                    return Err(syntax("continuation line without an option above it"));
                };
                let value = ini.sections.entry(section.clone()).or_default().entry(key.clone()).or_default();
                if !value.is_empty() {
                    value.push('\n');
                }
                value.push_str(trimmed);
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('[') {
                let name = name.strip_suffix(']').ok_or_else(|| syntax("section header without closing ]"))?;
                section = Some(name.trim().to_owned());
                ini.sections.entry(name.trim().to_owned()).or_default();
                last_key = None;
                continue;
            }
            let Some(section) = &section else {
                return Err(syntax("option before any [section]"));
            };
            let at = trimmed.find(['=', ':']).ok_or_else(|| syntax("expected `key = value`"))?;
            let key = trimmed[..at].trim().to_lowercase();
            let value = trimmed[at + 1..].trim().to_owned();
            ini.sections.entry(section.clone()).or_default().insert(key.clone(), value);
            last_key = Some(key);
        }
        Ok(ini)
    }

    /// The value of `key` in `section`, if set.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections.get(section)?.get(&key.to_lowercase()).map(String::as_str)
    }

    /// Every section with its keys (lower case) and values.
    pub fn to_sections(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        self.sections.clone()
    }

    /// Every section name, sorted.
    pub fn sections(&self) -> impl Iterator<Item = &str> {
        self.sections.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_continuations_and_comments() {
        let text = "# comment\n[slapos]\ncomputer_id = COMP-1\nMaster_URL: http://x/\n[slapproxy]\nsoftware_product_list =\n  erp5 http://a/software.cfg\n  kvm http://b/software.cfg\n; done\n";
        let ini = Ini::parse(Path::new("slapos.cfg"), text).expect("valid");
        assert_eq!(ini.get("slapos", "computer_id"), Some("COMP-1"));
        assert_eq!(ini.get("slapos", "master_url"), Some("http://x/"));
        assert_eq!(
            ini.get("slapproxy", "software_product_list"),
            Some("erp5 http://a/software.cfg\nkvm http://b/software.cfg")
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let error = Ini::parse(Path::new("a.cfg"), "[s]\nkey value\n").expect_err("no separator");
        assert_eq!(error.to_string(), "a.cfg:2: expected `key = value`");
        let error = Ini::parse(Path::new("a.cfg"), "key = 1\n").expect_err("no section");
        assert_eq!(error.to_string(), "a.cfg:1: option before any [section]");
    }
}
