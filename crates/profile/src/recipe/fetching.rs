//! Downloads for the build recipes, as zc.buildout's `Download` does them
//! for slapos.recipe.build and cmmi: `http(s)://` (and any other scheme)
//! through the caller's [`Fetch`](crate::Fetch), streamed to a file;
//! `file://` URLs and plain paths read directly; checksums (`md5sum`, and
//! `sha256sum`/`sha512sum`) computed while writing and checked before the
//! file takes its final name; `alternate-url` tried when the main URL
//! fails (not when its checksum is wrong); `offline` refuses the network.

use std::io::Write;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use crate::md5::hex;
use sha2::{Sha256, Sha512};

use super::{sys, Environment, Options, RecipeError};

/// The expected digests of a download, lowercase hex as written in the
/// profile; absent ones are not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Checksums {
    /// `md5sum`.
    pub(crate) md5: Option<String>,
    /// `sha256sum`.
    pub(crate) sha256: Option<String>,
    /// `sha512sum`.
    pub(crate) sha512: Option<String>,
}

impl Checksums {
    /// The `md5sum`, `sha256sum` and `sha512sum` options (empty = absent).
    pub(crate) fn from_options(options: &Options) -> Checksums {
        let get = |key: &str| options.get(key).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        Checksums { md5: get("md5sum"), sha256: get("sha256sum"), sha512: get("sha512sum") }
    }

    /// Only an md5 (patches' `url#md5`).
    pub(crate) fn md5_only(md5: Option<&str>) -> Checksums {
        Checksums { md5: md5.map(str::to_owned).filter(|value| !value.is_empty()), ..Checksums::default() }
    }

    /// Whether no checksum is given.
    pub(crate) fn is_empty(&self) -> bool {
        self.md5.is_none() && self.sha256.is_none() && self.sha512.is_none()
    }

    /// The first algorithm whose digest differs from the expected one.
    fn mismatch(&self, digests: &Digests) -> Option<&'static str> {
        let differs = |expected: &Option<String>, actual: &Option<String>| match (expected, actual) {
            (Some(expected), Some(actual)) => expected != actual,
            _ => false,
        };
        if differs(&self.md5, &digests.md5) {
            Some("MD5")
        } else if differs(&self.sha256, &digests.sha256) {
            Some("SHA256")
        } else if differs(&self.sha512, &digests.sha512) {
            Some("SHA512")
        } else {
            None
        }
    }
}

/// Hex digests of what went through a [`HashingWriter`].
#[derive(Debug, Default)]
struct Digests {
    md5: Option<String>,
    sha256: Option<String>,
    sha512: Option<String>,
}

/// Writes through to a file while computing the digests `Checksums` asks
/// for.
struct HashingWriter<W> {
    inner: W,
    md5: Option<Md5>,
    sha256: Option<Sha256>,
    sha512: Option<Sha512>,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W, checksums: &Checksums) -> HashingWriter<W> {
        HashingWriter {
            inner,
            md5: checksums.md5.as_ref().map(|_| Md5::new()),
            sha256: checksums.sha256.as_ref().map(|_| Sha256::new()),
            sha512: checksums.sha512.as_ref().map(|_| Sha512::new()),
        }
    }

    fn finish(self) -> (W, Digests) {
        let digests = Digests {
            md5: self.md5.map(|hasher| hex(&hasher.finalize())),
            sha256: self.sha256.map(|hasher| hex(&hasher.finalize())),
            sha512: self.sha512.map(|hasher| hex(&hasher.finalize())),
        };
        (self.inner, digests)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buffer)?;
        let done = &buffer[..written];
        if let Some(hasher) = &mut self.md5 {
            hasher.update(done);
        }
        if let Some(hasher) = &mut self.sha256 {
            hasher.update(done);
        }
        if let Some(hasher) = &mut self.sha512 {
            hasher.update(done);
        }
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}


/// What to download.
#[derive(Debug, Clone)]
pub(crate) struct Source<'a> {
    /// `url`: a URL or a path (relative to `buildout:directory`).
    pub(crate) url: &'a str,
    /// `alternate-url`, tried when `url` cannot be fetched.
    pub(crate) alternate_url: Option<&'a str>,
    /// Expected digests.
    pub(crate) checksums: &'a Checksums,
    /// Refuse network URLs (`offline`, or `buildout:offline`).
    pub(crate) offline: bool,
}

/// Where a URL is read from.
#[derive(Debug, PartialEq, Eq)]
enum Origin {
    /// A local file: a plain path (`local` true) or a `file://` URL.
    File { path: PathBuf, plain: bool },
    /// Through the caller's fetcher.
    Network,
}

fn origin(url: &str, directory: &Path) -> Origin {
    if let Some(path) = url.strip_prefix("file://") {
        return Origin::File { path: PathBuf::from(path), plain: false };
    }
    let has_scheme = url.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if has_scheme {
        Origin::Network
    } else {
        Origin::File { path: directory.join(url), plain: true }
    }
}

