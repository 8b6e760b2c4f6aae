//! The SlapOS master: catalog of software installations, ordering and
//! allocation of instances to partition slots of compute nodes, instance
//! trees, shared instances and connection parameters, served over the
//! classic SLAP HTTP API that the real `slapos` client and node speak.
//!
//! Invariants:
//! - all state is in the SQL store; a process holds none, so several
//!   masters may share one PostgreSQL;
//! - only `store` runs SQL and only `server` touches sockets and the clock;
//! - bad input is a 4xx naming the problem, never a panic or a 500.

pub mod config;
mod local_root;
pub mod server;
pub mod store;

pub use config::{MasterConfig, Multimaster};
pub use server::{app, serve, AppState};
pub use store::Store;
