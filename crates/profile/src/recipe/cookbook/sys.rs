//! The cookbook recipes' contact with the machine: files and directories
//! they write, the OS random source for passwords, a bind test for free
//! ports, and the running user's identity. Everything else in
//! `cookbook` is pure text and decisions.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::recipe::RecipeError;

/// `GenericBaseRecipe.createFile`: keeps a file whose content is already
/// right (fixing its mode), else replaces it, created with `mode`.
/// Returns the absolute path.
///
/// # Errors
/// I/O errors with the path.
pub(super) fn create_file(path: &Path, content: &[u8], mode: u32) -> Result<PathBuf, RecipeError> {
    let absolute = absolute(path);
    if let Ok(existing) = std::fs::read(path) {
        if existing == content {
            let metadata = std::fs::metadata(path).map_err(|error| RecipeError::io(path, error))?;
            if metadata.permissions().mode() & 0o7777 != mode {
                set_mode(path, mode)?;
            }
            return Ok(absolute);
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(RecipeError::io(path, error)),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|error| RecipeError::io(path, error))?;
    file.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(|error| RecipeError::io(path, error))?;
    file.write_all(content).map_err(|error| RecipeError::io(path, error))?;
    Ok(absolute)
}

/// Writes `content` to `path` (truncating), as Python's `open(path, 'w')`.
///
/// # Errors
/// I/O errors with the path.
pub(super) fn write_text(path: &Path, content: &str) -> Result<(), RecipeError> {
    std::fs::write(path, content).map_err(|error| RecipeError::io(path, error))
}

/// Reads a text file; `None` when it does not exist.
///
/// # Errors
/// Other I/O errors with the path.
pub(super) fn read_optional(path: &Path) -> Result<Option<String>, RecipeError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(RecipeError::io(path, error)),
    }
}

/// Reads a file's bytes.
///
/// # Errors
/// I/O errors with the path.
pub(super) fn read_bytes(path: &Path) -> Result<Vec<u8>, RecipeError> {
    std::fs::read(path).map_err(|error| RecipeError::io(path, error))
}

/// `os.makedirs(path, mode)`: parents with the default mode, the leaf with
/// `mode` (both under the umask).
///
/// # Errors
/// I/O errors with the path.
pub(super) fn make_directories(path: &Path, mode: u32) -> Result<(), RecipeError> {
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|error| RecipeError::io(parent, error))?;
    }
    match std::fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(error) => Err(RecipeError::io(path, error)),
    }
}

/// Sets a path's permission bits.
///
/// # Errors
/// I/O errors with the path.
pub(super) fn set_mode(path: &Path, mode: u32) -> Result<(), RecipeError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|error| RecipeError::io(path, error))
}

/// Whether `path` is a directory.
pub(super) fn is_dir(path: &Path) -> bool {
    path.is_dir()
}

/// Whether `path` is a regular file (following links).
pub(super) fn is_file(path: &Path) -> bool {
    path.is_file()
}

/// `os.path.exists`.
pub(super) fn exists(path: &Path) -> bool {
    path.exists()
}

/// `os.path.realpath`: links resolved as far as they exist.
pub(super) fn realpath(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| absolute(path))
}

/// `os.path.abspath` without touching the file system.
pub(super) fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|cwd| cwd.join(path)).unwrap_or_else(|_| path.to_path_buf())
    }
}

/// Replaces the link `link` by a symbolic link to `target`; refuses to
/// replace anything but a link.
///
/// # Errors
/// `Target '<link>' already exists but is not a link`, I/O errors.
pub(super) fn replace_symlink(target: &str, link: &Path) -> Result<(), RecipeError> {
    if let Ok(metadata) = std::fs::symlink_metadata(link) {
        if !metadata.file_type().is_symlink() {
            let shown = crate::python::str_repr(&link.to_string_lossy());
            return Err(RecipeError::Failed(format!("Target {shown} already exists but is not a link")));
        }
        std::fs::remove_file(link).map_err(|error| RecipeError::io(link, error))?;
    }
    std::os::unix::fs::symlink(target, link).map_err(|error| RecipeError::io(link, error))
}

