//! Promises (spec §6): the checks a partition ships to say whether its
//! instance works. Plugins (`P/etc/plugin/*.py`) run first, through our own
//! bundled runner inside the instance python; legacy promises
//! (`P/etc/promise/*`) follow, run directly. One at a time, each bounded by
//! the promise timeout, each leaving the result, cache and log files that
//! SlapOS tools read (`record`, `store`).
//!
//! The instance loop calls [`run_promises`] in test mode after deploying a
//! started partition, and in anomaly mode for up-to-date started ones. It
//! gets every result back: [`PromiseReport::failure`] is the
//! `softwareInstanceError` text, [`PromiseReport::bang_message`] the bang to
//! send. This module never talks to the master: the caller does.
//!
//! Invariant: a promise's own failure (bad file, crash, timeout, no
//! output) is a failed [`PromiseResult`], never an `Err`; `Err` means the
//! node could not keep its own books (state folders unwritable, partition
//! user is root).

mod record;
mod runner;
mod store;
pub(crate) mod sys;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use record::{CacheFile, StatusFile, StatusResult};
use store::Store;
use sys::{Finished, PromiseCommand, RunClock};

/// The bundled plugin runner, run as `python -c` (protocol in its header).
const RUNNER_SOURCE: &str = include_str!("runner.py");

/// How long one promise may run unless configured (`promise_timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// Message of a promise that ended without a result.
const NO_OUTPUT_MESSAGE: &str = "Error: No output returned by the promise";

/// The promises of one partition and how to run them.
#[derive(Debug, Clone)]
pub struct PartitionPromises {
    /// The partition id (`slappart3`), for logs and the plugins' config.
    pub partition_id: String,
    /// The partition directory `P`: cwd of every promise.
    pub directory: PathBuf,
    /// How long one promise may run before it is killed.
    pub timeout: Duration,
    /// Run promises as this user (the node runs as root); `None` keeps the
    /// current user.
    pub user: Option<PartitionUser>,
    /// `HOME` of promise processes (the partition user's home), if known.
    pub home: Option<PathBuf>,
    /// The software release's python, which plugins need; without it every
    /// plugin fails.
    pub instance_python: Option<PathBuf>,
    /// Extra keys given to plugins as GenericPromise config (`master-url`,
    /// `computer-id`, `partition-id`, `partition-cert`, `partition-key`):
    /// some plugins read them. They never bang themselves: the node does.
    pub plugin_config: BTreeMap<String, String>,
}

impl PartitionPromises {
    /// The promises of `directory`, with the default timeout, as the
    /// current user and without an instance python.
    pub fn new(
        partition_id: impl Into<String>,
        directory: impl Into<PathBuf>,
    ) -> PartitionPromises {
        let partition_id = partition_id.into();
        let plugin_config = BTreeMap::from([("partition-id".to_owned(), partition_id.clone())]);
        PartitionPromises {
            partition_id,
            directory: directory.into(),
            timeout: DEFAULT_TIMEOUT,
            user: None,
            home: None,
            instance_python: None,
            plugin_config,
        }
    }
}

/// The unprivileged user a partition's promises run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionUser {
    /// User id; 0 is refused.
    pub uid: u32,
    /// Group id; 0 is refused.
    pub gid: u32,
}

/// Why the promises run (spec §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// After deploying a partition: every promise runs, `test()` decides.
    Test,
    /// For an up-to-date started partition: due promises run `anomaly()`,
    /// the others report their stored result.
    Anomaly,
}

/// Which kind of promise a result comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromiseKind {
    /// `P/etc/plugin/*.py`, a GenericPromise subclass.
    Plugin,
    /// `P/etc/promise/*`, an executable.
    Legacy,
}

/// What happened to a promise in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    /// It ran and gave a result.
    Ran,
    /// It ran past the timeout and was killed with its children.
    TimedOut,
    /// It ended without a result (crash, import error, no interpreter).
    NoOutput,
    /// Not due yet (anomaly mode): its stored result stands.
    Reused,
    /// Disabled in this mode by the promise itself: nothing to report.
    Skipped,
    /// Not a regular executable file: not run.
    BadFile,
}

/// The `type` of a SlapOS promise result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultType {
    /// `"Test Result"`.
    Test,
    /// `"Anomaly Result"`: only a failed one of these may bang.
    Anomaly,
}

