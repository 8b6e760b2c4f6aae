//! Store rows rendered as the protocol's documents (§3.1, §3.2): what the
//! node and the client unmarshal. Pure: rows in, values out.

use proto::documents::{ComputerDoc, ComputerPartitionDoc, SoftwareReleaseDoc};
use proto::{Class, Value};

use crate::store::{AddressRow, SharedRow, SlotRow, SoftwareRow};

use super::error::ApiError;

/// Python's `str(float)`, which nodes store and compare.
pub(super) fn timestamp_string(timestamp: f64) -> String {
    proto::python_repr::float_repr(timestamp)
}

/// Instance XML decoded as the proxy's `xml2dict` does, as marshal values
/// (an empty parameter becomes `None`).
pub(super) fn xml_dict(xml: Option<&str>, what: &str) -> Result<Vec<(String, Value)>, ApiError> {
    let Some(xml) = xml.filter(|x| !x.is_empty()) else {
        return Ok(Vec::new());
    };
    let decoded = proto::instance_xml::decode(xml)
        .map_err(|error| ApiError::Store(crate::store::StoreError::Corrupted {
            table: "partition_slot",
            detail: format!("{what}: {error}"),
        }))?;
    Ok(decoded.into_iter().map(|(k, v)| (k, v.map_or(Value::None, Value::String))).collect())
}

/// `[(interface, address), …]` as the node expects it.
pub(super) fn ip_list(addresses: &[AddressRow]) -> Value {
    Value::List(
        addresses
            .iter()
            .map(|a| Value::Tuple(vec![Value::str(a.interface.as_str()), Value::str(a.address.as_str())]))
            .collect(),
    )
}

/// A slot as a `ComputerPartition` document; free slots carry no
/// parameters and ask to be destroyed, so nodes skip them.
pub(super) fn partition(slot: &SlotRow, addresses: &[AddressRow]) -> Result<ComputerPartitionDoc, ApiError> {
    let mut doc = ComputerPartitionDoc {
        computer_id: slot.computer_reference.clone(),
        partition_id: slot.reference.clone(),
        instance_guid: format!("{}-{}", slot.computer_reference, slot.reference),
        requested_state: "destroyed".into(),
        need_modification: false,
        software_release: None,
        parameters: None,
        connection: None,
    };
    let Some(url) = slot.software_release.as_deref().filter(|u| !u.is_empty()) else {
        return Ok(doc);
    };
    let mut parameters = xml_dict(slot.parameter_xml.as_deref(), "instance parameters")?;
    let title = slot.title.clone().unwrap_or_default();
    let extra = [
        ("ip_list", ip_list(addresses)),
        ("full_address_list", Value::List(Vec::new())),
        ("slap_software_type", slot.software_type.clone().map_or(Value::None, Value::String)),
        ("instance_title", Value::str(title.as_str())),
        ("root_instance_title", Value::str(slot.root_title())),
        ("slap_computer_id", Value::str(slot.computer_reference.as_str())),
        ("slap_computer_partition_id", Value::str(slot.reference.as_str())),
        ("slap_software_release_url", Value::str(url)),
        ("slave_instance_list", Value::List(crate::store::shared::host_list(slot)?)),
    ];
    for (key, value) in extra {
        set(&mut parameters, key, value);
    }
    if let Some(timestamp) = slot.timestamp.filter(|t| *t != 0.0) {
        set(&mut parameters, "timestamp", Value::String(timestamp_string(timestamp)));
    }
    doc.requested_state = slot.requested_state.clone();
    doc.need_modification = true;
    doc.software_release = Some(SoftwareReleaseDoc {
        url: url.to_owned(),
        computer_id: slot.computer_reference.clone(),
        requested_state: None,
    });
    doc.parameters = Some(parameters);
    doc.connection = Some(xml_dict(slot.connection_xml.as_deref(), "connection parameters")?);
    Ok(doc)
}

fn set(dict: &mut Vec<(String, Value)>, key: &str, value: Value) {
    match dict.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value,
        None => dict.push((key.to_owned(), value)),
    }
}

