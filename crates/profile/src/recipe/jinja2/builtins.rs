//! The names slapos.recipe.template:jinja2 puts in every template's
//! context (`DEFAULT_CONTEXT`): Python builtins, `assert` and `dumps`. Each
//! is a [`Builtin`] object, callable like a function and usable as a type in
//! `isinstance(x, str)`. Builtins taking callables (`map`, `filter`,
//! `callable`, `iter`, `next`, `format`) answer with an error naming
//! them as unsupported.

use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

use super::containers::{self, iterate as items};
use super::values::{py_repr, py_str, to_py, tuple, PyTuple};
use crate::python::{dumps, PyValue};

/// The names of `DEFAULT_CONTEXT` (plus `assert` and `dumps`): a context
/// entry may not reuse one (`Duplicate context entry`).
pub(crate) const NAMES: &[&str] = &[
    "abs", "all", "any", "bin", "bool", "bytes", "callable", "chr", "complex", "dict", "divmod", "enumerate", "filter",
    "float", "format", "frozenset", "hex", "int", "isinstance", "iter", "len", "list", "map", "max", "min", "next", "oct",
    "ord", "pow", "range", "repr", "reversed", "round", "set", "six", "sorted", "str", "sum", "tuple", "zip", "assert",
    "dumps",
];

/// The global value of a builtin name.
pub(crate) fn global(name: &'static str) -> Value {
    match name {
        "six" => super::modules::six(),
        _ => Value::from_object(Builtin(name)),
    }
}

/// A builtin function or type of the template context.
#[derive(Debug)]
pub(crate) struct Builtin(pub(crate) &'static str);

impl Object for Builtin {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<built-in function {}>", self.0)
    }

    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (positional, keywords) = split_arguments(args)?;
        call(self.0, &positional, &keywords)
    }
}

type Keywords = Vec<(String, Value)>;

/// Positional arguments and keyword arguments (minijinja passes the
/// latter as a final kwargs map).
pub(crate) fn split_arguments(args: &[Value]) -> Result<(Vec<Value>, Keywords), Error> {
    match args.split_last() {
        Some((last, rest)) if last.is_kwargs() => {
            let mut keywords = Vec::new();
            for key in last.try_iter()? {
                let value = last.get_item(&key)?;
                keywords.push((key.as_str().unwrap_or_default().to_owned(), value));
            }
            Ok((rest.to_vec(), keywords))
        }
        _ => Ok((args.to_vec(), Vec::new())),
    }
}

fn type_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("TypeError: {}", message.into()))
}

fn value_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("ValueError: {}", message.into()))
}

fn keyword<'a>(keywords: &'a Keywords, name: &str) -> Option<&'a Value> {
    keywords.iter().find(|(key, _)| key == name).map(|(_, value)| value)
}

fn arity(name: &str, args: &[Value], min: usize, max: usize) -> Result<(), Error> {
    if args.len() < min || args.len() > max {
        return Err(type_error(format!("{name}() takes {min} to {max} arguments ({} given)", args.len())));
    }
    Ok(())
}

fn as_i64(value: &Value) -> Result<i64, Error> {
    if value.kind() == ValueKind::Bool {
        return Ok(i64::from(value.is_true()));
    }
    i64::try_from(value.clone()).map_err(|_| type_error(format!("an integer is required, got {}", py_repr(value))))
}

