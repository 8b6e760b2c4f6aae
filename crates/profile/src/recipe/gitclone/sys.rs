//! gitclone's contact with the machine: running the git executable,
//! without a terminal prompt and with stdin closed, capturing its output.

use std::path::Path;
use std::process::{Command, Stdio};

/// How a git command failed.
#[derive(Debug)]
pub(super) enum GitFailure {
    /// The executable could not be started.
    Spawn(std::io::Error),
    /// It ran and exited unsuccessfully; `stderr` is what it said.
    Exit {
        /// `exit code N` or `a signal`.
        status: String,
        /// Its standard error, trimmed.
        stderr: String,
    },
}

/// Runs `git <args>` (in `directory` when given) and returns its standard
/// output.
///
/// # Errors
/// The executable cannot be started or exits unsuccessfully.
pub(super) fn git(executable: &str, directory: Option<&Path>, args: &[&str]) -> Result<String, GitFailure> {
    let mut command = Command::new(executable);
    command.args(args).stdin(Stdio::null()).env("GIT_TERMINAL_PROMPT", "0");
    if let Some(directory) = directory {
        command.current_dir(directory);
    }
    let output = command.output().map_err(GitFailure::Spawn)?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let status = output.status.code().map_or_else(|| "a signal".to_owned(), |code| format!("exit code {code}"));
    Err(GitFailure::Exit { status, stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned() })
}
