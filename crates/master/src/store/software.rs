//! Software installations: which releases each computer must supply.

use crate::store::Db;

use super::rows::{self, SoftwareRow};
use super::{next_position, StoreError, WriteTx};
use super::sql::query;

/// Records that `computer` must supply (`available`) or remove
/// (`destroyed`) `url`. A re-supply moves the installation to the end of the
/// list, as the proxy's `INSERT OR REPLACE` does.
///
/// # Errors
/// SQL errors.
pub async fn supply(tx: &mut WriteTx, computer: &str, url: &str, state: &str) -> Result<(), StoreError> {
    remove(tx, computer, url).await?;
    let position = next_position(tx, "software_installation").await?;
    query(
        "INSERT INTO software_installation (url, computer_reference, requested_state, position) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(url)
    .bind(computer)
    .bind(state)
    .bind(position)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Forgets an installation (the node reported the release destroyed).
///
/// # Errors
/// SQL errors.
pub async fn remove(tx: &mut WriteTx, computer: &str, url: &str) -> Result<bool, StoreError> {
    let done = query("DELETE FROM software_installation WHERE url = $1 AND computer_reference = $2")
        .bind(url)
        .bind(computer)
        .execute(&mut **tx)
        .await?;
    Ok(done > 0)
}

/// The installations of one computer, in supply order.
///
/// # Errors
/// SQL errors.
pub async fn installations(conn: &mut Db, computer: &str) -> Result<Vec<SoftwareRow>, StoreError> {
    let found = query(
        "SELECT url, computer_reference, requested_state FROM software_installation \
         WHERE computer_reference = $1 ORDER BY position",
    )
    .bind(computer)
    .fetch_all(conn)
    .await?;
    found.into_iter().map(rows::software).collect()
}
