//! JSON-RPC endpoints about compute nodes and software installations:
//! format, supply, the reports a node sends, and the lists it reads.

use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::json;

use super::document::InstanceGuid;
use super::{present, reply, success, Answer, Call, Checked, JsonError};
use crate::server::hateoas;
use crate::server::AppState;
use crate::store::computer::{FormattedComputer, FormattedSlot};
use crate::store::{computer, software, AddressRow};

/// A request naming a compute node only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ComputeNode {
    computer_guid: String,
}
impl Checked for ComputeNode {}

/// A request with no parameter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NoParameter {}
impl Checked for NoParameter {}

/// A compute node's bang, which the proxy ignores.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by serde only: the call is acknowledged, not stored
pub(super) struct ComputeNodeMessage {
    computer_guid: String,
    message: String,
}
impl Checked for ComputeNodeMessage {}

/// A compute node's usage report, which the proxy ignores.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by serde only: the call is acknowledged, not stored
pub(super) struct ComputeNodeUsage {
    computer_guid: String,
    tioxml: String,
}
impl Checked for ComputeNodeUsage {}

/// A software installation's error, which the proxy ignores.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by serde only: the call is acknowledged, not stored
pub(super) struct SoftwareInstallationError {
    software_release_uri: String,
    computer_guid: String,
    message: String,
}
impl Checked for SoftwareInstallationError {}

/// The state a user asks of a software installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum WantedSoftwareState {
    Available,
    Destroyed,
}

impl WantedSoftwareState {
    fn as_str(self) -> &'static str {
        match self {
            WantedSoftwareState::Available => "available",
            WantedSoftwareState::Destroyed => "destroyed",
        }
    }
}

/// `slapos.post.v0.software_installation`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Supply {
    software_release_uri: String,
    computer_guid: String,
    #[serde(default, deserialize_with = "present")]
    state: Option<WantedSoftwareState>,
}
impl Checked for Supply {}

/// The state a node reports of a software installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ReportedSoftwareState {
    Available,
    Destroyed,
    Building,
}

/// `slapos.put.v0.software_installation_reported_state`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SoftwareReport {
    software_release_uri: String,
    computer_guid: String,
    reported_state: ReportedSoftwareState,
}
impl Checked for SoftwareReport {}

/// One slot of `slapos.put.v0.compute_node_format`; other keys are allowed,
/// as the schema leaves these objects open.
#[derive(Debug, Deserialize)]
pub(super) struct FormatPartition {
    partition_id: String,
    #[serde(default, deserialize_with = "present")]
    ip_list: Option<Vec<FormatAddress>>,
}

/// One address of a formatted slot.
#[derive(Debug, Deserialize)]
pub(super) struct FormatAddress {
    #[serde(rename = "ip-address")]
    address: String,
    #[serde(rename = "network-interface", default, deserialize_with = "present")]
    interface: Option<String>,
    #[serde(default, deserialize_with = "present")]
    netmask: Option<String>,
    #[serde(rename = "network-address", default, deserialize_with = "present")]
    #[allow(dead_code)]
    network_address: Option<String>,
    #[serde(rename = "gateway-ip-address", default, deserialize_with = "present")]
    #[allow(dead_code)]
    gateway: Option<String>,
}

/// `slapos.put.v0.compute_node_format`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Format {
    computer_guid: String,
    compute_partition_list: Vec<FormatPartition>,
}

