//! One run of a loop at a time (spec §9 "Run lock"): the real node keeps a
//! pidfile per loop so that cron never starts a second software build or
//! instance run over a running one. Ours is an advisory `flock` on a file
//! holding the owner's pid: the kernel releases it when the process dies,
//! even by SIGKILL, so a stale lock never blocks the node.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Which loop a lock guards, and its file under the node's roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loop {
    /// `node software`: `software_root/.slapgrid-sr.lock`.
    Software,
    /// `node instance` and `node promise`: `instance_root/.slapgrid-cp.lock`.
    Instance,
    /// `node report`: `instance_root/.slapgrid-ur.lock`.
    Report,
}

impl Loop {
    /// The lock file of this loop.
    pub fn path(self, config: &crate::config::NodeConfig) -> PathBuf {
        match self {
            Loop::Software => config.software_root.join(".slapgrid-sr.lock"),
            Loop::Instance => config.instance_root.join(".slapgrid-cp.lock"),
            Loop::Report => config.instance_root.join(".slapgrid-ur.lock"),
        }
    }
}

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process runs the loop (the real node's text; it exits 10).
    #[error("New slapos process started, but another slapos process is aleady running with pid {pid}, exiting.")]
    Busy {
        /// The holder's pid, as it wrote it.
        pid: String,
    },
    /// The lock file cannot be opened.
    #[error("cannot lock {}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A held lock, released when dropped (or when the process ends).
#[derive(Debug)]
pub struct LoopLock {
    _file: File,
}

impl LoopLock {
    /// Takes the lock at `path` without waiting. Its directory must exist
    /// (the node's roots, made by `node format`).
    ///
    /// # Errors
    /// [`LockError::Busy`] when another process holds it.
    pub fn acquire(path: &Path) -> Result<LoopLock, LockError> {
        let io = |source| LockError::Io { path: path.to_path_buf(), source };
        let mut file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
        // SAFETY: flock on a descriptor this function owns; no memory is shared.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                return Err(LockError::Busy { pid: pid.trim().to_owned() });
            }
            return Err(io(error));
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(LoopLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let path = directory.path().join(".slapgrid-cp.lock");
        let first = LoopLock::acquire(&path).expect("free lock");
        // A second open file description conflicts with the first, as a
        // second process would.
        match LoopLock::acquire(&path) {
            Err(LockError::Busy { pid }) => assert_eq!(pid, std::process::id().to_string()),
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(first);
        LoopLock::acquire(&path).expect("released on drop");
    }
}
