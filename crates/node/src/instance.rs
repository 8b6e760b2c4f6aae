//! `slapos node instance` (spec §5): deploy each partition the master
//! assigned to this node. A partition is processed when its timestamp
//! changed since its last successful deployment (or when its periodicity
//! elapsed): its `buildout.cfg` is the release's instance profile plus the
//! `[slap-connection]` tail, the profile engine runs it, its services are
//! handed to the supervisor and started or stopped, and the master hears
//! `started` or `stopped`. One failing partition never stops the others;
//! `.timestamp` is written only after full success, so a failed partition
//! is retried on the next run.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use client::{PartitionAuth, PartitionReport, SlapClient};
use proto::documents::ComputerPartitionDoc;

use crate::build::{run_profile, Engine};
use crate::promise::{run_promises, Mode, PartitionPromises};
use crate::config::NodeConfig;
use crate::software::{indented, software_path};

/// What the instance loop asks of the supervisor for a partition's
/// services (`etc/run`, `etc/service`).
#[allow(async_fn_in_trait)] // used with concrete types only, never as `dyn`
pub trait Services {
    /// (Re)reads the partition's programs and starts them.
    async fn start(&self, partition: &str, directory: &Path) -> Result<(), String>;
    /// Stops the partition's programs and forgets them.
    async fn stop(&self, partition: &str) -> Result<(), String>;
}

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct InstanceOptions {
    /// Process partitions even when up to date.
    pub force: bool,
    /// Only these partitions; empty: all.
    pub only: Vec<String>,
}

/// What happened to one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionOutcome {
    /// Free slot: nothing to do.
    Free,
    /// Timestamp unchanged and periodicity not elapsed.
    UpToDate,
    /// Deployed and its services started.
    Started,
    /// Deployed (or not: a stopped partition is stopped even if its
    /// deployment failed) and its services stopped.
    Stopped,
    /// Not in `--only`.
    Skipped,
    /// Processing failed; the message sent to the master.
    Failed(String),
    /// Deployed and started, but a promise fails; the message sent to the
    /// master (the partition is processed again next run).
    PromiseFailed(String),
}

/// One partition's line of the run's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionResult {
    /// The partition id, e.g. `slappart0`.
    pub partition: String,
    /// What happened.
    pub outcome: PartitionOutcome,
}

/// Why a run could not even start.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// The master did not answer (the node then keeps its services as they
    /// are: offline mode).
    #[error(transparent)]
    Master(#[from] client::ClientError),
    /// `--only` named partitions the master does not list.
    #[error("Unknown partition(s): {}", .0.join(", "))]
    UnknownPartitions(Vec<String>),
}

/// Processes every partition of this node, in the master's order.
///
/// # Errors
/// The master unreachable, or `--only` naming unknown partitions.
pub async fn run<S: Services>(
    config: &NodeConfig,
    client: &SlapClient,
    engine: &Engine,
    services: &S,
    options: &InstanceOptions,
) -> Result<Vec<PartitionResult>, InstanceError> {
    let computer = client.full_computer_information(&config.computer_id).await?;
    let unknown: Vec<String> = options
        .only
        .iter()
        .filter(|only| !computer.partitions.iter().any(|p| &p.partition_id == *only))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(InstanceError::UnknownPartitions(unknown));
    }
    let mut results = Vec::new();
    for partition in &computer.partitions {
        let outcome = if options.only.is_empty() || options.only.contains(&partition.partition_id) {
            process(config, client, engine, services, partition, options).await
        } else {
            PartitionOutcome::Skipped
        };
        results.push(PartitionResult { partition: partition.partition_id.clone(), outcome });
    }
    Ok(results)
}

