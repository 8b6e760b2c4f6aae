//! `slapos node software` (spec §4): build every software release the
//! master asks this node to supply into `software_root/<md5(url)>`, report
//! it building, available or in error, and remove the releases the master
//! asks to destroy.
//!
//! A release is built once: `.completed` marks success and later runs make
//! no call for it. A failure is reported with the run's log and retried by
//! the next run; the agent loop spaces those retries out (`RetryBackoff`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use client::{SlapClient, SoftwareReport};
use md5::{Digest, Md5};

use crate::build::{run_profile, Engine};
use crate::config::NodeConfig;

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct SoftwareOptions {
    /// Rebuild releases already completed.
    pub force: bool,
    /// Only these releases (URL or md5 directory name); empty: all.
    pub only: Vec<String>,
    /// Also delete the builds of releases the master no longer asks for
    /// (`--garbage-collect`).
    pub garbage_collect: bool,
}

/// What happened to one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoftwareOutcome {
    /// Built now.
    Built,
    /// Already built; nothing done.
    Completed,
    /// Removed (or already absent) and reported destroyed.
    Destroyed,
    /// Not in `--only`, or waiting for its retry time.
    Skipped,
    /// The build failed; the message sent to the master.
    Failed(String),
}

/// One release's line of the run's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftwareResult {
    /// The release URL.
    pub url: String,
    /// Its directory.
    pub path: PathBuf,
    /// What happened.
    pub outcome: SoftwareOutcome,
}

