//! The master's validated configuration. The command line reads
//! `slapos.cfg` (`[slapos]`, `[slapproxy]`) and hands this over; the
//! library never reads files or the environment.

use std::collections::BTreeMap;

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
}

impl MasterConfig {
    /// A configuration with defaults and the given default computer.
    pub fn new(computer_id: impl Into<String>) -> MasterConfig {
        MasterConfig {
            computer_id: computer_id.into(),
            software_products: BTreeMap::new(),
            body_limit_bytes: BODY_LIMIT_BYTES_DEFAULT,
        }
    }
}
