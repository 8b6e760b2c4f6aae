//! Unit tests of the planner: what a stored description keeps, the amount
//! rule, address picks, IPv6 ranges and the `ipv6_prefixshift` rule, and
//! reading a `computer_xml` the Python node wrote
//! (pretty-printed by lxml).

use std::path::Path;

use super::address::InterfaceAddress;
use super::model::{self, Setting};
use super::FormatError;
use crate::config::{FormatConfig, Sections};

fn config(amount: usize, extra: &[(&str, &str)]) -> FormatConfig {
    let mut keys = vec![("partition_amount", amount.to_string()), ("ipv4_local_network", "10.1.0.0/16".to_owned())];
    keys.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let sections: Sections =
        [("slapformat".to_owned(), keys.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())].into_iter().collect();
    FormatConfig::from_sections(&sections).expect("valid")
}

fn check(amount: usize, interface: &[InterfaceAddress], stored: Option<model::Stored>) -> Result<(model::ComputerDescription, Vec<String>), FormatError> {
    check_with(&config(amount, &[]), interface, stored)
}

fn check_with(config: &FormatConfig, interface: &[InterfaceAddress], stored: Option<model::Stored>) -> Result<(model::ComputerDescription, Vec<String>), FormatError> {
    let setting = Setting {
        computer_id: "COMP-1",
        config,
        software_root: Path::new("/opt/slapgrid"),
        instance_root: Path::new("/srv/slapgrid"),
        instance_storage_home: "",
        software_user: "slapsoft",
        interface_addresses: interface,
    };
    model::plan(&setting, stored)
}

fn stored_of(computer: &model::ComputerDescription) -> model::Stored {
    model::stored_from_json(&computer.to_json()).expect("own description reads back")
}

#[test]
fn new_partitions_get_deterministic_addresses() {
    let global = InterfaceAddress { addr: "2001:db8::1".parse().expect("valid"), prefixlen: 64, global: true };
    let (computer, created) = check(2, &[global], None).expect("plan");
    assert_eq!(created, ["slappart0", "slappart1"]);
    assert_eq!((computer.address.as_str(), computer.netmask.as_str()), ("2001:db8::1", "ffff:ffff:ffff:ffff::"));
    let addresses: Vec<Vec<&str>> =
        computer.partitions.iter().map(|p| p.address_list.iter().map(|a| a.addr.as_str()).collect()).collect();
    assert_eq!(addresses, [["10.1.0.1", "2001:db8::2"], ["10.1.0.2", "2001:db8::3"]]);
    assert_eq!(computer.partitions[1].path, "/srv/slapgrid/slappart1");
}

#[test]
fn without_a_global_ipv6_the_node_uses_its_ula() {
    let (computer, _) = check(1, &[], None).expect("plan");
    let prefix = super::address::ula_prefix("COMP-1");
    assert_eq!(computer.address, std::net::Ipv6Addr::from(u128::from(prefix) | 1).to_string());
    assert_eq!(computer.partitions[0].address_list[1].addr, std::net::Ipv6Addr::from(u128::from(prefix) | 2).to_string());
}

#[test]
fn stored_partitions_are_kept_and_fewer_is_refused() {
    let (first, _) = check(2, &[], None).expect("plan");
    let (again, created) = check(3, &[], Some(stored_of(&first))).expect("grow");
    assert_eq!(created, ["slappart2"]);
    assert_eq!(again.partitions[..2], first.partitions[..]);
    let error = check(1, &[], Some(stored_of(&again))).expect_err("shrink");
    assert!(matches!(error, FormatError::LowerAmount { requested: 1, configured: 3 }), "{error:?}");
}

#[test]
fn reads_a_pretty_printed_python_description() {
    let xml = "<?xml version='1.0' encoding='UTF-8'?>\n<marshal>\n  <dictionary id=\"i2\">\n    <string>address</string>\n    <string>fd00::1</string>\n    <string>partition_list</string>\n    <list id=\"i3\">\n      <dictionary id=\"i4\">\n        <string>address_list</string>\n        <list id=\"i5\">\n          <dictionary id=\"i6\">\n            <string>addr</string>\n            <string>10.1.0.9</string>\n            <string>netmask</string>\n            <string>255.255.255.255</string>\n          </dictionary>\n        </list>\n        <string>path</string>\n        <string>/srv/slapgrid/slappart0</string>\n        <string>reference</string>\n        <string>slappart0</string>\n      </dictionary>\n    </list>\n  </dictionary>\n</marshal>\n";
    let value = proto::marshal::decode(xml.as_bytes()).expect("pretty XML decodes");
    let stored = model::stored_from_json(&client::value_to_json(&value)).expect("stored");
    let (computer, created) = check(1, &[], Some(stored)).expect("plan");
    assert!(created.is_empty());
    let addresses: Vec<&str> = computer.partitions[0].address_list.iter().map(|a| a.addr.as_str()).collect();
    assert_eq!(addresses[0], "10.1.0.9");
    assert_eq!(addresses.len(), 2, "the missing IPv6 is added");
}