/// Why a run could not even start.
#[derive(Debug, thiserror::Error)]
pub enum SoftwareError {
    /// `software_root` is missing.
    #[error("software root {} does not exist: run `slapos node format` first", .0.display())]
    NoSoftwareRoot(PathBuf),
    /// The master did not answer.
    #[error(transparent)]
    Master(#[from] client::ClientError),
}

/// The directory of a release: `software_root/<md5 of its URL>`.
pub fn software_path(software_root: &Path, url: &str) -> PathBuf {
    software_root.join(url_hash(url))
}

/// The md5 hex digest of a release URL, the name of its directory.
pub fn url_hash(url: &str) -> String {
    Md5::digest(url.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Builds or removes every release of this node, in the master's order.
/// `retry` (the agent's) skips releases whose last failure is too recent.
///
/// # Errors
/// No software root, or the master unreachable; a failing release is an
/// outcome, not an error.
pub async fn run(
    config: &NodeConfig,
    client: &SlapClient,
    engine: &Engine,
    options: &SoftwareOptions,
    mut retry: Option<&mut RetryBackoff>,
) -> Result<Vec<SoftwareResult>, SoftwareError> {
    if !config.software_root.is_dir() {
        return Err(SoftwareError::NoSoftwareRoot(config.software_root.clone()));
    }
    let computer = client.full_computer_information(&config.computer_id).await?;
    let mut results = Vec::new();
    for release in &computer.software_releases {
        let url = release.url.clone();
        let path = software_path(&config.software_root, &url);
        let selected = options.only.is_empty() || options.only.iter().any(|o| *o == url || *o == url_hash(&url));
        let waiting = retry.as_deref().is_some_and(|r| r.waiting(&url, Instant::now()));
        let outcome = if !selected || waiting {
            SoftwareOutcome::Skipped
        } else if release.requested_state.as_deref() == Some("destroyed") {
            destroy(config, client, &url, &path).await
        } else if path.join(".completed").exists() && !options.force {
            SoftwareOutcome::Completed
        } else {
            install(config, client, engine, &url, &path).await
        };
        if let Some(retry) = retry.as_deref_mut() {
            match &outcome {
                SoftwareOutcome::Failed(_) => retry.failed(&url, Instant::now()),
                SoftwareOutcome::Built | SoftwareOutcome::Completed | SoftwareOutcome::Destroyed => retry.succeeded(&url),
                SoftwareOutcome::Skipped => {}
            }
        }
        results.push(SoftwareResult { url, path, outcome });
    }
    if options.garbage_collect {
        let wanted: Vec<String> = computer
            .software_releases
            .iter()
            .filter(|release| release.requested_state.as_deref() != Some("destroyed"))
            .map(|release| url_hash(&release.url))
            .collect();
        results.extend(garbage_collect(&config.software_root, &wanted));
    }
    Ok(results)
}

/// Deletes the release builds under `software_root` (directories named by
/// an md5 and holding a `buildout.cfg`, as this loop makes them) whose
/// name is not in `wanted`. Anything else there is left alone.
fn garbage_collect(software_root: &Path, wanted: &[String]) -> Vec<SoftwareResult> {
    let mut results = Vec::new();
    for entry in std::fs::read_dir(software_root).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let is_build = name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit()) && path.join("buildout.cfg").is_file();
        if !is_build || wanted.contains(&name) {
            continue;
        }
        let url = std::fs::read_to_string(path.join("buildout.cfg"))
            .ok()
            .and_then(|text| text.lines().find_map(|line| line.strip_prefix("extends = ").map(str::to_owned)))
            .unwrap_or_else(|| name.clone());
        let outcome = match remove_tree(&path) {
            Ok(()) => SoftwareOutcome::Destroyed,
            Err(error) => SoftwareOutcome::Failed(format!("cannot remove {}: {error}", path.display())),
        };
        results.push(SoftwareResult { url, path, outcome });
    }
    results
}

/// Reports, builds, reports again and marks `.completed`.
async fn install(config: &NodeConfig, client: &SlapClient, engine: &Engine, url: &str, path: &Path) -> SoftwareOutcome {
    tracing::info!(url, path = %path.display(), "Installing software release");
    if let Err(error) = client.software_release_report(url, &config.computer_id, SoftwareReport::Building).await {
        if !error.is_not_found() {
            tracing::warn!(%error, "cannot report the build started");
        }
    }
    let prepared = crate::disk::check(path, config.software_min_free_space, "software_min_free_space")
        .and_then(|()| prepare(config, url, path));
    let built = match prepared {
        Err(message) => Err(message),
        Ok(buildout_cfg) => {
            let failed = |failure: String| format!("Failed to run buildout profile in directory '{}':\n{failure}\n", path.display());
            let overrides = vec![
                format!("buildout:extends-cache={}", path.join("extends-cache").display()),
                "buildout:newest=false".to_owned(),
            ];
            // As root, the release is built by the owner of software_root
            // (the software user `node format` made), as the real node does.
            match &engine.buildout_command {
                Some(command) => {
                    let owner = crate::sys::partition_user(&config.software_root);
                    match owner.map_or(Ok(()), |owner| give(path, owner)) {
                        Err(message) => Err(failed(message)),
                        Ok(()) => crate::build::run_profile_as(owner, command, path, &overrides, &[], None)
                            .await
                            .map(|()| String::new())
                            .map_err(failed),
                    }
                }
                None => {
                    let (engine, path_owned) = (engine.clone(), path.to_path_buf());
                    tokio::task::spawn_blocking(move || run_profile(&engine, &buildout_cfg, &path_owned, &overrides))
                        .await
                        .unwrap_or_else(|join| Err(crate::build::BuildFailure { log: String::new(), message: join.to_string() }))
                        .map_err(|failure| failed(failure.to_string()))
                }
            }
        }
    };
    match built {
        Ok(_log) => {
            if let Err(error) = std::fs::write(path.join(".completed"), completed_stamp()) {
                return fail(config, client, url, format!("cannot write {}: {error}", path.join(".completed").display())).await;
            }
            if let Err(error) = client.software_release_report(url, &config.computer_id, SoftwareReport::Available).await {
                tracing::warn!(%error, url, "cannot report the release available");
            }
            SoftwareOutcome::Built
        }
        Err(message) => fail(config, client, url, message).await,
    }
}

async fn fail(config: &NodeConfig, client: &SlapClient, url: &str, message: String) -> SoftwareOutcome {
    tracing::error!(url, "{message}");
    if let Err(error) = client.software_release_report(url, &config.computer_id, SoftwareReport::Error(&message)).await {
        tracing::warn!(%error, url, "cannot report the build failure");
    }
    SoftwareOutcome::Failed(message)
}

/// Creates the release directory and its `buildout.cfg` (written once, as
/// slapgrid does, so a hand-edited one survives).
fn prepare(config: &NodeConfig, url: &str, path: &Path) -> Result<PathBuf, String> {
    let io = |what: &Path, error: std::io::Error| format!("cannot create {}: {error}", what.display());
    std::fs::create_dir_all(path.join("extends-cache")).map_err(|e| io(path, e))?;
    let buildout_cfg = path.join("buildout.cfg");
    if !buildout_cfg.exists() {
        let text = format!(
            "[buildout]\nextends = {url}\nshared-part-list = {}\nbuild-time-part-list = {}\n",
            indented(&config.shared_part_list),
            indented(&config.build_time_part_list)
        );
        std::fs::write(&buildout_cfg, text).map_err(|e| io(&buildout_cfg, e))?;
    }
    Ok(buildout_cfg)
}

/// Gives what the node made of a release directory (the directory, its
/// `extends-cache` and `buildout.cfg`) to the user who builds it.
fn give(path: &Path, owner: crate::promise::PartitionUser) -> Result<(), String> {
    for made in [path.to_path_buf(), path.join("extends-cache"), path.join("buildout.cfg")] {
        std::os::unix::fs::lchown(&made, Some(owner.uid), Some(owner.gid))
            .map_err(|e| format!("cannot give {} to uid {}: {e}", made.display(), owner.uid))?;
    }
    Ok(())
}

/// A list value as buildout writes one: first item on the key's line, the
/// others on indented continuation lines.
pub(crate) fn indented(items: &[String]) -> String {
    items.join("\n  ")
}

/// `time.asctime()`-like text for `.completed` (only its presence matters).
fn completed_stamp() -> String {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("{seconds}\n")
}

/// Removes a release's directory, then reports it destroyed (always, as
/// the real node does, so the master forgets it).
async fn destroy(config: &NodeConfig, client: &SlapClient, url: &str, path: &Path) -> SoftwareOutcome {
    if path.exists() {
        if let Err(error) = remove_tree(path) {
            let message = format!("cannot remove {}: {error}", path.display());
            return fail(config, client, url, message).await;
        }
    }
    match client.software_release_report(url, &config.computer_id, SoftwareReport::Destroyed).await {
        Ok(_) => SoftwareOutcome::Destroyed,
        Err(error) => SoftwareOutcome::Failed(format!("cannot report {url} destroyed: {error}")),
    }
}

/// Deletes a tree, making read-only directories writable first (builds
/// leave some, e.g. Go module caches).
fn remove_tree(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
            crate::sys::make_directories_writable(path);
            std::fs::remove_dir_all(path)
        }
        other => other,
    }
}


