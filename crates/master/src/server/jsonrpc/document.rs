//! Store rows rendered as the JSON API's documents (§4), and the proxy's
//! instance ids. Pure: rows in, JSON out.
//!
//! An instance id (`instance_guid`) is `<title>___<root title>___<0|1>`,
//! the last part saying whether the instance is shared: the proxy has no
//! other id, since an instance is named by its title within its tree.

use proto::Value;
use serde_json::json;

use super::JsonError;
use crate::store::{lookup, AddressRow, SharedRow, SlotRow, StoreError};

/// An instance named as the JSON API names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InstanceGuid {
    /// The instance title.
    pub(super) title: String,
    /// The root title of its tree, `''` for a root.
    pub(super) requested_by: String,
    /// Whether it is a shared instance.
    pub(super) shared: bool,
}

impl InstanceGuid {
    /// The id of an instance.
    pub(super) fn new(title: &str, requested_by: &str, shared: bool) -> InstanceGuid {
        InstanceGuid { title: title.to_owned(), requested_by: requested_by.to_owned(), shared }
    }

    /// Reads an id as the proxy does: at most three `___`-separated parts,
    /// the last one a Python integer whose truth says "shared".
    ///
    /// # Errors
    /// The proxy's 403 `instance_guid <id> not handled.`
    pub(super) fn parse(guid: &str) -> Result<InstanceGuid, JsonError> {
        let not_handled = || JsonError::forbidden(format!("instance_guid {guid} not handled."));
        let mut parts = guid.splitn(3, "___");
        let (Some(title), Some(requested_by), Some(flag)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(not_handled());
        };
        let shared = python_int_truth(flag).ok_or_else(not_handled)?;
        Ok(InstanceGuid::new(title, requested_by, shared))
    }

    /// The reference the store files a shared instance under.
    pub(super) fn shared_reference(&self) -> String {
        crate::store::shared::shared_reference(&self.requested_by, &self.title)
    }
}

impl std::fmt::Display for InstanceGuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}___{}___{}", self.title, self.requested_by, u8::from(self.shared))
    }
}

/// `bool(int(text))` for the integers Python reads: optional blanks and
/// sign, decimal digits; `None` where Python raises.
fn python_int_truth(text: &str) -> Option<bool> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.bytes().any(|b| b != b'0'))
}

/// The `(title, root title)` a shared reference `<root title>_<title>`
/// stands for, split at the first `_` as the proxy does (a root title
/// holding `_` is misread the same way, and the id still names the same
/// reference).
pub(super) fn split_shared_reference(reference: &str) -> (String, String) {
    match reference.split_once('_') {
        Some((requested_by, title)) => (title.to_owned(), requested_by.to_owned()),
        None => (reference.to_owned(), String::new()),
    }
}

/// A marshalled value as JSON: what `json.dumps` makes of what
/// `xml_marshaller` decoded (tuples and sets become arrays; keys are
/// `str()`'d).
pub(super) fn json_of(value: &Value) -> serde_json::Value {
    match value {
        Value::None => serde_json::Value::Null,
        Value::Bool(flag) => json!(flag),
        Value::Int(number) => i64::try_from(*number)
            .map(serde_json::Value::from)
            .or_else(|_| u64::try_from(*number).map(serde_json::Value::from))
            .unwrap_or_else(|_| json!(*number as f64)),
        Value::BigInt(digits) => digits.parse::<f64>().map_or(serde_json::Value::Null, |n| json!(n)),
        Value::Float(number) => json!(number),
        Value::String(text) => json!(text),
        Value::Tuple(items) | Value::List(items) | Value::Set(items) => {
            serde_json::Value::Array(items.iter().map(json_of).collect())
        }
        Value::Dict(items) => serde_json::Value::Object(
            items.iter().map(|(k, v)| (k.as_str().map_or_else(|| proto::python_repr::str_of(k), str::to_owned), json_of(v))).collect(),
        ),
        Value::Object(object) => serde_json::Value::Object(
            object.state.iter().map(|(k, v)| (proto::python_repr::str_of(k), json_of(v))).collect(),
        ),
    }
}

/// Instance XML as the object `xml2dict` makes: string values, `null` for
/// an empty parameter.
///
/// # Errors
/// A stored XML the master cannot read (a corrupted row).
pub(super) fn xml_object(xml: Option<&str>, what: &str) -> Result<serde_json::Value, StoreError> {
    let Some(xml) = xml.filter(|x| !x.is_empty()) else {
        return Ok(json!({}));
    };
    let decoded = proto::instance_xml::decode(xml).map_err(|error| StoreError::Corrupted {
        table: "partition_slot",
        detail: format!("{what}: {error}"),
    })?;
    Ok(serde_json::Value::Object(decoded.into_iter().map(|(k, v)| (k, v.map_or(serde_json::Value::Null, |v| json!(v)))).collect()))
}

/// `[[interface, address], …]`.
pub(super) fn ip_list(addresses: &[AddressRow]) -> serde_json::Value {
    addresses.iter().map(|a| json!([a.interface, a.address])).collect()
}

