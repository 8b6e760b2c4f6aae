//! Rebasing local software release URLs when the configured local software
//! release root changes (slapproxy's `local_software_release_root`).

use super::{Store, StoreError};
use crate::local_root::{must_rebase, rebased};
use super::sql::query;

const KEY: &str = "local_software_release_root";

impl Store {
    /// Records `root` as the local software release root and, if the
    /// previous one moved (not a sub- or superpath), rebases every software
    /// installation and instance URL that was a local path under it —
    /// unless the rebased file is missing while the old one still exists.
    ///
    /// # Errors
    /// SQL errors.
    pub async fn rebase_local_software_root(&self, root: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let old = query("SELECT value FROM config WHERE name = $1").bind(KEY).fetch_optional(&mut tx).await?;
        let old = match old {
            Some(mut row) => row.text(0)?,
            None => "/".to_owned(),
        };
        if old == root {
            return Ok(());
        }
        query("DELETE FROM config WHERE name = $1").bind(KEY).execute(&mut *tx).await?;
        query("INSERT INTO config (name, value) VALUES ($1, $2)").bind(KEY).bind(root).execute(&mut *tx).await?;
        if must_rebase(&old, root) {
            let migrate = |url: &str| {
                rebased(url, &old, root).filter(|new| {
                    std::path::Path::new(new).is_file() || !std::path::Path::new(url).is_file()
                })
            };
            // Software release URLs live in these two columns.
            for (table, column) in [("software_installation", "url"), ("partition_slot", "software_release")] {
                let select = format!("SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL");
                let urls = query(&select).fetch_all(&mut tx).await?;
                let update = format!("UPDATE {table} SET {column} = $1 WHERE {column} = $2");
                for mut row in urls {
                    let url = row.text(0)?;
                    if let Some(new) = migrate(&url) {
                        query(&update).bind(&new).bind(&url).execute(&mut *tx).await?;
                    }
                }
            }
            tracing::info!(old = %old, new = %root, "rebased local software release URLs");
        }
        tx.commit().await?;
        Ok(())
    }
}
