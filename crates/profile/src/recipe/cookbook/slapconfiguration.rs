//! `slapos.cookbook:slapconfiguration` and its `.serialised` and
//! `.jsonschema` variants (spec §11.10): in init, asks the master about
//! this partition (`registerComputerPartition`) and exposes what it says
//! as options; non-string values are `!py!`-encoded (§7.3). Sets are
//! written sorted; dicts in sorted-key order (the master's marshalled
//! dicts arrive sorted; JSON decoded from `_` is sorted here, where
//! Python keeps the document's order).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use super::connection::{SlapConnection, SlapConnectionInfo};
use super::jsonschema::{self, Extras};
use super::values::{json_to_py, option_text, option_value};
use crate::python::PyValue;
use crate::recipe::{InitContext, InstallContext, Part, Recipe, RecipeError};

/// How the parameters are read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Flavour {
    /// The parameter dict as is.
    Plain,
    /// `{"_": json}` unwrapped.
    Serialised,
    /// Validated against the software release's JSON schemas.
    JsonSchema,
}

/// The `slapconfiguration*` entry points.
pub(super) struct SlapConfiguration {
    pub(super) connection: Arc<dyn SlapConnection>,
    pub(super) flavour: Flavour,
}

struct Nothing;

impl Part for Nothing {
    fn install(&mut self, _context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        Ok(Vec::new())
    }

    fn update(&mut self, _context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        Ok(Some(Vec::new()))
    }
}