/// `slapos node promise` (spec §9): the test-mode promises of every
/// deployed `started` partition, nothing reported to the master.
/// Partitions not started, free or not deployed are skipped.
///
/// # Errors
/// The master unreachable, or `only` naming unknown partitions.
pub async fn check_promises_only(
    config: &NodeConfig,
    client: &SlapClient,
    engine: &Engine,
    only: &[String],
) -> Result<Vec<PartitionResult>, InstanceError> {
    let computer = client.full_computer_information(&config.computer_id).await?;
    let unknown: Vec<String> =
        only.iter().filter(|o| !computer.partitions.iter().any(|p| &p.partition_id == *o)).cloned().collect();
    if !unknown.is_empty() {
        return Err(InstanceError::UnknownPartitions(unknown));
    }
    let mut results = Vec::new();
    for partition in &computer.partitions {
        let directory = config.instance_root.join(&partition.partition_id);
        let deployed = partition.software_release.is_some() && directory.join(".timestamp").is_file();
        let wanted = only.is_empty() || only.contains(&partition.partition_id);
        let outcome = if !wanted || !deployed || partition.requested_state != "started" {
            PartitionOutcome::Skipped
        } else {
            match promise_failure(config, engine, &partition.partition_id, &directory, Mode::Test).await.0 {
                Some(message) => PartitionOutcome::PromiseFailed(message),
                None => PartitionOutcome::Started,
            }
        };
        results.push(PartitionResult { partition: partition.partition_id.clone(), outcome });
    }
    Ok(results)
}

/// One partition (spec §5.2), errors reported to the master.
async fn process<S: Services>(
    config: &NodeConfig,
    client: &SlapClient,
    engine: &Engine,
    services: &S,
    partition: &ComputerPartitionDoc,
    options: &InstanceOptions,
) -> PartitionOutcome {
    let directory = config.instance_root.join(&partition.partition_id);
    let auth = PartitionAuth { computer_id: config.computer_id.clone(), partition_id: partition.partition_id.clone() };
    let Some(release) = &partition.software_release else {
        crate::report::forget_free(&directory);
        return PartitionOutcome::Free;
    };
    if !directory.is_dir() {
        let message = format!("Partition directory {} does not exist.", directory.display());
        return report_failure(client, &auth, &directory, message).await;
    }
    remove_if_present(&crate::slap::transaction_file(&config.instance_root, &partition.partition_id));
    let timestamp = parameter(partition, "timestamp");
    let periodicity = periodicity(config, &release.url);
    if !options.force && up_to_date(&directory, timestamp.as_deref(), periodicity, SystemTime::now()) {
        if partition.requested_state == "started" {
            if let Some(message) = check_promises(config, engine, client, &auth, &directory, Mode::Anomaly).await {
                return report_failure(client, &auth, &directory, message).await.promise();
            }
        }
        return PartitionOutcome::UpToDate;
    }
    remove_if_present(&directory.join(".timestamp"));
    tracing::info!(
        partition = %partition.partition_id,
        software = %release.url,
        state = %partition.requested_state,
        "Processing Computer Partition {}.",
        partition.partition_id
    );
    let result = match partition.requested_state.as_str() {
        "started" => match deploy(config, engine, partition, &release.url, &directory).await {
            Err(message) => Err(message),
            Ok(()) => match services.start(&partition.partition_id, &directory).await {
                Err(message) => Err(message),
                Ok(()) => match check_promises(config, engine, client, &auth, &directory, Mode::Test).await {
                    Some(message) => return report_failure(client, &auth, &directory, message).await.promise(),
                    None => report(client, &auth, PartitionReport::Started).await.map(|()| PartitionOutcome::Started),
                },
            },
        },
        "stopped" => {
            let deployed = deploy(config, engine, partition, &release.url, &directory).await;
            let stopped = services.stop(&partition.partition_id).await;
            let reported = report(client, &auth, PartitionReport::Stopped).await;
            deployed.and(stopped).and(reported).map(|()| PartitionOutcome::Stopped)
        }
        "destroyed" => {
            let stopped = services.stop(&partition.partition_id).await;
            let reported = report(client, &auth, PartitionReport::Stopped).await;
            stopped.and(reported).map(|()| PartitionOutcome::Stopped)
        }
        other => Err(format!("Computer Partition '{}' has unsupported state: {other}", partition.partition_id)),
    };
    if matches!(result, Ok(PartitionOutcome::Started | PartitionOutcome::Stopped)) {
        end_transaction(client, &auth, &config.instance_root).await;
    }
    match result {
        Ok(outcome) => {
            remove_if_present(&directory.join(format!(".slapgrid-{}-error.log", partition.partition_id)));
            if let Some(timestamp) = timestamp {
                if let Err(error) = std::fs::write(directory.join(".timestamp"), timestamp) {
                    tracing::warn!(%error, "cannot write {}", directory.join(".timestamp").display());
                }
            }
            outcome
        }
        Err(message) => report_failure(client, &auth, &directory, message).await,
    }
}

