//! PostgreSQL through sqlx: a pool of connections, the store's queries
//! bound value by value, and rows decoded into plain cells.

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{Column, PgConnection, PgPool, Postgres, Row as _, TypeInfo, ValueRef};

use super::sql::{Cell, Param, Query, Row};
use super::StoreError;

/// Connections a master keeps to a shared PostgreSQL at most.
const CONNECTIONS_MAX: u32 = 16;

/// A connection lent to a [`super::sql::Db`]: pooled for reads, or in a
/// transaction (rolled back by sqlx if dropped uncommitted).
#[derive(Debug)]
pub(super) enum Lease {
    Pooled(PoolConnection<Postgres>),
    /// `None` once committed.
    Transaction(Option<sqlx::Transaction<'static, Postgres>>),
}

impl Lease {
    /// The connection itself.
    pub(super) fn get(&mut self) -> &mut PgConnection {
        match self {
            Lease::Pooled(connection) => connection,
            Lease::Transaction(transaction) => transaction.as_mut().expect("a transaction lease is not used after commit"),
        }
    }
}

/// Connects the pool.
///
/// # Errors
/// Bad URI, unreachable server, refused credentials.
pub(super) async fn connect(uri: &str) -> Result<PgPool, StoreError> {
    Ok(PgPoolOptions::new()
        .max_connections(CONNECTIONS_MAX)
        .acquire_timeout(std::time::Duration::from_secs(30))
        .connect(uri)
        .await?)
}

fn bound<'q>(query: &Query<'q>) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    let mut statement = sqlx::query(query.sql);
    for param in &query.params {
        statement = match *param {
            Param::Null => statement.bind(None::<&str>),
            Param::Text(text) => statement.bind(text),
            Param::Int(value) => statement.bind(value),
            Param::Real(value) => statement.bind(value),
        };
    }
    statement
}

/// Runs a statement; returns how many rows it changed.
pub(super) async fn execute(connection: &mut PgConnection, query: &Query<'_>) -> Result<u64, StoreError> {
    Ok(bound(query).execute(connection).await?.rows_affected())
}

/// At most `limit` rows of a query.
pub(super) async fn fetch(connection: &mut PgConnection, query: &Query<'_>, limit: usize) -> Result<Vec<Row>, StoreError> {
    let rows = if limit == 1 {
        bound(query).fetch_optional(connection).await?.into_iter().collect()
    } else {
        bound(query).fetch_all(connection).await?
    };
    rows.iter().map(decode).collect()
}

fn decode(row: &PgRow) -> Result<Row, StoreError> {
    let mut cells = Vec::with_capacity(row.len());
    for (index, column) in row.columns().iter().enumerate() {
        if row.try_get_raw(index)?.is_null() {
            cells.push(Cell::Null);
            continue;
        }
        cells.push(match column.type_info().name() {
            "INT8" => Cell::Int(row.try_get::<i64, _>(index)?),
            "INT4" => Cell::Int(i64::from(row.try_get::<i32, _>(index)?)),
            "INT2" => Cell::Int(i64::from(row.try_get::<i16, _>(index)?)),
            "BOOL" => Cell::Int(i64::from(row.try_get::<bool, _>(index)?)),
            "FLOAT8" => Cell::Real(row.try_get::<f64, _>(index)?),
            "FLOAT4" => Cell::Real(f64::from(row.try_get::<f32, _>(index)?)),
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => Cell::Text(row.try_get::<String, _>(index)?),
            other => {
                return Err(StoreError::Corrupted {
                    table: "query result",
                    detail: format!("column {} has type {other}, which the store never reads", column.name()),
                })
            }
        });
    }
    Ok(Row(cells))
}
