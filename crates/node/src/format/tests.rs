//! Unit tests of the planner: what a stored description keeps, the amount
//! rule, address picks, and reading a `computer_xml` the Python node wrote
//! (pretty-printed by lxml).

use std::path::Path;

use super::address::InterfaceAddress;
use super::model::{self, Setting};
use super::FormatError;
use crate::config::{FormatConfig, Sections};

fn config(amount: usize) -> FormatConfig {
    let keys = [("partition_amount", amount.to_string()), ("ipv4_local_network", "10.1.0.0/16".to_owned())];
    let sections: Sections =
        [("slapformat".to_owned(), keys.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())].into_iter().collect();
    FormatConfig::from_sections(&sections).expect("valid")
}

fn check(amount: usize, interface: &[InterfaceAddress], stored: Option<model::Stored>) -> Result<(model::ComputerDescription, Vec<String>), FormatError> {
    let config = config(amount);
    let setting = Setting {
        computer_id: "COMP-1",
        config: &config,
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