fn ranges(computer: &model::ComputerDescription) -> Vec<String> {
    computer.partitions.iter().map(|p| p.ipv6_range["network"].as_str().unwrap_or("{}").to_owned()).collect()
}

#[test]
fn new_partitions_get_ipv6_ranges_after_the_prefix() {
    let global = InterfaceAddress { addr: "2001:db8::1".parse().expect("valid"), prefixlen: 64, global: true };
    let (computer, _) = check(2, &[global], None).expect("plan");
    assert_eq!(ranges(&computer), ["2001:db8:0:0:4001::/80", "2001:db8:0:0:4002::/80"]);
    let range = &computer.partitions[0].ipv6_range;
    assert_eq!(range["addr"], "2001:db8:0:0:4001::");
    assert_eq!(range["netmask"], "ffff:ffff:ffff:ffff:ffff::");
    assert_eq!(range["prefixlen"], 80);
    let json = computer.to_json();
    assert_eq!(json["partition_has_ipv6_range"], true);
    assert_eq!(json["interface"]["ipv6_prefixshift"], 16);
    assert_eq!(json["partition_list"][1]["ipv6_range"]["network"], "2001:db8:0:0:4002::/80");
}

#[test]
fn stored_ranges_are_kept_and_checked() {
    let global = InterfaceAddress { addr: "2001:db8::1".parse().expect("valid"), prefixlen: 64, global: true };
    let (first, _) = check(1, &[global], None).expect("plan");
    let mut stored = stored_of(&first);
    stored.partitions[0].ipv6_range = serde_json::json!({"addr": "2001:db8:0:7::", "prefixlen": 64, "netmask": "ffff:ffff:ffff:ffff::", "network": "2001:db8:0:7::/64"});
    let (again, _) = check(2, &[global], Some(stored)).expect("grow");
    assert_eq!(ranges(&again), ["2001:db8:0:7::/64", "2001:db8:0:0:4002::/80"]);
    let mut broken = stored_of(&first);
    broken.partitions[0].ipv6_range = serde_json::json!({"addr": "not an address"});
    let error = check(1, &[global], Some(broken)).expect_err("unusable range");
    assert!(matches!(error, FormatError::StoredPartition { ref partition, .. } if partition == "slappart0"), "{error:?}");
}

#[test]
fn ranges_off_gives_empty_dicts() {
    let config = config(2, &[("partition_has_ipv6_range", "false"), ("ipv6_prefixshift", "8")]);
    let (computer, _) = check_with(&config, &[], None).expect("plan");
    assert!(computer.partitions.iter().all(|p| p.ipv6_range == serde_json::json!({})));
    let json = computer.to_json();
    assert_eq!(json["partition_has_ipv6_range"], false);
    assert_eq!(json["interface"]["ipv6_prefixshift"], 8);
    let (with_ranges, _) = check(2, &[], None).expect("plan");
    let (without, _) = check_with(&config, &[], Some(stored_of(&with_ranges))).expect("re-plan");
    assert!(without.partitions.iter().all(|p| p.ipv6_range == serde_json::json!({})), "stored ranges dropped");
}

#[test]
fn prefixshift_must_leave_four_networks_per_partition() {
    assert!(model::check_prefixshift(&config(4, &[("ipv6_prefixshift", "4")])).is_ok());
    let error = model::check_prefixshift(&config(5, &[("ipv6_prefixshift", "4")])).expect_err("too small");
    let text = error.to_string();
    assert!(text.starts_with("[slapformat] ipv6_prefixshift = \"4\": too small for partition_amount 5"), "{text}");
    let long_prefix = InterfaceAddress { addr: "2001:db8::1".parse().expect("valid"), prefixlen: 120, global: true };
    let error = check(1, &[long_prefix], None).expect_err("/120 + 16 > 128");
    assert!(matches!(error, FormatError::Network { key: "ipv6_prefixshift", .. }), "{error:?}");
}
