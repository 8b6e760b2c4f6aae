//! Store rows rendered as the protocol's documents (§3.1, §3.2): what the
//! node and the client unmarshal. Pure: rows in, values or text out.
//!
//! The node's documents (`getFullComputerInformation`, a 1.9 MB answer for
//! 1000 allocated slots) are streamed straight from the borrowed rows into a
//! [`Writer`] through the layouts of `proto::documents`: no `Value` tree, no
//! copy of the rows' strings.

use std::collections::{BTreeMap, HashMap};

use proto::documents::{ComputerWriter, PartitionFields, ReleaseFields};
use proto::marshal::{Container, Sink, ValueBuilder, WriteValue, Writer};
use proto::{Class, Value};

use crate::store::{AddressRow, SharedRow, SlotRow, SoftwareRow};

use super::error::ApiError;

/// Document bytes per slot besides its XML columns: a 1000-slot computer
/// with one parameter per instance takes about 1.9 kB per slot.
const PARTITION_BYTES_GUESS: usize = 2048;

/// Python's `str(float)`, which nodes store and compare.
pub(super) fn timestamp_string(timestamp: f64) -> String {
    proto::python_repr::float_repr(timestamp)
}

/// Instance XML decoded as the proxy's `xml2dict` does (an empty parameter
/// becomes `None`); absent or empty XML is an empty dict.
fn decode_xml(xml: Option<&str>, what: &str) -> Result<BTreeMap<String, Option<String>>, ApiError> {
    let Some(xml) = xml.filter(|x| !x.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    proto::instance_xml::decode(xml).map_err(|error| {
        ApiError::Store(crate::store::StoreError::Corrupted {
            table: "partition_slot",
            detail: format!("{what}: {error}"),
        })
    })
}

/// Instance XML decoded as the proxy's `xml2dict` does, as marshal values
/// (an empty parameter becomes `None`).
pub(super) fn xml_dict(xml: Option<&str>, what: &str) -> Result<Vec<(String, Value)>, ApiError> {
    Ok(decode_xml(xml, what)?.into_iter().map(|(k, v)| (k, v.map_or(Value::None, Value::String))).collect())
}

/// One value of a [`StreamedDict`], borrowed from the rows.
enum Item<'a> {
    /// A `str`.
    Text(&'a str),
    /// `None`.
    Nothing,
    /// `[(interface, address), …]`, as the node expects its `ip_list`.
    Addresses(&'a [AddressRow]),
    /// A list of values.
    List(&'a [Value]),
}

impl WriteValue for Item<'_> {
    fn write_value(&self, sink: &mut dyn Sink) {
        match self {
            Item::Text(text) => sink.string(text),
            Item::Nothing => sink.none(),
            Item::Addresses(addresses) => {
                sink.begin(Container::List);
                for address in *addresses {
                    sink.begin(Container::Tuple);
                    sink.string(&address.interface);
                    sink.string(&address.address);
                    sink.end();
                }
                sink.end();
            }
            Item::List(values) => {
                sink.begin(Container::List);
                for value in *values {
                    sink.value(value);
                }
                sink.end();
            }
        }
    }
}

/// A string-keyed dict of borrowed items, kept sorted by key (the marshal
/// order of string keys) so that it streams as it is.
struct StreamedDict<'a> {
    items: Vec<(&'a str, Item<'a>)>,
}

impl<'a> StreamedDict<'a> {
    /// Decoded instance XML (a `BTreeMap`, hence sorted already).
    fn of_instance_xml(decoded: &'a BTreeMap<String, Option<String>>) -> StreamedDict<'a> {
        let mut items = Vec::with_capacity(decoded.len() + 10);
        items.extend(decoded.iter().map(|(key, value)| (key.as_str(), value.as_deref().map_or(Item::Nothing, Item::Text))));
        StreamedDict { items }
    }

    /// Python's `dict[key] = item`.
    fn set(&mut self, key: &'a str, item: Item<'a>) {
        match self.items.binary_search_by(|(existing, _)| (*existing).cmp(key)) {
            Ok(index) => self.items[index].1 = item,
            Err(index) => self.items.insert(index, (key, item)),
        }
    }
}

impl WriteValue for StreamedDict<'_> {
    fn write_value(&self, sink: &mut dyn Sink) {
        sink.begin(Container::Dict);
        for (key, item) in &self.items {
            sink.string(key);
            item.write_value(sink);
        }
        sink.end();
    }
}

/// `[(interface, address), …]` as the node expects it.
pub(super) fn ip_list(addresses: &[AddressRow]) -> Value {
    let mut builder = ValueBuilder::new();
    Item::Addresses(addresses).write_value(&mut builder);
    builder.finish()
}

/// Writes a slot as a `ComputerPartition` document; free slots carry no
/// parameters and ask to be destroyed, so nodes skip them.
pub(super) fn write_partition(sink: &mut dyn Sink, slot: &SlotRow, addresses: &[AddressRow]) -> Result<(), ApiError> {
    let instance_guid = [slot.computer_reference.as_str(), "-", slot.reference.as_str()].concat();
    let mut fields = PartitionFields {
        computer_id: &slot.computer_reference,
        partition_id: &slot.reference,
        instance_guid: &instance_guid,
        requested_state: "destroyed",
        need_modification: false,
        software_release: None,
        parameters: None,
        connection: None,
    };
    let Some(url) = slot.software_release.as_deref().filter(|u| !u.is_empty()) else {
        fields.write(sink);
        return Ok(());
    };
    let decoded_parameters = decode_xml(slot.parameter_xml.as_deref(), "instance parameters")?;
    let shared = crate::store::shared::host_list(slot)?;
    let timestamp = slot.timestamp.filter(|t| *t != 0.0).map(timestamp_string);
    let mut parameters = StreamedDict::of_instance_xml(&decoded_parameters);
    let extra = [
        ("ip_list", Item::Addresses(addresses)),
        ("full_address_list", Item::List(&[])),
        ("slap_software_type", slot.software_type.as_deref().map_or(Item::Nothing, Item::Text)),
        ("instance_title", Item::Text(slot.title.as_deref().unwrap_or(""))),
        ("root_instance_title", Item::Text(slot.root_title())),
        ("slap_computer_id", Item::Text(&slot.computer_reference)),
        ("slap_computer_partition_id", Item::Text(&slot.reference)),
        ("slap_software_release_url", Item::Text(url)),
        ("slave_instance_list", Item::List(&shared)),
    ];
    for (key, item) in extra {
        parameters.set(key, item);
    }
    if let Some(timestamp) = &timestamp {
        parameters.set("timestamp", Item::Text(timestamp));
    }
    let decoded_connection = decode_xml(slot.connection_xml.as_deref(), "connection parameters")?;
    let connection = StreamedDict::of_instance_xml(&decoded_connection);
    fields.requested_state = &slot.requested_state;
    fields.need_modification = true;
    fields.software_release = Some(ReleaseFields { url, computer_id: &slot.computer_reference, requested_state: None });
    fields.parameters = Some(&parameters);
    fields.connection = Some(&connection);
    fields.write(sink);
    Ok(())
}

/// A computer as the node sees it, marshalled: its slots in format order
/// with their addresses (`addresses` by slot id), then its supply list.
pub(super) fn computer(
    reference: &str,
    software: &[SoftwareRow],
    slots: &[SlotRow],
    addresses: &HashMap<String, Vec<AddressRow>>,
) -> Result<String, ApiError> {
    let xml_bytes: usize = slots
        .iter()
        .map(|slot| {
            [&slot.parameter_xml, &slot.connection_xml, &slot.shared_instance_list]
                .into_iter()
                .map(|xml| xml.as_ref().map_or(0, String::len))
                .sum::<usize>()
        })
        .sum();
    let mut writer = Writer::with_capacity(512 + slots.len() * PARTITION_BYTES_GUESS + 2 * xml_bytes);
    let document = ComputerWriter::begin(&mut writer, reference);
    for slot in slots {
        let slot_addresses = addresses.get(&slot.reference).map_or(&[][..], Vec::as_slice);
        write_partition(&mut writer, slot, slot_addresses)?;
    }
    document.finish(
        &mut writer,
        software.iter().map(|row| ReleaseFields {
            url: &row.url,
            computer_id: reference,
            requested_state: Some(&row.requested_state),
        }),
    );
    Ok(writer.finish())
}

fn set(dict: &mut Vec<(String, Value)>, key: &str, value: Value) {
    match dict.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value,
        None => dict.push((key.to_owned(), value)),
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
