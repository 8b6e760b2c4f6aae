//! The master's only state: one SQL database, SQLite by default, PostgreSQL
//! when the configuration names one. Every query is written once, in the
//! portable subset both engines accept, and run through sqlx's `Any` driver.
//!
//! Concurrency model: every mutating operation runs in one write
//! transaction that first takes the store-wide write lock (`BEGIN IMMEDIATE`
//! on SQLite, a transaction-scoped advisory lock on PostgreSQL), so that
//! several master processes sharing one PostgreSQL never allocate a slot
//! twice. Inside one process, writers also queue on an async mutex so that
//! SQLite's busy-wait is never the scheduler. Reads need no lock.

pub mod computer;
pub mod forwarded;
pub mod instance;
pub mod lookup;
mod local_root;
mod migrations;
pub mod placement;
mod rows;
pub mod shared;
pub mod software;

pub use forwarded::ForwardedRequest;
pub use instance::{DestroyOutcome, InstanceRequest, InstanceTreeRoots, Refusal, RequestOutcome};
pub use rows::{AddressRow, ComputerRow, SharedRow, SlotRow, SoftwareRow};
pub use placement::Placement;
pub use shared::{SharedOutcome, SharedRequest};

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

/// Which SQL engine a store runs on; the few statements that differ
/// (locking) look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file, WAL journal.
    Sqlite,
    /// A server shared by any number of masters.
    Postgres,
}

/// An error of the store: the database failed or its content is not what
/// this master expects.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URI is neither `sqlite:`, a plain path, nor `postgres(ql)://`.
    #[error("unsupported database uri {uri:?}: use a file path, sqlite://PATH or postgresql://…")]
    UnsupportedUri {
        /// The URI as configured.
        uri: String,
    },
    /// The engine reported an error.
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    /// A row holds data this master cannot read (e.g. a corrupted XML column).
    #[error("corrupted row in {table}: {detail}")]
    Corrupted {
        /// The table holding the row.
        table: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The operation is well-formed but refused in the current state.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The database was written by a newer master.
    #[error("database schema version {found} is newer than this master knows ({known})")]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Newest version this binary knows.
        known: i64,
    },
}

/// A handle on the master's database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    write_gate: Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction holding the store-wide write lock.
pub type WriteTx = sqlx::Transaction<'static, sqlx::Any>;

impl Store {
    /// Opens (and creates, for SQLite) the database at `uri`, then applies the
    /// schema migrations it lacks.
    ///
    /// `uri` is a file path, `sqlite://PATH`, `sqlite::memory:` or
    /// `postgres(ql)://…`.
    ///
    /// # Errors
    /// Unsupported URI, unreachable or unwritable database, schema newer than
    /// this binary.
    pub async fn open(uri: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = normalize_uri(uri)?;
        let options: AnyConnectOptions = url.parse()?;
        let max_connections = match backend {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        connection
                            .execute(
                                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                                 PRAGMA busy_timeout=30000; PRAGMA foreign_keys=ON;",
                            )
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let store = Store { pool, backend, write_gate: Arc::new(tokio::sync::Mutex::new(())) };
        migrations::apply(&store).await?;
        Ok(store)
    }

    /// The engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a write transaction holding the store-wide write lock, and
    /// returns it with the in-process guard that must live as long.
    ///
    /// # Errors
    /// The database failed to begin or lock.
    pub async fn begin_write(&self) -> Result<(WriteTx, tokio::sync::OwnedMutexGuard<()>), StoreError> {
        let guard = self.write_gate.clone().lock_owned().await;
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                // One lock for the whole store: allocation reads then writes
                // several tables, and serialising writers is what keeps two
                // masters from handing out one slot twice.
                sqlx::query("SELECT pg_advisory_xact_lock(5142)").execute(&mut *tx).await?;
                tx
            }
        };
        Ok((tx, guard))
    }

    /// The connection pool, for read-only queries.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection (on shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn normalize_uri(uri: &str) -> Result<(Backend, String), StoreError> {
    if uri.starts_with("postgres://") || uri.starts_with("postgresql://") {
        return Ok((Backend::Postgres, uri.to_owned()));
    }
    if uri == "sqlite::memory:" {
        return Ok((Backend::Sqlite, uri.to_owned()));
    }
    if let Some(path) = uri.strip_prefix("sqlite://").or_else(|| uri.strip_prefix("sqlite:")) {
        return Ok((Backend::Sqlite, sqlite_url(path)));
    }
    if uri.contains("://") {
        return Err(StoreError::UnsupportedUri { uri: uri.to_owned() });
    }
    Ok((Backend::Sqlite, sqlite_url(uri)))
}

fn sqlite_url(path: &str) -> String {
    let (path, _query) = path.split_once('?').unwrap_or((path, ""));
    format!("sqlite://{path}?mode=rwc")
}

/// The next position (insertion order) in `table`; only called inside a
/// write transaction, which makes it race-free.
async fn next_position(tx: &mut WriteTx, table: &'static str) -> Result<i64, StoreError> {
    let sql = format!("SELECT COALESCE(MAX(position), 0) + 1 FROM {table}");
    let (position,): (i64,) = sqlx::query_as(&sql).fetch_one(&mut **tx).await?;
    Ok(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_map_to_backends() {
        let check = |uri: &str, backend: Backend, url: &str| {
            let (b, u) = normalize_uri(uri).expect("valid uri");
            assert_eq!((b, u.as_str()), (backend, url), "{uri}");
        };
        check("/var/lib/proxy.db", Backend::Sqlite, "sqlite:///var/lib/proxy.db?mode=rwc");
        check("proxy.db", Backend::Sqlite, "sqlite://proxy.db?mode=rwc");
        check("sqlite:///tmp/a.db", Backend::Sqlite, "sqlite:///tmp/a.db?mode=rwc");
        check("postgresql://u@localhost/db", Backend::Postgres, "postgresql://u@localhost/db");
        assert!(normalize_uri("mysql://x").is_err());
    }
}
