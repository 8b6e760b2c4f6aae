//! The I/O of `slapos node format`: directories and their modes, files
//! written only when their content changed, the `ip`, `sysctl`, `getent`,
//! `groupadd`/`useradd`/`usermod`/`passwd` commands, ownership. Decides
//! nothing: `format` calls these in the order of spec §3.
//!
//! Every command runs with a deadline and its failure names the command
//! line; every file error names the path.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use super::address::{self, InterfaceAddress};
use super::FormatError;

/// No system command format runs should take longer (`useradd` on a slow
/// NSS backend takes seconds, not minutes).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether the process runs as root (users and addresses need it).
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> FormatError + '_ {
    move |source| FormatError::Io { path: path.to_path_buf(), source }
}

/// The file's text, or `None` if it does not exist.
pub(crate) async fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, FormatError> {
    match tokio::fs::read(path).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io_error(path)(error)),
    }
}

/// Creates `path` (and its parents) if missing and gives it exactly `mode`.
/// Returns whether it was created. Never removes or empties anything.
pub(crate) async fn ensure_directory(path: &Path, mode: u32) -> Result<bool, FormatError> {
    let created = match tokio::fs::metadata(path).await {
        Ok(metadata) if metadata.is_dir() => false,
        Ok(_) => {
            let source = std::io::Error::new(std::io::ErrorKind::AlreadyExists, "exists and is not a directory");
            return Err(io_error(path)(source));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            tokio::fs::create_dir_all(path).await.map_err(io_error(path))?;
            true
        }
        Err(error) => return Err(io_error(path)(error)),
    };
    set_mode(path, mode).await?;
    Ok(created)
}

/// Gives `path` exactly `mode`, touching nothing if it already has it.
async fn set_mode(path: &Path, mode: u32) -> Result<(), FormatError> {
    let metadata = tokio::fs::metadata(path).await.map_err(io_error(path))?;
    if metadata.permissions().mode() & 0o7777 != mode {
        tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).await.map_err(io_error(path))?;
    }
    Ok(())
}

/// Writes `content` to `path` with `mode` unless the file already holds
/// exactly it (its mtime then stays). Returns whether it wrote. The new
/// content goes to a temporary file renamed over the old one, so a crash
/// never leaves half a description.
pub(crate) async fn write_if_changed(path: &Path, content: &str, mode: u32) -> Result<bool, FormatError> {
    if read_optional(path).await?.as_deref() == Some(content.as_bytes()) {
        set_mode(path, mode).await?;
        return Ok(false);
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await.map_err(io_error(parent))?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = std::path::PathBuf::from(temporary);
    tokio::fs::write(&temporary, content).await.map_err(io_error(&temporary))?;
    set_mode(&temporary, mode).await?;
    tokio::fs::rename(&temporary, path).await.map_err(io_error(path))?;
    Ok(true)
}

/// Changes the owner of `path` unless it already has it.
pub(crate) fn chown(path: &Path, owner: (u32, u32)) -> Result<(), FormatError> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).map_err(io_error(path))?;
    if (metadata.uid(), metadata.gid()) != owner {
        std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1)).map_err(io_error(path))?;
    }
    Ok(())
}

