//! The engine's only contact with the system: profile files read from
//! disk, `extends` URLs fetched through the caller's [`Fetch`] (the engine
//! opens no socket) with the `extends-cache` rules of spec §3.2, each URL
//! fetched at most once per load. Also the working directory, used when the
//! caller does not give one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{DownloadFailure, ProfileError};
use crate::extends::{DownloadPolicy, ProfileSource};
use crate::md5::md5_hex;
use crate::paths::join;

/// Network access for `extends` URLs, supplied by the caller.
pub trait Fetch {
    /// The body of `url`.
    ///
    /// # Errors
    /// Why the transfer failed, in words (it ends up in `Error downloading
    /// extends for URL <url>: <reason>`).
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String>;

    /// Streams the body of `url` into `sink` (recipe downloads, which may
    /// be large), calling `progress(done, total)` as bytes arrive; returns
    /// the number of bytes written. The default fetches the whole body with
    /// [`Fetch::fetch`], then writes it: override it to stream.
    ///
    /// # Errors
    /// Why the transfer or the write failed, in words.
    fn fetch_to(
        &self,
        url: &str,
        sink: &mut dyn std::io::Write,
        progress: &mut dyn FnMut(u64, Option<u64>),
    ) -> Result<u64, String> {
        let body = self.fetch(url)?;
        sink.write_all(&body).map_err(|error| format!("writing the download failed: {error}"))?;
        let size_bytes = body.len() as u64;
        progress(size_bytes, Some(size_bytes));
        Ok(size_bytes)
    }
}

/// A [`Fetch`] for callers without network access: every URL fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFetch;

impl Fetch for NoFetch {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        Err(format!("remote profiles are not supported here (no fetcher given for {url})"))
    }
}

/// The process's working directory, as text.
pub(crate) fn current_dir() -> String {
    std::env::current_dir().map(|dir| dir.to_string_lossy().into_owned()).unwrap_or_else(|_| "/".to_owned())
}

/// Files from the disk, URLs through a [`Fetch`].
pub(crate) struct SystemSource<'a> {
    fetch: &'a dyn Fetch,
    /// Network results by URL: each URL is fetched once per load.
    fetched: HashMap<String, Result<Vec<u8>, String>>,
}

impl<'a> SystemSource<'a> {
    pub(crate) fn new(fetch: &'a dyn Fetch) -> SystemSource<'a> {
        SystemSource { fetch, fetched: HashMap::new() }
    }

    fn network(&mut self, url: &str) -> Result<Vec<u8>, String> {
        let fetch = self.fetch;
        self.fetched.entry(url.to_owned()).or_insert_with(|| fetch.fetch(url)).clone()
    }

    fn cached_download(&mut self, url: &str, cache: &str, policy: &DownloadPolicy) -> Result<Vec<u8>, ProfileError> {
        let cache_dir = std::fs::canonicalize(cache).unwrap_or_else(|_| PathBuf::from(cache));
        if !cache_dir.exists() {
            let failure = DownloadFailure::CacheMissing(cache_dir.to_string_lossy().into_owned());
            return Err(ProfileError::Download { url: url.to_owned(), failure });
        }
        let cached = cache_dir.join(md5_hex(url.as_bytes()));
        if cached.exists() {
            if policy.refresh && !policy.offline {
                if let Ok(body) = self.network(url) {
                    // A failed refresh keeps the cached copy, as buildout does.
                    let _ = std::fs::write(&cached, &body);
                }
            }
            return read_bytes(&cached);
        }
        if policy.offline {
            return Err(ProfileError::Download { url: url.to_owned(), failure: DownloadFailure::Offline });
        }
        let body = self
            .network(url)
            .map_err(|reason| ProfileError::Download { url: url.to_owned(), failure: DownloadFailure::Failed(reason) })?;
        // The copy is an optimisation for the next run; failing to write it
        // does not stop this one.
        let _ = std::fs::write(&cached, &body);
        Ok(body)
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, ProfileError> {
    std::fs::read(path).map_err(|error| ProfileError::Read {
        path: path.to_string_lossy().into_owned(),
        reason: error.to_string(),
        not_found: error.kind() == std::io::ErrorKind::NotFound,
    })
}

fn decode(path: &str, bytes: Vec<u8>) -> Result<String, ProfileError> {
    String::from_utf8(bytes).map_err(|error| ProfileError::Decode { path: path.to_owned(), position: error.utf8_error().valid_up_to() })
}

impl ProfileSource for SystemSource<'_> {
    fn exists(&mut self, path: &str) -> bool {
        Path::new(path).exists()
    }

    fn read(&mut self, path: &str) -> Result<String, ProfileError> {
        decode(path, read_bytes(Path::new(path))?)
    }

    fn download(&mut self, url: &str, policy: &DownloadPolicy) -> Result<String, ProfileError> {
        if let Some(path) = url.strip_prefix("file://") {
            return self.read(path);
        }
        let body = match &policy.extends_cache {
            Some(cache) => {
                let cache = join(policy.directory.as_deref().unwrap_or(""), cache);
                self.cached_download(url, &cache, policy)?
            }
            None if policy.offline => {
                return Err(ProfileError::Download { url: url.to_owned(), failure: DownloadFailure::Offline })
            }
            None => self
                .network(url)
                .map_err(|reason| ProfileError::Download { url: url.to_owned(), failure: DownloadFailure::Failed(reason) })?,
        };
        decode(url, body)
    }
}
