//! The Python probe, cached. Conditional sections and `buildout:executable`
//! need facts only the interpreter knows ([`PythonEnv::PROBE_SCRIPT`]), and
//! starting it costs more (40-80 ms) than resolving a whole software
//! release. Its output is kept in `$XDG_CACHE_HOME/slapos-rs/` (default
//! `~/.cache/slapos-rs/`), one file per interpreter, and reused while none
//! of these changed (the key):
//!
//! - the interpreter as found on `PATH` (looked up here as `execvp` would,
//!   without starting a process) and the file its symlinks lead to;
//! - that file's mtime and size, so an upgraded interpreter is re-probed;
//! - the kernel release and host name, which the probe also reports;
//! - the mtime and size of the `sys.executable` the probe reported.
//!
//! Cache file format (JSON, `format` 1): `{"format", "key", "executable",
//! "probe"}` where `probe` is the object the script printed. A file that
//! cannot be read or parsed is ignored and rewritten; a cache that cannot
//! be written leaves the run uncached (logged at debug level). Files are
//! written under a temporary name and renamed, so a reader sees a whole
//! file or none.
//!
//! Not detected: a launcher script that picks another interpreter without
//! changing itself (a pyenv shim after `pyenv global`) while the old one
//! stays installed. Pass `--python` the interpreter itself in that case.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use profile::python::PythonEnv;

/// Bumped when the cache file's shape changes; other formats are misses.
const CACHE_FORMAT: u32 = 1;

/// The interpreter facts of `python` (a name looked up on `PATH`, or a
/// path), from the cache when it is still valid, else from running the
/// probe script.
///
/// # Errors
/// `python` not found, failing, or printing something other than the
/// probe's JSON.
pub(crate) fn probe_python(python: &str) -> anyhow::Result<PythonEnv> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let interpreter = find_interpreter(python, std::env::var_os("PATH"), &cwd)?;
    let cache = cache_directory(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"));
    probe_cached(&interpreter, cache.as_deref())
}

/// Where `python` is: itself when it names a path (relative to `cwd`),
/// else the first executable file of that name in the `PATH` directories
/// (an empty entry is the working directory, as for `execvp`).
fn find_interpreter(python: &str, path_variable: Option<OsString>, cwd: &Path) -> anyhow::Result<PathBuf> {
    if python.contains('/') {
        return Ok(cwd.join(python));
    }
    let directories = path_variable.unwrap_or_default();
    for directory in std::env::split_paths(&directories) {
        let candidate = cwd.join(directory).join(python);
        if is_executable_file(&candidate) {
            return Ok(candidate);
        }
    }
    anyhow::bail!("cannot find {python} on PATH to learn its version (set --python to the interpreter's path)")
}

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

/// `$XDG_CACHE_HOME/slapos-rs` when that is an absolute path (the XDG
/// rule), else `$HOME/.cache/slapos-rs`, else no cache.
fn cache_directory(xdg_cache_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let xdg = xdg_cache_home.map(PathBuf::from).filter(|path| path.is_absolute());
    let base = xdg.or_else(|| home.filter(|home| !home.is_empty()).map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("slapos-rs"))
}

/// A file's identity for the cache: where it is, when it last changed,
/// how big it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct FileStamp {
    path: PathBuf,
    modified_ns: u64,
    size_bytes: u64,
}

impl FileStamp {
    /// The stamp of `path` (symlinks followed), if it can be read.
    fn of(path: &Path) -> Option<FileStamp> {
        let metadata = std::fs::metadata(path).ok()?;
        let since_epoch = metadata.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
        let modified_ns = u64::try_from(since_epoch.as_nanos()).ok()?;
        Some(FileStamp { path: path.to_owned(), modified_ns, size_bytes: metadata.len() })
    }
}

/// What a cached probe is valid for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct ProbeKey {
    /// The interpreter as found, before symlinks (a venv's `bin/python`
    /// differs from the interpreter it links to).
    interpreter: PathBuf,
    /// The file the interpreter's symlinks lead to.
    real: FileStamp,
    /// `platform.release()` and `platform.node()`, which the probe reports.
    kernel_release: String,
    host_name: String,
}

impl ProbeKey {
    /// The key of `interpreter` now; `None` when it cannot be stamped (then
    /// nothing is cached).
    fn of(interpreter: &Path) -> Option<ProbeKey> {
        let real_path = std::fs::canonicalize(interpreter).ok()?;
        let host_fact = |path: &str| std::fs::read_to_string(path).map(|text| text.trim().to_owned()).unwrap_or_default();
        Some(ProbeKey {
            interpreter: interpreter.to_owned(),
            real: FileStamp::of(&real_path)?,
            kernel_release: host_fact("/proc/sys/kernel/osrelease"),
            host_name: host_fact("/proc/sys/kernel/hostname"),
        })
    }

    /// The cache file of this interpreter, named by an FNV-1a hash of its
    /// path (a collision is a miss: the entry holds the whole key).
    fn file_name(&self) -> String {
        let hash = self.interpreter.as_os_str().as_encoded_bytes().iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        format!("python-{hash:016x}.json")
    }
}

/// One cache file.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct CacheEntry {
    format: u32,
    key: ProbeKey,
    /// The stamp of the probe's `sys_executable` when probed.
    executable: Option<FileStamp>,
    /// The object the probe script printed.
    probe: serde_json::Value,
}

