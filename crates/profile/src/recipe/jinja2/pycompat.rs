//! Python methods called on template values (`x.split()`, `d.items()`),
//! which Jinja2 gets from Python and minijinja does not have: the common
//! ones of `str`, `dict`, `list` and `tuple` that return new values (the
//! in-place ones live on [`super::containers`]). Mutating a value minijinja
//! built itself (a filter's result) fails with an error naming the method.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

use super::containers;
use super::values::{py_str, tuple, PyTuple};

/// The callback given to `set_unknown_method_callback`.
pub(crate) fn call_method(_state: &State<'_, '_>, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    if let Some(text) = value.as_str() {
        return string_method(text, method, args);
    }
    match value.kind() {
        ValueKind::Map => map_method(value, method, args),
        ValueKind::Seq | ValueKind::Iterable => sequence_method(value, method, args),
        _ => Err(unknown(value, method)),
    }
}

fn unknown(value: &Value, method: &str) -> Error {
    Error::new(ErrorKind::UnknownMethod, format!("{} has no method named {method} (in this engine)", value.kind()))
}

fn argument(args: &[Value], index: usize) -> Option<&Value> {
    args.get(index).filter(|value| !value.is_kwargs() && !value.is_none())
}

fn text_argument(args: &[Value], index: usize) -> Option<&str> {
    argument(args, index).and_then(Value::as_str)
}

fn strings(items: Vec<&str>) -> Value {
    containers::list(items.into_iter().map(Value::from).collect())
}

fn string_method(text: &str, method: &str, args: &[Value]) -> Result<Value, Error> {
    let value = match method {
        "split" | "rsplit" => {
            let limit = argument(args, 1).and_then(|value| i64::try_from(value.clone()).ok()).filter(|limit| *limit >= 0);
            split(text, text_argument(args, 0), limit.map(|limit| limit as usize), method == "rsplit")
        }
        "splitlines" => strings(text.lines().collect()),
        "strip" | "lstrip" | "rstrip" => {
            let chars: Option<Vec<char>> = text_argument(args, 0).map(|chars| chars.chars().collect());
            let matches = |c: char| chars.as_ref().map_or(c.is_whitespace(), |set| set.contains(&c));
            Value::from(match method {
                "strip" => text.trim_matches(matches),
                "lstrip" => text.trim_start_matches(matches),
                _ => text.trim_end_matches(matches),
            })
        }
        "startswith" | "endswith" => {
            let candidates: Vec<String> = match argument(args, 0) {
                Some(prefixes) if prefixes.downcast_object_ref::<PyTuple>().is_some() => {
                    prefixes.try_iter()?.map(|item| py_str(&item)).collect()
                }
                Some(prefix) => vec![py_str(prefix)],
                None => return Err(Error::new(ErrorKind::MissingArgument, format!("{method}() takes at least 1 argument"))),
            };
            let hit = candidates.iter().any(|candidate| {
                if method == "startswith" {
                    text.starts_with(candidate.as_str())
                } else {
                    text.ends_with(candidate.as_str())
                }
            });
            Value::from(hit)
        }
        "replace" => {
            let (Some(old), Some(new)) = (text_argument(args, 0), text_argument(args, 1)) else {
                return Err(Error::new(ErrorKind::MissingArgument, "replace() takes 2 string arguments"));
            };
            match argument(args, 2).and_then(|count| i64::try_from(count.clone()).ok()).filter(|count| *count >= 0) {
                Some(count) => Value::from(text.replacen(old, new, count as usize)),
                None => Value::from(text.replace(old, new)),
            }
        }
        "join" => {
            let items = argument(args, 0).ok_or_else(|| Error::new(ErrorKind::MissingArgument, "join() takes 1 argument"))?;
            let parts: Vec<String> = items.try_iter()?.map(|item| py_str(&item)).collect();
            Value::from(parts.join(text))
        }
        "upper" => Value::from(text.to_uppercase()),
        "lower" => Value::from(text.to_lowercase()),
        "title" => Value::from(title(text)),
        "capitalize" => {
            let mut chars = text.chars();
            Value::from(chars.next().map(|first| first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect::<String>()).unwrap_or_default())
        }
        "find" | "index" | "rfind" | "rindex" => {
            let needle = text_argument(args, 0).unwrap_or_default();
            let found = if method.starts_with('r') { text.rfind(needle) } else { text.find(needle) };
            match found {
                Some(byte) => Value::from(text[..byte].chars().count()),
                None if method.ends_with("find") => Value::from(-1),
                None => return Err(Error::new(ErrorKind::InvalidOperation, "ValueError: substring not found")),
            }
        }
        "count" => Value::from(text.matches(text_argument(args, 0).unwrap_or_default()).count()),
        "isdigit" => Value::from(!text.is_empty() && text.chars().all(|c| c.is_ascii_digit())),
        "isalpha" => Value::from(!text.is_empty() && text.chars().all(char::is_alphabetic)),
        "isalnum" => Value::from(!text.is_empty() && text.chars().all(char::is_alphanumeric)),
        "isspace" => Value::from(!text.is_empty() && text.chars().all(char::is_whitespace)),
        "partition" | "rpartition" => {
            let separator = text_argument(args, 0).unwrap_or_default();
            let found = if method == "partition" { text.find(separator) } else { text.rfind(separator) };
            let parts = match found {
                Some(at) if !separator.is_empty() => vec![&text[..at], separator, &text[at + separator.len()..]],
                _ if method == "partition" => vec![text, "", ""],
                _ => vec!["", "", text],
            };
            tuple(parts.into_iter().map(Value::from).collect())
        }
        "zfill" => {
            let width = argument(args, 0).and_then(|value| value.as_usize()).unwrap_or(0);
            let length = text.chars().count();
            let (sign, digits) = match text.strip_prefix(['+', '-']) {
                Some(rest) => (&text[..1], rest),
                None => ("", text),
            };
            Value::from(format!("{sign}{}{digits}", "0".repeat(width.saturating_sub(length))))
        }
        "format" => Value::from(format(text, args)?),
        "encode" => Value::from_bytes(text.as_bytes().to_vec()),
        _ => return Err(unknown(&Value::from(text), method)),
    };
    Ok(value)
}

