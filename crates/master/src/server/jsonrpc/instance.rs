//! JSON-RPC endpoints about instances, shared instances and instance
//! trees: the request (through the same order placement as the classic
//! `requestComputerPartition`), the reads, and what an instance reports.

use axum::extract::State;
use axum::http::HeaderMap;
use proto::sla::Sla;
use proto::Value;
use serde::Deserialize;
use serde_json::{json, Map};

use super::document::{
    entry_parameters, instance_document, ip_list, shared_document, split_shared_reference, xml_object, InstanceGuid,
};
use super::{check_max_length, present, reply, success, Answer, Call, Checked, JsonError};
use crate::server::form::Fields;
use crate::server::forward::Forwarded;
use crate::server::request::{self, FakeFrontend, Order, Placed};
use crate::server::{now, AppState};
use crate::store::{computer, instance, lookup, shared, DestroyOutcome, SharedOutcome, SharedRow, SlotRow, StoreError};

/// Longest title the API accepts (the schema's `maxLength`).
const TITLE_LENGTH_MAX: usize = 200;

/// A request naming an instance only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InstanceGuidOnly {
    instance_guid: String,
}
impl Checked for InstanceGuidOnly {}

/// The state of an instance, as requested or reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum InstanceState {
    Started,
    Stopped,
    Destroyed,
}

impl InstanceState {
    fn as_str(self) -> &'static str {
        match self {
            InstanceState::Started => "started",
            InstanceState::Stopped => "stopped",
            InstanceState::Destroyed => "destroyed",
        }
    }
}

/// `slapos.post.v0.software_instance`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InstanceOrder {
    title: String,
    software_release_uri: String,
    software_type: String,
    #[serde(default, deserialize_with = "present")]
    parameters: Option<Map<String, serde_json::Value>>,
    #[serde(default, deserialize_with = "present")]
    shared: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    state: Option<InstanceState>,
    #[serde(default, deserialize_with = "present")]
    sla_parameters: Option<Map<String, serde_json::Value>>,
}

impl Checked for InstanceOrder {
    fn check(&self) -> Result<(), String> {
        check_max_length(&self.title, TITLE_LENGTH_MAX)?;
        for (key, value) in self.sla_parameters.iter().flatten() {
            // The schema types every SLA value as a string, except the
            // retention delay, a number of days.
            let (fits, wanted) = match key.as_str() {
                "retention_delay" => (value.is_number(), "number"),
                _ => (value.is_string(), "string"),
            };
            if !fits {
                return Err(format!("{} is not of type '{wanted}'", proto::python_repr::repr_of(&Value::from(value))));
            }
        }
        Ok(())
    }
}

/// `slapos.put.v0.software_instance_reported_state`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InstanceReport {
    instance_guid: String,
    reported_state: InstanceState,
}
impl Checked for InstanceReport {}

/// A bang or an error report: an instance and a message for humans.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InstanceMessage {
    instance_guid: String,
    message: String,
}
impl Checked for InstanceMessage {}

/// `slapos.put.v0.software_instance_title`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InstanceTitle {
    instance_guid: String,
    title: String,
}

impl Checked for InstanceTitle {
    fn check(&self) -> Result<(), String> {
        check_max_length(&self.title, TITLE_LENGTH_MAX)
    }
}

/// `slapos.put.v0.software_instance_connection_parameter`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConnectionParameters {
    instance_guid: String,
    connection_parameter_dict: Map<String, serde_json::Value>,
}
impl Checked for ConnectionParameters {}

/// `slapos.get.v0.compute_partition`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ComputePartition {
    computer_guid: String,
    compute_partition_id: String,
}
impl Checked for ComputePartition {}

/// `slapos.get.v0.instance_tree`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TreeTitle {
    title: String,
}

impl Checked for TreeTitle {
    fn check(&self) -> Result<(), String> {
        check_max_length(&self.title, TITLE_LENGTH_MAX)
    }
}

