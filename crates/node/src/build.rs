//! Running one buildout profile with the profile engine, as slapgrid runs
//! `bin/buildout` in a software or partition directory: the profile loaded
//! with the SlapOS fork's rules, the built-in recipes plus the cookbook
//! recipes that talk to the master, and a log of what happened that goes
//! to the master when the run fails (the real node sends the whole
//! buildout output as `error_log`).
//!
//! The engine is synchronous and may block for minutes (compilers); callers
//! run [`run_profile`] on a blocking thread. The node runs it in a child
//! process ([`run_profile_as`]), as the user the directory belongs to when
//! it is root, so that the run's whole output is its log.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use profile::lifecycle::{Action, Event, Events};
use profile::python::PythonEnv;
use profile::recipe::cookbook::SlapConnection;
use profile::recipe::{Environment, NoProgress};
use profile::{Fetch, LoadOptions};

/// What running a profile needs from the node's caller: downloads, the
/// Python the profiles' conditions test, and the master for the recipes.
#[derive(Clone)]
pub struct Engine {
    /// Downloads of remote `extends` and of recipes.
    pub fetch: Arc<dyn Fetch + Send + Sync>,
    /// The interpreter `buildout:executable` names.
    pub python: PythonEnv,
    /// The master, for `slapconfiguration`, `request` and `publish`.
    pub slap: Arc<dyn SlapConnection>,
    /// How profiles run in a child process (as the directory's owner when
    /// the node is root): a program and its arguments, to which the
    /// directory is appended (the CLI's `slapos node buildout`); the
    /// child's whole output is the run's log. `None`: in this process,
    /// with what a partition's profile creates handed to its user after.
    pub buildout_command: Option<Vec<std::ffi::OsString>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// A failed run: the log so far and the error, together the text the
/// master receives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{log}{message}")]
pub struct BuildFailure {
    /// What the run printed before failing.
    pub log: String,
    /// Why it failed.
    pub message: String,
}

/// Runs `profile_file` in `directory` (its `buildout:directory`) with the
/// command-line assignments `overrides`; returns the run's log.
///
/// # Errors
/// Loading or installing failed: [`BuildFailure`] with the log.
pub fn run_profile(engine: &Engine, profile_file: &Path, directory: &Path, overrides: &[String]) -> Result<String, BuildFailure> {
    let log = Log::default();
    let mut options = LoadOptions::new(engine.python.clone());
    options.slapos = true;
    options.cwd = Some(directory.to_path_buf());
    options.home = std::env::var_os("HOME").map(Into::into);
    options.overrides.push(format!("buildout:directory={}", directory.display()));
    options.overrides.extend(overrides.iter().cloned());
    let failure = |log: &Log, message: String| BuildFailure { log: log.text(), message };
    let loaded = profile::load(&profile_file.to_string_lossy(), &options, engine.fetch.as_ref())
        .map_err(|error| failure(&log, format!("While loading {}: {error}", profile_file.display())))?;
    for warning in loaded.warnings() {
        log.line(&format!("Warning: {warning}"));
    }
    let mut recipes = profile::recipe::builtin();
    profile::recipe::cookbook::register(&mut recipes, engine.slap.clone());
    let environment = Environment { fetch: engine.fetch.as_ref(), progress: &NoProgress };
    match profile::lifecycle::install(&loaded, &recipes, &environment, &log) {
        Ok(_) => Ok(log.text()),
        Err(run) => Err(failure(&log, format!("Error: {}", run.error))),
    }
}

/// The lines buildout would have printed, collected.
#[derive(Debug, Default)]
struct Log(Mutex<String>);

impl Log {
    fn line(&self, text: &str) {
        tracing::info!("{text}");
        let mut log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        log.push_str(text);
        log.push('\n');
    }

    fn text(&self) -> String {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Events for Log {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::Started { part, action } => self.line(&match action {
                Action::Install => format!("Installing {part}."),
                Action::Update => format!("Updating {part}."),
                Action::Uninstall => format!("Uninstalling {part}."),
            }),
            Event::Recovering { part, action } => {
                self.line(&format!("Cleaning up {part}: a previous run was killed during its {action}."));
            }
            Event::Warning { part, message } => self.line(&format!("{part}: {message}")),
            Event::Finished { .. } => {}
        }
    }
}

/// Runs `directory`'s `buildout.cfg` in a child process, as `user` when
/// given (spec §5.4: the owner of the directory; `HOME` = the directory,
/// the environment cleaned), as the real node runs buildout: `command`
/// with the directory and `overrides` appended (the CLI's `slapos node
/// buildout`), with `environment` on top of the cleaned one. Its merged
/// output, recipes' commands included, is the log the master gets on
/// failure.
///
/// # Errors
/// The child could not start, failed (its output and status) or ran past
/// `timeout` seconds (a day without one).
pub async fn run_profile_as(
    user: Option<crate::promise::PartitionUser>,
    command: &[std::ffi::OsString],
    directory: &Path,
    overrides: &[String],
    environment: &[(std::ffi::OsString, std::ffi::OsString)],
    timeout: Option<u64>,
) -> Result<(), String> {
    use crate::promise::sys::{run, Finished, PromiseCommand};
    let Some((program, arguments)) = command.split_first() else {
        return Err("no command to run the partition's profile".to_owned());
    };
    let mut args = arguments.to_vec();
    args.push(directory.as_os_str().to_owned());
    args.extend(overrides.iter().map(std::ffi::OsString::from));
    /// Without `partition_timeout`, a day: long builds are normal, hung
    /// ones must still end.
    const TIMEOUT_DEFAULT: u64 = 86_400;
    let seconds = timeout.unwrap_or(TIMEOUT_DEFAULT);
    let finished = run(PromiseCommand {
        program: Path::new(program),
        args,
        cwd: directory,
        user,
        home: Some(directory),
        environment: environment.to_vec(),
        merge_output: true,
        timeout: std::time::Duration::from_secs(seconds),
    })
    .await
    .map_err(|error| format!("cannot run {}: {error}", Path::new(program).display()))?;
    match finished {
        Finished::Exited { status, stdout, .. } if status.success() => {
            tracing::debug!(log = %String::from_utf8_lossy(&stdout), "partition profile ran");
            Ok(())
        }
        Finished::Exited { status, stdout, .. } => Err(format!("{}\n{status}", String::from_utf8_lossy(&stdout).trim_end())),
        Finished::TimedOut { stdout, .. } => {
            Err(format!("{}\nkilled after {seconds} s (partition_timeout)", String::from_utf8_lossy(&stdout).trim_end()))
        }
    }
}
