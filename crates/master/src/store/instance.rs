//! Instances allocated to slots: request (allocation and update),
//! destruction, rename, bang and published connection parameters, with the
//! semantics of `shared/spec/slap-protocol.md` §7.

use crate::store::Db;

use super::computer::{addresses, slot};
use super::rows::{self, AddressRow, SlotRow, SLOT_COLUMNS};
use super::{StoreError, WriteTx};
use super::sql::query;

/// A validated request for a (non-shared) instance.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRequest {
    /// Software release URL.
    pub software_release: String,
    /// Software type; empty means `default` at first allocation.
    pub software_type: String,
    /// Instance title (`partition_reference`).
    pub title: String,
    /// Parameters, already serialised as instance XML.
    pub parameter_xml: String,
    /// Where a new instance may go.
    pub placement: super::placement::Placement,
    /// Requested state; `None` keeps the stored one.
    pub requested_state: Option<String>,
    /// Root title of the requester's tree (`''` for a user).
    pub requested_by: String,
    /// Direct requester slot id, or `user`.
    pub requester_id: String,
}

/// What a request left in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestOutcome {
    /// The instance's slot after the request.
    pub slot: SlotRow,
    /// The slot's addresses.
    pub addresses: Vec<AddressRow>,
    /// The state to answer (`_requested_state`): the effective requested
    /// state, or `started` when none was sent (a proxy quirk).
    pub answered_state: String,
}

/// The roots of every instance tree: busy slots without a root, then shared
/// instances requested by users.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceTreeRoots {
    /// Root instances.
    pub instances: Vec<SlotRow>,
    /// Root shared instances.
    pub shared: Vec<super::SharedRow>,
}

/// Why the store refused an operation that was well-formed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// No free slot on the target computer.
    #[error("No free computer partition found for: {title}")]
    NoFreePartition {
        /// The requested title.
        title: String,
    },
    /// No busy slot matches a shared instance request.
    #[error("No partition corresponding to slave request: {criteria}")]
    NoSharedHost {
        /// The criteria, as the proxy prints them (a Python list).
        criteria: String,
    },
    /// A rename would give two instances of one tree the same title.
    #[error("an instance titled {title:?} already exists in this instance tree")]
    TitleTaken {
        /// The wanted title.
        title: String,
    },
}

/// The next timestamp for a slot: `now`, or just after the previous one if
/// the clock has not moved past it, so nodes always see a change.
pub(super) fn next_timestamp(now: f64, previous: Option<f64>) -> f64 {
    match previous {
        Some(previous) if previous >= now => previous + 1e-6,
        _ => now,
    }
}

/// The busy slot holding the instance `(title, requested_by)`, on any computer.
///
/// # Errors
/// SQL errors.
pub async fn instance(
    conn: &mut Db,
    title: &str,
    requested_by: &str,
) -> Result<Option<SlotRow>, StoreError> {
    let sql = format!(
        "SELECT {SLOT_COLUMNS} FROM partition_slot WHERE busy = 1 AND title = $1 AND requested_by = $2"
    );
    let found = query(&sql).bind(title).bind(requested_by).fetch_optional(conn).await?;
    found.map(rows::slot).transpose()
}

/// Every busy slot of the tree whose root is titled `root`, root included.
///
/// # Errors
/// SQL errors.
pub async fn tree(conn: &mut Db, root: &str) -> Result<Vec<SlotRow>, StoreError> {
    let sql = format!(
        "SELECT {SLOT_COLUMNS} FROM partition_slot WHERE busy = 1 \
         AND ((title = $1 AND requested_by = '') OR requested_by = $1) ORDER BY position"
    );
    let found = query(&sql).bind(root).fetch_all(conn).await?;
    found.into_iter().map(rows::slot).collect()
}

