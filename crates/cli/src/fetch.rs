//! HTTP and HTTPS for the profile engine: remote `extends`
//! ([`Fetch::fetch`]) and recipe downloads streamed into their file as the
//! bytes arrive ([`Fetch::fetch_to`], with progress), through reqwest with
//! rustls. A server certificate must chain to the Mozilla roots compiled
//! into the binary or to a CA the user adds with `--ca-cert FILE` /
//! `SLAPOS_CA_CERT` (SlapOS runs its own CA, caucase).
//!
//! The engine is synchronous and runs on a blocking thread; each call
//! blocks that thread on the CLI's runtime. A connection must open within
//! [`CONNECT_TIMEOUT`] and every read must bring bytes within
//! [`READ_TIMEOUT`]; there is no overall limit, so a large download runs as
//! long as it makes progress. Errors are the cause chain in words without
//! the URL, which the engine puts in front (`Error downloading <url>: ...`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use profile::Fetch;

/// How long opening a connection (TCP connect and TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one read may wait for bytes, headers included.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Network options shared by the commands that fetch profiles.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct FetchArgs {
    /// A PEM file of CA certificates to trust for https:// besides the
    /// built-in roots (e.g. a SlapOS caucase CA); repeat for more files.
    #[arg(long = "ca-cert", value_name = "FILE", env = "SLAPOS_CA_CERT")]
    ca_certs: Vec<PathBuf>,
}

/// A [`Fetch`] over http:// and https:// with the CLI's runtime.
pub(crate) struct HttpFetch {
    handle: tokio::runtime::Handle,
    http: reqwest::Client,
}

impl HttpFetch {
    /// A fetcher trusting the built-in roots and the CAs of `args`; calls
    /// block on `handle` (so they must not run on a runtime thread).
    ///
    /// # Errors
    /// A CA file that cannot be read, holds no PEM certificate or holds an
    /// invalid one.
    pub(crate) fn new(args: &FetchArgs, handle: tokio::runtime::Handle) -> anyhow::Result<HttpFetch> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .user_agent(concat!("slapos-rs/", env!("CARGO_PKG_VERSION")));
        for path in &args.ca_certs {
            for certificate in read_ca_file(path)? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder.build().context("cannot set up the HTTP client with the --ca-cert certificates")?;
        Ok(HttpFetch { handle, http })
    }

    /// The response to `GET url`, or why there is none (a status other
    /// than 2xx is an error, worded as buildout words it).
    async fn get(&self, url: &str) -> Result<reqwest::Response, String> {
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(format!("unsupported URL scheme in {url}"));
        }
        let response = self.http.get(url).send().await.map_err(describe)?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP Error {}: {}", status.as_u16(), status.canonical_reason().unwrap_or("")));
        }
        Ok(response)
    }
}

impl Fetch for HttpFetch {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        self.handle.block_on(async {
            let response = self.get(url).await?;
            response.bytes().await.map(|body| body.to_vec()).map_err(describe)
        })
    }

    fn fetch_to(
        &self,
        url: &str,
        sink: &mut dyn std::io::Write,
        progress: &mut dyn FnMut(u64, Option<u64>),
    ) -> Result<u64, String> {
        self.handle.block_on(async {
            let mut response = self.get(url).await?;
            let total_bytes = response.content_length();
            let mut done_bytes = 0_u64;
            progress(done_bytes, total_bytes);
            while let Some(chunk) = response.chunk().await.map_err(describe)? {
                sink.write_all(&chunk).map_err(|error| format!("writing the download failed: {error}"))?;
                done_bytes += chunk.len() as u64;
                progress(done_bytes, total_bytes);
            }
            Ok(done_bytes)
        })
    }
}

/// The certificates of a PEM file named by `--ca-cert`.
fn read_ca_file(path: &Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path).with_context(|| format!("cannot read the CA certificate file {}", path.display()))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem)
        .with_context(|| format!("{} is not a PEM certificate file", path.display()))?;
    if certificates.is_empty() {
        anyhow::bail!("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path.display());
    }
    Ok(certificates)
}

/// A transfer error and its causes, without the URL; a rejected server
/// certificate says how to trust a private CA.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // hyper and rustls often repeat their cause in their own message.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    if text.contains("certificate") {
        text.push_str(" (for a server whose CA is private, give the CA with --ca-cert FILE or SLAPOS_CA_CERT)");
    }
    text
}

/// The integration tests' HTTPS server, for the tests below.
#[cfg(test)]
#[path = "../tests/it/https_server.rs"]
mod https_server;

#[cfg(test)]
mod tests {
    use super::https_server::HttpsServer;
    use super::*;

    /// A fetcher trusting `server`'s CA, and the runtime its calls block on.
    fn fetcher(server: &HttpsServer) -> (tokio::runtime::Runtime, HttpFetch) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
        let args = FetchArgs { ca_certs: vec![server.ca_file().to_owned()] };
        let fetch = HttpFetch::new(&args, runtime.handle().clone()).expect("client");
        (runtime, fetch)
    }

    #[test]
    fn fetch_to_streams_a_large_body_with_progress() {
        let body: Vec<u8> = (0..3_000_000_u32).map(|n| (n % 251) as u8).collect();
        let server = HttpsServer::start(vec![("/big.bin".to_owned(), body.clone())]);
        let (_runtime, fetch) = fetcher(&server);
        let mut sink = Vec::new();
        let mut calls = Vec::new();
        let written = fetch
            .fetch_to(&server.url("/big.bin"), &mut sink, &mut |done, total| calls.push((done, total)))
            .expect("download");
        assert_eq!(written, body.len() as u64);
        assert!(sink == body, "the body arrives whole and in order");
        assert!(calls.len() > 2, "progress is reported while bytes arrive: {calls:?}");
        assert!(calls.windows(2).all(|pair| pair[0].0 <= pair[1].0), "progress only grows");
        assert_eq!(calls.last(), Some(&(body.len() as u64, Some(body.len() as u64))));
    }

    #[test]
    fn http_errors_are_worded_as_buildout_words_them() {
        let server = HttpsServer::start(Vec::new());
        let (_runtime, fetch) = fetcher(&server);
        let error = fetch.fetch(&server.url("/missing.cfg")).expect_err("404");
        assert_eq!(error, "HTTP Error 404: Not Found");
        let error = fetch.fetch("ftp://example.invalid/a.cfg").expect_err("scheme");
        assert_eq!(error, "unsupported URL scheme in ftp://example.invalid/a.cfg");
    }

    #[test]
    fn a_ca_file_without_certificate_is_refused_naming_it() {
        let server = HttpsServer::start(Vec::new());
        let path = server.ca_file().with_file_name("empty.pem");
        std::fs::write(&path, "not a certificate\n").expect("write");
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let args = FetchArgs { ca_certs: vec![path.clone()] };
        let error = HttpFetch::new(&args, runtime.handle().clone()).err().expect("refused");
        assert!(format!("{error:#}").contains(&path.display().to_string()), "{error:#}");
    }
}
