//! The lifecycle's files: `.installed.cfg` replaced atomically (temp file,
//! fsync, rename, fsync of the directory), the one-entry journal of the
//! operation in flight (see the crash-safety notes of `lifecycle`), and the
//! deletion of recorded paths (`_uninstall`: a directory removed with its
//! tree, a file or symbolic link unlinked, a missing path skipped).

use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use super::record::{parse_sections, render_section, split_paths, InstalledRecord};
use super::{Action, LifecycleError};
use crate::md5::md5_hex;
use crate::recipe::Options;

/// The digest standing for "no record file".
const ABSENT: &str = "absent";

/// `.installed.cfg` on disk, and the bytes last read or written.
#[derive(Debug)]
pub(crate) struct RecordFile {
    path: Option<PathBuf>,
    on_disk: Option<Vec<u8>>,
}

impl RecordFile {
    /// Reads the record at `path` (`None`: the profile keeps none, as with
    /// `installed =`); a missing file is an empty record.
    pub(crate) fn open(path: Option<PathBuf>) -> Result<(RecordFile, InstalledRecord), LifecycleError> {
        let Some(path) = path else {
            return Ok((RecordFile { path: None, on_disk: None }, InstalledRecord::empty()));
        };
        let on_disk = match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(LifecycleError::io(path, error)),
        };
        let record = match &on_disk {
            None => InstalledRecord::empty(),
            Some(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                InstalledRecord::parse(&text, &path.to_string_lossy())
                    .map_err(|error| LifecycleError::Record { path: path.clone(), message: error.to_string() })?
            }
        };
        Ok((RecordFile { path: Some(path), on_disk }, record))
    }

    /// The record file's path, if there is one.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The journal's path, beside the record.
    pub(crate) fn journal_path(&self) -> Option<PathBuf> {
        self.path.as_ref().map(|path| sibling(path, ".journal"))
    }

    /// The MD5 of the record bytes on disk, or `absent`.
    pub(crate) fn digest(&self) -> String {
        self.on_disk.as_ref().map_or_else(|| ABSENT.to_owned(), |bytes| md5_hex(bytes))
    }

    /// Puts `record` on disk if it differs from what is there; removes the
    /// file when no part and no develop egg remain.
    pub(crate) fn save(&mut self, record: &InstalledRecord) -> Result<(), LifecycleError> {
        let Some(path) = &self.path else { return Ok(()) };
        if record.is_vacant() {
            if self.on_disk.is_some() {
                remove_durably(path)?;
                self.on_disk = None;
            }
            return Ok(());
        }
        let bytes = record.render().into_bytes();
        if self.on_disk.as_ref() != Some(&bytes) {
            write_atomically(path, &bytes)?;
            self.on_disk = Some(bytes);
        }
        Ok(())
    }
}

/// The operation in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JournalEntry {
    pub(crate) action: Action,
    pub(crate) part: String,
    /// Paths the operation may leave behind, as recorded (relative ones
    /// are taken from the buildout directory).
    pub(crate) paths: Vec<String>,
    /// [`RecordFile::digest`] when the operation began.
    pub(crate) record_digest: String,
}

/// The journal file; `None` path when the profile keeps no record.
#[derive(Debug)]
pub(crate) struct Journal {
    path: Option<PathBuf>,
    entry: RefCell<Option<JournalEntry>>,
    /// The first failure to extend the journal from a `created` callback,
    /// reported when the operation ends.
    failure: RefCell<Option<LifecycleError>>,
}

impl Journal {
    pub(crate) fn new(path: Option<PathBuf>) -> Journal {
        Journal { path, entry: RefCell::new(None), failure: RefCell::new(None) }
    }