/// Requests an instance: allocates the first free slot of the target
/// computer if the instance does not exist, else updates it in place
/// (§7.2). The timestamp changes only when something the node must process
/// changed.
///
/// # Errors
/// [`Refusal::NoFreePartition`] as [`StoreError::Refused`]; SQL errors.
pub async fn request(tx: &mut WriteTx, request: &InstanceRequest, now: f64) -> Result<RequestOutcome, StoreError> {
    let mut software_type = request.software_type.clone();
    let existing = instance(tx, &request.title, &request.requested_by).await?;
    let allocating = existing.is_none();
    let (current, requested_state, requester_id) = match existing {
        Some(current) => {
            let requested_state = forced_state(tx, request).await?;
            let requester_id = if request.requester_id.is_empty() { &current.requester_id } else { &request.requester_id };
            let requester_id = requester_id.clone();
            (current, requested_state, requester_id)
        }
        None => {
            let tree_root = if request.requested_by.is_empty() { &request.title } else { &request.requested_by };
            let free = super::placement::first_free_slot(tx, &request.placement, tree_root)
                .await?
                .ok_or_else(|| Refusal::NoFreePartition { title: request.title.clone() })?;
            if software_type.is_empty() {
                software_type = "default".to_owned();
            }
            (free, request.requested_state.clone(), request.requester_id.clone())
        }
    };
    let answered_state = requested_state.clone().unwrap_or_else(|| "started".into());
    let state = requested_state.unwrap_or_else(|| current.requested_state.clone());
    let changed = changes(&current, &state, &software_type, request);
    if !changed && !allocating && requester_id == current.requester_id {
        let addresses = addresses(tx, &current.computer_reference, &current.reference).await?;
        return Ok(RequestOutcome { slot: current, addresses, answered_state });
    }
    let timestamp = if changed { next_timestamp(now, current.timestamp) } else { current.timestamp.unwrap_or(now) };
    let (title, requested_by) = if allocating {
        (request.title.clone(), request.requested_by.clone())
    } else {
        (current.title.clone().unwrap_or_default(), current.requested_by.clone())
    };
    // One statement allocates (when the slot was free) and stores the
    // request; the row is then known without reading it back.
    query(
        "UPDATE partition_slot SET busy = 1, title = $1, requested_by = $2, requester_id = $3, \
         requested_state = $4, software_release = $5, software_type = $6, parameter_xml = $7, timestamp_s = $8 \
         WHERE computer_reference = $9 AND reference = $10",
    )
    .bind(&title)
    .bind(&requested_by)
    .bind(&requester_id)
    .bind(&state)
    .bind(&request.software_release)
    .bind(&software_type)
    .bind(&request.parameter_xml)
    .bind(timestamp)
    .bind(&current.computer_reference)
    .bind(&current.reference)
    .execute(&mut **tx)
    .await?;
    let slot = SlotRow {
        busy: true,
        title: Some(title),
        requested_by,
        requester_id,
        requested_state: state,
        software_release: Some(request.software_release.clone()),
        software_type: Some(software_type),
        parameter_xml: Some(request.parameter_xml.clone()),
        timestamp: Some(timestamp),
        ..current
    };
    let addresses = addresses(tx, &slot.computer_reference, &slot.reference).await?;
    Ok(RequestOutcome { slot, addresses, answered_state })
}

/// Answers a request that would change nothing, from a plain read without
/// the write lock: the common case of an instance re-requesting its
/// children on every run. `None` when the request must go through
/// [`request`] (new instance, any change, re-parenting).
///
/// # Errors
/// SQL errors.
pub async fn unchanged(conn: &mut Db, request: &InstanceRequest) -> Result<Option<RequestOutcome>, StoreError> {
    let Some(current) = instance(conn, &request.title, &request.requested_by).await? else {
        return Ok(None);
    };
    if !request.requester_id.is_empty() && current.requester_id != request.requester_id {
        return Ok(None);
    }
    let requested_state = forced_state(conn, request).await?;
    let state = requested_state.clone().unwrap_or_else(|| current.requested_state.clone());
    if changes(&current, &state, &request.software_type, request) {
        return Ok(None);
    }
    let addresses = addresses(conn, &current.computer_reference, &current.reference).await?;
    Ok(Some(RequestOutcome { slot: current, addresses, answered_state: requested_state.unwrap_or_else(|| "started".into()) }))
}

