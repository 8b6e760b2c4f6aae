//! SQLite, in process: one writer connection behind the write gate and a
//! small pool of reader connections (WAL lets them read while the writer
//! writes). Statements run in the calling task; see `sql` for why.
//!
//! A file database is opened with `journal_mode=WAL`, `synchronous=NORMAL`
//! (a commit survives a crash of the process; a power cut may lose the last
//! transactions but never corrupts the file), a 30 s busy timeout (another
//! process holding the file) and foreign keys on, and its WAL is
//! checkpointed by a thread of its own rather than inside commits. An
//! in-memory database (tests) is one connection that reads share with the
//! writer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::types::{Null, ValueRef};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::OwnedMutexGuard;

use super::sql::{Cell, Param, Query, Row};
use super::StoreError;

/// Idle reader connections kept open; more are opened under load and
/// closed when returned.
const IDLE_READERS_MAX: usize = 8;

/// Prepared statements cached per connection: every query text the store
/// has, with room to spare.
const STATEMENT_CACHE_CAPACITY: usize = 128;

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Location {
    /// A file, created on first open.
    File(PathBuf),
    /// A private in-memory database, gone when the store is dropped.
    Memory,
}

/// The connections of one SQLite store.
#[derive(Debug)]
pub(super) struct Engine {
    writer: Arc<tokio::sync::Mutex<Connection>>,
    /// `None` for an in-memory database: reads use the writer.
    readers: Option<Arc<Readers>>,
}

#[derive(Debug)]
pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// A connection lent to a [`super::sql::Db`]: the writer (under the write
/// gate) or a reader, returned to the pool when dropped.
#[derive(Debug)]
pub(super) enum Lease {
    Writer(OwnedMutexGuard<Connection>),
    Reader { connection: Option<Connection>, pool: Arc<Readers> },
}

impl Lease {
    /// The connection itself.
    pub(super) fn get(&mut self) -> &Connection {
        match self {
            Lease::Writer(guard) => guard,
            Lease::Reader { connection, .. } => connection.as_ref().expect("a reader lease holds its connection until dropped"),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Lease::Reader { connection, pool } = self {
            let mut idle = pool.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < IDLE_READERS_MAX {
                idle.extend(connection.take());
            }
        }
    }
}

impl Engine {
    /// Opens (creating) the database.
    ///
    /// # Errors
    /// The file cannot be opened or is not a database.
    pub(super) fn open(location: &Location) -> Result<Engine, StoreError> {
        match location {
            Location::Memory => {
                let writer = Connection::open_in_memory()?;
                configure(&writer)?;
                Ok(Engine { writer: Arc::new(tokio::sync::Mutex::new(writer)), readers: None })
            }
            Location::File(path) => {
                let writer = open_file(path)?;
                let readers = Arc::new(Readers { path: path.clone(), idle: Mutex::new(Vec::new()) });
                writer.execute_batch("PRAGMA wal_autocheckpoint=0")?;
                let writer = Arc::new(tokio::sync::Mutex::new(writer));
                spawn_checkpointer(open_file(path)?, Arc::downgrade(&writer)).map_err(|error| StoreError::Open {
                    path: path.display().to_string(),
                    detail: format!("cannot start the WAL checkpoint thread: {error}"),
                })?;
                Ok(Engine { writer, readers: Some(readers) })
            }
        }
    }

    /// The writer connection, once no other writer of this process holds it.
    pub(super) async fn writer(&self) -> Lease {
        Lease::Writer(self.writer.clone().lock_owned().await)
    }

    /// The writer connection if no other writer of this process holds it
    /// right now.
    pub(super) fn try_writer(&self) -> Option<Lease> {
        self.writer.clone().try_lock_owned().ok().map(Lease::Writer)
    }

    /// A connection for reads.
    ///
    /// # Errors
    /// A new reader connection failed to open.
    pub(super) async fn reader(&self) -> Result<Lease, StoreError> {
        let Some(pool) = &self.readers else {
            return Ok(self.writer().await);
        };
        let idle = pool.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let connection = match idle {
            Some(connection) => connection,
            None => open_file(&pool.path)?,
        };
        Ok(Lease::Reader { connection: Some(connection), pool: pool.clone() })
    }
}

/// How often the checkpoint thread copies the WAL into the database.
const CHECKPOINT_PERIOD: std::time::Duration = std::time::Duration::from_millis(200);

/// Copies the WAL back into the database every [`CHECKPOINT_PERIOD`], on
/// a thread of its own, so that no request pays for it: SQLite's automatic
/// checkpoint runs inside the commit that crosses 1000 WAL pages, which
/// made one new request in a few hundred take 10–30 ms (measured: moving
/// it here gave +22–25% new requests/s and halved their p99). Stops when
/// the store is dropped.
///
/// Each round is two checkpoints. The first copies the bulk of the WAL
/// while requests go on writing. But SQLite only rewinds the WAL to its
/// start when a writer finds *every* frame copied, which never happens
/// while commits keep landing during the copy: under steady load the WAL
/// grew without bound (measured: 200 MB after 6000 requests), and every
/// commit paid for growing the file. So the second checkpoint runs
/// holding the write gate: it only has the last few commits to copy, and
/// the next writer rewinds the WAL.
fn spawn_checkpointer(connection: Connection, gate: std::sync::Weak<tokio::sync::Mutex<Connection>>) -> std::io::Result<()> {
    let checkpoint = move || {
        // PASSIVE never waits for readers or the writer; what it cannot
        // copy now is copied next time.
        if let Err(error) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, "WAL checkpoint failed; retrying");
        }
    };
    std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(move || loop {
        std::thread::sleep(CHECKPOINT_PERIOD);
        if gate.strong_count() == 0 {
            break;
        }
        checkpoint();
        let Some(gate) = gate.upgrade() else { break };
        let _writers_wait = gate.blocking_lock();
        checkpoint();
    })?;
    Ok(())
}