    /// The entry a killed run left, if any.
    pub(crate) fn leftover(&self) -> Result<Option<JournalEntry>, LifecycleError> {
        let Some(path) = &self.path else { return Ok(None) };
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(LifecycleError::io(path, error)),
        };
        let bad = |message: String| LifecycleError::Record { path: path.clone(), message };
        let sections = parse_sections(&text, &path.to_string_lossy()).map_err(|error| bad(error.to_string()))?;
        let section = sections.get("journal").ok_or_else(|| bad("no [journal] section".to_owned()))?;
        let field = |name: &str| section.get(name).cloned().ok_or_else(|| bad(format!("no {name} in [journal]")));
        let action_word = field("action")?;
        let action = Action::parse(&action_word).ok_or_else(|| bad(format!("unknown action {action_word:?}")))?;
        Ok(Some(JournalEntry { action, part: field("part")?, paths: split_paths(&field("paths")?), record_digest: field("record")? }))
    }

    /// Puts `entry` on disk as the operation in flight.
    pub(crate) fn begin(&self, entry: JournalEntry) -> Result<(), LifecycleError> {
        self.write(&entry)?;
        *self.entry.borrow_mut() = Some(entry);
        Ok(())
    }

    /// Adds a path to the operation in flight (a failure is kept for
    /// [`Journal::end`]: a `created` callback cannot return it).
    pub(crate) fn add_path(&self, path: &Path) {
        let mut entry = self.entry.borrow_mut();
        let Some(entry) = entry.as_mut() else { return };
        let path = path.to_string_lossy().into_owned();
        if entry.paths.contains(&path) {
            return;
        }
        entry.paths.push(path);
        if let Err(error) = self.write(entry) {
            self.failure.borrow_mut().get_or_insert(error);
        }
    }

    /// The operation is over and the record says how: removes the journal.
    pub(crate) fn end(&self) -> Result<(), LifecycleError> {
        *self.entry.borrow_mut() = None;
        if let Some(error) = self.failure.borrow_mut().take() {
            return Err(error);
        }
        self.remove()
    }

    /// Removes the journal file if it exists.
    pub(crate) fn remove(&self) -> Result<(), LifecycleError> {
        match &self.path {
            Some(path) if path.exists() => remove_durably(path),
            _ => Ok(()),
        }
    }

    fn write(&self, entry: &JournalEntry) -> Result<(), LifecycleError> {
        let Some(path) = &self.path else { return Ok(()) };
        let mut options = Options::new();
        options.insert("action".to_owned(), entry.action.as_str().to_owned());
        options.insert("part".to_owned(), entry.part.clone());
        options.insert("paths".to_owned(), entry.paths.join("\n"));
        options.insert("record".to_owned(), entry.record_digest.clone());
        let mut text = String::new();
        render_section(&mut text, "journal", &options);
        write_atomically(path, text.as_bytes())
    }
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// Replaces `path` by `bytes` so that a crash leaves the old or the new
/// content, never a mix: temp file, fsync, rename, fsync of the directory.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), LifecycleError> {
    let temporary = sibling(path, ".tmp");
    let mut file = File::create(&temporary).map_err(|error| LifecycleError::io(&temporary, error))?;
    file.write_all(bytes).map_err(|error| LifecycleError::io(&temporary, error))?;
    file.sync_all().map_err(|error| LifecycleError::io(&temporary, error))?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(|error| LifecycleError::io(path, error))?;
    sync_parent(path)
}

/// Unlinks `path` and makes the removal durable.
fn remove_durably(path: &Path) -> Result<(), LifecycleError> {
    match std::fs::remove_file(path) {
        Ok(()) => sync_parent(path),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(LifecycleError::io(path, error)),
    }
}

fn sync_parent(path: &Path) -> Result<(), LifecycleError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let directory = File::open(parent).map_err(|error| LifecycleError::io(parent, error))?;
    directory.sync_all().map_err(|error| LifecycleError::io(parent, error))
}

/// A recorded path as a filesystem path: relative ones joined to the
/// buildout directory.
pub(crate) fn full_path(directory: &Path, recorded: &str) -> PathBuf {
    directory.join(recorded)
}

/// `path` without `.` and with `..` folded, lexically.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Deletes recorded paths as buildout's `_uninstall` does. Returns the
/// paths refused because they are the buildout directory or one of its
/// ancestors.
pub(crate) fn delete_paths(directory: &Path, recorded: &[String]) -> Result<Vec<PathBuf>, LifecycleError> {
    let mut refused = Vec::new();
    let directory_normal = normalise(directory);
    for entry in recorded.iter().filter(|entry| !entry.is_empty()) {
        let path = full_path(directory, entry);
        if directory_normal.starts_with(normalise(&path)) {
            refused.push(path);
            continue;
        }
        let Ok(metadata) = std::fs::symlink_metadata(&path) else { continue };
        let result = if metadata.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        match result {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(LifecycleError::io(path, error)),
        }
    }
    Ok(refused)
}