/// A parameter dict as instance XML, refusing what XML cannot carry.
fn parameter_xml(parameters: &Value, field: &str) -> Result<String, JsonError> {
    let map = proto::instance_xml::from_dict(parameters).map_err(|error| JsonError::bad_request(format!("{field}: {error}")))?;
    Ok(proto::instance_xml::encode(&map))
}

/// `slapos.post.v0.software_instance`: orders an instance or a shared
/// instance, as a user or, with an `X-SlapPartition` header, as the
/// instance of that slot. Same rules as `requestComputerPartition` (§7),
/// except that the state defaults to `started`.
pub(super) async fn request(State(app): State<AppState>, headers: HeaderMap, Call(order): Call<InstanceOrder>) -> Answer {
    let parameters_json = serde_json::Value::Object(order.parameters.unwrap_or_default());
    let parameters = Value::from(&parameters_json);
    let sla_json = serde_json::Value::Object(order.sla_parameters.unwrap_or_default());
    let sla = Sla::from_json(&sla_json).map_err(|error| JsonError::bad_request(format!("sla_parameters: {error}")))?;
    let state = order.state.unwrap_or(InstanceState::Started).as_str();
    let placed_order = Order {
        software_release: order.software_release_uri,
        software_type: order.software_type,
        title: order.title,
        state: Some(state.to_owned()),
        parameter_xml: parameter_xml(&parameters, "parameters")?,
        parameters,
        sla,
        shared: order.shared.unwrap_or(false),
    };
    // The proxy resolves who asks before anything else: an unknown slot in
    // the header is a 400 even for the frontends it fakes.
    let no_form = Fields::default();
    let asking = {
        let mut conn = app.store.read().await?;
        request::requester(&mut conn, &headers, &no_form).await?
    };
    let answer = request::place_order(&app, &headers, &no_form, &placed_order, |placed| {
        Ok(match placed {
            Placed::FakeFrontend(fake) => fake_document(&placed_order, &asking.requested_by, fake, &parameters_json),
            Placed::Forwarded(forwarded) => {
                forwarded_document(&placed_order, &asking.requested_by, forwarded, &parameters_json)
            }
            Placed::Instance(outcome) => instance_document(&outcome.slot, &outcome.addresses, &outcome.answered_state)?,
            Placed::Shared { outcome, requester } => {
                requested_shared_document(&placed_order, &requester.requested_by, outcome)?
            }
        })
    })
    .await?;
    Ok(reply(answer))
}

/// The answer for a faked frontend: no slot, no address, the connection
/// parameters the fake publishes.
fn fake_document(order: &Order, requested_by: &str, fake: &FakeFrontend, parameters: &serde_json::Value) -> serde_json::Value {
    let connection: Map<String, serde_json::Value> =
        fake.connection.iter().map(|(k, v)| (k.clone(), super::document::json_of(v))).collect();
    relayed_document(order, requested_by, parameters, serde_json::Value::Object(connection), "", &fake.partition_id)
}

/// The answer for a request forwarded to another master, as the proxy
/// builds it from the `ComputerPartition` it got: the order as sent, the
/// remote connection parameters and ids, no address.
fn forwarded_document(
    order: &Order,
    requested_by: &str,
    forwarded: &Forwarded,
    parameters: &serde_json::Value,
) -> serde_json::Value {
    let connection = forwarded.attribute("_connection_dict").map_or_else(|| json!({}), super::document::json_of);
    let text = |key: &str| forwarded.attribute(key).and_then(Value::as_str).unwrap_or("").to_owned();
    let (computer_id, partition_id) = (text("_computer_id"), text("_partition_id"));
    relayed_document(order, requested_by, parameters, connection, &computer_id, &partition_id)
}

