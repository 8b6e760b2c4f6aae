//! `slapos node format` (spec §3, without the random start delay): makes
//! the partitions of a compute node exist on disk, with their users and
//! addresses when running as root, keeps the description in `computer_xml`
//! and declares it to the master with `loadComputerConfigurationFromXML`.
//!
//! Code map: `model` builds the description (pure), `address` does the
//! address arithmetic, `definition` reads the definition file,
//! `python_json` writes JSON as Python does, `sys` does every I/O;
//! [`format`] calls them in the spec's order.
//!
//! Invariants: re-running with the same configuration changes nothing on
//! disk (same addresses, files rewritten only when their content differs);
//! format never removes a partition directory or anything in it; fewer
//! partitions than stored is refused before any change.
//!
//! Files written: `P/.slapos-resource` (`json.dumps(partition, sort_keys=True,
//! indent=4)`, 0644), `computer_xml` (the marshalled computer dict on one
//! line, as `proto::marshal::encode` writes it: not pretty-printed like the
//! Python node's, which this reader also accepts), `computer_json` if set
//! (indent 2, sorted keys).
//!
//! IPv6 ranges (`partition_has_ipv6_range`, default on): partition `i` gets
//! `prefix/len + ipv6_prefixshift` with `(1 << (shift - 2)) + i + 1` in the
//! shift bits, kept across runs like its addresses; as root with
//! alter_network, `net.ipv6.ip_nonlocal_bind=1` and a `local ... dev lo`
//! route per range. Not done yet: taps, tuns, the
//! `computer_xml.zip` history, `instance_storage_home` data directories,
//! `certificate_repository_path`, the `tentative` address check.

mod address;
mod definition;
mod model;
mod python_json;
mod sys;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use model::{Address, ComputerDescription, PartitionDescription};

use crate::config::{FormatConfig, NodeConfig};
use model::{Setting, Stored};

/// What the command line adds to the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatOptions {
    /// `-n/--dry_run`: plan and report, change nothing, post nothing.
    pub dry_run: bool,
    /// `[slapformat] software_user` (`slapsoft`): owner of software_root
    /// and extra group of every partition user (`FormatConfig` does not
    /// carry it yet).
    pub software_user: String,
    /// Run the `ip` commands in this network namespace (`ip -n NAME`): a
    /// node kept in its own namespace, and the tests.
    pub network_namespace: Option<String>,
}

impl Default for FormatOptions {
    fn default() -> FormatOptions {
        FormatOptions { dry_run: false, software_user: "slapsoft".to_owned(), network_namespace: None }
    }
}

/// What format did (or, in a dry run, would do).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FormatReport {
    /// The description declared to the master.
    pub computer: ComputerDescription,
    /// Partitions added by this run (none on a re-run).
    pub created_partitions: Vec<String>,
    /// Files whose content changed.
    pub written_files: Vec<PathBuf>,
    /// Addresses added to an interface (alter_network as root).
    pub added_addresses: Vec<String>,
    /// IPv6 ranges routed to `lo` by this run (alter_network as root).
    pub added_routes: Vec<String>,
    /// Whether users were created or updated (alter_user as root).
    pub altered_users: bool,
    /// Whether the description was posted (not in a dry run).
    pub posted: bool,
}

