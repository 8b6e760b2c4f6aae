//! The object layouts of `getFullComputerInformation` and
//! `registerComputerPartition` (spec §3.1), written once, from borrowed
//! fields, into any [`Sink`]: the master streams them into a
//! [`Writer`](crate::marshal::Writer) without building a [`Value`] tree, and
//! the typed documents' `to_value` builds the tree from the same code.
//!
//! A sink takes dict items in marshal order, so every attribute list here is
//! written sorted by code point (`_computer_id` < `_connection_dict` < …);
//! the documents' tests check the streamed bytes against `encode`, which
//! sorts.

use crate::marshal::{Class, Container, Sink, WriteValue};

#[cfg(doc)]
use crate::marshal::Value;

/// A `SoftwareRelease(url, computer_guid)` object, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseFields<'a> {
    /// `_software_release`.
    pub url: &'a str,
    /// `_computer_guid`.
    pub computer_id: &'a str,
    /// `_requested_state`, written only when set (the supply list sets it).
    pub requested_state: Option<&'a str>,
}

impl ReleaseFields<'_> {
    /// Writes the object.
    pub fn write(&self, sink: &mut dyn Sink) {
        sink.begin(Container::Object(Class::SoftwareRelease));
        sink.begin(Container::Tuple);
        sink.string(self.url);
        sink.string(self.computer_id);
        sink.end();
        sink.begin(Container::Dict);
        sink.string("_computer_guid");
        sink.string(self.computer_id);
        if let Some(requested_state) = self.requested_state {
            sink.string("_requested_state");
            sink.string(requested_state);
        }
        sink.string("_software_instance_list");
        sink.begin(Container::List);
        sink.end();
        sink.string("_software_release");
        sink.string(self.url);
        sink.end();
        sink.end();
    }
}

/// A `ComputerPartition(computer_id, partition_id, None)` object, borrowed;
/// the two dicts are written by the caller's [`WriteValue`] (a [`Value`]
/// works), which must write one dict with its keys in marshal order.
#[derive(Clone, Copy)]
pub struct PartitionFields<'a> {
    /// `_computer_id`.
    pub computer_id: &'a str,
    /// `_partition_id`.
    pub partition_id: &'a str,
    /// `_instance_guid`.
    pub instance_guid: &'a str,
    /// `_requested_state`.
    pub requested_state: &'a str,
    /// `_need_modification` (`1` or `0`).
    pub need_modification: bool,
    /// `_software_release_document`, `None` for a free slot.
    pub software_release: Option<ReleaseFields<'a>>,
    /// `_parameter_dict`, absent when `None`.
    pub parameters: Option<&'a dyn WriteValue>,
    /// `_connection_dict`, absent when `None`.
    pub connection: Option<&'a dyn WriteValue>,
}

impl PartitionFields<'_> {
    /// Writes the object.
    pub fn write(&self, sink: &mut dyn Sink) {
        sink.begin(Container::Object(Class::ComputerPartition));
        sink.begin(Container::Tuple);
        sink.string(self.computer_id);
        sink.string(self.partition_id);
        sink.none();
        sink.end();
        sink.begin(Container::Dict);
        sink.string("_computer_id");
        sink.string(self.computer_id);
        if let Some(connection) = self.connection {
            sink.string("_connection_dict");
            connection.write_value(sink);
        }
        sink.string("_instance_guid");
        sink.string(self.instance_guid);
        sink.string("_need_modification");
        sink.int(i128::from(self.need_modification));
        if let Some(parameters) = self.parameters {
            sink.string("_parameter_dict");
            parameters.write_value(sink);
        }
        sink.string("_partition_id");
        sink.string(self.partition_id);
        sink.string("_request_dict");
        sink.none();
        sink.string("_requested_state");
        sink.string(self.requested_state);
        sink.string("_software_release_document");
        match &self.software_release {
            Some(release) => release.write(sink),
            None => sink.none(),
        }
        sink.end();
        sink.end();
    }
}

/// A `Computer(computer_id)` object written piecewise, so that partitions
/// can be written as their rows arrive: [`begin`](ComputerWriter::begin),
/// each partition (e.g. [`PartitionFields::write`]), then
/// [`finish`](ComputerWriter::finish) with the supply list.
#[derive(Debug)]
#[must_use = "a computer document is complete only after finish"]
pub struct ComputerWriter {
    _private: (),
}

impl ComputerWriter {
    /// Writes the object up to its open `_computer_partition_list`.
    pub fn begin(sink: &mut dyn Sink, computer_id: &str) -> ComputerWriter {
        sink.begin(Container::Object(Class::Computer));
        sink.begin(Container::Tuple);
        sink.string(computer_id);
        sink.end();
        sink.begin(Container::Dict);
        sink.string("_computer_id");
        sink.string(computer_id);
        sink.string("_computer_partition_list");
        sink.begin(Container::List);
        ComputerWriter { _private: () }
    }

    /// Closes the partition list, writes `_software_release_list`, and
    /// closes the object.
    pub fn finish<'a>(self, sink: &mut dyn Sink, releases: impl IntoIterator<Item = ReleaseFields<'a>>) {
        sink.end();
        sink.string("_software_release_list");
        sink.begin(Container::List);
        for release in releases {
            release.write(sink);
        }
        sink.end();
        sink.end();
        sink.end();
    }
}
