//! Unit tests of SLA parsing.

use std::collections::BTreeMap;

use super::{Sla, SlaError};
use crate::marshal::{decode, Value};

#[test]
fn reads_the_marshalled_filter_dict() {
    let xml = r#"<marshal><dictionary id="i2"><string>computer_guid</string><string>COMP-1</string><string>fw_restricted_access</string><bool>0</bool><string>mode</string><string>unique_by_network</string><string>retention_delay</string><int>7</int><string>x</string><list id="i3"><int>1</int></list></dictionary></marshal>"#;
    let sla = Sla::from_value(&decode(xml.as_bytes()).unwrap()).unwrap();
    assert_eq!(sla.computer_guid.as_deref(), Some("COMP-1"));
    assert_eq!(sla.mode.as_deref(), Some("unique_by_network"));
    assert_eq!(sla.retention_delay.as_deref(), Some("7"));
    assert_eq!(sla.instance_guid, None);
    let other: BTreeMap<String, String> = [("fw_restricted_access", "False"), ("x", "[1]")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(sla.other, other);
}

#[test]
fn none_values_are_absent_and_non_string_keys_are_stringified() {
    let value = Value::Dict(vec![
        (Value::str("computer_guid"), Value::None),
        (Value::Int(1), Value::Float(2.0)),
    ]);
    let sla = Sla::from_value(&value).unwrap();
    assert_eq!(sla.computer_guid, None);
    assert_eq!(sla.other.get("1").map(String::as_str), Some("2.0"));
}

#[test]
fn reads_json_objects() {
    let json = serde_json::json!({"instance_guid": "COMP-1-slappart0", "master_url": "http://m/", "n": 1.0, "b": true, "z": null});
    let sla = Sla::from_json(&json).unwrap();
    assert_eq!(sla.instance_guid.as_deref(), Some("COMP-1-slappart0"));
    assert_eq!(sla.master_url.as_deref(), Some("http://m/"));
    assert_eq!(sla.other.get("n").map(String::as_str), Some("1.0"));
    assert_eq!(sla.other.get("b").map(String::as_str), Some("True"));
    assert!(!sla.other.contains_key("z"));
}

#[test]
fn non_dicts_are_named() {
    assert_eq!(
        Sla::from_value(&Value::List(vec![])),
        Err(SlaError::NotADict {
            found: "list".to_owned()
        })
    );
    assert_eq!(
        Sla::from_json(&serde_json::json!([1])).map_err(|error| error.to_string()),
        Err("sla must be a dict, not array".to_owned())
    );
}

#[test]
fn to_value_round_trips() {
    let mut sla = Sla {
        computer_guid: Some("C".to_owned()),
        project_guid: Some("P".to_owned()),
        ..Sla::default()
    };
    sla.other.insert("group".to_owned(), "g".to_owned());
    let value = sla.to_value();
    assert_eq!(
        value,
        Value::dict_from([
            ("computer_guid", Value::str("C")),
            ("group", Value::str("g")),
            ("project_guid", Value::str("P"))
        ])
    );
    assert_eq!(Sla::from_value(&value), Ok(sla));
}
