//! Typed views of the marshalled objects of the classic API (spec §3.1,
//! §3.2): what `getFullComputerInformation`, `registerComputerPartition` and
//! `requestComputerPartition` answer.
//!
//! `to_value` builds exactly the object the proxy builds (same initargs,
//! same attributes; the encoder sorts attributes, and `to_value` lists them
//! in that sorted order so a decoded document compares equal). `from_value`
//! reads a document from any master, ignoring attributes it does not know.
//! The layouts live in `layout`, written once against
//! [`Sink`](crate::marshal::Sink): a master streams them from borrowed rows
//! into a [`Writer`](crate::marshal::Writer), `to_value` builds the tree.
//!
//! Real-library facts beyond the spec: a `SoftwareRelease` has a
//! `_requested_state` attribute only when the proxy sets one — those of
//! `_software_release_list` do, the `_software_release_document` of a
//! partition does not; and a connection dict read back from instance XML
//! may hold `None` values (empty elements).

mod layout;
#[cfg(test)]
mod tests;

pub use layout::{ComputerWriter, PartitionFields, ReleaseFields};

use crate::marshal::{Class, Object, Sink, Value, ValueBuilder, WriteValue};

/// The value `write` writes into a [`ValueBuilder`].
fn build(write: impl FnOnce(&mut dyn Sink)) -> Value {
    let mut builder = ValueBuilder::new();
    write(&mut builder);
    builder.finish()
}

/// Why a value is not the expected document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Not an object of the expected class.
    #[error("expected a {expected} object, found {found}")]
    WrongClass {
        /// The class wanted.
        expected: &'static str,
        /// The Python type name found.
        found: String,
    },
    /// A required attribute (or constructor argument) is absent.
    #[error("{class} has no {key}")]
    MissingKey {
        /// The class.
        class: &'static str,
        /// The attribute.
        key: &'static str,
    },
    /// An attribute has the wrong Python type.
    #[error("{class}.{key} must be {expected}, not {found}")]
    WrongType {
        /// The class.
        class: &'static str,
        /// The attribute (or `items of …`).
        key: String,
        /// The type wanted.
        expected: &'static str,
        /// The Python type name found.
        found: String,
    },
}

fn object_of(value: &Value, class: Class) -> Result<&Object, DocumentError> {
    match value {
        Value::Object(object) if object.class == class => Ok(object),
        _ => Err(DocumentError::WrongClass {
            expected: class.name(),
            found: value.type_name().to_owned(),
        }),
    }
}

fn wrong_type(class: Class, key: &str, expected: &'static str, found: &Value) -> DocumentError {
    DocumentError::WrongType {
        class: class.name(),
        key: key.to_owned(),
        expected,
        found: found.type_name().to_owned(),
    }
}

/// A string attribute, falling back to constructor argument `initarg`.
fn string_attribute(
    object: &Object,
    key: &'static str,
    initarg: Option<usize>,
) -> Result<String, DocumentError> {
    let found = object
        .attribute(key)
        .or_else(|| initarg.and_then(|index| object.initargs.get(index)));
    match found {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Err(wrong_type(object.class, key, "str", other)),
        None => Err(DocumentError::MissingKey {
            class: object.class.name(),
            key,
        }),
    }
}

/// An optional string attribute: absent and `None` both read as `None`.
fn optional_string(object: &Object, key: &'static str) -> Result<Option<String>, DocumentError> {
    match object.attribute(key) {
        None | Some(Value::None) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(wrong_type(object.class, key, "str or None", other)),
    }
}

