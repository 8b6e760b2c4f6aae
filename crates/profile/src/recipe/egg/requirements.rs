//! Requirements and `[versions]` pins of the zc.recipe.egg family (spec
//! §10), pure: a requirement line (`name[extra] >= 1.0 ; marker`) is
//! split into its PEP 503-normalised name and its specifier, a pin (`1.2`
//! meaning `==1.2`, or `>=`/`<` clauses) is checked against it as
//! zc.buildout's `_constrained_requirement` does, and the pins become the
//! constraints file given to pip. Version comparison covers dotted numeric
//! releases; anything else is left to pip, which enforces the same pins
//! through the constraints file.

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A project name as PEP 503 compares it: lowercase, runs of `-`, `_`, `.`
/// made one `-`.
pub(crate) fn normalise(name: &str) -> String {
    let mut normalised = String::with_capacity(name.len());
    let mut in_separator = false;
    for character in name.trim().chars() {
        if matches!(character, '-' | '_' | '.') {
            in_separator = true;
            continue;
        }
        if in_separator && !normalised.is_empty() {
            normalised.push('-');
        }
        in_separator = false;
        normalised.push(character.to_ascii_lowercase());
    }
    normalised
}

/// Whether `name` is a valid project name (PEP 508: letters, digits, and
/// `.`, `-`, `_` inside).
pub(crate) fn is_project_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.iter().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_'))
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// One line of `eggs` (or `egg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Requirement {
    /// The line as written, trimmed: what pip is given.
    pub(crate) text: String,
    /// The project name as written.
    pub(crate) name: String,
    /// The specifier (`>=1.0,<2`), spaces removed; empty when none.
    pub(crate) specifier: String,
}

impl Requirement {
    /// Parses a requirement line.
    ///
    /// # Errors
    /// A line not starting with a project name, or with an unclosed
    /// extras bracket, in words.
    pub(crate) fn parse(line: &str) -> Result<Requirement, String> {
        let text = line.trim();
        let name_length = text.find(|character: char| !(character.is_ascii_alphanumeric() || matches!(character, '.' | '-' | '_'))).unwrap_or(text.len());
        let name = &text[..name_length];
        if !is_project_name(name) {
            return Err(format!("invalid requirement {}: it must start with a project name", crate::pytext::repr(text)));
        }
        let mut rest = text[name_length..].trim_start();
        if let Some(extras) = rest.strip_prefix('[') {
            let Some(end) = extras.find(']') else {
                return Err(format!("invalid requirement {}: unclosed '['", crate::pytext::repr(text)));
            };
            rest = &extras[end + 1..];
        }
        let specifier = rest.split(';').next().unwrap_or("").chars().filter(|character| !character.is_whitespace()).collect();
        Ok(Requirement { text: text.to_owned(), name: name.to_owned(), specifier })
    }

    /// The normalised project name.
    pub(crate) fn key(&self) -> String {
        normalise(&self.name)
    }

    /// Whether the specifier is one `==` clause: buildout then does not
    /// count the version as picked.
    pub(crate) fn is_exact(&self) -> bool {
        self.specifier.starts_with("==") && !self.specifier.starts_with("===") && !self.specifier.contains(',')
    }
}

/// The `[versions]` pins by normalised project name, values as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pins {
    by_key: BTreeMap<String, String>,
}

impl Pins {
    /// The pins of a versions section's options; options that are not
    /// project names (buildout's own keys) and empty values are skipped.
    pub(crate) fn new(options: &BTreeMap<String, String>) -> Pins {
        let by_key = options
            .iter()
            .filter(|(name, value)| is_project_name(name) && !value.trim().is_empty())
            .map(|(name, value)| (normalise(name), value.trim().to_owned()))
            .collect();
        Pins { by_key }
    }

    /// The pin of a project, as written.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.by_key.get(&normalise(name)).map(String::as_str)
    }

    /// Checks `requirement` against its pin, as zc.buildout's
    /// `_constrained_requirement`: an exact pin must satisfy the
    /// requirement's specifier.
    ///
    /// # Errors
    /// `The requirement ('<req>') is not allowed by your [versions]
    /// constraint (<v>)`.
    pub(crate) fn check(&self, requirement: &Requirement) -> Result<(), String> {
        let Some(pin) = self.get(&requirement.name) else { return Ok(()) };
        let Some(version) = exact_version(pin) else { return Ok(()) };
        if satisfies(version, &requirement.specifier) == Some(false) {
            return Err(format!(
                "The requirement ({}) is not allowed by your [versions] constraint ({version})",
                crate::pytext::repr(&format!("{}{}", requirement.name, requirement.specifier))
            ));
        }
        Ok(())
    }

    /// The pins as a pip constraints file, one `name<specifier>` a line,
    /// sorted; a pin whose value is not a version specifier is left out
    /// (pip would refuse the whole file).
    pub(crate) fn constraints(&self) -> String {
        self.by_key
            .iter()
            .filter_map(|(key, pin)| {
                let specifier = match exact_version(pin) {
                    Some(version) => format!("=={version}"),
                    None => pin.chars().filter(|character| !character.is_whitespace()).collect(),
                };
                is_specifier(&specifier).then(|| format!("{key}{specifier}\n"))
            })
            .collect()
    }
}

