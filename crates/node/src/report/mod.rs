//! `slapos node report` (spec §7): tell the master what each partition
//! used, and destroy the partitions it asked to destroy.
//!
//! One run: GET the compute node; for each busy partition, run its
//! `etc/report/*` scripts, collect the consumption files it and the node
//! wrote, and measure its CPU time, memory and disk; POST every movement in
//! one `useComputer` journal; POST the compute node's own journal files;
//! then destroy each partition whose requested state is `destroyed`
//! (`destroy`). One failing partition never stops the others; the outcome
//! lists each partition's, and `exit_code` says 1 when anything failed.
//!
//! Formats live in `consumption` (pure), the retention rule and the
//! destruction in `destroy`, the machine in `sys`.

pub mod consumption;
pub mod destroy;
pub(crate) mod sys;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use client::{PartitionAuth, PartitionReport, SlapClient};

use crate::config::NodeConfig;
use crate::instance::Services;
use consumption::{MeasuredUsage, Movement};
pub use destroy::Destruction;

/// A consumption file larger than this is not read (and stays).
const CONSUMPTION_FILE_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// Attempts at finding an unused `slapreport.XXXX` name.
const REPORT_NAME_ATTEMPTS_MAX: u32 = 100;

/// Options of one run.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Per partition, the pids of its supervised processes (from the
    /// supervisor): their process trees are measured. As root, every
    /// process of the partition user is measured as well.
    pub pids: BTreeMap<String, Vec<u32>>,
    /// How long a report or destroy script may run before its process
    /// group is killed.
    pub script_timeout: Duration,
}

impl Default for ReportOptions {
    fn default() -> ReportOptions {
        ReportOptions { pids: BTreeMap::new(), script_timeout: Duration::from_secs(3600) }
    }
}

/// One busy partition's line of the run's report.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionResult {
    /// The partition id, e.g. `slappart0`.
    pub partition: String,
    /// Movements it contributed to the journal (measured and from files).
    pub movements: usize,
    /// What failed for it (missing directory, report scripts, usage post);
    /// each was also sent to the master.
    pub errors: Vec<String>,
    /// Its destruction, when asked for.
    pub destruction: Destruction,
}

/// What happened to the usage journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsagePost {
    /// Nothing was measured or collected: no call.
    Nothing,
    /// Posted; how many movements, and consumption files then deleted.
    Posted {
        /// Movements in the journal.
        movements: usize,
        /// Consumption files it included.
        files: usize,
    },
    /// The POST failed; the files stay for the next run.
    Failed(String),
}

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOutcome {
    /// Busy partitions, in the master's order.
    pub partitions: Vec<PartitionResult>,
    /// The usage journal.
    pub usage: UsagePost,
    /// Compute node journal files posted as they are.
    pub computer_journals_posted: usize,
    /// Compute node journal files that could not be posted.
    pub computer_journal_errors: Vec<String>,
}

impl ReportOutcome {
    /// The exit code of `slapos node report` (spec §7 step 7): 1 when a
    /// script, a post or a destruction failed, else 0. A retention lock is
    /// not a failure.
    pub fn exit_code(&self) -> i32 {
        let failed = matches!(self.usage, UsagePost::Failed(_))
            || !self.computer_journal_errors.is_empty()
            || self.partitions.iter().any(|p| !p.errors.is_empty() || matches!(p.destruction, Destruction::Failed(_)));
        i32::from(failed)
    }
}

/// Why a run could not even start.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The master did not answer `getFullComputerInformation`.
    #[error(transparent)]
    Master(#[from] client::ClientError),
}

/// What one partition gave to the journal.
struct Collected {
    movements: Vec<(String, Movement)>,
    files: Vec<PathBuf>,
    errors: Vec<String>,
}

