//! The supervisor's contact with the operating system: listing a
//! partition's programs, spawning a service in its own session as the
//! partition's owner, signalling process groups, reading `/proc` to tell a
//! live process from a reused pid, log rotation and tails, and the lock
//! that keeps one daemon per instance root.

use std::ffi::{CStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::program::{self, ProgramSpec};
use super::SupervisorError;

/// Sorted entry names of `directory`; a missing directory has none.
pub(crate) fn entry_names(directory: &Path) -> Result<Vec<String>, SupervisorError> {
    let entries = match fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(SupervisorError::io(directory, error)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| SupervisorError::io(directory, error))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// The programs of the partition at `directory` (spec §8.2).
pub(crate) fn list_programs(directory: &Path) -> Result<Vec<ProgramSpec>, SupervisorError> {
    let run = entry_names(&directory.join("etc").join("run"))?;
    let service = entry_names(&directory.join("etc").join("service"))?;
    Ok(program::programs(directory, &run, &service))
}

/// Who a service runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// Whether to switch to uid/gid before exec (the daemon is root).
    pub(crate) switch: bool,
    pub(crate) user: Option<String>,
    pub(crate) home: Option<PathBuf>,
}

/// The identity a service of the partition at `directory` runs as: as
/// root, the directory's owner (never root itself); otherwise ourselves.
pub(crate) fn identity_for(directory: &Path, process: &str) -> Result<Identity, SupervisorError> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let (uid, gid, switch) = if euid == 0 {
        let metadata =
            fs::metadata(directory).map_err(|error| SupervisorError::io(directory, error))?;
        if metadata.uid() == 0 {
            return Err(SupervisorError::Spawn {
                process: process.to_owned(),
                message: format!(
                    "partition directory {} is owned by root; refusing to run as root",
                    directory.display()
                ),
            });
        }
        (metadata.uid(), metadata.gid(), true)
    } else {
        // SAFETY: getegid has no preconditions.
        (euid, unsafe { libc::getegid() }, false)
    };
    let (user, home) = passwd_entry(uid).unzip();
    Ok(Identity {
        uid,
        gid,
        switch,
        user,
        home,
    })
}

/// Name and home of `uid` from the password database, if it has an entry.
fn passwd_entry(uid: u32) -> Option<(String, PathBuf)> {
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid value to be filled in.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the sizes given; the strings are
    // read before `buffer` is dropped.
    let status = unsafe {
        libc::getpwuid_r(
            uid,
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut result,
        )
    };
    if status != 0 || result.is_null() || entry.pw_name.is_null() || entry.pw_dir.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r succeeded, so both are NUL-terminated strings in `buffer`.
    let (name, home) = unsafe { (CStr::from_ptr(entry.pw_name), CStr::from_ptr(entry.pw_dir)) };
    Some((
        name.to_string_lossy().into_owned(),
        PathBuf::from(home.to_string_lossy().into_owned()),
    ))
}

/// Everything needed to spawn one service.
pub(crate) struct SpawnRequest<'a> {
    pub(crate) process: &'a str,
    pub(crate) command: &'a Path,
    pub(crate) directory: &'a Path,
    pub(crate) log: &'a Path,
    pub(crate) log_size_max_bytes: u64,
    pub(crate) identity: &'a Identity,
    pub(crate) environment: &'a [(OsString, OsString)],
}

/// Spawn a service: own session (so it outlives the daemon and its group
/// can be signalled), stdin `/dev/null`, output appended to its log.
pub(crate) fn spawn(request: &SpawnRequest<'_>) -> Result<tokio::process::Child, SupervisorError> {
    rotate_log(request.log, request.log_size_max_bytes)?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(request.log)
        .map_err(|error| SupervisorError::io(request.log, error))?;
    let log_for_stderr = log
        .try_clone()
        .map_err(|error| SupervisorError::io(request.log, error))?;
    let mut command = tokio::process::Command::new(request.command);
    command
        .current_dir(request.directory)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_for_stderr))
        .env_clear()
        .envs(request.environment.iter().map(|(key, value)| (key, value)));
    if let Some(user) = &request.identity.user {
        command.env("USER", user).env("LOGNAME", user);
    }
    if let Some(home) = &request.identity.home {
        command.env("HOME", home);
    }
    let (uid, gid, switch) = (
        request.identity.uid,
        request.identity.gid,
        request.identity.switch,
    );
    // SAFETY: the closure runs between fork and exec and only calls the
    // async-signal-safe setsid, setgroups, setgid and setuid.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            if switch {
                let groups = [gid as libc::gid_t];
                if libc::setgroups(1, groups.as_ptr()) < 0
                    || libc::setgid(gid) < 0
                    || libc::setuid(uid) < 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    command.spawn().map_err(|error| SupervisorError::Spawn {
        process: request.process.to_owned(),
        message: format!("{}: {error}", request.command.display()),
    })
}

/// Send `signal` to the process group led by `pid` (each service leads
/// its own, so its children get it too). A group already gone is fine.
pub(crate) fn signal_group(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return Ok(());
    };
    if pgid <= 1 {
        return Ok(());
    }
    // SAFETY: kill has no memory preconditions; a negative pid names a group.
    if unsafe { libc::kill(-pgid, signal) } < 0 {
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::ESRCH) {
            return Err(error);
        }
    }
    Ok(())
}

