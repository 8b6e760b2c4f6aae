//! The classic SLAP endpoints a node and its instances call (§3), except
//! `requestComputerPartition` (see `request.rs`): form or query fields in,
//! marshalled documents or short texts out.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use proto::Value;

use super::error::{status_response, ApiError};
use super::form::{Fields, SlapForm};
use super::{now, render, AppState};
use crate::store::computer::{FormattedComputer, FormattedSlot};
use crate::store::{computer, instance, shared, software, AddressRow, DestroyOutcome};

/// A plain-text success answer.
pub(super) fn text(body: impl Into<String>) -> Response {
    status_response(StatusCode::OK, body.into())
}

/// A marshalled success answer.
pub(super) fn marshalled(value: &Value) -> Response {
    text(proto::marshal::encode(value))
}

fn query(raw: Option<String>) -> Result<Fields, ApiError> {
    Fields::parse(raw.unwrap_or_default().as_bytes())
}

/// Decodes a marshalled form field.
pub(super) fn unmarshal_field(fields: &Fields, name: &str) -> Result<Option<Value>, ApiError> {
    fields
        .get(name)
        .map(|xml| {
            proto::marshal::decode(xml.as_bytes())
                .map_err(|error| ApiError::BadRequest(format!("field {name:?} is not a marshalled value: {error}")))
        })
        .transpose()
}

/// `GET /getFullComputerInformation?computer_id=C` (also the legacy
/// `getComputerInformation`).
pub(super) async fn full_computer_information(State(app): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let fields = query(raw)?;
    let computer_id = fields.require("computer_id")?;
    let mut conn = app.store.read().await.map_err(crate::store::StoreError::from)?;
    if computer::computer(&mut conn, computer_id).await?.is_none() && computer_id != app.config.computer_id {
        return Err(ApiError::NotFound(format!("{computer_id} is not registered.")));
    }
    let software = software::installations(&mut conn, computer_id).await?;
    let slots = computer::slots(&mut conn, computer_id).await?;
    let addresses = computer::addresses_by_slot(&mut conn, computer_id).await?;
    Ok(text(render::computer(computer_id, &software, &slots, &addresses)?))
}

/// `GET /registerComputerPartition?computer_reference=C&computer_partition_reference=P`.
pub(super) async fn register_partition(State(app): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let fields = query(raw)?;
    let computer_id = fields.require("computer_reference")?;
    let partition_id = fields.require("computer_partition_reference")?;
    let mut conn = app.store.read().await.map_err(crate::store::StoreError::from)?;
    let slot = computer::slot(&mut conn, computer_id, partition_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("partition {partition_id} of computer {computer_id} is not registered")))?;
    let addresses = computer::addresses(&mut conn, computer_id, partition_id).await?;
    let mut writer = proto::marshal::Writer::new();
    render::write_partition(&mut writer, &slot, &addresses)?;
    Ok(text(writer.finish()))
}

/// `POST /loadComputerConfigurationFromXML`: the node's format (§3.3).
pub(super) async fn load_computer_configuration(State(app): State<AppState>, SlapForm(fields): SlapForm) -> Result<Response, ApiError> {
    let description = unmarshal_field(&fields, "xml")?.ok_or_else(|| ApiError::missing("xml"))?;
    let formatted = formatted_computer(&description)?;
    let mut tx = app.store.begin_write().await?;
    computer::format(&mut tx, &formatted).await?;
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    Ok(text("done"))
}

fn string_key(dict: &Value, key: &str, what: &str) -> Result<String, ApiError> {
    match dict.dict_get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(ApiError::BadRequest(format!("{what}: key {key:?} must be a string, got {other:?}"))),
        None => Err(ApiError::BadRequest(format!("{what}: missing key {key:?}"))),
    }
}

