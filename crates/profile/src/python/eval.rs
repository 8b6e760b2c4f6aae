//! The evaluator of parsed Python expressions, shared by conditions (full
//! globals of zc.buildout's `_default_globals` plus the builtins the
//! `attributes` module implements) and `!py!` values (only the SlapOS
//! fork's restricted builtins). Operators live in `operators`, names,
//! attributes and calls in `attributes`.

use super::attributes::{self, Function, Module};
use super::env::PythonEnv;
use super::lexer::tokenize;
use super::operators;
use super::parser::{
    parse_expression_list, Comprehension, ComprehensionKind, Expr, Target, Trailer,
};
use super::value::{dict_insert, set_insert, PyValue};
use super::PythonError;

/// Longest sequence the evaluator builds (repetition, ranges, joins), so
/// that hostile input cannot exhaust memory.
pub(crate) const MAX_SEQUENCE_LENGTH: usize = 1 << 20;

/// Work budget of one evaluation, in [`PyValue::weight`] units plus one per
/// comprehension step: bounds both the memory and the time hostile input
/// can cost (about 64 MiB of values).
pub(crate) const MAX_WORK: usize = 1 << 23;

/// A runtime object: data, or one of the few non-data objects conditions
/// reach through the globals.
#[derive(Debug, Clone)]
pub(crate) enum Object {
    Value(PyValue),
    Module(Module),
    Function(Function),
    /// A method bound to a data receiver, e.g. `'a'.startswith`.
    Method(PyValue, String),
    /// `sys.version_info` (a tuple with named fields).
    VersionInfo(Vec<PyValue>),
    /// A generator expression, evaluated eagerly.
    Generator(Vec<PyValue>),
    /// What `open()` returned: the file's content, read at once.
    File(super::machine::OpenFile),
    /// A method of a file, e.g. `open(p).read`.
    FileMethod(super::machine::OpenFile, &'static str),
}

impl Object {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Object::Value(value) => value.type_name(),
            Object::Module(_) => "module",
            Object::Function(_) => "builtin_function_or_method",
            Object::Method(..) => "builtin_function_or_method",
            Object::VersionInfo(_) => "sys.version_info",
            Object::Generator(_) => "generator",
            Object::File(file) => file.type_name(),
            Object::FileMethod(..) => "builtin_function_or_method",
        }
    }

    pub(crate) fn is_truthy(&self) -> bool {
        match self {
            Object::Value(value) => value.is_truthy(),
            _ => true,
        }
    }

    /// The object as data, for operators and containers.
    ///
    /// # Errors
    /// A `TypeError` naming `context` for modules and functions.
    pub(crate) fn into_value(self, context: &str) -> Result<PyValue, PythonError> {
        match self {
            Object::Value(value) => Ok(value),
            Object::VersionInfo(items) => Ok(PyValue::Tuple(items)),
            other => Err(PythonError::new(format!(
                "TypeError: {context}: a '{}' object is not supported here",
                other.type_name()
            ))),
        }
    }
}

/// Which names exist: the condition globals or the `!py!` builtins.
#[derive(Clone, Copy)]
pub(crate) enum Scope<'e> {
    Condition(&'e PythonEnv),
    Literal,
}

/// Evaluates a condition's Python text as zc.buildout does: as the body of
/// a list display, returning the truth value of its first item.
///
/// # Errors
/// Any Python error, `IndexError` for an empty list, or an unsupported
/// construct.
pub(crate) fn evaluate_condition_python(
    expression: &str,
    env: &PythonEnv,
) -> Result<bool, PythonError> {
    let tokens = tokenize(&format!("[{expression}]"))?;
    let parsed = parse_expression_list(&tokens)?;
    let mut evaluator = Evaluator {
        scope: Scope::Condition(env),
        locals: Vec::new(),
        work: 0,
    };
    let first = match &parsed {
        Expr::List(items) => {
            let mut values = Vec::with_capacity(items.len());
            for item in items {
                values.push(evaluator.evaluate(item)?);
            }
            values.into_iter().next()
        }
        other => {
            let object = evaluator.evaluate(other)?;
            let items = operators::iterate(object.into_value("list index")?)?;
            items.into_iter().next().map(Object::Value)
        }
    };
    let first = first.ok_or_else(|| PythonError::new("IndexError: list index out of range"))?;
    Ok(first.is_truthy())
}

/// Evaluates a `!py!` text with the restricted builtins.
///
/// # Errors
/// Any Python error or an unsupported construct.
pub(crate) fn evaluate_literal(text: &str) -> Result<PyValue, PythonError> {
    // `eval` ignores leading spaces and tabs.
    let tokens = tokenize(text.trim_start_matches([' ', '\t']))?;
    let parsed = parse_expression_list(&tokens)?;
    let mut evaluator = Evaluator {
        scope: Scope::Literal,
        locals: Vec::new(),
        work: 0,
    };
    evaluator.evaluate(&parsed)?.into_value("value")
}

struct Evaluator<'e> {
    scope: Scope<'e>,
    /// Comprehension variables, innermost last.
    locals: Vec<(String, PyValue)>,
    /// Work spent so far, against [`MAX_WORK`].
    work: usize,
}

