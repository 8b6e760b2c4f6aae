//! The watchdog of spec §8.4 as an in-process callback (spec §10): when an
//! `-on-watch` service dies unexpectedly the supervisor bangs the
//! partition so the master bumps its timestamp and the next instance run
//! reprocesses it. This file holds the callback trait and the pure dedup
//! rule; reading and writing the timestamp files is the daemon's job.

use std::error::Error;

/// Name of the file holding the partition's deployment timestamp.
pub const TIMESTAMP_FILE: &str = ".timestamp";
/// Name of the file holding the timestamp at the last bang.
pub const LATEST_BANG_FILE: &str = ".slapos_latest_bang_timestamp";

/// One bang to send to the master for a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bang {
    /// The partition (`slappart0`).
    pub partition: String,
    /// The process name inside the partition (`x-on-watch`).
    pub process: String,
    /// The message the real watchdog sends.
    pub message: String,
}

impl Bang {
    /// The bang for `process` of `partition`, with the real message.
    pub fn new(partition: &str, process: &str) -> Self {
        Bang {
            partition: partition.to_owned(),
            process: process.to_owned(),
            message: format!("{process} process in partition {partition} encountered a problem"),
        }
    }
}

/// Receiver of bangs, given to the daemon. Called from a blocking thread,
/// one call at a time, so an implementation may do a blocking HTTP call.
/// On success the daemon records the bang (dedup file); on error it does
/// not, so the next failure tries again.
pub trait Watchdog: Send + Sync {
    /// Report the failure to the master.
    ///
    /// # Errors
    ///
    /// Whatever stopped the report from reaching the master.
    fn bang(&self, bang: &Bang) -> Result<(), Box<dyn Error + Send + Sync>>;
}

/// The dedup rule: given the contents of `.slapos_latest_bang_timestamp`
/// and `.timestamp` (None when absent), whether to bang. No bang recorded:
/// bang. Recorded but no deployment timestamp, or deployment not newer
/// than the last bang: skip. Timestamps compare as floats (the Python
/// watchdog's `int()` failed on them); unparsable ones compare as text,
/// skipping only when equal.
pub fn should_bang(latest_bang: Option<&str>, timestamp: Option<&str>) -> bool {
    let Some(latest_bang) = latest_bang else {
        return true;
    };
    let Some(timestamp) = timestamp else {
        return false;
    };
    let (latest_bang, timestamp) = (latest_bang.trim(), timestamp.trim());
    match (latest_bang.parse::<f64>(), timestamp.parse::<f64>()) {
        (Ok(latest_bang), Ok(timestamp)) => timestamp > latest_bang,
        _ => timestamp != latest_bang,
    }
}

/// What to write into `.slapos_latest_bang_timestamp` after a bang: the
/// deployment timestamp, or `0` without one.
pub fn recorded_timestamp(timestamp: Option<&str>) -> String {
    timestamp
        .map(|text| text.trim().to_owned())
        .unwrap_or_else(|| "0".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_rule() {
        assert!(should_bang(None, None));
        assert!(should_bang(None, Some("12")));
        assert!(!should_bang(Some("12"), None));
        assert!(!should_bang(Some("12"), Some("12")));
        assert!(!should_bang(Some("13.5"), Some("12.25")));
        assert!(should_bang(Some("12.25"), Some("12.5\n")));
        assert!(should_bang(Some("0"), Some("1700000000.123")));
        assert!(!should_bang(Some("junk"), Some("junk")));
        assert!(should_bang(Some("junk"), Some("12")));
    }

    #[test]
    fn message_and_record_follow_the_python_watchdog() {
        let bang = Bang::new("slappart3", "x-on-watch");
        assert_eq!(
            bang.message,
            "x-on-watch process in partition slappart3 encountered a problem"
        );
        assert_eq!(recorded_timestamp(None), "0");
        assert_eq!(recorded_timestamp(Some("17.5\n")), "17.5");
    }
}
