//! The builtin functions (`len`, `int`, `set`, `sorted`, ...) and the data
//! methods (`str.startswith`, `dict.get`, ...) that conditions and `!py!`
//! values call, on plain data. Views and lazy objects are materialised:
//! `range(...)` and `dict.keys()` give lists, a documented difference that
//! only shows when such a result is compared with `==`.

use super::attributes::{
    check_arity, collect_set, number, ordering, to_text, Function, SEQUENCE_CAP,
};
use super::operators::iterate;
use super::value::{python_equal, Number, PyValue};
use super::PythonError;

fn type_error(message: String) -> PythonError {
    PythonError::new(format!("TypeError: {message}"))
}

fn too_long() -> PythonError {
    PythonError::new(format!(
        "MemoryError: sequence longer than {SEQUENCE_CAP} items"
    ))
}

/// Python's `str.isspace` for one character.
pub(crate) fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Calls a builtin other than `dict`, `hasattr`, `getattr` and the
/// environment functions.
///
/// # Errors
/// `TypeError`/`ValueError` as Python raises them, or an unsupported form.
pub(crate) fn call_builtin(function: Function, args: Vec<PyValue>) -> Result<PyValue, PythonError> {
    let first = args.first().cloned();
    match function {
        Function::Str => {
            check_arity("str", &args, 0, 1)?;
            Ok(PyValue::Str(
                first
                    .map(|value| to_text(&value, false))
                    .unwrap_or_default(),
            ))
        }
        Function::Repr => {
            check_arity("repr", &args, 1, 1)?;
            Ok(PyValue::Str(
                first.map(|value| to_text(&value, true)).unwrap_or_default(),
            ))
        }
        Function::List => Ok(PyValue::List(optional_items("list", args)?)),
        Function::Tuple => Ok(PyValue::Tuple(optional_items("tuple", args)?)),
        Function::Set => Ok(PyValue::Set(collect_set(optional_items("set", args)?)?)),
        Function::FrozenSet => Ok(PyValue::FrozenSet(collect_set(optional_items(
            "frozenset",
            args,
        )?)?)),
        Function::ByteArray => byte_string("bytearray", args).map(PyValue::ByteArray),
        Function::Bytes => byte_string("bytes", args).map(PyValue::Bytes),
        Function::Complex => complex(&args),
        Function::Len => {
            check_arity("len", &args, 1, 1)?;
            length(first.unwrap_or(PyValue::None))
        }
        Function::Int => {
            check_arity("int", &args, 0, 1)?;
            int(first.unwrap_or(PyValue::Int(0)))
        }
        Function::Float => {
            check_arity("float", &args, 0, 1)?;
            float(first.unwrap_or(PyValue::Float(0.0)))
        }
        Function::Bool => {
            check_arity("bool", &args, 0, 1)?;
            Ok(PyValue::Bool(first.is_some_and(|value| value.is_truthy())))
        }
        Function::Abs => {
            check_arity("abs", &args, 1, 1)?;
            match first.as_ref().and_then(number) {
                Some(Number::Int(i)) => i.checked_abs().map(PyValue::Int).ok_or_else(|| {
                    PythonError::new("integer result outside the 64-bit range is not supported")
                }),
                Some(Number::Float(f)) => Ok(PyValue::Float(f.abs())),
                None => Err(type_error("bad operand type for abs()".to_owned())),
            }
        }
        Function::Min | Function::Max => extreme(function == Function::Max, args),
        Function::Any | Function::All => {
            check_arity("any/all", &args, 1, 1)?;
            let items = iterate(first.unwrap_or(PyValue::None))?;
            Ok(PyValue::Bool(if function == Function::Any {
                items.iter().any(PyValue::is_truthy)
            } else {
                items.iter().all(PyValue::is_truthy)
            }))
        }
        Function::Sorted => {
            check_arity("sorted", &args, 1, 1)?;
            let mut items = iterate(first.unwrap_or(PyValue::None))?;
            sort(&mut items)?;
            Ok(PyValue::List(items))
        }
        Function::Range => range(&args),
        Function::Chr => {
            check_arity("chr", &args, 1, 1)?;
            let code = match first {
                Some(PyValue::Int(code)) => code,
                Some(PyValue::Bool(flag)) => i64::from(flag),
                _ => return Err(type_error("an integer is required".to_owned())),
            };
            u32::try_from(code)
                .ok()
                .and_then(char::from_u32)
                .map(|c| PyValue::Str(c.to_string()))
                .ok_or_else(|| {
                    PythonError::new("ValueError: chr() arg not in range(0x110000) or a surrogate")
                })
        }
        Function::Ord => {
            check_arity("ord", &args, 1, 1)?;
            match first {
                Some(PyValue::Str(text)) if text.chars().count() == 1 => Ok(PyValue::Int(
                    text.chars().next().map_or(0, |c| i64::from(u32::from(c))),
                )),
                _ => Err(type_error("ord() expected a character".to_owned())),
            }
        }
        other => Err(PythonError::new(format!("{other:?}() is not supported"))),
    }
}