/// An instance document this master did not allocate (a fake frontend, a
/// forwarded request): what was ordered, the given connection parameters
/// and ids.
fn relayed_document(
    order: &Order,
    requested_by: &str,
    parameters: &serde_json::Value,
    connection: serde_json::Value,
    computer_id: &str,
    partition_id: &str,
) -> serde_json::Value {
    json!({
        "title": order.title,
        "instance_guid": InstanceGuid::new(&order.title, requested_by, order.shared).to_string(),
        "software_release_uri": order.software_release,
        "software_type": order.software_type,
        "state": order.state.as_deref().unwrap_or("started"),
        "connection_parameters": connection,
        "parameters": parameters,
        "shared": order.shared,
        "root_instance_title": if requested_by.is_empty() { &order.title } else { requested_by },
        "ip_list": [],
        "full_ip_list": [],
        "sla_parameters": {},
        "computer_guid": computer_id,
        "compute_partition_id": partition_id,
        "processing_timestamp": 0,
        "access_status_message": "",
    })
}

/// The answer to a shared request: the host's release, type and
/// addresses; the parameters as strings (what the host will read); no
/// timestamp of its own.
fn requested_shared_document(order: &Order, requested_by: &str, outcome: &SharedOutcome) -> Result<serde_json::Value, StoreError> {
    Ok(json!({
        "title": order.title,
        "instance_guid": InstanceGuid::new(&order.title, requested_by, true).to_string(),
        "software_release_uri": outcome.host.software_release.clone().unwrap_or_default(),
        "software_type": outcome.host.software_type.clone().unwrap_or_default(),
        "state": "started",
        "connection_parameters": xml_object(outcome.shared.connection_xml.as_deref(), "connection parameters")?,
        "parameters": xml_object(Some(&order.parameter_xml), "shared parameters")?,
        "shared": true,
        "root_instance_title": if requested_by.is_empty() { &order.title } else { requested_by },
        "ip_list": ip_list(&outcome.addresses),
        "full_ip_list": [],
        "sla_parameters": {},
        "computer_guid": outcome.host.computer_reference,
        "compute_partition_id": outcome.shared.hosted_by,
        "processing_timestamp": 0,
        "access_status_message": "",
    }))
}

/// The 403 for an instance id naming nothing.
fn no_instance(guid: &str) -> JsonError {
    JsonError::forbidden(format!("No software instance {guid} found."))
}

/// The 403 for a shared instance id naming nothing.
fn no_shared(guid: &str) -> JsonError {
    JsonError::forbidden(format!("No shared instance {guid} found."))
}

/// The document of an allocated instance as stored.
async fn stored_instance_document(conn: &mut crate::store::Db, slot: &SlotRow) -> Result<serde_json::Value, JsonError> {
    let addresses = computer::addresses(conn, &slot.computer_reference, &slot.reference).await?;
    Ok(instance_document(slot, &addresses, &slot.requested_state)?)
}

/// The document of a shared instance from its record, or `None` when its
/// host no longer lists it (a destroyed shared instance keeps its record).
///
/// # Errors
/// `no_host` when the host slot is gone; store failures.
async fn stored_shared_document(
    conn: &mut crate::store::Db,
    record: &SharedRow,
    no_host: impl FnOnce() -> JsonError,
) -> Result<Option<serde_json::Value>, JsonError> {
    let host = computer::slot(conn, &record.computer_reference, &record.hosted_by).await?.ok_or_else(no_host)?;
    let Some(entry) = lookup::hosted_entry(&host, &record.reference)? else {
        return Ok(None);
    };
    Ok(Some(shared_document(record, &host, &entry)?))
}

/// `slapos.get.v0.software_instance`.
pub(super) async fn get(State(app): State<AppState>, Call(request): Call<InstanceGuidOnly>) -> Answer {
    let guid = InstanceGuid::parse(&request.instance_guid)?;
    let mut conn = app.store.read().await?;
    if guid.shared {
        let record = lookup::shared_by_reference(&mut conn, &guid.shared_reference())
            .await?
            .ok_or_else(|| no_shared(&request.instance_guid))?;
        let no_host = || JsonError::forbidden(format!("No partition hosting {} found.", request.instance_guid));
        let document = stored_shared_document(&mut conn, &record, no_host).await?;
        return document.map(reply).ok_or_else(|| no_shared(&request.instance_guid));
    }
    let slot = instance::instance(&mut conn, &guid.title, &guid.requested_by)
        .await?
        .ok_or_else(|| no_instance(&request.instance_guid))?;
    Ok(reply(stored_instance_document(&mut conn, &slot).await?))
}

