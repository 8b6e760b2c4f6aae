//! The daemon's socket protocol: one JSON object per line each way, a
//! request then its reply, any number per connection. Requests carry an
//! `op` tag, replies a `reply` tag:
//!
//! ```text
//! → {"op":"status"}
//! ← {"reply":"status","processes":[{"name":"P:a","state":"RUNNING","pid":42,...}]}
//! → {"op":"stop","target":"P:*"}
//! ← {"reply":"done","results":[{"process":"P:a","outcome":"stopped"}]}
//! ← {"reply":"error","message":"no such process P:zz"}
//! ```
//!
//! JSON lines keep it debuggable with `socat`; a line is capped at
//! `LINE_BYTES_MAX` so a bad peer cannot make the daemon buffer forever.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::machine::ProcessState;

/// Longest request or reply line accepted.
pub const LINE_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Largest log tail served.
pub const TAIL_BYTES_MAX: u64 = 1024 * 1024;

/// A request to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Is the daemon there? Answered by `Pong`.
    Ping,
    /// Recompute partition P's programs from directory D.
    UpdateGroup {
        /// The partition.
        partition: String,
        /// Its directory.
        directory: PathBuf,
    },
    /// Forget partition P, stopping its processes.
    RemoveGroup {
        /// The partition.
        partition: String,
    },
    /// Start `P:name`, `P:*` or `all` (non-running ones).
    Start {
        /// What to start.
        target: String,
    },
    /// Stop `P:name`, `P:*` or `all`; answered once they are stopped.
    Stop {
        /// What to stop.
        target: String,
    },
    /// Stop then start.
    Restart {
        /// What to restart.
        target: String,
    },
    /// Every process with its state.
    Status,
    /// The end of a process's log.
    Tail {
        /// `P:name`.
        process: String,
        /// How many bytes from the end (capped at `TAIL_BYTES_MAX`).
        bytes: u64,
    },
    /// Stop the daemon, and its processes if asked; answered before the
    /// daemon exits.
    Shutdown {
        /// Whether to stop every process first (otherwise they keep running
        /// and the next daemon adopts them).
        stop_processes: bool,
    },
}

/// A reply of the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// Answer to `Ping`.
    Pong {
        /// The daemon's pid.
        pid: u32,
    },
    /// A verb was carried out, one result per process.
    Done {
        /// What happened to each process.
        results: Vec<ActionResult>,
    },
    /// Answer to `Status`.
    Status {
        /// Every process, sorted by full name.
        processes: Vec<ProcessStatus>,
    },
    /// Answer to `Tail`.
    Tail {
        /// The log's end, decoded lossily.
        text: String,
    },
    /// The request failed.
    Error {
        /// Why, naming the process or partition.
        message: String,
    },
}

/// What a verb did to one process (`P:a: started`,
/// `P:a: ERROR (already started)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    /// Full process name.
    pub process: String,
    /// `started`, `stopped`, `added`, `removed`, `ERROR (...)`.
    pub outcome: String,
}

/// One line of `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessStatus {
    /// Full process name `P:name`.
    pub name: String,
    /// State word.
    pub state: ProcessState,
    /// Pid while a process exists.
    pub pid: Option<u32>,
    /// Seconds since the process started, while it exists.
    pub uptime_secs: Option<u64>,
    /// supervisorctl's description column (`pid 42, uptime 0:01:02`).
    pub description: String,
}

impl ProcessStatus {
    /// The line supervisorctl prints.
    pub fn line(&self) -> String {
        format!(
            "{:<33} {:<10} {}",
            self.name,
            self.state.word(),
            self.description
        )
    }
}

/// supervisorctl's uptime format, `H:MM:SS` (days prefixed).
pub fn format_uptime(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let clock = format!("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    match days {
        0 => clock,
        1 => format!("1 day, {clock}"),
        _ => format!("{days} days, {clock}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_are_tagged_json_lines() {
        let request = Request::Stop {
            target: "P:*".into(),
        };
        let line = serde_json::to_string(&request).expect("serializes");
        assert_eq!(line, r#"{"op":"stop","target":"P:*"}"#);
        assert_eq!(
            serde_json::from_str::<Request>(&line).expect("parses"),
            request
        );
        let reply = Reply::Status {
            processes: vec![ProcessStatus {
                name: "P:a".into(),
                state: ProcessState::Running,
                pid: Some(42),
                uptime_secs: Some(62),
                description: "pid 42, uptime 0:01:02".into(),
            }],
        };
        let line = serde_json::to_string(&reply).expect("serializes");
        assert!(
            line.starts_with(r#"{"reply":"status","processes":[{"name":"P:a","state":"RUNNING","#),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<Reply>(&line).expect("parses"), reply);
        assert!(serde_json::from_str::<Request>(r#"{"op":"explode"}"#).is_err());
    }

    #[test]
    fn uptime_and_status_lines_look_like_supervisorctl() {
        assert_eq!(format_uptime(62), "0:01:02");
        assert_eq!(format_uptime(86_400 + 3600), "1 day, 1:00:00");
        assert_eq!(format_uptime(3 * 86_400), "3 days, 0:00:00");
        let status = ProcessStatus {
            name: "slappart0:a-on-watch".into(),
            state: ProcessState::Running,
            pid: Some(42),
            uptime_secs: Some(62),
            description: "pid 42, uptime 0:01:02".into(),
        };
        assert_eq!(
            status.line(),
            "slappart0:a-on-watch              RUNNING    pid 42, uptime 0:01:02"
        );
    }
}
