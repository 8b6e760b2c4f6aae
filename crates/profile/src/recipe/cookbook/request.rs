//! `slapos.cookbook:request`, `requestoptional` and their `.serialised`
//! forms (spec §11.11): the request is sent in init, its answer exposed
//! as options (`instance-guid`, `instance-state`, `connection-<name>`…);
//! install re-raises a deferred request error or fails on a missing
//! connection parameter, where `requestoptional` only warns (through the
//! caller's progress reporter).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::connection::{InstanceRequest, RequestedInstance, SlapConnection, SlapConnectionInfo, SlapError};
use super::values::{is_true, json_to_py, option_text, option_value, python_json_dumps};
use crate::python::PyValue;
use crate::recipe::{InitContext, InstallContext, Part, Recipe, RecipeError};

/// The `request*` entry points.
pub(super) struct Request {
    pub(super) connection: Arc<dyn SlapConnection>,
    /// `requestoptional`: install only warns.
    pub(super) optional: bool,
    /// `.serialised`: parameters sent as `{"_": json}`, connection
    /// parameters read from the JSON in `_`.
    pub(super) serialised: bool,
}

struct RequestPart {
    optional: bool,
    error: Option<SlapError>,
    /// The first `return` name the instance did not publish.
    failed: Option<String>,
    instance: Option<RequestedInstance>,
}

impl Recipe for Request {
    fn version(&self) -> &'static str {
        "1.0.499"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let text = |value: String| option_text(&value);
        let software_url = context.require("software-url").map(text)?;
        let name = context.require("name").map(text)?;
        let return_names: Vec<String> = context.value("return")?.map(text).unwrap_or_default().split_whitespace().map(str::to_owned).collect();
        let software_type = context.value("software-type")?.map(text).unwrap_or_else(|| "default".to_owned());
        let options = context.options()?;
        if options.contains_key("config") || options.contains_key("sla") {
            return Err(RecipeError::Failed("'config' & 'sla' options are obsolete. Clean up your software release.".to_owned()));
        }
        let filter: BTreeMap<String, String> = options
            .iter()
            .filter_map(|(key, value)| key.strip_prefix("sla-").map(|k| (k.to_owned(), option_text(value))))
            .filter(|(_, value)| !value.is_empty())
            .collect();
        let mut parameters: BTreeMap<String, String> =
            options.iter().filter_map(|(key, value)| key.strip_prefix("config-").map(|k| (k.to_owned(), option_text(value)))).collect();
        if self.serialised {
            let json = serde_json::Value::Object(parameters.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect());
            parameters = BTreeMap::from([("_".to_owned(), python_json_dumps(&json))]);
        }
        let shared = is_true(&context.value("shared")?.map(text).unwrap_or_else(|| "false".to_owned()));
        let default_state = match context.lookup("slap-connection", "requested")?.as_deref() {
            Some(state @ ("started" | "stopped")) => state.to_owned(),
            _ => "started".to_owned(),
        };
        let state = context.value("state")?.map(text).unwrap_or(default_state);
        context.set("requested-state", state.clone())?;
        let connection = SlapConnectionInfo {
            server_url: context.require("server-url").map(text)?,
            key_file: context.value("key-file")?.map(text),
            cert_file: context.value("cert-file")?.map(text),
            computer_id: context.require("computer-id").map(text)?,
            partition_id: context.require("partition-id").map(text)?,
        };
        let request = InstanceRequest { software_release: software_url, software_type, partition_reference: name, parameters, filter, shared, state };
        let mut part = RequestPart { optional: self.optional, error: None, failed: None, instance: None };
        let published = match self.connection.request(&connection, &request) {
            Ok(instance) => {
                let published = self.returned(&instance, &return_names);
                if !shared {
                    if let Some(guid) = &instance.instance_guid {
                        context.set("instance-guid", guid.clone())?;
                        context.set("instance_guid", guid.clone())?;
                        context.set("instance-state", instance.state.clone().unwrap_or_default())?;
                        context.set("instance-status", instance.status.clone().unwrap_or_else(|| "None".to_owned()))?;
                    }
                }
                part.instance = Some(instance);
                published
            }
            Err(error) if error.is_deferred() => {
                context.environment().progress.step(
                    context.part(),
                    &format!(
                        "Request for {} with software release {} and software type {} failed with partition_parameter_kw={:?}, filter_kw={:?}, shared={shared}, state={}.",
                        request.partition_reference, request.software_release, request.software_type, request.parameters, request.filter, request.state
                    ),
                );
                part.error = Some(error);
                BTreeMap::new()
            }
            Err(error) => return Err(RecipeError::Failed(error.to_string())),
        };
        for name in &return_names {
            let value = match published.get(name) {
                Some(value) => value.clone(),
                None => {
                    part.failed.get_or_insert_with(|| name.clone());
                    PyValue::Str(String::new())
                }
            };
            context.set(&format!("connection-{name}"), option_value(&value))?;
        }
        Ok(Box::new(part))
    }
}

impl Request {
    /// The connection parameters to expose: the named ones as strings, or
    /// every key of the JSON in `_` with its JSON type (`.serialised`).
    fn returned(&self, instance: &RequestedInstance, names: &[String]) -> BTreeMap<String, PyValue> {
        if self.serialised {
            let decoded = instance.connection_parameters.get("_").and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok());
            return match decoded {
                Some(serde_json::Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), json_to_py(v))).collect(),
                _ => BTreeMap::new(),
            };
        }
        names
            .iter()
            .filter_map(|name| instance.connection_parameters.get(name).map(|value| (name.clone(), PyValue::Str(value.clone()))))
            .collect()
    }
}

impl RequestPart {
    fn run(&self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        if let Some(error) = &self.error {
            if self.optional {
                context.environment.progress.step(context.part, "Optional request failed.");
                return Ok(Vec::new());
            }
            return Err(RecipeError::Failed(error.to_string()));
        }
        if let Some(failed) = &self.failed {
            let status = match &self.instance {
                Some(instance) => instance.state.clone().unwrap_or_else(|| "not ready yet".to_owned()),
                None => "unknown".to_owned(),
            };
            if self.optional {
                let message = format!("Connection parameter {failed} not found. Requested instance is currently {status}. If this error persists, check status of this instance.");
                context.environment.progress.step(context.part, &message);
                return Ok(Vec::new());
            }
            return Err(RecipeError::Failed(format!(
                "Connection parameter {failed} not found. Status of requested instance is: {status}. If this error persists, check status of this instance."
            )));
        }
        Ok(Vec::new())
    }
}

impl Part for RequestPart {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        self.run(context)
    }

    fn update(&mut self, context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        self.run(context).map(Some)
    }
}