impl PartitionOutcome {
    /// A failure that came from a promise.
    fn promise(self) -> PartitionOutcome {
        match self {
            PartitionOutcome::Failed(message) => PartitionOutcome::PromiseFailed(message),
            other => other,
        }
    }
}

/// Runs the partition's promises (spec §6); the failure message, if any.
/// A failing anomaly that asks for it bangs the master, once per run.
async fn check_promises(
    config: &NodeConfig,
    engine: &Engine,
    client: &SlapClient,
    auth: &PartitionAuth,
    directory: &Path,
    mode: Mode,
) -> Option<String> {
    let (failure, bang) = promise_failure(config, engine, &auth.partition_id, directory, mode).await;
    if let Some(message) = bang {
        if let Err(error) = client.bang(auth, &message).await {
            tracing::warn!(%error, partition = %auth.partition_id, "cannot bang the master");
        }
    }
    failure
}

/// Runs the partition's promises: the failure message, and the bang
/// message when a failing anomaly asks for one.
async fn promise_failure(
    config: &NodeConfig,
    engine: &Engine,
    partition: &str,
    directory: &Path,
    mode: Mode,
) -> (Option<String>, Option<String>) {
    let mut promises = PartitionPromises::new(partition, directory);
    promises.timeout = std::time::Duration::from_secs(config.promise_timeout);
    promises.instance_python = Some(PathBuf::from(&engine.python.sys_executable));
    promises.user = crate::sys::partition_user(directory);
    promises.plugin_config.insert("computer-id".into(), config.computer_id.clone());
    promises.plugin_config.insert("master-url".into(), config.master_url.clone());
    match run_promises(&promises, mode, SystemTime::now()).await {
        Ok(report) => (report.failure().map(|failure| failure.to_string()), report.bang_message()),
        Err(error) => (Some(error.to_string()), None),
    }
}

/// Sends the titles the partition's profile requested in this run, when
/// the run kept a transaction file (spec §5.2 step 8); a master without
/// the endpoint (404) is only logged.
async fn end_transaction(client: &SlapClient, auth: &PartitionAuth, instance_root: &Path) {
    let Ok(text) = std::fs::read_to_string(crate::slap::transaction_file(instance_root, &auth.partition_id)) else { return };
    let titles: Vec<String> = text.lines().filter(|line| !line.is_empty()).map(str::to_owned).collect();
    if let Err(error) = client.related_instances(auth, &titles).await {
        tracing::info!(%error, partition = %auth.partition_id, "the master did not take the list of requested instances");
    }
}

/// Writes the error next to the partition and tells the master.
async fn report_failure(client: &SlapClient, auth: &PartitionAuth, directory: &Path, message: String) -> PartitionOutcome {
    tracing::error!(partition = %auth.partition_id, "{message}");
    let error_log = directory.join(format!(".slapgrid-{}-error.log", auth.partition_id));
    if directory.is_dir() {
        if let Err(error) = std::fs::write(&error_log, &message) {
            tracing::warn!(%error, "cannot write {}", error_log.display());
        }
    }
    let report = PartitionReport::Error { message: &message, shared_reference: None };
    if let Err(error) = client.partition_report(auth, report).await {
        tracing::warn!(%error, partition = %auth.partition_id, "cannot report the error to the master");
    }
    PartitionOutcome::Failed(message)
}

async fn report(client: &SlapClient, auth: &PartitionAuth, report: PartitionReport<'_>) -> Result<(), String> {
    client.partition_report(auth, report).await.map(drop).map_err(|error| error.to_string())
}

/// A string parameter of the partition (`timestamp`, `slap_software_type`).
fn parameter(partition: &ComputerPartitionDoc, key: &str) -> Option<String> {
    partition.parameters.as_ref()?.iter().find(|(k, _)| k == key).map(|(_, value)| match value {
        proto::Value::String(text) => text.clone(),
        other => proto::python_repr::str_of(other),
    })
}