fn call(name: &str, args: &[Value], keywords: &Keywords) -> Result<Value, Error> {
    match name {
        "str" => {
            arity(name, args, 0, 1)?;
            Ok(Value::from(args.first().map(py_str).unwrap_or_default()))
        }
        "repr" => {
            arity(name, args, 1, 1)?;
            Ok(Value::from(py_repr(&args[0])))
        }
        "int" => int(args, keywords),
        "float" => float(args),
        "bool" => Ok(Value::from(args.first().is_some_and(truthy))),
        "len" => {
            arity(name, args, 1, 1)?;
            let length = args[0].len().or_else(|| items(&args[0]).ok().map(|items| items.len()));
            length.map(Value::from).ok_or_else(|| type_error(format!("object of type {} has no len()", args[0].kind())))
        }
        "list" => Ok(containers::list(args.first().map(items).transpose()?.unwrap_or_default())),
        "tuple" => Ok(tuple(args.first().map(items).transpose()?.unwrap_or_default())),
        "set" | "frozenset" => Ok(containers::set(name == "frozenset", args.first().map(items).transpose()?.unwrap_or_default())),
        "dict" => dict(args, keywords),
        "range" => range(args),
        "enumerate" => {
            arity(name, args, 1, 2)?;
            let start = args.get(1).or_else(|| keyword(keywords, "start")).map(as_i64).transpose()?.unwrap_or(0);
            let pairs = items(&args[0])?.into_iter().zip(start..).map(|(item, index)| tuple(vec![Value::from(index), item]));
            Ok(Value::from(pairs.collect::<Vec<_>>()))
        }
        "zip" => {
            let columns = args.iter().map(items).collect::<Result<Vec<_>, _>>()?;
            let rows = columns.iter().map(Vec::len).min().unwrap_or(0);
            Ok(Value::from((0..rows).map(|row| tuple(columns.iter().map(|column| column[row].clone()).collect())).collect::<Vec<_>>()))
        }
        "sorted" => {
            arity(name, args, 1, 1)?;
            let mut sorted = items(&args[0])?;
            sorted.sort();
            if keyword(keywords, "reverse").is_some_and(truthy) {
                sorted.reverse();
            }
            Ok(containers::list(sorted))
        }
        "reversed" => {
            arity(name, args, 1, 1)?;
            let mut reversed = items(&args[0])?;
            reversed.reverse();
            Ok(Value::from(reversed))
        }
        "min" | "max" => extreme(name, args, keywords),
        "sum" => {
            arity(name, args, 1, 2)?;
            let start = args.get(1).cloned().unwrap_or(Value::from(0));
            items(&args[0])?.into_iter().try_fold(start, |total, item| add(&total, &item))
        }
        "any" => Ok(Value::from(items(args.first().ok_or_else(|| type_error("any() takes 1 argument"))?)?.iter().any(truthy))),
        "all" => Ok(Value::from(items(args.first().ok_or_else(|| type_error("all() takes 1 argument"))?)?.iter().all(truthy))),
        "abs" => {
            arity(name, args, 1, 1)?;
            match to_py(&args[0])? {
                PyValue::Float(f) => Ok(Value::from(f.abs())),
                _ => Ok(Value::from(as_i64(&args[0])?.checked_abs().ok_or_else(|| value_error("integer overflow"))?)),
            }
        }
        "chr" => {
            arity(name, args, 1, 1)?;
            let code = u32::try_from(as_i64(&args[0])?).ok().and_then(char::from_u32).ok_or_else(|| value_error("chr() arg not in range(0x110000)"))?;
            Ok(Value::from(code.to_string()))
        }
        "ord" => {
            arity(name, args, 1, 1)?;
            let text = args[0].as_str().unwrap_or_default();
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(Value::from(u32::from(c))),
                _ => Err(type_error(format!("ord() expected a character, but string of length {} found", text.chars().count()))),
            }
        }
        "hex" | "oct" | "bin" => {
            arity(name, args, 1, 1)?;
            let number = as_i64(&args[0])?;
            let magnitude = number.unsigned_abs();
            let digits = match name {
                "hex" => format!("0x{magnitude:x}"),
                "oct" => format!("0o{magnitude:o}"),
                _ => format!("0b{magnitude:b}"),
            };
            Ok(Value::from(if number < 0 { format!("-{digits}") } else { digits }))
        }
        "divmod" => {
            arity(name, args, 2, 2)?;
            let (a, b) = (as_i64(&args[0])?, as_i64(&args[1])?);
            if b == 0 {
                return Err(Error::new(ErrorKind::InvalidOperation, "ZeroDivisionError: integer division or modulo by zero"));
            }
            Ok(tuple(vec![Value::from(a.div_euclid(b) - i64::from(b < 0 && a.rem_euclid(b) != 0)), Value::from(python_modulo(a, b))]))
        }
        "round" => {
            arity(name, args, 1, 2)?;
            let number = f64::try_from(args[0].clone())?;
            match args.get(1) {
                None if args[0].is_integer() => Ok(args[0].clone()),
                None => Ok(Value::from(round_half_even(number) as i64)),
                Some(digits) => {
                    let scale = 10f64.powi(i32::try_from(as_i64(digits)?).unwrap_or(0));
                    Ok(Value::from(round_half_even(number * scale) / scale))
                }
            }
        }
        "pow" => {
            arity(name, args, 2, 2)?;
            match (as_i64(&args[0]), u32::try_from(as_i64(&args[1]).unwrap_or(-1))) {
                (Ok(base), Ok(exponent)) => base.checked_pow(exponent).map(Value::from).ok_or_else(|| value_error("integer overflow")),
                _ => Ok(Value::from(f64::try_from(args[0].clone())?.powf(f64::try_from(args[1].clone())?))),
            }
        }
        "isinstance" => {
            arity(name, args, 2, 2)?;
            let types = match args[1].downcast_object_ref::<PyTuple>() {
                Some(types) => types.0.clone(),
                None => vec![args[1].clone()],
            };
            let type_name = to_py(&args[0]).map(|value| value.type_name()).unwrap_or("object");
            Ok(Value::from(types.iter().any(|candidate| {
                candidate.downcast_object_ref::<Builtin>().is_some_and(|builtin| {
                    builtin.0 == type_name || (builtin.0 == "int" && type_name == "bool")
                })
            })))
        }
        "bytes" => Ok(Value::from_bytes(args.first().and_then(Value::as_str).unwrap_or_default().as_bytes().to_vec())),
        "assert" => {
            if args.first().is_some_and(truthy) {
                Ok(Value::from(""))
            } else {
                let message = args.get(1).map(py_str).unwrap_or_default();
                Err(Error::new(ErrorKind::InvalidOperation, format!("AssertionError: {message}")))
            }
        }
        "dumps" => {
            arity(name, args, 1, 1)?;
            Ok(Value::from(dumps(&to_py(&args[0])?)))
        }
        other => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("the builtin {other}() is not supported by this engine's jinja2 templates"),
        )),
    }
}

