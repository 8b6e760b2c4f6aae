//! Test fixtures: the real Python slapproxy (`slapos proxy start` of
//! slapos.core 1.26.1 from the reference venv) started on a free 127.0.0.1
//! port in its own temporary directory with default computer `computer`,
//! killed by pid (and its directory removed) on drop; and a canned HTTP
//! server answering every request with one status, for the statuses the
//! proxy never produces (408).
//!
//! Shared by the `client` and `cli` integration tests (the latter includes
//! this file with `#[path]`). Std only, so both can use it.
//!
//! The venv is `$SLAPOS_VENV` or `/var/cache/slapos-rs/venv`; when it is
//! missing the test fails and says how to create it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the proxy may take to listen.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// The default computer of every fixture proxy.
pub(crate) const COMPUTER: &str = "computer";

/// The reference venv's directory.
pub(crate) fn venv() -> PathBuf {
    PathBuf::from(std::env::var_os("SLAPOS_VENV").unwrap_or_else(|| "/var/cache/slapos-rs/venv".into()))
}

/// The venv's `slapos` entry point; panics with the fix when absent.
pub(crate) fn slapos_python_cli() -> PathBuf {
    let slapos = venv().join("bin/slapos");
    assert!(
        slapos.is_file(),
        "the reference Python venv is missing ({} not found): run tests/python/setup-venv.sh \
         (it creates {} with slapos.core==1.26.1), or point SLAPOS_VENV at one",
        slapos.display(),
        venv().display()
    );
    slapos
}

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `slapos-rs-<prefix>-<pid>-<n>`.
    pub(crate) fn new(prefix: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("slapos-rs-{prefix}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        TempDir { path }
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A running slapproxy.
pub(crate) struct SlapProxy {
    child: Child,
    address: SocketAddr,
    log: PathBuf,
    dir: TempDir,
}

impl SlapProxy {
    /// Starts a Python proxy with an empty database and waits until it listens.
    pub(crate) fn start() -> SlapProxy {
        SlapProxy::start_program(&slapos_python_cli())
    }

    /// Starts `slapos proxy start` of the `slapos` program given (the
    /// Python one, or ours) with an empty database; waits until it listens.
    pub(crate) fn start_program(slapos: &Path) -> SlapProxy {
        let dir = TempDir::new("slapproxy");
        let port = free_port();
        let config = dir.path().join("proxy.cfg");
        let database = dir.path().join("proxy.db");
        std::fs::write(
            &config,
            format!(
                "[slapos]\ncomputer_id = {COMPUTER}\n\n[slapproxy]\nhost = 127.0.0.1\nport = {port}\ndatabase_uri = {}\n",
                database.display()
            ),
        )
        .expect("write proxy.cfg");
        let log = dir.path().join("proxy.log");
        let log_file = std::fs::File::create(&log).expect("create proxy.log");
        let child = Command::new(slapos)
            .args(["proxy", "start", "--cfg"])
            .arg(&config)
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .env_remove("SLAPOS_CONFIGURATION")
            .env_remove("SLAPOS_CLIENT_CONFIGURATION")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("dup log"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", slapos.display()));
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let mut proxy = SlapProxy { child, address, log, dir };
        proxy.wait_listening();
        proxy
    }

    fn wait_listening(&mut self) {
        let started = Instant::now();
        loop {
            if TcpStream::connect_timeout(&self.address, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("slapproxy exited with {status} before listening:\n{}", self.log_text());
            }
            assert!(
                started.elapsed() < START_DEADLINE,
                "slapproxy did not listen on {} within {START_DEADLINE:?}:\n{}",
                self.address,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash, as users write it).
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The HATEOAS root, as `master_rest_url` is set for the proxy.
    pub(crate) fn rest_url(&self) -> String {
        format!("http://{}/hateoas", self.address)
    }

    /// The proxy's temporary directory.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the proxy logged so far.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Writes a client configuration (`[slapos] master_url`,
    /// `master_rest_url`) in the proxy's directory and returns its path.
    pub(crate) fn client_config(&self) -> PathBuf {
        let path = self.dir.path().join("slapos-client.cfg");
        std::fs::write(
            &path,
            format!("[slapos]\nmaster_url = {}\nmaster_rest_url = {}\n", self.url(), self.rest_url()),
        )
        .expect("write slapos-client.cfg");
        path
    }
}

impl Drop for SlapProxy {
    fn drop(&mut self) {
        // Child::kill signals exactly this pid.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("bound address").port()
}

/// A loopback HTTP/1.1 server answering every request with one status and
/// body, on its own thread; stopped on drop.
pub(crate) struct CannedServer {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CannedServer {
    /// Listens on 127.0.0.1:0 and answers `status` with `body` forever.
    pub(crate) fn start(status: u16, body: &'static str) -> CannedServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("bound address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    answer(stream, status, body);
                }
            }
        });
        CannedServer { address, stop, thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// Reads one request (headers and a `Content-Length` body) and answers it.
fn answer(stream: TcpStream, status: u16, body: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream);
    let mut content_length = 0_usize;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut request_body = vec![0_u8; content_length];
    let _ = reader.read_exact(&mut request_body);
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} CANNED\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
