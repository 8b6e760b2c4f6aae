//! Address arithmetic of `slapos node format`, without I/O: netmask and
//! prefix conversions, the compute node's ULA prefix, picking the next free
//! IPv4 host of `ipv4_local_network` and IPv6 host of a prefix, the IPv6
//! range of each partition and the `ipv6_prefixshift` rule, and reading the
//! output of `ip -o addr show` and `ip -6 route show table local`.
//!
//! Picks are deterministic (lowest free host) where the real node draws at
//! random: the result is kept in `computer_xml` either way, and a
//! deterministic pick makes a fresh format reproducible.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address found on an interface, with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InterfaceAddress {
    pub(crate) addr: IpAddr,
    pub(crate) prefixlen: u8,
    /// `scope global` (ULAs included, as Linux reports them).
    pub(crate) global: bool,
}

/// The IPv6 netmask of a prefix length, as Python writes it
/// (`ffff:ffff:ffff:ffff::`).
pub(crate) fn ipv6_netmask(prefixlen: u8) -> Ipv6Addr {
    Ipv6Addr::from(mask128(prefixlen))
}

fn mask128(prefixlen: u8) -> u128 {
    match prefixlen {
        0 => 0,
        len if len >= 128 => u128::MAX,
        len => u128::MAX << (128 - u32::from(len)),
    }
}

fn mask32(prefixlen: u8) -> u32 {
    match prefixlen {
        0 => 0,
        len if len >= 32 => u32::MAX,
        len => u32::MAX << (32 - u32::from(len)),
    }
}

/// The prefix length of a netmask written as an address (`255.255.255.0`,
/// `ffff:ffff::`) or as a number (`24`); `None` if not contiguous.
pub(crate) fn prefixlen_of_netmask(netmask: &str) -> Option<u8> {
    if let Ok(length) = netmask.parse::<u8>() {
        return Some(length);
    }
    let (bits, width) = match netmask.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    };
    let ones = bits.leading_ones();
    // Contiguous: nothing set after the leading ones.
    let rest = bits.checked_shl(ones).unwrap_or(0);
    (rest == 0 && ones <= width).then(|| u8::try_from(ones).unwrap_or(u8::MAX))
}

/// The `fdXX:XXXX:XXXX::/64` prefix of a compute node without a global
/// IPv6: RFC 4193 global id from the md5 of its id, so every run and every
/// reinstall of the same node derives the same addresses.
pub(crate) fn ula_prefix(computer_id: &str) -> Ipv6Addr {
    use md5::{Digest, Md5};
    let digest = Md5::digest(computer_id.as_bytes());
    let mut octets = [0u8; 16];
    octets[0] = 0xfd;
    octets[1..6].copy_from_slice(&digest[..5]);
    Ipv6Addr::from(octets)
}

/// `ipv4_local_network` (`10.0.0.0/16`) as network and prefix length.
pub(crate) fn parse_ipv4_network(text: &str) -> Result<(Ipv4Addr, u8), String> {
    let (address, length) = text.split_once('/').ok_or("expected ADDRESS/PREFIXLEN")?;
    let address: Ipv4Addr = address.trim().parse().map_err(|_| format!("{address:?} is not an IPv4 address"))?;
    let length: u8 = length.trim().parse().ok().filter(|l| *l <= 32).ok_or("the prefix length must be 0..32")?;
    Ok((Ipv4Addr::from(u32::from(address) & mask32(length)), length))
}

/// The lowest host of `network/prefixlen` not in `used` (network and
/// broadcast excluded below /31).
pub(crate) fn next_ipv4(network: Ipv4Addr, prefixlen: u8, used: &BTreeSet<IpAddr>) -> Option<Ipv4Addr> {
    let first = u32::from(network) & mask32(prefixlen);
    let last = first | !mask32(prefixlen);
    let (low, high) = if prefixlen >= 31 { (first, last) } else { (first + 1, last - 1) };
    (low..=high).map(Ipv4Addr::from).find(|candidate| !used.contains(&IpAddr::V4(*candidate)))
}

/// The first address `network + n`, `n` from `start` up, not in `used`
/// (the real node starts at partition index + 2). Bounded by the prefix's
/// host space and by a million tries.
pub(crate) fn next_ipv6(network: Ipv6Addr, prefixlen: u8, start: u128, used: &BTreeSet<IpAddr>) -> Option<Ipv6Addr> {
    const TRIES_MAX: u128 = 1_000_000;
    let base = u128::from(network) & mask128(prefixlen);
    let host_max = !mask128(prefixlen);
    (start..start.saturating_add(TRIES_MAX))
        .take_while(|host| *host <= host_max)
        .map(|host| Ipv6Addr::from(base | host))
        .find(|candidate| !used.contains(&IpAddr::V6(*candidate)))
}