/// The state an existing instance is asked to take: what the request says,
/// unless the root of its tree is not `started`, whose state then wins
/// (stopped and destroyed propagate down on re-request, §7.2).
async fn forced_state(conn: &mut Db, request: &InstanceRequest) -> Result<Option<String>, StoreError> {
    if !request.requested_by.is_empty() {
        if let Some(root) = instance(conn, &request.requested_by, "").await? {
            if root.requested_state != "started" {
                return Ok(Some(root.requested_state));
            }
        }
    }
    Ok(request.requested_state.clone())
}

/// Whether storing the request over `current` changes anything the node
/// must process (then the timestamp moves).
fn changes(current: &SlotRow, state: &str, software_type: &str, request: &InstanceRequest) -> bool {
    current.timestamp.is_none()
        || current.requested_state != state
        || current.software_release.as_deref() != Some(request.software_release.as_str())
        || current.software_type.as_deref() != Some(software_type)
        || current.parameter_xml.as_deref() != Some(request.parameter_xml.as_str())
}

/// What `destroyedComputerPartition` did.
#[derive(Debug, Clone, PartialEq)]
pub enum DestroyOutcome {
    /// The slot is free again.
    Freed,
    /// No such slot; the text the proxy answers.
    Unknown(String),
    /// A root with live descendants: they were asked to be destroyed and the
    /// root is kept; the text the proxy answers.
    ChildrenPending(String),
}

/// The proxy's answer about a slot it does not know, which the node logs:
/// `Unknown partition 'slappart9' on 'COMP-1'`.
pub fn unknown_partition_message(computer: &str, reference: &str) -> String {
    use proto::python_repr::repr_of;
    use proto::Value;
    format!("Unknown partition {} on {}", repr_of(&Value::str(reference)), repr_of(&Value::str(computer)))
}

/// The node reports a slot destroyed: free it, unless it is a root whose
/// descendants still exist (§7.5).
///
/// # Errors
/// SQL errors.
pub async fn destroyed(tx: &mut WriteTx, computer: &str, reference: &str) -> Result<DestroyOutcome, StoreError> {
    let Some(current) = slot(tx, computer, reference).await? else {
        return Ok(DestroyOutcome::Unknown(unknown_partition_message(computer, reference)));
    };
    if current.requested_by.is_empty() {
        if let Some(title) = &current.title {
            let children = query("SELECT title FROM partition_slot WHERE requested_by = $1 ORDER BY title")
            .bind(title)
            .fetch_all(&mut **tx)
            .await?;
            if !children.is_empty() {
                query("UPDATE partition_slot SET requested_state = 'destroyed' WHERE requested_by = $1")
                    .bind(title)
                    .execute(&mut **tx)
                    .await?;
                let names = children
                    .into_iter()
                    .map(|mut row| Ok(row.opt_text(0)?.unwrap_or_default()))
                    .collect::<Result<Vec<String>, StoreError>>()?;
                return Ok(DestroyOutcome::ChildrenPending(format!(
                    "Not destroying yet because this partition has child partitions: {}",
                    names.join(", ")
                )));
            }
        }
    }
    query(
        "UPDATE partition_slot SET busy = 0, software_release = NULL, parameter_xml = NULL, \
         connection_xml = NULL, shared_instance_list = NULL, software_type = NULL, title = NULL, \
         requested_by = '', requester_id = '', requested_state = 'started' \
         WHERE computer_reference = $1 AND reference = $2",
    )
    .bind(computer)
    .bind(reference)
    .execute(&mut **tx)
    .await?;
    Ok(DestroyOutcome::Freed)
}