fn optional_items(name: &str, args: Vec<PyValue>) -> Result<Vec<PyValue>, PythonError> {
    check_arity(name, &args, 0, 1)?;
    match args.into_iter().next() {
        Some(value) => iterate(value),
        None => Ok(Vec::new()),
    }
}

fn byte_string(name: &str, args: Vec<PyValue>) -> Result<Vec<u8>, PythonError> {
    check_arity(name, &args, 0, 1)?;
    match args.into_iter().next() {
        None => Ok(Vec::new()),
        Some(PyValue::Str(_)) => Err(type_error("string argument without an encoding".to_owned())),
        Some(PyValue::Int(count)) => {
            let count = usize::try_from(count)
                .map_err(|_| PythonError::new("ValueError: negative count"))?;
            if count > SEQUENCE_CAP {
                return Err(too_long());
            }
            Ok(vec![0; count])
        }
        Some(PyValue::Bytes(bytes) | PyValue::ByteArray(bytes)) => Ok(bytes),
        Some(other) => iterate(other)?
            .into_iter()
            .map(|item| match item.as_number() {
                Some(Number::Int(i)) if !matches!(item, PyValue::Float(_)) => u8::try_from(i)
                    .map_err(|_| PythonError::new("ValueError: byte must be in range(0, 256)")),
                _ => Err(type_error(format!(
                    "'{}' object cannot be interpreted as an integer",
                    item.type_name()
                ))),
            })
            .collect(),
    }
}

fn complex(args: &[PyValue]) -> Result<PyValue, PythonError> {
    check_arity("complex", args, 0, 2)?;
    // CPython only folds in the imaginary part of an argument that is
    // itself complex, which keeps the sign of `complex(1.5, -0.0)`.
    let part = |value: Option<&PyValue>| -> Result<(f64, Option<f64>), PythonError> {
        match value {
            None => Ok((0.0, None)),
            Some(PyValue::Complex(re, im)) => Ok((*re, Some(*im))),
            Some(other) => match other.as_number() {
                Some(n) => Ok((n.as_f64(), None)),
                None => Err(PythonError::new(format!(
                    "complex() of a '{}' is not supported",
                    other.type_name()
                ))),
            },
        }
    };
    let (real, real_imaginary) = part(args.first())?;
    let (imaginary, imaginary_imaginary) = part(args.get(1))?;
    let real = imaginary_imaginary.map_or(real, |extra| real - extra);
    let imaginary = match real_imaginary {
        Some(extra) if args.len() == 2 => imaginary + extra,
        Some(extra) => extra,
        None => imaginary,
    };
    Ok(PyValue::Complex(real, imaginary))
}

