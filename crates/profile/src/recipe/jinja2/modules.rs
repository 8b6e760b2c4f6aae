//! Python modules of templates: `json`, which a `context` line may
//! `import` (its `dumps` and `loads`, the two functions SlapOS templates
//! call; other modules are refused at init with an error naming them), and
//! `six` (a global of every template) as far as templates use it:
//! `iteritems`, `iterkeys`, `itervalues`, `PY2`, `PY3` and the type tuples.

use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use super::builtins::Builtin;
use super::pycompat::call_method;
use super::values::{from_json, to_py, tuple};
use crate::python::PyValue;

/// The module object for `import NAME`, if supported.
pub(crate) fn import(name: &str) -> Option<Value> {
    match name.trim() {
        "json" => Some(Value::from_object(JsonModule)),
        _ => None,
    }
}

/// The `six` module.
pub(crate) fn six() -> Value {
    Value::from_object(SixModule)
}

/// Python's `six` module, in Python 3.
#[derive(Debug)]
struct SixModule;

impl Object for SixModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<module 'six'>")
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let builtin = |name: &'static str| Value::from_object(Builtin(name));
        Some(match key.as_str()? {
            "PY2" => Value::from(false),
            "PY3" => Value::from(true),
            "string_types" => tuple(vec![builtin("str")]),
            "integer_types" => tuple(vec![builtin("int")]),
            "class_types" => tuple(vec![builtin("type")]),
            "text_type" => builtin("str"),
            "binary_type" => builtin("bytes"),
            _ => return None,
        })
    }

    fn call_method(self: &Arc<Self>, state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let dict_method = match method {
            "iteritems" => "items",
            "iterkeys" => "keys",
            "itervalues" => "values",
            _ => return Err(Error::new(ErrorKind::UnknownMethod, format!("six.{method}() is not supported by this engine"))),
        };
        match args {
            [dict] => call_method(state, dict, dict_method, &[]),
            _ => Err(Error::new(ErrorKind::InvalidOperation, format!("TypeError: six.{method}() takes 1 argument"))),
        }
    }
}

/// Python's `json` module.
#[derive(Debug)]
struct JsonModule;

impl Object for JsonModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<module 'json'>")
    }

    fn call_method(self: &Arc<Self>, _state: &State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (positional, keywords) = match args.split_last() {
            Some((last, rest)) if last.is_kwargs() => (rest, Some(last)),
            _ => (args, None),
        };
        let keyword = |name: &str| keywords.map(|keywords| keywords.get_attr(name)).transpose().map(|value| value.filter(|value| !value.is_undefined()));
        match (method, positional) {
            ("dumps", [value]) => {
                let sort_keys = keyword("sort_keys")?.is_some_and(|value| value.is_true());
                let indent = keyword("indent")?.and_then(|value| value.as_usize());
                let data = to_py(value)?;
                let mut out = String::new();
                write_json(&data, &JsonStyle { sort_keys, indent }, 0, &mut out)?;
                Ok(Value::from(out))
            }
            ("loads", [text]) => {
                let text = text.as_str().ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "TypeError: json.loads() needs a str"))?;
                from_json(text).map_err(|error| Error::new(ErrorKind::InvalidOperation, format!("JSONDecodeError: {error}")))
            }
            _ => Err(Error::new(ErrorKind::UnknownMethod, format!("json.{method}() with these arguments is not supported by this engine"))),
        }
    }
}

struct JsonStyle {
    sort_keys: bool,
    indent: Option<usize>,
}

/// `json.dumps` with `ensure_ascii=True`, Python's separators and float
/// spelling.
fn write_json(value: &PyValue, style: &JsonStyle, depth: usize, out: &mut String) -> Result<(), Error> {
    match value {
        PyValue::None => out.push_str("null"),
        PyValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        PyValue::Int(_) | PyValue::Float(_) => out.push_str(&crate::python::python_repr(value)),
        PyValue::Str(text) => crate::python::write_json_string(text, out),
        PyValue::List(items) | PyValue::Tuple(items) => {
            write_container(out, style, depth, '[', ']', items.iter(), |item, out| write_json(item, style, depth + 1, out))?;
        }
        PyValue::Dict(pairs) => {
            let mut pairs: Vec<(String, &PyValue)> =
                pairs.iter().map(|(key, value)| Ok((json_key(key)?, value))).collect::<Result<_, Error>>()?;
            if style.sort_keys {
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
            }
            write_container(out, style, depth, '{', '}', pairs.iter(), |(key, value), out| {
                crate::python::write_json_string(key, out);
                out.push_str(": ");
                write_json(value, style, depth + 1, out)
            })?;
        }
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("TypeError: Object of type {} is not JSON serializable", other.type_name()),
            ))
        }
    }
    Ok(())
}

fn write_container<T>(
    out: &mut String,
    style: &JsonStyle,
    depth: usize,
    open: char,
    close: char,
    items: impl ExactSizeIterator<Item = T>,
    mut write_item: impl FnMut(T, &mut String) -> Result<(), Error>,
) -> Result<(), Error> {
    out.push(open);
    if items.len() == 0 {
        out.push(close);
        return Ok(());
    }
    for (index, item) in items.enumerate() {
        match style.indent {
            Some(indent) => {
                out.push_str(if index == 0 { "\n" } else { ",\n" });
                out.push_str(&" ".repeat(indent * (depth + 1)));
            }
            None if index > 0 => out.push_str(", "),
            None => {}
        }
        write_item(item, out)?;
    }
    if let Some(indent) = style.indent {
        out.push('\n');
        out.push_str(&" ".repeat(indent * depth));
    }
    out.push(close);
    Ok(())
}

fn json_key(key: &PyValue) -> Result<String, Error> {
    match key {
        PyValue::Str(text) => Ok(text.clone()),
        PyValue::None => Ok("null".to_owned()),
        PyValue::Bool(b) => Ok(if *b { "true" } else { "false" }.to_owned()),
        PyValue::Int(_) | PyValue::Float(_) => Ok(crate::python::python_repr(key)),
        other => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("TypeError: keys must be str, int, float, bool or None, not {}", other.type_name()),
        )),
    }
}