/// `slapos.get.v0.compute_partition`: the instance on a slot.
pub(super) async fn compute_partition(State(app): State<AppState>, Call(request): Call<ComputePartition>) -> Answer {
    let mut conn = app.store.read().await?;
    let slot = computer::slot(&mut conn, &request.computer_guid, &request.compute_partition_id)
        .await?
        .filter(|slot| slot.busy && slot.title.as_deref().is_some_and(|t| !t.is_empty()))
        .ok_or_else(|| JsonError::forbidden(format!("No instance on partition {} found.", request.compute_partition_id)))?;
    Ok(reply(stored_instance_document(&mut conn, &slot).await?))
}

/// `slapos.get.v0.instance_tree`: the root of the tree with that title,
/// an instance or a shared instance; exactly one must match.
pub(super) async fn tree(State(app): State<AppState>, Call(request): Call<TreeTitle>) -> Answer {
    let mut conn = app.store.read().await?;
    let roots = instance::tree_roots(&mut conn, Some(&request.title)).await?;
    let not_found = || JsonError::forbidden(format!("No instance tree {} found.", request.title));
    match (roots.instances.as_slice(), roots.shared.as_slice()) {
        ([slot], []) => Ok(reply(stored_instance_document(&mut conn, slot).await?)),
        ([], [record]) => {
            let no_host = || JsonError::forbidden(format!("No partition hosting {} found.", request.title));
            stored_shared_document(&mut conn, record, no_host).await?.map(reply).ok_or_else(not_found)
        }
        _ => Err(not_found()),
    }
}

/// `slapos.allDocs.v0.instance_tree_list`: the titles of every tree's
/// root, instances first.
pub(super) async fn tree_list(State(app): State<AppState>, Call(super::node::NoParameter {}): Call<super::node::NoParameter>) -> Answer {
    let mut conn = app.store.read().await?;
    let roots = instance::tree_roots(&mut conn, None).await?;
    let instances = roots.instances.iter().map(|slot| slot.title.clone().unwrap_or_default());
    let shared = roots.shared.iter().map(|record| split_shared_reference(&record.reference).0);
    let result_list: Vec<_> = instances.chain(shared).map(|title| json!({ "title": title })).collect();
    Ok(reply(json!({ "result_list": result_list })))
}

/// `slapos.allDocs.v0.instance_node_instance_list`: the shared instances
/// an instance hosts, with the parameters their requesters sent.
pub(super) async fn hosted_list(State(app): State<AppState>, Call(request): Call<InstanceGuidOnly>) -> Answer {
    let guid = InstanceGuid::parse(&request.instance_guid)?;
    if guid.shared {
        return Err(no_instance(&request.instance_guid));
    }
    let mut conn = app.store.read().await?;
    let host = instance::instance(&mut conn, &guid.title, &guid.requested_by)
        .await?
        .ok_or_else(|| no_instance(&request.instance_guid))?;
    let mut result_list = Vec::new();
    for entry in shared::host_list(&host)? {
        let text = |key: &str| entry.dict_get(key).and_then(Value::as_str).unwrap_or("").to_owned();
        let (title, requested_by) = split_shared_reference(&text("slave_title"));
        result_list.push(json!({
            "title": title,
            "instance_guid": InstanceGuid::new(&title, &requested_by, true).to_string(),
            "software_type": text("slap_software_type"),
            "state": "started",
            "parameters": entry_parameters(&entry),
            "compute_partition_id": host.reference,
        }));
    }
    Ok(reply(json!({ "result_list": result_list })))
}