/// Renames the instance of a slot; a root's descendants follow it. Returns
/// `false` if the slot is unknown.
///
/// # Errors
/// [`Refusal::TitleTaken`] if the tree already has that title; SQL errors.
pub async fn rename(tx: &mut WriteTx, computer: &str, reference: &str, new_title: &str) -> Result<bool, StoreError> {
    let Some(current) = slot(tx, computer, reference).await? else {
        return Ok(false);
    };
    if current.busy
        && current.title.as_deref() != Some(new_title)
        && instance(tx, new_title, &current.requested_by).await?.is_some()
    {
        return Err(Refusal::TitleTaken { title: new_title.to_owned() }.into());
    }
    if current.requested_by.is_empty() {
        if let Some(old_title) = &current.title {
            query("UPDATE partition_slot SET requested_by = $1 WHERE requested_by = $2")
                .bind(new_title)
                .bind(old_title)
                .execute(&mut **tx)
                .await?;
        }
    }
    query("UPDATE partition_slot SET title = $1 WHERE computer_reference = $2 AND reference = $3")
        .bind(new_title)
        .bind(computer)
        .bind(reference)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// Bumps the timestamp of every instance of the tree rooted at `root`.
///
/// # Errors
/// SQL errors.
pub async fn bang_tree(tx: &mut WriteTx, root: &str, now: f64) -> Result<(), StoreError> {
    bump(tx, "(title = $2 AND requested_by = '') OR requested_by = $2", root, now).await
}

/// Bumps the timestamp of one slot.
///
/// # Errors
/// SQL errors.
pub async fn bump_slot(tx: &mut WriteTx, computer: &str, reference: &str, now: f64) -> Result<(), StoreError> {
    let sql = "UPDATE partition_slot SET timestamp_s = CASE WHEN timestamp_s IS NOT NULL AND timestamp_s >= $1 \
               THEN timestamp_s + 0.000001 ELSE $1 END WHERE computer_reference = $2 AND reference = $3";
    query(sql).bind(now).bind(computer).bind(reference).execute(&mut **tx).await?;
    Ok(())
}

async fn bump(tx: &mut WriteTx, condition: &str, value: &str, now: f64) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE partition_slot SET timestamp_s = CASE WHEN timestamp_s IS NOT NULL AND timestamp_s >= $1 \
         THEN timestamp_s + 0.000001 ELSE $1 END WHERE {condition}"
    );
    query(&sql).bind(now).bind(value).execute(&mut **tx).await?;
    Ok(())
}

/// Stores the connection parameters an instance published for itself; if
/// they changed, its direct requester is bumped so it picks them up (§7.6).
///
/// # Errors
/// SQL errors.
pub async fn set_connection(
    tx: &mut WriteTx,
    computer: &str,
    reference: &str,
    connection_xml: &str,
    now: f64,
) -> Result<(), StoreError> {
    let Some(current) = slot(tx, computer, reference).await? else {
        return Ok(());
    };
    query("UPDATE partition_slot SET connection_xml = $1 WHERE computer_reference = $2 AND reference = $3")
        .bind(connection_xml)
        .bind(computer)
        .bind(reference)
        .execute(&mut **tx)
        .await?;
    if current.connection_xml.as_deref() != Some(connection_xml) && !current.requester_id.is_empty() {
        bump_slot(tx, computer, &current.requester_id, now).await?;
    }
    Ok(())
}

/// The roots of every instance tree.
///
/// # Errors
/// SQL errors.
pub async fn tree_roots(conn: &mut Db, title: Option<&str>) -> Result<InstanceTreeRoots, StoreError> {
    let sql = format!(
        "SELECT {SLOT_COLUMNS} FROM partition_slot WHERE busy = 1 AND requested_by = '' \
         AND ($1 = '' OR title = $1) ORDER BY position"
    );
    let found = query(&sql).bind(title.unwrap_or("")).fetch_all(&mut *conn).await?;
    let instances = found.into_iter().map(rows::slot).collect::<Result<_, _>>()?;
    let shared = super::shared::user_shared(conn, title).await?;
    Ok(InstanceTreeRoots { instances, shared })
}
