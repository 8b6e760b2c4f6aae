//! Running one promise process: its user, environment, process group,
//! captured output and timeout (spec §5.4, §6.1), plus the clock readings
//! the promise runner needs (local time offset, entropy).
//!
//! Each promise runs in its own process group so a timeout kills the whole
//! tree it spawned; outputs are read while the process runs (a full pipe
//! would otherwise block it) and only their last bytes are kept, so a
//! promise printing without end cannot exhaust memory.

use std::ffi::OsString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::PartitionUser;

/// Bytes of output kept per stream; the message keeps far less (5000
/// characters), this bound only protects memory.
const OUTPUT_BYTES_MAX: usize = 256 * 1024;

/// Variables removed from the node's environment before running partition
/// code, as SlapOS does so the partition's Python and locale are its own.
const REMOVED_VARIABLES: &[&str] = &[
    "PYTHONHOME",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONY2K",
    "PYTHONOPTIMIZE",
    "PYTHONDEBUG",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONINSPECT",
    "PYTHONUNBUFFERED",
    "PYTHONVERBOSE",
    "CONFIG_SITE",
    "ENV",
    "LOGNAME",
    "TEMP",
    "TMP",
    "TMPDIR",
    "LANG",
    "LANGUAGE",
];

/// What to run for one promise.
#[derive(Debug)]
pub(crate) struct PromiseCommand<'a> {
    pub(crate) program: &'a Path,
    pub(crate) args: Vec<OsString>,
    pub(crate) cwd: &'a Path,
    pub(crate) user: Option<PartitionUser>,
    pub(crate) home: Option<&'a Path>,
    /// Variables set on top of the cleaned environment.
    pub(crate) environment: Vec<(OsString, OsString)>,
    /// Stdout and stderr in one pipe (legacy promises), or apart (the
    /// plugin runner keeps stdout for its protocol).
    pub(crate) merge_output: bool,
    pub(crate) timeout: Duration,
}

/// How one promise process ended.
#[derive(Debug)]
pub(crate) enum Finished {
    /// It exited (or was killed by a signal) within the timeout.
    Exited {
        status: ExitStatus,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
        elapsed: Duration,
    },
    /// The timeout passed; its process group was killed.
    TimedOut { stdout: Vec<u8>, stderr: Vec<u8> },
}

/// Runs a promise command to its end or its timeout.
///
/// # Errors
/// The process could not be started (the caller turns this into the
/// promise's failure message, as SlapOS reports the `OSError`).
pub(crate) async fn run(command: PromiseCommand<'_>) -> io::Result<Finished> {
    let mut builder = Command::new(command.program);
    builder
        .args(&command.args)
        .current_dir(command.cwd)
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    clean_environment(&mut builder, command.home);
    builder.envs(command.environment.iter().map(|(name, value)| (name, value)));
    if let Some(user) = command.user {
        builder.uid(user.uid).gid(user.gid);
    }
    let merged = if command.merge_output {
        let (reader, writer) = pipe()?;
        builder
            .stdout(Stdio::from(writer.try_clone()?))
            .stderr(Stdio::from(writer));
        Some(reader)
    } else {
        builder.stdout(Stdio::piped()).stderr(Stdio::piped());
        None
    };
    let started = Instant::now();
    let mut child = spawn(&mut builder).await?;
    // The parent's copies of the write ends die with the builder, so EOF
    // arrives when the promise and its children close theirs.
    drop(builder);
    let pid = child.id();
    let (stdout_reader, stderr_reader): (
        Box<dyn AsyncRead + Unpin + Send>,
        Box<dyn AsyncRead + Unpin + Send>,
    ) = match merged {
        Some(reader) => (
            Box::new(tokio::net::unix::pipe::Receiver::from_owned_fd(reader)?),
            Box::new(tokio::io::empty()),
        ),
        None => (
            Box::new(
                child
                    .stdout
                    .take()
                    .ok_or_else(|| io::Error::other("stdout pipe missing"))?,
            ),
            Box::new(
                child
                    .stderr
                    .take()
                    .ok_or_else(|| io::Error::other("stderr pipe missing"))?,
            ),
        ),
    };
    let mut stdout = TailBuffer::default();
    let mut stderr = TailBuffer::default();
    let work = async {
        let (out, err, status) = tokio::join!(
            stdout.fill(stdout_reader),
            stderr.fill(stderr_reader),
            child.wait()
        );
        out?;
        err?;
        status
    };
    match tokio::time::timeout(command.timeout, work).await {
        Ok(status) => {
            let status = status?;
            Ok(Finished::Exited {
                status,
                stdout: stdout.bytes,
                stderr: stderr.bytes,
                elapsed: started.elapsed(),
            })
        }
        Err(_elapsed) => {
            if let Some(pid) = pid {
                kill_process_group(pid);
            }
            // Reap the leader; bounded, as SIGKILL cannot be ignored.
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            Ok(Finished::TimedOut {
                stdout: stdout.bytes,
                stderr: stderr.bytes,
            })
        }
    }
}