/// `slapos.put.v0.software_instance_reported_state`: only `destroyed`
/// matters: the node wiped the slot, which is freed (§7.5), unless it is a
/// root with live descendants (they are asked to be destroyed; 403).
pub(super) async fn reported_state(State(app): State<AppState>, Call(report): Call<InstanceReport>) -> Answer {
    if report.reported_state != InstanceState::Destroyed {
        return Ok(success("Ignored"));
    }
    let guid = InstanceGuid::parse(&report.instance_guid)?;
    if guid.shared {
        return Ok(success("Ignored"));
    }
    let mut tx = app.store.begin_write().await?;
    let slot = instance::instance(&mut tx, &guid.title, &guid.requested_by)
        .await?
        .ok_or_else(|| no_instance(&report.instance_guid))?;
    let outcome = instance::destroyed(&mut tx, &slot.computer_reference, &slot.reference).await?;
    // A refusal still committed its effect on the descendants.
    tx.commit().await.map_err(StoreError::from)?;
    match outcome {
        DestroyOutcome::Freed => Ok(success("Destroyed")),
        DestroyOutcome::Unknown(message) | DestroyOutcome::ChildrenPending(message) => Err(JsonError::forbidden(message)),
    }
}

/// `slapos.put.v0.software_instance_bang`: the instance is processed
/// again, and with it its whole tree if it is a root.
pub(super) async fn bang(State(app): State<AppState>, Call(request): Call<InstanceMessage>) -> Answer {
    let guid = InstanceGuid::parse(&request.instance_guid)?;
    if guid.shared {
        return Err(JsonError::forbidden("NotImplemented"));
    }
    tracing::info!(instance = %guid, message = %request.message, "instance bang");
    let mut tx = app.store.begin_write().await?;
    if guid.requested_by.is_empty() {
        instance::bang_tree(&mut tx, &guid.title, now()).await?;
    } else if let Some(slot) = instance::instance(&mut tx, &guid.title, &guid.requested_by).await? {
        instance::bump_slot(&mut tx, &slot.computer_reference, &slot.reference, now()).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(success("Bang handled"))
}

/// `slapos.put.v0.software_instance_title`: renames an instance; a root's
/// descendants follow it, so the tree stays whole.
pub(super) async fn rename(State(app): State<AppState>, Call(request): Call<InstanceTitle>) -> Answer {
    let guid = InstanceGuid::parse(&request.instance_guid)?;
    if guid.shared {
        return Err(JsonError::forbidden("NotImplemented"));
    }
    let mut tx = app.store.begin_write().await?;
    let slot = instance::instance(&mut tx, &guid.title, &guid.requested_by)
        .await?
        .ok_or_else(|| no_instance(&request.instance_guid))?;
    instance::rename(&mut tx, &slot.computer_reference, &slot.reference, &request.title).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(success("Renamed"))
}

/// `slapos.put.v0.software_instance_connection_parameter`: an instance
/// publishes its connection parameters (or its host publishes a shared
/// instance's); a change bumps the direct requester (§7.6).
pub(super) async fn connection_parameters(State(app): State<AppState>, Call(request): Call<ConnectionParameters>) -> Answer {
    let guid = InstanceGuid::parse(&request.instance_guid)?;
    let published = Value::from(&serde_json::Value::Object(request.connection_parameter_dict));
    let connection_xml = parameter_xml(&published, "connection_parameter_dict")?;
    let mut tx = app.store.begin_write().await?;
    if guid.shared {
        let reference = guid.shared_reference();
        let record = lookup::shared_by_reference(&mut tx, &reference)
            .await?
            .ok_or_else(|| no_shared(&request.instance_guid))?;
        shared::set_connection(&mut tx, &reference, &connection_xml, &record.hosted_by, now()).await?;
    } else {
        let slot = instance::instance(&mut tx, &guid.title, &guid.requested_by)
            .await?
            .ok_or_else(|| no_instance(&request.instance_guid))?;
        instance::set_connection(&mut tx, &slot.computer_reference, &slot.reference, &connection_xml, now()).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(success("Updated"))
}

/// `slapos.put.v0.software_instance_error`: logged, not stored (as the
/// proxy, which has nowhere to show it).
pub(super) async fn ignored_error(Call(request): Call<InstanceMessage>) -> Answer {
    tracing::info!(instance = %request.instance_guid, message = %request.message, "instance reported an error");
    Ok(success("Ignored"))
}
