//! The compute node description `format` builds, keeps in `computer_xml`
//! and posts to the master (spec §3: the computer dict and its partition
//! dicts), and the pure decisions that build it: reload what is stored,
//! refuse fewer partitions, add the missing ones with free addresses and
//! IPv6 ranges, or take everything from a definition file.
//!
//! Invariant: a stored partition keeps its reference, path, user,
//! addresses and IPv6 range; only a missing IPv4, IPv6 or range is added
//! (ranges are all dropped, `{}`, when `partition_has_ipv6_range` is off). So re-running format
//! with the same configuration rebuilds the same description, byte for byte.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;

use serde_json::{json, Value as Json};

use super::address::{self, InterfaceAddress};
use super::definition::{self, DefinitionSections};
use super::FormatError;
use crate::config::FormatConfig;

/// One address of a partition or of the compute node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Address {
    /// The address (`10.0.0.2`, `fd00::2`).
    pub addr: String,
    /// Its netmask written as an address (`255.255.255.255`).
    pub netmask: String,
}

/// One partition as format keeps and declares it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PartitionDescription {
    /// The slot name on the master (`slappart0`).
    pub reference: String,
    /// Its directory (`instance_root/slappart0`).
    pub path: String,
    /// The user it runs as when the node runs as root.
    pub user: String,
    /// `[ipv4, ipv6]` as format picks them, or the definition file's list.
    pub address_list: Vec<Address>,
    /// `tap` dict, kept as stored (the master takes `tap.name` as the
    /// addresses' interface).
    #[serde(skip)]
    pub(crate) tap: Json,
    /// `ipv6_range` dict (`{}` without a range), kept as stored.
    #[serde(skip)]
    pub(crate) ipv6_range: Json,
}

/// The compute node as format keeps and declares it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ComputerDescription {
    /// The compute node id (`[slapos] computer_id`).
    pub reference: String,
    /// Its IPv6 (or the definition file's `[computer] address`).
    pub address: String,
    /// The netmask of `address`.
    pub netmask: String,
    /// The partitions, in slot order.
    pub partitions: Vec<PartitionDescription>,
    /// `interface` dict, `null` for a definition file without alter_network.
    #[serde(skip)]
    pub(crate) interface: Json,
    #[serde(skip)]
    pub(crate) ipv6_interface: String,
    #[serde(skip)]
    pub(crate) partition_has_ipv6_range: bool,
    #[serde(skip)]
    pub(crate) software_user: String,
    #[serde(skip)]
    pub(crate) software_root: String,
    #[serde(skip)]
    pub(crate) instance_root: String,
    #[serde(skip)]
    pub(crate) instance_storage_home: String,
}

/// What the planner needs besides the stored description.
pub(crate) struct Setting<'a> {
    pub(crate) computer_id: &'a str,
    pub(crate) config: &'a FormatConfig,
    pub(crate) software_root: &'a Path,
    pub(crate) instance_root: &'a Path,
    pub(crate) instance_storage_home: &'a str,
    pub(crate) software_user: &'a str,
    /// Every address of `ipv6_interface` (only global IPv6 ones are used).
    pub(crate) interface_addresses: &'a [InterfaceAddress],
}

/// The shape of `tap` without a tap interface: the name the real node
/// would give it, every address empty.
fn empty_tap(name: &str) -> Json {
    let mut tap = serde_json::Map::new();
    tap.insert("name".to_owned(), Json::String(name.to_owned()));
    for key in ["ipv4_addr", "ipv4_netmask", "ipv4_gateway", "ipv4_network", "ipv6_addr", "ipv6_netmask", "ipv6_gateway", "ipv6_network"] {
        tap.insert(key.to_owned(), Json::String(String::new()));
    }
    Json::Object(tap)
}

impl PartitionDescription {
    /// The partition dict (`.slapos-resource` and `partition_list` item).
    pub(crate) fn to_json(&self, software_user: &str) -> Json {
        json!({
            "reference": self.reference,
            "path": self.path,
            "user": {
                "name": self.user,
                "shell": "/bin/sh",
                "path": self.path,
                "additional_group_list": [software_user],
            },
            "address_list": self.address_list.iter().map(|a| json!({"addr": a.addr, "netmask": a.netmask})).collect::<Vec<_>>(),
            "ipv6_range": self.ipv6_range,
            "tap": self.tap,
            "tun": null,
            "external_storage_list": [],
        })
    }

