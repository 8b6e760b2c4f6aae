//! Reads by name that the JSON and HATEOAS APIs need and the classic API
//! does not: those APIs name instances by title and shared instances by
//! reference alone, where the classic API names slots.

use proto::Value;
use crate::store::Db;

use super::rows::{self, SharedRow, SlotRow, SHARED_COLUMNS, SLOT_COLUMNS};
use super::StoreError;
use super::sql::query;

/// The shared instance with this reference, on whichever computer; the
/// first recorded if several computers have one (the proxy's lookup).
///
/// # Errors
/// SQL errors.
pub async fn shared_by_reference(conn: &mut Db, reference: &str) -> Result<Option<SharedRow>, StoreError> {
    let sql = format!("SELECT {SHARED_COLUMNS} FROM shared_instance WHERE reference = $1 ORDER BY position LIMIT 1");
    let found = query(&sql).bind(reference).fetch_optional(conn).await?;
    found.map(rows::shared).transpose()
}

/// The instance titled `title`: the root of that title if there is one,
/// else the first instance of that title in any tree, in format order.
///
/// # Errors
/// SQL errors.
pub async fn instance_titled(conn: &mut Db, title: &str) -> Result<Option<SlotRow>, StoreError> {
    let sql = format!(
        "SELECT {SLOT_COLUMNS} FROM partition_slot WHERE busy = 1 AND title = $1 \
         ORDER BY CASE WHEN requested_by = '' THEN 0 ELSE 1 END, position LIMIT 1"
    );
    let found = query(&sql).bind(title).fetch_optional(conn).await?;
    found.map(rows::slot).transpose()
}

/// The keys the master adds to a shared instance's entry in its host's
/// list (§6); the other keys are the parameters its requester sent.
pub const ENTRY_BOOKKEEPING: [&str; 3] = ["slave_title", "slap_software_type", "slave_reference"];

/// The entry of the shared instance `reference` in its host's list, if the
/// host still lists it (a destroyed shared instance keeps its record but
/// leaves the list).
///
/// # Errors
/// [`StoreError::Corrupted`] if the host's list is not a marshalled list.
pub fn hosted_entry(host: &SlotRow, reference: &str) -> Result<Option<Value>, StoreError> {
    let list = super::shared::host_list(host)?;
    Ok(list.into_iter().find(|entry| entry.dict_get("slave_reference").and_then(Value::as_str) == Some(reference)))
}

/// The parameters of a host list entry, with their original types: the
/// entry without its bookkeeping keys.
pub fn entry_parameters(entry: &Value) -> Vec<(Value, Value)> {
    let items = entry.as_dict().unwrap_or_default();
    items.iter().filter(|(key, _)| !key.as_str().is_some_and(|key| ENTRY_BOOKKEEPING.contains(&key))).cloned().collect()
}
