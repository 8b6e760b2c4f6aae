//! What the cookbook recipes that talk to the SlapOS master need from it
//! (`slapconfiguration`, `request`, `publish`), as a trait the node
//! implements with its SLAP client (`shared/spec/slap-protocol.md` §3).
//!
//! Every call takes the [`SlapConnectionInfo`] the recipe read from its
//! options (`server-url`, `key-file`, `cert-file`, `computer-id`,
//! `partition-id`), so one connection object serves every partition, and
//! plain Rust values: strings for parameters as the master stores them,
//! `serde_json::Value` where the master sends typed data (the partition's
//! parameter dict with its `ip_list` and `slave_instance_list`).

use std::collections::BTreeMap;

/// Where and as whom a recipe talks to the master: the `[slap-connection]`
/// values (or the recipe's own options naming them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlapConnectionInfo {
    /// `server-url`: the master URL.
    pub server_url: String,
    /// `key-file`: the partition's TLS key, if any.
    pub key_file: Option<String>,
    /// `cert-file`: the partition's TLS certificate, if any.
    pub cert_file: Option<String>,
    /// `computer-id` (wire `computer_id`).
    pub computer_id: String,
    /// `partition-id` (wire `computer_partition_id`).
    pub partition_id: String,
}

/// What `registerComputerPartition` tells about this partition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PartitionInformation {
    /// `getState()`: the requested state (`started`, `stopped`,
    /// `destroyed`).
    pub state: String,
    /// `getInstanceGuid()`.
    pub instance_guid: String,
    /// `_parameter_dict` exactly as the master sent it, under its wire
    /// keys: the instance parameters (strings) plus `ip_list` (list of
    /// `[interface, address]`), `full_ip_list`, `slap_software_type`,
    /// `instance_title`, `root_instance_title`, `slap_computer_id`,
    /// `slap_computer_partition_id`, `slap_software_release_url`,
    /// `slave_instance_list` (list of objects) and `timestamp` when set.
    pub parameters: BTreeMap<String, serde_json::Value>,
}

/// One `requestComputerPartition` (spec §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceRequest {
    /// `software_release`: the software release URL.
    pub software_release: String,
    /// `software_type`.
    pub software_type: String,
    /// `partition_reference`: the requested instance's title.
    pub partition_reference: String,
    /// `partition_parameter_xml`: the instance parameters.
    pub parameters: BTreeMap<String, String>,
    /// `filter_xml`: the SLA.
    pub filter: BTreeMap<String, String>,
    /// `shared_xml`: a shared instance (slave).
    pub shared: bool,
    /// `state`: the requested state.
    pub state: String,
}

/// What the master answered to a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestedInstance {
    /// `getInstanceGuid()`; `None` for a shared instance or when the
    /// master does not tell.
    pub instance_guid: Option<String>,
    /// `getState()`: the requested state as the master answered it;
    /// `None` when the instance is not ready.
    pub state: Option<String>,
    /// `getStatus()` (the master's access status), when known.
    pub status: Option<String>,
    /// `_connection_dict`: the parameters the instance published.
    pub connection_parameters: BTreeMap<String, String>,
}

/// A failed master call, classified as slapos.slap raises it: recipes
/// defer the first three kinds (the request recipe fails at install, or
/// only warns for `requestoptional`) and fail at once on the others.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlapError {
    /// 404 (`NotFoundError`): no free partition, no host for a shared
    /// instance, unknown thing.
    #[error("not found: {0}")]
    NotFound(String),
    /// 408 (`ResourceNotReady`): accepted but not allocated yet.
    #[error("resource not ready: {0}")]
    ResourceNotReady(String),
    /// 5xx (`ServerError`).
    #[error("server error: {0}")]
    Server(String),
    /// Anything else: connection failure, other HTTP status, bad answer.
    #[error("{0}")]
    Other(String),
}

impl SlapError {
    /// Whether slapos.slap raises it as `NotFoundError`, `ServerError` or
    /// `ResourceNotReady` (the errors the request recipe defers).
    pub fn is_deferred(&self) -> bool {
        !matches!(self, SlapError::Other(_))
    }
}

/// The master, as the node's SLAP client reaches it.
pub trait SlapConnection: Send + Sync {
    /// `registerComputerPartition`: this partition's state, guid and
    /// parameter dict.
    ///
    /// # Errors
    /// Any failed call.
    fn partition(&self, connection: &SlapConnectionInfo) -> Result<PartitionInformation, SlapError>;

    /// `requestComputerPartition` made by this partition.
    ///
    /// # Errors
    /// Any failed call; [`SlapError::is_deferred`] tells the kinds the
    /// request recipe reports at install.
    fn request(&self, connection: &SlapConnectionInfo, request: &InstanceRequest) -> Result<RequestedInstance, SlapError>;

    /// `setComputerPartitionConnectionXml`: publishes connection
    /// parameters for this partition, or for the shared instance
    /// `shared_reference` it hosts.
    ///
    /// # Errors
    /// Any failed call.
    fn set_connection_parameters(
        &self,
        connection: &SlapConnectionInfo,
        parameters: &BTreeMap<String, String>,
        shared_reference: Option<&str>,
    ) -> Result<(), SlapError>;

    /// `getConnectionParameterDict()` of this partition: the connection
    /// parameters it published (`registerComputerPartition`'s
    /// `_connection_dict`), read by `publish-early`. Default: none, as for
    /// a partition that never published.
    ///
    /// # Errors
    /// Any failed call.
    fn published(&self, _connection: &SlapConnectionInfo) -> Result<BTreeMap<String, String>, SlapError> {
        Ok(BTreeMap::new())
    }

    /// `softwareInstanceError`: reports an error of this partition, or of
    /// the shared instance `shared_reference` (invalid parameters).
    ///
    /// # Errors
    /// Any failed call.
    fn report_error(&self, connection: &SlapConnectionInfo, message: &str, shared_reference: Option<&str>) -> Result<(), SlapError>;
}