/// What `/proc/PID/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Field 3, one letter (`R`, `S`, `Z`...).
    pub(crate) state: char,
    /// Field 22, start time in clock ticks since boot.
    pub(crate) start_time_ticks: u64,
}

/// Parse `/proc/PID/stat`. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
pub(crate) fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let after_name = &text[text.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Field 3 was consumed; field 22 is 19 further.
    let start_time_ticks = fields.nth(18)?.parse().ok()?;
    Some(ProcStat {
        state,
        start_time_ticks,
    })
}

/// `/proc/PID/stat` of `pid`, if it exists.
pub(crate) fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_proc_stat(&text)
}

/// Whether `pid` is still the process that started at `start_time_ticks`
/// and has not exited (a zombie has exited).
pub(crate) fn is_alive(pid: u32, start_time_ticks: u64) -> bool {
    proc_stat(pid).is_some_and(|stat| {
        stat.start_time_ticks == start_time_ticks && !matches!(stat.state, 'Z' | 'X')
    })
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Copy-truncate rotation: when `log` exceeds `size_max_bytes`, its
/// content goes to `log.1` and it is emptied in place. Services keep their
/// descriptor, opened in append mode, so they go on writing at the new end.
/// Lines written between the copy and the truncation are lost.
pub(crate) fn rotate_log(log: &Path, size_max_bytes: u64) -> Result<(), SupervisorError> {
    let size = match fs::metadata(log) {
        Ok(metadata) => metadata.len(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(SupervisorError::io(log, error)),
    };
    if size <= size_max_bytes {
        return Ok(());
    }
    let mut backup = log.as_os_str().to_owned();
    backup.push(".1");
    let backup = PathBuf::from(backup);
    fs::copy(log, &backup).map_err(|error| SupervisorError::io(&backup, error))?;
    let file = OpenOptions::new()
        .write(true)
        .open(log)
        .map_err(|error| SupervisorError::io(log, error))?;
    file.set_len(0)
        .map_err(|error| SupervisorError::io(log, error))
}

/// The last `bytes` bytes of `log` (empty when it does not exist).
pub(crate) fn tail(log: &Path, bytes: u64) -> Result<String, SupervisorError> {
    let mut file = match File::open(log) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(String::new()),
        Err(error) => return Err(SupervisorError::io(log, error)),
    };
    let size = file
        .metadata()
        .map_err(|error| SupervisorError::io(log, error))?
        .len();
    let start = size.saturating_sub(bytes);
    file.seek(SeekFrom::Start(start))
        .map_err(|error| SupervisorError::io(log, error))?;
    let mut content = Vec::new();
    file.take(bytes)
        .read_to_end(&mut content)
        .map_err(|error| SupervisorError::io(log, error))?;
    Ok(String::from_utf8_lossy(&content).into_owned())
}

/// Take the instance root's daemon lock (held while the file stays open;
/// the kernel drops it when the daemon dies, even by `SIGKILL`).
pub(crate) fn lock_instance(instance_root: &Path) -> Result<File, SupervisorError> {
    let path = instance_root.join(super::LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|error| SupervisorError::io(&path, error))?;
    // SAFETY: the descriptor is open for the duration of the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } < 0 {
        let error = io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(SupervisorError::AlreadyRunning {
                instance_root: instance_root.to_owned(),
            });
        }
        return Err(SupervisorError::io(path, error));
    }
    Ok(file)
}

/// Restrict the socket to its owner (supervisord's `chmod=0700`).
pub(crate) fn restrict_socket(path: &Path) -> Result<(), SupervisorError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
        .map_err(|error| SupervisorError::io(path, error))
}

/// The daemon's own pid.
pub(crate) fn own_pid() -> u32 {
    std::process::id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_counts_fields_after_the_name() {
        let text = "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 \
                    18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_proc_stat(text),
            Some(ProcStat {
                state: 'S',
                start_time_ticks: 987654
            })
        );
        assert_eq!(parse_proc_stat("12 (x) Z 1 2"), None);
        let own = proc_stat(own_pid()).expect("own stat");
        assert!(is_alive(own_pid(), own.start_time_ticks));
        assert!(!is_alive(own_pid(), own.start_time_ticks + 1));
    }

    #[test]
    fn log_rotation_and_tail() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join(".P_a.log");
        assert_eq!(tail(&log, 10).expect("missing is empty"), "");
        fs::write(&log, "0123456789").expect("write");
        rotate_log(&log, 10).expect("small enough");
        assert_eq!(tail(&log, 4).expect("tail"), "6789");
        assert_eq!(tail(&log, 100).expect("tail"), "0123456789");
        rotate_log(&log, 5).expect("rotates");
        assert_eq!(
            fs::read_to_string(dir.path().join(".P_a.log.1")).expect("backup"),
            "0123456789"
        );
        assert_eq!(fs::read_to_string(&log).expect("emptied"), "");
    }

    #[test]
    fn lock_is_exclusive() {
        let dir = tempfile::tempdir().expect("temp dir");
        let held = lock_instance(dir.path()).expect("first lock");
        assert!(matches!(
            lock_instance(dir.path()),
            Err(SupervisorError::AlreadyRunning { .. })
        ));
        drop(held);
        lock_instance(dir.path()).expect("free again");
    }
}
