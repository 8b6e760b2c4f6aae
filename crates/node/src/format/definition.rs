//! The definition file (`[slapformat] input_definition_file`, spec §3):
//! an INI file that gives the computer address and, per partition, its
//! directory name, user, addresses and IPv6 range explicitly. Non-root
//! nodes use it instead of letting format pick addresses and users.
//!
//! Only what `ConfigParser` needs for this file is read: `[section]`
//! headers, `key = value` or `key: value` lines, `#`/`;` comment lines and
//! indented continuation lines. Keys are lower-cased as ConfigParser does.

use std::collections::BTreeMap;

/// The sections of a definition file: section → key → value.
pub(crate) type DefinitionSections = BTreeMap<String, BTreeMap<String, String>>;

/// A syntax problem: the 1-based line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) line: usize,
    pub(crate) reason: String,
}

/// Parses the INI text of a definition file.
pub(crate) fn parse(text: &str) -> Result<DefinitionSections, SyntaxError> {
    let mut sections = DefinitionSections::new();
    let mut section: Option<String> = None;
    let mut last_key: Option<String> = None;
    for (index, raw) in text.lines().enumerate() {
        let line_number = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let error = |reason: &str| SyntaxError { line: line_number, reason: reason.to_owned() };
        if raw.starts_with([' ', '\t']) {
            let (Some(name), Some(key)) = (&section, &last_key) else {
                return Err(error("continuation line without a key before it"));
            };
            if let Some(value) = sections.get_mut(name).and_then(|keys| keys.get_mut(key)) {
                value.push('\n');
                value.push_str(trimmed);
            }
            continue;
        }
        if let Some(header) = trimmed.strip_prefix('[') {
            let name = header.strip_suffix(']').ok_or_else(|| error("section header without a closing ]"))?;
            sections.entry(name.to_owned()).or_default();
            section = Some(name.to_owned());
            last_key = None;
            continue;
        }
        let name = section.as_ref().ok_or_else(|| error("key outside of any [section]"))?;
        let split = trimmed.find(['=', ':']).ok_or_else(|| error("expected key = value"))?;
        let key = trimmed[..split].trim().to_lowercase();
        let value = trimmed[split + 1..].trim().to_owned();
        sections.entry(name.clone()).or_default().insert(key.clone(), value);
        last_key = Some(key);
    }
    Ok(sections)
}

/// `addr/netmask`, as the `address` keys hold them.
pub(crate) fn split_address(text: &str) -> Option<(&str, &str)> {
    let (address, netmask) = text.split_once('/')?;
    Some((address, netmask)).filter(|(a, n)| !a.is_empty() && !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_spec_example() {
        let text = "[computer]\naddress = 10.0.0.1/255.255.255.255\n[partition_0]\naddress = 10.0.0.2/255.255.255.255 2001:db8::2/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\nipv6_range = 2001:db8:0:1::/80\npathname = slappart0\nuser = alice\nnetwork_interface =\n";
        let sections = parse(text).expect("valid");
        assert_eq!(sections["computer"]["address"], "10.0.0.1/255.255.255.255");
        let partition = &sections["partition_0"];
        assert_eq!(partition["pathname"], "slappart0");
        assert_eq!(partition["user"], "alice");
        assert_eq!(partition["network_interface"], "");
        assert_eq!(partition["ipv6_range"], "2001:db8:0:1::/80");
        assert_eq!(split_address("10.0.0.2/255.255.255.255"), Some(("10.0.0.2", "255.255.255.255")));
        assert_eq!(split_address("10.0.0.2"), None);
    }

    #[test]
    fn comments_continuations_and_case() {
        let text = "# head\n[partition_1]\n; note\nAddress: 10.0.0.3/255.255.255.255\n  fd00::3/ffff:ffff:ffff:ffff::\n";
        let sections = parse(text).expect("valid");
        assert_eq!(sections["partition_1"]["address"], "10.0.0.3/255.255.255.255\nfd00::3/ffff:ffff:ffff:ffff::");
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("key = 1\n").map_err(|e| e.line), Err(1));
        assert_eq!(parse("[a]\n\n[b\n").map_err(|e| e.line), Err(3));
        assert_eq!(parse("[a]\njunk\n").map_err(|e| e.reason), Err("expected key = value".to_owned()));
    }
}