impl Checked for Format {
    fn check(&self) -> Result<(), String> {
        for partition in &self.compute_partition_list {
            for address in partition.ip_list.iter().flatten() {
                // The proxy stores both and fails with a 500 without them.
                for (key, value) in [("network-interface", &address.interface), ("netmask", &address.netmask)] {
                    if value.is_none() {
                        return Err(format!(
                            "address {} of partition {} lacks {key:?}",
                            address.address, partition.partition_id
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Calls the proxy accepts and forgets.
pub(super) async fn ignored<T>(Call(_): Call<T>) -> Answer {
    Ok(success("Ignored"))
}

/// Certificates: the master has no CA yet, so both are empty, as the proxy's.
pub(super) async fn certificate<T>(Call(_): Call<T>) -> Answer {
    Ok(reply(json!({ "key": "", "certificate": "" })))
}

/// `slapos.get.v0.hateoas_url`: where the HATEOAS API is, as this request
/// reached the master.
pub(super) async fn hateoas_url(headers: HeaderMap, Call(NoParameter {}): Call<NoParameter>) -> Answer {
    Ok(reply(json!({ "hateoas_url": format!("{}/hateoas/", hateoas::public_base(&headers)) })))
}

/// `slapos.get.v0.compute_node_status`.
pub(super) async fn status(Call(_): Call<ComputeNode>) -> Answer {
    Ok(reply(json!({ "text": "Unknown (not implemented)" })))
}

/// `slapos.post.v0.software_installation`: a user asks a compute node to
/// install (or remove) a release.
pub(super) async fn supply(State(app): State<AppState>, Call(request): Call<Supply>) -> Answer {
    let state = request.state.unwrap_or(WantedSoftwareState::Available).as_str();
    let mut tx = app.store.begin_write().await?;
    software::supply(&mut tx, &request.computer_guid, &request.software_release_uri, state).await?;
    tx.commit().await?;
    Ok(success(format!("Supplied {} to be {state}", request.software_release_uri)))
}

/// `slapos.put.v0.software_installation_reported_state`: a node reports a
/// release; only `destroyed` changes anything (the installation is
/// forgotten).
pub(super) async fn software_installation_reported(State(app): State<AppState>, Call(report): Call<SoftwareReport>) -> Answer {
    if report.reported_state != ReportedSoftwareState::Destroyed {
        return Ok(success("Ignored"));
    }
    let mut tx = app.store.begin_write().await?;
    software::remove(&mut tx, &report.computer_guid, &report.software_release_uri).await?;
    tx.commit().await?;
    Ok(success("Destroyed"))
}

/// The 403 for a compute node that was never formatted.
async fn registered(conn: &mut crate::store::Db, computer_guid: &str) -> Result<(), JsonError> {
    match computer::computer(conn, computer_guid).await? {
        Some(_) => Ok(()),
        None => Err(JsonError::forbidden(format!("{computer_guid} is not registered."))),
    }
}

/// `slapos.allDocs.v0.compute_node_software_installation_list`.
pub(super) async fn software_installation_list(State(app): State<AppState>, Call(node): Call<ComputeNode>) -> Answer {
    let mut conn = app.store.read().await?;
    registered(&mut conn, &node.computer_guid).await?;
    let installations = software::installations(&mut conn, &node.computer_guid).await?;
    let result_list: Vec<_> = installations
        .iter()
        .map(|row| json!({ "software_release_uri": row.url, "state": row.requested_state }))
        .collect();
    Ok(reply(json!({ "result_list": result_list })))
}

/// `slapos.allDocs.v0.compute_node_instance_list`: the instances allocated
/// on a compute node, in format order.
pub(super) async fn instance_list(State(app): State<AppState>, Call(node): Call<ComputeNode>) -> Answer {
    let mut conn = app.store.read().await?;
    registered(&mut conn, &node.computer_guid).await?;
    let slots = computer::slots(&mut conn, &node.computer_guid).await?;
    let result_list: Vec<_> = slots
        .iter()
        .filter(|slot| slot.busy)
        .map(|slot| {
            let title = slot.title.clone().unwrap_or_default();
            json!({
                "title": title,
                "instance_guid": InstanceGuid::new(&title, &slot.requested_by, false).to_string(),
                "state": slot.requested_state,
                "compute_partition_id": slot.reference,
                "software_release_uri": slot.software_release.clone().unwrap_or_default(),
            })
        })
        .collect();
    Ok(reply(json!({ "result_list": result_list })))
}

/// `slapos.allDocs.WIP.compute_node_list` (experimental): every formatted
/// compute node.
pub(super) async fn compute_node_list(State(app): State<AppState>, Call(NoParameter {}): Call<NoParameter>) -> Answer {
    let mut conn = app.store.read().await?;
    let computers = computer::computers(&mut conn).await?;
    let result_list: Vec<_> = computers.iter().map(|c| json!({ "computer_guid": c.reference })).collect();
    Ok(reply(json!({ "result_list": result_list })))
}

/// `slapos.put.v0.compute_node_format`: the node's slots and addresses;
/// slots no longer listed vanish with their instances (§7.8). A slot listed
/// twice is one slot with the addresses of both entries.
pub(super) async fn format(State(app): State<AppState>, Call(request): Call<Format>) -> Answer {
    let mut slots: Vec<FormattedSlot> = Vec::with_capacity(request.compute_partition_list.len());
    for partition in request.compute_partition_list {
        let addresses = partition.ip_list.unwrap_or_default().into_iter().map(|a| AddressRow {
            interface: a.interface.unwrap_or_default(),
            address: a.address,
            netmask: a.netmask.unwrap_or_default(),
        });
        match slots.iter_mut().find(|slot| slot.reference == partition.partition_id) {
            Some(slot) => slot.addresses.extend(addresses),
            None => slots.push(FormattedSlot { reference: partition.partition_id, addresses: addresses.collect() }),
        }
    }
    let formatted = FormattedComputer { reference: request.computer_guid, address: None, netmask: None, network: None, slots };
    let mut tx = app.store.begin_write().await?;
    computer::format(&mut tx, &formatted).await?;
    tx.commit().await?;
    Ok(success("Formatted"))
}
