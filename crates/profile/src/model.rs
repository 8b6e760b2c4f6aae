//! The raw data every stage passes on: sections of option values, each
//! value remembering who set it last. buildout's `SectionKey` keeps a whole
//! history; only its last source matters to resolution (relative cache
//! directories are made absolute against it) and to error locations, so that
//! is all a [`RawValue`] keeps.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::Location;

/// Who set a value last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// buildout's built-in defaults (`DEFAULT_VALUE`).
    Default,
    /// Computed by buildout, e.g. `directory` (`COMPUTED_VALUE`).
    Computed,
    /// A `section:option=value` argument (`COMMAND_LINE_VALUE`).
    CommandLine,
    /// A `-=` on an option nobody set (`IMPLICIT_VALUE`).
    Implicit,
    /// A line of a file (path or URL).
    File {
        /// The file as buildout names it.
        file: Arc<str>,
        /// The 1-based line of the option's first line.
        line: u32,
    },
}

impl Origin {
    /// The file location, when the value comes from a file.
    pub(crate) fn location(&self) -> Option<Box<Location>> {
        match self {
            Origin::File { file, line } => Some(Box::new(Location { file: file.to_string(), line: *line })),
            _ => None,
        }
    }
}

/// One option's text and its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawValue {
    /// The text, before substitution.
    pub(crate) text: String,
    /// Who set it last.
    pub(crate) origin: Origin,
    /// Where the key entered its section, for keys a file or the command
    /// line sets: buildout's sections are Python dicts, whose insertion
    /// order breaks the ties of the operator sort (`x+` and `x +` both
    /// sort as `("x", "+")`, so the one written first is applied first).
    /// 0 where the order never matters.
    pub(crate) order: u32,
}

impl RawValue {
    pub(crate) fn new(text: impl Into<String>, origin: Origin) -> RawValue {
        RawValue { text: text.into(), origin, order: 0 }
    }

    /// A value whose key is the `order`-th inserted into its section.
    pub(crate) fn ordered(text: impl Into<String>, origin: Origin, order: u32) -> RawValue {
        RawValue { text: text.into(), origin, order }
    }
}

/// A section: option name to raw value. Operator keys (`x +`, `x -`) live
/// here too until a merge folds them.
pub(crate) type RawSection = BTreeMap<String, RawValue>;

/// A whole profile (or one file of it): section name to section.
pub(crate) type RawSections = BTreeMap<String, RawSection>;

/// Drops the origins.
pub(crate) fn plain(section: &RawSection) -> BTreeMap<String, String> {
    section.iter().map(|(key, value)| (key.clone(), value.text.clone())).collect()
}
