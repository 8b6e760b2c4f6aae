//! The part lifecycle (spec §8): what `buildout install` does after
//! resolution. [`install`] reads `.installed.cfg`, resolves the profile with
//! the registered recipes, signs each part (§8.3), uninstalls the recorded
//! parts that disappeared or changed (reverse record order: the recipe's
//! uninstall hook, then its recorded paths deleted), then updates the
//! unchanged parts and installs the new or changed ones in install order,
//! recording each as it completes. Failures leave the record as §8.2 says:
//! parts done before the failure and untouched old parts stay, parts
//! uninstalled and not redone are gone, a failed update drops its part and
//! deletes its paths, a failed install deletes what it declared created.
//! The SlapOS fork's rules are followed: one `[buildout]` section, a part
//! that is updated keeps its place, update paths kept as a sorted set,
//! volatile options out of the record and of the comparison (§8.4).
//!
//! Each part's install and update get a [`ParentRun`] (through
//! `InstallContext::parent_run`) with which a recipe installs another
//! profile with the same registry, interpreter and events, in a record of
//! its own (`nested`: switch-softwaretype's buildout in the buildout).
//!
//! # Crash safety
//! A `kill -9` may come at any instruction; the next run must still know
//! what is installed and must never take a half-done part for installed.
//!
//! * The record is only ever replaced atomically: written to
//!   `<record>.tmp`, fsynced, renamed over `.installed.cfg`, then the
//!   directory fsynced. It is written after every part completes (not only
//!   at the end as buildout does) and, for an uninstall, before any file is
//!   deleted.
//! * Next to it, a one-entry **journal** (`<record>.journal`, same
//!   encoding, written the same atomic way) names the one operation in
//!   flight: its action (`install`, `update`, `uninstall`), the part, the
//!   paths it may leave behind, and the MD5 of the record bytes when it
//!   began. It is written before the operation touches anything and
//!   removed after the record says the outcome.
//!     * install: paths = the part's `location` when it lies inside the
//!       buildout or parts directory, plus every path the recipe declares
//!       with `InstallContext::created` (the journal is rewritten on each
//!       declaration). The part is not in the record until `install`
//!       returns and the record holding it is on disk.
//!     * update: paths = the part's recorded paths plus declared ones.
//!     * uninstall: paths = the recorded paths. The recipe's uninstall hook
//!       runs first (killed there, the part is still recorded and simply
//!       uninstalled again); then the journal, then the record without the
//!       part, then the deletions.
//! * At the start of a run, before anything else, a leftover journal is
//!   replayed. For an uninstall, its paths are deleted and the part dropped
//!   from the record (idempotent). For an install or update, if the record
//!   bytes still hash to the journal's MD5 the operation never completed:
//!   its paths are deleted and the part dropped from the record, so it is
//!   installed afresh; if the record changed, the operation had completed
//!   and only the journal is removed.
//!
//! What a killed recipe wrote without declaring it (e.g. a file a shell
//! command made outside `location`) cannot be known and is left in place,
//! as buildout leaves it on an exception. Deletions never touch the
//! buildout directory itself or one of its ancestors.

mod nested;
mod record;
mod run;
mod signature;
mod store;

use std::path::PathBuf;

pub use record::{quote, split_paths, unquote, InstalledRecord, INSTALLED_KEY, SIGNATURE_KEY};
pub use nested::{ParentRun, MAX_NESTED_DEPTH};
pub use run::install;
use run::install_at_depth;
pub use signature::{section_hash, signature};

use crate::recipe::RecipeError;
use crate::ProfileError;

/// What the lifecycle does to a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A new or changed part is installed.
    Install,
    /// An unchanged installed part is updated.
    Update,
    /// A recorded part that disappeared or changed is removed.
    Uninstall,
}

impl Action {
    /// The word used in the journal and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Install => "install",
            Action::Update => "update",
            Action::Uninstall => "uninstall",
        }
    }

    fn parse(word: &str) -> Option<Action> {
        match word {
            "install" => Some(Action::Install),
            "update" => Some(Action::Update),
            "uninstall" => Some(Action::Uninstall),
            _ => None,
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens during a run, in order, for the caller to show
/// (buildout's `Installing a.` lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// A previous run was killed during `action` of `part`; what it left is
    /// being cleaned.
    Recovering {
        /// The part.
        part: &'a str,
        /// What was interrupted.
        action: Action,
    },
    /// A part starts being uninstalled, installed or updated.
    Started {
        /// The part.
        part: &'a str,
        /// What is done to it.
        action: Action,
    },
    /// The action started last on `part` completed.
    Finished {
        /// The part.
        part: &'a str,
        /// What was done.
        action: Action,
    },
    /// Something unexpected that does not stop the run.
    Warning {
        /// The part concerned.
        part: &'a str,
        /// What happened, in words.
        message: String,
    },
}

/// Receives [`Event`]s.
pub trait Events {
    /// Called for each event as it happens.
    fn event(&self, event: &Event<'_>);
}

/// [`Events`] that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl Events for NoEvents {
    fn event(&self, _event: &Event<'_>) {}
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstallReport {
    /// Parts installed (new or changed), in order.
    pub installed: Vec<String>,
    /// Parts updated (unchanged), in order.
    pub updated: Vec<String>,
    /// Parts uninstalled, in order.
    pub uninstalled: Vec<String>,
    /// Parts whose interrupted operation of a killed run was cleaned up.
    pub recovered: Vec<String>,
    /// The record file (`buildout:installed`), if the profile keeps one.
    pub record: Option<PathBuf>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// Resolution failed (nothing was uninstalled or installed), including
    /// a recipe's `init` and an unknown recipe.
    #[error("{}", profile_text(.0))]
    Profile(Box<ProfileError>),
    /// A recipe failed to install, update or uninstall a part.
    #[error("cannot {action} part {part}: {cause}")]
    Recipe {
        /// The part.
        part: String,
        /// What was being done.
        action: Action,
        /// The recipe's failure (in the message, not a separate source).
        cause: Box<RecipeError>,
    },
    /// Reading or writing the record or the journal, or deleting a path,
    /// failed.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        cause: std::io::Error,
    },
    /// The record or the journal cannot be understood.
    #[error("{}: {message}", path.display())]
    Record {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl LifecycleError {
    /// The part the failure concerns, when there is one.
    pub fn part(&self) -> Option<&str> {
        match self {
            LifecycleError::Recipe { part, .. } => Some(part),
            LifecycleError::Profile(error) => match error.as_ref() {
                ProfileError::Recipe { section, .. } => Some(section),
                _ => None,
            },
            _ => None,
        }
    }

    fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> LifecycleError {
        LifecycleError::Io { path: path.into(), cause }
    }
}

impl From<ProfileError> for LifecycleError {
    fn from(error: ProfileError) -> LifecycleError {
        LifecycleError::Profile(Box::new(error))
    }
}

/// A resolution error; a recipe's own failure names its part plainly.
fn profile_text(error: &ProfileError) -> String {
    match error {
        ProfileError::Recipe { section, message } => format!("part {section}: {message}"),
        other => other.to_string(),
    }
}

/// A failed run: the error and what had been done before it.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct InstallFailure {
    /// What completed before the failure.
    pub report: InstallReport,
    /// Why the run stopped.
    pub error: LifecycleError,
}

#[cfg(test)]
mod tests;