impl ResultType {
    /// The wire text of the status file.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultType::Test => "Test Result",
            ResultType::Anomaly => "Anomaly Result",
        }
    }

    fn parse(text: &str) -> Option<ResultType> {
        match text {
            "Test Result" => Some(ResultType::Test),
            "Anomaly Result" => Some(ResultType::Anomaly),
            _ => None,
        }
    }

    fn of_mode(mode: Mode) -> ResultType {
        match mode {
            Mode::Test => ResultType::Test,
            Mode::Anomaly => ResultType::Anomaly,
        }
    }
}

/// The outcome of one promise.
#[derive(Debug, Clone, PartialEq)]
pub struct PromiseResult {
    /// File name (`check-port.py`), the name SlapOS messages quote.
    pub name: String,
    /// File name without extension: names its result, cache and log files.
    pub title: String,
    /// The promise file.
    pub path: PathBuf,
    /// Plugin or legacy.
    pub kind: PromiseKind,
    /// Whether it ran, and how it ended.
    pub execution: Execution,
    /// Test or anomaly result.
    pub result_type: ResultType,
    /// Whether the partition fails because of it.
    pub failed: bool,
    /// The promise's message (at most 5000 characters behind `...`).
    pub message: String,
    /// Result date as written (`%Y-%m-%dT%H:%M:%S+0000`), if any.
    pub date: Option<String>,
    /// Time it ran.
    pub execution_time: Duration,
    /// The caller must bang the partition for this failed anomaly (at most
    /// one result per run has it).
    pub bang: bool,
}

/// Every promise result of one partition run, in execution order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PromiseReport {
    /// Plugins first (by name), then legacy promises (by name).
    pub results: Vec<PromiseResult>,
}

impl PromiseReport {
    /// The first failure, as the node reports it to the master
    /// (`softwareInstanceError`) and its exit code 2 stands for.
    pub fn failure(&self) -> Option<PromiseError> {
        self.results
            .iter()
            .find(|result| result.failed)
            .map(|result| PromiseError {
                name: result.name.clone(),
                message: result.message.clone(),
            })
    }

    /// The bang message to send for this run, if a plugin's anomaly check
    /// failed (`Promise <title> is failing`).
    pub fn bang_message(&self) -> Option<String> {
        self.results
            .iter()
            .find(|result| result.bang)
            .map(|result| format!("Promise {} is failing", result.title))
    }
}

/// A partition whose promise failed: the text SlapOS sends the master.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Promise {} failed with output: {message}", proto::python_repr::string_repr(.name))]
pub struct PromiseError {
    /// File name of the first failed promise.
    pub name: String,
    /// Its message.
    pub message: String,
}

/// The node could not run the promises of a partition at all.
#[derive(Debug, thiserror::Error)]
pub enum PromiseRunError {
    /// A promise state file or folder could not be read or written.
    #[error("promise state {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Promises never run as root.
    #[error("partition {partition}: refusing to run promises as uid {uid} gid {gid}")]
    RootUser {
        /// The partition.
        partition: String,
        /// Requested uid.
        uid: u32,
        /// Requested gid.
        gid: u32,
    },
}

/// Runs the promises of a partition in `mode`; `now` decides which are due
/// and dates the results.
///
/// # Errors
/// [`PromiseRunError`] when the partition user is root or the promise state
/// folders cannot be written. A failing promise is not an error: see
/// [`PromiseReport::failure`].
pub async fn run_promises(
    partition: &PartitionPromises,
    mode: Mode,
    now: SystemTime,
) -> Result<PromiseReport, PromiseRunError> {
    if let Some(user) = partition.user {
        if user.uid == 0 || user.gid == 0 {
            return Err(PromiseRunError::RootUser {
                partition: partition.partition_id.clone(),
                uid: user.uid,
                gid: user.gid,
            });
        }
    }
    let store = Store::open(&partition.directory, partition.user)?;
    let mut run = PartitionRun {
        partition,
        mode,
        store,
        clock: RunClock::start(now),
        bang_called: false,
    };
    let mut results = Vec::new();
    let plugin_dir = partition.directory.join("etc").join("plugin");
    for name in store::list_plugins(&plugin_dir)? {
        results.push(run.promise(PromiseKind::Plugin, &plugin_dir, name).await?);
    }
    let legacy_dir = partition.directory.join("etc").join("promise");
    for name in store::list_legacy(&legacy_dir)? {
        results.push(run.promise(PromiseKind::Legacy, &legacy_dir, name).await?);
    }
    Ok(PromiseReport { results })
}

/// What to do with one promise, from its cache (spec §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Run,
    /// Not due: report the stored result.
    Reuse,
    /// Disabled in this mode.
    Skip,
}