/// Whether `addr` lies in `network/prefixlen`.
pub(crate) fn ipv6_contains(network: Ipv6Addr, prefixlen: u8, addr: Ipv6Addr) -> bool {
    let mask = mask128(prefixlen);
    u128::from(network) & mask == u128::from(addr) & mask
}

/// Whether `ipv6_prefixshift` leaves each partition room for 4 networks
/// (its address, range, tap and tun), the real node's rule:
/// `2**shift >= 4 * partition_amount`.
pub(crate) fn prefixshift_fits(shift: u32, partition_amount: usize) -> bool {
    let needed = u128::try_from(partition_amount).unwrap_or(u128::MAX).saturating_mul(4);
    1u128.checked_shl(shift).is_none_or(|room| room >= needed)
}

/// The IPv6 range of partition `index` (spec §3 step 5): the prefix
/// `prefix/prefixlen` followed by `shift` bits holding
/// `(1 << (shift - 2)) + index + 1`, the rest 0; its length is
/// `prefixlen + shift`. `None` when it does not fit: `shift < 2`,
/// `prefixlen + shift > 128`, or a value wider than `shift` bits.
pub(crate) fn partition_ipv6_range(prefix: Ipv6Addr, prefixlen: u8, shift: u32, index: usize) -> Option<(Ipv6Addr, u8)> {
    let range_prefixlen = u32::from(prefixlen).checked_add(shift).filter(|length| *length <= 128)?;
    if shift < 2 {
        return None;
    }
    let value = (1u128 << (shift - 2)).checked_add(u128::try_from(index).ok()?)?.checked_add(1)?;
    if shift < 128 && value >> shift != 0 {
        return None;
    }
    // range_prefixlen >= shift >= 2, so the shift below is at most 126.
    let placed = value << (128 - range_prefixlen);
    let base = u128::from(prefix) & mask128(prefixlen);
    Some((Ipv6Addr::from(base | placed), u8::try_from(range_prefixlen).ok()?))
}

/// The networks routed as `local ... dev lo` in the output of
/// `ip -6 route show table local` (a plain address counts as a /128).
pub(crate) fn parse_local_routes(output: &str) -> Vec<(Ipv6Addr, u8)> {
    let mut found = Vec::new();
    for line in output.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() != Some(&"local") || !words.windows(2).any(|pair| pair == ["dev", "lo"]) {
            continue;
        }
        let Some(destination) = words.get(1) else { continue };
        let (addr, length) = destination.split_once('/').unwrap_or((destination, "128"));
        if let (Ok(addr), Ok(prefixlen)) = (addr.parse::<Ipv6Addr>(), length.parse::<u8>()) {
            found.push((addr, prefixlen));
        }
    }
    found
}

