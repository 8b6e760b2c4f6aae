//! The SLA of a request (`filter_kw` in Python, `filter_xml` on the wire,
//! `sla_parameters` in the JSON API; spec §6): where an instance may go.
//!
//! Every value is read with Python `str()` (a number `1` reads `"1"`), as
//! the proxy ends up storing or comparing them; a `None` value counts as
//! absent. Keys the master does not interpret land in [`Sla::other`].

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::marshal::Value;
use crate::python_repr::str_of;

/// Why a value is not an SLA.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlaError {
    /// The SLA must be a dict (a JSON object).
    #[error("sla must be a dict, not {found}")]
    NotADict {
        /// The Python (or JSON) type found.
        found: String,
    },
}

/// A parsed SLA. Only the first allocation honours it (spec §7.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sla {
    /// `computer_guid`: the compute node to allocate on.
    pub computer_guid: Option<String>,
    /// `instance_guid`: for a shared instance, the host
    /// (`<computer>-<slot>` or a bare slot).
    pub instance_guid: Option<String>,
    /// `network_guid` (ignored by the proxy).
    pub network_guid: Option<String>,
    /// `project_guid` (ignored by the proxy).
    pub project_guid: Option<String>,
    /// `mode`, e.g. `unique_by_network` (ignored by the proxy).
    pub mode: Option<String>,
    /// `master_url`: forward the request to another master (§7.9).
    pub master_url: Option<String>,
    /// `retention_delay` (read by nodes from the real master).
    pub retention_delay: Option<String>,
    /// Every other key, its value `str()`'d.
    pub other: BTreeMap<String, String>,
}

impl Sla {
    /// Reads the marshalled filter dict; non-string keys are `str()`'d.
    ///
    /// # Errors
    ///
    /// [`SlaError::NotADict`] for anything but a dict.
    pub fn from_value(value: &Value) -> Result<Sla, SlaError> {
        let Value::Dict(items) = value else {
            return Err(SlaError::NotADict {
                found: value.type_name().to_owned(),
            });
        };
        let mut sla = Sla::default();
        for (key, item) in items {
            if item.is_none() {
                continue;
            }
            let text = str_of(item);
            let key = str_of(key);
            match sla.field_mut(&key) {
                Some(field) => *field = Some(text),
                None => {
                    sla.other.insert(key, text);
                }
            }
        }
        Ok(sla)
    }

    /// Reads a JSON object, values `str()`'d as Python would after
    /// `json.loads` (`true` → `"True"`, `1.0` → `"1.0"`).
    ///
    /// # Errors
    ///
    /// [`SlaError::NotADict`] for anything but an object.
    pub fn from_json(json: &serde_json::Value) -> Result<Sla, SlaError> {
        if !json.is_object() {
            let found = match json {
                serde_json::Value::Null => "null",
                serde_json::Value::Bool(_) => "boolean",
                serde_json::Value::Number(_) => "number",
                serde_json::Value::String(_) => "string",
                serde_json::Value::Array(_) => "array",
                serde_json::Value::Object(_) => "object",
            };
            return Err(SlaError::NotADict {
                found: found.to_owned(),
            });
        }
        Sla::from_value(&Value::from(json))
    }

    /// The filter dict to marshal: every set field and `other`, as strings.
    pub fn to_value(&self) -> Value {
        let known = [
            ("computer_guid", &self.computer_guid),
            ("instance_guid", &self.instance_guid),
            ("master_url", &self.master_url),
            ("mode", &self.mode),
            ("network_guid", &self.network_guid),
            ("project_guid", &self.project_guid),
            ("retention_delay", &self.retention_delay),
        ];
        let mut items: BTreeMap<&str, &str> = self
            .other
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        for (key, value) in known {
            if let Some(value) = value {
                items.insert(key, value);
            }
        }
        Value::dict_from(
            items
                .into_iter()
                .map(|(key, value)| (key, Value::str(value))),
        )
    }

    fn field_mut(&mut self, key: &str) -> Option<&mut Option<String>> {
        match key {
            "computer_guid" => Some(&mut self.computer_guid),
            "instance_guid" => Some(&mut self.instance_guid),
            "network_guid" => Some(&mut self.network_guid),
            "project_guid" => Some(&mut self.project_guid),
            "mode" => Some(&mut self.mode),
            "master_url" => Some(&mut self.master_url),
            "retention_delay" => Some(&mut self.retention_delay),
            _ => None,
        }
    }
}
