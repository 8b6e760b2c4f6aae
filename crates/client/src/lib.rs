//! The SLAP client: what the Python `slapos.slap` library does for the
//! `slapos` CLI, a node and an instance, spoken to any master (ours, the
//! Python slapproxy, the ERP5 master) over the classic XML/form API plus
//! the small HATEOAS JSON API of `service|computer list|info`
//! (`shared/spec/slap-protocol.md` §1, §3, §5).
//!
//! Code map: [`SlapClient`] (module `client`) is the only I/O; `url` joins
//! endpoint names to the master URL, `template` expands RFC 6570 URI
//! templates, `request` builds the request form and decodes its answer,
//! `hateoas` holds the queries and document readers, `json` shows
//! marshalled values as JSON, `error` maps HTTP statuses.
//!
//! Invariants: every error names the URL it concerns (and the status for
//! HTTP errors); a 408 on request is an outcome ([`RequestResult::NotReady`]),
//! not an error; GETs never carry the partition `Authorization` header (as
//! in Python). This crate never reads the environment or configuration
//! files (the CLI does), never retries on its own, and speaks plain `http`
//! only for now (no TLS client certificates yet).

mod client;
mod error;
mod hateoas;
mod json;
mod request;
mod template;
mod url;

pub use client::{ClientConfig, PartitionReport, SlapClient, SoftwareReport, SupplyState, TIMEOUT_DEFAULT};
pub use error::ClientError;
pub use hateoas::{ComputerInfo, ComputerSummary, HateoasLinks, ServiceInfo, ServiceSummary};
pub use json::value_to_json;
pub use request::{RequestResult, RequestSpec, RequestedInstance, DEFAULT_SOFTWARE_TYPE};
pub use template::{expand as expand_uri_template, TemplateValue};
pub use url::MasterUrl;

/// Re-exported so callers need not depend on `proto` for the partition
/// identity they act as.
pub use proto::auth::PartitionAuth;