/// Python's truth value.
pub(crate) fn truthy(value: &Value) -> bool {
    match to_py(value) {
        Ok(data) => data.is_truthy(),
        Err(_) => value.is_true(),
    }
}

fn python_modulo(a: i64, b: i64) -> i64 {
    let remainder = a % b;
    if remainder != 0 && ((remainder < 0) != (b < 0)) {
        remainder + b
    } else {
        remainder
    }
}

fn round_half_even(number: f64) -> f64 {
    let rounded = number.round();
    if (number - number.trunc()).abs() == 0.5 {
        2.0 * (number / 2.0).round()
    } else {
        rounded
    }
}

fn add(total: &Value, item: &Value) -> Result<Value, Error> {
    match (to_py(total)?, to_py(item)?) {
        (PyValue::Int(a), PyValue::Int(b)) => a.checked_add(b).map(Value::from).ok_or_else(|| value_error("integer overflow")),
        _ => Ok(Value::from(f64::try_from(total.clone())? + f64::try_from(item.clone())?)),
    }
}

fn int(args: &[Value], keywords: &Keywords) -> Result<Value, Error> {
    arity("int", args, 0, 2)?;
    let Some(value) = args.first() else { return Ok(Value::from(0)) };
    let base = args.get(1).or_else(|| keyword(keywords, "base")).map(as_i64).transpose()?;
    if let Some(text) = value.as_str() {
        let cleaned = text.trim().replace('_', "");
        let radix = u32::try_from(base.unwrap_or(10)).map_err(|_| value_error("int() base must be >= 2 and <= 36"))?;
        let (negative, digits) = match cleaned.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
        };
        let digits = match radix {
            16 => digits.trim_start_matches("0x").trim_start_matches("0X"),
            8 => digits.trim_start_matches("0o").trim_start_matches("0O"),
            2 => digits.trim_start_matches("0b").trim_start_matches("0B"),
            _ => digits,
        };
        let parsed = i64::from_str_radix(digits, radix)
            .map_err(|_| value_error(format!("invalid literal for int() with base {radix}: {}", crate::python::str_repr(text))))?;
        return Ok(Value::from(if negative { -parsed } else { parsed }));
    }
    match to_py(value)? {
        PyValue::Float(f) if f.is_finite() => Ok(Value::from(f.trunc() as i64)),
        _ => Ok(Value::from(as_i64(value)?)),
    }
}

