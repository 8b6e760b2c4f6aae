//! Shared (slave) instances: hosted in the `slave_instance_list` of a busy
//! slot with the same software release and type, with a record of their own
//! for published connection parameters (§7.3).

use proto::Value;
use crate::store::Db;

use super::computer::{addresses, slot};
use super::instance::{next_timestamp, Refusal};
use super::rows::{self, AddressRow, SharedRow, SlotRow, SHARED_COLUMNS, SLOT_COLUMNS};
use super::{next_position, StoreError, WriteTx};
use super::sql::query;

/// A validated request for a shared instance.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedRequest {
    /// Software release URL the host must run.
    pub software_release: String,
    /// Software type the host must have; empty matches any.
    pub software_type: String,
    /// Shared instance title.
    pub title: String,
    /// Parameters with their original types (kept in the host's list).
    pub parameters: Vec<(String, Value)>,
    /// Computer of the host (SLA `computer_guid` or the default one).
    pub computer: String,
    /// SLA `instance_guid`: a host slot (`<computer>-<slot>` or bare slot).
    pub instance_guid: Option<String>,
    /// `destroyed` removes it from its host's list.
    pub requested_state: Option<String>,
    /// Root title of the requester's tree (`''` for a user).
    pub requested_by: String,
    /// Direct requester slot id, or `user`.
    pub requester_id: String,
}

/// What a shared request left in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedOutcome {
    /// The slot found as host.
    pub host: SlotRow,
    /// The host's addresses.
    pub addresses: Vec<AddressRow>,
    /// The shared instance's record.
    pub shared: SharedRow,
}

/// The reference of a shared instance: `<root title>_<title>`.
pub fn shared_reference(requested_by: &str, title: &str) -> String {
    format!("{requested_by}_{title}")
}