/// An option's text, the first of `names` that is set and non-empty.
fn first_of(context: &mut InitContext<'_, '_>, names: &[&str]) -> Result<Option<String>, RecipeError> {
    for name in names {
        if let Some(value) = context.value(name)?.map(|v| option_text(&v)).filter(|v| !v.is_empty()) {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// The first of `names`, the last one required (`Missing option`).
fn required_of(context: &mut InitContext<'_, '_>, names: &[&str]) -> Result<String, RecipeError> {
    match first_of(context, names)? {
        Some(value) => Ok(value),
        None => context.require(names[names.len() - 1]).map(|v| option_text(&v)),
    }
}

impl Recipe for SlapConfiguration {
    fn version(&self) -> &'static str {
        "1.0.499"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let connection = SlapConnectionInfo {
            server_url: required_of(context, &["server-url", "url"])?,
            key_file: first_of(context, &["key-file", "key"])?,
            cert_file: first_of(context, &["cert-file", "cert"])?,
            computer_id: required_of(context, &["computer-id", "computer"])?,
            partition_id: required_of(context, &["partition-id", "partition"])?,
        };
        let information = self.connection.partition(&connection).map_err(|error| RecipeError::Failed(error.to_string()))?;
        let mut parameters = information.parameters.clone();
        let mut out: BTreeMap<String, PyValue> = BTreeMap::new();
        out.insert("instance-state".into(), PyValue::Str(information.state.clone()));
        for key in ["slap_software_type", "slap_computer_partition_id", "slap_computer_id", "slap_software_release_url", "slave_instance_list", "timestamp"] {
            if let Some(value) = parameters.remove(key) {
                out.insert(key.replace('_', "-"), json_to_py(&value));
            }
        }
        for (key, option, default) in [
            ("instance_title", "instance-title", "UNKNOWN Instance"),
            ("root_instance_title", "root-instance-title", "UNKNOWN"),
            ("root_instance_short_title", "root-instance-short-title", "UNKNOWN"),
        ] {
            let value = parameters.remove(key).map_or(PyValue::Str(default.to_owned()), |v| json_to_py(&v));
            out.insert(option.into(), value);
        }
        out.insert("instance-guid".into(), PyValue::Str(information.instance_guid.clone()));
        let Some(ip_list) = parameters.remove("ip_list") else {
            return Err(RecipeError::Failed("the master sent no 'ip_list' for this partition".to_owned()));
        };
        let (ipv4, ipv6) = addresses(&ip_list);
        parameters.remove("full_address_list");
        parameters.remove("full_ip_list");
        if let Some(min) = ipv4.first() {
            out.insert("ipv4-random".into(), PyValue::Str(min.clone()));
        }
        if let Some(min) = ipv6.first() {
            out.insert("ipv6-random".into(), PyValue::Str(min.clone()));
        }
        out.insert("ipv4".into(), PyValue::Set(ipv4.into_iter().map(PyValue::Str).collect()));
        out.insert("ipv6".into(), PyValue::Set(ipv6.into_iter().map(PyValue::Str).collect()));
        let directory = context.lookup("buildout", "directory")?.unwrap_or_default();
        let storage = match first_of(context, &["storage-home"])? {
            Some(home) => {
                let partition = match out.get("slap-computer-partition-id") {
                    Some(PyValue::Str(id)) => id.clone(),
                    _ => return Err(RecipeError::Failed("Missing option: slap-computer-partition-id".to_owned())),
                };
                super::sys::link_storage(Path::new(&home), &partition, Path::new(&directory))?
            }
            None => BTreeMap::new(),
        };
        out.insert("storage-dict".into(), PyValue::Dict(storage.into_iter().map(|(k, v)| (PyValue::Str(k), PyValue::Str(v))).collect()));
        for (key, value) in resource_options(Path::new(&directory))? {
            if !out.contains_key(&key) && context.get(&key)?.is_none() {
                out.insert(key, json_to_py(&value));
            }
        }
        let parameter_dict = Value::Object(parameters.into_iter().collect());
        let expanded = match self.flavour {
            Flavour::Plain => {
                out.insert("configuration".into(), json_to_py(&parameter_dict));
                parameter_dict
            }
            Flavour::Serialised => {
                let unwrapped = unwrap(parameter_dict)?;
                out.insert("configuration".into(), json_to_py(&unwrapped));
                if unwrapped.is_object() { unwrapped } else { Value::Object(serde_json::Map::new()) }
            }
            Flavour::JsonSchema => self.validate(context, &connection, parameter_dict, &mut out)?,
        };
        for (key, value) in out {
            context.set(&key, option_value(&value))?;
        }
        if let Value::Object(map) = expanded {
            for (key, value) in map {
                // Keys buildout could not spell (`=` or `:`) stay only in `configuration`.
                if !key.contains(['=', ':']) {
                    context.set(&format!("configuration.{key}"), option_value(&json_to_py(&value)))?;
                }
            }
        }
        Ok(Box::new(Nothing))
    }
}

/// The sorted IPv4 and IPv6 addresses of `ip_list` (`[[tap, ip]…]`).
fn addresses(ip_list: &Value) -> (Vec<String>, Vec<String>) {
    let mut ipv4 = std::collections::BTreeSet::new();
    let mut ipv6 = std::collections::BTreeSet::new();
    for entry in ip_list.as_array().map(Vec::as_slice).unwrap_or_default() {
        let Some(ip) = entry.as_array().and_then(|pair| pair.get(1)).and_then(Value::as_str) else { continue };
        if ip.parse::<Ipv4Addr>().is_ok() {
            ipv4.insert(ip.to_owned());
        } else if ip.parse::<Ipv6Addr>().is_ok() {
            ipv6.insert(ip.to_owned());
        }
    }
    (ipv4.into_iter().collect(), ipv6.into_iter().collect())
}

/// `librecipe.unwrap`: the JSON in key `_` if there is one.
fn unwrap(value: Value) -> Result<Value, RecipeError> {
    match value.get("_") {
        Some(Value::String(text)) => serde_json::from_str(text).map_err(|error| RecipeError::Failed(format!("invalid JSON in '_': {error}"))),
        Some(_) => Err(RecipeError::Failed("the JSON object must be str, bytes or bytearray".to_owned())),
        None => Ok(value),
    }
}

/// The partition resource file (`.slapos-resource`, found walking up
/// from the instance directory), flattened: `{"a_b": {"c": 1}}` →
/// `a-b-c = 1`.
fn resource_options(directory: &Path) -> Result<BTreeMap<String, Value>, RecipeError> {
    let mut home = directory.to_path_buf();
    loop {
        let candidate = home.join(".slapos-resource");
        if let Some(text) = super::sys::read_optional(&candidate)? {
            let value: Value = serde_json::from_str(&text).map_err(|error| RecipeError::Failed(format!("{}: {error}", candidate.display())))?;
            let mut flat = BTreeMap::new();
            flatten("", &value, &mut flat);
            return Ok(flat);
        }
        if !home.pop() || home.as_os_str() == "/" {
            return Ok(BTreeMap::new());
        }
    }
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    if let Value::Object(map) = value {
        for (key, item) in map {
            let key = format!("{prefix}{}", key.replace('_', "-"));
            match item {
                Value::Object(_) => flatten(&format!("{key}-"), item, out),
                other => {
                    out.insert(key, other.clone());
                }
            }
        }
    }
}

/// `all|main|shared|none` as (main, shared).
fn parse_scope(context: &mut InitContext<'_, '_>, key: &str, default: &str) -> Result<(bool, bool), RecipeError> {
    let value = context.value(key)?.map(|v| option_text(&v)).unwrap_or_else(|| default.to_owned());
    match value.as_str() {
        "none" => Ok((false, false)),
        "main" => Ok((true, false)),
        "shared" => Ok((false, true)),
        "all" => Ok((true, true)),
        _ => Err(RecipeError::Failed(format!(
            "{} is not a valid value for option {}. Accepted values are ('none', 'main', 'shared', 'all')",
            crate::python::str_repr(&value),
            crate::python::str_repr(key)
        ))),
    }
}

/// Reads a local JSON document (`file:` URL or path).
fn load_json(url: &str) -> Option<Value> {
    let path = url.strip_prefix("file://").or_else(|| url.strip_prefix("file:")).unwrap_or(url);
    if path.starts_with("http://") || path.starts_with("https://") {
        return None;
    }
    let text = super::sys::read_optional(Path::new(path)).ok()??;
    serde_json::from_str(&text).ok()
}

impl SlapConfiguration {
    fn validate(
        &self,
        context: &mut InitContext<'_, '_>,
        connection: &SlapConnectionInfo,
        parameter_dict: Value,
        out: &mut BTreeMap<String, PyValue>,
    ) -> Result<Value, RecipeError> {
        let validate = parse_scope(context, "validate-parameters", "all")?;
        let set_default = parse_scope(context, "set-default", "none")?;
        let unstringify = parse_scope(context, "unstringify", "none")?;
        let report = parse_scope(context, "report-error", "all")?;
        let path = context.require("jsonschema").map(|v| option_text(&v))?;
        let url = if path.starts_with("file://") { path } else { format!("file://{path}") };
        let software_url = url.strip_suffix(".json").unwrap_or(&url).to_owned();
        let software_type = match out.get("slap-software-type") {
            Some(PyValue::Str(kind)) if !kind.is_empty() && kind != "RootSoftwareInstance" => kind.clone(),
            Some(PyValue::Str(_)) => "default".to_owned(),
            _ => return Err(RecipeError::Failed("Missing option: slap-software-type".to_owned())),
        };
        let software_schema = load_json(&format!("{software_url}.json"));
        let type_schema = software_schema.as_ref().and_then(|schema| schema.get("software-type")?.get(&software_type)).cloned();
        let serialisation = type_schema
            .as_ref()
            .and_then(|schema| schema.get("serialisation"))
            .or_else(|| software_schema.as_ref().and_then(|schema| schema.get("serialisation")))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut parameter_dict = parameter_dict;
        match serialisation.as_deref() {
            Some("json-in-xml") => {
                parameter_dict = unwrap(parameter_dict)?;
                let unwrap_shared = context.value("unwrap-shared")?.map(|v| option_text(&v)).unwrap_or_else(|| "true".to_owned());
                if !matches!(unwrap_shared.to_lowercase().as_str(), "false" | "0" | "no") && !validate.1 {
                    if let Some(PyValue::List(list)) = out.get("slave-instance-list") {
                        let unwrapped = list.iter().map(unwrap_shared_entry).collect();
                        out.insert("slave-instance-list".into(), PyValue::List(unwrapped));
                    }
                }
            }
            Some("xml") => {}
            _ => {
                return Err(RecipeError::Failed(format!(
                    "Invalid or undefined serialisation for software type {} of software release {software_url}",
                    crate::python::str_repr(&software_type)
                )))
            }
        }
        let request_schema = |shared: bool| -> Option<(Value, String)> {
            let entry = match shared {
                false => type_schema.clone()?,
                true => software_schema.as_ref()?.get("software-type")?.as_object()?.values().find(|entry| {
                    entry.get("software-type").and_then(Value::as_str) == Some(&software_type) && entry.get("shared") == Some(&Value::Bool(true))
                })?.clone(),
            };
            let request = entry.get("request")?.as_str()?;
            let url = join_relative(&software_url, request);
            let mut schema = load_json(&url)?;
            if let Value::Object(map) = &mut schema {
                map.entry("$id").or_insert_with(|| Value::String(url.clone()));
            }
            Some((schema, url))
        };
        if validate.0 {
            let Some((schema, base)) = request_schema(false) else {
                return Err(RecipeError::Failed(format!(
                    "requested software-type {} seems to have no JSON schema entry in the software.cfg.json.",
                    crate::python::str_repr(&software_type)
                )));
            };
            if !parameter_dict.is_object() {
                parameter_dict = Value::Object(serde_json::Map::new());
            }
            let extras = Extras { set_defaults: set_default.0, unstringify: unstringify.0 };
            let errors = jsonschema::validate(&schema, &base, &mut parameter_dict, extras, &load_json);
            if !errors.is_empty() {
                let message = format!("Invalid parameters:\n{}", jsonschema::format_errors(&errors));
                if report.0 {
                    let _ = self.connection.report_error(connection, &message, None);
                }
                return Err(RecipeError::Failed(message));
            }
        }
        if validate.1 {
            self.validate_shared(connection, out, request_schema(true), Extras { set_defaults: set_default.1, unstringify: unstringify.1 }, report.1, &software_type)?;
        }
        out.insert("configuration".into(), json_to_py(&parameter_dict));
        Ok(if parameter_dict.is_object() { parameter_dict } else { Value::Object(serde_json::Map::new()) })
    }

    fn validate_shared(
        &self,
        connection: &SlapConnectionInfo,
        out: &mut BTreeMap<String, PyValue>,
        schema: Option<(Value, String)>,
        extras: Extras,
        report: bool,
        software_type: &str,
    ) -> Result<(), RecipeError> {
        let shared_list = match out.remove("slave-instance-list") {
            Some(PyValue::List(list)) => list,
            _ => Vec::new(),
        };
        if !shared_list.is_empty() && schema.is_none() {
            return Err(RecipeError::Failed(format!(
                "requested shared software-type {} seems to have no JSON schema entry in the software.cfg.json.",
                crate::python::str_repr(software_type)
            )));
        }
        let (mut valid, mut invalid) = (Vec::new(), Vec::new());
        for entry in shared_list {
            let mut instance = py_to_json(&entry);
            let reference = instance.as_object_mut().and_then(|map| map.remove("slave_reference")).unwrap_or(Value::Null);
            let mut instance = unwrap(instance.clone()).unwrap_or(instance);
            let errors = match &schema {
                Some((schema, base)) => jsonschema::validate(schema, base, &mut instance, extras, &load_json),
                None => Vec::new(),
            };
            let mut item = vec![(PyValue::Str("reference".into()), json_to_py(&reference)), (PyValue::Str("parameters".into()), json_to_py(&instance))];
            if errors.is_empty() {
                valid.push(PyValue::Dict(item));
            } else {
                let message = jsonschema::format_errors(&errors);
                if report {
                    let _ = self.connection.report_error(connection, &message, reference.as_str());
                }
                item.push((PyValue::Str("errors".into()), PyValue::Str(message)));
                invalid.push(PyValue::Dict(item));
            }
        }
        out.insert("valid-shared-instance-list".into(), PyValue::List(valid));
        out.insert("invalid-shared-instance-list".into(), PyValue::List(invalid));
        Ok(())
    }
}

/// A shared instance entry with the keys of its `_` JSON merged in
/// (existing keys win), `_` removed.
fn unwrap_shared_entry(entry: &PyValue) -> PyValue {
    let PyValue::Dict(pairs) = entry else { return entry.clone() };
    let mut pairs: Vec<(PyValue, PyValue)> = pairs.clone();
    let Some(position) = pairs.iter().position(|(key, _)| *key == PyValue::Str("_".into())) else { return entry.clone() };
    let (_, payload) = pairs.remove(position);
    if let PyValue::Str(text) = payload {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&text) {
            for (key, value) in map {
                if !pairs.iter().any(|(existing, _)| *existing == PyValue::Str(key.clone())) {
                    pairs.push((PyValue::Str(key), json_to_py(&value)));
                }
            }
        }
    }
    PyValue::Dict(pairs)
}

/// The JSON form of a value that came from JSON.
fn py_to_json(value: &PyValue) -> Value {
    match value {
        PyValue::None => Value::Null,
        PyValue::Bool(b) => Value::Bool(*b),
        PyValue::Int(i) => Value::from(*i),
        PyValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        PyValue::Str(text) => Value::String(text.clone()),
        PyValue::List(items) | PyValue::Tuple(items) | PyValue::Set(items) | PyValue::FrozenSet(items) => Value::Array(items.iter().map(py_to_json).collect()),
        PyValue::Dict(pairs) => Value::Object(
            pairs.iter().map(|(key, value)| (match key { PyValue::Str(text) => text.clone(), other => crate::python::python_repr(other) }, py_to_json(value))).collect(),
        ),
        other => Value::String(crate::python::python_repr(other)),
    }
}

/// `urljoin(software_url, relative)` for local files.
fn join_relative(base: &str, relative: &str) -> String {
    if relative.contains("://") || relative.starts_with('/') {
        return relative.to_owned();
    }
    match base.rsplit_once('/') {
        Some((directory, _)) => format!("{directory}/{relative}"),
        None => relative.to_owned(),
    }
}
