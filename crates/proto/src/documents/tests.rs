//! Unit tests of the typed documents; the comparison with objects built by
//! the real `slapos.slap` classes is the golden test in `tests/it/golden.rs`.

use super::{
    ComputerDoc, ComputerPartitionDoc, ComputerWriter, DocumentError, SoftwareInstanceDoc,
    SoftwareReleaseDoc,
};
use crate::marshal::{decode, encode, Class, Value, Writer};

fn release(state: Option<&str>) -> SoftwareReleaseDoc {
    SoftwareReleaseDoc {
        url: "http://sr/".to_owned(),
        computer_id: "COMP-1".to_owned(),
        requested_state: state.map(str::to_owned),
    }
}

fn free_slot() -> ComputerPartitionDoc {
    ComputerPartitionDoc {
        computer_id: "COMP-1".to_owned(),
        partition_id: "slappart1".to_owned(),
        instance_guid: "COMP-1-slappart1".to_owned(),
        requested_state: "destroyed".to_owned(),
        ..ComputerPartitionDoc::default()
    }
}

fn allocated_slot() -> ComputerPartitionDoc {
    ComputerPartitionDoc {
        partition_id: "slappart0".to_owned(),
        instance_guid: "COMP-1-slappart0".to_owned(),
        requested_state: "started".to_owned(),
        need_modification: true,
        software_release: Some(release(None)),
        parameters: Some(vec![
            ("foo".to_owned(), Value::str("bar")),
            (
                "ip_list".to_owned(),
                Value::List(vec![Value::Tuple(vec![
                    Value::str("tap"),
                    Value::str("10.0.0.2"),
                ])]),
            ),
        ]),
        connection: Some(vec![
            ("empty".to_owned(), Value::None),
            ("url".to_owned(), Value::str("http://i/")),
        ]),
        ..free_slot()
    }
}

/// `to_value` survives the wire and reads back as the same value (the
/// fixtures list dict items sorted, as the wire has them).
fn check_round_trip(value: &Value) {
    let decoded = decode(encode(value).as_bytes()).unwrap();
    assert_eq!(&decoded, value);
}

#[test]
fn software_release_is_the_spec_example() {
    let value = release(Some("available")).to_value();
    assert_eq!(
        encode(&value),
        r#"<marshal><object id="i2" module="slapos.slap.slap" class="SoftwareRelease"><tuple><string>http://sr/</string><string>COMP-1</string></tuple><dictionary id="i3"><string>_computer_guid</string><string>COMP-1</string><string>_requested_state</string><string>available</string><string>_software_instance_list</string><list id="i4"/><string>_software_release</string><string>http://sr/</string></dictionary></object></marshal>"#
    );
    check_round_trip(&value);
    assert_eq!(
        SoftwareReleaseDoc::from_value(&value),
        Ok(release(Some("available")))
    );
    assert_eq!(
        SoftwareReleaseDoc::from_value(&release(None).to_value()),
        Ok(release(None))
    );
}

#[test]
fn free_partition_has_exactly_the_spec_keys() {
    let value = free_slot().to_value();
    let object = value.as_object().unwrap();
    assert_eq!(object.class, Class::ComputerPartition);
    assert_eq!(
        object.initargs,
        [Value::str("COMP-1"), Value::str("slappart1"), Value::None]
    );
    let keys: Vec<&str> = object
        .state
        .iter()
        .filter_map(|(key, _)| key.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "_computer_id",
            "_instance_guid",
            "_need_modification",
            "_partition_id",
            "_request_dict",
            "_requested_state",
            "_software_release_document"
        ]
    );
    assert_eq!(object.attribute("_need_modification"), Some(&Value::Int(0)));
    assert_eq!(
        object.attribute("_software_release_document"),
        Some(&Value::None)
    );
    check_round_trip(&value);
    assert_eq!(ComputerPartitionDoc::from_value(&value), Ok(free_slot()));
}

#[test]
fn allocated_partition_carries_parameters_connection_and_release() {
    let value = allocated_slot().to_value();
    let object = value.as_object().unwrap();
    assert_eq!(object.attribute("_need_modification"), Some(&Value::Int(1)));
    assert!(object
        .attribute("_parameter_dict")
        .and_then(|p| p.dict_get("ip_list"))
        .is_some());
    check_round_trip(&value);
    assert_eq!(
        ComputerPartitionDoc::from_value(&value),
        Ok(allocated_slot())
    );
}

#[test]
fn computer_lists_releases_and_partitions_in_order() {
    let computer = ComputerDoc {
        computer_id: "COMP-1".to_owned(),
        software_releases: vec![release(Some("available")), release(Some("destroyed"))],
        partitions: vec![allocated_slot(), free_slot()],
    };
    let value = computer.to_value();
    check_round_trip(&value);
    assert_eq!(ComputerDoc::from_value(&value), Ok(computer));
    let empty = ComputerDoc {
        computer_id: "COMP-9".to_owned(),
        ..ComputerDoc::default()
    };
    assert_eq!(ComputerDoc::from_value(&empty.to_value()), Ok(empty));
}

