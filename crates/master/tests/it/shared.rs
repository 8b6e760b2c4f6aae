//! Shared (slave) instances (§7.3).

use axum::http::StatusCode;
use proto::Value;

use crate::on_both_engines;
use crate::support::{attr, attr_str, key, partition, Master, Order};

async fn hosted(master: Master) {
    master.format("computer", 2).await;
    Order::new("frontend").software("http://frontend/").ok(&master).await;
    let before = master.computer("computer").await;
    let parameters = Value::dict_from([("domain", Value::str("example.com")), ("port", Value::Int(443))]);
    let order = Order::new("site").software("http://frontend/").parameters(parameters).shared();
    let answer = order.ok(&master).await;
    assert_eq!(attr_str(&answer, "slap_computer_partition_id"), "slappart0");
    assert_eq!(key(attr(&answer, "_parameter_dict"), "port"), Some("443"), "answered as strings");
    let after = master.computer("computer").await;
    let host = partition(&after, "slappart0");
    let list = attr(&host, "_parameter_dict").dict_get("slave_instance_list").expect("list").as_seq().expect("seq").to_vec();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].dict_get("port"), Some(&Value::Int(443)), "the host sees original types");
    assert_eq!(key(&list[0], "slave_reference"), Some("_site"));
    let ts = |c: &Value| key(attr(&partition(c, "slappart0"), "_parameter_dict"), "timestamp").map(str::to_owned);
    assert_ne!(ts(&before), ts(&after), "a new shared instance bumps its host");
    order.ok(&master).await;
    let again = master.computer("computer").await;
    assert_eq!(ts(&after), ts(&again), "a no-op re-request bumps nothing");
    // The host publishes for it; the requester sees it.
    let xml = proto::marshal::encode(&Value::dict_from([("url", Value::str("https://example.com/"))]));
    master.post("/setComputerPartitionConnectionXml", &[("computer_id", "computer"), ("computer_partition_id", "slappart0"), ("connection_xml", &xml), ("slave_reference", "_site")]).await;
    let answer = order.ok(&master).await;
    assert_eq!(key(attr(&answer, "_connection_dict"), "url"), Some("https://example.com/"));
    // Destroying it removes it from the host's list.
    Order::new("site").software("http://frontend/").shared().state("destroyed").ok(&master).await;
    let gone = master.computer("computer").await;
    let list = attr(&partition(&gone, "slappart0"), "_parameter_dict").dict_get("slave_instance_list").cloned();
    assert_eq!(list, Some(Value::List(Vec::new())));
}
on_both_engines!(shared_instance_lives_in_its_host_list, hosted);

async fn no_host(master: Master) {
    master.format("computer", 1).await;
    let (status, _, body) = Order::new("site").software("http://none/").shared().send(&master).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("No partition corresponding to slave request: ['http://none/', 'computer', 'default']"), "{body}");
}
on_both_engines!(shared_instance_without_host_is_404, no_host);

#[tokio::test]
async fn fake_apache_frontend_answers_without_a_host() {
    let master = Master::sqlite().await;
    let url = "http://git.erp5.org/gitweb/slapos.git/blob_plain/HEAD:/software/apache-frontend/software.cfg";
    let parameters = Value::dict_from([("url", Value::str("http://[::1]:8080/path"))]);
    let answer = Order::new("front").software(url).software_type("").parameters(parameters).shared().ok(&master).await;
    assert_eq!(key(attr(&answer, "_connection_dict"), "secure_access"), Some("http://[::1]:8080/path"));
    assert_eq!(key(attr(&answer, "_connection_dict"), "domain"), Some("[::1]:8080"));
}