/// The document of an instance (§4): `state` is what the caller answers
/// (a request answers the state it set, reads the stored one).
///
/// # Errors
/// A stored XML the master cannot read.
pub(super) fn instance_document(slot: &SlotRow, addresses: &[AddressRow], state: &str) -> Result<serde_json::Value, StoreError> {
    let title = slot.title.clone().unwrap_or_default();
    Ok(json!({
        "title": title,
        "instance_guid": InstanceGuid::new(&title, &slot.requested_by, false).to_string(),
        "software_release_uri": slot.software_release.clone().unwrap_or_default(),
        "software_type": slot.software_type.clone().unwrap_or_default(),
        "state": state,
        "connection_parameters": xml_object(slot.connection_xml.as_deref(), "connection parameters")?,
        "parameters": xml_object(slot.parameter_xml.as_deref(), "instance parameters")?,
        "shared": false,
        "root_instance_title": slot.root_title(),
        "ip_list": ip_list(addresses),
        "full_ip_list": [],
        "sla_parameters": {},
        "computer_guid": slot.computer_reference,
        "compute_partition_id": slot.reference,
        "processing_timestamp": whole_seconds(slot.timestamp),
        "access_status_message": "",
    }))
}

/// The document of a shared instance hosted by `host`, with its entry of
/// the host's list (parameters keep their original types).
///
/// # Errors
/// A stored XML the master cannot read.
pub(super) fn shared_document(shared: &SharedRow, host: &SlotRow, entry: &Value) -> Result<serde_json::Value, StoreError> {
    let (title, requested_by) = split_shared_reference(&shared.reference);
    Ok(json!({
        "title": title,
        "instance_guid": InstanceGuid::new(&title, &requested_by, true).to_string(),
        "software_release_uri": host.software_release.clone().unwrap_or_default(),
        "software_type": host.software_type.clone().unwrap_or_default(),
        "state": "started",
        "connection_parameters": xml_object(shared.connection_xml.as_deref(), "connection parameters")?,
        "parameters": entry_parameters(entry),
        "shared": true,
        "root_instance_title": if requested_by.is_empty() { &title } else { &requested_by },
        "ip_list": [],
        "full_ip_list": [],
        "sla_parameters": {},
        "computer_guid": host.computer_reference,
        "compute_partition_id": host.reference,
        "processing_timestamp": whole_seconds(host.timestamp),
        "access_status_message": "",
    }))
}

/// A host list entry's parameters as JSON, with their original types.
pub(super) fn entry_parameters(entry: &Value) -> serde_json::Value {
    json_of(&Value::Dict(lookup::entry_parameters(entry)))
}

/// A timestamp truncated to whole seconds, 0 when never set.
pub(super) fn whole_seconds(timestamp: Option<f64>) -> i64 {
    // Truncation is what the API promises; timestamps are epoch seconds,
    // far inside i64.
    timestamp.map_or(0, |t| t.trunc() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_round_trip_and_read_like_python() {
        let guid = InstanceGuid::new("child", "root", false);
        assert_eq!(guid.to_string(), "child___root___0");
        assert_eq!(InstanceGuid::parse("child___root___0").expect("valid"), guid);
        assert_eq!(InstanceGuid::parse("MyFirstInstance______0").expect("valid"), InstanceGuid::new("MyFirstInstance", "", false));
        assert!(InstanceGuid::parse("s______1").expect("valid").shared);
        assert!(InstanceGuid::parse("s___ ___ +2 ").expect("valid").shared);
        assert!(!InstanceGuid::parse("s______-0").expect("valid").shared);
        for bad in ["foo", "a___b", "a___b___", "a___b___x", "a___b___1___0"] {
            let error = InstanceGuid::parse(bad).expect_err(bad);
            assert_eq!(error.title, format!("instance_guid {bad} not handled."));
        }
    }

    #[test]
    fn shared_references_split_at_the_first_underscore() {
        assert_eq!(split_shared_reference("_front"), ("front".to_owned(), String::new()));
        assert_eq!(split_shared_reference("root_front_end"), ("front_end".to_owned(), "root".to_owned()));
        assert_eq!(InstanceGuid::new("front", "root", true).shared_reference(), "root_front");
    }

    #[test]
    fn marshalled_values_become_json() {
        let value = Value::dict_from([
            ("n", Value::None),
            ("i", Value::Int(3)),
            ("t", Value::Tuple(vec![Value::str("a"), Value::Bool(true)])),
        ]);
        assert_eq!(json_of(&value), json!({"n": null, "i": 3, "t": ["a", true]}));
    }

    #[test]
    fn entry_parameters_drop_bookkeeping() {
        let entry = Value::dict_from([
            ("slave_title", Value::str("_s")),
            ("slap_software_type", Value::str("default")),
            ("slave_reference", Value::str("_s")),
            ("port", Value::Int(8080)),
        ]);
        assert_eq!(entry_parameters(&entry), json!({"port": 8080}));
        assert_eq!(whole_seconds(Some(12.9)), 12);
        assert_eq!(whole_seconds(None), 0);
    }
}
