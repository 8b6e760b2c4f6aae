//! The SlapOS node (`slapos node …`, `shared/spec/node.md`): `format`
//! prepares the partitions of a compute node and declares them to the
//! master, `software` builds the software releases the master asks for with
//! the profile engine, `instance` deploys each partition's instance profile
//! and hands its services to the native `supervisor`, `promise` checks them,
//! and the agent loop runs all of it periodically.
//!
//! Configuration comes in as parsed sections (`config`); the master is
//! reached through `client::SlapClient`; the profile engine's downloads go
//! through the `profile::Fetch` the caller supplies. Nothing here parses a
//! command line or prints: `cli` does.

pub mod agent;
pub mod build;
pub mod config;
pub mod disk;
pub mod format;
pub mod instance;
pub mod lock;
pub mod promise;
pub mod report;
pub mod slap;
pub mod software;
pub mod supervisor;
mod sys;