fn float(args: &[Value]) -> Result<Value, Error> {
    arity("float", args, 0, 1)?;
    let Some(value) = args.first() else { return Ok(Value::from(0.0)) };
    if let Some(text) = value.as_str() {
        let cleaned = text.trim().to_lowercase();
        let parsed = match cleaned.as_str() {
            "inf" | "+inf" | "infinity" => Ok(f64::INFINITY),
            "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
            "nan" => Ok(f64::NAN),
            other => other.replace('_', "").parse::<f64>(),
        };
        return parsed
            .map(Value::from)
            .map_err(|_| value_error(format!("could not convert string to float: {}", crate::python::str_repr(text))));
    }
    Ok(Value::from(f64::try_from(value.clone())?))
}

fn dict(args: &[Value], keywords: &Keywords) -> Result<Value, Error> {
    arity("dict", args, 0, 1)?;
    let mut pairs: Vec<(Value, Value)> = Vec::new();
    if let Some(source) = args.first() {
        if source.kind() == ValueKind::Map {
            for key in source.try_iter()? {
                let value = source.get_item(&key)?;
                pairs.push((key, value));
            }
        } else {
            for pair in source.try_iter()? {
                let [key, value] = <[Value; 2]>::try_from(items(&pair)?)
                    .map_err(|_| value_error("dictionary update sequence element has wrong length; 2 is required"))?;
                pairs.push((key, value));
            }
        }
    }
    pairs.extend(keywords.iter().map(|(key, value)| (Value::from(key.as_str()), value.clone())));
    Ok(containers::dict(pairs))
}

/// How many items `range()` may produce.
const RANGE_ITEMS_MAX: i64 = 1_000_000;

fn range(args: &[Value]) -> Result<Value, Error> {
    arity("range", args, 1, 3)?;
    let numbers = args.iter().map(as_i64).collect::<Result<Vec<_>, _>>()?;
    let (start, stop, step) = match numbers.as_slice() {
        [stop] => (0, *stop, 1),
        [start, stop] => (*start, *stop, 1),
        [start, stop, step] => (*start, *stop, *step),
        _ => unreachable!("arity checked above"),
    };
    if step == 0 {
        return Err(value_error("range() arg 3 must not be zero"));
    }
    let count = if step > 0 { (stop - start + step - 1) / step } else { (start - stop - step - 1) / -step }.max(0);
    if count > RANGE_ITEMS_MAX {
        return Err(value_error(format!("range() of {count} items is over this engine's limit")));
    }
    Ok(Value::from((0..count).map(|index| Value::from(start + index * step)).collect::<Vec<_>>()))
}

fn extreme(name: &str, args: &[Value], keywords: &Keywords) -> Result<Value, Error> {
    let candidates = if args.len() == 1 { items(&args[0])? } else { args.to_vec() };
    let chosen = if name == "min" { candidates.iter().min() } else { candidates.iter().max() };
    match (chosen, keyword(keywords, "default")) {
        (Some(value), _) => Ok(value.clone()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(value_error(format!("{name}() arg is an empty sequence"))),
    }
}
