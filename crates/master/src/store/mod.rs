//! The master's only state: one SQL database, SQLite by default, PostgreSQL
//! when the configuration names one. Every query is written once, in the
//! portable subset both engines accept, and run through `sql`: SQLite in
//! process (rusqlite), PostgreSQL through sqlx.
//!
//! Concurrency model: every mutating operation runs in one write
//! transaction that first takes the store-wide write lock (`BEGIN IMMEDIATE`
//! on SQLite, a transaction-scoped advisory lock on PostgreSQL), so that
//! several master processes sharing one PostgreSQL never allocate a slot
//! twice. Inside one process, writers also queue on an async mutex (SQLite:
//! the one writer connection) so that SQLite's busy-wait is never the
//! scheduler. Reads need no lock.

pub mod computer;
pub mod forwarded;
pub mod instance;
pub mod lookup;
mod local_root;
mod migrations;
pub mod placement;
mod postgres;
mod rows;
pub mod shared;
pub mod software;
pub mod sql;
mod sqlite;

pub use forwarded::ForwardedRequest;
pub use instance::{DestroyOutcome, InstanceRequest, InstanceTreeRoots, Refusal, RequestOutcome};
pub use rows::{AddressRow, ComputerRow, SharedRow, SlotRow, SoftwareRow};
pub use placement::Placement;
pub use shared::{SharedOutcome, SharedRequest};
pub use sql::Db;

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::Arc;

use sql::{query, Handle};

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
    /// The SQLite file cannot be opened.
    #[error("cannot open the database {path}: {detail}")]
    Open {
        /// The file.
        path: String,
        /// What SQLite said.
        detail: String,
    },
    /// PostgreSQL reported an error.
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
    engine: Arc<Engine>,
}

#[derive(Debug)]
enum Engine {
    Sqlite(sqlite::Engine),
    Postgres {
        pool: sqlx::PgPool,
        /// Writers of this process queue here rather than on the advisory
        /// lock, each holding a pooled connection.
        write_gate: Arc<tokio::sync::Mutex<()>>,
    },
}

/// A write transaction holding the store-wide write lock: `BEGIN
/// IMMEDIATE` on SQLite, a transaction-scoped advisory lock on PostgreSQL.
/// Dropped without [`WriteTx::commit`], it rolls back.
#[derive(Debug)]
pub struct WriteTx {
    db: Db,
    committed: bool,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Deref for WriteTx {
    type Target = Db;

    fn deref(&self) -> &Db {
        &self.db
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Db {
        &mut self.db
    }
}

impl WriteTx {
    /// Commits the transaction and releases the write lock.
    ///
    /// # Errors
    /// The engine refused to commit (the transaction is then rolled back).
    pub async fn commit(mut self) -> Result<(), StoreError> {
        match &mut self.db.0 {
            Handle::Sqlite(lease) => {
                lease.get().execute_batch("COMMIT")?;
            }
            Handle::Postgres(postgres::Lease::Transaction(transaction)) => {
                if let Some(transaction) = transaction.take() {
                    transaction.commit().await?;
                }
            }
            Handle::Postgres(postgres::Lease::Pooled(_)) => {}
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        // PostgreSQL: sqlx's transaction queues its own rollback when dropped.
        if let (false, Handle::Sqlite(lease)) = (self.committed, &mut self.db.0) {
            if let Err(error) = lease.get().execute_batch("ROLLBACK") {
                tracing::error!(%error, "rolling back an abandoned write transaction failed");
            }
        }
    }
}

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
        let engine = match parse_uri(uri)? {
            Location::Sqlite(location) => Engine::Sqlite(sqlite::Engine::open(&location)?),
            Location::Postgres(uri) => Engine::Postgres {
                pool: postgres::connect(&uri).await?,
                write_gate: Arc::new(tokio::sync::Mutex::new(())),
            },
        };
        let store = Store { engine: Arc::new(engine) };
        migrations::apply(&store).await?;
        Ok(store)
    }

    /// The engine this store runs on.
    pub fn backend(&self) -> Backend {
        match *self.engine {
            Engine::Sqlite(_) => Backend::Sqlite,
            Engine::Postgres { .. } => Backend::Postgres,
        }
    }

    /// Begins a write transaction holding the store-wide write lock.
    ///
    /// # Errors
    /// The database failed to begin or lock.
    pub async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        match &*self.engine {
            Engine::Sqlite(engine) => begin_immediate(engine.writer().await),
            Engine::Postgres { pool, write_gate } => {
                let gate = write_gate.clone().lock_owned().await;
                let transaction = pool.begin().await?;
                let mut db = Db(Handle::Postgres(postgres::Lease::Transaction(Some(transaction))));
                // One lock for the whole store: allocation reads then writes
                // several tables, and serialising writers is what keeps two
                // masters from handing out one slot twice.
                query("SELECT pg_advisory_xact_lock(5142)").execute(&mut db).await?;
                Ok(WriteTx { db, committed: false, _gate: Some(gate) })
            }
        }
    }

