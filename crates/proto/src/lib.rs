//! Wire types of the SLAP protocol spoken between the master, nodes, clients
//! and instances: the xml_marshaller codec, instance-parameter XML, the
//! Computer / ComputerPartition / SoftwareRelease / SoftwareInstance
//! documents, SLA filters and the `X-SlapPartition` authorization header.
//!
//! Invariant: this crate never does I/O and depends on nothing of ours. Every
//! decoder returns an error for bad input and never panics, whatever the bytes.
//!
//! Compatibility reference: slapos.core 1.26.1, xml_marshaller 1.0.3, lxml
//! and Python 3.11 (whose `repr` and Unicode tables `python_repr` follows).

pub mod auth;
pub mod documents;
pub mod instance_xml;
pub mod marshal;
pub mod python_repr;
pub mod sla;
mod xml;

pub use marshal::{Class, Object, Value};