/// The partition's periodicity: `maximum_periodicity`, unless the release
/// ships a `periodicity` file holding a whole number of seconds.
fn periodicity(config: &NodeConfig, url: &str) -> i64 {
    let file = software_path(&config.software_root, url).join("periodicity");
    match std::fs::read_to_string(&file) {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| {
            tracing::warn!("ignoring {}: not a whole number of seconds", file.display());
            remove_if_present(&file);
            config.maximum_periodicity
        }),
        Err(_) => config.maximum_periodicity,
    }
}

/// The up-to-date rule (spec §5.2 step 3): `.timestamp` holds the master's
/// timestamp and the periodicity has not elapsed since it was written.
pub fn up_to_date(directory: &Path, timestamp: Option<&str>, periodicity: i64, now: SystemTime) -> bool {
    let Some(timestamp) = timestamp else { return false };
    if periodicity == 0 {
        return false;
    }
    let file = directory.join(".timestamp");
    let (Ok(stored), Ok(metadata)) = (std::fs::read_to_string(&file), std::fs::metadata(&file)) else {
        return false;
    };
    if stored != timestamp {
        return false;
    }
    if periodicity < 0 {
        return true;
    }
    let written = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let period = std::time::Duration::from_secs(periodicity.unsigned_abs());
    now <= written + period
}

/// Writes the partition's `buildout.cfg` and runs it (spec §5.3).
async fn deploy(
    config: &NodeConfig,
    engine: &Engine,
    partition: &ComputerPartitionDoc,
    url: &str,
    directory: &Path,
) -> Result<(), String> {
    crate::disk::check(directory, config.instance_min_free_space, "instance_min_free_space")?;
    let software = software_path(&config.software_root, url);
    if !software.is_dir() {
        return Err(format!("Software Release {url} is not present on system.\nCannot deploy instance."));
    }
    let template = [software.join("instance.cfg"), software.join("template.cfg")]
        .into_iter()
        .find(|path| path.is_file())
        .ok_or_else(|| {
            format!("Software Release {url} is not correctly installed.\nMissing file: {}", software.join("instance.cfg").display())
        })?;
    check_mode(directory)?;
    link_software(directory, &software)?;
    let template_text = std::fs::read_to_string(&template).map_err(|e| format!("cannot read {}: {e}", template.display()))?;
    let buildout_cfg = directory.join("buildout.cfg");
    let text = format!("{template_text}\n\n{}", tail(config, &partition.partition_id, url, &partition.requested_state));
    write_mode(&buildout_cfg, &text, 0o640)?;
    let retention = directory.join(".slapos-retention-lock-delay");
    if !retention.exists() {
        write_mode(&retention, "0.0", 0o644)?;
    }
    let failed = |failure: String| format!("Failed to run buildout profile in directory '{}':\n{failure}\n", directory.display());
    if let Some(command) = &engine.buildout_command {
        let user = crate::sys::partition_user(directory);
        if let Some(user) = user {
            // What the node wrote for the partition is its user's to read.
            for written in [buildout_cfg.as_path(), retention.as_path(), &directory.join("software_release")] {
                std::os::unix::fs::lchown(written, Some(user.uid), Some(user.gid))
                    .map_err(|e| failed(format!("cannot give {} to uid {}: {e}", written.display(), user.uid)))?;
            }
        }
        let environment = [("SLAPGRID_INSTANCE_ROOT".into(), config.instance_root.clone().into_os_string())];
        return crate::build::run_profile_as(user, command, directory, &[], &environment, config.partition_timeout)
            .await
            .map_err(failed);
    }
    let (engine, path) = (engine.clone(), directory.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let ran = run_profile(&engine, &buildout_cfg, &path, &[]);
        hand_over(&path);
        ran
    })
    .await
    .map_err(|join| join.to_string())?
    .map(drop)
    .map_err(|failure| failed(failure.to_string()))
}


/// As root without an [`Engine::buildout_command`], gives everything
/// under the partition directory to the directory's owner, the partition
/// user its services run as: the profile ran in the node's process, so
/// what it created belongs to root until handed over here.
fn hand_over(directory: &Path) {
    use std::os::unix::fs::MetadataExt;
    if !crate::sys::running_as_root() {
        return;
    }
    let Ok(owner) = std::fs::metadata(directory) else { return };
    if owner.uid() == 0 {
        return;
    }
    chown_tree(directory, owner.uid(), owner.gid());
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    if let Err(error) = std::os::unix::fs::lchown(path, Some(uid), Some(gid)) {
        tracing::warn!(%error, "cannot give {} to uid {uid}", path.display());
    }
    let is_directory = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    if is_directory {
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            chown_tree(&entry.path(), uid, gid);
        }
    }
}