/// An optional string-keyed dict attribute.
fn optional_dict(
    object: &Object,
    key: &'static str,
) -> Result<Option<Vec<(String, Value)>>, DocumentError> {
    match object.attribute(key) {
        None | Some(Value::None) => Ok(None),
        Some(Value::Dict(items)) => items
            .iter()
            .map(|(name, item)| match name {
                Value::String(name) => Ok((name.clone(), item.clone())),
                other => Err(wrong_type(
                    object.class,
                    &format!("keys of {key}"),
                    "str",
                    other,
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(wrong_type(object.class, key, "dict", other)),
    }
}

fn list_attribute<'o>(object: &'o Object, key: &'static str) -> Result<&'o [Value], DocumentError> {
    match object.attribute(key) {
        None => Ok(&[]),
        Some(Value::List(items) | Value::Tuple(items)) => Ok(items),
        Some(other) => Err(wrong_type(object.class, key, "list", other)),
    }
}

fn string_dict(items: &[(String, Value)]) -> Value {
    Value::dict_from(
        items
            .iter()
            .map(|(key, value)| (key.clone(), value.clone())),
    )
}

/// `SoftwareRelease(url, computer_guid)`: a software release supplied to a
/// compute node (in `_software_release_list`) or the release of a
/// partition (`_software_release_document`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SoftwareReleaseDoc {
    /// The software release URL (`_software_release`).
    pub url: String,
    /// The compute node (`_computer_guid`).
    pub computer_id: String,
    /// `available` or `destroyed` (`_requested_state`); only set in the
    /// compute node's supply list.
    pub requested_state: Option<String>,
}

impl SoftwareReleaseDoc {
    /// The fields as written.
    pub fn fields(&self) -> ReleaseFields<'_> {
        ReleaseFields {
            url: &self.url,
            computer_id: &self.computer_id,
            requested_state: self.requested_state.as_deref(),
        }
    }

    /// The marshalled object.
    pub fn to_value(&self) -> Value {
        build(|sink| self.fields().write(sink))
    }

    /// Reads a `SoftwareRelease` object.
    ///
    /// # Errors
    ///
    /// [`DocumentError`] when it is not one or lacks its URL or computer.
    pub fn from_value(value: &Value) -> Result<SoftwareReleaseDoc, DocumentError> {
        let object = object_of(value, Class::SoftwareRelease)?;
        Ok(SoftwareReleaseDoc {
            url: string_attribute(object, "_software_release", Some(0))?,
            computer_id: string_attribute(object, "_computer_guid", Some(1))?,
            requested_state: optional_string(object, "_requested_state")?,
        })
    }
}

/// `ComputerPartition(computer_id, partition_id, None)`: one slot of a
/// compute node, free or allocated (spec §3.1 table).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ComputerPartitionDoc {
    /// The compute node (`_computer_id`).
    pub computer_id: String,
    /// The slot, e.g. `slappart0` (`_partition_id`).
    pub partition_id: String,
    /// `<computer>-<slot>` (`_instance_guid`).
    pub instance_guid: String,
    /// `started`, `stopped` or `destroyed` (`_requested_state`).
    pub requested_state: String,
    /// `1` when allocated (`_need_modification`).
    pub need_modification: bool,
    /// The release to run, `None` for a free slot (`_software_release_document`).
    pub software_release: Option<SoftwareReleaseDoc>,
    /// Instance parameters plus the bookkeeping keys (`_parameter_dict`),
    /// absent on a free slot.
    pub parameters: Option<Vec<(String, Value)>>,
    /// Published connection parameters (`_connection_dict`).
    pub connection: Option<Vec<(String, Value)>>,
}

impl ComputerPartitionDoc {
    /// Writes the object into `sink`.
    pub fn write(&self, sink: &mut dyn Sink) {
        let parameters = self.parameters.as_deref().map(string_dict);
        let connection = self.connection.as_deref().map(string_dict);
        PartitionFields {
            computer_id: &self.computer_id,
            partition_id: &self.partition_id,
            instance_guid: &self.instance_guid,
            requested_state: &self.requested_state,
            need_modification: self.need_modification,
            software_release: self.software_release.as_ref().map(SoftwareReleaseDoc::fields),
            parameters: parameters.as_ref().map(|dict| dict as &dyn WriteValue),
            connection: connection.as_ref().map(|dict| dict as &dyn WriteValue),
        }
        .write(sink);
    }

    /// The marshalled object.
    pub fn to_value(&self) -> Value {
        build(|sink| self.write(sink))
    }

    /// Reads a `ComputerPartition` object. A missing `_instance_guid` reads
    /// as empty, a missing `_need_modification` as false.
    ///
    /// # Errors
    ///
    /// [`DocumentError`] when it is not one, lacks its ids or requested
    /// state, or an attribute has the wrong type.
    pub fn from_value(value: &Value) -> Result<ComputerPartitionDoc, DocumentError> {
        let object = object_of(value, Class::ComputerPartition)?;
        let need_modification = match object.attribute("_need_modification") {
            None => false,
            Some(Value::Bool(flag)) => *flag,
            Some(Value::Int(number)) => *number != 0,
            Some(other) => {
                return Err(wrong_type(object.class, "_need_modification", "int", other))
            }
        };
        let software_release = match object.attribute("_software_release_document") {
            None | Some(Value::None) => None,
            Some(release) => Some(SoftwareReleaseDoc::from_value(release)?),
        };
        Ok(ComputerPartitionDoc {
            computer_id: string_attribute(object, "_computer_id", Some(0))?,
            partition_id: string_attribute(object, "_partition_id", Some(1))?,
            instance_guid: optional_string(object, "_instance_guid")?.unwrap_or_default(),
            requested_state: string_attribute(object, "_requested_state", None)?,
            need_modification,
            software_release,
            parameters: optional_dict(object, "_parameter_dict")?,
            connection: optional_dict(object, "_connection_dict")?,
        })
    }
}

/// `Computer(computer_id)`: the answer of `getFullComputerInformation`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ComputerDoc {
    /// The compute node (`_computer_id`).
    pub computer_id: String,
    /// Supplied releases in supply order (`_software_release_list`).
    pub software_releases: Vec<SoftwareReleaseDoc>,
    /// Slots in format order (`_computer_partition_list`).
    pub partitions: Vec<ComputerPartitionDoc>,
}

