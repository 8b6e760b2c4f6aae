//! Versioned schema migrations, embedded in the binary. The database records
//! the highest applied version in `schema_version`; each migration runs once,
//! in its own write transaction, in order.

use super::{Store, StoreError};
use super::sql::query;

/// Every migration, in order; the version is the index plus one.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_initial.sql"),
    include_str!("../../migrations/0002_config_and_indexes.sql"),
    include_str!("../../migrations/0003_computer_network.sql"),
    include_str!("../../migrations/0004_forwarded_request.sql"),
    include_str!("../../migrations/0005_free_slot_index.sql"),
];

/// Applies the migrations the database lacks.
///
/// # Errors
/// SQL errors, or a database already at a version newer than [`MIGRATIONS`].
pub(super) async fn apply(store: &Store) -> Result<(), StoreError> {
    let mut tx = store.begin_write().await?;
    query("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        .execute(&mut *tx)
        .await?;
    let current = query("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetch_one(&mut tx).await?.int(0)?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(StoreError::SchemaTooNew { found: current, known });
    }
    for (index, script) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        for statement in statements(script) {
            query(&statement).execute(&mut *tx).await?;
        }
        query("INSERT INTO schema_version (version) VALUES ($1)")
            .bind(index as i64 + 1)
            .execute(&mut *tx)
            .await?;
        tracing::info!(version = index + 1, "applied schema migration");
    }
    tx.commit().await?;
    Ok(())
}

/// Splits a migration script into statements: `;` ends a statement, `--`
/// starts a comment. Migrations hold no string literal containing either.
fn statements(script: &str) -> Vec<String> {
    let without_comments: String = script
        .lines()
        .map(|line| line.split_once("--").map_or(line, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn initial_migration_splits_into_its_statements() {
        let statements = super::statements(super::MIGRATIONS[0]);
        assert_eq!(statements.len(), 7, "{statements:#?}");
        assert!(statements.iter().all(|s| !s.contains("--")));
    }
}