/// Runs a command under the deadline: its status success flag and output.
async fn run(program: &str, arguments: &[&str]) -> Result<(bool, String, String), FormatError> {
    let shown = || std::iter::once(program).chain(arguments.iter().copied()).collect::<Vec<_>>().join(" ");
    let mut command = tokio::process::Command::new(program);
    command.args(arguments).stdin(std::process::Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(COMMAND_TIMEOUT, command.output())
        .await
        .map_err(|_| FormatError::Command { command: shown(), reason: format!("no answer within {} s", COMMAND_TIMEOUT.as_secs()) })?
        .map_err(|error| FormatError::Command { command: shown(), reason: error.to_string() })?;
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_owned();
    Ok((output.status.success(), text(&output.stdout), text(&output.stderr)))
}

/// Runs a command that must succeed.
async fn run_checked(program: &str, arguments: &[&str]) -> Result<String, FormatError> {
    let (success, stdout, stderr) = run(program, arguments).await?;
    if success {
        return Ok(stdout);
    }
    let command = std::iter::once(program).chain(arguments.iter().copied()).collect::<Vec<_>>().join(" ");
    Err(FormatError::Command { command, reason: if stderr.is_empty() { "failed".to_owned() } else { stderr } })
}

/// `ip` with `-n NAMESPACE` first when format works inside a namespace.
fn ip_arguments<'a>(namespace: Option<&'a str>, rest: &[&'a str]) -> Vec<&'a str> {
    let mut arguments = Vec::with_capacity(rest.len() + 2);
    if let Some(namespace) = namespace {
        arguments.extend(["-n", namespace]);
    }
    arguments.extend_from_slice(rest);
    arguments
}

/// The addresses of `interface`; empty when it or `ip` is missing (format
/// then derives the node's own ULA addresses).
pub(crate) async fn interface_addresses(namespace: Option<&str>, interface: &str) -> Vec<InterfaceAddress> {
    match run("ip", &ip_arguments(namespace, &["-o", "addr", "show", "dev", interface])).await {
        Ok((true, stdout, _)) => address::parse_ip_addr_show(&stdout),
        Ok((false, _, stderr)) => {
            tracing::debug!(interface, error = %stderr, "cannot list the interface's addresses");
            Vec::new()
        }
        Err(error) => {
            tracing::debug!(interface, %error, "cannot list the interface's addresses");
            Vec::new()
        }
    }
}

/// `ip addr add ADDR/LEN dev INTERFACE` unless the address is already
/// there. Returns whether it added it.
pub(crate) async fn ensure_address(namespace: Option<&str>, interface: &str, addr: &str, prefixlen: u8) -> Result<bool, FormatError> {
    let present = run_checked("ip", &ip_arguments(namespace, &["-o", "addr", "show", "dev", interface])).await?;
    if address::parse_ip_addr_show(&present).iter().any(|a| a.addr.to_string() == addr) {
        return Ok(false);
    }
    let cidr = format!("{addr}/{prefixlen}");
    run_checked("ip", &ip_arguments(namespace, &["addr", "add", &cidr, "dev", interface])).await?;
    Ok(true)
}

/// `sysctl -w net.ipv6.ip_nonlocal_bind=1` (per network namespace: run
/// with `ip netns exec NAMESPACE` inside one), so partitions bind
/// addresses of their range that no interface carries.
pub(crate) async fn allow_nonlocal_bind(namespace: Option<&str>) -> Result<(), FormatError> {
    const SETTING: &str = "net.ipv6.ip_nonlocal_bind=1";
    match namespace {
        Some(namespace) => run_checked("ip", &["netns", "exec", namespace, "sysctl", "-w", SETTING]).await?,
        None => run_checked("sysctl", &["-w", SETTING]).await?,
    };
    Ok(())
}

/// `ip -6 route add local NETWORK/LEN dev lo` unless
/// `ip -6 route show table local` already lists it. Returns whether it
/// added the route.
pub(crate) async fn ensure_local_route(namespace: Option<&str>, network: std::net::Ipv6Addr, prefixlen: u8) -> Result<bool, FormatError> {
    let present = run_checked("ip", &ip_arguments(namespace, &["-6", "route", "show", "table", "local"])).await?;
    if address::parse_local_routes(&present).contains(&(network, prefixlen)) {
        return Ok(false);
    }
    let cidr = format!("{network}/{prefixlen}");
    run_checked("ip", &ip_arguments(namespace, &["-6", "route", "add", "local", &cidr, "dev", "lo"])).await?;
    Ok(true)
}

/// `(uid, gid)` of user `name`, or `None` if there is no such user.
pub(crate) async fn user_ids(name: &str) -> Result<Option<(u32, u32)>, FormatError> {
    let (found, stdout, _) = run("getent", &["passwd", name]).await?;
    if !found {
        return Ok(None);
    }
    let fields: Vec<&str> = stdout.split(':').collect();
    match (fields.get(2).and_then(|u| u.parse().ok()), fields.get(3).and_then(|g| g.parse().ok())) {
        (Some(uid), Some(gid)) => Ok(Some((uid, gid))),
        _ => Err(FormatError::Command { command: format!("getent passwd {name}"), reason: format!("unexpected answer {stdout:?}") }),
    }
}

/// Creates group `name` if missing.
async fn ensure_group(name: &str) -> Result<(), FormatError> {
    let (exists, _, _) = run("getent", &["group", name]).await?;
    if !exists {
        run_checked("groupadd", &[name]).await?;
    }
    Ok(())
}

/// Creates (or updates) system user `name` in its own group, home `home`,
/// shell `/bin/sh`, member of `extra_group` if given, password locked
/// (spec §3 step 4). Returns its `(uid, gid)`.
pub(crate) async fn ensure_user(name: &str, home: &Path, extra_group: Option<&str>) -> Result<(u32, u32), FormatError> {
    ensure_group(name).await?;
    let home = home.display().to_string();
    let mut arguments = vec!["-d", home.as_str(), "-g", name, "-s", "/bin/sh"];
    if user_ids(name).await?.is_none() {
        arguments.push("-r");
        if let Some(group) = extra_group {
            arguments.extend(["-G", group]);
        }
        arguments.push(name);
        run_checked("useradd", &arguments).await?;
    } else {
        if let Some(group) = extra_group {
            arguments.extend(["-a", "-G", group]);
        }
        arguments.push(name);
        run_checked("usermod", &arguments).await?;
    }
    run_checked("passwd", &["-l", name]).await?;
    user_ids(name).await?.ok_or_else(|| FormatError::Command {
        command: format!("getent passwd {name}"),
        reason: "the user was created but cannot be found".to_owned(),
    })
}
