//! A file server over HTTPS on 127.0.0.1:0 for the `https://` tests: a
//! fresh CA (rcgen) signs a certificate for `127.0.0.1` and `localhost`,
//! as a private SlapOS CA would; its PEM is written to a file for
//! `--ca-cert`. Serves a fixed map path -> body (HTTP/1.1, one request per
//! connection, 404 for any other path) from its own thread and runtime,
//! stopped and its directory (holding the CA file) removed on drop.
//!
//! Shared by the `cli` integration tests and the unit tests of
//! `src/fetch.rs` (which include this file with `#[path]`).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

/// The longest request head the server reads.
const REQUEST_HEAD_BYTES_MAX: usize = 16 * 1024;

/// A running HTTPS file server.
pub(crate) struct HttpsServer {
    address: SocketAddr,
    ca_file: PathBuf,
    directory: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpsServer {
    /// Starts serving `files` (path such as `/base.cfg` -> body).
    pub(crate) fn start(files: Vec<(String, Vec<u8>)>) -> HttpsServer {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let directory = std::env::temp_dir().join(format!("slapos-rs-https-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap_or_else(|error| panic!("cannot create {}: {error}", directory.display()));
        let (ca_pem, config) = certificates();
        let ca_file = directory.join("ca.pem");
        std::fs::write(&ca_file, ca_pem).expect("write the CA certificate");

        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let address = listener.local_addr().expect("bound address");
        let (shutdown, stop) = tokio::sync::oneshot::channel();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let files: Arc<HashMap<String, Vec<u8>>> = Arc::new(files.into_iter().collect());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("server runtime");
            runtime.block_on(serve(listener, acceptor, files, stop));
        });
        HttpsServer { address, ca_file, directory, shutdown: Some(shutdown), thread: Some(thread) }
    }

    /// `https://127.0.0.1:PORT<path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.address)
    }

    /// The PEM file of the CA that signed the server's certificate.
    pub(crate) fn ca_file(&self) -> &Path {
        &self.ca_file
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

/// The CA's PEM and a server configuration with a certificate it signed.
fn certificates() -> (String, rustls::ServerConfig) {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "slapos-rs test CA");
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");

    let server_key = rcgen::KeyPair::generate().expect("server key");
    let mut server_params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("server parameters");
    server_params.subject_alt_names.push(rcgen::SanType::IpAddress(Ipv4Addr::LOCALHOST.into()));
    let server = server_params.signed_by(&server_key, &ca, &ca_key).expect("server certificate");

    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![server.der().clone()], key)
        .expect("server TLS configuration");
    (ca.pem(), config)
}

async fn serve(
    listener: std::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    files: Arc<HashMap<String, Vec<u8>>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let acceptor = acceptor.clone();
                let files = Arc::clone(&files);
                // A client that rejects the certificate ends the handshake:
                // nothing to answer.
                tokio::spawn(async move {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = answer(stream, &files).await;
                    }
                });
            }
        }
    }
}

/// Reads one request head and writes the file it names (or a 404).
async fn answer<S>(mut stream: S, files: &HashMap<String, Vec<u8>>) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut head = Vec::new();
    let mut buffer = [0_u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await?;
        if read == 0 || head.len() > REQUEST_HEAD_BYTES_MAX {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or("/");
    let (status, body) = match files.get(path) {
        Some(body) => ("200 OK", body.as_slice()),
        None => ("404 Not Found", &b"not found\n"[..]),
    };
    let header = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(header.as_bytes()).await?;
    for chunk in body.chunks(64 * 1024) {
        stream.write_all(chunk).await?;
        stream.flush().await?;
    }
    stream.shutdown().await
}
