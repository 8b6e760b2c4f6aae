//! The promise files of one partition (spec §6.2): the promise folders
//! read, and `.slapgrid/promise/{result,cache,log}` read and written.
//!
//! A result file is replaced atomically (temp file + rename) because the
//! monitor stack reads it at any time. Unreadable caches and results are
//! treated as absent, as SlapOS does: the promise then simply runs again.
//! When the node runs as root, the files are handed to the partition user,
//! whose plugin promises write their own logs in the same folder.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::record::{self, CacheFile, StatusFile};
use super::{PartitionUser, PromiseRunError};

/// Bytes of a promise log read back to find its recent runs; runs are a
/// few lines each, so the tail is plenty.
const LOG_TAIL_BYTES_MAX: u64 = 256 * 1024;

/// The promise state folders of one partition.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    promise_dir: PathBuf,
    result_dir: PathBuf,
    cache_dir: PathBuf,
    log_dir: PathBuf,
    owner: Option<PartitionUser>,
}

impl Store {
    /// Creates the state folders if needed, owned by the partition user.
    pub(crate) fn open(
        partition_dir: &Path,
        owner: Option<PartitionUser>,
    ) -> Result<Store, PromiseRunError> {
        let promise_dir = partition_dir.join(".slapgrid").join("promise");
        let store = Store {
            result_dir: promise_dir.join("result"),
            cache_dir: promise_dir.join("cache"),
            log_dir: promise_dir.join("log"),
            promise_dir,
            owner,
        };
        for dir in [&store.result_dir, &store.cache_dir, &store.log_dir] {
            fs::create_dir_all(dir).map_err(|source| io_error(dir, source))?;
        }
        for dir in [
            &store.promise_dir,
            &store.result_dir,
            &store.cache_dir,
            &store.log_dir,
        ] {
            store.hand_over(dir)?;
        }
        Ok(store)
    }

    /// Where plugin promises write their logs (`log-folder`).
    pub(crate) fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// The cache of a promise, if present, readable and still pointing at
    /// an existing module file.
    pub(crate) fn load_cache(&self, title: &str) -> Option<CacheFile> {
        let path = self.cache_dir.join(title);
        let bytes = fs::read(&path).ok()?;
        let cache: CacheFile = match serde_json::from_slice(&bytes) {
            Ok(cache) => cache,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "ignoring bad promise cache");
                return None;
            }
        };
        Path::new(&cache.module_file).exists().then_some(cache)
    }

    /// Replaces the cache of a promise.
    pub(crate) fn write_cache(
        &self,
        title: &str,
        cache: &CacheFile,
    ) -> Result<(), PromiseRunError> {
        let path = self.cache_dir.join(title);
        let bytes =
            record::to_python_json(cache).map_err(|e| io_error(&path, io::Error::other(e)))?;
        self.replace(&path, &bytes)
    }

    /// The last stored result of a promise, if present and readable.
    pub(crate) fn load_status(&self, title: &str) -> Option<StatusFile> {
        let path = self.status_path(title);
        let bytes = fs::read(&path).ok()?;
        match serde_json::from_slice::<StatusFile>(&bytes) {
            Ok(status)
                if matches!(
                    status.result.kind.as_str(),
                    "Test Result" | "Anomaly Result"
                ) =>
            {
                Some(status)
            }
            Ok(status) => {
                tracing::warn!(path = %path.display(), kind = %status.result.kind, "ignoring promise result of unknown type");
                None
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "ignoring bad promise result");
                None
            }
        }
    }

    /// Replaces the result of a promise (temp file + rename).
    pub(crate) fn write_status(&self, status: &StatusFile) -> Result<(), PromiseRunError> {
        let path = self.status_path(&status.title);
        let bytes =
            record::to_python_json(status).map_err(|e| io_error(&path, io::Error::other(e)))?;
        self.replace(&path, &bytes)
    }

    /// Appends lines to a promise's log.
    pub(crate) fn append_log(&self, title: &str, text: &str) -> Result<(), PromiseRunError> {
        let path = self.log_path(title);
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| io_error(&path, source))?;
        file.write_all(text.as_bytes())
            .map_err(|source| io_error(&path, source))?;
        drop(file);
        self.hand_over(&path)
    }

    /// The tail of a promise's log, empty if it has none yet.
    pub(crate) fn read_log_tail(&self, title: &str) -> Result<String, PromiseRunError> {
        let path = self.log_path(title);
        let mut file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(String::new()),
            Err(source) => return Err(io_error(&path, source)),
        };
        let length = file
            .metadata()
            .map_err(|source| io_error(&path, source))?
            .len();
        let start = length.saturating_sub(LOG_TAIL_BYTES_MAX);
        file.seek(SeekFrom::Start(start))
            .map_err(|source| io_error(&path, source))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|source| io_error(&path, source))?;
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if start > 0 {
            // The first line is cut; drop it rather than misread it.
            let first_line_end = text.find('\n').map_or(text.len(), |i| i + 1);
            text.drain(..first_line_end);
        }
        Ok(text)
    }

    fn status_path(&self, title: &str) -> PathBuf {
        self.result_dir.join(format!("{title}.status.json"))
    }

    fn log_path(&self, title: &str) -> PathBuf {
        self.log_dir.join(format!("{title}.log"))
    }

    /// Writes `bytes` to a temp file beside `path`, then renames it over.
    fn replace(&self, path: &Path, bytes: &[u8]) -> Result<(), PromiseRunError> {
        let mut temp_name = path.as_os_str().to_owned();
        temp_name.push(".tmp");
        let temp = PathBuf::from(temp_name);
        fs::write(&temp, bytes).map_err(|source| io_error(&temp, source))?;
        self.hand_over(&temp)?;
        fs::rename(&temp, path).map_err(|source| io_error(path, source))
    }

    /// Gives a file or folder to the partition user when running as root.
    fn hand_over(&self, path: &Path) -> Result<(), PromiseRunError> {
        match self.owner {
            Some(owner) => std::os::unix::fs::chown(path, Some(owner.uid), Some(owner.gid))
                .map_err(|source| io_error(path, source)),
            None => Ok(()),
        }
    }
}

/// The plugin promises of a folder: `*.py` files not named `__init__*`,
/// sorted so runs are reproducible; none if the folder is absent.
pub(crate) fn list_plugins(dir: &Path) -> Result<Vec<String>, PromiseRunError> {
    Ok(list_names(dir)?
        .into_iter()
        .filter(|name| name.ends_with(".py") && !name.starts_with("__init__"))
        .collect())
}

/// Every entry of the legacy promise folder, sorted; none if absent.
pub(crate) fn list_legacy(dir: &Path) -> Result<Vec<String>, PromiseRunError> {
    list_names(dir)
}

fn list_names(dir: &Path) -> Result<Vec<String>, PromiseRunError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(io_error(dir, source)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| io_error(dir, source))?;
        match entry.file_name().into_string() {
            Ok(name) => names.push(name),
            Err(name) => {
                tracing::warn!(dir = %dir.display(), name = ?name, "skipping promise with a non UTF-8 name")
            }
        }
    }
    names.sort();
    Ok(names)
}

/// A legacy promise must be a regular executable file (links followed).
pub(crate) fn is_runnable_file(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

fn io_error(path: &Path, source: io::Error) -> PromiseRunError {
    PromiseRunError::Io {
        path: path.to_path_buf(),
        source,
    }
}