/// Reports usage and destroys what the master asks to destroy; `now` is
/// the run's time (journal date, retention lock).
///
/// # Errors
/// Only the master unreachable at the start; every later failure is in
/// the outcome.
pub async fn run<S: Services>(
    config: &NodeConfig,
    client: &SlapClient,
    services: &S,
    options: &ReportOptions,
    now: SystemTime,
) -> Result<ReportOutcome, ReportError> {
    let computer = client.full_computer_information(&config.computer_id).await?;
    // Each busy partition's result, and whether it is to be destroyed.
    let mut pending: Vec<(PartitionResult, bool)> = Vec::new();
    let mut movements = Vec::new();
    let mut files = Vec::new();
    for partition in &computer.partitions {
        let directory = config.instance_root.join(&partition.partition_id);
        if partition.software_release.is_none() {
            forget_free(&directory);
            continue;
        }
        let auth = auth(config, &partition.partition_id);
        let wanted = partition.requested_state == "destroyed";
        let mut result = PartitionResult {
            partition: partition.partition_id.clone(),
            movements: 0,
            errors: Vec::new(),
            destruction: Destruction::NotRequested,
        };
        if !directory.is_dir() {
            let message = format!("Partition directory {} does not exist.", directory.display());
            report_error(client, &auth, &message).await;
            if wanted {
                result.destruction = Destruction::Skipped(message.clone());
            }
            result.errors.push(message);
            pending.push((result, false));
            continue;
        }
        let collected = collect(config, client, &auth, &directory, options).await;
        result.movements = collected.movements.len();
        result.errors = collected.errors;
        movements.extend(collected.movements);
        files.extend(collected.files);
        pending.push((result, wanted));
    }
    let usage = post_usage(config, client, &movements, &files, now).await;
    if let (UsagePost::Failed(message), Some((last, destroy))) = (&usage, pending.last_mut()) {
        // As slapgrid: the error lands on the last partition processed,
        // which is then not destroyed this run.
        report_error(client, &auth(config, &last.partition), message).await;
        last.errors.push(message.clone());
        if *destroy {
            last.destruction = Destruction::Skipped(message.clone());
            *destroy = false;
        }
    }
    let (computer_journals_posted, computer_journal_errors) = post_computer_journals(config, client).await;
    let mut partitions = Vec::with_capacity(pending.len());
    for (mut result, destroy) in pending {
        if destroy {
            let directory = config.instance_root.join(&result.partition);
            let auth = auth(config, &result.partition);
            result.destruction = destroy::destroy(config, client, services, &auth, &directory, options, now).await;
        }
        partitions.push(result);
    }
    Ok(ReportOutcome { partitions, usage, computer_journals_posted, computer_journal_errors })
}

fn auth(config: &NodeConfig, partition: &str) -> PartitionAuth {
    PartitionAuth { computer_id: config.computer_id.clone(), partition_id: partition.to_owned() }
}

/// One partition's scripts, files and measured usage.
async fn collect(
    config: &NodeConfig,
    client: &SlapClient,
    auth: &PartitionAuth,
    directory: &Path,
    options: &ReportOptions,
) -> Collected {
    let partition = auth.partition_id.as_str();
    let mut errors = Vec::new();
    for message in run_report_scripts(directory, options).await {
        report_error(client, auth, &message).await;
        errors.push(message);
    }
    let mut movements = Vec::new();
    let mut files = Vec::new();
    let node_side = config.instance_root.join("var").join("xml_report").join(partition);
    for folder in [directory.join("var").join("xml_report"), node_side] {
        for (path, found) in consumption_files(&folder) {
            movements.extend(found.into_iter().map(|movement| (partition.to_owned(), movement)));
            files.push(path);
        }
    }
    let pids = options.pids.get(partition).map(Vec::as_slice).unwrap_or_default();
    let usage = measure(directory, pids);
    movements.extend(consumption::measured_movements(partition, &usage).into_iter().map(|m| (partition.to_owned(), m)));
    Collected { movements, files, errors }
}