/// A password of `length` characters drawn uniformly from
/// `[A-Za-z0-9]` with the OS random source (`random.SystemRandom`).
///
/// # Errors
/// The random source cannot be read.
pub(super) fn random_password(length: usize) -> Result<String, RecipeError> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let source = Path::new("/dev/urandom");
    let mut random = std::fs::File::open(source).map_err(|error| RecipeError::io(source, error))?;
    let mut password = String::with_capacity(length);
    let mut buffer = [0u8; 64];
    while password.len() < length {
        random.read_exact(&mut buffer).map_err(|error| RecipeError::io(source, error))?;
        // 248 = 4 * 62: rejecting larger bytes keeps the draw uniform.
        for byte in buffer.iter().filter(|byte| **byte < 248) {
            if password.len() == length {
                break;
            }
            password.push(char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]));
        }
    }
    Ok(password)
}

/// Whether a TCP socket can bind `ip:port` now.
pub(super) fn can_bind(ip: IpAddr, port: u16) -> bool {
    TcpListener::bind(SocketAddr::new(ip, port)).is_ok()
}

/// The running user and group, as `pwd.getpwuid(os.getuid())` and
/// `grp.getgrgid(os.getgid())` give them.
#[derive(Debug, Clone, Default)]
pub(super) struct UserInfo {
    pub(super) name: String,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) home: String,
    pub(super) shell: String,
    pub(super) group_name: String,
}

/// Reads the running user's identity from `/proc/self/status`,
/// `/etc/passwd` and `/etc/group`.
///
/// # Errors
/// A file cannot be read or the user or group has no entry.
pub(super) fn user_info() -> Result<UserInfo, RecipeError> {
    let status_path = Path::new("/proc/self/status");
    let status = std::fs::read_to_string(status_path).map_err(|error| RecipeError::io(status_path, error))?;
    let id_of = |field: &str| -> Option<u32> {
        let line = status.lines().find(|line| line.starts_with(field))?;
        line[field.len()..].split_whitespace().next()?.parse().ok()
    };
    let (Some(uid), Some(gid)) = (id_of("Uid:"), id_of("Gid:")) else {
        return Err(RecipeError::Failed("cannot read the user and group ids from /proc/self/status".to_owned()));
    };
    let passwd_path = Path::new("/etc/passwd");
    let passwd = std::fs::read_to_string(passwd_path).map_err(|error| RecipeError::io(passwd_path, error))?;
    let user: Vec<&str> = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() >= 7 && fields[2].parse() == Ok(uid))
        .ok_or_else(|| RecipeError::Failed(format!("getpwuid(): uid not found: {uid}")))?;
    let group_path = Path::new("/etc/group");
    let groups = std::fs::read_to_string(group_path).map_err(|error| RecipeError::io(group_path, error))?;
    let group_name = groups
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() >= 3 && fields[2].parse() == Ok(gid))
        .map(|fields| fields[0].to_owned())
        .ok_or_else(|| RecipeError::Failed(format!("getgrgid(): gid not found: {gid}")))?;
    Ok(UserInfo {
        name: user[0].to_owned(),
        uid,
        gid,
        home: user[5].to_owned(),
        shell: user[6].to_owned(),
        group_name,
    })
}

/// slapconfiguration's storage links: for each `<home>/<name>/<partition>`
/// directory, a link `<instance>/DATA/<name>` to it; returns name → link.
///
/// # Errors
/// I/O errors with the path.
pub(super) fn link_storage(
    home: &Path,
    partition: &str,
    instance: &Path,
) -> Result<std::collections::BTreeMap<String, String>, RecipeError> {
    let mut links = std::collections::BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(home) else { return Ok(links) };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let storage = home.join(&name).join(partition);
        if !storage.is_dir() {
            continue;
        }
        let data = instance.join("DATA");
        std::fs::create_dir_all(&data).map_err(|error| RecipeError::io(&data, error))?;
        let link = data.join(&name);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(&storage, &link).map_err(|error| RecipeError::io(&link, error))?;
        }
        links.insert(name, link.to_string_lossy().into_owned());
    }
    Ok(links)
}
