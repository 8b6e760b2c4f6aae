//! Destroying a partition the master asked to destroy (spec §7 step 6):
//! stop its services, tell the master it stopped, honour its retention
//! lock, run its `sbin/destroy`, delete its certificate, empty its
//! directory (which stays, with its owner and mode 0750, for the next
//! instance) and tell the master it may free the slot.
//!
//! Every step before the wipe can refuse: a failure leaves the files where
//! they are, so nothing is lost that the partition's own `sbin/destroy`
//! did not agree to lose, and the next run tries again.

use std::path::Path;
use std::time::SystemTime;

use client::{PartitionAuth, PartitionReport, SlapClient};

use super::sys::{self, ScriptCommand};
use super::ReportOptions;
use crate::config::NodeConfig;
use crate::instance::Services;

/// Days of retention the instance asks for (written by its profile).
pub const RETENTION_DELAY_FILE: &str = ".slapos-retention-lock-delay";
/// The Unix time before which the partition may not be destroyed.
pub const RETENTION_DATE_FILE: &str = ".slapos-retention-lock-date";

/// What happened to a partition whose requested state is `destroyed`.
#[derive(Debug, Clone, PartialEq)]
pub enum Destruction {
    /// Its requested state is not `destroyed`.
    NotRequested,
    /// Emptied and reported; the master's answer (`OK` when it freed the
    /// slot, a sentence saying why not otherwise).
    Destroyed {
        /// The text `destroyedComputerPartition` answered.
        master_answer: String,
    },
    /// Its retention lock holds until this Unix time; nothing removed.
    RetentionLocked {
        /// Unix seconds at which the lock ends.
        until_unix_seconds: f64,
    },
    /// Not attempted: an earlier step of this run failed for it.
    Skipped(String),
    /// A step failed; the message (also sent to the master).
    Failed(String),
}

/// The retention rule's verdict (spec §7 step 6).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Retention {
    /// No lock: destroy now.
    Unlocked,
    /// Locked until this Unix time; `create` says the date file must be
    /// written (first time the lock is met).
    Locked {
        /// Unix seconds at which the lock ends.
        until_unix_seconds: f64,
        /// Write the date file now.
        create: bool,
    },
}

/// The retention rule: an existing lock date holds until passed; without
/// one, a positive delay (in days) sets it to `int(now) + delay * 86400`.
pub fn retention(delay_days: f64, lock_date: Option<f64>, now_unix_seconds: i64) -> Retention {
    let (until, create) = match lock_date {
        Some(date) => (date, false),
        None if delay_days > 0.0 => (now_unix_seconds as f64 + delay_days * 86_400.0, true),
        None => return Retention::Unlocked,
    };
    if (now_unix_seconds as f64) < until {
        Retention::Locked { until_unix_seconds: until, create }
    } else {
        Retention::Unlocked
    }
}

/// Reads the partition's retention files and applies the rule, writing
/// the date file when the lock is first met.
///
/// # Errors
/// A file that exists but cannot be read or does not hold a number: the
/// partition is then not destroyed (guessing could lose its data).
fn check_retention(directory: &Path, now: SystemTime) -> Result<Retention, String> {
    let delay_days = read_number(&directory.join(RETENTION_DELAY_FILE))?.unwrap_or(0.0);
    let date_file = directory.join(RETENTION_DATE_FILE);
    let verdict = retention(delay_days, read_number(&date_file)?, sys::unix_seconds(now));
    if let Retention::Locked { until_unix_seconds, create: true } = verdict {
        std::fs::write(&date_file, format!("{until_unix_seconds:?}"))
            .map_err(|e| format!("cannot write {}: {e}", date_file.display()))?;
    }
    Ok(verdict)
}

/// A float file; `None` when absent.
fn read_number(path: &Path) -> Result<Option<f64>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|number| number.is_finite())
            .map(Some)
            .ok_or_else(|| format!("{} does not hold a number: {:?}", path.display(), text.trim())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    }
}

