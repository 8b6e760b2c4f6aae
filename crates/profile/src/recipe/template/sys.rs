//! The system access of the template recipes (slapos.recipe.template,
//! its `:jinja2` entry point, collective.recipe.template): reading template
//! sources (local files; URLs through the caller's [`Fetch`]), the process
//! umask, the executable test of a `#!` line, and writing outputs the way
//! each recipe does. The recipes decide what to write; these functions only
//! act, attaching the path to every I/O error.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::recipe::RecipeError;
use crate::Fetch;

/// Where a template comes from, as zc.buildout's `Download` sees a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A local file (plain path or `file:` URL), relative paths taken from
    /// `buildout:directory`.
    Local(PathBuf),
    /// A network URL, fetched through the caller.
    Remote(String),
}

/// Classifies `url` as `urlparse(url, 'file')` does: no scheme or `file:`
/// is local.
pub(crate) fn source_of(url: &str, directory: &Path) -> Source {
    let scheme_end = url.find(':').filter(|&end| {
        end > 1 && url[..end].chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    match scheme_end {
        Some(end) if !url[..end].eq_ignore_ascii_case("file") => Source::Remote(url.to_owned()),
        Some(end) => {
            let rest = &url[end + 1..];
            let path = match rest.strip_prefix("//") {
                Some(after_host) => after_host.find('/').map_or("", |slash| &after_host[slash..]),
                None => rest,
            };
            Source::Local(directory.join(path))
        }
        None => Source::Local(directory.join(url)),
    }
}

/// Reads a template as `Download(...)(url, md5sum)` then `open().read()`
/// do: local files directly (checked against `md5sum`), URLs through
/// `fetch` unless `offline`.
///
/// # Errors
/// zc.buildout's messages: `MD5 checksum mismatch for local resource at
/// '<path>'.`, `MD5 checksum mismatch downloading '<url>'`, `Couldn't
/// download '<url>' in offline mode.`; I/O errors with their path.
pub(crate) fn read_source(
    url: &str,
    md5sum: Option<&str>,
    directory: &Path,
    offline: bool,
    fetch: &dyn Fetch,
) -> Result<Vec<u8>, RecipeError> {
    match source_of(url, directory) {
        Source::Local(path) => {
            let body = read_file(&path)?;
            if md5sum.is_some_and(|sum| !sum.eq_ignore_ascii_case(&crate::md5::md5_hex(&body))) {
                let shown = crate::python::str_repr(&path.to_string_lossy());
                return Err(RecipeError::Failed(format!("MD5 checksum mismatch for local resource at {shown}.")));
            }
            Ok(body)
        }
        Source::Remote(url) => {
            let shown = crate::python::str_repr(&url);
            if offline {
                return Err(RecipeError::Failed(format!("Couldn't download {shown} in offline mode.")));
            }
            let body = fetch
                .fetch(&url)
                .map_err(|reason| RecipeError::Failed(format!("Error downloading extends for URL {url}: {reason}")))?;
            if md5sum.is_some_and(|sum| !sum.eq_ignore_ascii_case(&crate::md5::md5_hex(&body))) {
                return Err(RecipeError::Failed(format!("MD5 checksum mismatch downloading {shown}")));
            }
            Ok(body)
        }
    }
}

/// The whole content of a file.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, RecipeError> {
    std::fs::read(path).map_err(|error| RecipeError::io(path, error))
}

/// Whether a path exists (`os.path.exists`).
pub(crate) fn exists(path: &Path) -> bool {
    path.exists()
}

/// Whether a path is a regular file (`os.path.isfile`).
pub(crate) fn is_file(path: &Path) -> bool {
    path.is_file()
}

/// The permission bits of a file (`stat.S_IMODE(os.stat(path).st_mode)`).
pub(crate) fn mode_of(path: &Path) -> Result<u32, RecipeError> {
    let metadata = std::fs::metadata(path).map_err(|error| RecipeError::io(path, error))?;
    Ok(metadata.permissions().mode() & 0o7777)
}

/// `os.access(path, os.X_OK)`, approximated by any execute bit on an
/// existing path (exact for root, which SlapOS nodes run as).
pub(crate) fn is_executable(path: &str) -> bool {
    std::fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o111 != 0)
}

