//! The master's validated configuration. The command line reads
//! `slapos.cfg` (`[slapos]`, `[slapproxy]`, `[multimaster/<url>]`) and
//! hands this over; the library never reads files or the environment.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Default cap on a request body: SLAP bodies are a few kilobytes, a large
/// computer format a few megabytes.
pub const BODY_LIMIT_BYTES_DEFAULT: usize = 16 * 1024 * 1024;

/// How the master behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct MasterConfig {
    /// The default computer (`[slapos] computer_id`): target of requests
    /// whose SLA names none; answers `getFullComputerInformation` even
    /// before it is formatted.
    pub computer_id: String,
    /// Software products (`[slapproxy] software_product_list`): name → URL.
    pub software_products: BTreeMap<String, String>,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Other masters requests may be forwarded to (`[multimaster/<url>]`
    /// sections, §7.9), keyed by the URL exactly as the section names it:
    /// an SLA `master_url` must spell it the same way.
    pub multimasters: BTreeMap<String, Multimaster>,
}

/// Another SlapOS master this one forwards requests to (§7.9).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Multimaster {
    /// `key`: TLS client key for an `https` master.
    pub key_file: Option<PathBuf>,
    /// `cert`: TLS client certificate for an `https` master.
    pub cert_file: Option<PathBuf>,
    /// `computer`: with `partition_id`, requests are sent as this partition
    /// of the other master (they join its instance tree) instead of as a
    /// user.
    pub computer_id: Option<String>,
    /// `partition`: see `computer_id`.
    pub partition_id: Option<String>,
    /// `software_release_list`: requests for these software releases are
    /// forwarded there even without an SLA `master_url`.
    pub software_releases: Vec<String>,
}

impl MasterConfig {
    /// A configuration with defaults and the given default computer.
    pub fn new(computer_id: impl Into<String>) -> MasterConfig {
        MasterConfig {
            computer_id: computer_id.into(),
            software_products: BTreeMap::new(),
            body_limit_bytes: BODY_LIMIT_BYTES_DEFAULT,
            multimasters: BTreeMap::new(),
        }
    }
}
