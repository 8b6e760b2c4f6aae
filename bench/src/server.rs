//! The servers under test as child processes: each started by
//! `PROGRAM proxy start --cfg CFG` (the same command line and configuration
//! for the Python slapproxy and for ours) on a free 127.0.0.1 port, in a
//! fresh temporary directory holding the configuration, the database and
//! the server log. A [`Server`] kills its process by pid when dropped, so a
//! failing scenario never leaves a server behind.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Which implementation a server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The Python slapproxy of slapos.core, from the reference venv.
    Slapproxy,
    /// Our `slapos` binary.
    SlaposRs,
}

impl Kind {
    /// The column title of this implementation in the report.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Slapproxy => "slapproxy",
            Kind::SlaposRs => "slapos-rs",
        }
    }
}

/// How to start one implementation.
#[derive(Debug, Clone)]
pub(crate) struct Launcher {
    /// Which implementation.
    pub(crate) kind: Kind,
    /// The `slapos` program to run as `PROGRAM proxy start --cfg CFG`.
    pub(crate) program: PathBuf,
    /// How long a server may take to answer its first HTTP request.
    pub(crate) startup_timeout: Duration,
    /// Where to keep each server's log when it is killed (else it goes
    /// with the temporary directory).
    pub(crate) log_dir: Option<PathBuf>,
}

/// The default computer every configuration names (`[slapos] computer_id`).
pub(crate) const COMPUTER_ID: &str = "computer";

/// Servers started so far, numbering the kept logs in start order.
static SERVERS_STARTED: AtomicUsize = AtomicUsize::new(0);

/// Attempts at finding a port nobody grabs between our probe and the bind.
const START_ATTEMPTS_MAX: usize = 3;

/// Variables that would change what the servers read or where HTTP goes.
const ENVIRONMENT_REMOVED: &[&str] = &[
    "SLAPOS_CONFIGURATION",
    "SLAPOS_CLIENT_CONFIGURATION",
    "SLAPOS_LOG",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// A running server; killed by pid when dropped.
#[derive(Debug)]
pub(crate) struct Server {
    child: Child,
    /// Where it answers, `http://127.0.0.1:PORT/`.
    pub(crate) base_url: String,
    /// The same, as a socket address.
    pub(crate) address: std::net::SocketAddr,
    log_path: PathBuf,
    log_copy: Option<PathBuf>,
    // Removed after `drop` has killed the child, so the server never sees
    // its database vanish under it.
    _root: tempfile::TempDir,
}

/// Resident memory of a process, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Memory {
    /// `VmRSS`: resident now.
    pub(crate) rss_kib: u64,
    /// `VmHWM`: the peak resident size since the process started.
    pub(crate) hwm_kib: u64,
}

impl Launcher {
    /// Starts a fresh server (new directory, new database) and waits until
    /// it answers HTTP.
    ///
    /// # Errors
    /// The program cannot be run, exits early, or does not answer in time
    /// (the error carries the tail of its log).
    pub(crate) async fn start(&self) -> anyhow::Result<Server> {
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS_MAX {
            match self.start_once().await {
                Ok(server) => return Ok(server),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.expect("at least one attempt ran"))
    }

    async fn start_once(&self) -> anyhow::Result<Server> {
        let root = tempfile::Builder::new()
            .prefix(&format!("slapos-bench-{}-", self.kind.label()))
            .tempdir()
            .context("cannot create a temporary directory")?;
        let port = free_port()?;
        let cfg = write_config(root.path(), port)?;
        let log_path = root.path().join("server.log");
        let log = File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
        let log_err = log.try_clone().with_context(|| format!("cannot reopen {}", log_path.display()))?;
        let mut command = Command::new(&self.program);
        command
            .args(["proxy", "start", "--cfg"])
            .arg(&cfg)
            .current_dir(root.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .env("NO_PROXY", "*")
            .env("no_proxy", "*");
        for name in ENVIRONMENT_REMOVED {
            command.env_remove(name);
        }
        let child = command.spawn().with_context(|| format!("cannot run {}", self.program.display()))?;
        let log_copy = self.log_dir.as_ref().map(|dir| {
            let sequence = SERVERS_STARTED.fetch_add(1, Ordering::Relaxed);
            dir.join(format!("{sequence:02}-{}.log", self.kind.label()))
        });
        let mut server = Server {
            child,
            base_url: format!("http://127.0.0.1:{port}/"),
            address: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            log_path,
            log_copy,
            _root: root,
        };
        server.wait_until_ready(self.startup_timeout).await?;
        Ok(server)
    }
}

impl Server {
    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads the server's current and peak resident memory.
    ///
    /// # Errors
    /// `/proc/PID/status` is unreadable (the process is gone) or lacks the
    /// fields.
    pub(crate) fn memory(&self) -> anyhow::Result<Memory> {
        memory_of(self.pid())
    }

    /// Fails when the server process has exited, with the tail of its log.
    ///
    /// # Errors
    /// The process is gone.
    pub(crate) fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => bail!("server exited ({status}); log tail:\n{}", self.log_tail()),
            Err(error) => bail!("cannot check the server process: {error}"),
        }
    }