/// Destroys one partition; failures are logged and reported to the master.
pub(super) async fn destroy<S: Services>(
    config: &NodeConfig,
    client: &SlapClient,
    services: &S,
    auth: &PartitionAuth,
    directory: &Path,
    options: &ReportOptions,
    now: SystemTime,
) -> Destruction {
    let partition = auth.partition_id.as_str();
    if let Err(error) = services.stop(partition).await {
        return failed(client, auth, format!("cannot stop the services of {partition}: {error}")).await;
    }
    if let Err(error) = client.partition_report(auth, PartitionReport::Stopped).await {
        tracing::debug!(partition, %error, "stoppedComputerPartition failed (ignored)");
    }
    match check_retention(directory, now) {
        Err(message) => return failed(client, auth, message).await,
        Ok(Retention::Locked { until_unix_seconds, .. }) => {
            tracing::info!(partition, until_unix_seconds, "Impossible to destroy partition yet because of retention lock.");
            return Destruction::RetentionLocked { until_unix_seconds };
        }
        Ok(Retention::Unlocked) => {}
    }
    if let Err(message) = run_destroy_script(directory, options).await {
        return failed(client, auth, message).await;
    }
    if let Some(repository) = &config.certificate_repository_path {
        for extension in ["crt", "key"] {
            let path = repository.join(format!("{partition}.{extension}"));
            if let Err(error) = std::fs::remove_file(&path) {
                if error.kind() != std::io::ErrorKind::NotFound {
                    return failed(client, auth, format!("cannot remove {}: {error}", path.display())).await;
                }
            }
        }
    }
    if let Err(message) = sys::wipe_contents(directory) {
        return failed(client, auth, message).await;
    }
    match client.destroyed_partition(auth).await {
        Ok(master_answer) => {
            tracing::info!(partition, answer = %master_answer, "partition destroyed");
            Destruction::Destroyed { master_answer }
        }
        Err(error @ (client::ClientError::NotFound { .. } | client::ClientError::Server { .. })) => {
            tracing::warn!(partition, %error, "destroyedComputerPartition refused (ignored)");
            Destruction::Destroyed { master_answer: error.to_string() }
        }
        Err(error) => {
            let message = format!("partition {partition} was emptied but the master was not told: {error}");
            tracing::error!(partition, "{message}");
            Destruction::Failed(message)
        }
    }
}

/// Runs `P/sbin/destroy` when present, as the partition user; it must
/// succeed (the partition's last word on its data).
async fn run_destroy_script(directory: &Path, options: &ReportOptions) -> Result<(), String> {
    let script = directory.join("sbin").join("destroy");
    if std::fs::symlink_metadata(&script).is_err() {
        return Ok(());
    }
    let command = ScriptCommand {
        script: &script,
        args: Vec::new(),
        cwd: directory,
        user: crate::sys::partition_user(directory),
        timeout: options.script_timeout,
    };
    let refused = format!("Failed to destroy Computer Partition in {}.", proto::python_repr::string_repr(&directory.display().to_string()));
    match sys::run_script(command).await {
        Ok(run) if run.success => Ok(()),
        Ok(run) => Err(format!("{refused}\n{}", run.output.trim_end())),
        Err(error) => Err(format!("{refused}\n{error}")),
    }
}

/// Logs a failed destruction and tells the master (errors ignored).
async fn failed(client: &SlapClient, auth: &PartitionAuth, message: String) -> Destruction {
    tracing::error!(partition = %auth.partition_id, "{message}");
    let report = PartitionReport::Error { message: &message, shared_reference: None };
    if let Err(error) = client.partition_report(auth, report).await {
        tracing::warn!(partition = %auth.partition_id, %error, "cannot report the error to the master");
    }
    Destruction::Failed(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_positive_delay_locks_from_the_first_run_until_the_date() {
        let now = 1_000_000;
        assert_eq!(retention(0.0, None, now), Retention::Unlocked);
        assert_eq!(retention(-1.0, None, now), Retention::Unlocked);
        assert_eq!(retention(1.5, None, now), Retention::Locked { until_unix_seconds: 1_129_600.0, create: true });
        assert_eq!(retention(1.5, Some(1_129_600.0), now + 10), Retention::Locked { until_unix_seconds: 1_129_600.0, create: false });
        assert_eq!(retention(1.5, Some(1_129_600.0), 1_129_600), Retention::Unlocked, "the date itself is past the lock");
        assert_eq!(retention(0.0, Some(2_000_000.0), now), Retention::Locked { until_unix_seconds: 2_000_000.0, create: false });
    }

    #[test]
    fn retention_files_are_read_and_the_date_written_once() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        assert_eq!(check_retention(directory.path(), now), Ok(Retention::Unlocked));
        std::fs::write(directory.path().join(RETENTION_DELAY_FILE), "1.0\n").expect("write delay");
        assert_eq!(check_retention(directory.path(), now), Ok(Retention::Locked { until_unix_seconds: 1_086_400.0, create: true }));
        let written = std::fs::read_to_string(directory.path().join(RETENTION_DATE_FILE)).expect("date file");
        assert_eq!(written, "1086400.0");
        assert_eq!(check_retention(directory.path(), now), Ok(Retention::Locked { until_unix_seconds: 1_086_400.0, create: false }));
        std::fs::write(directory.path().join(RETENTION_DELAY_FILE), "soon").expect("write delay");
        let error = check_retention(directory.path(), now).expect_err("bad delay");
        assert!(error.contains(RETENTION_DELAY_FILE) && error.contains("soon"), "{error}");
    }
}
