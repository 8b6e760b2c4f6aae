//! The system access of the native build recipes (download,
//! download-unpacked, cmmi): files, directories, shell commands and the
//! process environment, each behind a small function that attaches the path
//! to its error. The recipes decide; these functions only act. Archive
//! extraction lives in `unpack`.

mod unpack;

pub(crate) use unpack::{unpack_tar, unpack_zip};

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use super::RecipeError;

/// Opens a file for reading.
pub(crate) fn open(path: &Path) -> Result<File, RecipeError> {
    File::open(path).map_err(|error| RecipeError::io(path, error))
}

/// Creates (or truncates) a file for writing.
pub(crate) fn create(path: &Path) -> Result<File, RecipeError> {
    File::create(path).map_err(|error| RecipeError::io(path, error))
}

/// The first `length_max` bytes of a file (fewer if it is shorter).
pub(crate) fn read_head(path: &Path, length_max: usize) -> Result<Vec<u8>, RecipeError> {
    use std::io::Read;
    let mut head = Vec::with_capacity(length_max);
    open(path)?.take(length_max as u64).read_to_end(&mut head).map_err(|error| RecipeError::io(path, error))?;
    Ok(head)
}

/// Copies the file at `path` into `sink`.
pub(crate) fn copy_file_into(path: &Path, sink: &mut dyn Write) -> Result<u64, std::io::Error> {
    std::io::copy(&mut File::open(path)?, sink)
}

/// Flushes a buffered file writer and syncs the file to disk.
pub(crate) fn finish_file(writer: std::io::BufWriter<File>, path: &Path) -> Result<(), RecipeError> {
    let file = writer.into_inner().map_err(|error| RecipeError::io(path, error.into_error()))?;
    file.sync_all().map_err(|error| RecipeError::io(path, error))
}

/// Writes a whole file.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), RecipeError> {
    std::fs::write(path, bytes).map_err(|error| RecipeError::io(path, error))
}

/// Writes a file through `<path>.tmp` and a rename, so that readers never
/// see it half written.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RecipeError> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = create(&temporary)?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|error| RecipeError::io(&temporary, error))?;
    rename(&temporary, path)
}

/// Renames a file or directory.
pub(crate) fn rename(from: &Path, to: &Path) -> Result<(), RecipeError> {
    std::fs::rename(from, to).map_err(|error| RecipeError::io(to, error))
}

/// Whether something (even a dangling symlink) exists at `path`.
pub(crate) fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Whether `path` is a directory (following symlinks, as `os.path.isdir`).
pub(crate) fn is_dir(path: &Path) -> bool {
    path.is_dir()
}

/// Creates a directory and its parents.
pub(crate) fn create_dir_all(path: &Path) -> Result<(), RecipeError> {
    std::fs::create_dir_all(path).map_err(|error| RecipeError::io(path, error))
}

/// Creates one directory; its parent must exist.
pub(crate) fn create_dir(path: &Path) -> Result<(), RecipeError> {
    std::fs::create_dir(path).map_err(|error| RecipeError::io(path, error))
}

/// Removes an empty directory.
pub(crate) fn remove_empty_dir(path: &Path) -> Result<(), RecipeError> {
    std::fs::remove_dir(path).map_err(|error| RecipeError::io(path, error))
}

/// The names in a directory, sorted.
pub(crate) fn list_dir(path: &Path) -> Result<Vec<OsString>, RecipeError> {
    let entries = std::fs::read_dir(path).map_err(|error| RecipeError::io(path, error))?;
    let mut names = Vec::new();
    for entry in entries {
        names.push(entry.map_err(|error| RecipeError::io(path, error))?.file_name());
    }
    names.sort();
    Ok(names)
}

/// Removes a file, a symlink or a whole tree, as zc.buildout's `rmtree`:
/// nothing there is fine, and read-only directories (shared parts) are
/// made writable first.
pub(crate) fn remove_tree(path: &Path) -> Result<(), RecipeError> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(RecipeError::io(path, error)),
    };
    if !metadata.is_dir() {
        return std::fs::remove_file(path).map_err(|error| RecipeError::io(path, error));
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == ErrorKind::PermissionDenied => {
            make_directories_writable(path)?;
            std::fs::remove_dir_all(path).map_err(|error| RecipeError::io(path, error))
        }
        Err(error) => Err(RecipeError::io(path, error)),
    }
}