fn length(value: PyValue) -> Result<PyValue, PythonError> {
    let length = match &value {
        PyValue::Str(text) => text.chars().count(),
        PyValue::Bytes(bytes) | PyValue::ByteArray(bytes) => bytes.len(),
        PyValue::List(items)
        | PyValue::Tuple(items)
        | PyValue::Set(items)
        | PyValue::FrozenSet(items) => items.len(),
        PyValue::Dict(pairs) => pairs.len(),
        other => {
            return Err(type_error(format!(
                "object of type '{}' has no len()",
                other.type_name()
            )))
        }
    };
    Ok(PyValue::Int(i64::try_from(length).unwrap_or(i64::MAX)))
}

fn int(value: PyValue) -> Result<PyValue, PythonError> {
    match value {
        PyValue::Int(i) => Ok(PyValue::Int(i)),
        PyValue::Bool(b) => Ok(PyValue::Int(i64::from(b))),
        PyValue::Float(f) if f.is_nan() => Err(PythonError::new(
            "ValueError: cannot convert float NaN to integer",
        )),
        PyValue::Float(f) if f.is_infinite() => Err(PythonError::new(
            "OverflowError: cannot convert float infinity to integer",
        )),
        PyValue::Float(f) if f.trunc().abs() < 9.2e18 => Ok(PyValue::Int(f.trunc() as i64)),
        PyValue::Float(_) => Err(PythonError::new(
            "integer result outside the 64-bit range is not supported",
        )),
        PyValue::Str(text) => {
            let trimmed = text.trim_matches(is_python_space);
            let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
            let valid = !digits.is_empty()
                && !digits.starts_with('_')
                && !digits.ends_with('_')
                && !digits.contains("__")
                && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
            let invalid = || {
                PythonError::new(format!(
                    "ValueError: invalid literal for int() with base 10: {}",
                    super::repr::repr(&PyValue::Str(text.clone()))
                ))
            };
            if !valid {
                return Err(invalid());
            }
            trimmed
                .replace('_', "")
                .parse::<i64>()
                .map(PyValue::Int)
                .map_err(|_| {
                    PythonError::new("integer result outside the 64-bit range is not supported")
                })
        }
        other => Err(type_error(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            other.type_name()
        ))),
    }
}

fn float(value: PyValue) -> Result<PyValue, PythonError> {
    match value.as_number() {
        Some(n) => Ok(PyValue::Float(n.as_f64())),
        None => match &value {
            PyValue::Str(text) => {
                let trimmed = text.trim_matches(is_python_space).to_ascii_lowercase();
                let unsigned = trimmed.trim_start_matches(['+', '-']);
                let special = matches!(unsigned, "inf" | "infinity" | "nan");
                let plain = !unsigned.is_empty()
                    && unsigned
                        .chars()
                        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'));
                match trimmed.parse::<f64>() {
                    Ok(parsed) if special || plain => Ok(PyValue::Float(parsed)),
                    _ => Err(PythonError::new(format!(
                        "ValueError: could not convert string to float: {}",
                        super::repr::repr(&value)
                    ))),
                }
            }
            other => Err(type_error(format!(
                "float() argument must be a string or a real number, not '{}'",
                other.type_name()
            ))),
        },
    }
}

fn sort(items: &mut [PyValue]) -> Result<(), PythonError> {
    let mut failure = None;
    items.sort_by(|a, b| match ordering(a, b) {
        Ok(order) => order,
        Err(error) => {
            failure.get_or_insert(error);
            std::cmp::Ordering::Equal
        }
    });
    failure.map_or(Ok(()), Err)
}

fn extreme(want_max: bool, args: Vec<PyValue>) -> Result<PyValue, PythonError> {
    let items = match args.len() {
        0 => {
            return Err(type_error(
                "min/max expected at least 1 argument, got 0".to_owned(),
            ))
        }
        1 => iterate(args.into_iter().next().unwrap_or(PyValue::None))?,
        _ => args,
    };
    let mut best: Option<PyValue> = None;
    for item in items {
        best = Some(match best {
            None => item,
            Some(current) => {
                let order = ordering(&item, &current)?;
                let better = if want_max {
                    order.is_gt()
                } else {
                    order.is_lt()
                };
                if better {
                    item
                } else {
                    current
                }
            }
        });
    }
    best.ok_or_else(|| PythonError::new("ValueError: min()/max() arg is an empty sequence"))
}