/// What a partition uses now: CPU seconds and resident memory of the
/// process trees of `pids` (as root, also of every process of the
/// directory's owner), and the bytes under `directory`.
pub fn measure(directory: &Path, pids: &[u32]) -> MeasuredUsage {
    let owner = crate::sys::partition_user(directory).map(|user| user.uid);
    let (cpu_seconds, memory_bytes) = sys::measure_processes(pids, owner);
    let disk_bytes = sys::disk_bytes(directory).unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot measure the disk usage of {}", directory.display());
        0
    });
    MeasuredUsage { cpu_seconds, memory_bytes, disk_bytes }
}

/// Runs each `etc/report/*` with an unused output path under
/// `var/xml_report/` (spec §7 step 2); the failure messages.
async fn run_report_scripts(directory: &Path, options: &ReportOptions) -> Vec<String> {
    let report_directory = directory.join("etc").join("report");
    let Ok(entries) = std::fs::read_dir(&report_directory) else { return Vec::new() };
    let mut scripts: Vec<PathBuf> =
        entries.flatten().map(|entry| entry.path()).filter(|path| !path.is_dir()).collect();
    scripts.sort();
    if scripts.is_empty() {
        return Vec::new();
    }
    let user = crate::sys::partition_user(directory);
    let output_directory = directory.join("var").join("xml_report");
    if let Err(error) = create_owned_directory(directory, &output_directory, user) {
        return vec![error];
    }
    let mut errors = Vec::new();
    for script in scripts {
        let name = script.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let output = unused_path(&output_directory);
        let command = sys::ScriptCommand {
            script: &script,
            args: vec![output.into_os_string()],
            cwd: &report_directory,
            user,
            timeout: options.script_timeout,
        };
        let failed = match sys::run_script(command).await {
            Ok(run) if run.success => None,
            Ok(run) => Some(run.output),
            Err(error) => Some(error),
        };
        if let Some(detail) = failed {
            tracing::error!(script = %script.display(), output = %detail.trim_end(), "report script failed");
            errors.push(format!("Script {} failed.", proto::python_repr::string_repr(&name)));
        }
    }
    errors
}

/// Creates `path` (and missing parents up to `partition`), given to the
/// partition user as root so its scripts can write there.
fn create_owned_directory(partition: &Path, path: &Path, user: Option<crate::promise::PartitionUser>) -> Result<(), String> {
    let mut missing = Vec::new();
    let mut current = path;
    while current != partition && !current.exists() {
        missing.push(current.to_path_buf());
        current = current.parent().unwrap_or(partition);
    }
    for directory in missing.iter().rev() {
        std::fs::create_dir(directory).map_err(|e| format!("cannot create {}: {e}", directory.display()))?;
        if let Some(user) = user {
            std::os::unix::fs::lchown(directory, Some(user.uid), Some(user.gid))
                .map_err(|e| format!("cannot give {} to uid {}: {e}", directory.display(), user.uid))?;
        }
    }
    Ok(())
}

/// `slapreport.XXXXXXXX` under `directory`, not existing yet.
fn unused_path(directory: &Path) -> PathBuf {
    let mut seed = std::process::id() as u64 ^ sys::unix_seconds(SystemTime::now()) as u64;
    for _ in 0..REPORT_NAME_ATTEMPTS_MAX {
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        seed = seed.rotate_left(13) ^ u64::from(nanos) ^ 0x9E37_79B9_7F4A_7C15;
        let path = directory.join(format!("slapreport.{:08x}", seed as u32));
        if std::fs::symlink_metadata(&path).is_err() {
            return path;
        }
    }
    directory.join(format!("slapreport.{seed:016x}"))
}

/// The valid consumption files of a folder and their movements; invalid
/// ones are logged and left in place.
fn consumption_files(folder: &Path) -> Vec<(PathBuf, Vec<Movement>)> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    paths.sort();
    let mut found = Vec::new();
    for path in paths {
        match read_small(&path).and_then(|text| consumption::parse_consumption(&text)) {
            Ok(movements) => found.push((path, movements)),
            Err(why) => tracing::warn!(file = %path.display(), "ignoring an invalid consumption file: {why}"),
        }
    }
    found
}