/// `str.split`/`str.rsplit` with Python's whitespace rule when `separator`
/// is `None`.
fn split(text: &str, separator: Option<&str>, limit: Option<usize>, from_right: bool) -> Value {
    match separator {
        Some(separator) if !separator.is_empty() => {
            let parts: Vec<&str> = match (limit, from_right) {
                (Some(limit), false) => text.splitn(limit + 1, separator).collect(),
                (Some(limit), true) => {
                    let mut parts: Vec<&str> = text.rsplitn(limit + 1, separator).collect();
                    parts.reverse();
                    parts
                }
                (None, _) => text.split(separator).collect(),
            };
            strings(parts)
        }
        _ => {
            let words: Vec<&str> = text.split_whitespace().collect();
            match limit {
                Some(limit) if words.len() > limit && !from_right => {
                    let mut parts: Vec<&str> = words[..limit].to_vec();
                    let mut rest = text.trim_start();
                    for _ in 0..limit {
                        rest = rest.trim_start().split_once(char::is_whitespace).map_or("", |(_, tail)| tail).trim_start();
                    }
                    parts.push(rest);
                    strings(parts)
                }
                _ => strings(words),
            }
        }
    }
}

fn title(text: &str) -> String {
    let mut result = String::with_capacity(text.len());
    let mut previous_cased = false;
    for c in text.chars() {
        if previous_cased {
            result.extend(c.to_lowercase());
        } else {
            result.extend(c.to_uppercase());
        }
        previous_cased = c.is_alphabetic();
    }
    result
}

/// `str.format` with `{}`, `{0}`, `{name}`, `{{`/`}}` (no format specs,
/// attribute or index lookups).
fn format(text: &str, args: &[Value]) -> Result<String, Error> {
    let (positional, keywords): (Vec<&Value>, Option<&Value>) = match args.split_last() {
        Some((last, rest)) if last.is_kwargs() => (rest.iter().collect(), Some(last)),
        _ => (args.iter().collect(), None),
    };
    let mut result = String::new();
    let mut chars = text.chars().peekable();
    let mut automatic = 0;
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                result.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                result.push('}');
            }
            '{' => {
                let field: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let value = if field.is_empty() {
                    automatic += 1;
                    positional.get(automatic - 1).map(|value| (*value).clone())
                } else if let Ok(index) = field.parse::<usize>() {
                    positional.get(index).map(|value| (*value).clone())
                } else {
                    keywords.and_then(|keywords| keywords.get_attr(&field).ok()).filter(|value| !value.is_undefined())
                };
                let value = value.ok_or_else(|| {
                    Error::new(ErrorKind::InvalidOperation, format!("format(): no argument for field {{{field}}} (specs are not supported)"))
                })?;
                result.push_str(&py_str(&value));
            }
            other => result.push(other),
        }
    }
    Ok(result)
}

fn map_method(map: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    match method {
        "items" => {
            let mut pairs = Vec::new();
            for key in map.try_iter()? {
                let value = map.get_item(&key)?;
                pairs.push(tuple(vec![key, value]));
            }
            Ok(Value::from(pairs))
        }
        "keys" => Ok(Value::from(map.try_iter()?.collect::<Vec<_>>())),
        "values" => {
            let keys: Vec<Value> = map.try_iter()?.collect();
            Ok(Value::from(keys.iter().map(|key| map.get_item(key)).collect::<Result<Vec<_>, _>>()?))
        }
        "get" => {
            let key = args.first().ok_or_else(|| Error::new(ErrorKind::MissingArgument, "get() takes at least 1 argument"))?;
            let has_key = map.try_iter()?.any(|existing| existing == *key);
            if has_key {
                map.get_item(key)
            } else {
                Ok(args.get(1).cloned().unwrap_or(Value::from(())))
            }
        }
        "copy" => containers::dict_from_map(map),
        "append" | "update" | "setdefault" | "pop" | "clear" => Err(mutation(method)),
        _ => Err(unknown(map, method)),
    }
}

fn sequence_method(sequence: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    let needle = args.first();
    match method {
        "index" => sequence
            .try_iter()?
            .position(|item| Some(&item) == needle)
            .map(Value::from)
            .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "ValueError: value is not in list")),
        "count" => Ok(Value::from(sequence.try_iter()?.filter(|item| Some(item) == needle).count())),
        "copy" => Ok(containers::list(sequence.try_iter()?.collect())),
        "append" | "extend" | "insert" | "remove" | "pop" | "sort" | "reverse" | "add" => Err(mutation(method)),
        _ => Err(unknown(sequence, method)),
    }
}

fn mutation(method: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("the in-place method {method}() is not supported on a value built by a filter or an operator (immutable in this engine's jinja2 templates)"),
    )
}