impl Evaluator<'_> {
    /// Counts `units` of work, failing once the budget is spent.
    fn charge(&mut self, units: usize) -> Result<(), PythonError> {
        self.work = self.work.saturating_add(units);
        if self.work > MAX_WORK {
            return Err(PythonError::new(
                "MemoryError: expression does too much work",
            ));
        }
        Ok(())
    }

    fn charge_object(&mut self, object: &Object) -> Result<(), PythonError> {
        match object {
            Object::Value(value) => self.charge(value.weight()),
            Object::Generator(items) => self.charge(items.iter().map(PyValue::weight).sum()),
            _ => self.charge(1),
        }
    }

    fn evaluate(&mut self, expr: &Expr) -> Result<Object, PythonError> {
        match expr {
            Expr::Constant(value) => {
                self.charge(value.weight())?;
                Ok(Object::Value(value.clone()))
            }
            Expr::Name(name) => self.lookup(name),
            Expr::Primary(atom, trailers) => self.evaluate_primary(atom, trailers),
            Expr::Unary(op, operand) => {
                let value = self.value(operand, "unary operand")?;
                operators::unary(*op, value).map(Object::Value)
            }
            Expr::Binary(first, rest) => {
                let mut accumulator = self.value(first, "operand")?;
                for (op, operand) in rest {
                    let right = self.value(operand, "operand")?;
                    accumulator = operators::binary(*op, accumulator, right)?;
                    self.charge(accumulator.weight())?;
                }
                Ok(Object::Value(accumulator))
            }
            Expr::Power(base, exponent) => {
                let base = self.value(base, "operand")?;
                let exponent = self.value(exponent, "operand")?;
                operators::power(base, exponent).map(Object::Value)
            }
            Expr::Not(operand) => Ok(Object::Value(PyValue::Bool(
                !self.evaluate(operand)?.is_truthy(),
            ))),
            Expr::Logical(is_and, operands) => self.evaluate_logical(*is_and, operands),
            Expr::Compare(first, rest) => self.evaluate_compare(first, rest),
            Expr::IfElse { test, body, orelse } => {
                if self.evaluate(test)?.is_truthy() {
                    self.evaluate(body)
                } else {
                    self.evaluate(orelse)
                }
            }
            Expr::List(items) => Ok(Object::Value(PyValue::List(self.values(items)?))),
            Expr::Tuple(items) => Ok(Object::Value(PyValue::Tuple(self.values(items)?))),
            Expr::Set(items) => {
                let mut set = Vec::new();
                for item in self.values(items)? {
                    set_insert(&mut set, item)?;
                }
                Ok(Object::Value(PyValue::Set(set)))
            }
            Expr::Dict(pairs) => {
                let mut dict = Vec::new();
                for (key, value) in pairs {
                    let key = self.value(key, "dict key")?;
                    let value = self.value(value, "dict value")?;
                    dict_insert(&mut dict, key, value)?;
                }
                Ok(Object::Value(PyValue::Dict(dict)))
            }
            Expr::Comprehension(comprehension) => self.evaluate_comprehension(comprehension),
            Expr::Slice(..) => Err(PythonError::new(
                "SyntaxError: invalid syntax (slice outside a subscript)",
            )),
        }
    }

    fn value(&mut self, expr: &Expr, context: &str) -> Result<PyValue, PythonError> {
        self.evaluate(expr)?.into_value(context)
    }

    fn values(&mut self, items: &[Expr]) -> Result<Vec<PyValue>, PythonError> {
        items
            .iter()
            .map(|item| self.value(item, "container item"))
            .collect()
    }

    fn lookup(&mut self, name: &str) -> Result<Object, PythonError> {
        if let Some((_, value)) = self.locals.iter().rev().find(|(local, _)| local == name) {
            let value = value.clone();
            self.charge(value.weight())?;
            return Ok(Object::Value(value));
        }
        attributes::global(self.scope, name)
    }

    fn evaluate_primary(
        &mut self,
        atom: &Expr,
        trailers: &[Trailer],
    ) -> Result<Object, PythonError> {
        let mut object = self.evaluate(atom)?;
        for trailer in trailers {
            object = match trailer {
                Trailer::Attribute(name) => attributes::get_attribute(self.scope, object, name)?,
                Trailer::Call(args, kwargs) => {
                    let mut arguments = Vec::with_capacity(args.len());
                    for arg in args {
                        arguments.push(self.evaluate(arg)?);
                    }
                    let mut keywords = Vec::with_capacity(kwargs.len());
                    for (name, arg) in kwargs {
                        keywords.push((name.clone(), self.value(arg, "keyword argument")?));
                    }
                    let result = attributes::call(self.scope, object, arguments, keywords)?;
                    self.charge_object(&result)?;
                    result
                }
                Trailer::Subscript(index) => {
                    let container = object.into_value("subscript")?;
                    let index = self.subscript_index(index)?;
                    Object::Value(operators::subscript(container, index)?)
                }
            };
        }
        Ok(object)
    }

    fn subscript_index(&mut self, index: &Expr) -> Result<operators::Index, PythonError> {
        match index {
            Expr::Slice(start, stop, step) => {
                let mut bound = |part: &Option<Box<Expr>>| -> Result<Option<PyValue>, PythonError> {
                    part.as_deref()
                        .map(|expr| self.value(expr, "slice index"))
                        .transpose()
                };
                Ok(operators::Index::Slice(
                    bound(start)?,
                    bound(stop)?,
                    bound(step)?,
                ))
            }
            Expr::Tuple(items) if items.iter().any(|item| matches!(item, Expr::Slice(..))) => Err(
                PythonError::new("TypeError: multi-dimensional slices are not supported"),
            ),
            other => Ok(operators::Index::Item(self.value(other, "subscript")?)),
        }
    }

    fn evaluate_logical(&mut self, is_and: bool, operands: &[Expr]) -> Result<Object, PythonError> {
        let mut last = None;
        for operand in operands {
            let object = self.evaluate(operand)?;
            if object.is_truthy() != is_and {
                return Ok(object);
            }
            last = Some(object);
        }
        last.ok_or_else(|| PythonError::new("SyntaxError: empty boolean operation"))
    }

    fn evaluate_compare(
        &mut self,
        first: &Expr,
        rest: &[(super::parser::CompareOp, Expr)],
    ) -> Result<Object, PythonError> {
        let mut left = self.evaluate(first)?;
        for (op, operand) in rest {
            let right = self.evaluate(operand)?;
            if !operators::compare(*op, &left, &right)? {
                return Ok(Object::Value(PyValue::Bool(false)));
            }
            left = right;
        }
        Ok(Object::Value(PyValue::Bool(true)))
    }

    fn evaluate_comprehension(
        &mut self,
        comprehension: &Comprehension,
    ) -> Result<Object, PythonError> {
        let mut results = Vec::new();
        let depth = self.locals.len();
        let outcome = self.run_clauses(comprehension, 0, &mut results);
        self.locals.truncate(depth);
        outcome?;
        let value = match comprehension.kind {
            ComprehensionKind::List => {
                PyValue::List(results.into_iter().map(|(element, _)| element).collect())
            }
            ComprehensionKind::Generator => {
                return Ok(Object::Generator(
                    results.into_iter().map(|(element, _)| element).collect(),
                ))
            }
            ComprehensionKind::Set => {
                let mut set = Vec::new();
                for (element, _) in results {
                    set_insert(&mut set, element)?;
                }
                PyValue::Set(set)
            }
            ComprehensionKind::Dict => {
                let mut dict = Vec::new();
                for (key, value) in results {
                    dict_insert(&mut dict, key, value.unwrap_or(PyValue::None))?;
                }
                PyValue::Dict(dict)
            }
        };
        Ok(Object::Value(value))
    }

    /// Runs clause `index` and the ones after it for each item, collecting
    /// `(element, value)` results. Recursion depth is the number of `for`
    /// clauses, bounded by the parser's nesting cap.
    fn run_clauses(
        &mut self,
        comprehension: &Comprehension,
        index: usize,
        results: &mut Vec<(PyValue, Option<PyValue>)>,
    ) -> Result<(), PythonError> {
        let Some(clause) = comprehension.clauses.get(index) else {
            let element = self.value(&comprehension.element, "comprehension element")?;
            let value = match &comprehension.value {
                Some(expr) => Some(self.value(expr, "comprehension value")?),
                None => None,
            };
            if results.len() >= MAX_SEQUENCE_LENGTH {
                return Err(PythonError::new("comprehension result is too long"));
            }
            results.push((element, value));
            return Ok(());
        };
        let iterable = self.evaluate(&clause.iterable)?;
        let items = match iterable {
            Object::Generator(items) => items,
            other => operators::iterate(other.into_value("iteration")?)?,
        };
        for item in items {
            self.charge(1)?;
            let depth = self.locals.len();
            bind_target(&clause.target, item, &mut self.locals)?;
            let mut accepted = true;
            for condition in &clause.conditions {
                if !self.evaluate(condition)?.is_truthy() {
                    accepted = false;
                    break;
                }
            }
            if accepted {
                self.run_clauses(comprehension, index + 1, results)?;
            }
            self.locals.truncate(depth);
        }
        Ok(())
    }
}

/// Binds a loop target, unpacking tuples as Python does.
fn bind_target(
    target: &Target,
    item: PyValue,
    locals: &mut Vec<(String, PyValue)>,
) -> Result<(), PythonError> {
    match target {
        Target::Name(name) => {
            locals.push((name.clone(), item));
            Ok(())
        }
        Target::Tuple(targets) => {
            let items = operators::iterate(item)?;
            if items.len() != targets.len() {
                return Err(PythonError::new(format!(
                    "ValueError: cannot unpack {} values into {} targets",
                    items.len(),
                    targets.len()
                )));
            }
            for (target, item) in targets.iter().zip(items) {
                bind_target(target, item, locals)?;
            }
            Ok(())
        }
    }
}