/// Test mode runs every enabled promise; anomaly mode only those whose
/// `next_run_after` has come.
fn decide(cache: Option<&CacheFile>, mode: Mode, now_unix: f64) -> Decision {
    let Some(cache) = cache else {
        return Decision::Run;
    };
    let enabled = match mode {
        Mode::Test => cache.is_tested,
        Mode::Anomaly => cache.is_anomaly_detected,
    };
    if enabled != Some(true) {
        return Decision::Skip;
    }
    match (mode, cache.next_run_after) {
        (Mode::Anomaly, Some(next)) if next != 0.0 && now_unix < next => Decision::Reuse,
        _ => Decision::Run,
    }
}

/// A result the node makes itself when the promise gave none (timeout,
/// crash): always a failure in test mode; in anomaly mode only if the
/// previous result failed or reported an error, so one hiccup is not an
/// anomaly.
fn generated_failure(mode: Mode, previous: Option<&StatusFile>) -> (ResultType, bool) {
    match mode {
        Mode::Test => (ResultType::Test, true),
        Mode::Anomaly => {
            let failed = previous.is_some_and(|status| {
                status.result.failed
                    || status
                        .result
                        .message
                        .as_deref()
                        .unwrap_or("")
                        .to_lowercase()
                        .contains("error:")
            });
            (ResultType::Anomaly, failed)
        }
    }
}

/// `Error: Promise timed out after N seconds`, N as configured.
fn timeout_message(timeout: Duration) -> String {
    let seconds = if timeout.subsec_nanos() == 0 {
        timeout.as_secs().to_string()
    } else {
        timeout.as_secs_f64().to_string()
    };
    format!("Error: Promise timed out after {seconds} seconds")
}

/// A start failure as Python's `OSError` prints, e.g.
/// `[Errno 8] Exec format error: '/p/etc/promise/x'`.
fn spawn_error_message(error: &std::io::Error, path: &Path) -> String {
    let text = error.to_string();
    match error.raw_os_error() {
        Some(code) => {
            let description = text
                .strip_suffix(&format!(" (os error {code})"))
                .unwrap_or(&text);
            format!(
                "[Errno {code}] {description}: {}",
                proto::python_repr::string_repr(&path.to_string_lossy())
            )
        }
        None => text,
    }
}

/// One promise being checked: its identity.
#[derive(Debug, Clone)]
struct Promise {
    kind: PromiseKind,
    name: String,
    title: String,
    path: PathBuf,
}

impl Promise {
    fn result(
        &self,
        execution: Execution,
        result_type: ResultType,
        failed: bool,
        message: String,
    ) -> PromiseResult {
        PromiseResult {
            name: self.name.clone(),
            title: self.title.clone(),
            path: self.path.clone(),
            kind: self.kind,
            execution,
            result_type,
            failed,
            message,
            date: None,
            execution_time: Duration::ZERO,
            bang: false,
        }
    }
}

/// The state of one partition's run: the clock and whether a failed
/// anomaly already claimed this run's bang.
struct PartitionRun<'a> {
    partition: &'a PartitionPromises,
    mode: Mode,
    store: Store,
    clock: RunClock,
    bang_called: bool,
}

