//! The daemon's state file, `instance_root/sv.state.json`: the groups, their
//! programs, whether each is wanted, and the pid and kernel start time of
//! each live process. A new daemon reads it to re-adopt the services the
//! previous one started, instead of killing or duplicating them.
//!
//! Format: one JSON document (`PersistedState`, `version` 1). Written to a
//! temporary file in the same directory, fsynced, then renamed over the old
//! one, so a crash leaves the old or the new state, never half of one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::program::ProgramSpec;
use super::SupervisorError;

/// Version written and understood.
pub const STATE_VERSION: u32 = 1;

/// The whole persisted state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PersistedState {
    /// Format version, `STATE_VERSION`.
    pub version: u32,
    /// The groups (one per partition), sorted by partition.
    pub groups: Vec<PersistedGroup>,
    /// Programs removed from their group but whose process was still being
    /// stopped; a new daemon finishes stopping them.
    pub retiring: Vec<PersistedRetiring>,
}

/// One partition's group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedGroup {
    /// The partition.
    pub partition: String,
    /// Its directory.
    pub directory: PathBuf,
    /// Its programs.
    pub programs: Vec<PersistedProgram>,
}

/// A program being stopped after its removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedRetiring {
    /// The partition it belonged to.
    pub partition: String,
    /// The partition's directory when it was removed.
    pub directory: PathBuf,
    /// The program and its process.
    pub program: PersistedProgram,
}

/// One program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedProgram {
    /// Name, command and kind.
    pub spec: ProgramSpec,
    /// Whether it should be running (started and not stopped since).
    pub wanted: bool,
    /// Its process, if one was alive.
    pub process: Option<PersistedProcess>,
}

/// A live process, identified safely against pid reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedProcess {
    /// The pid (also its process group and session).
    pub pid: u32,
    /// Field 22 of `/proc/PID/stat`, in clock ticks since boot.
    pub start_time_ticks: u64,
    /// Wall-clock start, for the uptime shown after re-adoption.
    pub started_at_unix_ms: u64,
}

/// Path of the state file of `instance_root`.
pub fn state_path(instance_root: &Path) -> PathBuf {
    instance_root.join(super::STATE_FILE)
}

/// Decode a state file's text.
///
/// # Errors
///
/// Not JSON of the expected shape, or another version.
pub fn decode(path: &Path, text: &str) -> Result<PersistedState, SupervisorError> {
    let state: PersistedState =
        serde_json::from_str(text).map_err(|error| SupervisorError::StateFile {
            path: path.to_owned(),
            message: error.to_string(),
        })?;
    if state.version != STATE_VERSION {
        return Err(SupervisorError::StateFile {
            path: path.to_owned(),
            message: format!("version {} (expected {STATE_VERSION})", state.version),
        });
    }
    Ok(state)
}

/// Encode a state for the file.
pub fn encode(state: &PersistedState) -> String {
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_string_pretty(state).unwrap_or_default()
}

/// Read the state file; a missing one is the empty state.
///
/// # Errors
///
/// Unreadable or undecodable file.
pub fn load(instance_root: &Path) -> Result<PersistedState, SupervisorError> {
    let path = state_path(instance_root);
    match fs::read_to_string(&path) {
        Ok(text) => decode(&path, &text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(PersistedState {
            version: STATE_VERSION,
            ..PersistedState::default()
        }),
        Err(error) => Err(SupervisorError::io(path, error)),
    }
}

/// Write `text` (from `encode`) as the state file, atomically.
///
/// # Errors
///
/// The temporary file cannot be written or renamed.
pub fn save(instance_root: &Path, text: &str) -> Result<(), SupervisorError> {
    let path = state_path(instance_root);
    let temporary = instance_root.join(format!("{}.tmp", super::STATE_FILE));
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    };
    write().map_err(|error| SupervisorError::io(&temporary, error))?;
    fs::rename(&temporary, &path).map_err(|error| SupervisorError::io(&path, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PersistedState {
        PersistedState {
            version: STATE_VERSION,
            groups: vec![PersistedGroup {
                partition: "slappart0".into(),
                directory: "/srv/slapgrid/slappart0".into(),
                programs: vec![PersistedProgram {
                    spec: ProgramSpec {
                        name: "a-on-watch".into(),
                        command: "/srv/slapgrid/slappart0/etc/service/a".into(),
                        on_watch: true,
                    },
                    wanted: true,
                    process: Some(PersistedProcess {
                        pid: 42,
                        start_time_ticks: 1234,
                        started_at_unix_ms: 5,
                    }),
                }],
            }],
            retiring: vec![],
        }
    }

    #[test]
    fn state_round_trips_through_text_and_file() {
        let state = sample();
        let path = Path::new("/x/sv.state.json");
        assert_eq!(decode(path, &encode(&state)).expect("decodes"), state);
        let root = tempfile::tempdir().expect("temp dir");
        assert_eq!(load(root.path()).expect("empty").groups, vec![]);
        save(root.path(), &encode(&state)).expect("saves");
        assert_eq!(load(root.path()).expect("loads"), state);
    }

    #[test]
    fn bad_state_names_the_file() {
        let path = Path::new("/x/sv.state.json");
        let error = decode(path, "{").expect_err("not json");
        assert!(
            error
                .to_string()
                .starts_with("state file /x/sv.state.json: "),
            "{error}"
        );
        let other = encode(&PersistedState {
            version: 9,
            ..sample()
        });
        assert!(decode(path, &other)
            .expect_err("version")
            .to_string()
            .contains("version 9"));
    }
}
