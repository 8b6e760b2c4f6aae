//! The JSON-schema subset `slapconfiguration.jsonschema` needs to check
//! instance parameters against a software release's `software.cfg.json`
//! schemas, with the real recipe's extras: defaults filled from the
//! schemas on the valid validation path (`set-default`) and stringified
//! integers and booleans accepted and converted (`unstringify`).
//!
//! Supported keywords: `type`, `enum`, `const`, `properties`, `required`,
//! `additionalProperties`, `items` (schema or list), `minItems`,
//! `maxItems`, `uniqueItems`, `minProperties`, `maxProperties`,
//! `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (number
//! and draft-4 boolean forms), `multipleOf`, `minLength`, `maxLength`,
//! `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`, and `$ref` to
//! the same document or to local files (relative to the referring
//! document), with JSON pointers. `$ref` siblings are ignored unless the
//! document's `$schema` is 2019-09 or later. Not checked: `pattern`,
//! `patternProperties`, `format`, `dependencies`, `propertyNames`,
//! `unevaluatedProperties`, remote (`http`) references. Error messages
//! follow python-jsonschema 4's wording (`$.path: message`); several
//! errors come in sorted-key order, not the schema file's order.

use std::collections::BTreeMap;

use serde_json::Value;

use super::values::json_to_py;
use crate::python::python_repr;

/// One step into an instance: an object key or an array index.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

/// A validation error: where and what.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SchemaError {
    pub(super) path: Vec<Step>,
    pub(super) message: String,
}

impl SchemaError {
    /// `e.json_path + ": " + e.message`.
    pub(super) fn render(&self) -> String {
        let mut path = String::from("$");
        for step in &self.path {
            match step {
                Step::Key(key) => {
                    path.push('.');
                    path.push_str(key);
                }
                Step::Index(index) => path.push_str(&format!("[{index}]")),
            }
        }
        format!("{path}: {}", self.message)
    }
}

/// `SoftwareReleaseSchemaValidationError(errors).format_error(indent=2)`.
pub(super) fn format_errors(errors: &[SchemaError]) -> String {
    format!("  {}", errors.iter().map(SchemaError::render).collect::<Vec<_>>().join("\n  "))
}

/// Loads a schema document by URL (`file:` URL or path); `None` when it
/// cannot be read or parsed.
pub(super) type Loader<'l> = &'l dyn Fn(&str) -> Option<Value>;

/// What a validation may do besides checking.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Extras {
    pub(super) set_defaults: bool,
    pub(super) unstringify: bool,
}

struct Walk<'l> {
    loader: Loader<'l>,
    documents: BTreeMap<String, Value>,
    unstringify: bool,
    defaults: Vec<(Vec<Step>, String, Value)>,
    conversions: Vec<(Vec<Step>, String, Vec<String>)>,
}

/// Validates `instance` against `schema` (whose URL is `base`), applying
/// the extras on success; returns the errors, empty when valid.
pub(super) fn validate(schema: &Value, base: &str, instance: &mut Value, extras: Extras, loader: Loader<'_>) -> Vec<SchemaError> {
    let mut walk = Walk { loader, documents: BTreeMap::new(), unstringify: extras.unstringify, defaults: Vec::new(), conversions: Vec::new() };
    walk.documents.insert(base.to_owned(), schema.clone());
    // Each round may add defaults whose own defaults the next round finds.
    for _round in 0..16 {
        walk.defaults.clear();
        walk.conversions.clear();
        let errors = walk.check(schema, base, instance, &mut Vec::new());
        if !errors.is_empty() {
            return errors;
        }
        if extras.unstringify {
            for (path, key, types) in std::mem::take(&mut walk.conversions) {
                if let Some(Value::Object(map)) = at_path(instance, &path) {
                    if let Some(Value::String(text)) = map.get(&key) {
                        if let Some(converted) = types.iter().find_map(|kind| unstringified(text, kind)) {
                            map.insert(key, converted);
                        }
                    }
                }
            }
        }
        if !extras.set_defaults {
            return Vec::new();
        }
        let mut applied = false;
        let mut chosen: BTreeMap<(String, String), Value> = BTreeMap::new();
        for (path, key, default) in std::mem::take(&mut walk.defaults) {
            let slot = (format!("{path:?}"), key.clone());
            if let Some(previous) = chosen.get(&slot) {
                if *previous != default {
                    let message = format!("Conflicting defaults for key {key}: {} != {}", repr(previous), repr(&default));
                    return vec![SchemaError { path, message }];
                }
                continue;
            }
            chosen.insert(slot, default.clone());
            if let Some(Value::Object(map)) = at_path(instance, &path) {
                if !map.contains_key(&key) {
                    map.insert(key, default);
                    applied = true;
                }
            }
        }
        if !applied {
            return Vec::new();
        }
    }
    Vec::new()
}

