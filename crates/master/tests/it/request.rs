//! Allocation and update rules of a non-shared request (§7.2, §7.6).

use axum::http::StatusCode;
use proto::Value;

use crate::on_both_engines;
use crate::support::{attr, attr_str, key, partition, Master, Order};

async fn first_free_slot_in_format_order(master: Master) {
    master.format("computer", 3).await;
    let first = Order::new("first").ok(&master).await;
    let second = Order::new("second").ok(&master).await;
    assert_eq!(attr_str(&first, "slap_computer_partition_id"), "slappart0");
    assert_eq!(attr_str(&second, "slap_computer_partition_id"), "slappart1");
    assert_eq!(attr_str(&first, "_instance_guid"), "computer-slappart0");
    assert_eq!(attr_str(&first, "_requested_state"), "started");
    let ip_list = attr(&first, "ip_list").as_seq().expect("list").to_vec();
    assert_eq!(ip_list[0], Value::Tuple(vec![Value::str("tap0"), Value::str("127.0.0.1")]));
}
on_both_engines!(request_allocates_first_free_slot_in_format_order, first_free_slot_in_format_order);

async fn idempotent(master: Master) {
    master.format("computer", 2).await;
    let order = Order::new("db").parameters(Value::dict_from([("a", Value::Int(1))]));
    let first = order.ok(&master).await;
    let again = order.ok(&master).await;
    let timestamp = |answer: &Value| key(attr(answer, "_parameter_dict"), "timestamp").expect("timestamp").to_owned();
    assert_eq!(attr_str(&again, "slap_computer_partition_id"), "slappart0");
    assert_eq!(timestamp(&first), timestamp(&again), "identical re-request keeps the timestamp");
    // Parameters come back as strings.
    assert_eq!(key(attr(&again, "_parameter_dict"), "a"), Some("1"));
    let changed = Order::new("db").parameters(Value::dict_from([("a", Value::Int(2))])).ok(&master).await;
    assert_eq!(attr_str(&changed, "slap_computer_partition_id"), "slappart0", "updated in place");
    let before: f64 = timestamp(&first).parse().expect("float timestamp");
    let after: f64 = timestamp(&changed).parse().expect("float timestamp");
    assert!(after > before, "a parameter change bumps the timestamp: {before} -> {after}");
}
on_both_engines!(request_is_idempotent_on_reference, idempotent);

async fn no_free_slot(master: Master) {
    master.format("computer", 1).await;
    Order::new("one").ok(&master).await;
    let (status, _, body) = Order::new("two").send(&master).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("No free computer partition found for: two"), "{body}");
}
on_both_engines!(request_without_free_slot_is_404, no_free_slot);

async fn scope(master: Master) {
    master.format("computer", 4).await;
    let root = Order::new("root").ok(&master).await;
    let root_slot = attr_str(&root, "slap_computer_partition_id").to_owned();
    // The same title requested by the root's instance is another instance.
    let child = Order::new("root").by("computer", &root_slot).ok(&master).await;
    assert_ne!(attr_str(&child, "slap_computer_partition_id"), root_slot);
    let computer = master.computer("computer").await;
    let child_doc = partition(&computer, attr_str(&child, "slap_computer_partition_id"));
    let parameters = attr(&child_doc, "_parameter_dict");
    assert_eq!(key(parameters, "root_instance_title"), Some("root"));
    assert_eq!(key(parameters, "instance_title"), Some("root"));
}
on_both_engines!(instances_are_scoped_by_root_title, scope);

async fn sla_computer(master: Master) {
    master.format("computer", 1).await;
    master.format("COMP-2", 1).await;
    let sla = Value::dict_from([("computer_guid", Value::str("COMP-2"))]);
    let answer = Order::new("remote").sla(sla.clone()).ok(&master).await;
    assert_eq!(attr_str(&answer, "slap_computer_id"), "COMP-2");
    // SLA changes never move an instance.
    let again = Order::new("remote").ok(&master).await;
    assert_eq!(attr_str(&again, "slap_computer_id"), "COMP-2");
}
on_both_engines!(sla_computer_guid_picks_the_computer, sla_computer);

async fn state_propagation(master: Master) {
    master.format("computer", 3).await;
    let root = Order::new("root").ok(&master).await;
    let root_slot = attr_str(&root, "slap_computer_partition_id").to_owned();
    Order::new("child").by("computer", &root_slot).ok(&master).await;
    Order::new("root").state("stopped").ok(&master).await;
    let child = Order::new("child").by("computer", &root_slot).ok(&master).await;
    assert_eq!(attr_str(&child, "_requested_state"), "stopped", "a stopped root forces its children");
    // Without a state, the answer says started but the stored state is kept.
    let root_again = Order::new("root").ok(&master).await;
    assert_eq!(attr_str(&root_again, "_requested_state"), "started");
    let computer = master.computer("computer").await;
    assert_eq!(attr_str(&partition(&computer, &root_slot), "_requested_state"), "stopped");
}
on_both_engines!(root_state_propagates_on_re_request, state_propagation);

