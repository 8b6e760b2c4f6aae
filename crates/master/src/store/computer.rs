//! Compute nodes and their partition slots: format, and the reads that
//! build the node's view of itself (`getFullComputerInformation`).

mod packed;

use std::collections::HashMap;
use std::sync::LazyLock;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use self::packed::Column;
use super::rows::{self, AddressRow, ComputerRow, SlotRow, SLOT_COLUMNS};
use super::{next_position, StoreError, WriteTx};

/// One slot as format describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct FormattedSlot {
    /// Slot id, e.g. `slappart0`.
    pub reference: String,
    /// Its addresses.
    pub addresses: Vec<AddressRow>,
}

/// A computer as format describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct FormattedComputer {
    /// The computer reference.
    pub reference: String,
    /// Its address, if sent.
    pub address: Option<String>,
    /// Its netmask, if sent.
    pub netmask: Option<String>,
    /// Its network; `None` keeps the one it has (the real node's format
    /// never sends one: it is set at registration).
    pub network: Option<String>,
    /// Its slots, in order.
    pub slots: Vec<FormattedSlot>,
}

/// (Re)formats a computer: upserts it, deletes slots (and the shared
/// instances they host) that are not in the new list, keeps existing slots
/// with their allocation, adds new ones at the end, replaces all addresses.
///
/// # Errors
/// SQL errors.
pub async fn format(tx: &mut WriteTx, computer: &FormattedComputer) -> Result<(), StoreError> {
    let exists: Option<(String,)> = sqlx::query_as("SELECT reference FROM computer WHERE reference = $1")
        .bind(&computer.reference)
        .fetch_optional(&mut **tx)
        .await?;
    if exists.is_some() {
        sqlx::query("UPDATE computer SET address = $1, netmask = $2, network = COALESCE($3, network) WHERE reference = $4")
            .bind(&computer.address)
            .bind(&computer.netmask)
            .bind(&computer.network)
            .bind(&computer.reference)
            .execute(&mut **tx)
            .await?;
    } else {
        let position = next_position(tx, "computer").await?;
        sqlx::query(
            "INSERT INTO computer (reference, address, netmask, network, position) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&computer.reference)
        .bind(&computer.address)
        .bind(&computer.netmask)
        .bind(&computer.network)
        .bind(position)
            .execute(&mut **tx)
            .await?;
    }
    let existing: Vec<(String,)> =
        sqlx::query_as("SELECT reference FROM partition_slot WHERE computer_reference = $1")
            .bind(&computer.reference)
            .fetch_all(&mut **tx)
            .await?;
    let wanted = |reference: &str| computer.slots.iter().any(|slot| slot.reference == reference);
    for (reference,) in existing.iter().filter(|(r,)| !wanted(r)) {
        sqlx::query("DELETE FROM partition_slot WHERE computer_reference = $1 AND reference = $2")
            .bind(&computer.reference)
            .bind(reference)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM shared_instance WHERE computer_reference = $1 AND hosted_by = $2")
            .bind(&computer.reference)
            .bind(reference)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("DELETE FROM partition_address WHERE computer_reference = $1")
        .bind(&computer.reference)
        .execute(&mut **tx)
        .await?;
    // Positions are taken once and counted up locally: one MAX() per table
    // rather than one per row keeps a 1000-slot format linear.
    let mut slot_position = next_position(tx, "partition_slot").await?;
    let mut address_position = next_position(tx, "partition_address").await?;
    for slot in &computer.slots {
        if !existing.iter().any(|(r,)| r == &slot.reference) {
            let position = slot_position;
            slot_position += 1;
            sqlx::query(
                "INSERT INTO partition_slot (computer_reference, reference, position) VALUES ($1, $2, $3)",
            )
            .bind(&computer.reference)
            .bind(&slot.reference)
            .bind(position)
            .execute(&mut **tx)
            .await?;
        }
        for address in &slot.addresses {
            let position = address_position;
            address_position += 1;
            sqlx::query(
                "INSERT INTO partition_address \
                 (computer_reference, partition_reference, interface, address, netmask, position) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&computer.reference)
            .bind(&slot.reference)
            .bind(&address.interface)
            .bind(&address.address)
            .bind(&address.netmask)
            .bind(position)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// The computer with this reference, if formatted.
///
/// # Errors
/// SQL errors.
pub async fn computer(conn: &mut AnyConnection, reference: &str) -> Result<Option<ComputerRow>, StoreError> {
    let row = sqlx::query("SELECT reference, address, netmask, network FROM computer WHERE reference = $1")
        .bind(reference)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(rows::computer).transpose()
}

/// Every formatted computer, in format order.
///
/// # Errors
/// SQL errors.
pub async fn computers(conn: &mut AnyConnection) -> Result<Vec<ComputerRow>, StoreError> {
    let found = sqlx::query("SELECT reference, address, netmask, network FROM computer ORDER BY position")
        .fetch_all(conn)
        .await?;
    found.iter().map(rows::computer).collect()
}

/// The text columns of a [`SlotRow`] in a packed slot row, in field order;
/// `timestamp_s` travels beside them (a float has no portable exact text).
const PACKED_SLOT_COLUMNS: [Column; 12] = [
    Column::Text("computer_reference"),
    Column::Text("reference"),
    Column::Integer("busy"),
    Column::Text("software_release"),
    Column::Text("software_type"),
    Column::Text("title"),
    Column::Text("requested_by"),
    Column::Text("requester_id"),
    Column::Text("requested_state"),
    Column::Text("parameter_xml"),
    Column::Text("connection_xml"),
    Column::Text("shared_instance_list"),
];

static SLOTS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {} AS packed, timestamp_s FROM partition_slot WHERE computer_reference = $1 ORDER BY position",
        packed::expression(&PACKED_SLOT_COLUMNS)
    )
});

/// A row of [`SLOTS_SQL`] as the [`SlotRow`] `rows::slot` reads from the
/// same slot's columns.
fn packed_slot(row: &AnyRow, computer: &str) -> Result<SlotRow, StoreError> {
    let packed: &str = row.try_get(0)?;
    let timestamp: Option<f64> = row.try_get(1)?;
    let corrupted = |what: &str| StoreError::Corrupted {
        table: "partition_slot",
        detail: format!("a slot of {computer} does not unpack: {what}"),
    };
    let fields = packed::unpack(packed).ok_or_else(|| corrupted("bad packing"))?;
    let [computer_reference, reference, busy, software_release, software_type, title, requested_by, requester_id, requested_state, parameter_xml, connection_xml, shared_instance_list] =
        <[Option<String>; 12]>::try_from(fields).map_err(|_| corrupted("wrong field count"))?;
    let required = |field: Option<String>, name: &str| field.ok_or_else(|| corrupted(&format!("{name} is NULL")));
    let busy = required(busy, "busy")?;
    Ok(SlotRow {
        computer_reference: required(computer_reference, "computer_reference")?,
        reference: required(reference, "reference")?,
        busy: busy.parse::<i64>().map_err(|_| corrupted(&format!("busy is {busy:?}")))? != 0,
        software_release,
        software_type,
        title,
        requested_by: required(requested_by, "requested_by")?,
        requester_id: required(requester_id, "requester_id")?,
        requested_state: required(requested_state, "requested_state")?,
        parameter_xml,
        connection_xml,
        shared_instance_list,
        timestamp,
    })
}

/// Every slot of a computer, in format order: two values per row (see
/// `packed`), converted as they arrive.
///
/// # Errors
/// SQL errors; [`StoreError::Corrupted`] for a row that does not read back.
pub async fn slots(conn: &mut AnyConnection, computer: &str) -> Result<Vec<SlotRow>, StoreError> {
    let found = sqlx::query(&SLOTS_SQL)
        .bind(computer)
        .try_map(|row| Ok(packed_slot(&row, computer)))
        .fetch_all(conn)
        .await?;
    found.into_iter().collect()
}

/// One slot, if it exists.
///
/// # Errors
/// SQL errors.
pub async fn slot(conn: &mut AnyConnection, computer: &str, reference: &str) -> Result<Option<SlotRow>, StoreError> {
    let sql = format!("SELECT {SLOT_COLUMNS} FROM partition_slot WHERE computer_reference = $1 AND reference = $2");
    let found = sqlx::query(&sql).bind(computer).bind(reference).fetch_optional(conn).await?;
    found.as_ref().map(rows::slot).transpose()
}

/// The addresses of one slot, in format order.
///
/// # Errors
/// SQL errors.
pub async fn addresses(conn: &mut AnyConnection, computer: &str, slot: &str) -> Result<Vec<AddressRow>, StoreError> {
    let found = sqlx::query(
        "SELECT interface, address, netmask FROM partition_address \
         WHERE computer_reference = $1 AND partition_reference = $2 ORDER BY position",
    )
    .bind(computer)
    .bind(slot)
    .fetch_all(conn)
    .await?;
    found.iter().map(rows::address).collect()
}

/// Every address of a computer packed into one value (position, slot,
/// interface, address, netmask; see `packed`), in no particular order:
/// sorting 2000 addresses by position costs less here than in SQL, which
/// builds a temporary B-tree for an ordered aggregate. NULL when there is
/// none. `string_agg` is in both PostgreSQL and SQLite (3.44 on).
static ADDRESSES_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT string_agg({}, '|;') FROM partition_address WHERE computer_reference = $1",
        packed::expression(&[
            Column::Integer("position"),
            Column::Text("partition_reference"),
            Column::Text("interface"),
            Column::Text("address"),
            Column::Text("netmask"),
        ])
    )
});

