//! The report loop's contact with the machine: `/proc` (CPU time and
//! memory of a partition's process trees), the partition's files (disk
//! usage, the contents-only wipe of a destroyed partition), partition
//! scripts run as the partition user, and the local clock.
//!
//! The parsers of `/proc` lines are pure and tested apart; everything else
//! here is a thin call into the OS whose errors name the path concerned.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsString;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};


use crate::promise::PartitionUser;

/// Output kept from a script, for its error message and the log.
const SCRIPT_OUTPUT_BYTES_MAX: usize = 64 * 1024;
/// Entries walked under one partition before disk usage gives up
/// (a bound, not a quota: the sum so far is reported).
const DISK_ENTRIES_MAX: usize = 10_000_000;


/// One line of `/proc/<pid>/stat`, the fields the report needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub(crate) parent: u32,
    /// User + system time in clock ticks.
    pub(crate) cpu_ticks: u64,
    /// Resident set in pages.
    pub(crate) rss_pages: u64,
}

/// Parses `/proc/<pid>/stat`; the command name may hold spaces and
/// parentheses, so fields are counted after the last `)`.
pub(crate) fn parse_stat(line: &str) -> Option<ProcStat> {
    let after = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state(3) ppid(4) … utime(14) stime(15) … rss(24).
    let field = |number: usize| fields.get(number - 3).and_then(|text| text.parse::<u64>().ok());
    Some(ProcStat {
        parent: u32::try_from(field(4)?).ok()?,
        cpu_ticks: field(14)?.saturating_add(field(15)?),
        rss_pages: field(24)?,
    })
}

/// Every live process: pid → (its stat, its owner's uid).
fn all_processes() -> BTreeMap<u32, (ProcStat, u32)> {
    let mut processes = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return processes };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        let path = entry.path();
        // A process may exit between the listing and the read: skipped.
        let (Ok(text), Ok(metadata)) = (std::fs::read_to_string(path.join("stat")), std::fs::metadata(&path)) else {
            continue;
        };
        if let Some(stat) = parse_stat(&text) {
            processes.insert(pid, (stat, metadata.uid()));
        }
    }
    processes
}

/// The given pids (and, when `owner` is set, every process of that uid)
/// with all their descendants.
pub(crate) fn process_trees(
    processes: &BTreeMap<u32, (ProcStat, u32)>,
    roots: &[u32],
    owner: Option<u32>,
) -> BTreeSet<u32> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (pid, (stat, _)) in processes {
        children.entry(stat.parent).or_default().push(*pid);
    }
    let mut pending: Vec<u32> = roots.iter().copied().filter(|pid| processes.contains_key(pid)).collect();
    if let Some(uid) = owner {
        pending.extend(processes.iter().filter(|(_, (_, owner))| *owner == uid).map(|(pid, _)| *pid));
    }
    let mut found = BTreeSet::new();
    while let Some(pid) = pending.pop() {
        if found.insert(pid) {
            pending.extend(children.get(&pid).into_iter().flatten().copied());
        }
    }
    found
}

/// CPU seconds and resident bytes of the process trees of `roots` (plus
/// every process of `owner`, if given), read from `/proc`.
pub(crate) fn measure_processes(roots: &[u32], owner: Option<u32>) -> (f64, u64) {
    let processes = all_processes();
    let (ticks, pages) = process_trees(&processes, roots, owner)
        .iter()
        .filter_map(|pid| processes.get(pid))
        .fold((0u64, 0u64), |(ticks, pages), (stat, _)| {
            (ticks.saturating_add(stat.cpu_ticks), pages.saturating_add(stat.rss_pages))
        });
    // SAFETY: sysconf has no preconditions; it answers -1 when unknown.
    let (ticks_per_second, page_bytes) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
    let ticks_per_second = if ticks_per_second > 0 { ticks_per_second as f64 } else { 100.0 };
    let page_bytes = u64::try_from(page_bytes).ok().filter(|bytes| *bytes > 0).unwrap_or(4096);
    (ticks as f64 / ticks_per_second, pages.saturating_mul(page_bytes))
}