fn open_file(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)
        .map_err(|error| StoreError::Open { path: path.display().to_string(), detail: error.to_string() })?;
    configure(&connection)?;
    let mode: String = connection.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), mode, "SQLite refused WAL journaling; concurrent reads will wait for writes");
    }
    Ok(connection)
}

fn configure(connection: &Connection) -> Result<(), StoreError> {
    connection.busy_timeout(std::time::Duration::from_secs(30))?;
    connection.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    Ok(())
}

/// Prepares (from the cache) and binds `query`: each `$N` parameter of the
/// text gets the N-th bound value, wherever and however often it appears.
fn prepare<'c>(connection: &'c Connection, query: &Query<'_>) -> Result<rusqlite::CachedStatement<'c>, StoreError> {
    let mut statement = connection.prepare_cached(query.sql)?;
    for index in 1..=statement.parameter_count() {
        let number = statement
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|digits| digits.parse::<usize>().ok())
            .filter(|number| (1..=query.params.len()).contains(number))
            .ok_or_else(|| StoreError::Corrupted {
                table: "query",
                detail: format!("parameter {index} of {:?} has no bound value", query.sql),
            })?;
        match query.params[number - 1] {
            Param::Null => statement.raw_bind_parameter(index, Null)?,
            Param::Text(text) => statement.raw_bind_parameter(index, text)?,
            Param::Int(value) => statement.raw_bind_parameter(index, value)?,
            Param::Real(value) => statement.raw_bind_parameter(index, value)?,
        }
    }
    Ok(statement)
}

/// Runs a statement that returns no rows.
pub(super) fn execute(connection: &Connection, query: &Query<'_>) -> Result<u64, StoreError> {
    let mut statement = prepare(connection, query)?;
    let changed = statement.raw_execute()?;
    Ok(u64::try_from(changed).unwrap_or(u64::MAX))
}

/// At most `limit` rows of a query.
pub(super) fn fetch(connection: &Connection, query: &Query<'_>, limit: usize) -> Result<Vec<Row>, StoreError> {
    let mut statement = prepare(connection, query)?;
    let columns = statement.column_count();
    let mut rows = statement.raw_query();
    let mut found = Vec::new();
    while found.len() < limit {
        let Some(row) = rows.next()? else { break };
        let mut cells = Vec::with_capacity(columns);
        for index in 0..columns {
            cells.push(match row.get_ref(index)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(value) => Cell::Int(value),
                ValueRef::Real(value) => Cell::Real(value),
                ValueRef::Text(bytes) | ValueRef::Blob(bytes) => Cell::Text(
                    String::from_utf8(bytes.to_vec()).map_err(|_| StoreError::Corrupted {
                        table: "query result",
                        detail: format!("column {index} of {:?} is not UTF-8", query.sql),
                    })?,
                ),
            });
        }
        found.push(Row(cells));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With SQLite's own checkpoint off, only the checkpoint thread copies
    /// committed pages from the WAL into the database file.
    #[tokio::test]
    async fn the_checkpoint_thread_copies_the_wal_into_the_database() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("store.db");
        let engine = Engine::open(&Location::File(path.clone())).expect("open");
        let size_before = std::fs::metadata(&path).expect("database file").len();
        let mut writer = engine.writer().await;
        writer
            .get()
            .execute_batch(
                "CREATE TABLE filler (n INTEGER, text TEXT); \
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
                 INSERT INTO filler SELECT i, printf('%0100d', i) FROM n;",
            )
            .expect("fill");
        drop(writer);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut size_after = size_before;
        while size_after <= size_before && std::time::Instant::now() < deadline {
            tokio::time::sleep(CHECKPOINT_PERIOD).await;
            size_after = std::fs::metadata(&path).expect("database file").len();
        }
        assert!(size_after > size_before, "the database file stayed at {size_before} bytes: nothing checkpointed");
    }

    /// Under a steady stream of commits the WAL is still rewound to its
    /// start again and again (SQLite alone lets it grow for as long as
    /// writes never pause). Each rewind bumps the checkpoint sequence
    /// number of the WAL header (bytes 12..16).
    #[tokio::test]
    async fn the_wal_is_rewound_while_commits_keep_coming() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join("store.db");
        let wal = directory.path().join("store.db-wal");
        let engine = Engine::open(&Location::File(path)).expect("open");
        engine
            .writer()
            .await
            .get()
            .execute_batch("CREATE TABLE filler (n INTEGER); INSERT INTO filler VALUES (0)")
            .expect("create");
        let sequence = || {
            use std::io::Read;
            let mut header = [0_u8; 16];
            std::fs::File::open(&wal).and_then(|mut file| file.read_exact(&mut header)).expect("a WAL header");
            u32::from_be_bytes([header[12], header[13], header[14], header[15]])
        };
        let first = sequence();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut commits = 0_u64;
        while sequence().wrapping_sub(first) < 3 {
            engine.writer().await.get().execute_batch("UPDATE filler SET n = n + 1").expect("update");
            commits += 1;
            assert!(std::time::Instant::now() < deadline, "{commits} commits in 60 s and the WAL was never rewound");
        }
    }
}