    fn from_json(value: &Json) -> Result<PartitionDescription, String> {
        let text = |key: &str| value.get(key).and_then(Json::as_str).map(str::to_owned);
        let reference = text("reference").ok_or("a partition has no string \"reference\"")?;
        let path = text("path").ok_or_else(|| format!("partition {reference} has no string \"path\""))?;
        let user = value.pointer("/user/name").and_then(Json::as_str).unwrap_or_default().to_owned();
        let mut address_list = Vec::new();
        for item in value.get("address_list").and_then(Json::as_array).map_or(&[][..], Vec::as_slice) {
            let addr = item.get("addr").and_then(Json::as_str);
            let netmask = item.get("netmask").and_then(Json::as_str).unwrap_or_default();
            let addr = addr.ok_or_else(|| format!("partition {reference}: an address has no string \"addr\""))?;
            address_list.push(Address { addr: addr.to_owned(), netmask: netmask.to_owned() });
        }
        let tap = value.get("tap").filter(|t| t.is_object()).cloned().unwrap_or_else(|| empty_tap(""));
        let ipv6_range = value.get("ipv6_range").filter(|r| r.is_object()).cloned().unwrap_or_else(|| json!({}));
        Ok(PartitionDescription { reference, path, user, address_list, tap, ipv6_range })
    }

    /// The network of `ipv6_range` (`None` for `{}`), from its `addr` and
    /// `prefixlen`, or its `network` text (`addr/prefixlen`).
    ///
    /// # Errors
    /// A non-empty range without a usable IPv6 network, as a reason.
    pub(crate) fn ipv6_range_network(&self) -> Result<Option<(Ipv6Addr, u8)>, String> {
        let range = &self.ipv6_range;
        if range.as_object().is_none_or(serde_json::Map::is_empty) {
            return Ok(None);
        }
        let network_text = range.get("network").and_then(Json::as_str).and_then(|n| n.split_once('/'));
        let addr = range.get("addr").and_then(Json::as_str).or(network_text.map(|(a, _)| a));
        let prefixlen = match range.get("prefixlen").and_then(Json::as_u64) {
            Some(length) => u8::try_from(length).ok(),
            None => network_text.and_then(|(_, length)| length.parse::<u8>().ok()),
        };
        match (addr.and_then(|a| a.parse::<Ipv6Addr>().ok()), prefixlen.filter(|l| *l <= 128)) {
            (Some(addr), Some(prefixlen)) => Ok(Some((addr, prefixlen))),
            _ => Err(format!("ipv6_range {range} is not an IPv6 network")),
        }
    }
}

impl ComputerDescription {
    /// The computer dict: stored in `computer_xml`, posted to the master.
    pub(crate) fn to_json(&self) -> Json {
        let empty_is_null = |text: &str| if text.is_empty() { Json::Null } else { Json::String(text.to_owned()) };
        json!({
            "reference": self.reference,
            "address": self.address,
            "netmask": self.netmask,
            "interface": self.interface,
            "ipv6_interface": self.ipv6_interface,
            "partition_has_ipv6_range": self.partition_has_ipv6_range,
            "software_user": self.software_user,
            "tap_gateway_interface": "",
            "tap_ipv6": false,
            "software_root": self.software_root,
            "instance_root": self.instance_root,
            "instance_storage_home": empty_is_null(&self.instance_storage_home),
            "public_ipv4_address": null,
            "os_type": std::env::consts::OS,
            "python_version": null,
            "slapos_version": concat!("slapos-rs ", env!("CARGO_PKG_VERSION")),
            "partition_list": self.partitions.iter().map(|p| p.to_json(&self.software_user)).collect::<Vec<_>>(),
        })
    }
}

/// The stored description's address and partitions, from the computer
/// dict a previous run (ours or the Python node's) wrote.
pub(crate) struct Stored {
    pub(crate) address: Option<String>,
    pub(crate) partitions: Vec<PartitionDescription>,
}

/// Reads the stored computer dict.
pub(crate) fn stored_from_json(value: &Json) -> Result<Stored, String> {
    if !value.is_object() {
        return Err("the computer description is not a dictionary".to_owned());
    }
    let partitions = match value.get("partition_list") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => items.iter().map(PartitionDescription::from_json).collect::<Result<_, _>>()?,
        Some(_) => return Err("\"partition_list\" is not a list".to_owned()),
    };
    let address = value.get("address").and_then(Json::as_str).filter(|a| !a.is_empty()).map(str::to_owned);
    Ok(Stored { address, partitions })
}