/// The probe of `interpreter` through the cache in `cache` (none: always
/// run it).
fn probe_cached(interpreter: &Path, cache: Option<&Path>) -> anyhow::Result<PythonEnv> {
    let slot = cache.zip(ProbeKey::of(interpreter)).map(|(directory, key)| (directory.join(key.file_name()), key));
    if let Some((file, key)) = &slot {
        if let Some(python) = read_cached(file, key) {
            return Ok(python);
        }
    }
    let output = run_probe(interpreter)?;
    let python = PythonEnv::from_probe_json(&output)
        .with_context(|| format!("unexpected answer from {} to the version probe", interpreter.display()))?;
    if let Some((file, key)) = slot {
        if let Err(error) = write_cached(&file, key, &python, &output) {
            tracing::debug!(error = %format!("{error:#}"), "python probe not cached");
        }
    }
    Ok(python)
}

/// Runs [`PythonEnv::PROBE_SCRIPT`] on `interpreter`; its stdout.
fn run_probe(interpreter: &Path) -> anyhow::Result<String> {
    let output = std::process::Command::new(interpreter)
        .arg("-c")
        .arg(PythonEnv::PROBE_SCRIPT)
        .output()
        .with_context(|| format!("cannot run {} to learn its version (set --python)", interpreter.display()))?;
    if !output.status.success() {
        anyhow::bail!(
            "{} failed probing its version: {}",
            interpreter.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The cached facts in `file` if it holds a valid entry for `key`.
fn read_cached(file: &Path, key: &ProbeKey) -> Option<PythonEnv> {
    let bytes = std::fs::read(file).ok()?;
    let entry = match serde_json::from_slice::<CacheEntry>(&bytes) {
        Ok(entry) => entry,
        Err(error) => {
            tracing::debug!(path = %file.display(), error = %error, "python probe cache unreadable, probing again");
            return None;
        }
    };
    if entry.format != CACHE_FORMAT || entry.key != *key {
        return None;
    }
    let python = PythonEnv::from_probe_json(&entry.probe.to_string()).ok()?;
    (entry.executable == FileStamp::of(Path::new(&python.sys_executable))).then_some(python)
}

/// Writes the entry for `key` to `file` through a temporary file renamed
/// over it.
fn write_cached(file: &Path, key: ProbeKey, python: &PythonEnv, output: &str) -> anyhow::Result<()> {
    let entry = CacheEntry {
        format: CACHE_FORMAT,
        key,
        executable: FileStamp::of(Path::new(&python.sys_executable)),
        probe: serde_json::from_str(output).context("the probe output is not JSON")?,
    };
    let text = serde_json::to_vec_pretty(&entry).context("cannot encode the probe cache entry")?;
    let directory = file.parent().context("the cache file has no directory")?;
    std::fs::create_dir_all(directory).with_context(|| format!("cannot create {}", directory.display()))?;
    let temporary = file.with_extension(format!("tmp.{}", std::process::id()));
    let written = std::fs::write(&temporary, text).and_then(|()| std::fs::rename(&temporary, file));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.with_context(|| format!("cannot write {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_directory_follows_xdg_then_home() {
        let check = |xdg: Option<&str>, home: Option<&str>| cache_directory(xdg.map(OsString::from), home.map(OsString::from));
        assert_eq!(check(Some("/x/cache"), Some("/h")), Some(PathBuf::from("/x/cache/slapos-rs")));
        assert_eq!(check(Some("relative"), Some("/h")), Some(PathBuf::from("/h/.cache/slapos-rs")), "XDG wants an absolute path");
        assert_eq!(check(None, Some("/h")), Some(PathBuf::from("/h/.cache/slapos-rs")));
        assert_eq!(check(None, Some("")), None);
        assert_eq!(check(None, None), None);
    }

    #[test]
    fn a_python_path_is_taken_as_given_relative_to_cwd() {
        let cwd = Path::new("/work");
        assert_eq!(find_interpreter("bin/python", None, cwd).expect("path"), PathBuf::from("/work/bin/python"));
        assert_eq!(find_interpreter("/usr/bin/python3", None, cwd).expect("path"), PathBuf::from("/usr/bin/python3"));
    }

    #[test]
    fn path_lookup_skips_what_is_not_an_executable_file() {
        let found = find_interpreter("sh", Some(OsString::from("/nonexistent:/bin")), Path::new("/"));
        assert_eq!(found.expect("sh is on /bin"), PathBuf::from("/bin/sh"));
        let error = find_interpreter("no-such-python-here", Some(OsString::from("/bin")), Path::new("/")).expect_err("missing");
        assert!(error.to_string().contains("cannot find no-such-python-here on PATH"), "{error}");
    }

    #[test]
    fn cache_file_name_depends_on_the_interpreter_path_only() {
        let key = |path: &str| ProbeKey {
            interpreter: PathBuf::from(path),
            real: FileStamp { path: PathBuf::from("/usr/bin/python3.11"), modified_ns: 1, size_bytes: 2 },
            kernel_release: String::new(),
            host_name: String::new(),
        };
        assert_eq!(key("/usr/bin/python3").file_name(), key("/usr/bin/python3").file_name());
        assert_ne!(key("/usr/bin/python3").file_name(), key("/venv/bin/python").file_name());
        assert!(key("/usr/bin/python3").file_name().starts_with("python-"));
    }
}