/// Bytes under `directory`, as `du -sb` counts them: apparent sizes of
/// every entry, the directory included, hard links once, symlinks never
/// followed.
///
/// # Errors
/// The directory itself cannot be read; unreadable entries below it are
/// skipped (a partition user may hide a subdirectory from us).
pub(crate) fn disk_bytes(directory: &Path) -> io::Result<u64> {
    let mut total = std::fs::symlink_metadata(directory)?.len();
    let mut seen = HashSet::new();
    let mut pending = vec![directory.to_path_buf()];
    let mut walked = 0usize;
    while let Some(path) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else { continue };
        for entry in entries.flatten() {
            walked += 1;
            if walked > DISK_ENTRIES_MAX {
                return Ok(total);
            }
            let Ok(metadata) = entry.metadata() else { continue };
            if metadata.nlink() > 1 && !metadata.is_dir() && !seen.insert((metadata.dev(), metadata.ino())) {
                continue;
            }
            total = total.saturating_add(metadata.len());
            if metadata.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    Ok(total)
}

/// Removes everything inside `directory` but not the directory itself,
/// whose owner and mode stay; symlinks are removed, never followed.
///
/// # Errors
/// The first entry that cannot be removed, with its path.
pub(crate) fn wipe_contents(directory: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(directory).map_err(|e| format!("cannot list {}: {e}", directory.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", directory.display()))?;
        let path = entry.path();
        let metadata = std::fs::symlink_metadata(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let removed = if metadata.is_dir() {
            // A directory the partition made unwritable cannot be emptied.
            crate::sys::make_directories_writable(&path);
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    }
    Ok(())
}

/// The home directory of `uid` from the user database, for `HOME`.
fn home_of(uid: u32) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid value of this plain C struct.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to memory we own for the call's length.
    let rc = unsafe { libc::getpwuid_r(uid, &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut result) };
    if rc != 0 || result.is_null() || entry.pw_dir.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r succeeded, so pw_dir is a NUL-terminated string in `buffer`.
    let home = unsafe { std::ffi::CStr::from_ptr(entry.pw_dir) };
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(home.to_bytes())))
}

/// A partition script to run (spec §5.4: report and destroy scripts).
#[derive(Debug)]
pub(crate) struct ScriptCommand<'a> {
    pub(crate) script: &'a Path,
    pub(crate) args: Vec<OsString>,
    pub(crate) cwd: &'a Path,
    pub(crate) user: Option<PartitionUser>,
    pub(crate) timeout: Duration,
}

/// How a script ended: success, and its merged output (last bytes).
#[derive(Debug)]
pub(crate) struct ScriptRun {
    pub(crate) success: bool,
    pub(crate) output: String,
}

/// Runs a partition script as its user in its own process group, stdin
/// closed, stdout and stderr merged, the environment cleaned as for every
/// partition program (`promise::sys::run`); a timeout kills the whole
/// group.
///
/// # Errors
/// The script could not be started (message names it).
pub(crate) async fn run_script(command: ScriptCommand<'_>) -> Result<ScriptRun, String> {
    use crate::promise::sys::{run, Finished, PromiseCommand};
    let home = command.user.and_then(|user| home_of(user.uid));
    let finished = run(PromiseCommand {
        program: command.script,
        args: command.args,
        cwd: command.cwd,
        user: command.user,
        home: home.as_deref(),
        environment: Vec::new(),
        merge_output: true,
        timeout: command.timeout,
    })
    .await
    .map_err(|error| format!("cannot run {}: {error}", command.script.display()))?;
    let text = |bytes: &[u8]| {
        let tail = &bytes[bytes.len().saturating_sub(SCRIPT_OUTPUT_BYTES_MAX)..];
        String::from_utf8_lossy(tail).into_owned()
    };
    Ok(match finished {
        Finished::Exited { status, stdout, .. } => ScriptRun { success: status.success(), output: text(&stdout) },
        Finished::TimedOut { stdout, .. } => {
            let mut output = text(&stdout);
            output.push_str(&format!("\n(killed after {} s)", command.timeout.as_secs()));
            ScriptRun { success: false, output }
        }
    })
}

/// Seconds since the Unix epoch, whole (as Python's `int(time.time())`).
pub(crate) fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// `time.strftime("%Y-%m-%d at %H:%M:%S")` of `now` in local time, as the
/// journal's `stop_date` is written.
#[allow(clippy::unnecessary_cast)] // time_t is i64 on the targets we build for
pub(crate) fn local_stop_date(now: SystemTime) -> String {
    let time = unix_seconds(now) as libc::time_t;
    // SAFETY: an all-zero tm is a valid value of this plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r reads `time` and writes only into the tm we own.
    if unsafe { libc::localtime_r(&time, &mut tm) }.is_null() {
        return String::new();
    }
    format!(
        "{:04}-{:02}-{:02} at {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(parent: u32) -> (ProcStat, u32) {
        (ProcStat { parent, cpu_ticks: 1, rss_pages: 1 }, 1000)
    }

    #[test]
    fn stat_lines_are_read_after_the_command_name() {
        let line = "42 (a (weird) name) S 7 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 1000 12345678 321 18446744073709551615";
        assert_eq!(parse_stat(line), Some(ProcStat { parent: 7, cpu_ticks: 300, rss_pages: 321 }));
        assert_eq!(parse_stat("42 (short) S 7"), None);
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn process_trees_hold_descendants_and_the_owners_processes() {
        let mut processes = BTreeMap::from([(1, stat(0)), (10, stat(1)), (11, stat(10)), (12, stat(11)), (20, stat(1))]);
        processes.insert(30, (ProcStat { parent: 1, cpu_ticks: 1, rss_pages: 1 }, 65534));
        processes.insert(31, stat(30));
        assert_eq!(process_trees(&processes, &[10], None), BTreeSet::from([10, 11, 12]));
        assert_eq!(process_trees(&processes, &[10, 99], Some(65534)), BTreeSet::from([10, 11, 12, 30, 31]));
        assert_eq!(process_trees(&processes, &[], None), BTreeSet::new());
    }
}
