//! The small part of Python that profiles use: the expressions of
//! conditional section headers (`[name:EXPR]`, spec §6) and `!py!` option
//! values (§7.3, and the jinja2 recipe's `dumps`, §11.3).
//!
//! zc.buildout 6.0.1 first reads a condition as a PEP 508 marker (packaging's
//! `Marker`, evaluated against the interpreter's marker environment) and, only
//! when that text is not a valid marker, evaluates it with Python's `eval` as
//! the single item of a list display (`[EXPR]`, then item 0) with the globals
//! of `_default_globals`. This module reproduces both paths without running
//! Python: `marker` + `pep440` for the first, `lexer` + `parser` + `eval` +
//! `attributes` for the second. `!py!` values use the same reader with the
//! restricted builtins of the SlapOS fork, and `repr` writes them back.
//!
//! Invariants: this module does no I/O except the file reads and tests that
//! conditions of real profiles make (`open(p).read()`, `os.path.isdir`,
//! `os.access`, `platform.freedesktop_os_release()`: the `machine` module;
//! never in `!py!` values): no environment, no processes; the interpreter
//! facts come in a [`PythonEnv`] built by the caller, usually from [`PythonEnv::PROBE_SCRIPT`] run on the real
//! interpreter. Every failure is a [`PythonError`] value naming the
//! expression, never a panic; nesting is bounded by [`MAX_NESTING_DEPTH`].
//!
//! Deliberately absent: arbitrary-precision integers (results outside `i64`
//! are errors), file and environment access beyond the `machine` module's
//! (an error saying conditions cannot read the machine), regular expressions
//! (`re` is bound but its functions are errors), lambdas, f-strings, and
//! `\N{...}` escapes. Python's set iteration order is not reproduced: sets
//! keep insertion order.

mod attributes;
mod env;
mod eval;
mod lexer;
mod machine;
mod marker;
mod methods;
mod operators;
mod parser;
mod pep440;
mod printable;
mod repr;
mod value;

#[cfg(test)]
mod tests;

pub use env::{PythonEnv, VersionInfo};
pub use value::PyValue;
pub(crate) use repr::str_repr;
pub use repr::write_json_string;

/// How deeply brackets, operators and containers may nest before evaluation
/// gives up with an error instead of risking the stack.
pub const MAX_NESTING_DEPTH: usize = 100;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PythonError {
    /// What went wrong, in words, naming the expression.
    pub message: String,
}

impl PythonError {
    pub(crate) fn new(message: impl Into<String>) -> PythonError {
        PythonError {
            message: message.into(),
        }
    }

    /// Prefixes the message with the expression it came from.
    fn in_expression(self, kind: &str, expression: &str) -> PythonError {
        PythonError {
            message: format!("{kind} {expression:?}: {}", self.message),
        }
    }
}

/// Evaluates the expression of a conditional section header as zc.buildout
/// 6.0.1 does: as a PEP 508 marker if it parses as one, else as Python.
///
/// `expression` is the text between the `:` and the closing `]` of the
/// header; the escapes `\x23` (`#`) and `\x3b` (`;`) are undone here (doing it
/// twice is harmless). The result is the truth value of the marker, or the
/// Python truthiness of the expression's first item (buildout evaluates
/// `[EXPR][0]`).
///
/// # Errors
/// A marker whose evaluation raises (undefined comparison, unknown
/// environment name), Python that raises (name, type, index errors, a
/// syntax error, `open()`), or a construct this evaluator does not support.
pub fn evaluate_condition(expression: &str, env: &PythonEnv) -> Result<bool, PythonError> {
    let unescaped = expression.replace(r"\x23", "#").replace(r"\x3b", ";");
    match marker::parse(&unescaped) {
        Ok(parsed) => marker::evaluate(&parsed, env)
            .map_err(|error| error.in_expression("marker", expression)),
        Err(_invalid_marker) => eval::evaluate_condition_python(&unescaped, env)
            .map_err(|error| error.in_expression("condition", expression)),
    }
}

/// Tells whether `expression` is a valid PEP 508 marker, the test zc.buildout
/// makes before falling back to Python.
pub fn is_marker(expression: &str) -> bool {
    let unescaped = expression.replace(r"\x23", "#").replace(r"\x3b", ";");
    marker::parse(&unescaped).is_ok()
}

/// Decodes the text after `!py!` of an option value, as the SlapOS fork does
/// on a final read: a Python expression evaluated with only the builtins
/// `bytearray complex frozenset set dict list str tuple False True`.
///
/// # Errors
/// A syntax error, a name outside those builtins, a Python exception (type,
/// index, key errors), an integer outside `i64`, or an unsupported construct.
pub fn decode_py_value(text: &str) -> Result<PyValue, PythonError> {
    eval::evaluate_literal(text).map_err(|error| error.in_expression("!py! value", text))
}

/// Encodes a value as an option text: `!py!` followed by Python's `repr`
/// with every `$` written `\x24` and every `;` written `\x3b`, so that the
/// text survives buildout substitution and comment stripping.
///
/// The result decodes back to an equal value with [`decode_py_value`] for
/// every value except non-finite floats (Python writes them `inf`/`nan`,
/// which are not literals) and sets whose order Python would change.
pub fn encode_py_value(value: &PyValue) -> String {
    let text = repr::repr(value);
    format!("!py!{}", text.replace('$', r"\x24").replace(';', r"\x3b"))
}

/// The jinja2 recipe's `dumps(x)` (spec §11.3): the same text as
/// [`encode_py_value`], so that a rendered profile reads the value back.
pub fn dumps(value: &PyValue) -> String {
    encode_py_value(value)
}

/// Python's `repr(value)`, without the `!py!` prefix or escaping.
pub fn python_repr(value: &PyValue) -> String {
    repr::repr(value)
}
