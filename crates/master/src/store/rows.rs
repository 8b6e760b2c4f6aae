//! Rows of the master's tables as plain structs, and their decoding from
//! sqlx rows (by hand: the derive macros would cost a proc-macro build).

use sqlx::any::AnyRow;
use sqlx::Row;

use super::StoreError;

/// A compute node (wire: computer) as formatted.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputerRow {
    /// Its reference, e.g. `COMP-123`.
    pub reference: String,
    /// Address sent by format, if any.
    pub address: Option<String>,
    /// Netmask sent by format, if any.
    pub netmask: Option<String>,
    /// The network it belongs to, if any (SLA `network_guid`).
    pub network: Option<String>,
}

/// A software installation: a release a computer must supply or remove.
#[derive(Debug, Clone, PartialEq)]
pub struct SoftwareRow {
    /// The software release URL.
    pub url: String,
    /// The computer that supplies it.
    pub computer_reference: String,
    /// `available` or `destroyed`.
    pub requested_state: String,
}

/// A partition slot and, when busy, the instance allocated to it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotRow {
    /// The computer the slot belongs to.
    pub computer_reference: String,
    /// The slot id, e.g. `slappart3`.
    pub reference: String,
    /// Whether an instance is allocated here.
    pub busy: bool,
    /// Software release URL of the instance.
    pub software_release: Option<String>,
    /// Software type of the instance.
    pub software_type: Option<String>,
    /// Instance title.
    pub title: Option<String>,
    /// Title of the root of its instance tree, `''` for a root.
    pub requested_by: String,
    /// Slot id of the direct requester, `user` or `''`.
    pub requester_id: String,
    /// `started`, `stopped` or `destroyed`.
    pub requested_state: String,
    /// Instance parameters as instance XML.
    pub parameter_xml: Option<String>,
    /// Published connection parameters as instance XML.
    pub connection_xml: Option<String>,
    /// Hosted shared instances, as a marshalled list of dicts.
    pub shared_instance_list: Option<String>,
    /// Seconds since the epoch of the last change the node must process.
    pub timestamp: Option<f64>,
}

impl SlotRow {
    /// The title of the root of this instance's tree (its own for a root).
    pub fn root_title(&self) -> &str {
        if self.requested_by.is_empty() {
            self.title.as_deref().unwrap_or("")
        } else {
            &self.requested_by
        }
    }

    /// Whether the slot has a software release, which is what "allocated"
    /// means to the node.
    pub fn is_allocated(&self) -> bool {
        self.software_release.as_deref().is_some_and(|url| !url.is_empty())
    }
}

/// One network address of a slot.
#[derive(Debug, Clone, PartialEq)]
pub struct AddressRow {
    /// Interface name (format's `tap.name`).
    pub interface: String,
    /// The address.
    pub address: String,
    /// Its netmask.
    pub netmask: String,
}

/// A shared (slave) instance: no slot of its own, hosted by a busy slot.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedRow {
    /// `<root title>_<title>` (`_<title>` for a user request).
    pub reference: String,
    /// Computer of the host slot.
    pub computer_reference: String,
    /// The host slot id.
    pub hosted_by: String,
    /// Connection parameters published for it, as instance XML.
    pub connection_xml: Option<String>,
    /// Slot id of the direct requester.
    pub requester_id: String,
}

pub(super) const SLOT_COLUMNS: &str = "computer_reference, reference, busy, software_release, \
    software_type, title, requested_by, requester_id, requested_state, parameter_xml, \
    connection_xml, shared_instance_list, timestamp_s";

pub(super) fn slot(row: &AnyRow) -> Result<SlotRow, StoreError> {
    Ok(SlotRow {
        computer_reference: row.try_get("computer_reference")?,
        reference: row.try_get("reference")?,
        busy: row.try_get::<i64, _>("busy")? != 0,
        software_release: row.try_get("software_release")?,
        software_type: row.try_get("software_type")?,
        title: row.try_get("title")?,
        requested_by: row.try_get("requested_by")?,
        requester_id: row.try_get("requester_id")?,
        requested_state: row.try_get("requested_state")?,
        parameter_xml: row.try_get("parameter_xml")?,
        connection_xml: row.try_get("connection_xml")?,
        shared_instance_list: row.try_get("shared_instance_list")?,
        timestamp: row.try_get("timestamp_s")?,
    })
}

pub(super) const SHARED_COLUMNS: &str =
    "reference, computer_reference, hosted_by, connection_xml, requester_id";

pub(super) fn shared(row: &AnyRow) -> Result<SharedRow, StoreError> {
    Ok(SharedRow {
        reference: row.try_get("reference")?,
        computer_reference: row.try_get("computer_reference")?,
        hosted_by: row.try_get("hosted_by")?,
        connection_xml: row.try_get("connection_xml")?,
        requester_id: row.try_get("requester_id")?,
    })
}

pub(super) fn address(row: &AnyRow) -> Result<AddressRow, StoreError> {
    Ok(AddressRow {
        interface: row.try_get("interface")?,
        address: row.try_get("address")?,
        netmask: row.try_get("netmask")?,
    })
}

pub(super) fn computer(row: &AnyRow) -> Result<ComputerRow, StoreError> {
    Ok(ComputerRow {
        reference: row.try_get("reference")?,
        address: row.try_get("address")?,
        netmask: row.try_get("netmask")?,
        network: row.try_get("network")?,
    })
}

pub(super) fn software(row: &AnyRow) -> Result<SoftwareRow, StoreError> {
    Ok(SoftwareRow {
        url: row.try_get("url")?,
        computer_reference: row.try_get("computer_reference")?,
        requested_state: row.try_get("requested_state")?,
    })
}
