//! Destruction, rename, bang and connection parameters (§7.5–§7.7).

use axum::http::StatusCode;
use proto::Value;

use crate::on_both_engines;
use crate::support::{attr, attr_str, key, partition, Master, Order};

fn timestamp_of(computer: &Value, slot: &str) -> f64 {
    let doc = partition(computer, slot);
    key(attr(&doc, "_parameter_dict"), "timestamp").expect("timestamp").parse().expect("float")
}

async fn destroy_root_with_children(master: Master) {
    master.format("computer", 3).await;
    Order::new("root").ok(&master).await;
    Order::new("child").by("computer", "slappart0").ok(&master).await;
    Order::new("root").state("destroyed").ok(&master).await;
    let form = [("computer_id", "computer"), ("computer_partition_id", "slappart0")];
    let (status, body) = master.post("/destroyedComputerPartition", &form).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "Not destroying yet because this partition has child partitions: child");
    let computer = master.computer("computer").await;
    assert_eq!(attr_str(&partition(&computer, "slappart1"), "_requested_state"), "destroyed");
    let (_, body) = master.post("/destroyedComputerPartition", &[("computer_id", "computer"), ("computer_partition_id", "slappart1")]).await;
    assert_eq!(body, "OK");
    let (_, body) = master.post("/destroyedComputerPartition", &form).await;
    assert_eq!(body, "OK");
    let computer = master.computer("computer").await;
    assert_eq!(attr(&partition(&computer, "slappart0"), "_software_release_document"), &Value::None);
    // The freed slot is reusable.
    let again = Order::new("new").ok(&master).await;
    assert_eq!(attr_str(&again, "slap_computer_partition_id"), "slappart0");
    let (_, body) = master.post("/destroyedComputerPartition", &[("computer_id", "computer"), ("computer_partition_id", "slappart9")]).await;
    assert_eq!(body, "Unknown partition 'slappart9' on 'computer'");
}
on_both_engines!(destroying_a_root_waits_for_its_children, destroy_root_with_children);

async fn rename(master: Master) {
    master.format("computer", 3).await;
    Order::new("root").ok(&master).await;
    Order::new("child").by("computer", "slappart0").ok(&master).await;
    let (_, body) = master.post("/softwareInstanceRename", &[("computer_id", "computer"), ("computer_partition_id", "slappart0"), ("new_name", "renamed")]).await;
    assert_eq!(body, "done");
    let computer = master.computer("computer").await;
    assert_eq!(key(attr(&partition(&computer, "slappart1"), "_parameter_dict"), "root_instance_title"), Some("renamed"));
    // A rename that would duplicate a title in the tree is refused.
    Order::new("other").by("computer", "slappart0").ok(&master).await;
    let (status, body) = master.post("/softwareInstanceRename", &[("computer_id", "computer"), ("computer_partition_id", "slappart2"), ("new_name", "child")]).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}
on_both_engines!(renaming_a_root_moves_its_tree, rename);

async fn bang(master: Master) {
    master.format("computer", 3).await;
    Order::new("root").ok(&master).await;
    Order::new("child").by("computer", "slappart0").ok(&master).await;
    Order::new("alone").ok(&master).await;
    let before = master.computer("computer").await;
    let (_, body) = master.post("/softwareInstanceBang", &[("computer_id", "computer"), ("computer_partition_id", "slappart1"), ("message", "boom")]).await;
    assert_eq!(body, "OK");
    let after = master.computer("computer").await;
    assert!(timestamp_of(&after, "slappart0") > timestamp_of(&before, "slappart0"), "root bumped");
    assert!(timestamp_of(&after, "slappart1") > timestamp_of(&before, "slappart1"), "child bumped");
    assert_eq!(timestamp_of(&after, "slappart2"), timestamp_of(&before, "slappart2"), "other tree untouched");
}
on_both_engines!(bang_bumps_the_whole_tree, bang);

async fn publish(master: &Master, value: &str) -> String {
    let xml = proto::marshal::encode(&Value::dict_from([("url", Value::str(value))]));
    let form = [("computer_id", "computer"), ("computer_partition_id", "slappart1"), ("connection_xml", xml.as_str()), ("slave_reference", "None")];
    master.post("/setComputerPartitionConnectionXml", &form).await.1
}

async fn connection(master: Master) {
    master.format("computer", 2).await;
    Order::new("root").ok(&master).await;
    Order::new("child").by("computer", "slappart0").ok(&master).await;
    let before = master.computer("computer").await;
    assert_eq!(publish(&master, "http://x/").await, "done");
    let after = master.computer("computer").await;
    assert!(timestamp_of(&after, "slappart0") > timestamp_of(&before, "slappart0"), "requester bumped");
    assert_eq!(timestamp_of(&after, "slappart1"), timestamp_of(&before, "slappart1"), "publisher not bumped");
    publish(&master, "http://x/").await;
    let same = master.computer("computer").await;
    assert_eq!(timestamp_of(&same, "slappart0"), timestamp_of(&after, "slappart0"), "unchanged XML bumps nothing");
    let child = Order::new("child").by("computer", "slappart0").ok(&master).await;
    assert_eq!(key(attr(&child, "_connection_dict"), "url"), Some("http://x/"));
}
on_both_engines!(published_connection_reaches_the_requester, connection);

async fn reformat(master: Master) {
    master.format("computer", 3).await;
    Order::new("kept").ok(&master).await;
    master.format("computer", 2).await;
    let computer = master.computer("computer").await;
    let slots: Vec<String> = crate::support::partitions(&computer).iter().map(|p| attr_str(p, "_partition_id").to_owned()).collect();
    assert_eq!(slots, ["slappart0", "slappart1"]);
    assert_eq!(key(attr(&partition(&computer, "slappart0"), "_parameter_dict"), "instance_title"), Some("kept"));
}
on_both_engines!(reformat_keeps_allocations_and_drops_missing_slots, reformat);