impl ComputerDoc {
    /// The marshalled object.
    pub fn to_value(&self) -> Value {
        build(|sink| {
            let computer = ComputerWriter::begin(sink, &self.computer_id);
            for partition in &self.partitions {
                partition.write(sink);
            }
            computer.finish(sink, self.software_releases.iter().map(SoftwareReleaseDoc::fields));
        })
    }

    /// Reads a `Computer` object; absent lists read as empty.
    ///
    /// # Errors
    ///
    /// [`DocumentError`] when it is not one or an item is malformed.
    pub fn from_value(value: &Value) -> Result<ComputerDoc, DocumentError> {
        let object = object_of(value, Class::Computer)?;
        Ok(ComputerDoc {
            computer_id: string_attribute(object, "_computer_id", Some(0))?,
            software_releases: list_attribute(object, "_software_release_list")?
                .iter()
                .map(SoftwareReleaseDoc::from_value)
                .collect::<Result<_, _>>()?,
            partitions: list_attribute(object, "_computer_partition_list")?
                .iter()
                .map(ComputerPartitionDoc::from_value)
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `SoftwareInstance()`: the answer of `requestComputerPartition`, a bag of
/// attributes the client copies onto a `ComputerPartition` (spec §3.2).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SoftwareInstanceDoc {
    /// The attributes in order (the encoder sorts them on the wire).
    pub attributes: Vec<(String, Value)>,
}

impl SoftwareInstanceDoc {
    /// An instance without attributes.
    pub fn new() -> SoftwareInstanceDoc {
        SoftwareInstanceDoc::default()
    }

    /// Sets attribute `key`, replacing an existing one in place.
    pub fn set(&mut self, key: impl Into<String>, value: Value) -> &mut SoftwareInstanceDoc {
        let key = key.into();
        match self
            .attributes
            .iter_mut()
            .find(|(existing, _)| *existing == key)
        {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((key, value)),
        }
        self
    }

    /// Attribute `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|(existing, _)| existing == key)
            .map(|(_, value)| value)
    }

    fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// `_connection_dict`: the published connection parameters.
    pub fn connection_dict(&self) -> Option<&Value> {
        self.get("_connection_dict")
    }

    /// `_parameter_dict`: the instance parameters as stored.
    pub fn parameter_dict(&self) -> Option<&Value> {
        self.get("_parameter_dict")
    }

    /// `slap_computer_id`: the compute node hosting the instance.
    pub fn computer_id(&self) -> Option<&str> {
        self.get_str("slap_computer_id")
    }

    /// `slap_computer_partition_id`: the slot (the host slot for a shared
    /// instance).
    pub fn partition_id(&self) -> Option<&str> {
        self.get_str("slap_computer_partition_id")
    }

    /// `_requested_state`; absent for a shared instance.
    pub fn requested_state(&self) -> Option<&str> {
        self.get_str("_requested_state")
    }

    /// `_instance_guid`; absent for a shared instance.
    pub fn instance_guid(&self) -> Option<&str> {
        self.get_str("_instance_guid")
    }

    /// The marshalled object (`SoftwareInstance`, no initargs).
    pub fn to_value(&self) -> Value {
        let pairs = self
            .attributes
            .iter()
            .map(|(key, value)| (Value::str(key), value.clone()))
            .collect();
        Value::object(Class::SoftwareInstance, Vec::new(), pairs)
    }

    /// Reads a `SoftwareInstance` object, or the `ComputerPartition` a
    /// forwarding master may answer with: either way its attributes.
    ///
    /// # Errors
    ///
    /// [`DocumentError::WrongClass`] for anything else.
    pub fn from_value(value: &Value) -> Result<SoftwareInstanceDoc, DocumentError> {
        let object = match value {
            Value::Object(object)
                if matches!(
                    object.class,
                    Class::SoftwareInstance | Class::ComputerPartition
                ) =>
            {
                object
            }
            _ => {
                return Err(DocumentError::WrongClass {
                    expected: Class::SoftwareInstance.name(),
                    found: value.type_name().to_owned(),
                })
            }
        };
        let attributes = object
            .state
            .iter()
            .filter_map(|(key, value)| key.as_str().map(|key| (key.to_owned(), value.clone())))
            .collect();
        Ok(SoftwareInstanceDoc { attributes })
    }
}