fn at_path<'v>(instance: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    let mut current = instance;
    for step in path {
        current = match (step, current) {
            (Step::Key(key), Value::Object(map)) => map.get_mut(key)?,
            (Step::Index(index), Value::Array(items)) => items.get_mut(*index)?,
            _ => return None,
        };
    }
    Some(current)
}

fn repr(value: &Value) -> String {
    python_repr(&json_to_py(value))
}

/// `int(text)` / `str_to_bool(text)` as unstringify converts.
fn unstringified(text: &str, kind: &str) -> Option<Value> {
    match kind {
        "integer" => text.trim().replace('_', "").parse::<i64>().ok().map(Value::from),
        "boolean" => match text {
            "True" => Some(Value::Bool(true)),
            "False" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    }
}

/// Joins a reference's file part to the URL of the referring document.
fn join_url(base: &str, reference: &str) -> String {
    if reference.is_empty() {
        return base.to_owned();
    }
    if reference.contains("://") || reference.starts_with("file:") {
        return reference.to_owned();
    }
    let (scheme, path) = base.strip_prefix("file://").map(|p| ("file://", p)).or_else(|| base.strip_prefix("file:").map(|p| ("file:", p))).unwrap_or(("", base));
    if reference.starts_with('/') {
        return format!("{scheme}{reference}");
    }
    let directory = path.rsplit_once('/').map_or("", |(directory, _)| directory);
    let mut parts: Vec<&str> = directory.split('/').collect();
    for piece in reference.split('/') {
        match piece {
            "." | "" => {}
            ".." => {
                if parts.len() > 1 {
                    parts.pop();
                }
            }
            other => parts.push(other),
        }
    }
    format!("{scheme}{}", parts.join("/"))
}

fn pointer(document: &Value, fragment: &str) -> Option<Value> {
    if fragment.is_empty() {
        return Some(document.clone());
    }
    let decoded = percent_decode(fragment);
    document.pointer(&decoded).cloned()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes.get(index + 1..index + 3).and_then(|pair| std::str::from_utf8(pair).ok());
        if let (b'%', Some(Ok(byte))) = (bytes[index], hex.map(|pair| u8::from_str_radix(pair, 16))) {
            out.push(byte);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Walk<'_> {
    fn resolve(&mut self, reference: &str, base: &str) -> Option<(Value, String)> {
        let (file, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let url = join_url(base, file);
        if !self.documents.contains_key(&url) {
            let document = (self.loader)(&url)?;
            self.documents.insert(url.clone(), document);
        }
        pointer(&self.documents[&url], fragment).map(|schema| (schema, url))
    }

    /// A keyword of a schema, looked up through `$ref` chains.
    fn fetch(&mut self, key: &str, schema: &Value, base: &str) -> Option<Value> {
        let mut schema = schema.clone();
        let mut base = base.to_owned();
        for _depth in 0..32 {
            if let Some(value) = schema.get(key) {
                return Some(value.clone());
            }
            let reference = schema.get("$ref")?.as_str()?.to_owned();
            (schema, base) = self.resolve(&reference, &base)?;
        }
        None
    }

    fn check(&mut self, schema: &Value, base: &str, instance: &Value, path: &mut Vec<Step>) -> Vec<SchemaError> {
        let mark = (self.defaults.len(), self.conversions.len());
        let errors = self.check_keywords(schema, base, instance, path);
        if errors.is_empty() {
            self.collect(schema, base, instance, path);
        } else {
            self.defaults.truncate(mark.0);
            self.conversions.truncate(mark.1);
        }
        errors
    }

    /// Records defaults and types of a schema with `properties` that holds.
    fn collect(&mut self, schema: &Value, base: &str, instance: &Value, path: &[Step]) {
        let (Some(Value::Object(properties)), Value::Object(map)) = (schema.get("properties"), instance) else { return };
        for (key, subschema) in properties {
            if !map.contains_key(key) {
                if let Some(default) = self.fetch("default", subschema, base) {
                    self.defaults.push((path.to_vec(), key.clone(), default));
                }
            }
            if self.unstringify {
                let types = match self.fetch("type", subschema, base) {
                    Some(Value::String(kind)) => vec![kind],
                    Some(Value::Array(kinds)) => kinds.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect(),
                    _ => continue,
                };
                self.conversions.push((path.to_vec(), key.clone(), types));
            }
        }
    }

    fn is_type(&self, instance: &Value, kind: &str) -> bool {
        let matches = match kind {
            "object" => instance.is_object(),
            "array" => instance.is_array(),
            "string" => instance.is_string(),
            "boolean" => instance.is_boolean(),
            "null" => instance.is_null(),
            "number" => instance.is_number(),
            "integer" => instance.as_i64().is_some() || instance.as_u64().is_some() || instance.as_f64().is_some_and(|f| f.fract() == 0.0),
            _ => false,
        };
        matches || (self.unstringify && instance.as_str().is_some_and(|text| unstringified(text, kind).is_some()))
    }

    fn check_keywords(&mut self, schema: &Value, base: &str, instance: &Value, path: &mut Vec<Step>) -> Vec<SchemaError> {
        let Value::Object(keywords) = schema else {
            return if schema == &Value::Bool(false) {
                vec![error(path, format!("False schema does not allow {}", repr(instance)))]
            } else {
                Vec::new()
            };
        };
        let mut errors = Vec::new();
        let modern = ["2019-09", "2020-12"].iter().any(|draft| keywords.get("$schema").and_then(Value::as_str).is_some_and(|s| s.contains(draft)));
        if let Some(reference) = keywords.get("$ref").and_then(Value::as_str) {
            match self.resolve(reference, base) {
                Some((target, url)) => errors.extend(self.check(&target, &url, instance, path)),
                None => errors.push(error(path, format!("Unresolvable JSON pointer: {}", crate::python::str_repr(reference)))),
            }
            if !modern {
                return errors;
            }
        }
        let base = keywords.get("$id").and_then(Value::as_str).filter(|id| id.starts_with("file:")).map_or(base.to_owned(), str::to_owned);
        let base = base.as_str();
        for (keyword, value) in keywords {
            match keyword.as_str() {
                "type" => {
                    let kinds: Vec<&str> = match value {
                        Value::String(kind) => vec![kind.as_str()],
                        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
                        _ => continue,
                    };
                    if !kinds.iter().any(|kind| self.is_type(instance, kind)) {
                        let names: Vec<String> = kinds.iter().map(|kind| crate::python::str_repr(kind)).collect();
                        errors.push(error(path, format!("{} is not of type {}", repr(instance), names.join(", "))));
                    }
                }
                "enum" => {
                    if let Value::Array(options) = value {
                        if !options.iter().any(|option| json_equal(option, instance)) {
                            errors.push(error(path, format!("{} is not one of {}", repr(instance), repr(value))));
                        }
                    }
                }
                "const" if !json_equal(value, instance) => errors.push(error(path, format!("{} was expected", repr(value)))),
                "required" => {
                    if let (Value::Array(names), Value::Object(map)) = (value, instance) {
                        for name in names.iter().filter_map(Value::as_str).filter(|name| !map.contains_key(*name)) {
                            errors.push(error(path, format!("{} is a required property", crate::python::str_repr(name))));
                        }
                    }
                }
                "properties" => {
                    if let (Value::Object(properties), Value::Object(map)) = (value, instance) {
                        for (key, subschema) in properties {
                            if let Some(item) = map.get(key) {
                                path.push(Step::Key(key.clone()));
                                errors.extend(self.check(subschema, base, item, path));
                                path.pop();
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Value::Object(map) = instance {
                        let known = keywords.get("properties").and_then(Value::as_object);
                        let extras: Vec<&String> = map.keys().filter(|key| known.is_none_or(|known| !known.contains_key(*key))).collect();
                        if value == &Value::Bool(false) && !extras.is_empty() && !keywords.contains_key("patternProperties") {
                            let names: Vec<String> = extras.iter().map(|key| crate::python::str_repr(key)).collect();
                            let verb = if extras.len() == 1 { "was" } else { "were" };
                            errors.push(error(path, format!("Additional properties are not allowed ({} {verb} unexpected)", names.join(", "))));
                        } else if value.is_object() {
                            for key in extras {
                                path.push(Step::Key(key.clone()));
                                errors.extend(self.check(value, base, &map[key], path));
                                path.pop();
                            }
                        }
                    }
                }
                "items" => {
                    if let Value::Array(items) = instance {
                        for (index, item) in items.iter().enumerate() {
                            let subschema = match value {
                                Value::Array(list) => match list.get(index) {
                                    Some(subschema) => subschema,
                                    None => break,
                                },
                                other => other,
                            };
                            path.push(Step::Index(index));
                            errors.extend(self.check(subschema, base, item, path));
                            path.pop();
                        }
                    }
                }
                "allOf" | "anyOf" | "oneOf" => {
                    if let Value::Array(subschemas) = value {
                        errors.extend(self.combine(keyword, subschemas, base, instance, path));
                    }
                }
                "not" => {
                    let mark = (self.defaults.len(), self.conversions.len());
                    if self.check(value, base, instance, path).is_empty() {
                        errors.push(error(path, format!("{} should not be valid under {}", repr(instance), repr(value))));
                    }
                    self.defaults.truncate(mark.0);
                    self.conversions.truncate(mark.1);
                }
                "if" => {
                    let mark = (self.defaults.len(), self.conversions.len());
                    let holds = self.check(value, base, instance, path).is_empty();
                    if !holds {
                        self.defaults.truncate(mark.0);
                        self.conversions.truncate(mark.1);
                    }
                    let branch = if holds { keywords.get("then") } else { keywords.get("else") };
                    if let Some(branch) = branch {
                        errors.extend(self.check(branch, base, instance, path));
                    }
                }
                _ => errors.extend(bounds(keyword, value, keywords, instance, path)),
            }
        }
        errors
    }

    fn combine(&mut self, keyword: &str, subschemas: &[Value], base: &str, instance: &Value, path: &mut Vec<Step>) -> Vec<SchemaError> {
        match keyword {
            "allOf" => subschemas.iter().flat_map(|subschema| self.check(subschema, base, instance, path)).collect(),
            "anyOf" => {
                for subschema in subschemas {
                    if self.check(subschema, base, instance, path).is_empty() {
                        return Vec::new();
                    }
                }
                vec![error(path, format!("{} is not valid under any of the given schemas", repr(instance)))]
            }
            _ => {
                let valid: Vec<&Value> = subschemas.iter().filter(|subschema| self.check(subschema, base, instance, path).is_empty()).collect();
                match valid.len() {
                    0 => vec![error(path, format!("{} is not valid under any of the given schemas", repr(instance)))],
                    1 => Vec::new(),
                    _ => {
                        let shown: Vec<String> = valid.iter().map(|schema| repr(schema)).collect();
                        vec![error(path, format!("{} is valid under each of {}", repr(instance), shown.join(", ")))]
                    }
                }
            }
        }
    }
}

fn error(path: &[Step], message: String) -> SchemaError {
    SchemaError { path: path.to_vec(), message }
}

/// JSON equality with `1 == 1.0`, as Python compares.
fn json_equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| json_equal(x, y)),
        (Value::Object(a), Value::Object(b)) => a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| json_equal(v, w))),
        _ => left == right,
    }
}

/// Numeric, length and size bounds.
fn bounds(keyword: &str, value: &Value, keywords: &serde_json::Map<String, Value>, instance: &Value, path: &[Step]) -> Vec<SchemaError> {
    let shown = repr(instance);
    let limit = value.as_f64();
    let number = if instance.is_boolean() { None } else { instance.as_f64() };
    let count = match instance {
        Value::String(text) => Some(text.chars().count() as f64),
        Value::Array(items) => Some(items.len() as f64),
        Value::Object(map) => Some(map.len() as f64),
        _ => None,
    };
    let draft4_exclusive = |name: &str| keywords.get(name) == Some(&Value::Bool(true));
    let message = match (keyword, limit, number) {
        ("minimum", Some(min), Some(n)) if draft4_exclusive("exclusiveMinimum") && n <= min => Some(format!("{shown} is less than or equal to the minimum of {}", repr(value))),
        ("minimum", Some(min), Some(n)) if n < min => Some(format!("{shown} is less than the minimum of {}", repr(value))),
        ("maximum", Some(max), Some(n)) if draft4_exclusive("exclusiveMaximum") && n >= max => Some(format!("{shown} is greater than or equal to the maximum of {}", repr(value))),
        ("maximum", Some(max), Some(n)) if n > max => Some(format!("{shown} is greater than the maximum of {}", repr(value))),
        ("exclusiveMinimum", Some(min), Some(n)) if n <= min => Some(format!("{shown} is less than or equal to the minimum of {}", repr(value))),
        ("exclusiveMaximum", Some(max), Some(n)) if n >= max => Some(format!("{shown} is greater than or equal to the maximum of {}", repr(value))),
        ("multipleOf", Some(step), Some(n)) if step != 0.0 && (n / step).fract() != 0.0 => Some(format!("{shown} is not a multiple of {}", repr(value))),
        _ => None,
    };
    if let Some(message) = message {
        return vec![error(path, message)];
    }
    let kind_matches = match keyword {
        "minLength" | "maxLength" => instance.is_string(),
        "minItems" | "maxItems" | "uniqueItems" => instance.is_array(),
        "minProperties" | "maxProperties" => instance.is_object(),
        _ => false,
    };
    let (Some(count), true) = (count, kind_matches) else { return Vec::new() };
    let message = match (keyword, limit) {
        ("minLength" | "minItems" | "minProperties", Some(min)) if count < min => {
            Some(if min == 1.0 { format!("{shown} should be non-empty") } else { format!("{shown} is too short") })
        }
        ("maxLength" | "maxItems" | "maxProperties", Some(max)) if count > max => {
            Some(if max == 0.0 { format!("{shown} is expected to be empty") } else { format!("{shown} is too long") })
        }
        ("uniqueItems", _) if value == &Value::Bool(true) => {
            let items = instance.as_array().map(Vec::as_slice).unwrap_or_default();
            let duplicated = items.iter().enumerate().any(|(i, a)| items[i + 1..].iter().any(|b| json_equal(a, b)));
            duplicated.then(|| format!("{shown} has non-unique elements"))
        }
        _ => None,
    };
    message.map(|message| vec![error(path, message)]).unwrap_or_default()
}
