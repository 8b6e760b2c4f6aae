//! One module per subcommand: its `Args` and a `run` returning an
//! [`crate::output::Output`].

pub(crate) mod client_config;
pub(crate) mod computer;
pub(crate) mod node;
pub(crate) mod node_loops;
pub(crate) mod node_supervisor;
pub(crate) mod profile;
pub mod proxy;
pub(crate) mod remove;
pub(crate) mod request;
pub(crate) mod service;
pub(crate) mod standalone;
pub(crate) mod supply;
