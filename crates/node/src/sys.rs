//! What every loop of the node asks of the system about partitions: who
//! they run as when the node is root, and how to clear a tree a build or
//! a partition left unwritable. Shared by the software, instance and
//! report loops.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::promise::PartitionUser;

/// As root, the owner of a partition directory, whom its scripts run as.
pub(crate) fn partition_user(directory: &Path) -> Option<PartitionUser> {
    if !running_as_root() {
        return None;
    }
    let metadata = std::fs::metadata(directory).ok()?;
    (metadata.uid() != 0).then_some(PartitionUser { uid: metadata.uid(), gid: metadata.gid() })
}

/// Whether the node runs as root (and so drops privileges for partitions).
pub(crate) fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Adds `u+rwx` to every real directory under `path` (symlinks skipped).
pub(crate) fn make_directories_writable(path: &Path) {
    let mut pending = vec![path.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let Ok(metadata) = std::fs::symlink_metadata(&directory) else { continue };
        if !metadata.is_dir() {
            continue;
        }
        let mode = metadata.permissions().mode();
        if mode & 0o700 != 0o700 {
            let _ = std::fs::set_permissions(&directory, std::fs::Permissions::from_mode(mode | 0o700));
        }
        pending.extend(std::fs::read_dir(&directory).into_iter().flatten().flatten().map(|entry| entry.path()));
    }
}