    /// A write transaction if one can begin without waiting for another
    /// writer of this process: on SQLite, the writer connection's page
    /// cache is the one that is warm (a reader's is dropped at every
    /// commit), so an idle writer answers even a read-mostly request
    /// faster than a reader. Always `None` on PostgreSQL, whose write
    /// transactions cost round trips to the server.
    ///
    /// # Errors
    /// The database failed to begin.
    pub fn try_begin_write(&self) -> Result<Option<WriteTx>, StoreError> {
        let Engine::Sqlite(engine) = &*self.engine else { return Ok(None) };
        engine.try_writer().map(begin_immediate).transpose()
    }

    /// A connection for read-only queries.
    ///
    /// # Errors
    /// No connection could be opened or acquired.
    pub async fn read(&self) -> Result<Db, StoreError> {
        Ok(match &*self.engine {
            Engine::Sqlite(engine) => Db(Handle::Sqlite(engine.reader().await?)),
            Engine::Postgres { pool, .. } => Db(Handle::Postgres(postgres::Lease::Pooled(pool.acquire().await?))),
        })
    }

    /// Closes every connection (on shutdown).
    pub async fn close(&self) {
        if let Engine::Postgres { pool, .. } = &*self.engine {
            pool.close().await;
        }
    }
}

/// Begins a SQLite write transaction on the writer connection.
fn begin_immediate(mut lease: sqlite::Lease) -> Result<WriteTx, StoreError> {
    lease.get().execute_batch("BEGIN IMMEDIATE")?;
    Ok(WriteTx { db: Db(Handle::Sqlite(lease)), committed: false, _gate: None })
}

/// Where a database URI points.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    Sqlite(sqlite::Location),
    Postgres(String),
}

fn parse_uri(uri: &str) -> Result<Location, StoreError> {
    if uri.starts_with("postgres://") || uri.starts_with("postgresql://") {
        return Ok(Location::Postgres(uri.to_owned()));
    }
    if uri == "sqlite::memory:" {
        return Ok(Location::Sqlite(sqlite::Location::Memory));
    }
    let path = uri.strip_prefix("sqlite://").or_else(|| uri.strip_prefix("sqlite:"));
    if path.is_none() && uri.contains("://") {
        return Err(StoreError::UnsupportedUri { uri: uri.to_owned() });
    }
    let path = path.unwrap_or(uri);
    let (path, _query) = path.split_once('?').unwrap_or((path, ""));
    Ok(Location::Sqlite(sqlite::Location::File(PathBuf::from(path))))
}

/// The next position (insertion order) in `table`; only called inside a
/// write transaction, which makes it race-free.
async fn next_position(tx: &mut WriteTx, table: &'static str) -> Result<i64, StoreError> {
    let sql = format!("SELECT COALESCE(MAX(position), 0) + 1 FROM {table}");
    query(&sql).fetch_one(tx).await?.int(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_map_to_backends() {
        let file = |path: &str| Location::Sqlite(sqlite::Location::File(PathBuf::from(path)));
        let check = |uri: &str, expected: Location| assert_eq!(parse_uri(uri).expect("valid uri"), expected, "{uri}");
        check("/var/lib/proxy.db", file("/var/lib/proxy.db"));
        check("proxy.db", file("proxy.db"));
        check("sqlite:///tmp/a.db", file("/tmp/a.db"));
        check("sqlite:///tmp/a.db?mode=rwc", file("/tmp/a.db"));
        check("sqlite::memory:", Location::Sqlite(sqlite::Location::Memory));
        check("postgresql://u@localhost/db", Location::Postgres("postgresql://u@localhost/db".into()));
        assert!(parse_uri("mysql://x").is_err());
    }
}
