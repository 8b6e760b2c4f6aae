//! The node's configuration, read from the sections of `slapos.cfg`
//! (spec §1): `[slapos]` for every loop, `[slapformat]` under `[slapos]`
//! for `format`. Parsing the INI syntax is the caller's job; here the
//! keys are checked and defaulted, and errors name the section and key.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Parsed sections of a configuration file: section → key → value.
pub type Sections = BTreeMap<String, BTreeMap<String, String>>;

/// A missing, empty or malformed key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Required keys absent (the real node's text).
    #[error("Missing mandatory parameters: {}", .0.join(", "))]
    Missing(Vec<String>),
    /// Required keys present but empty (the real node's text).
    #[error("Mandatory parameters present but empty: {}", .0.join(", "))]
    Empty(Vec<String>),
    /// A value that does not parse.
    #[error("[{section}] {key} = {value:?}: {expected}")]
    Invalid {
        /// The section.
        section: String,
        /// The key.
        key: String,
        /// The value found.
        value: String,
        /// What was expected.
        expected: String,
    },
}

/// What every loop of the node needs (`[slapos]`).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    /// This compute node's id on the master.
    pub computer_id: String,
    /// The master's URL (classic SLAP API).
    pub master_url: String,
    /// Where software releases are built (`<software_root>/<md5(url)>`).
    pub software_root: PathBuf,
    /// Where partitions live (`<instance_root>/slappartN`).
    pub instance_root: PathBuf,
    /// TLS client key and certificate of the node.
    pub key_file: Option<PathBuf>,
    /// TLS client certificate of the node.
    pub cert_file: Option<PathBuf>,
    /// Directory of the partitions' `P.crt`/`P.key`.
    pub certificate_repository_path: Option<PathBuf>,
    /// Directories of parts shared between releases (newline list).
    pub shared_part_list: Vec<String>,
    /// Shared parts only needed while building (newline list).
    pub build_time_part_list: Vec<String>,
    /// A partition whose timestamp did not change is still reprocessed
    /// after this many seconds.
    pub maximum_periodicity: i64,
    /// Seconds a promise may run.
    pub promise_timeout: u64,
    /// Seconds an instance buildout may run (none: no limit).
    pub partition_timeout: Option<u64>,
    /// `[storage-configuration] storage-home` of the instance profiles.
    pub instance_storage_home: String,
    /// `[network-information] global-ipv4-network` of the instance profiles.
    pub ipv4_global_network: String,
    /// Bytes that must be free before a release is built (`1000M`).
    pub software_min_free_space: u64,
    /// Bytes that must be free before a partition is deployed (`1000M`).
    pub instance_min_free_space: u64,
}

/// What `slapos node format` needs (`[slapformat]`, `[slapos]` over it).
#[derive(Debug, Clone, PartialEq)]
pub struct FormatConfig {
    /// How many partitions the node has.
    pub partition_amount: usize,
    /// `slappart`: partition N is `<base>N`.
    pub partition_base_name: String,
    /// `slapuser`: partition N runs as `<base>N` when the node runs as root.
    pub user_base_name: String,
    /// The interface addresses are added to (`lo` on a laptop).
    pub interface_name: String,
    /// The interface of the IPv6 addresses (default: `interface_name`).
    pub ipv6_interface: String,
    /// Private IPv4 network the partitions' addresses come from.
    pub ipv4_local_network: String,
    /// Create users (root only).
    pub alter_user: bool,
    /// Add addresses to interfaces (root only).
    pub alter_network: bool,
    /// Give every partition its own IPv6 range (`ipv6_range`), routed to
    /// `lo` when the node runs as root.
    pub partition_has_ipv6_range: bool,
    /// Bits a partition's range adds to the interface prefix (16: a /64
    /// gives /80 ranges); `2**shift >= 4 * partition_amount` is required.
    pub ipv6_prefixshift: u32,
    /// Where the computer description is kept between runs.
    pub computer_xml: PathBuf,
    /// Optional JSON copy of it.
    pub computer_json: Option<PathBuf>,
    /// A definition file giving addresses and users explicitly.
    pub input_definition_file: Option<PathBuf>,
}

