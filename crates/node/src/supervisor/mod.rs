//! The node's native supervisor (spec §8 and §10), replacing supervisord:
//! it runs the services of each partition (`P/etc/run/*` and
//! `P/etc/service/*`), restarts them with backoff when they die, tells the
//! watchdog when an `-on-watch` service fails, and answers the
//! `slapos node status|start|stop|restart|tail` verbs over a unix socket.
//!
//! Layout: pure cores (`program` for the program model and target names,
//! `machine` for the life cycle of one program, `watchdog` for the bang
//! dedup rule, `protocol` for the socket messages) and shells that do the
//! I/O (`daemon` runs the supervisor, `client` talks to it and launches it,
//! `store` keeps the state file, `sys` wraps processes, signals and
//! `/proc`).
//!
//! Invariants:
//! * every service runs in its own session (`setsid`), so the daemon can
//!   die, even by `SIGKILL`, without killing a service; a new daemon
//!   re-adopts the processes recorded in the state file whose pid is alive
//!   with the same start time, so no service is ever duplicated;
//! * a stop asked through the supervisor never bangs;
//! * as root, a service never runs as uid 0: it runs as the owner of its
//!   partition directory.

pub mod client;
pub mod daemon;
pub mod machine;
pub mod program;
pub mod protocol;
pub mod store;
mod sys;
pub mod watchdog;

use std::io;
use std::path::PathBuf;

pub use client::{launch, Client, LaunchOptions};
pub use daemon::{run, run_until, DaemonOptions};
pub use machine::{ExitInfo, Policy, ProcessState};
pub use program::{ProgramSpec, Target};
pub use protocol::{ActionResult, ProcessStatus, Reply, Request};
pub use watchdog::{Bang, Watchdog};

/// Name of the daemon's socket under the instance root (as supervisord's).
pub const SOCKET_FILE: &str = "sv.sock";
/// Name of the lock file that keeps a second daemon from starting.
pub const LOCK_FILE: &str = "sv.lock";
/// Name of the state file (groups, programs and live pids) under the
/// instance root; what lets a new daemon re-adopt running services.
pub const STATE_FILE: &str = "sv.state.json";

/// Everything that can go wrong while running or talking to the supervisor.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// A file or directory operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Nothing answers on the daemon's socket.
    #[error("no supervisor daemon answers on {}: {source}", path.display())]
    Connect {
        /// The socket.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Another daemon holds the instance root's lock.
    #[error("another supervisor daemon is running for {} (lock {} held)", instance_root.display(), LOCK_FILE)]
    AlreadyRunning {
        /// The instance root.
        instance_root: PathBuf,
    },
    /// The daemon sent something that is not a reply of the protocol.
    #[error("bad message on {}: {message}", path.display())]
    Protocol {
        /// The socket.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The daemon did not answer in time.
    #[error("supervisor daemon on {} did not answer within {} s", path.display(), waited.as_secs())]
    Timeout {
        /// The socket.
        path: PathBuf,
        /// How long we waited.
        waited: std::time::Duration,
    },
    /// The daemon refused a request (unknown process, bad name...).
    #[error("{0}")]
    Refused(String),
    /// The daemon could not be launched.
    #[error("failed to launch supervisor daemon {command}: {message}")]
    Launch {
        /// The command line spawned.
        command: String,
        /// What went wrong.
        message: String,
    },
    /// The state file exists but cannot be understood.
    #[error("state file {}: {message}", path.display())]
    StateFile {
        /// The state file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A service cannot be spawned (root-owned partition, missing user...).
    #[error("cannot run {process}: {message}")]
    Spawn {
        /// Full process name `P:name`.
        process: String,
        /// Why.
        message: String,
    },
}

impl SupervisorError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        SupervisorError::Io {
            path: path.into(),
            source,
        }
    }
}