/// A regular file's text, if it is not too large.
fn read_small(path: &Path) -> Result<String, String> {
    let metadata = std::fs::symlink_metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !metadata.is_file() {
        return Err("not a regular file".to_owned());
    }
    if metadata.len() > CONSUMPTION_FILE_BYTES_MAX {
        return Err(format!("larger than {CONSUMPTION_FILE_BYTES_MAX} bytes"));
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// POSTs the journal when there is anything; deletes its files after.
async fn post_usage(
    config: &NodeConfig,
    client: &SlapClient,
    movements: &[(String, Movement)],
    files: &[PathBuf],
    now: SystemTime,
) -> UsagePost {
    if movements.is_empty() {
        return UsagePost::Nothing;
    }
    let journal = consumption::journal(&config.computer_id, &sys::local_stop_date(now), movements);
    if let Err(error) = client.use_computer(&config.computer_id, &journal).await {
        let message = format!("cannot post the usage journal of {}: {error}", config.computer_id);
        tracing::error!("{message}");
        return UsagePost::Failed(message);
    }
    for file in files {
        if let Err(error) = std::fs::remove_file(file) {
            tracing::warn!(%error, "cannot remove {}", file.display());
        }
    }
    UsagePost::Posted { movements: movements.len(), files: files.len() }
}

/// Files of `instance_root/var/xml_report/<computer_id>/` that are
/// compute node journals, POSTed as they are and then deleted (spec §7
/// step 4); how many were, and the errors.
async fn post_computer_journals(config: &NodeConfig, client: &SlapClient) -> (usize, Vec<String>) {
    let folder = config.instance_root.join("var").join("xml_report").join(&config.computer_id);
    let Ok(entries) = std::fs::read_dir(&folder) else { return (0, Vec::new()) };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    paths.sort();
    let (mut posted, mut errors) = (0, Vec::new());
    for path in paths {
        let text = match read_small(&path).and_then(|text| consumption::check_computer_journal(&text).map(|()| text)) {
            Ok(text) => text,
            Err(why) => {
                tracing::warn!(file = %path.display(), "ignoring an invalid computer journal: {why}");
                continue;
            }
        };
        match client.use_computer(&config.computer_id, &text).await {
            Ok(_) => {
                posted += 1;
                if let Err(error) = std::fs::remove_file(&path) {
                    tracing::warn!(%error, "cannot remove {}", path.display());
                }
            }
            Err(error) => errors.push(format!("cannot post {}: {error}", path.display())),
        }
    }
    (posted, errors)
}

/// Tells the master about a partition's failure (errors logged only).
async fn report_error(client: &SlapClient, auth: &PartitionAuth, message: &str) {
    tracing::error!(partition = %auth.partition_id, "{message}");
    let report = PartitionReport::Error { message, shared_reference: None };
    if let Err(error) = client.partition_report(auth, report).await {
        tracing::warn!(partition = %auth.partition_id, %error, "cannot report the error to the master");
    }
}

/// A free slot keeps nothing of a previous instance's bookkeeping (the
/// spec §5.1 filter shared with the instance loop).
pub(crate) fn forget_free(directory: &Path) {
    if !directory.is_dir() {
        return;
    }
    let _ = std::fs::remove_dir_all(directory.join(".slapgrid"));
    let _ = std::fs::remove_file(directory.join(".timestamp"));
    let leftovers = std::fs::read_dir(directory)
        .map(|entries| entries.flatten().any(|entry| entry.file_name() != ".slapos-resource"))
        .unwrap_or(false);
    if leftovers {
        tracing::warn!("Free partition {} contains file(s) in {}.", directory.display(), directory.display());
    }
}