fn make_directories_writable(path: &Path) -> Result<(), RecipeError> {
    let metadata = std::fs::symlink_metadata(path).map_err(|error| RecipeError::io(path, error))?;
    if !metadata.is_dir() {
        return Ok(());
    }
    let mode = metadata.permissions().mode();
    set_mode(path, mode | 0o700)?;
    for name in list_dir(path)? {
        make_directories_writable(&path.join(name))?;
    }
    Ok(())
}

/// Sets the permission bits of a file or directory.
pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), RecipeError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|error| RecipeError::io(path, error))
}

/// Drops the write bits of everything under `path` (symlinks untouched),
/// as shared parts are left after their build.
pub(crate) fn make_read_only_recursively(path: &Path) -> Result<(), RecipeError> {
    let metadata = std::fs::symlink_metadata(path).map_err(|error| RecipeError::io(path, error))?;
    if metadata.file_type().is_symlink() {
        return Ok(());
    }
    if metadata.is_dir() {
        for name in list_dir(path)? {
            make_read_only_recursively(&path.join(name))?;
        }
    }
    set_mode(path, metadata.permissions().mode() & 0o555)
}

/// Whether new entries can be created in directory `path` (Python's
/// `os.access(path, os.W_OK)`, tried for real since root passes any mode
/// check).
pub(crate) fn is_writable_dir(path: &Path) -> bool {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let probe = path.join(format!(".slapos-write-probe-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => std::fs::remove_file(&probe).is_ok(),
        Err(_) => false,
    }
}

/// The first line of a file, at most `length_max` bytes (Python's
/// `readline(length_max)`).
pub(crate) fn read_first_line(path: &Path, length_max: usize) -> Result<Vec<u8>, RecipeError> {
    let mut head = read_head(path, length_max)?;
    if let Some(end) = head.iter().position(|&byte| byte == b'\n') {
        head.truncate(end + 1);
    }
    Ok(head)
}

/// Whether `path` is a regular file (not following symlinks), with its
/// permission bits.
pub(crate) fn regular_file_mode(path: &Path) -> Option<u32> {
    let metadata = std::fs::symlink_metadata(path).ok()?;
    metadata.file_type().is_file().then(|| metadata.permissions().mode() & 0o7777)
}

/// A variable of this process's environment (the environment builds
/// inherit), for `%(NAME)s` in `environment` values.
pub(crate) fn process_variable(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Runs `sh -c 'set -e;<command>'` in `directory` with this process's
/// environment plus `environment`; the command's standard output goes to
/// our standard error, which carries logs, never results.
pub(crate) fn run_shell(command: &str, directory: &Path, environment: &BTreeMap<String, String>) -> Result<(), RecipeError> {
    let mut child = Command::new("/bin/sh");
    child.arg("-c").arg(format!("set -e;{command}")).current_dir(directory).envs(environment).stdin(Stdio::null());
    child.stdout(Stdio::from(std::io::stderr()));
    let status = child.status().map_err(|error| RecipeError::io("/bin/sh", error))?;
    if status.success() {
        return Ok(());
    }
    let how = match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "a signal".to_owned(),
    };
    Err(RecipeError::Failed(format!("System error: command {} in {} failed with {how}", crate::pytext::repr(command), directory.display())))
}

/// A scratch directory under the system's temporary directory, removed
/// when dropped.
#[derive(Debug)]
pub(crate) struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates a fresh scratch directory.
    pub(crate) fn new(label: &str) -> Result<ScratchDir, RecipeError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let label: String = label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).take(40).collect();
        let name = format!("slapos-{label}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        remove_tree(&path)?;
        create_dir(&path)?;
        Ok(ScratchDir { path })
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Best effort: a leftover in the temporary directory harms nothing.
        let _ = remove_tree(&self.path);
    }
}