fn range(args: &[PyValue]) -> Result<PyValue, PythonError> {
    check_arity("range", args, 1, 3)?;
    let integer = |value: &PyValue| match value {
        PyValue::Int(i) => Ok(*i),
        PyValue::Bool(b) => Ok(i64::from(*b)),
        other => Err(type_error(format!(
            "'{}' object cannot be interpreted as an integer",
            other.type_name()
        ))),
    };
    let bounds: Vec<i64> = args.iter().map(integer).collect::<Result<_, _>>()?;
    let (start, stop, step) = match bounds.as_slice() {
        [stop] => (0, *stop, 1),
        [start, stop] => (*start, *stop, 1),
        [start, stop, step] => (*start, *stop, *step),
        _ => return Err(type_error("range expected at most 3 arguments".to_owned())),
    };
    if step == 0 {
        return Err(PythonError::new(
            "ValueError: range() arg 3 must not be zero",
        ));
    }
    let mut items = Vec::new();
    let mut at = start;
    while (step > 0 && at < stop) || (step < 0 && at > stop) {
        if items.len() >= SEQUENCE_CAP {
            return Err(too_long());
        }
        items.push(PyValue::Int(at));
        at = match at.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(PyValue::List(items))
}

/// Calls a method of a data value.
///
/// # Errors
/// `TypeError`/`ValueError` as Python raises them.
pub(crate) fn call_method(
    receiver: PyValue,
    name: &str,
    args: Vec<PyValue>,
) -> Result<PyValue, PythonError> {
    match receiver {
        PyValue::Str(text) => string_method(&text, name, args),
        PyValue::List(items) | PyValue::Tuple(items) => sequence_method(&items, name, &args),
        PyValue::Dict(pairs) => dict_method(pairs, name, &args),
        other => Err(PythonError::new(format!(
            "AttributeError: '{}' object has no attribute '{name}'",
            other.type_name()
        ))),
    }
}

fn string_argument<'a>(name: &str, value: Option<&'a PyValue>) -> Result<&'a str, PythonError> {
    match value {
        Some(PyValue::Str(text)) => Ok(text),
        Some(other) => Err(type_error(format!(
            "{name}() argument must be str, not {}",
            other.type_name()
        ))),
        None => Err(type_error(format!("{name}() missing required argument"))),
    }
}