/// The layouts stream their attributes in marshal order: the streamed
/// bytes equal `encode`, which sorts every dict it is given.
#[test]
fn streamed_documents_are_what_encode_writes() {
    let computer = ComputerDoc {
        computer_id: "COMP-1".to_owned(),
        software_releases: vec![release(Some("available")), release(None)],
        partitions: vec![allocated_slot(), free_slot()],
    };
    let mut writer = Writer::new();
    let stream = ComputerWriter::begin(&mut writer, &computer.computer_id);
    for partition in &computer.partitions {
        partition.write(&mut writer);
    }
    stream.finish(
        &mut writer,
        computer.software_releases.iter().map(SoftwareReleaseDoc::fields),
    );
    assert_eq!(writer.finish(), encode(&computer.to_value()));
    for release in [release(Some("destroyed")), release(None)] {
        let mut writer = Writer::new();
        release.fields().write(&mut writer);
        assert_eq!(writer.finish(), encode(&release.to_value()));
    }
}

#[test]
fn from_value_ignores_unknown_attributes() {
    let mut value = free_slot().to_value();
    if let Value::Object(object) = &mut value {
        object
            .state
            .push((Value::str("_access_status"), Value::str("#access ok")));
        object.state.push((
            Value::str("_filter_dict"),
            Value::dict_from([("retention_delay", Value::Int(1))]),
        ));
    }
    assert_eq!(ComputerPartitionDoc::from_value(&value), Ok(free_slot()));
}

#[test]
fn from_value_names_what_is_wrong() {
    assert_eq!(
        ComputerDoc::from_value(&Value::None),
        Err(DocumentError::WrongClass {
            expected: "Computer",
            found: "NoneType".to_owned()
        })
    );
    assert_eq!(
        ComputerDoc::from_value(&release(None).to_value()).map_err(|error| error.to_string()),
        Err("expected a Computer object, found SoftwareRelease".to_owned())
    );
    let no_state = Value::object(
        Class::ComputerPartition,
        vec![Value::str("C"), Value::str("P"), Value::None],
        vec![],
    );
    assert_eq!(
        ComputerPartitionDoc::from_value(&no_state),
        Err(DocumentError::MissingKey {
            class: "ComputerPartition",
            key: "_requested_state"
        })
    );
    let bad = Value::object(
        Class::SoftwareRelease,
        vec![],
        vec![(Value::str("_software_release"), Value::Int(1))],
    );
    assert_eq!(
        SoftwareReleaseDoc::from_value(&bad).map_err(|error| error.to_string()),
        Err("SoftwareRelease._software_release must be str, not int".to_owned())
    );
}

#[test]
fn software_instance_accessors() {
    let mut instance = SoftwareInstanceDoc::new();
    instance
        .set(
            "_connection_dict",
            Value::dict_from([("url", Value::str("http://i/"))]),
        )
        .set(
            "_parameter_dict",
            Value::dict_from([("timestamp", Value::str("1.5"))]),
        )
        .set("slap_computer_id", Value::str("COMP-1"))
        .set("slap_computer_partition_id", Value::str("slappart0"))
        .set("_requested_state", Value::str("stopped"))
        .set("_requested_state", Value::str("started"))
        .set("_instance_guid", Value::str("COMP-1-slappart0"));
    assert_eq!(instance.attributes.len(), 6);
    assert_eq!(instance.computer_id(), Some("COMP-1"));
    assert_eq!(instance.partition_id(), Some("slappart0"));
    assert_eq!(instance.requested_state(), Some("started"));
    assert_eq!(instance.instance_guid(), Some("COMP-1-slappart0"));
    assert_eq!(
        instance.connection_dict().and_then(|c| c.dict_get("url")),
        Some(&Value::str("http://i/"))
    );
    assert_eq!(
        instance
            .parameter_dict()
            .and_then(|p| p.dict_get("timestamp")),
        Some(&Value::str("1.5"))
    );
    let value = instance.to_value();
    assert!(encode(&value).contains(r#"class="SoftwareInstance"><tuple/>"#));
    let read =
        SoftwareInstanceDoc::from_value(&decode(encode(&value).as_bytes()).unwrap()).unwrap();
    assert_eq!(read.get("slap_computer_id"), Some(&Value::str("COMP-1")));
    assert_eq!(read.requested_state(), Some("started"));
    assert!(SoftwareInstanceDoc::from_value(&free_slot().to_value()).is_ok());
    assert!(SoftwareInstanceDoc::from_value(&Value::None).is_err());
}