/// The compute node's IPv6 and the prefix its partitions' IPv6 come from:
/// the interface address whose network holds the stored address, else the
/// one with the shortest prefix, else the node's ULA prefix. Addresses of
/// `partition_addresses` (added to the same interface by a previous run)
/// are never the node's.
fn computer_ipv6(setting: &Setting<'_>, stored_address: Option<&str>, partition_addresses: &BTreeSet<IpAddr>) -> (Address, (Ipv6Addr, u8)) {
    let globals: Vec<(Ipv6Addr, u8)> = setting
        .interface_addresses
        .iter()
        .filter(|a| a.global && !partition_addresses.contains(&a.addr))
        .filter_map(|a| match a.addr {
            IpAddr::V6(v6) => Some((v6, a.prefixlen)),
            IpAddr::V4(_) => None,
        })
        .collect();
    let stored: Option<Ipv6Addr> = stored_address.and_then(|a| a.parse().ok());
    let exact = stored.and_then(|s| globals.iter().find(|(a, _)| *a == s));
    let containing = exact.or_else(|| stored.and_then(|s| globals.iter().find(|(a, len)| address::ipv6_contains(*a, *len, s))));
    let chosen = containing.or_else(|| globals.iter().min_by_key(|(_, len)| *len)).copied();
    let ula = (address::ula_prefix(setting.computer_id), 64);
    let (computer, prefix) = match chosen {
        Some((addr, len)) if len <= 120 => ((addr, len), (addr, len)),
        Some(own) => (own, ula),
        None => match stored {
            Some(kept) => ((kept, 64), ula),
            None => ((Ipv6Addr::from(u128::from(ula.0) | 1), 64), ula),
        },
    };
    let address = Address { addr: computer.0.to_string(), netmask: address::ipv6_netmask(computer.1).to_string() };
    (address, prefix)
}

fn interface_dict(setting: &Setting<'_>) -> Json {
    json!({
        "name": setting.config.interface_name,
        "ipv4_local_network": setting.config.ipv4_local_network,
        "ipv6_interface": setting.config.ipv6_interface,
        "ipv6_prefixshift": setting.config.ipv6_prefixshift,
    })
}

fn computer(setting: &Setting<'_>, address: Address, interface: Json, partitions: Vec<PartitionDescription>) -> ComputerDescription {
    ComputerDescription {
        reference: setting.computer_id.to_owned(),
        address: address.addr,
        netmask: address.netmask,
        partitions,
        interface,
        ipv6_interface: setting.config.ipv6_interface.clone(),
        partition_has_ipv6_range: setting.config.partition_has_ipv6_range,
        software_user: setting.software_user.to_owned(),
        software_root: setting.software_root.display().to_string(),
        instance_root: setting.instance_root.display().to_string(),
        instance_storage_home: setting.instance_storage_home.to_owned(),
    }
}