/// The partition directory must be exactly 0750 (spec §5.3).
fn check_mode(directory: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(directory).map_err(|e| format!("cannot read {}: {e}", directory.display()))?.permissions().mode() & 0o7777;
    if mode != 0o750 {
        return Err(format!(
            "Wrong permissions in {}: actual permissions are: 0{mode:o}, wanted are 0750",
            directory.display()
        ));
    }
    Ok(())
}

/// `P/software_release` → the release directory.
fn link_software(directory: &Path, software: &Path) -> Result<(), String> {
    let link = directory.join("software_release");
    if std::fs::read_link(&link).ok().as_deref() == Some(software) {
        return Ok(());
    }
    remove_if_present(&link);
    std::os::unix::fs::symlink(software, &link).map_err(|e| format!("cannot link {} to {}: {e}", link.display(), software.display()))
}

fn write_mode(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text)
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The text slapgrid appends to the instance profile (spec §5.3).
pub fn tail(config: &NodeConfig, partition: &str, url: &str, requested_state: &str) -> String {
    let (key_file, cert_file) = match &config.certificate_repository_path {
        Some(repository) => (
            repository.join(format!("{partition}.key")).display().to_string(),
            repository.join(format!("{partition}.crt")).display().to_string(),
        ),
        None => (String::new(), String::new()),
    };
    let connection = [
        ("computer-id", config.computer_id.clone()),
        ("partition-id", partition.to_owned()),
        ("server-url", config.master_url.clone()),
        ("software-release-url", url.to_owned()),
        ("key-file", key_file),
        ("cert-file", cert_file),
    ];
    let mut text = String::from(
        "# This is beginning of zc.buildout profile's tail added by slapgrid\n[buildout]\n\
         # put buildout generated binaries in specific directory\nbin-directory = ${buildout:directory}/sbin\n\n\
         # protect software and run parts offline\noffline = true\n\n[slap-connection]\n",
    );
    for (key, value) in &connection {
        text.push_str(&format!("{key} = {value}\n"));
    }
    text.push_str(&format!(
        "shared-part-list =\n  {}\nbuild-time-part-list =\n  {}\nrequested-state = {requested_state}\n\n[slap_connection]\n# Kept for backward compatiblity\n",
        indented(&config.shared_part_list),
        indented(&config.build_time_part_list)
    ));
    for (key, value) in &connection {
        text.push_str(&format!("{} = {value}\n", key.replace('-', "_")));
    }
    text.push_str(&format!(
        "\n[storage-configuration]\nstorage-home = {}\n\n[network-information]\nglobal-ipv4-network = {}\n\
         # This is end of zc.buildout profile's tail added by slapgrid\n",
        config.instance_storage_home, config.ipv4_global_network
    ));
    text
}


fn remove_if_present(path: &Path) {
    if let Err(error) = std::fs::remove_file(path) {
        if error.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(%error, "cannot remove {}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_is_up_to_date_while_its_timestamp_holds_and_its_period_runs() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let now = SystemTime::now();
        assert!(!up_to_date(directory.path(), Some("1.5"), 60, now), "no .timestamp yet");
        std::fs::write(directory.path().join(".timestamp"), "1.5").expect("write");
        assert!(up_to_date(directory.path(), Some("1.5"), 60, now));
        assert!(!up_to_date(directory.path(), Some("1.6"), 60, now), "the master's timestamp moved");
        assert!(!up_to_date(directory.path(), None, 60, now), "no timestamp: always processed");
        assert!(!up_to_date(directory.path(), Some("1.5"), 0, now), "periodicity 0: always processed");
        assert!(up_to_date(directory.path(), Some("1.5"), -1, now + std::time::Duration::from_secs(1_000_000)));
        assert!(!up_to_date(directory.path(), Some("1.5"), 60, now + std::time::Duration::from_secs(120)), "period elapsed");
    }
}