impl NodeConfig {
    /// Reads `[slapos]`.
    ///
    /// # Errors
    /// A required key missing or empty, or a number that does not parse.
    pub fn from_sections(sections: &Sections) -> Result<NodeConfig, ConfigError> {
        let slapos = Section::new(sections, "slapos");
        let required = ["computer_id", "master_url", "software_root", "instance_root"];
        let missing: Vec<String> = required.iter().filter(|k| slapos.get(k).is_none()).map(|k| (*k).to_owned()).collect();
        if !missing.is_empty() {
            return Err(ConfigError::Missing(missing));
        }
        let empty: Vec<String> =
            required.iter().filter(|k| slapos.get(k).is_some_and(str::is_empty)).map(|k| (*k).to_owned()).collect();
        if !empty.is_empty() {
            return Err(ConfigError::Empty(empty));
        }
        let text = |key: &str| slapos.get(key).unwrap_or_default().to_owned();
        let path = |key: &str| slapos.get(key).filter(|v| !v.is_empty()).map(PathBuf::from);
        Ok(NodeConfig {
            computer_id: text("computer_id"),
            master_url: text("master_url"),
            software_root: PathBuf::from(text("software_root")),
            instance_root: PathBuf::from(text("instance_root")),
            key_file: path("key_file"),
            cert_file: path("cert_file"),
            certificate_repository_path: path("certificate_repository_path"),
            shared_part_list: lines(slapos.get("shared_part_list")),
            build_time_part_list: lines(slapos.get("build_time_part_list")),
            maximum_periodicity: slapos.number("maximum_periodicity", 86_400)?,
            promise_timeout: slapos.number("promise_timeout", 20)?,
            partition_timeout: slapos.get("partition_timeout").filter(|v| !v.is_empty()).map(|_| slapos.number("partition_timeout", 0)).transpose()?,
            instance_storage_home: text("instance_storage_home"),
            ipv4_global_network: text("ipv4_global_network"),
            software_min_free_space: slapos.size("software_min_free_space")?,
            instance_min_free_space: slapos.size("instance_min_free_space")?,
        })
    }
}

impl FormatConfig {
    /// Reads `[slapformat]` with `[slapos]` over it, as the real node does.
    ///
    /// # Errors
    /// A number or boolean that does not parse.
    pub fn from_sections(sections: &Sections) -> Result<FormatConfig, ConfigError> {
        let mut merged = sections.get("slapformat").cloned().unwrap_or_default();
        merged.extend(sections.get("slapos").cloned().unwrap_or_default());
        let both = BTreeMap::from([("slapformat".to_owned(), merged)]);
        let format = Section::new(&both, "slapformat");
        let text = |key: &str, default: &str| format.get(key).unwrap_or(default).to_owned();
        let interface_name = text("interface_name", "lo");
        Ok(FormatConfig {
            partition_amount: format.number("partition_amount", 10)?,
            partition_base_name: text("partition_base_name", "slappart"),
            user_base_name: text("user_base_name", "slapuser"),
            ipv6_interface: format.get("ipv6_interface").filter(|v| !v.is_empty()).unwrap_or(&interface_name).to_owned(),
            interface_name,
            ipv4_local_network: text("ipv4_local_network", "10.0.0.0/16"),
            alter_user: format.boolean("alter_user", true)?,
            alter_network: format.boolean("alter_network", true)?,
            partition_has_ipv6_range: format.boolean("partition_has_ipv6_range", true)?,
            ipv6_prefixshift: format.number("ipv6_prefixshift", 16)?,
            computer_xml: PathBuf::from(text("computer_xml", "/opt/slapos/slapos.xml")),
            computer_json: format.get("computer_json").filter(|v| !v.is_empty()).map(PathBuf::from),
            input_definition_file: format.get("input_definition_file").filter(|v| !v.is_empty()).map(PathBuf::from),
        })
    }
}

/// The non-empty, trimmed lines of a list value.
fn lines(value: Option<&str>) -> Vec<String> {
    value.unwrap_or_default().lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// One section, with typed getters whose errors name it.
struct Section<'a> {
    name: &'a str,
    keys: Option<&'a BTreeMap<String, String>>,
}