/// The version a pin fixes: `1.2` or `==1.2`; `None` for range pins.
fn exact_version(pin: &str) -> Option<&str> {
    let pin = pin.trim();
    if pin.starts_with(['<', '>', '!', '~']) || pin.starts_with("===") {
        return None;
    }
    Some(pin.strip_prefix("==").unwrap_or(pin).trim())
}

/// Whether `text` looks like a specifier pip accepts: comma-separated
/// clauses of an operator and a version.
fn is_specifier(text: &str) -> bool {
    !text.is_empty()
        && text.split(',').all(|clause| {
            let version = clause.trim_start_matches(['<', '>', '=', '!', '~']);
            version.len() < clause.len()
                && !version.is_empty()
                && version.chars().all(|character| character.is_ascii_alphanumeric() || matches!(character, '.' | '*' | '+' | '!' | '-' | '_'))
        })
}

/// Whether `version` satisfies `specifier` (comma-separated clauses);
/// `None` when a clause or a version is beyond dotted numeric releases.
pub(crate) fn satisfies(version: &str, specifier: &str) -> Option<bool> {
    let release = Release::parse(version)?;
    let mut all = true;
    for clause in specifier.split(',').filter(|clause| !clause.is_empty()) {
        let operator_length = clause.find(|character: char| !matches!(character, '<' | '>' | '=' | '!' | '~')).unwrap_or(clause.len());
        let (operator, wanted) = clause.split_at(operator_length);
        let holds = match (operator, wanted.strip_suffix(".*")) {
            ("==", Some(prefix)) => release.starts_with(&Release::parse(prefix)?),
            ("!=", Some(prefix)) => !release.starts_with(&Release::parse(prefix)?),
            (_, Some(_)) => return None,
            (operator, None) => {
                let ordering = release.cmp(&Release::parse(wanted)?);
                match operator {
                    "==" => ordering == Ordering::Equal,
                    "!=" => ordering != Ordering::Equal,
                    ">=" => ordering != Ordering::Less,
                    "<=" => ordering != Ordering::Greater,
                    ">" => ordering == Ordering::Greater,
                    "<" => ordering == Ordering::Less,
                    _ => return None,
                }
            }
        };
        all &= holds;
    }
    Some(all)
}

/// A release of dotted numbers, compared as PEP 440 does (trailing zeros
/// do not count).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Release(Vec<u64>);

impl Release {
    fn parse(text: &str) -> Option<Release> {
        let text = text.trim();
        let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
        let numbers: Option<Vec<u64>> = text.split('.').map(|part| part.parse().ok()).collect();
        numbers.filter(|numbers| !numbers.is_empty()).map(Release)
    }

    fn trimmed(&self) -> &[u64] {
        let length = self.0.iter().rposition(|&number| number != 0).map_or(0, |index| index + 1);
        &self.0[..length]
    }

    fn starts_with(&self, prefix: &Release) -> bool {
        prefix.0.iter().enumerate().all(|(index, number)| self.0.get(index).copied().unwrap_or(0) == *number)
    }
}

impl PartialOrd for Release {
    fn partial_cmp(&self, other: &Release) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Release {
    fn cmp(&self, other: &Release) -> Ordering {
        self.trimmed().cmp(other.trimmed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins(entries: &[(&str, &str)]) -> Pins {
        Pins::new(&entries.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect())
    }

    #[test]
    fn names_are_compared_normalised() {
        assert_eq!(normalise("Slapos_RS.Egg--Probe"), "slapos-rs-egg-probe");
        assert_eq!(pins(&[("Zope.Interface", "5.0")]).get("zope_interface"), Some("5.0"));
    }

    #[test]
    fn requirement_lines_split_into_name_and_specifier() {
        let requirement = Requirement::parse(" slapos.core[test] >= 1.0, <2 ; python_version > '3' ").expect("valid");
        assert_eq!((requirement.name.as_str(), requirement.specifier.as_str()), ("slapos.core", ">=1.0,<2"));
        assert!(Requirement::parse("pkg==1.0").expect("valid").is_exact());
        assert!(Requirement::parse("[x]").is_err());
        assert!(Requirement::parse("pkg[x").is_err());
    }

    #[test]
    fn a_pin_must_satisfy_the_requirement() {
        let pins = pins(&[("probe", "1.0"), ("range", "<3")]);
        let message = pins.check(&Requirement::parse("probe==2.0").expect("valid")).expect_err("conflict");
        assert_eq!(message, "The requirement ('probe==2.0') is not allowed by your [versions] constraint (1.0)");
        assert!(pins.check(&Requirement::parse("probe>=1").expect("valid")).is_ok());
        assert!(pins.check(&Requirement::parse("probe==1.0.0").expect("valid")).is_ok());
        assert!(pins.check(&Requirement::parse("range==5").expect("valid")).is_ok());
    }

    #[test]
    fn versions_compare_as_releases() {
        assert_eq!(satisfies("1.10", ">1.9"), Some(true));
        assert_eq!(satisfies("1.0", "==1.*"), Some(true));
        assert_eq!(satisfies("2.0", ">=1,<2"), Some(false));
        assert_eq!(satisfies("1.0rc1", ">=1"), None);
    }

    #[test]
    fn pins_become_constraints() {
        let pins = pins(&[("B", "2.0"), ("a", ">=1"), ("bad", "not a version"), ("_x", "1")]);
        assert_eq!(pins.constraints(), "a>=1\nb==2.0\n");
    }
}