/// Downloads `source` to `destination` (a file path whose parent exists),
/// checking its checksums; on any failure nothing is left at
/// `destination`. `directory` is `buildout:directory`, for relative paths.
///
/// # Errors
/// A transfer failure (after `alternate-url`), offline mode for a network
/// URL, a checksum mismatch (`MD5 checksum mismatch downloading '<url>'`,
/// or `… for local resource at '<path>'.` for plain paths), a write error.
pub(crate) fn download(
    source: &Source<'_>,
    destination: &Path,
    directory: &Path,
    part: &str,
    environment: &Environment<'_>,
) -> Result<(), RecipeError> {
    let mut temporary = destination.as_os_str().to_owned();
    temporary.push(".download");
    let temporary = PathBuf::from(temporary);
    let result = download_to_temporary(source, &temporary, directory, part, environment)
        .and_then(|()| sys::rename(&temporary, destination));
    if result.is_err() {
        // The error being reported matters more than a failed cleanup.
        let _ = sys::remove_tree(&temporary);
    }
    result
}

fn download_to_temporary(
    source: &Source<'_>,
    temporary: &Path,
    directory: &Path,
    part: &str,
    environment: &Environment<'_>,
) -> Result<(), RecipeError> {
    let first = fetch_once(source.url, source, temporary, directory, part, environment);
    match (first, source.alternate_url) {
        (Err(FetchFailure::Transfer(reason)), Some(alternate)) => {
            environment.progress.step(part, &format!("{} failed ({reason}), trying {alternate}", source.url));
            fetch_once(alternate, source, temporary, directory, part, environment).map_err(FetchFailure::into_error)
        }
        (result, _) => result.map_err(FetchFailure::into_error),
    }
}

/// Why one URL failed: a transfer failure lets `alternate-url` be tried.
enum FetchFailure {
    Transfer(String),
    Other(RecipeError),
}

impl FetchFailure {
    fn into_error(self) -> RecipeError {
        match self {
            FetchFailure::Transfer(reason) => RecipeError::Failed(reason),
            FetchFailure::Other(error) => error,
        }
    }
}

impl From<RecipeError> for FetchFailure {
    fn from(error: RecipeError) -> FetchFailure {
        FetchFailure::Other(error)
    }
}

fn fetch_once(
    url: &str,
    source: &Source<'_>,
    temporary: &Path,
    directory: &Path,
    part: &str,
    environment: &Environment<'_>,
) -> Result<(), FetchFailure> {
    let file = sys::create(temporary)?;
    let mut writer = HashingWriter::new(std::io::BufWriter::new(file), source.checksums);
    let origin = origin(url, directory);
    match &origin {
        Origin::File { path, .. } => {
            sys::copy_file_into(path, &mut writer).map_err(|error| FetchFailure::Transfer(format!("{}: {error}", path.display())))?;
        }
        Origin::Network if source.offline => {
            return Err(FetchFailure::Other(RecipeError::Failed(format!(
                "Couldn't download {} in offline mode.",
                crate::pytext::repr(url)
            ))));
        }
        Origin::Network => {
            environment.progress.step(part, &format!("downloading {url}"));
            let mut report = |done: u64, total: Option<u64>| environment.progress.bytes(part, done, total);
            environment
                .fetch
                .fetch_to(url, &mut writer, &mut report)
                .map_err(|reason| FetchFailure::Transfer(format!("Error downloading {url}: {reason}")))?;
        }
    }
    let (buffered, digests) = writer.finish();
    sys::finish_file(buffered, temporary)?;
    if let Some(algorithm) = source.checksums.mismatch(&digests) {
        let message = match origin {
            Origin::File { path, plain: true } => {
                format!("{algorithm} checksum mismatch for local resource at {}.", crate::pytext::repr(&path.to_string_lossy()))
            }
            _ => format!("{algorithm} checksum mismatch downloading {}", crate::pytext::repr(url)),
        };
        return Err(FetchFailure::Other(RecipeError::Failed(message)));
    }
    Ok(())
}

/// `url#md5` (patches): the URL and the md5 after the first `#`.
pub(crate) fn split_md5_suffix(entry: &str) -> (&str, Option<&str>) {
    match entry.split_once('#') {
        Some((url, md5)) => (url, Some(md5)),
        None => (entry, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let directory = Path::new("/b");
        assert_eq!(origin("http://x/y", directory), Origin::Network);
        assert_eq!(origin("file:///tmp/a", directory), Origin::File { path: PathBuf::from("/tmp/a"), plain: false });
        assert_eq!(origin("rel/a.tgz", directory), Origin::File { path: PathBuf::from("/b/rel/a.tgz"), plain: true });
        assert_eq!(origin("/abs/a.tgz", directory), Origin::File { path: PathBuf::from("/abs/a.tgz"), plain: true });
    }

    #[test]
    fn md5_suffix() {
        assert_eq!(split_md5_suffix("http://x/p.patch#abc"), ("http://x/p.patch", Some("abc")));
        assert_eq!(split_md5_suffix("p.patch"), ("p.patch", None));
    }
}