/// Requests a shared instance: finds its host, upserts (or, when
/// destroyed, removes) its entry in the host's list, bumping the host only
/// if the list changed, and records the shared instance.
///
/// # Errors
/// [`Refusal::NoSharedHost`] as [`StoreError::Refused`]; SQL errors;
/// a host list that is not a marshalled list.
pub async fn request(tx: &mut WriteTx, request: &SharedRequest, now: f64) -> Result<SharedOutcome, StoreError> {
    let host = find_host(tx, request).await?;
    let reference = shared_reference(&request.requested_by, &request.title);
    let mut list = host_list(&host)?;
    let changed = if request.requested_state.as_deref() == Some("destroyed") {
        let before = list.len();
        list.retain(|entry| entry.dict_get("slave_reference").and_then(Value::as_str) != Some(&reference));
        before != list.len()
    } else {
        let entry = list_entry(request, &reference);
        match list
            .iter_mut()
            .find(|e| e.dict_get("slave_reference").and_then(Value::as_str) == Some(&reference))
        {
            Some(existing) if proto::marshal::encode(existing) == proto::marshal::encode(&entry) => false,
            Some(existing) => {
                *existing = entry;
                true
            }
            None => {
                list.push(entry);
                true
            }
        }
    };
    let encoded = proto::marshal::encode(&Value::List(list));
    // Only a change of the list moves the host's timestamp (§7.3).
    let timestamp = if changed { Some(next_timestamp(now, host.timestamp)) } else { host.timestamp };
    query(
        "UPDATE partition_slot SET shared_instance_list = $1, timestamp_s = $2 \
         WHERE computer_reference = $3 AND reference = $4",
    )
    .bind(&encoded)
    .bind(timestamp)
    .bind(&host.computer_reference)
    .bind(&host.reference)
    .execute(&mut **tx)
    .await?;
    let shared = match shared_instance(tx, &reference, &request.computer).await? {
        None => {
            let position = next_position(tx, "shared_instance").await?;
            query(
                "INSERT INTO shared_instance (reference, computer_reference, hosted_by, requester_id, position) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&reference)
            .bind(&request.computer)
            .bind(&host.reference)
            .bind(&request.requester_id)
            .bind(position)
            .execute(&mut **tx)
            .await?;
            SharedRow {
                reference: reference.clone(),
                computer_reference: request.computer.clone(),
                hosted_by: host.reference.clone(),
                connection_xml: None,
                requester_id: request.requester_id.clone(),
            }
        }
        Some(mut shared) => {
            if !request.requester_id.is_empty() && shared.requester_id != request.requester_id {
                query(
                    "UPDATE shared_instance SET requester_id = $1 WHERE reference = $2 AND computer_reference = $3",
                )
                .bind(&request.requester_id)
                .bind(&reference)
                .bind(&request.computer)
                .execute(&mut **tx)
                .await?;
                shared.requester_id = request.requester_id.clone();
            }
            shared
        }
    };
    let host = slot(tx, &host.computer_reference, &host.reference)
        .await?
        .ok_or_else(|| StoreError::Corrupted { table: "partition_slot", detail: "host slot vanished".into() })?;
    let addresses = addresses(tx, &host.computer_reference, &host.reference).await?;
    Ok(SharedOutcome { host, addresses, shared })
}

async fn find_host(tx: &mut WriteTx, request: &SharedRequest) -> Result<SlotRow, StoreError> {
    let mut sql = format!(
        "SELECT {SLOT_COLUMNS} FROM partition_slot WHERE software_release = $1 AND computer_reference = $2"
    );
    let mut criteria = vec![request.software_release.clone(), request.computer.clone()];
    if !request.software_type.is_empty() {
        criteria.push(request.software_type.clone());
        sql.push_str(&format!(" AND software_type = ${}", criteria.len()));
    }
    if let Some(guid) = &request.instance_guid {
        let prefix = format!("{}-", request.computer);
        let slot = if guid.starts_with(&request.computer) && guid.len() > request.computer.len() {
            guid.get(prefix.len()..).unwrap_or(guid).to_owned()
        } else {
            guid.clone()
        };
        criteria.push(slot);
        sql.push_str(&format!(" AND reference = ${}", criteria.len()));
    }
    sql.push_str(" ORDER BY position LIMIT 1");
    let mut query = query(&sql);
    for value in &criteria {
        query = query.bind(value);
    }
    match query.fetch_optional(&mut **tx).await? {
        Some(row) => rows::slot(row),
        None => {
            let listed = Value::List(criteria.into_iter().map(Value::String).collect());
            Err(Refusal::NoSharedHost { criteria: proto::python_repr::repr_of(&listed) }.into())
        }
    }
}

/// The entry of a shared instance in its host's list.
fn list_entry(request: &SharedRequest, reference: &str) -> Value {
    let mut entry = vec![
        (Value::str("slave_title"), Value::str(reference)),
        (Value::str("slap_software_type"), Value::str(request.software_type.as_str())),
        (Value::str("slave_reference"), Value::str(reference)),
    ];
    for (key, value) in &request.parameters {
        match entry.iter_mut().find(|(k, _)| k.as_str() == Some(key.as_str())) {
            Some(slot) => slot.1 = value.clone(),
            None => entry.push((Value::str(key.as_str()), value.clone())),
        }
    }
    Value::Dict(entry)
}

/// The decoded `slave_instance_list` of a slot (empty if never set).
///
/// # Errors
/// [`StoreError::Corrupted`] if the column is not a marshalled list.
pub fn host_list(host: &SlotRow) -> Result<Vec<Value>, StoreError> {
    let Some(encoded) = host.shared_instance_list.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    match proto::marshal::decode(encoded.as_bytes()) {
        Ok(Value::List(items)) => Ok(items),
        Ok(other) => Err(StoreError::Corrupted {
            table: "partition_slot",
            detail: format!("shared instance list of {} is not a list: {other:?}", host.reference),
        }),
        Err(error) => Err(StoreError::Corrupted {
            table: "partition_slot",
            detail: format!("shared instance list of {}: {error}", host.reference),
        }),
    }
}

/// A shared instance record by reference and computer.
///
/// # Errors
/// SQL errors.
pub async fn shared_instance(
    conn: &mut Db,
    reference: &str,
    computer: &str,
) -> Result<Option<SharedRow>, StoreError> {
    let sql = format!("SELECT {SHARED_COLUMNS} FROM shared_instance WHERE reference = $1 AND computer_reference = $2");
    let found = query(&sql).bind(reference).bind(computer).fetch_optional(conn).await?;
    found.map(rows::shared).transpose()
}

/// Stores connection parameters published for a shared instance by its
/// host (which becomes its host); if they changed, the shared instance's
/// direct requester is bumped (§7.6).
///
/// # Errors
/// SQL errors.
pub async fn set_connection(
    tx: &mut WriteTx,
    reference: &str,
    connection_xml: &str,
    hosted_by: &str,
    now: f64,
) -> Result<(), StoreError> {
    let sql = format!("SELECT {SHARED_COLUMNS} FROM shared_instance WHERE reference = $1 ORDER BY position LIMIT 1");
    let found = query(&sql).bind(reference).fetch_optional(&mut **tx).await?;
    let current = found.map(rows::shared).transpose()?;
    query("UPDATE shared_instance SET connection_xml = $1, hosted_by = $2 WHERE reference = $3")
        .bind(connection_xml)
        .bind(hosted_by)
        .bind(reference)
        .execute(&mut **tx)
        .await?;
    if let Some(current) = current {
        if current.connection_xml.as_deref() != Some(connection_xml) && !current.requester_id.is_empty() {
            super::instance::bump_slot(tx, &current.computer_reference, &current.requester_id, now).await?;
        }
    }
    Ok(())
}

/// Shared instances requested by users (tree roots), optionally by title.
///
/// # Errors
/// SQL errors.
pub async fn user_shared(conn: &mut Db, title: Option<&str>) -> Result<Vec<SharedRow>, StoreError> {
    let sql = format!(
        "SELECT {SHARED_COLUMNS} FROM shared_instance WHERE ($1 = '' AND reference LIKE '\\_%' ESCAPE '\\') \
         OR reference = $2 ORDER BY position"
    );
    let exact = title.map(|t| shared_reference("", t)).unwrap_or_default();
    let found = query(&sql).bind(title.unwrap_or("")).bind(&exact).fetch_all(conn).await?;
    found.into_iter().map(rows::shared).collect()
}