/// Starts the command, retrying briefly on `ETXTBSY`: a script written
/// just before can still be open for writing in a child forked meanwhile
/// by another thread.
async fn spawn(builder: &mut Command) -> io::Result<tokio::process::Child> {
    const ATTEMPTS_MAX: u32 = 10;
    let mut attempt = 1;
    loop {
        match builder.spawn() {
            Err(error) if error.raw_os_error() == Some(libc::ETXTBSY) && attempt < ATTEMPTS_MAX => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

/// The environment of partition code: the node's, minus the variables
/// that would leak the node's Python or locale, plus `PYTHONNOUSERSITE`
/// and the partition user's `HOME`.
fn clean_environment(builder: &mut Command, home: Option<&Path>) {
    for name in REMOVED_VARIABLES {
        builder.env_remove(name);
    }
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("LC_") {
            builder.env_remove(name);
        }
    }
    builder.env("PYTHONNOUSERSITE", "true");
    if let Some(home) = home {
        builder.env("HOME", home);
    }
}

/// SIGKILL to a whole process group: the promise and what it spawned.
fn kill_process_group(pgid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) has no memory effects; a negative pid names a group.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// A pipe whose two ends close on exec in this process (the child gets
/// its own copies through `Stdio`).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and ours alone.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The last `OUTPUT_BYTES_MAX` bytes of a stream.
#[derive(Debug, Default)]
struct TailBuffer {
    bytes: Vec<u8>,
}

impl TailBuffer {
    async fn fill(&mut self, mut reader: impl AsyncRead + Unpin) -> io::Result<()> {
        let mut chunk = [0u8; 8192];
        loop {
            let read = reader.read(&mut chunk).await?;
            if read == 0 {
                return Ok(());
            }
            self.bytes.extend_from_slice(&chunk[..read]);
            if self.bytes.len() > 2 * OUTPUT_BYTES_MAX {
                let excess = self.bytes.len() - OUTPUT_BYTES_MAX;
                self.bytes.drain(..excess);
            }
        }
    }
}

/// A clock for one promise run: the caller's `now` plus the time spent
/// since, so dates stay true while tests can still pin the start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunClock {
    start: SystemTime,
    started: Instant,
}

impl RunClock {
    pub(crate) fn start(now: SystemTime) -> RunClock {
        RunClock {
            start: now,
            started: Instant::now(),
        }
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.start + self.started.elapsed()
    }

    /// Unix seconds of the run's `now`, for scheduling decisions.
    pub(crate) fn start_unix(&self) -> f64 {
        unix_seconds(self.start)
    }
}

/// Seconds since the Unix epoch as a float (negative before it).
pub(crate) fn unix_seconds(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

/// The local time's offset from UTC at `unix_seconds`, as Python's logging
/// uses local time in promise logs; 0 when the C library cannot tell.
/// (`time_t` and `c_long` are `i64` on the 64-bit targets the node
/// supports, hence the casts.)
#[allow(clippy::unnecessary_cast)]
pub(crate) fn local_offset_seconds(unix_seconds: i64) -> i64 {
    let time = unix_seconds as libc::time_t;
    // SAFETY: an all-zero tm is a valid value of this plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r reads `time` and writes only into the tm we own.
    if unsafe { libc::localtime_r(&time, &mut tm) }.is_null() {
        return 0;
    }
    tm.tm_gmtoff as i64
}

/// A little entropy for log transaction ids (not security relevant).
pub(crate) fn entropy() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    u64::from(nanos) ^ u64::from(std::process::id()).rotate_left(17)
}

/// Modification time of a file in Unix seconds, as `os.stat().st_mtime`.
pub(crate) fn mtime_seconds(path: &Path) -> io::Result<f64> {
    let modified = std::fs::metadata(path)?.modified()?;
    Ok(unix_seconds(modified))
}

/// The bundled plugin runner's interpreter argument list: `-c <source>`.
pub(crate) fn runner_args(source: &str, request: String) -> Vec<OsString> {
    vec![
        OsString::from("-c"),
        OsString::from(source),
        OsString::from(request),
    ]
}
