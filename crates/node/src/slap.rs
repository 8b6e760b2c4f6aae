//! The master as the profile engine's cookbook recipes see it
//! (`profile::recipe::cookbook::SlapConnection`), implemented with the SLAP
//! client: `slapconfiguration`, `request` and `publish` in an instance
//! profile end up here.
//!
//! Recipes run on a blocking thread (the profile engine is synchronous),
//! so each call blocks on the node's tokio runtime through its handle. A
//! recipe names the master by its `server-url`; one client per URL is kept.
//!
//! Like slapos.core's client, it keeps the partition's request
//! transaction file when it knows the instance root (the node passes it
//! as `SLAPGRID_INSTANCE_ROOT` to the profile run): the titles this
//! partition requested, which the instance loop sends to the master at
//! the end of the run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use client::{ClientConfig, ClientError, MasterUrl, PartitionAuth, PartitionReport, RequestResult, RequestSpec, SlapClient};
use profile::recipe::cookbook::{
    InstanceRequest, PartitionInformation, RequestedInstance, SlapConnection, SlapConnectionInfo, SlapError,
};
use proto::Value;

/// The node's [`SlapConnection`].
#[derive(Debug)]
pub struct NodeSlap {
    runtime: tokio::runtime::Handle,
    clients: Mutex<BTreeMap<String, Arc<SlapClient>>>,
    instance_root: Option<std::path::PathBuf>,
}

impl NodeSlap {
    /// A connection whose calls run on `runtime`.
    pub fn new(runtime: tokio::runtime::Handle) -> NodeSlap {
        NodeSlap { runtime, clients: Mutex::new(BTreeMap::new()), instance_root: None }
    }

    /// The same, keeping request transaction files under `instance_root`.
    pub fn with_instance_root(mut self, instance_root: std::path::PathBuf) -> NodeSlap {
        self.instance_root = Some(instance_root);
        self
    }

    /// Records `title` (or, with `None`, only creates the file) in the
    /// partition's request transaction file, as slapos.core does; a file
    /// that cannot be written is skipped, as there.
    fn record_request(&self, partition: &str, title: Option<&str>) {
        let Some(root) = &self.instance_root else { return };
        let path = transaction_file(root, partition);
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
        if let (Ok(mut file), Some(title)) = (file, title) {
            use std::io::Write;
            if let Err(error) = writeln!(file, "{title}") {
                tracing::warn!(%error, "cannot record the request of {title} in {}", path.display());
            }
        }
    }

    fn client(&self, info: &SlapConnectionInfo) -> Result<Arc<SlapClient>, SlapError> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(&info.server_url) {
            return Ok(client.clone());
        }
        let url = MasterUrl::parse(&info.server_url).map_err(|error| SlapError::Other(error.to_string()))?;
        let client = Arc::new(SlapClient::new(ClientConfig::new(url)).map_err(slap_error)?);
        clients.insert(info.server_url.clone(), client.clone());
        Ok(client)
    }
}

fn auth(info: &SlapConnectionInfo) -> PartitionAuth {
    PartitionAuth { computer_id: info.computer_id.clone(), partition_id: info.partition_id.clone() }
}

fn slap_error(error: ClientError) -> SlapError {
    match error {
        ClientError::NotFound { .. } => SlapError::NotFound(error.to_string()),
        ClientError::ResourceNotReady { .. } => SlapError::ResourceNotReady(error.to_string()),
        ClientError::Server { .. } => SlapError::Server(error.to_string()),
        other => SlapError::Other(other.to_string()),
    }
}

/// A marshalled value as the plain string a recipe reads (strings stay
/// as they are; anything else as Python's `str()` would show it).
fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => proto::python_repr::str_of(other),
    }
}

fn dict_of(entries: &BTreeMap<String, String>) -> Value {
    Value::Dict(entries.iter().map(|(k, v)| (Value::str(k), Value::str(v))).collect())
}

/// The request transaction file of a partition.
pub fn transaction_file(instance_root: &std::path::Path, partition: &str) -> std::path::PathBuf {
    instance_root.join(partition).join(format!(".slapos-request-transaction-{partition}"))
}

impl SlapConnection for NodeSlap {
    fn partition(&self, info: &SlapConnectionInfo) -> Result<PartitionInformation, SlapError> {
        self.record_request(&info.partition_id, None);
        let client = self.client(info)?;
        let document = self.runtime.block_on(client.register_partition(&auth(info))).map_err(slap_error)?;
        let parameters = document
            .parameters
            .unwrap_or_default()
            .iter()
            .map(|(key, value)| (key.clone(), client::value_to_json(value)))
            .collect();
        Ok(PartitionInformation { state: document.requested_state, instance_guid: document.instance_guid, parameters })
    }

    fn request(&self, info: &SlapConnectionInfo, request: &InstanceRequest) -> Result<RequestedInstance, SlapError> {
        let client = self.client(info)?;
        let mut spec = RequestSpec::new(&request.software_release, &request.partition_reference);
        spec.software_type = Some(request.software_type.clone()).filter(|t| !t.is_empty());
        spec.parameters = dict_of(&request.parameters);
        spec.sla = dict_of(&request.filter);
        spec.shared = request.shared;
        spec.state = Some(request.state.clone()).filter(|s| !s.is_empty());
        spec.as_partition = Some(auth(info));
        self.record_request(&info.partition_id, Some(&request.partition_reference));
        match self.runtime.block_on(client.request(&spec)).map_err(slap_error)? {
            RequestResult::NotReady => Err(SlapError::ResourceNotReady(format!(
                "instance {:?} requested by {} is not ready yet",
                request.partition_reference, info.partition_id
            ))),
            RequestResult::Ready(instance) => Ok(RequestedInstance {
                instance_guid: instance.instance_guid.clone(),
                state: instance.state.clone(),
                status: None,
                connection_parameters: instance.connection_parameters.iter().map(|(k, v)| (k.clone(), text_of(v))).collect(),
            }),
        }
    }

    fn set_connection_parameters(
        &self,
        info: &SlapConnectionInfo,
        parameters: &BTreeMap<String, String>,
        shared_reference: Option<&str>,
    ) -> Result<(), SlapError> {
        let client = self.client(info)?;
        self.runtime
            .block_on(client.set_connection_parameters(&auth(info), &dict_of(parameters), shared_reference))
            .map(drop)
            .map_err(slap_error)
    }

    fn published(&self, info: &SlapConnectionInfo) -> Result<BTreeMap<String, String>, SlapError> {
        let client = self.client(info)?;
        let document = self.runtime.block_on(client.register_partition(&auth(info))).map_err(slap_error)?;
        Ok(document.connection.unwrap_or_default().iter().map(|(k, v)| (k.clone(), text_of(v))).collect())
    }

    fn report_error(&self, info: &SlapConnectionInfo, message: &str, shared_reference: Option<&str>) -> Result<(), SlapError> {
        let client = self.client(info)?;
        self.runtime
            .block_on(client.partition_report(&auth(info), PartitionReport::Error { message, shared_reference }))
            .map(drop)
            .map_err(slap_error)
    }
}