/// Every address of every slot of a computer, keyed by slot id, in format
/// order: a whole-computer read makes one query of one value.
///
/// # Errors
/// SQL errors; [`StoreError::Corrupted`] if the list does not read back.
pub async fn addresses_by_slot(
    conn: &mut AnyConnection,
    computer: &str,
) -> Result<HashMap<String, Vec<AddressRow>>, StoreError> {
    let (encoded,): (Option<String>,) = sqlx::query_as(&ADDRESSES_SQL).bind(computer).fetch_one(conn).await?;
    let mut by_slot: HashMap<String, Vec<AddressRow>> = HashMap::new();
    let Some(encoded) = encoded else {
        return Ok(by_slot);
    };
    let corrupted = || StoreError::Corrupted {
        table: "partition_address",
        detail: format!("the address list of {computer} does not unpack"),
    };
    let mut fields = packed::unpack(&encoded).ok_or_else(corrupted)?.into_iter();
    let mut addresses = Vec::with_capacity(fields.len() / 5);
    while let Some(position) = fields.next() {
        let mut next = || fields.next().flatten().ok_or_else(corrupted);
        let position: i64 = position.and_then(|text| text.parse().ok()).ok_or_else(corrupted)?;
        let (slot, interface, address, netmask) = (next()?, next()?, next()?, next()?);
        addresses.push((position, slot, AddressRow { interface, address, netmask }));
    }
    addresses.sort_by_key(|(position, _, _)| *position);
    for (_, slot, address) in addresses {
        by_slot.entry(slot).or_default().push(address);
    }
    Ok(by_slot)
}
