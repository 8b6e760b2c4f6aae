//! The requests this master forwarded to other masters (§7.9): one row per
//! (reference sent, master URL), added by every forwarded request that was
//! not for `destroyed` and deleted by one that was. Nothing reads the rows
//! back while placing orders; they record where an instance went, as the
//! proxy's `forwarded_partition_request` table does.

use super::{Store, StoreError, WriteTx};
use super::sql::query;

/// One forwarded request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForwardedRequest {
    /// The reference sent, `<requester id>_<title>` (`user_…` for a user).
    pub reference: String,
    /// The master it went to, as its `[multimaster/<url>]` section names it.
    pub master_url: String,
}

/// Records that `reference` was forwarded to `master_url`; recording it
/// again changes nothing.
///
/// # Errors
/// SQL errors.
pub async fn record(tx: &mut WriteTx, reference: &str, master_url: &str) -> Result<(), StoreError> {
    query(
        "INSERT INTO forwarded_request (reference, master_url) VALUES ($1, $2) \
         ON CONFLICT (reference, master_url) DO NOTHING",
    )
    .bind(reference)
    .bind(master_url)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Forgets that `reference` was forwarded to `master_url` (it was
/// requested destroyed there).
///
/// # Errors
/// SQL errors.
pub async fn forget(tx: &mut WriteTx, reference: &str, master_url: &str) -> Result<(), StoreError> {
    query("DELETE FROM forwarded_request WHERE reference = $1 AND master_url = $2")
        .bind(reference)
        .bind(master_url)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// Every recorded forwarded request, by reference then master URL.
    ///
    /// # Errors
    /// SQL errors.
    pub async fn forwarded_requests(&self) -> Result<Vec<ForwardedRequest>, StoreError> {
        let rows = query("SELECT reference, master_url FROM forwarded_request ORDER BY reference, master_url")
            .fetch_all(&mut self.read().await?)
            .await?;
        rows.into_iter()
            .map(|mut row| Ok(ForwardedRequest { reference: row.text(0)?, master_url: row.text(1)? }))
            .collect()
    }
}