    /// The last lines of the server's log, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        log_tail(&self.log_path, 4096)
    }

    async fn wait_until_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build an HTTP client")?;
        let deadline = Instant::now() + timeout;
        let mut delay = Duration::from_millis(20);
        loop {
            self.check_alive()?;
            if client.get(&self.base_url).send().await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "server did not answer on {} within {timeout:?}; log tail:\n{}",
                    self.base_url,
                    self.log_tail()
                );
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 3 / 2).min(Duration::from_millis(250));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Child::kill sends SIGKILL to this pid only; a benchmark server
        // holds nothing worth a clean shutdown.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(copy) = &self.log_copy {
            if let Err(error) = std::fs::copy(&self.log_path, copy) {
                eprintln!("bench: cannot keep the server log as {}: {error}", copy.display());
            }
        }
    }
}

/// A port free on 127.0.0.1 right now (the kernel's pick).
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind 127.0.0.1:0")?;
    Ok(listener.local_addr().context("bound socket has no address")?.port())
}

/// The configuration both implementations read: what the conformance suite
/// gives the Python proxy.
fn write_config(root: &Path, port: u16) -> anyhow::Result<PathBuf> {
    let path = root.join("slapos.cfg");
    let database = root.join("proxy.db");
    let text = format!(
        "[slapos]\ncomputer_id = {COMPUTER_ID}\n\n[slapproxy]\nhost = 127.0.0.1\nport = {port}\ndatabase_uri = {}\n",
        database.display()
    );
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Reads `VmRSS` and `VmHWM` of a process.
pub(crate) fn memory_of(pid: u32) -> anyhow::Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|line| line.starts_with(name))?;
        line[name.len()..].trim().trim_end_matches("kB").trim().parse().ok()
    };
    match (field("VmRSS:"), field("VmHWM:")) {
        (Some(rss_kib), Some(hwm_kib)) => Ok(Memory { rss_kib, hwm_kib }),
        _ => bail!("{path} has no VmRSS/VmHWM"),
    }
}

/// Clock ticks per second of `/proc/PID/stat` times: `USER_HZ`, fixed at
/// 100 by the Linux user-space ABI whatever the kernel's own tick rate.
const USER_HZ: u64 = 100;

/// CPU time (user + system, all threads) a process has used so far, from
/// `/proc/PID/stat`.
///
/// # Errors
/// The file is unreadable (the process is gone) or malformed.
pub(crate) fn cpu_of(pid: u32) -> anyhow::Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // The command name (field 2) is parenthesised and may hold spaces:
    // count fields from the last ')'. utime and stime are fields 14 and 15.
    let after_name = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .with_context(|| format!("{path} is malformed"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => Ok(Duration::from_millis((user + system) * 1000 / USER_HZ)),
        _ => bail!("{path} has no utime/stime"),
    }
}

/// The last `bytes_max` bytes of a file, lossily decoded.
fn log_tail(path: &Path, bytes_max: u64) -> String {
    let Ok(mut file) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(bytes_max)));
    let mut bytes = Vec::new();
    let _ = file.take(bytes_max).read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_of_this_process_is_readable() {
        let memory = memory_of(std::process::id()).expect("own status");
        assert!(memory.rss_kib > 0 && memory.hwm_kib >= memory.rss_kib);
    }

    #[test]
    fn cpu_of_this_process_is_readable() {
        let spent = cpu_of(std::process::id()).expect("own stat");
        assert!(spent <= Duration::from_secs(24 * 3600));
    }
}
