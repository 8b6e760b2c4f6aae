//! PEP 508 environment markers exactly as packaging 26.4's `Marker` parses
//! and evaluates them for zc.buildout: the context-sensitive tokenizer
//! (variables with `.` or `_`, quoted strings, `in`/`not in`, the eight
//! comparison operators, `and`/`or`, parentheses nested at most 200 deep),
//! then evaluation against [`PythonEnv::marker_variable`], with version
//! comparison (PEP 440 specifiers) for the four version variables and the
//! quirks packaging has: a variable on the right-hand side compares as its
//! own name, and ordering operators on plain strings are `<`, `>` false,
//! `<=`, `>=` equality.

use super::env::PythonEnv;
use super::lexer::{tokenize, Token};
use super::pep440::Specifier;
use super::printable::is_printable;
use super::PythonError;

/// packaging's nesting limit for parentheses.
const MAX_MARKER_NESTING: usize = 200;

/// A side of a comparison.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Variable(String),
    Value(String),
}

impl Operand {
    fn text(&self) -> &str {
        match self {
            Operand::Variable(name) | Operand::Value(name) => name,
        }
    }
}

/// An element of a marker list, as packaging's `_markers` holds them.
#[derive(Debug, Clone, PartialEq)]
enum Element {
    Item(Operand, &'static str, Operand),
    Group(Vec<Element>),
    And,
    Or,
}

/// A parsed marker.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Marker(Vec<Element>);

/// Why a text is not a marker (packaging's `InvalidMarker`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InvalidMarker;

/// Variables, in the order of packaging's `VARIABLE` alternation.
const VARIABLES: [&str; 20] = [
    "python_version",
    "python_full_version",
    "os.name",
    "os_name",
    "sys.platform",
    "sys_platform",
    "platform_release",
    "platform_system",
    "platform.version",
    "platform_version",
    "platform.machine",
    "platform_machine",
    "platform.python_implementation",
    "platform_python_implementation",
    "python_implementation",
    "implementation_name",
    "implementation_version",
    "extras",
    "extra",
    "dependency_groups",
];

/// The variables compared as PEP 440 versions.
const VERSION_VARIABLES: [&str; 4] = [
    "implementation_version",
    "platform_release",
    "python_full_version",
    "python_version",
];

/// Python's `\w` for one character.
fn is_word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

struct Tokenizer<'s> {
    chars: &'s [char],
    position: usize,
}

impl Tokenizer<'_> {
    fn rest_starts_with(&self, literal: &str) -> bool {
        let mut index = self.position;
        for c in literal.chars() {
            if self.chars.get(index) != Some(&c) {
                return false;
            }
            index += 1;
        }
        true
    }

    /// Whether a `\b` holds at `index`.
    fn boundary(&self, index: usize) -> bool {
        let before = index
            .checked_sub(1)
            .and_then(|i| self.chars.get(i))
            .is_some_and(|c| is_word(*c));
        let after = self.chars.get(index).is_some_and(|c| is_word(*c));
        before != after
    }

    /// Matches `\bWORD\b` for a word-character literal.
    fn eat_word(&mut self, word: &str) -> bool {
        let end = self.position + word.chars().count();
        if self.rest_starts_with(word) && self.boundary(self.position) && self.boundary(end) {
            self.position = end;
            true
        } else {
            false
        }
    }

    fn eat(&mut self, literal: &str) -> bool {
        let found = self.rest_starts_with(literal);
        if found {
            self.position += literal.chars().count();
        }
        found
    }

    /// `WS`: `[ \t]+`; returns whether any was consumed.
    fn whitespace(&mut self) -> bool {
        let start = self.position;
        while matches!(self.chars.get(self.position), Some(' ' | '\t')) {
            self.position += 1;
        }
        self.position > start
    }
}

/// Parses a marker as packaging's `Marker(text)` does.
///
/// # Errors
/// [`InvalidMarker`] when packaging would raise `InvalidMarker`.
pub(crate) fn parse(text: &str) -> Result<Marker, InvalidMarker> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokenizer = Tokenizer {
        chars: &chars,
        position: 0,
    };
    let elements = parse_marker(&mut tokenizer, 0)?;
    if tokenizer.position != chars.len() {
        return Err(InvalidMarker);
    }
    Ok(Marker(elements))
}

/// `marker = marker_atom (BOOLOP marker_atom)*`.
fn parse_marker(
    tokenizer: &mut Tokenizer<'_>,
    depth: usize,
) -> Result<Vec<Element>, InvalidMarker> {
    let mut elements = vec![parse_atom(tokenizer, depth)?];
    loop {
        let op = if tokenizer.eat_word("or") {
            Element::Or
        } else if tokenizer.eat_word("and") {
            Element::And
        } else {
            return Ok(elements);
        };
        elements.push(op);
        elements.push(parse_atom(tokenizer, depth)?);
    }
}

/// `marker_atom = WS? '(' WS? marker WS? ')' WS? | WS? marker_item WS?`.
fn parse_atom(tokenizer: &mut Tokenizer<'_>, depth: usize) -> Result<Element, InvalidMarker> {
    tokenizer.whitespace();
    let element = if tokenizer.eat("(") {
        if depth >= MAX_MARKER_NESTING {
            return Err(InvalidMarker);
        }
        let inner = parse_marker(tokenizer, depth + 1)?;
        if !tokenizer.eat(")") {
            return Err(InvalidMarker);
        }
        Element::Group(inner)
    } else {
        parse_item(tokenizer)?
    };
    tokenizer.whitespace();
    Ok(element)
}