/// Builds the description from the stored one (if any): stored partitions
/// kept, the missing ones added. Returns it with the references of the
/// partitions added.
///
/// # Errors
/// Fewer partitions requested than stored (the real node's text), a bad
/// `ipv4_local_network`, no free address left, or a stored partition whose
/// addresses are not one IPv4 and one IPv6.
pub(crate) fn plan(setting: &Setting<'_>, stored: Option<Stored>) -> Result<(ComputerDescription, Vec<String>), FormatError> {
    let config = setting.config;
    let (stored_address, mut partitions) = match stored {
        Some(stored) => (stored.address, stored.partitions),
        None => (None, Vec::new()),
    };
    if partitions.len() > config.partition_amount {
        return Err(FormatError::LowerAmount { requested: config.partition_amount, configured: partitions.len() });
    }
    let network_error = |reason: String| FormatError::Network {
        key: "ipv4_local_network",
        value: config.ipv4_local_network.clone(),
        reason,
    };
    let (ipv4_network, ipv4_prefixlen) = address::parse_ipv4_network(&config.ipv4_local_network).map_err(network_error)?;
    let mut used: BTreeSet<IpAddr> = BTreeSet::new();
    for partition in &partitions {
        for item in &partition.address_list {
            let parsed: IpAddr = item.addr.parse().map_err(|_| FormatError::StoredPartition {
                partition: partition.reference.clone(),
                reason: format!("{:?} is not an IP address", item.addr),
            })?;
            used.insert(parsed);
        }
    }
    let (computer_address, (ipv6_network, ipv6_prefixlen)) = computer_ipv6(setting, stored_address.as_deref(), &used);
    used.extend(setting.interface_addresses.iter().map(|a| a.addr));
    used.extend(computer_address.addr.parse::<IpAddr>().ok());
    let mut created = Vec::new();
    for index in partitions.len()..config.partition_amount {
        let name = format!("{}{index}", config.partition_base_name);
        created.push(name.clone());
        partitions.push(PartitionDescription {
            path: setting.instance_root.join(&name).display().to_string(),
            user: format!("{}{index}", config.user_base_name),
            address_list: Vec::new(),
            tap: empty_tap(&format!("slaptap{index}")),
            ipv6_range: json!({}),
            reference: name,
        });
    }
    for (index, partition) in partitions.iter_mut().enumerate() {
        let count = |v4: bool| partition.address_list.iter().filter(|a| a.addr.parse::<IpAddr>().is_ok_and(|ip| ip.is_ipv4() == v4)).count();
        let (ipv4_count, ipv6_count) = (count(true), count(false));
        if ipv4_count > 1 || ipv6_count > 1 {
            return Err(FormatError::StoredPartition {
                partition: partition.reference.clone(),
                reason: format!("address_list holds {ipv4_count} IPv4 and {ipv6_count} IPv6 addresses, expected one of each"),
            });
        }
        if ipv4_count == 0 {
            let picked = address::next_ipv4(ipv4_network, ipv4_prefixlen, &used)
                .ok_or_else(|| network_error(format!("no free IPv4 address left for {}", partition.reference)))?;
            used.insert(IpAddr::V4(picked));
            partition.address_list.insert(0, Address { addr: picked.to_string(), netmask: "255.255.255.255".to_owned() });
        }
        if ipv6_count == 0 {
            let start = u128::try_from(index).unwrap_or(u128::MAX).saturating_add(2);
            let picked = address::next_ipv6(ipv6_network, ipv6_prefixlen, start, &used).ok_or_else(|| FormatError::Network {
                key: "ipv6_interface",
                value: config.ipv6_interface.clone(),
                reason: format!("no free IPv6 address left in {ipv6_network}/{ipv6_prefixlen} for {}", partition.reference),
            })?;
            used.insert(IpAddr::V6(picked));
            let netmask = address::ipv6_netmask(ipv6_prefixlen).to_string();
            partition.address_list.push(Address { addr: picked.to_string(), netmask });
        }
        plan_ipv6_range(config, partition, index, (ipv6_network, ipv6_prefixlen))?;
    }
    Ok((computer(setting, computer_address, interface_dict(setting), partitions), created))
}

/// Refuses an `ipv6_prefixshift` too small for `partition_amount` (the
/// real node exits 1 on it, whatever `partition_has_ipv6_range` says).
///
/// # Errors
/// The rule `2**ipv6_prefixshift >= 4 * partition_amount` broken.
pub(crate) fn check_prefixshift(config: &FormatConfig) -> Result<(), FormatError> {
    if address::prefixshift_fits(config.ipv6_prefixshift, config.partition_amount) {
        return Ok(());
    }
    Err(FormatError::Network {
        key: "ipv6_prefixshift",
        value: config.ipv6_prefixshift.to_string(),
        reason: format!(
            "too small for partition_amount {}: each partition needs 4 IPv6 networks, so 2**ipv6_prefixshift must be at least {}",
            config.partition_amount,
            config.partition_amount.saturating_mul(4)
        ),
    })
}

/// Gives partition `index` its IPv6 range in `prefix` unless it has one
/// (a stored range is kept, checked), or drops it without
/// `partition_has_ipv6_range`.
fn plan_ipv6_range(config: &FormatConfig, partition: &mut PartitionDescription, index: usize, prefix: (Ipv6Addr, u8)) -> Result<(), FormatError> {
    if !config.partition_has_ipv6_range {
        partition.ipv6_range = json!({});
        return Ok(());
    }
    let stored = partition
        .ipv6_range_network()
        .map_err(|reason| FormatError::StoredPartition { partition: partition.reference.clone(), reason })?;
    if stored.is_some() {
        return Ok(());
    }
    let (prefix, prefixlen) = prefix;
    let (addr, range_prefixlen) =
        address::partition_ipv6_range(prefix, prefixlen, config.ipv6_prefixshift, index).ok_or_else(|| FormatError::Network {
            key: "ipv6_prefixshift",
            value: config.ipv6_prefixshift.to_string(),
            reason: format!(
                "no IPv6 range for {} in {prefix}/{prefixlen} (set partition_has_ipv6_range = false or a smaller shift)",
                partition.reference
            ),
        })?;
    partition.ipv6_range = range_dict(addr, range_prefixlen);
    Ok(())
}

