//! The one way the store talks SQL: a query text in the portable subset
//! both engines accept (`$1`-style parameters), bound values, and rows of
//! plain cells, run on a [`Db`] handle that is either a SQLite connection
//! or a PostgreSQL one.
//!
//! Why not sqlx's `Any` driver: its SQLite connections live on a worker
//! thread each, so every statement was a round trip between threads (two
//! context switches and a wake-up), and a new instance request makes six
//! statements. SQLite here runs in the calling task: a statement is a
//! function call of a few microseconds, and a write transaction never
//! yields between `BEGIN` and `COMMIT` (the only waits are on the write
//! gate, before it starts). PostgreSQL stays on sqlx, which is
//! asynchronous for real.

use super::postgres;
use super::sqlite;
use super::StoreError;

/// A value bound to a `$N` parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Param<'q> {
    /// SQL NULL.
    Null,
    /// A text.
    Text(&'q str),
    /// An integer.
    Int(i64),
    /// A float.
    Real(f64),
}

impl<'q> From<&'q str> for Param<'q> {
    fn from(text: &'q str) -> Param<'q> {
        Param::Text(text)
    }
}

impl<'q> From<&'q String> for Param<'q> {
    fn from(text: &'q String) -> Param<'q> {
        Param::Text(text)
    }
}

impl<'q> From<Option<&'q str>> for Param<'q> {
    fn from(text: Option<&'q str>) -> Param<'q> {
        text.map_or(Param::Null, Param::Text)
    }
}

impl<'q> From<&'q Option<String>> for Param<'q> {
    fn from(text: &'q Option<String>) -> Param<'q> {
        Param::from(text.as_deref())
    }
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Param::Int(value)
    }
}

impl From<f64> for Param<'_> {
    fn from(value: f64) -> Self {
        Param::Real(value)
    }
}

impl From<Option<f64>> for Param<'_> {
    fn from(value: Option<f64>) -> Self {
        value.map_or(Param::Null, Param::Real)
    }
}

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An integer (any width, booleans as 0/1).
    Int(i64),
    /// A float.
    Real(f64),
    /// A text.
    Text(String),
}

/// A result row: its cells in `SELECT` order. Columns are read by index,
/// so a query and the code reading it keep one column order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row(pub Vec<Cell>);

impl Row {
    fn cell(&mut self, index: usize) -> Result<Cell, StoreError> {
        let cell = self.0.get_mut(index).ok_or_else(|| corrupted(index, "a column", &Cell::Null))?;
        Ok(std::mem::replace(cell, Cell::Null))
    }

    /// The text in column `index`, moved out of the row.
    ///
    /// # Errors
    /// [`StoreError::Corrupted`] if it is NULL or not a text.
    pub fn text(&mut self, index: usize) -> Result<String, StoreError> {
        match self.cell(index)? {
            Cell::Text(text) => Ok(text),
            other => Err(corrupted(index, "a text", &other)),
        }
    }

    /// The text or NULL in column `index`, moved out of the row.
    ///
    /// # Errors
    /// [`StoreError::Corrupted`] if it is a number.
    pub fn opt_text(&mut self, index: usize) -> Result<Option<String>, StoreError> {
        match self.cell(index)? {
            Cell::Text(text) => Ok(Some(text)),
            Cell::Null => Ok(None),
            other => Err(corrupted(index, "a text or NULL", &other)),
        }
    }

    /// The integer in column `index`.
    ///
    /// # Errors
    /// [`StoreError::Corrupted`] if it is NULL or not an integer.
    pub fn int(&mut self, index: usize) -> Result<i64, StoreError> {
        match self.cell(index)? {
            Cell::Int(value) => Ok(value),
            other => Err(corrupted(index, "an integer", &other)),
        }
    }

    /// The number or NULL in column `index`, as a float (SQLite keeps a
    /// whole REAL as an integer when it can).
    ///
    /// # Errors
    /// [`StoreError::Corrupted`] if it is a text.
    pub fn opt_real(&mut self, index: usize) -> Result<Option<f64>, StoreError> {
        match self.cell(index)? {
            Cell::Real(value) => Ok(Some(value)),
            #[allow(clippy::cast_precision_loss)]
            Cell::Int(value) => Ok(Some(value as f64)),
            Cell::Null => Ok(None),
            other => Err(corrupted(index, "a number or NULL", &other)),
        }
    }
}

fn corrupted(index: usize, expected: &str, found: &Cell) -> StoreError {
    StoreError::Corrupted { table: "query result", detail: format!("column {index} should be {expected}, found {found:?}") }
}

/// A query text and its bound values, built like sqlx's.
#[derive(Debug, Clone)]
pub struct Query<'q> {
    pub sql: &'q str,
    pub params: Vec<Param<'q>>,
}

/// Starts a query; parameters are `$1`, `$2`… in the text, bound in order.
pub fn query(sql: &str) -> Query<'_> {
    Query { sql, params: Vec::new() }
}

impl<'q> Query<'q> {
    /// Binds the next parameter.
    pub fn bind(mut self, value: impl Into<Param<'q>>) -> Query<'q> {
        self.params.push(value.into());
        self
    }

    /// Runs a statement; returns how many rows it changed.
    ///
    /// # Errors
    /// Engine errors.
    pub async fn execute(self, db: &mut Db) -> Result<u64, StoreError> {
        match &mut db.0 {
            Handle::Sqlite(connection) => sqlite::execute(connection.get(), &self),
            Handle::Postgres(connection) => postgres::execute(connection.get(), &self).await,
        }
    }

    /// Every row.
    ///
    /// # Errors
    /// Engine errors, or a value of a type rows never hold.
    pub async fn fetch_all(self, db: &mut Db) -> Result<Vec<Row>, StoreError> {
        match &mut db.0 {
            Handle::Sqlite(connection) => sqlite::fetch(connection.get(), &self, usize::MAX),
            Handle::Postgres(connection) => postgres::fetch(connection.get(), &self, usize::MAX).await,
        }
    }

    /// The first row, if any.
    ///
    /// # Errors
    /// As [`Query::fetch_all`].
    pub async fn fetch_optional(self, db: &mut Db) -> Result<Option<Row>, StoreError> {
        let rows = match &mut db.0 {
            Handle::Sqlite(connection) => sqlite::fetch(connection.get(), &self, 1)?,
            Handle::Postgres(connection) => postgres::fetch(connection.get(), &self, 1).await?,
        };
        Ok(rows.into_iter().next())
    }

    /// The first row, which must exist.
    ///
    /// # Errors
    /// As [`Query::fetch_all`], and [`StoreError::Corrupted`] for no row.
    pub async fn fetch_one(self, db: &mut Db) -> Result<Row, StoreError> {
        let sql = self.sql;
        self.fetch_optional(db).await?.ok_or_else(|| StoreError::Corrupted {
            table: "query result",
            detail: format!("no row from {sql:?}"),
        })
    }
}

/// A connection to the store's database, for reads or inside a
/// [`super::WriteTx`]; every store function takes one.
#[derive(Debug)]
pub struct Db(pub(super) Handle);

/// What a [`Db`] holds: a SQLite connection (pooled reader or the writer)
/// or a PostgreSQL one (pooled, or in a transaction).
#[derive(Debug)]
pub(super) enum Handle {
    Sqlite(sqlite::Lease),
    Postgres(postgres::Lease),
}