/// `marker_item = marker_var WS? marker_op WS? marker_var`.
fn parse_item(tokenizer: &mut Tokenizer<'_>) -> Result<Element, InvalidMarker> {
    let left = parse_operand(tokenizer)?;
    tokenizer.whitespace();
    let op = if tokenizer.eat_word("in") {
        "in"
    } else if tokenizer.eat_word("not") {
        if !tokenizer.whitespace() || !tokenizer.eat_word("in") {
            return Err(InvalidMarker);
        }
        "not in"
    } else {
        ["===", "==", "~=", "!=", "<=", ">=", "<", ">"]
            .into_iter()
            .find(|op| tokenizer.eat(op))
            .ok_or(InvalidMarker)?
    };
    tokenizer.whitespace();
    let right = parse_operand(tokenizer)?;
    Ok(normalize_extras(left, op, right))
}

/// `marker_var = VARIABLE | QUOTED_STRING`.
fn parse_operand(tokenizer: &mut Tokenizer<'_>) -> Result<Operand, InvalidMarker> {
    if tokenizer.boundary(tokenizer.position) {
        if let Some(variable) = VARIABLES.into_iter().find(|name| {
            let end = tokenizer.position + name.chars().count();
            tokenizer.rest_starts_with(name) && tokenizer.boundary(end)
        }) {
            tokenizer.position += variable.chars().count();
            let name = variable.replace('.', "_");
            let name = match name.as_str() {
                "python_implementation" => "platform_python_implementation".to_owned(),
                _ => name,
            };
            return Ok(Operand::Variable(name));
        }
    }
    let quote = *tokenizer
        .chars
        .get(tokenizer.position)
        .ok_or(InvalidMarker)?;
    if quote != '\'' && quote != '"' {
        return Err(InvalidMarker);
    }
    let start = tokenizer.position;
    let length = tokenizer.chars[start + 1..]
        .iter()
        .position(|c| *c == quote)
        .ok_or(InvalidMarker)?;
    let end = start + length + 2;
    tokenizer.position = end;
    let literal: String = tokenizer.chars[start..end].iter().collect();
    if !literal.contains('\\') && literal.chars().all(is_printable) {
        return Ok(Operand::Value(literal[1..literal.len() - 1].to_owned()));
    }
    match tokenize(&literal) {
        Ok(tokens) => match tokens.as_slice() {
            [Token::Str(value)] => Ok(Operand::Value(value.clone())),
            _ => Err(InvalidMarker),
        },
        Err(_) => Err(InvalidMarker),
    }
}

/// packaging's `canonicalize_name`: runs of `-_.` become `-`, lowercased.
fn canonicalize_name(name: &str) -> String {
    let mut canonical = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator {
                canonical.push('-');
            }
            in_separator = true;
        } else {
            canonical.extend(c.to_lowercase());
            in_separator = false;
        }
    }
    canonical
}

/// packaging normalises the literal compared with `extra` (and the
/// set-valued variables) when the marker is parsed.
fn normalize_extras(left: Operand, op: &'static str, right: Operand) -> Element {
    match (&left, &right) {
        (Operand::Variable(name), Operand::Value(value)) if name == "extra" => {
            Element::Item(left.clone(), op, Operand::Value(canonicalize_name(value)))
        }
        (Operand::Value(value), Operand::Variable(name))
            if name == "extra" || name == "extras" || name == "dependency_groups" =>
        {
            Element::Item(Operand::Value(canonicalize_name(value)), op, right.clone())
        }
        _ => Element::Item(left, op, right),
    }
}

/// Evaluates a marker against the environment.
///
/// # Errors
/// packaging's `UndefinedEnvironmentName` (a variable the environment does
/// not define, e.g. `extras`) and `UndefinedComparison` (`~=`/`===` on
/// non-version strings).
pub(crate) fn evaluate(marker: &Marker, env: &PythonEnv) -> Result<bool, PythonError> {
    evaluate_elements(&marker.0, env)
}

fn evaluate_elements(elements: &[Element], env: &PythonEnv) -> Result<bool, PythonError> {
    let mut groups: Vec<Vec<bool>> = vec![Vec::new()];
    for element in elements {
        let value = match element {
            Element::Group(inner) => evaluate_elements(inner, env)?,
            Element::Item(left, op, right) => evaluate_item(left, op, right, env)?,
            Element::Or => {
                groups.push(Vec::new());
                continue;
            }
            Element::And => continue,
        };
        if let Some(group) = groups.last_mut() {
            group.push(value);
        }
    }
    Ok(groups.iter().any(|group| group.iter().all(|value| *value)))
}

fn lookup(env: &PythonEnv, name: &str) -> Result<String, PythonError> {
    env.marker_variable(name).ok_or_else(|| {
        PythonError::new(format!("UndefinedEnvironmentName: {name:?} is not defined"))
    })
}

fn evaluate_item(
    left: &Operand,
    op: &str,
    right: &Operand,
    env: &PythonEnv,
) -> Result<bool, PythonError> {
    let (key, left_value, right_value) = match left {
        Operand::Variable(name) => (name.as_str(), lookup(env, name)?, right.text().to_owned()),
        Operand::Value(value) => {
            let key = right.text();
            (key, value.clone(), lookup(env, key)?)
        }
    };
    if VERSION_VARIABLES.contains(&key) {
        if let Some(specifier) = Specifier::parse(&format!("{op}{right_value}")) {
            return Ok(specifier.contains(&left_value));
        }
    }
    match op {
        "in" => Ok(right_value.contains(left_value.as_str())),
        "not in" => Ok(!right_value.contains(left_value.as_str())),
        "<" | ">" => Ok(false),
        "<=" | "==" | ">=" => Ok(left_value == right_value),
        "!=" => Ok(left_value != right_value),
        _ => Err(PythonError::new(format!(
            "UndefinedComparison: undefined {op:?} on {left_value:?} and {right_value:?}"
        ))),
    }
}
