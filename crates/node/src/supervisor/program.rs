//! The program model of spec §8.2, pure: which programs a partition has
//! (from the entry names of `etc/run/` and `etc/service/`), their names,
//! commands and log files, and how a user names processes (`P:name`,
//! `P:*`, `all`). Listing the directories is the daemon's job.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Suffix of the programs built from `etc/service/`: these are the ones
/// whose failures are reported to the master (the watchdog's bang).
pub const ON_WATCH_SUFFIX: &str = "-on-watch";

/// One program of a partition: what to run and how it is named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramSpec {
    /// Process name inside the partition (`a`, `b-on-watch`).
    pub name: String,
    /// The executable, `D/etc/run/a` or `D/etc/service/b`.
    pub command: PathBuf,
    /// Whether it comes from `etc/service/`, so its failures bang.
    pub on_watch: bool,
}

/// The programs of partition directory `directory`, given the entry names
/// of its `etc/run/` and `etc/service/` (any order): run entries first,
/// each list sorted, as supervisord's group file lists them.
pub fn programs(
    directory: &Path,
    run_entries: &[String],
    service_entries: &[String],
) -> Vec<ProgramSpec> {
    let mut run: Vec<&String> = run_entries.iter().collect();
    run.sort();
    let mut service: Vec<&String> = service_entries.iter().collect();
    service.sort();
    let run_programs = run.into_iter().map(|entry| ProgramSpec {
        name: entry.clone(),
        command: directory.join("etc").join("run").join(entry),
        on_watch: false,
    });
    let service_programs = service.into_iter().map(|entry| ProgramSpec {
        name: format!("{entry}{ON_WATCH_SUFFIX}"),
        command: directory.join("etc").join("service").join(entry),
        on_watch: true,
    });
    run_programs.chain(service_programs).collect()
}

/// Full process name as supervisorctl prints it: `P:name`.
pub fn full_name(partition: &str, name: &str) -> String {
    format!("{partition}:{name}")
}

/// Where the output of process `P:name` goes: `D/.P_name.log`, the path
/// supervisord used, so operators find logs where they always were.
pub fn log_path(directory: &Path, partition: &str, name: &str) -> PathBuf {
    directory.join(format!(".{partition}_{name}.log"))
}

/// What a verb acts on, as supervisorctl names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `all`: every process of every partition.
    All,
    /// `P:*` (or `P:`): every process of partition P.
    Group(String),
    /// `P:name`: one process.
    Process {
        /// The partition.
        partition: String,
        /// The process name inside it.
        name: String,
    },
}

/// A target that is not `all`, `P:*` or `P:name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad process name {0:?}: expected `partition:name`, `partition:*` or `all`")]
pub struct BadTarget(pub String);

impl FromStr for Target {
    type Err = BadTarget;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "all" {
            return Ok(Target::All);
        }
        let Some((partition, name)) = text.split_once(':') else {
            return Err(BadTarget(text.to_owned()));
        };
        if partition.is_empty() || name.contains(':') {
            return Err(BadTarget(text.to_owned()));
        }
        if name.is_empty() || name == "*" {
            return Ok(Target::Group(partition.to_owned()));
        }
        Ok(Target::Process {
            partition: partition.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::All => f.write_str("all"),
            Target::Group(partition) => write!(f, "{partition}:*"),
            Target::Process { partition, name } => write!(f, "{partition}:{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_come_sorted_run_first_with_on_watch_suffix() {
        let dir = Path::new("/srv/slapgrid/slappart0");
        let run = vec!["b".to_owned(), "a".to_owned()];
        let service = vec!["zz".to_owned(), "m".to_owned()];
        let specs = programs(dir, &run, &service);
        let names: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "m-on-watch", "zz-on-watch"]);
        assert_eq!(specs[0].command, dir.join("etc/run/a"));
        assert_eq!(specs[2].command, dir.join("etc/service/m"));
        assert!(!specs[0].on_watch && specs[2].on_watch);
        assert!(programs(dir, &[], &[]).is_empty());
    }

    #[test]
    fn names_and_logs_follow_supervisord() {
        let dir = Path::new("/srv/slapgrid/slappart0");
        assert_eq!(full_name("slappart0", "a-on-watch"), "slappart0:a-on-watch");
        assert_eq!(
            log_path(dir, "slappart0", "a"),
            dir.join(".slappart0_a.log")
        );
    }

    #[test]
    fn targets_parse_and_print() {
        for (text, expected) in [
            ("all", Target::All),
            ("P:*", Target::Group("P".into())),
            ("P:", Target::Group("P".into())),
            (
                "P:a-on-watch",
                Target::Process {
                    partition: "P".into(),
                    name: "a-on-watch".into(),
                },
            ),
        ] {
            assert_eq!(text.parse::<Target>(), Ok(expected));
        }
        for bad in ["", "P", ":a", "P:a:b"] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
        assert_eq!(Target::Group("P".into()).to_string(), "P:*");
    }
}
