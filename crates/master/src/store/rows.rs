//! Rows of the master's tables as plain structs, and their decoding from
//! query rows, column by column in the order of the `*_COLUMNS` lists.

use super::sql::Row;
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

pub(super) fn slot(mut row: Row) -> Result<SlotRow, StoreError> {
    Ok(SlotRow {
        computer_reference: row.text(0)?,
        reference: row.text(1)?,
        busy: row.int(2)? != 0,
        software_release: row.opt_text(3)?,
        software_type: row.opt_text(4)?,
        title: row.opt_text(5)?,
        requested_by: row.text(6)?,
        requester_id: row.text(7)?,
        requested_state: row.text(8)?,
        parameter_xml: row.opt_text(9)?,
        connection_xml: row.opt_text(10)?,
        shared_instance_list: row.opt_text(11)?,
        timestamp: row.opt_real(12)?,
    })
}

pub(super) const SHARED_COLUMNS: &str =
    "reference, computer_reference, hosted_by, connection_xml, requester_id";

pub(super) fn shared(mut row: Row) -> Result<SharedRow, StoreError> {
    Ok(SharedRow {
        reference: row.text(0)?,
        computer_reference: row.text(1)?,
        hosted_by: row.text(2)?,
        connection_xml: row.opt_text(3)?,
        requester_id: row.text(4)?,
    })
}

/// Reads `interface, address, netmask`.
pub(super) fn address(mut row: Row) -> Result<AddressRow, StoreError> {
    Ok(AddressRow { interface: row.text(0)?, address: row.text(1)?, netmask: row.text(2)? })
}

/// Columns read by [`computer`].
pub(super) const COMPUTER_COLUMNS: &str = "reference, address, netmask, network";

pub(super) fn computer(mut row: Row) -> Result<ComputerRow, StoreError> {
    Ok(ComputerRow {
        reference: row.text(0)?,
        address: row.opt_text(1)?,
        netmask: row.opt_text(2)?,
        network: row.opt_text(3)?,
    })
}

/// Reads `url, computer_reference, requested_state`.
pub(super) fn software(mut row: Row) -> Result<SoftwareRow, StoreError> {
    Ok(SoftwareRow { url: row.text(0)?, computer_reference: row.text(1)?, requested_state: row.text(2)? })
}