async fn computer_documents(master: Master) {
    // The default computer answers before format; another unknown one is 404.
    let computer = master.computer("computer").await;
    assert_eq!(attr(&computer, "_computer_partition_list"), &Value::List(Vec::new()));
    let (status, _) = master.get("/getFullComputerInformation", &[("computer_id", "nope")]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    master.format("computer", 2).await;
    Order::new("a").ok(&master).await;
    let computer = master.computer("computer").await;
    let free = partition(&computer, "slappart1");
    assert_eq!(attr_str(&free, "_requested_state"), "destroyed");
    assert_eq!(attr(&free, "_need_modification"), &Value::Int(0));
    assert_eq!(attr(&free, "_software_release_document"), &Value::None);
    let busy = partition(&computer, "slappart0");
    assert_eq!(attr(&busy, "_need_modification"), &Value::Int(1));
    let parameters = attr(&busy, "_parameter_dict");
    assert_eq!(key(parameters, "slap_software_release_url"), Some("http://sr//"));
    assert_eq!(parameters.dict_get("slave_instance_list"), Some(&Value::List(Vec::new())));
}
on_both_engines!(computer_document_shows_free_and_busy_slots, computer_documents);

async fn supply(master: Master) {
    let (status, body) = master.post("/supplySupply", &[("url", "http://a/"), ("computer_id", "computer"), ("state", "available")]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "Supplied 'http://a/' to be available"));
    master.post("/supplySupply", &[("url", "http://b/"), ("computer_id", "computer"), ("state", "available")]).await;
    master.post("/supplySupply", &[("url", "http://a/"), ("computer_id", "computer"), ("state", "destroyed")]).await;
    let computer = master.computer("computer").await;
    let releases = attr(&computer, "_software_release_list").as_seq().expect("list").to_vec();
    let listed: Vec<(&str, &str)> =
        releases.iter().map(|r| (attr_str(r, "_software_release"), attr_str(r, "_requested_state"))).collect();
    assert_eq!(listed, [("http://b/", "available"), ("http://a/", "destroyed")], "re-supply moves to the end");
    let (_, body) = master.post("/destroyedSoftwareRelease", &[("url", "http://a/"), ("computer_id", "computer")]).await;
    assert_eq!(body, "OK");
    let computer = master.computer("computer").await;
    assert_eq!(attr(&computer, "_software_release_list").as_seq().map(<[Value]>::len), Some(1));
}
on_both_engines!(supply_and_remove_software, supply);

async fn network_placement(master: Master) {
    master.format_in("COMP-A", 2, Some("net-1")).await;
    master.format_in("COMP-B", 2, Some("net-2")).await;
    let in_net2 = Value::dict_from([("network_guid", Value::str("net-2"))]);
    let answer = Order::new("db").sla(in_net2).ok(&master).await;
    assert_eq!(attr_str(&answer, "slap_computer_id"), "COMP-B");
    let unknown = Value::dict_from([("network_guid", Value::str("net-9"))]);
    let (status, _, body) = Order::new("lost").sla(unknown).send(&master).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // A re-format by a node that does not know networks keeps the network.
    master.format("COMP-B", 2).await;
    let again = Order::new("db2").sla(Value::dict_from([("network_guid", Value::str("net-2"))])).ok(&master).await;
    assert_eq!(attr_str(&again, "slap_computer_id"), "COMP-B");
}
on_both_engines!(sla_network_guid_picks_a_node_of_that_network, network_placement);

async fn unique_by_network(master: Master) {
    master.format_in("COMP-A", 2, Some("net-1")).await;
    master.format_in("COMP-B", 2, Some("net-1")).await;
    master.format_in("COMP-C", 2, Some("net-2")).await;
    master.format("COMP-D", 2).await;
    let root = Order::new("root").sla(Value::dict_from([("computer_guid", Value::str("COMP-A"))])).ok(&master).await;
    let root_slot = attr_str(&root, "slap_computer_partition_id").to_owned();
    let unique = Value::dict_from([("mode", Value::str("unique_by_network"))]);
    let replica = Order::new("replica-1").by("COMP-A", &root_slot).sla(unique.clone()).ok(&master).await;
    assert_eq!(attr_str(&replica, "slap_computer_id"), "COMP-C", "net-1 already holds the tree");
    let (status, _, body) = Order::new("replica-2").by("COMP-A", &root_slot).sla(unique.clone()).send(&master).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "both networks hold the tree, COMP-D has none: {body}");
    // Another tree is free to use net-1 again.
    let other = Order::new("other").sla(unique).ok(&master).await;
    assert_eq!(attr_str(&other, "slap_computer_id"), "COMP-A");
}
on_both_engines!(sla_unique_by_network_spreads_a_tree_over_networks, unique_by_network);