/// The process umask as slapos.recipe.template measures it: the mode a
/// new file created with 0777 gets. Measured once.
pub(crate) fn umask_mode() -> Result<u32, RecipeError> {
    static MEASURED: OnceLock<u32> = OnceLock::new();
    if let Some(mode) = MEASURED.get() {
        return Ok(*mode);
    }
    let directory = std::env::temp_dir();
    for attempt in 0..100u32 {
        let probe = directory.join(format!("slapos-umask-{}-{attempt}", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).mode(0o777).open(&probe) {
            Ok(file) => {
                let mode = file.metadata().map(|metadata| metadata.permissions().mode() & 0o777);
                // The probe is ours; failing to remove it loses nothing.
                let _ = std::fs::remove_file(&probe);
                let mode = mode.map_err(|error| RecipeError::io(&probe, error))?;
                return Ok(*MEASURED.get_or_init(|| mode));
            }
            Err(error) if error.kind() == ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(RecipeError::io(&probe, error)),
        }
    }
    Err(RecipeError::Failed(format!("cannot measure the umask in {}", directory.display())))
}

/// slapos.recipe.template's write: keeps an identical file (fixing its mode
/// to `fixed_mode` if needed), else unlinks it, creates parent directories
/// when it was missing, and creates the file with `create_mask` (the umask
/// applies) before setting `explicit_mode` if given.
pub(crate) fn write_if_changed(
    output: &Path,
    rendered: &[u8],
    fixed_mode: u32,
    create_mask: u32,
    explicit_mode: Option<u32>,
) -> Result<(), RecipeError> {
    if let Ok(mut file) = File::open(output) {
        let mut current = Vec::new();
        let limit = u64::try_from(rendered.len()).unwrap_or(u64::MAX).saturating_add(1);
        if (&mut file).take(limit).read_to_end(&mut current).is_ok() && current == rendered {
            let mode = mode_of(output)?;
            if mode & 0o7777 != fixed_mode {
                set_mode(output, fixed_mode)?;
            }
            return Ok(());
        }
    }
    match std::fs::remove_file(output) {
        Ok(()) => {}
        Err(error) if error.kind() == ErrorKind::NotFound => {
            if let Some(parent) = output.parent().filter(|parent| !parent.as_os_str().is_empty()) {
                if !parent.exists() {
                    std::fs::create_dir_all(parent).map_err(|error| RecipeError::io(parent, error))?;
                }
            }
        }
        Err(error) => return Err(RecipeError::io(output, error)),
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(create_mask)
        .open(output)
        .map_err(|error| RecipeError::io(output, error))?;
    file.write_all(rendered).map_err(|error| RecipeError::io(output, error))?;
    if let Some(mode) = explicit_mode {
        file.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(|error| RecipeError::io(output, error))?;
    }
    Ok(())
}

/// `os.chmod(path, mode)`.
pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), RecipeError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|error| RecipeError::io(path, error))
}

/// `open(path, 'ab').close()`: creates an empty marker file if missing.
pub(crate) fn touch(path: &Path) -> Result<(), RecipeError> {
    OpenOptions::new().append(true).create(true).open(path).map(drop).map_err(|error| RecipeError::io(path, error))
}

/// `os.mkdir(path)`.
pub(crate) fn make_directory(path: &Path) -> Result<(), RecipeError> {
    std::fs::create_dir(path).map_err(|error| RecipeError::io(path, error))
}

/// Removes a file, ignoring any error (`try: os.remove(...) except OSError: pass`).
pub(crate) fn remove_quietly(path: &Path) {
    // The recipe ignores failures here: the following create reports them.
    let _ = std::fs::remove_file(path);
}

/// Creates or truncates a file and writes `content` (`open(path, 'wb')`).
pub(crate) fn write_file(path: &Path, content: &[u8]) -> Result<(), RecipeError> {
    std::fs::write(path, content).map_err(|error| RecipeError::io(path, error))
}