impl<'a> Section<'a> {
    fn new(sections: &'a Sections, name: &'a str) -> Section<'a> {
        Section { name, keys: sections.get(name) }
    }

    fn get(&self, key: &str) -> Option<&'a str> {
        self.keys.and_then(|keys| keys.get(key)).map(|v| v.trim())
    }

    fn number<N: std::str::FromStr>(&self, key: &str, default: N) -> Result<N, ConfigError> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|_| self.invalid(key, value, "a whole number")),
        }
    }

    /// A size as slapos.core reads it (`1000M`, the default).
    fn size(&self, key: &str) -> Result<u64, ConfigError> {
        let value = self.get(key).filter(|v| !v.is_empty()).unwrap_or("1000M");
        crate::disk::human2bytes(value).map_err(|_| self.invalid(key, value, "a size such as 1000M or 2 GB"))
    }

    /// `True`/`False` as the real node accepts them (also lower case).
    fn boolean(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(value) if value.eq_ignore_ascii_case("true") => Ok(true),
            Some(value) if value.eq_ignore_ascii_case("false") => Ok(false),
            Some(value) => Err(self.invalid(key, value, "True or False")),
        }
    }

    fn invalid(&self, key: &str, value: &str, expected: &str) -> ConfigError {
        ConfigError::Invalid {
            section: self.name.to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
            expected: expected.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(text: &[(&str, &[(&str, &str)])]) -> Sections {
        text.iter()
            .map(|(name, keys)| ((*name).to_owned(), keys.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()))
            .collect()
    }

    #[test]
    fn required_keys_are_named_when_missing_or_empty() {
        let missing = NodeConfig::from_sections(&sections(&[("slapos", &[("computer_id", "C")])]));
        assert_eq!(missing, Err(ConfigError::Missing(vec!["master_url".into(), "software_root".into(), "instance_root".into()])));
        let empty = NodeConfig::from_sections(&sections(&[(
            "slapos",
            &[("computer_id", ""), ("master_url", "http://m"), ("software_root", "/s"), ("instance_root", "/i")],
        )]));
        assert_eq!(empty, Err(ConfigError::Empty(vec!["computer_id".into()])));
    }

    #[test]
    fn defaults_and_lists() {
        let config = NodeConfig::from_sections(&sections(&[(
            "slapos",
            &[
                ("computer_id", "C"),
                ("master_url", "http://m"),
                ("software_root", "/s"),
                ("instance_root", "/i"),
                ("shared_part_list", "\n  /a\n\n  /b"),
                ("partition_timeout", "30"),
            ],
        )]))
        .expect("valid");
        assert_eq!(config.maximum_periodicity, 86_400);
        assert_eq!(config.promise_timeout, 20);
        assert_eq!(config.partition_timeout, Some(30));
        assert_eq!(config.shared_part_list, vec!["/a".to_owned(), "/b".to_owned()]);
        assert_eq!(config.key_file, None);
        assert_eq!(config.software_min_free_space, 1_048_576_000);
    }

    #[test]
    fn format_reads_slapformat_under_slapos() {
        let config = FormatConfig::from_sections(&sections(&[
            ("slapformat", &[("partition_amount", "3"), ("interface_name", "eth0"), ("alter_user", "false")]),
            ("slapos", &[("partition_amount", "4")]),
        ]))
        .expect("valid");
        assert_eq!((config.partition_amount, config.ipv6_interface.as_str(), config.alter_user), (4, "eth0", false));
        assert_eq!((config.partition_has_ipv6_range, config.ipv6_prefixshift), (true, 16));
        let ranges = FormatConfig::from_sections(&sections(&[(
            "slapformat",
            &[("partition_has_ipv6_range", "False"), ("ipv6_prefixshift", "8")],
        )]))
        .expect("valid");
        assert_eq!((ranges.partition_has_ipv6_range, ranges.ipv6_prefixshift), (false, 8));
        let shift = FormatConfig::from_sections(&sections(&[("slapformat", &[("ipv6_prefixshift", "-1")])]));
        assert!(matches!(shift, Err(ConfigError::Invalid { ref key, .. }) if key == "ipv6_prefixshift"), "{shift:?}");
        let bad = FormatConfig::from_sections(&sections(&[("slapformat", &[("alter_network", "yes")])]));
        assert!(matches!(bad, Err(ConfigError::Invalid { ref key, .. }) if key == "alter_network"), "{bad:?}");
    }
}