fn optional_string(dict: &Value, key: &str) -> Option<String> {
    dict.dict_get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Reads the computer description format sends; unknown keys are ignored.
fn formatted_computer(description: &Value) -> Result<FormattedComputer, ApiError> {
    if description.as_dict().is_none() {
        return Err(ApiError::BadRequest("field \"xml\" must marshal a dictionary".into()));
    }
    let reference = string_key(description, "reference", "computer description")?;
    let partitions = description
        .dict_get("partition_list")
        .and_then(Value::as_seq)
        .ok_or_else(|| ApiError::BadRequest("computer description: \"partition_list\" must be a list".into()))?;
    let mut slots = Vec::with_capacity(partitions.len());
    for partition in partitions {
        let slot_reference = string_key(partition, "reference", "partition description")?;
        let what = format!("partition {slot_reference}");
        let interface = partition
            .dict_get("tap")
            .and_then(|tap| tap.dict_get("name"))
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .unwrap_or(&slot_reference)
            .to_owned();
        let mut addresses = Vec::new();
        for address in partition.dict_get("address_list").and_then(Value::as_seq).unwrap_or_default() {
            addresses.push(AddressRow {
                interface: interface.clone(),
                address: string_key(address, "addr", &what)?,
                netmask: optional_string(address, "netmask").unwrap_or_default(),
            });
        }
        slots.push(FormattedSlot { reference: slot_reference, addresses });
    }
    Ok(FormattedComputer {
        reference,
        address: optional_string(description, "address"),
        netmask: optional_string(description, "netmask"),
        // Ours: `slapos node register --network` sends it; the Python
        // node's format never does, and then the network is kept.
        network: optional_string(description, "network").filter(|n| !n.is_empty()),
        slots,
    })
}

/// `POST /supplySupply`: a user asks a computer to install or remove a release.
pub(super) async fn supply(State(app): State<AppState>, SlapForm(fields): SlapForm) -> Result<Response, ApiError> {
    let url = fields.require("url")?;
    let computer_id = fields.require("computer_id")?;
    let state = fields.require("state")?;
    if state != "available" && state != "destroyed" {
        return Err(ApiError::BadRequest(format!("state must be available or destroyed, not {state:?}")));
    }
    let mut tx = app.store.begin_write().await?;
    software::supply(&mut tx, computer_id, url, state).await?;
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    let quoted = proto::python_repr::repr_of(&Value::str(url));
    Ok(text(format!("Supplied {quoted} to be {state}")))
}

/// `POST /destroyedSoftwareRelease`: the node removed a release.
pub(super) async fn destroyed_software_release(State(app): State<AppState>, SlapForm(fields): SlapForm) -> Result<Response, ApiError> {
    let url = fields.require("url")?;
    let computer_id = fields.require("computer_id")?;
    let mut tx = app.store.begin_write().await?;
    software::remove(&mut tx, computer_id, url).await?;
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    Ok(text("OK"))
}

/// Node reports the proxy accepts without storing (building, available,
/// errors, started, stopped, usage).
pub(super) async fn ignored(_form: SlapForm) -> Result<Response, ApiError> {
    Ok(text("Ignored"))
}

/// `POST /destroyedComputerPartition`: the node wiped a slot.
pub(super) async fn destroyed_partition(State(app): State<AppState>, SlapForm(fields): SlapForm) -> Result<Response, ApiError> {
    let partition_id = fields.require("computer_partition_id")?;
    let computer_id = fields.require("computer_id")?;
    let mut tx = app.store.begin_write().await?;
    let outcome = instance::destroyed(&mut tx, computer_id, partition_id).await?;
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    Ok(text(match outcome {
        DestroyOutcome::Freed => "OK".to_owned(),
        DestroyOutcome::Unknown(message) | DestroyOutcome::ChildrenPending(message) => message,
    }))
}

/// `POST /softwareInstanceBang`: bump the whole tree of the banging slot.
pub(super) async fn bang(State(app): State<AppState>, SlapForm(fields): SlapForm) -> Result<Response, ApiError> {
    let computer_id = fields.require("computer_id")?;
    let partition_id = fields.require("computer_partition_id")?;
    let mut tx = app.store.begin_write().await?;
    if let Some(slot) = computer::slot(&mut tx, computer_id, partition_id).await? {
        if slot.busy {
            instance::bang_tree(&mut tx, &slot.root_title().to_owned(), now()).await?;
        }
    }
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    Ok(text("OK"))
}

/// `POST /softwareInstanceRename`.
pub(super) async fn rename(State(app): State<AppState>, SlapForm(fields): SlapForm) -> Result<Response, ApiError> {
    let new_name = fields.require("new_name")?;
    let partition_id = fields.require("computer_partition_id")?;
    let computer_id = fields.require("computer_id")?;
    let mut tx = app.store.begin_write().await?;
    let known = instance::rename(&mut tx, computer_id, partition_id, new_name).await?;
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    if known {
        Ok(text("done"))
    } else {
        Ok(text(instance::unknown_partition_message(computer_id, partition_id)))
    }
}

/// `POST /setComputerPartitionConnectionXml`: an instance publishes its
/// connection parameters, for itself or for a shared instance it hosts.
pub(super) async fn set_connection(State(app): State<AppState>, SlapForm(fields): SlapForm) -> Result<Response, ApiError> {
    let partition_id = fields.require("computer_partition_id")?;
    let computer_id = fields.require("computer_id")?;
    let published = unmarshal_field(&fields, "connection_xml")?.ok_or_else(|| ApiError::missing("connection_xml"))?;
    let parameters = proto::instance_xml::from_dict(&published)
        .map_err(|error| ApiError::BadRequest(format!("field \"connection_xml\": {error}")))?;
    let connection_xml = proto::instance_xml::encode(&parameters);
    let mut tx = app.store.begin_write().await?;
    match fields.optional("slave_reference") {
        None => instance::set_connection(&mut tx, computer_id, partition_id, &connection_xml, now()).await?,
        Some(reference) => shared::set_connection(&mut tx, reference, &connection_xml, partition_id, now()).await?,
    }
    tx.commit().await.map_err(crate::store::StoreError::from)?;
    Ok(text("done"))
}

/// `POST /computerBang`.
pub(super) async fn computer_bang(_form: SlapForm) -> Result<Response, ApiError> {
    Ok(marshalled(&Value::str("")))
}

/// `GET /getComputerPartitionCertificate`: no CA yet, empty as the proxy.
pub(super) async fn partition_certificate() -> Response {
    marshalled(&Value::dict_from([("certificate", Value::str("")), ("key", Value::str(""))]))
}

/// `GET /getComputerPartitionStatus` (legacy).
pub(super) async fn partition_status() -> Response {
    marshalled(&Value::str("Not implemented."))
}

/// `GET /getSoftwareReleaseListFromSoftwareProduct`.
pub(super) async fn software_release_list_from_product(
    State(app): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let fields = query(raw)?;
    match (fields.get("software_product_reference"), fields.get("software_release_url")) {
        (Some(product), None) => {
            let urls = app.config.software_products.get(product).map(|url| Value::str(url.as_str()));
            Ok(marshalled(&Value::List(urls.into_iter().collect())))
        }
        (None, Some(_)) => Err(ApiError::BadRequest("software_release_url parameter is not supported yet.".into())),
        _ => Err(ApiError::BadRequest(
            "exactly one of software_product_reference and software_release_url is required".into(),
        )),
    }
}

/// `GET /getRunId`: identifies this server process.
pub(super) async fn run_id(State(app): State<AppState>) -> Response {
    text(app.run_id.to_string())
}