/// Builds the description from a definition file's sections: the computer
/// address from `[computer] address` (derived as usual when absent), each
/// partition `i` < `partition_amount` from `[partition_i]`.
///
/// # Errors
/// A missing section or key, or an address that is not `addr/netmask`,
/// as a reason naming the section and key.
pub(crate) fn plan_definition(setting: &Setting<'_>, sections: &DefinitionSections) -> Result<ComputerDescription, String> {
    let (derived, _) = computer_ipv6(setting, None, &BTreeSet::new());
    let computer_address = match sections.get("computer").and_then(|s| s.get("address")).filter(|a| !a.is_empty()) {
        Some(text) => {
            let (addr, netmask) = definition::split_address(text).ok_or_else(|| format!("[computer] address = {text:?}: expected addr/netmask"))?;
            Address { addr: addr.to_owned(), netmask: netmask.to_owned() }
        }
        None => derived,
    };
    let mut partitions = Vec::with_capacity(setting.config.partition_amount);
    for index in 0..setting.config.partition_amount {
        let name = format!("partition_{index}");
        let section = sections.get(&name).ok_or_else(|| format!("no [{name}] section (partition_amount is {})", setting.config.partition_amount))?;
        let key = |key: &str| section.get(key).map(String::as_str).ok_or_else(|| format!("[{name}] has no {key}"));
        let pathname = key("pathname")?;
        if pathname.is_empty() || pathname.contains('/') || pathname == "." || pathname == ".." {
            return Err(format!("[{name}] pathname = {pathname:?}: expected a directory name"));
        }
        let mut address_list = Vec::new();
        for word in key("address")?.split_whitespace() {
            let (addr, netmask) = definition::split_address(word).ok_or_else(|| format!("[{name}] address: {word:?} is not addr/netmask"))?;
            address_list.push(Address { addr: addr.to_owned(), netmask: netmask.to_owned() });
        }
        let ipv6_range = match section.get("ipv6_range").filter(|r| !r.is_empty()) {
            Some(range) => ipv6_range(range).ok_or_else(|| format!("[{name}] ipv6_range = {range:?}: expected an IPv6 network"))?,
            None => json!({}),
        };
        partitions.push(PartitionDescription {
            reference: pathname.to_owned(),
            path: setting.instance_root.join(pathname).display().to_string(),
            user: key("user")?.to_owned(),
            address_list,
            tap: empty_tap(section.get("network_interface").map_or("", String::as_str)),
            ipv6_range,
        });
    }
    let interface = if setting.config.alter_network { interface_dict(setting) } else { Json::Null };
    Ok(computer(setting, computer_address, interface, partitions))
}

/// `{addr, netmask, network, prefixlen}` of `2001:db8:0:1::/80` (not strict:
/// host bits are cleared, as `ip_network(..., strict=False)` does).
fn ipv6_range(text: &str) -> Option<Json> {
    let (addr, length) = text.split_once('/')?;
    let addr: Ipv6Addr = addr.parse().ok()?;
    let prefixlen: u8 = length.parse().ok().filter(|l| *l <= 128)?;
    let network = Ipv6Addr::from(u128::from(addr) & u128::from(address::ipv6_netmask(prefixlen)));
    Some(range_dict(network, prefixlen))
}

/// The `ipv6_range` dict as the real node writes it: `addr` the range's
/// first address, `netmask` the mask as an address
/// (`ffff:ffff:ffff:ffff:ffff::`), `network` the text `addr/prefixlen`.
fn range_dict(network: Ipv6Addr, prefixlen: u8) -> Json {
    json!({
        "addr": network.to_string(),
        "netmask": address::ipv6_netmask(prefixlen).to_string(),
        "network": format!("{network}/{prefixlen}"),
        "prefixlen": prefixlen,
    })
}