/// The agent's memory of failed builds: the next attempt of a release
/// waits 1 min, 2, 4 … up to 1 h after its last failure, so a broken
/// release does not rebuild every minute.
#[derive(Debug, Default)]
pub struct RetryBackoff {
    failures: std::collections::BTreeMap<String, (u32, Instant)>,
}

impl RetryBackoff {
    const FIRST: Duration = Duration::from_secs(60);
    const MAX: Duration = Duration::from_secs(3600);

    /// The wait after `failures` consecutive failures.
    pub fn delay(failures: u32) -> Duration {
        let doubled = Self::FIRST.saturating_mul(1_u32.checked_shl(failures.saturating_sub(1)).unwrap_or(u32::MAX));
        doubled.min(Self::MAX)
    }

    /// Whether `url` must wait before its next attempt.
    pub fn waiting(&self, url: &str, now: Instant) -> bool {
        self.failures.get(url).is_some_and(|(count, at)| now < *at + Self::delay(*count))
    }

    fn failed(&mut self, url: &str, now: Instant) {
        let count = self.failures.get(url).map_or(0, |(count, _)| *count);
        self.failures.insert(url.to_owned(), (count + 1, now));
    }

    fn succeeded(&mut self, url: &str) {
        self.failures.remove(url);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_directories_are_the_md5_of_the_url() {
        assert_eq!(url_hash(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(url_hash("abc"), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        assert_eq!(RetryBackoff::delay(1), Duration::from_secs(60));
        assert_eq!(RetryBackoff::delay(2), Duration::from_secs(120));
        assert_eq!(RetryBackoff::delay(4), Duration::from_secs(480));
        assert_eq!(RetryBackoff::delay(40), Duration::from_secs(3600));
        let mut backoff = RetryBackoff::default();
        let start = Instant::now();
        backoff.failed("u", start);
        assert!(backoff.waiting("u", start + Duration::from_secs(59)));
        assert!(!backoff.waiting("u", start + Duration::from_secs(60)));
        backoff.failed("u", start);
        assert!(backoff.waiting("u", start + Duration::from_secs(119)));
        backoff.succeeded("u");
        assert!(!backoff.waiting("u", start));
    }
}