/// A computer as the node sees it.
pub(super) fn computer(
    reference: &str,
    software: &[SoftwareRow],
    partitions: Vec<ComputerPartitionDoc>,
) -> ComputerDoc {
    ComputerDoc {
        computer_id: reference.to_owned(),
        software_releases: software
            .iter()
            .map(|row| SoftwareReleaseDoc {
                url: row.url.clone(),
                computer_id: reference.to_owned(),
                requested_state: Some(row.requested_state.clone()),
            })
            .collect(),
        partitions,
    }
}

fn software_instance(state: Vec<(&str, Value)>) -> Value {
    Value::object(
        Class::SoftwareInstance,
        Vec::new(),
        state.into_iter().map(|(k, v)| (Value::str(k), v)).collect(),
    )
}

fn dict(entries: Vec<(String, Value)>) -> Value {
    Value::Dict(entries.into_iter().map(|(k, v)| (Value::String(k), v)).collect())
}

/// The answer to a request for an instance (§3.2).
pub(super) fn requested_instance(slot: &SlotRow, addresses: &[AddressRow], answered_state: &str) -> Result<Value, ApiError> {
    let mut parameters = xml_dict(slot.parameter_xml.as_deref(), "instance parameters")?;
    let timestamp = slot.timestamp.map_or_else(|| "None".to_owned(), timestamp_string);
    set(&mut parameters, "timestamp", Value::String(timestamp));
    Ok(software_instance(vec![
        ("_connection_dict", dict(xml_dict(slot.connection_xml.as_deref(), "connection parameters")?)),
        ("_parameter_dict", dict(parameters)),
        ("connection_xml", slot.connection_xml.clone().map_or(Value::None, Value::String)),
        ("slap_computer_id", Value::str(slot.computer_reference.as_str())),
        ("slap_computer_partition_id", Value::str(slot.reference.as_str())),
        ("slap_software_release_url", slot.software_release.clone().map_or(Value::None, Value::String)),
        ("slap_server_url", Value::str("slap_server_url")),
        ("slap_software_type", slot.software_type.clone().map_or(Value::None, Value::String)),
        ("_instance_guid", Value::String(format!("{}-{}", slot.computer_reference, slot.reference))),
        ("_requested_state", Value::str(answered_state)),
        ("ip_list", ip_list(addresses)),
    ]))
}

/// The answer to a request for a shared instance (§3.2): the host's ids,
/// no state, no guid, no timestamp.
pub(super) fn requested_shared(
    host: &SlotRow,
    addresses: &[AddressRow],
    shared: &SharedRow,
    parameter_xml: &str,
) -> Result<Value, ApiError> {
    Ok(software_instance(vec![
        ("_connection_dict", dict(xml_dict(shared.connection_xml.as_deref(), "connection parameters")?)),
        ("_parameter_dict", dict(xml_dict(Some(parameter_xml), "shared parameters")?)),
        ("slap_computer_id", Value::str(host.computer_reference.as_str())),
        ("slap_computer_partition_id", Value::str(shared.hosted_by.as_str())),
        ("slap_software_release_url", host.software_release.clone().map_or(Value::None, Value::String)),
        ("slap_server_url", Value::str("slap_server_url")),
        ("slap_software_type", host.software_type.clone().map_or(Value::None, Value::String)),
        ("ip_list", ip_list(addresses)),
    ]))
}

/// The answer to a shared request the proxy fakes for well-known frontends
/// (§7.3): a `ComputerPartition('', id)` carrying connection parameters.
pub(super) fn fake_frontend(partition_id: &str, connection: Vec<(String, Value)>) -> Value {
    Value::object(
        Class::ComputerPartition,
        vec![Value::str(""), Value::str(partition_id), Value::None],
        vec![
            (Value::str("_computer_id"), Value::str("")),
            (Value::str("_partition_id"), Value::str(partition_id)),
            (Value::str("_request_dict"), Value::None),
            (Value::str("slap_computer_id"), Value::str("")),
            (Value::str("slap_computer_partition_id"), Value::str("")),
            (Value::str("_parameter_dict"), Value::Dict(Vec::new())),
            (Value::str("_connection_dict"), dict(connection)),
        ],
    )
}
