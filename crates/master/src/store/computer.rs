//! Compute nodes and their partition slots: format, and the reads that
//! build the node's view of itself (`getFullComputerInformation`).

use std::collections::HashMap;

use super::rows::{self, AddressRow, ComputerRow, SlotRow, COMPUTER_COLUMNS, SLOT_COLUMNS};
use super::Db;
use super::{next_position, StoreError, WriteTx};
use super::sql::query;

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
    let exists = query("SELECT reference FROM computer WHERE reference = $1")
        .bind(&computer.reference)
        .fetch_optional(&mut **tx)
        .await?;
    if exists.is_some() {
        query("UPDATE computer SET address = $1, netmask = $2, network = COALESCE($3, network) WHERE reference = $4")
            .bind(&computer.address)
            .bind(&computer.netmask)
            .bind(&computer.network)
            .bind(&computer.reference)
            .execute(&mut **tx)
            .await?;
    } else {
        let position = next_position(tx, "computer").await?;
        query(
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
    let existing = query("SELECT reference FROM partition_slot WHERE computer_reference = $1")
        .bind(&computer.reference)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(|mut row| row.text(0))
        .collect::<Result<Vec<String>, StoreError>>()?;
    let wanted = |reference: &str| computer.slots.iter().any(|slot| slot.reference == reference);
    for reference in existing.iter().filter(|r| !wanted(r)) {
        query("DELETE FROM partition_slot WHERE computer_reference = $1 AND reference = $2")
            .bind(&computer.reference)
            .bind(reference)
            .execute(&mut **tx)
            .await?;
        query("DELETE FROM shared_instance WHERE computer_reference = $1 AND hosted_by = $2")
            .bind(&computer.reference)
            .bind(reference)
            .execute(&mut **tx)
            .await?;
    }
    query("DELETE FROM partition_address WHERE computer_reference = $1")
        .bind(&computer.reference)
        .execute(&mut **tx)
        .await?;
    // Positions are taken once and counted up locally: one MAX() per table
    // rather than one per row keeps a 1000-slot format linear.
    let mut slot_position = next_position(tx, "partition_slot").await?;
    let mut address_position = next_position(tx, "partition_address").await?;
    for slot in &computer.slots {
        if !existing.contains(&slot.reference) {
            let position = slot_position;
            slot_position += 1;
            query(
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
            query(
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
pub async fn computer(conn: &mut Db, reference: &str) -> Result<Option<ComputerRow>, StoreError> {
    let row = query(&format!("SELECT {COMPUTER_COLUMNS} FROM computer WHERE reference = $1"))
        .bind(reference)
        .fetch_optional(conn)
        .await?;
    row.map(rows::computer).transpose()
}

/// Every formatted computer, in format order.
///
/// # Errors
/// SQL errors.
pub async fn computers(conn: &mut Db) -> Result<Vec<ComputerRow>, StoreError> {
    let found = query(&format!("SELECT {COMPUTER_COLUMNS} FROM computer ORDER BY position"))
        .fetch_all(conn)
        .await?;
    found.into_iter().map(rows::computer).collect()
}

/// Every slot of a computer, in format order.
///
/// # Errors
/// SQL errors; [`StoreError::Corrupted`] for a row that does not read back.
pub async fn slots(conn: &mut Db, computer: &str) -> Result<Vec<SlotRow>, StoreError> {
    let sql = format!("SELECT {SLOT_COLUMNS} FROM partition_slot WHERE computer_reference = $1 ORDER BY position");
    let found = query(&sql).bind(computer).fetch_all(conn).await?;
    found.into_iter().map(rows::slot).collect()
}

/// One slot, if it exists.
///
/// # Errors
/// SQL errors.
pub async fn slot(conn: &mut Db, computer: &str, reference: &str) -> Result<Option<SlotRow>, StoreError> {
    let sql = format!("SELECT {SLOT_COLUMNS} FROM partition_slot WHERE computer_reference = $1 AND reference = $2");
    let found = query(&sql).bind(computer).bind(reference).fetch_optional(conn).await?;
    found.map(rows::slot).transpose()
}

/// The addresses of one slot, in format order.
///
/// # Errors
/// SQL errors.
pub async fn addresses(conn: &mut Db, computer: &str, slot: &str) -> Result<Vec<AddressRow>, StoreError> {
    let found = query(
        "SELECT interface, address, netmask FROM partition_address \
         WHERE computer_reference = $1 AND partition_reference = $2 ORDER BY position",
    )
    .bind(computer)
    .bind(slot)
    .fetch_all(conn)
    .await?;
    found.into_iter().map(rows::address).collect()
}

/// Every address of every slot of a computer, keyed by slot id, in format
/// order.
///
/// # Errors
/// SQL errors.
pub async fn addresses_by_slot(
    conn: &mut Db,
    computer: &str,
) -> Result<HashMap<String, Vec<AddressRow>>, StoreError> {
    let found = query(
        "SELECT partition_reference, interface, address, netmask FROM partition_address \
         WHERE computer_reference = $1 ORDER BY position",
    )
    .bind(computer)
    .fetch_all(conn)
    .await?;
    let mut by_slot: HashMap<String, Vec<AddressRow>> = HashMap::new();
    for mut row in found {
        let slot = row.text(0)?;
        let address = AddressRow { interface: row.text(1)?, address: row.text(2)?, netmask: row.text(3)? };
        by_slot.entry(slot).or_default().push(address);
    }
    Ok(by_slot)
}