fn string_method(text: &str, name: &str, args: Vec<PyValue>) -> Result<PyValue, PythonError> {
    let string = |s: String| Ok(PyValue::Str(s));
    match name {
        "startswith" | "endswith" => {
            check_arity(name, &args, 1, 1)?;
            let candidates = match &args[0] {
                PyValue::Tuple(items) => items.clone(),
                other => vec![other.clone()],
            };
            let mut found = false;
            for candidate in &candidates {
                let affix = string_argument(name, Some(candidate))?;
                found |= if name == "startswith" {
                    text.starts_with(affix)
                } else {
                    text.ends_with(affix)
                };
            }
            Ok(PyValue::Bool(found))
        }
        "lower" => string(text.to_lowercase()),
        "upper" => string(text.to_uppercase()),
        "strip" | "lstrip" | "rstrip" => {
            check_arity(name, &args, 0, 1)?;
            let chars: Option<Vec<char>> = match args.first() {
                None | Some(PyValue::None) => None,
                Some(value) => Some(string_argument(name, Some(value))?.chars().collect()),
            };
            let strip = |c: char| {
                chars
                    .as_ref()
                    .map_or_else(|| is_python_space(c), |set| set.contains(&c))
            };
            string(match name {
                "strip" => text.trim_matches(strip).to_owned(),
                "lstrip" => text.trim_start_matches(strip).to_owned(),
                _ => text.trim_end_matches(strip).to_owned(),
            })
        }
        "split" => {
            check_arity(name, &args, 0, 1)?;
            let parts: Vec<PyValue> = match args.first() {
                None | Some(PyValue::None) => text
                    .split(is_python_space)
                    .filter(|part| !part.is_empty())
                    .map(|part| PyValue::Str(part.to_owned()))
                    .collect(),
                Some(separator) => {
                    let separator = string_argument(name, Some(separator))?;
                    if separator.is_empty() {
                        return Err(PythonError::new("ValueError: empty separator"));
                    }
                    text.split(separator)
                        .map(|part| PyValue::Str(part.to_owned()))
                        .collect()
                }
            };
            Ok(PyValue::List(parts))
        }
        "join" => {
            check_arity(name, &args, 1, 1)?;
            let items = iterate(args.into_iter().next().unwrap_or(PyValue::None))?;
            let mut pieces = Vec::with_capacity(items.len());
            for item in &items {
                pieces.push(string_argument("join", Some(item))?);
            }
            let joined = pieces.join(text);
            if joined.len() > SEQUENCE_CAP {
                return Err(too_long());
            }
            string(joined)
        }
        "replace" => {
            check_arity(name, &args, 2, 2)?;
            let old = string_argument(name, args.first())?;
            let new = string_argument(name, args.get(1))?;
            let count = if old.is_empty() {
                text.chars().count() + 1
            } else {
                text.matches(old).count()
            };
            if text.len().saturating_add(count.saturating_mul(new.len())) > SEQUENCE_CAP {
                return Err(too_long());
            }
            string(text.replace(old, new))
        }
        "find" => {
            check_arity(name, &args, 1, 1)?;
            let needle = string_argument(name, args.first())?;
            let position = text.find(needle).map_or(-1, |byte| {
                i64::try_from(text[..byte].chars().count()).unwrap_or(i64::MAX)
            });
            Ok(PyValue::Int(position))
        }
        "count" => {
            check_arity(name, &args, 1, 1)?;
            let needle = string_argument(name, args.first())?;
            let count = if needle.is_empty() {
                text.chars().count() + 1
            } else {
                text.matches(needle).count()
            };
            Ok(PyValue::Int(i64::try_from(count).unwrap_or(i64::MAX)))
        }
        "isdigit" => Ok(PyValue::Bool(
            !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()),
        )),
        _ => Err(PythonError::new(format!("str.{name}() is not supported"))),
    }
}

fn sequence_method(
    items: &[PyValue],
    name: &str,
    args: &[PyValue],
) -> Result<PyValue, PythonError> {
    check_arity(name, args, 1, 1)?;
    let needle = &args[0];
    match name {
        "index" => items
            .iter()
            .position(|item| python_equal(item, needle))
            .map(|at| PyValue::Int(i64::try_from(at).unwrap_or(i64::MAX)))
            .ok_or_else(|| PythonError::new("ValueError: value is not in sequence")),
        _ => Ok(PyValue::Int(
            i64::try_from(
                items
                    .iter()
                    .filter(|item| python_equal(item, needle))
                    .count(),
            )
            .unwrap_or(i64::MAX),
        )),
    }
}

fn dict_method(
    pairs: Vec<(PyValue, PyValue)>,
    name: &str,
    args: &[PyValue],
) -> Result<PyValue, PythonError> {
    match name {
        "get" => {
            check_arity(name, args, 1, 2)?;
            if !args[0].is_hashable() {
                return Err(super::value::unhashable(&args[0]));
            }
            Ok(pairs
                .into_iter()
                .find(|(key, _)| python_equal(key, &args[0]))
                .map(|(_, value)| value)
                .unwrap_or_else(|| args.get(1).cloned().unwrap_or(PyValue::None)))
        }
        "keys" => Ok(PyValue::List(
            pairs.into_iter().map(|(key, _)| key).collect(),
        )),
        "values" => Ok(PyValue::List(
            pairs.into_iter().map(|(_, value)| value).collect(),
        )),
        _ => Ok(PyValue::List(
            pairs
                .into_iter()
                .map(|(key, value)| PyValue::Tuple(vec![key, value]))
                .collect(),
        )),
    }
}