/// Why format failed. The command line exits 2 for [`FormatError::Post`],
/// 1 for the rest.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Fewer partitions configured than already formatted (the real
    /// node's text).
    #[error("Requested amount of computer partitions ({requested}) is lower than already configured ({configured}), cannot continue")]
    LowerAmount {
        /// `partition_amount`.
        requested: usize,
        /// Partitions in `computer_xml`.
        configured: usize,
    },
    /// A file or directory operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `computer_xml` cannot be read back.
    #[error("{}: {reason}", path.display())]
    StoredDescription {
        /// `computer_xml`.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A stored partition's entry is unusable.
    #[error("partition {partition} in the stored computer description: {reason}")]
    StoredPartition {
        /// The partition reference.
        partition: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The definition file is unusable.
    #[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Definition {
        /// `input_definition_file`.
        path: PathBuf,
        /// The line, for syntax errors.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// No address can be derived from a network setting.
    #[error("[slapformat] {key} = {value:?}: {reason}")]
    Network {
        /// The key.
        key: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// A system command (`ip`, `useradd`, ...) failed.
    #[error("`{command}` failed: {reason}")]
    Command {
        /// The command line.
        command: String,
        /// Its error output or the reason it could not run.
        reason: String,
    },
    /// The master refused or could not be reached (the real node's text,
    /// `%r` of the URL).
    #[error("failed to transfer information to '{master_url}'")]
    Post {
        /// The master URL.
        master_url: String,
        /// The cause.
        #[source]
        source: client::ClientError,
    },
}

/// Formats the compute node (spec §3) and declares it to the master.
///
/// As root, `alter_user` creates the users and `alter_network` adds the
/// addresses; otherwise partitions are plain directories of the current
/// user and addresses are only recorded.
///
/// # Errors
/// See [`FormatError`]; the `ipv6_prefixshift` and amount checks and every
/// description error come before any change on disk.
pub async fn format(
    config: &FormatConfig,
    node: &NodeConfig,
    client: &client::SlapClient,
    options: &FormatOptions,
) -> Result<FormatReport, FormatError> {
    model::check_prefixshift(config)?;
    let root = sys::is_root();
    let alter_user = config.alter_user && root;
    let alter_network = config.alter_network && root;
    let namespace = options.network_namespace.as_deref();
    let interface_addresses = sys::interface_addresses(namespace, &config.ipv6_interface).await;
    let setting = Setting {
        computer_id: &node.computer_id,
        config,
        software_root: &node.software_root,
        instance_root: &node.instance_root,
        instance_storage_home: &node.instance_storage_home,
        software_user: &options.software_user,
        interface_addresses: &interface_addresses,
    };
    let (computer, created_partitions) = describe(&setting, config).await?;
    let mut report = FormatReport {
        computer,
        created_partitions,
        written_files: Vec::new(),
        added_addresses: Vec::new(),
        added_routes: Vec::new(),
        altered_users: alter_user,
        posted: false,
    };
    if options.dry_run {
        report.altered_users = false;
        return Ok(report);
    }
    prepare_roots(node, options, alter_user).await?;
    if alter_network {
        if config.partition_has_ipv6_range {
            sys::allow_nonlocal_bind(namespace).await?;
        }
        report.added_addresses = add_addresses(&report.computer, config, namespace).await?;
        if config.partition_has_ipv6_range {
            report.added_routes = add_range_routes(&report.computer, namespace).await?;
        }
    }
    for partition in &report.computer.partitions {
        prepare_partition(partition, alter_user.then_some(options.software_user.as_str())).await?;
    }
    report.written_files = write_files(&report.computer, config).await?;
    let description = proto::Value::from(&report.computer.to_json());
    client
        .load_computer_configuration(&description)
        .await
        .map_err(|source| FormatError::Post { master_url: client.master_url().to_string(), source })?;
    report.posted = true;
    tracing::info!(partitions = report.computer.partitions.len(), "compute node formatted");
    Ok(report)
}

/// The description to apply: from the definition file if set, else the
/// stored one completed, else a new one.
async fn describe(setting: &Setting<'_>, config: &FormatConfig) -> Result<(ComputerDescription, Vec<String>), FormatError> {
    if let Some(path) = &config.input_definition_file {
        let definition_error = |line, reason| FormatError::Definition { path: path.clone(), line, reason };
        let bytes = sys::read_optional(path).await?.ok_or_else(|| definition_error(None, "no such file".to_owned()))?;
        let text = String::from_utf8(bytes).map_err(|_| definition_error(None, "not UTF-8".to_owned()))?;
        let sections = definition::parse(&text).map_err(|error| definition_error(Some(error.line), error.reason))?;
        let computer = model::plan_definition(setting, &sections).map_err(|reason| definition_error(None, reason))?;
        let created = computer.partitions.iter().map(|p| p.reference.clone()).collect();
        return Ok((computer, created));
    }
    let stored = load_stored(&config.computer_xml).await?;
    if stored.is_none() {
        tracing::info!(computer_id = setting.computer_id, "creating new computer data");
    }
    model::plan(setting, stored)
}

/// The description a previous run left in `computer_xml`, if any.
async fn load_stored(path: &Path) -> Result<Option<Stored>, FormatError> {
    let Some(bytes) = sys::read_optional(path).await? else { return Ok(None) };
    let stored_error = |reason: String| FormatError::StoredDescription { path: path.to_path_buf(), reason };
    let value = proto::marshal::decode(&bytes).map_err(|error| stored_error(error.to_string()))?;
    model::stored_from_json(&client::value_to_json(&value)).map(Some).map_err(stored_error)
}

/// Both roots 0755; as root with alter_user, the software user owns
/// software_root.
async fn prepare_roots(node: &NodeConfig, options: &FormatOptions, alter_user: bool) -> Result<(), FormatError> {
    sys::ensure_directory(&node.software_root, 0o755).await?;
    sys::ensure_directory(&node.instance_root, 0o755).await?;
    if alter_user {
        let owner = sys::ensure_user(&options.software_user, &node.software_root, None).await?;
        sys::chown(&node.software_root, owner)?;
    }
    Ok(())
}

/// The partition's user (as root with alter_user) and its directory,
/// exactly 0750, owned by that user. Existing contents are never touched.
async fn prepare_partition(partition: &PartitionDescription, software_user: Option<&str>) -> Result<(), FormatError> {
    let path = Path::new(&partition.path);
    let owner = match software_user {
        Some(group) => Some(sys::ensure_user(&partition.user, path, Some(group)).await?),
        None => None,
    };
    if sys::ensure_directory(path, 0o750).await? {
        tracing::info!(partition = %partition.reference, "partition directory created");
    }
    if let Some(owner) = owner {
        sys::chown(path, owner)?;
    }
    Ok(())
}

/// Adds every partition address to `interface_name` (IPv4) or
/// `ipv6_interface` (IPv6) unless present; returns those added.
async fn add_addresses(computer: &ComputerDescription, config: &FormatConfig, namespace: Option<&str>) -> Result<Vec<String>, FormatError> {
    let mut added = Vec::new();
    for partition in &computer.partitions {
        for item in &partition.address_list {
            let is_ipv4 = item.addr.parse::<std::net::Ipv4Addr>().is_ok();
            let interface = if is_ipv4 { &config.interface_name } else { &config.ipv6_interface };
            let prefixlen = address::prefixlen_of_netmask(&item.netmask).ok_or_else(|| FormatError::StoredPartition {
                partition: partition.reference.clone(),
                reason: format!("netmask {:?} of {} is not a netmask", item.netmask, item.addr),
            })?;
            if sys::ensure_address(namespace, interface, &item.addr, prefixlen).await? {
                tracing::info!(partition = %partition.reference, address = %item.addr, interface = %interface, "address added");
                added.push(item.addr.clone());
            }
        }
    }
    Ok(added)
}

/// Routes every partition's IPv6 range to `lo` unless already routed;
/// returns the ranges routed.
async fn add_range_routes(computer: &ComputerDescription, namespace: Option<&str>) -> Result<Vec<String>, FormatError> {
    let mut added = Vec::new();
    for partition in &computer.partitions {
        let network = partition
            .ipv6_range_network()
            .map_err(|reason| FormatError::StoredPartition { partition: partition.reference.clone(), reason })?;
        let Some((network, prefixlen)) = network else { continue };
        if sys::ensure_local_route(namespace, network, prefixlen).await? {
            tracing::info!(partition = %partition.reference, range = %format!("{network}/{prefixlen}"), "IPv6 range routed to lo");
            added.push(format!("{network}/{prefixlen}"));
        }
    }
    Ok(added)
}

/// `.slapos-resource` of each partition, `computer_xml`, `computer_json`:
/// each written only if its content changed. Returns those written.
async fn write_files(computer: &ComputerDescription, config: &FormatConfig) -> Result<Vec<PathBuf>, FormatError> {
    let mut written = Vec::new();
    for partition in &computer.partitions {
        let path = Path::new(&partition.path).join(".slapos-resource");
        let text = python_json::dumps(&partition.to_json(&computer.software_user), 4);
        if sys::write_if_changed(&path, &text, 0o644).await? {
            written.push(path);
        }
    }
    let json = computer.to_json();
    let xml = proto::marshal::encode(&proto::Value::from(&json));
    if sys::write_if_changed(&config.computer_xml, &xml, 0o644).await? {
        written.push(config.computer_xml.clone());
    }
    if let Some(path) = &config.computer_json {
        if sys::write_if_changed(path, &python_json::dumps(&json, 2), 0o644).await? {
            written.push(path.clone());
        }
    }
    Ok(written)
}