impl PartitionRun<'_> {
    async fn promise(
        &mut self,
        kind: PromiseKind,
        dir: &Path,
        name: String,
    ) -> Result<PromiseResult, PromiseRunError> {
        let path = dir.join(&name);
        let title = record::title_from_file_name(&name).to_owned();
        let promise = Promise {
            kind,
            name,
            title,
            path,
        };
        if kind == PromiseKind::Legacy && !store::is_runnable_file(&promise.path) {
            let message = format!(
                "Bad promise file at {}.",
                proto::python_repr::string_repr(&promise.path.to_string_lossy())
            );
            tracing::warn!(partition = %self.partition.partition_id, promise = %promise.name, error = %message, "promise not run");
            return Ok(promise.result(
                Execution::BadFile,
                ResultType::of_mode(self.mode),
                true,
                message,
            ));
        }
        let cache = self.store.load_cache(&promise.title);
        match decide(cache.as_ref(), self.mode, self.clock.start_unix()) {
            Decision::Skip => Ok(promise.result(
                Execution::Skipped,
                ResultType::of_mode(self.mode),
                false,
                String::new(),
            )),
            Decision::Reuse => Ok(self.reuse(&promise)),
            Decision::Run => {
                tracing::debug!(partition = %self.partition.partition_id, promise = %promise.name, "checking promise");
                let result = match kind {
                    PromiseKind::Legacy => self.legacy(&promise).await?,
                    PromiseKind::Plugin => self.plugin(&promise).await?,
                };
                if result.failed {
                    tracing::warn!(partition = %self.partition.partition_id, promise = %promise.name, error = %result.message, "promise failed");
                }
                Ok(result)
            }
        }
    }

    /// The stored result of a promise that is not due: a failure still
    /// fails; a success or no result at all passes.
    fn reuse(&self, promise: &Promise) -> PromiseResult {
        let stored = self.store.load_status(&promise.title);
        let Some(stored) = stored else {
            return promise.result(
                Execution::Reused,
                ResultType::of_mode(self.mode),
                false,
                String::new(),
            );
        };
        let result_type =
            ResultType::parse(&stored.result.kind).unwrap_or(ResultType::of_mode(self.mode));
        let message = stored.result.message.unwrap_or_default();
        let mut result = promise.result(
            Execution::Reused,
            result_type,
            stored.result.failed,
            message,
        );
        result.date = Some(stored.result.date);
        result
    }

    /// Runs a legacy promise: its exit code is the verdict, its output the
    /// message, both logged; anomaly mode fails only after three failed
    /// runs in a row.
    async fn legacy(&mut self, promise: &Promise) -> Result<PromiseResult, PromiseRunError> {
        let started_at = sys::unix_seconds(self.clock.now());
        let module = (
            promise.path.to_string_lossy().into_owned(),
            sys::mtime_seconds(&promise.path).unwrap_or(0.0),
        );
        let periodicity = serde_json::Number::from(record::LEGACY_PERIODICITY_MINUTES);
        let cache = CacheFile::launched(started_at, (true, true), periodicity, module, true);
        self.store.write_cache(&promise.title, &cache)?;
        let previous = self.store.load_status(&promise.title);
        let command = PromiseCommand {
            program: &promise.path,
            args: Vec::new(),
            cwd: &self.partition.directory,
            user: self.partition.user,
            home: self.partition.home.as_deref(),
            environment: Vec::new(),
            merge_output: true,
            timeout: self.partition.timeout,
        };
        let (succeeded, message, elapsed) = match sys::run(command).await {
            Ok(Finished::Exited {
                status,
                stdout,
                elapsed,
                ..
            }) => (status.success(), record::strip_output(&stdout), elapsed),
            Ok(Finished::TimedOut { .. }) => {
                return self.conclude_generated(
                    promise,
                    previous.as_ref(),
                    timeout_message(self.partition.timeout),
                    Execution::TimedOut,
                    self.partition.timeout,
                );
            }
            Err(error) => (
                false,
                spawn_error_message(&error, &promise.path),
                Duration::ZERO,
            ),
        };
        self.log_legacy_run(promise, succeeded, &message)?;
        let failed = match self.mode {
            Mode::Test => !succeeded,
            Mode::Anomaly => {
                let history = record::recent_run_failures(
                    &self.store.read_log_tail(&promise.title)?,
                    record::LEGACY_ANOMALY_FAILURES,
                );
                history.len() == record::LEGACY_ANOMALY_FAILURES
                    && history.iter().all(|failed| *failed)
            }
        };
        let message = if !succeeded && message.is_empty() {
            NO_OUTPUT_MESSAGE.to_owned()
        } else {
            message
        };
        // Legacy checks are tests even in anomaly mode: they never bang.
        let result = promise.result(
            Execution::Ran,
            ResultType::Test,
            failed,
            record::truncate_message(&message),
        );
        self.conclude(result, elapsed, None)
    }

    /// Appends the run to the promise log, as GenericPromise's logger does.
    fn log_legacy_run(
        &self,
        promise: &Promise,
        succeeded: bool,
        message: &str,
    ) -> Result<(), PromiseRunError> {
        let now = sys::unix_seconds(self.clock.now()) as i64;
        let level = if succeeded { "INFO" } else { "ERROR" };
        let transaction = record::transaction_id(now, sys::entropy());
        let line = record::format_log_line(
            now + sys::local_offset_seconds(now),
            level,
            &transaction,
            message,
        );
        self.store.append_log(&promise.title, &line)
    }

    /// Runs a plugin through the bundled runner in the instance python.
    async fn plugin(&mut self, promise: &Promise) -> Result<PromiseResult, PromiseRunError> {
        let previous = self.store.load_status(&promise.title);
        let Some(python) = self.partition.instance_python.as_deref() else {
            let message =
                format!("{NO_OUTPUT_MESSAGE} (no instance python to run plugin promises)");
            return self.conclude_generated(
                promise,
                previous.as_ref(),
                message,
                Execution::NoOutput,
                Duration::ZERO,
            );
        };
        let started_at = sys::unix_seconds(self.clock.now());
        let request = serde_json::json!({
            "promise_path": promise.path,
            "promise_name": promise.name,
            "partition_folder": self.partition.directory,
            "log_folder": self.store.log_dir(),
            "check_anomaly": self.mode == Mode::Anomaly,
            "config": self.partition.plugin_config,
        });
        let command = PromiseCommand {
            program: python,
            args: sys::runner_args(RUNNER_SOURCE, request.to_string()),
            cwd: &self.partition.directory,
            user: self.partition.user,
            home: self.partition.home.as_deref(),
            environment: Vec::new(),
            merge_output: false,
            timeout: self.partition.timeout,
        };
        let finished = match sys::run(command).await {
            Ok(finished) => finished,
            Err(error) => {
                let message = format!(
                    "{NO_OUTPUT_MESSAGE} ({})",
                    spawn_error_message(&error, python)
                );
                return self.conclude_generated(
                    promise,
                    previous.as_ref(),
                    message,
                    Execution::NoOutput,
                    Duration::ZERO,
                );
            }
        };
        let (stdout, stderr, elapsed) = match &finished {
            Finished::Exited {
                stdout,
                stderr,
                elapsed,
                ..
            } => (stdout, stderr, Some(*elapsed)),
            Finished::TimedOut { stdout, stderr } => (stdout, stderr, None),
        };
        let events = runner::parse_events(stdout);
        if let Some(loaded) = &events.loaded {
            let cache = loaded.cache(started_at);
            self.store.write_cache(&promise.title, &cache)?;
        }
        let Some(elapsed) = elapsed else {
            let timeout = self.partition.timeout;
            return self.conclude_generated(
                promise,
                previous.as_ref(),
                timeout_message(timeout),
                Execution::TimedOut,
                timeout,
            );
        };
        if events.skipped {
            return Ok(promise.result(
                Execution::Skipped,
                ResultType::of_mode(self.mode),
                false,
                String::new(),
            ));
        }
        let Some(outcome) = events.result else {
            let diagnostics = String::from_utf8_lossy(stderr);
            tracing::warn!(partition = %self.partition.partition_id, promise = %promise.name, error = %diagnostics.trim(), "plugin promise returned no result");
            return self.conclude_generated(
                promise,
                previous.as_ref(),
                NO_OUTPUT_MESSAGE.to_owned(),
                Execution::NoOutput,
                elapsed,
            );
        };
        let result_type =
            ResultType::parse(&outcome.kind).unwrap_or(ResultType::of_mode(self.mode));
        let message = record::truncate_message(outcome.message.as_deref().unwrap_or(""));
        let mut result = promise.result(Execution::Ran, result_type, outcome.failed, message);
        result.bang = self.mode == Mode::Anomaly
            && outcome.bang
            && outcome.failed
            && result_type == ResultType::Anomaly
            && !self.bang_called;
        let date = (!outcome.date.is_empty()).then_some(outcome.date);
        self.conclude(result, elapsed, date)
    }

    /// Records a failure the node generated itself and returns it.
    fn conclude_generated(
        &mut self,
        promise: &Promise,
        previous: Option<&StatusFile>,
        message: String,
        execution: Execution,
        elapsed: Duration,
    ) -> Result<PromiseResult, PromiseRunError> {
        let (result_type, failed) = generated_failure(self.mode, previous);
        let result = promise.result(
            execution,
            result_type,
            failed,
            record::truncate_message(&message),
        );
        self.conclude(result, elapsed, None)
    }

    /// Writes the status file of a result that really ran and notes a
    /// failed anomaly, which uses up this run's bang.
    fn conclude(
        &mut self,
        mut result: PromiseResult,
        elapsed: Duration,
        date: Option<String>,
    ) -> Result<PromiseResult, PromiseRunError> {
        let date = date.unwrap_or_else(|| {
            record::format_result_date(sys::unix_seconds(self.clock.now()) as i64)
        });
        result.execution_time = elapsed;
        result.date = Some(date.clone());
        let status = StatusFile {
            title: result.title.clone(),
            name: result.name.clone(),
            path: result.path.to_string_lossy().into_owned(),
            execution_time: elapsed.as_secs_f64(),
            result: StatusResult {
                kind: result.result_type.as_str().to_owned(),
                failed: result.failed,
                date,
                message: Some(result.message.clone()),
            },
        };
        self.store.write_status(&status)?;
        if self.mode == Mode::Anomaly && result.failed && result.result_type == ResultType::Anomaly
        {
            self.bang_called = true;
        }
        Ok(result)
    }
}