/// The addresses in the output of `ip -o addr show [dev IF]`.
pub(crate) fn parse_ip_addr_show(output: &str) -> Vec<InterfaceAddress> {
    let mut found = Vec::new();
    for line in output.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(position) = words.iter().position(|w| *w == "inet" || *w == "inet6") else { continue };
        let Some((addr, length)) = words.get(position + 1).and_then(|w| w.split_once('/')) else { continue };
        let (Ok(addr), Ok(prefixlen)) = (addr.parse::<IpAddr>(), length.parse::<u8>()) else { continue };
        let scope = words.iter().position(|w| *w == "scope").and_then(|i| words.get(i + 1));
        found.push(InterfaceAddress { addr, prefixlen, global: scope == Some(&"global") });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmasks_and_prefixes() {
        assert_eq!(ipv6_netmask(64).to_string(), "ffff:ffff:ffff:ffff::");
        assert_eq!(ipv6_netmask(128).to_string(), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        assert_eq!(prefixlen_of_netmask("255.255.255.255"), Some(32));
        assert_eq!(prefixlen_of_netmask("255.255.0.0"), Some(16));
        assert_eq!(prefixlen_of_netmask("ffff:ffff:ffff:ffff::"), Some(64));
        assert_eq!(prefixlen_of_netmask("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Some(128));
        assert_eq!(prefixlen_of_netmask("255.0.255.0"), None);
        assert_eq!(prefixlen_of_netmask("24"), Some(24));
    }

    #[test]
    fn ula_prefix_is_stable_and_private() {
        let prefix = ula_prefix("COMP-1234");
        assert_eq!(prefix, ula_prefix("COMP-1234"));
        assert_ne!(prefix, ula_prefix("COMP-1235"));
        assert_eq!(prefix.octets()[0], 0xfd);
        assert_eq!(&prefix.octets()[6..], &[0u8; 10]);
    }

    #[test]
    fn ipv4_hosts_skip_network_and_used() {
        let (network, length) = parse_ipv4_network("10.0.3.7/24").expect("valid");
        assert_eq!((network.to_string(), length), ("10.0.3.0".to_owned(), 24));
        let mut used = BTreeSet::new();
        assert_eq!(next_ipv4(network, length, &used), Some(Ipv4Addr::new(10, 0, 3, 1)));
        used.insert(IpAddr::V4(Ipv4Addr::new(10, 0, 3, 1)));
        assert_eq!(next_ipv4(network, length, &used), Some(Ipv4Addr::new(10, 0, 3, 2)));
        let (tiny, tiny_length) = parse_ipv4_network("10.0.0.4/32").expect("valid");
        used.insert(IpAddr::V4(tiny));
        assert_eq!(next_ipv4(tiny, tiny_length, &used), None);
        assert!(parse_ipv4_network("10.0.0.0").is_err());
        assert!(parse_ipv4_network("10.0.0.0/33").is_err());
    }

    #[test]
    fn ipv6_hosts_start_at_index_plus_two() {
        let network: Ipv6Addr = "2001:db8::".parse().expect("valid");
        let mut used = BTreeSet::new();
        assert_eq!(next_ipv6(network, 64, 2, &used), "2001:db8::2".parse().ok());
        used.insert("2001:db8::2".parse().expect("valid"));
        assert_eq!(next_ipv6(network, 64, 2, &used), "2001:db8::3".parse().ok());
        assert_eq!(next_ipv6(network, 127, 2, &used), None);
        assert!(ipv6_contains(network, 64, "2001:db8::ffff".parse().expect("valid")));
        assert!(!ipv6_contains(network, 64, "2001:db8:1::".parse().expect("valid")));
    }

    fn range(prefix: &str, prefixlen: u8, shift: u32, index: usize) -> Option<String> {
        let prefix: Ipv6Addr = prefix.parse().expect("valid");
        partition_ipv6_range(prefix, prefixlen, shift, index).map(|(addr, length)| format!("{addr}/{length}"))
    }

    #[test]
    fn partition_ranges_follow_the_prefix() {
        assert_eq!(range("2001:db8::", 64, 16, 0).as_deref(), Some("2001:db8:0:0:4001::/80"));
        assert_eq!(range("2001:db8::", 64, 16, 1).as_deref(), Some("2001:db8:0:0:4002::/80"));
        assert_eq!(range("2001:db8::1234", 64, 16, 9).as_deref(), Some("2001:db8:0:0:400a::/80"), "host bits cleared");
        assert_eq!(range("fd00:1:2::", 48, 8, 3).as_deref(), Some("fd00:1:2:4400::/56"));
        assert_eq!(range("2001:db8::", 64, 4, 2).as_deref(), Some("2001:db8:0:0:7000::/68"));
        assert_eq!(range("2001:db8::", 120, 8, 0).as_deref(), Some("2001:db8::41/128"));
        assert_eq!(range("2001:db8::", 120, 16, 0), None, "longer than 128 bits");
        assert_eq!(range("2001:db8::", 64, 1, 0), None, "shift below 2");
        assert_eq!(range("2001:db8::", 64, 4, 12), None, "value wider than the shift");
    }

    #[test]
    fn prefixshift_rule() {
        assert!(prefixshift_fits(16, 10));
        assert!(prefixshift_fits(4, 4));
        assert!(!prefixshift_fits(4, 5));
        assert!(!prefixshift_fits(1, 1));
        assert!(prefixshift_fits(0, 0));
        assert!(prefixshift_fits(200, usize::MAX));
    }

    #[test]
    fn reads_local_routes() {
        let output = "local ::1 dev lo proto kernel metric 0 pref medium\n\
                      local 2001:db8:0:0:4001::/80 dev lo metric 1024 pref medium\n\
                      local 2001:db8:0:0:4002::/80 dev eth0 metric 1024 pref medium\n\
                      multicast ff00::/8 dev lo proto kernel metric 256 pref medium\n";
        let found = parse_local_routes(output);
        assert_eq!(found, [("::1".parse().expect("valid"), 128), ("2001:db8:0:0:4001::".parse().expect("valid"), 80)]);
    }

    #[test]
    fn reads_ip_addr_show() {
        let output = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n\
                      2: eth0    inet6 fd00::2/64 scope global \\       valid_lft forever preferred_lft forever\n\
                      2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever\n";
        let found = parse_ip_addr_show(output);
        assert_eq!(found.len(), 3);
        assert_eq!(found[1], InterfaceAddress { addr: "fd00::2".parse().expect("valid"), prefixlen: 64, global: true });
        assert!(!found[0].global && !found[2].global);
    }
}
