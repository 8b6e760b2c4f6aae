//! The JSON-RPC API (§4): the envelope every call shares, then each
//! endpoint's behaviour as a user of the API (the proxy's web panel, a
//! script) relies on it, including that it sees the same store as the
//! classic API.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::{json, Value as Json};
use tower::ServiceExt;

use crate::on_both_engines;
use crate::support::{attr, attr_str, key, partition, Master, Order};

/// One exchange through the router: status, headers, body.
pub async fn exchange(master: &Master, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = master.app.clone().oneshot(request).await.expect("router is infallible");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
    (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
}

/// A call's answer, its body decoded.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    content_type: String,
    body: Json,
}

/// POSTs a raw body with extra headers (`Content-Type` JSON unless given).
async fn post_raw(master: &Master, path: &str, body: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::post(path).header("host", "localhost");
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
        request = request.header("content-type", "application/json");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    exchange(master, request.body(Body::from(body.to_owned())).expect("request")).await
}

/// Calls an endpoint with a JSON body and extra headers.
async fn call_with(master: &Master, path: &str, body: Json, headers: &[(&str, &str)]) -> Reply {
    let (status, response_headers, text) = post_raw(master, path, &body.to_string(), headers).await;
    let content_type = response_headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body = serde_json::from_str(&text).unwrap_or_else(|error| panic!("{path}: not JSON ({error}): {text}"));
    Reply { status, content_type, body }
}

/// Calls an endpoint with a JSON body.
async fn call(master: &Master, path: &str, body: Json) -> Reply {
    call_with(master, path, body, &[]).await
}

/// Calls an endpoint that must succeed and returns its document.
async fn ok(master: &Master, path: &str, body: Json) -> Json {
    let reply = call(master, path, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    assert_eq!(reply.content_type, "application/json", "{path}");
    reply.body
}

/// Expects the JSON error document.
fn assert_error(reply: &Reply, status: u16, kind: &str, title: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(reply.content_type, "application/json");
    assert_eq!(reply.body, json!({ "status": status, "type": kind, "title": title }));
}

fn order(title: &str) -> Json {
    json!({ "title": title, "software_release_uri": "http://sr//", "software_type": "foobar" })
}

fn as_slot(instance: &Json) -> String {
    let computer = instance["computer_guid"].as_str().expect("computer");
    let slot = instance["compute_partition_id"].as_str().expect("slot");
    format!("X-SlapPartition computer_id={computer}, computer_partition_id={slot}")
}

/// The float timestamp the node sees for a slot.
async fn node_timestamp(master: &Master, slot: &str) -> f64 {
    let computer = master.computer("computer").await;
    key(attr(&partition(&computer, slot), "_parameter_dict"), "timestamp").expect("timestamp").parse().expect("float")
}

async fn envelope(master: Master) {
    let path = "/slapos.post.v0.software_installation";
    let valid = r#"{"software_release_uri": "http://sr//", "computer_guid": "computer"}"#;
    // Another method than POST is werkzeug's HTML 405 page.
    let request = Request::get(path).header("host", "localhost").body(Body::empty()).expect("request");
    let (status, headers, body) = exchange(&master, request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers.get("allow").and_then(|v| v.to_str().ok()), Some("POST"));
    assert!(headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html")));
    assert!(body.contains("Method Not Allowed"), "{body}");
    // A body not declared JSON is a 415, in JSON.
    let (status, _, body) = post_raw(&master, path, valid, &[("content-type", "application/x-www-form-urlencoded")]).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(serde_json::from_str::<Json>(&body).expect("json")["type"], "Unsupported Media Type");
    // `application/…+json` and parameters are JSON too.
    let (status, _, _) = post_raw(&master, path, valid, &[("content-type", "application/merge-patch+json; charset=utf-8")]).await;
    assert_eq!(status, StatusCode::OK);
    // An Accept without JSON is a 406, and nothing is done.
    let (status, _, body) = post_raw(&master, path, r#"{"software_release_uri": "http://other//", "computer_guid": "computer"}"#, &[("accept", "text/html")]).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(serde_json::from_str::<Json>(&body).expect("json")["status"], 406);
    master.format("computer", 0).await;
    let listed = ok(&master, "/slapos.allDocs.v0.compute_node_software_installation_list", json!({"computer_guid": "computer"})).await;
    assert_eq!(listed["result_list"], json!([{"software_release_uri": "http://sr//", "state": "available"}]));
    // Bodies violating the schema are 400s naming the problem.
    let cases: &[(&str, &str)] = &[
        ("{", "Failed to decode JSON object"),
        ("[]", "[] is not of type 'object'"),
        (r#"{"computer_guid": "computer"}"#, "software_release_uri"),
        (r#"{"software_release_uri": "u", "computer_guid": "c", "extra": 1}"#, "extra"),
        (r#"{"software_release_uri": 1, "computer_guid": "c"}"#, "invalid type"),
        (r#"{"software_release_uri": "u", "computer_guid": "c", "state": "started"}"#, "available"),
        (r#"{"software_release_uri": "u", "computer_guid": "c", "state": null}"#, "null"),
    ];
    for (body, named) in cases {
        let (status, headers, text) = post_raw(&master, path, body, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        assert_eq!(headers.get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
        let error: Json = serde_json::from_str(&text).expect("json error");
        assert_eq!((error["status"].as_u64(), error["type"].as_str()), (Some(400), Some("Bad Request")));
        assert!(error["title"].as_str().is_some_and(|t| t.contains(named)), "{body}: {error} should name {named}");
    }
    let long_title = "x".repeat(201);
    let reply = call(&master, "/slapos.get.v0.instance_tree", json!({"title": long_title})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body["title"].as_str().is_some_and(|t| t.ends_with("is too long")), "{}", reply.body);
    let reply = call(&master, "/slapos.post.v0.software_instance", json!({"title": "a", "software_release_uri": "u", "software_type": "t", "sla_parameters": {"retention_delay": "7"}})).await;
    assert_error(&reply, 400, "Bad Request", "'7' is not of type 'number'");
    let reply = call(&master, "/slapos.post.v0.software_instance", json!({"title": "a", "software_release_uri": "u", "software_type": "t", "sla_parameters": {"computer_guid": 1}})).await;
    assert_error(&reply, 400, "Bad Request", "1 is not of type 'string'");
}
on_both_engines!(json_calls_share_one_envelope, envelope);

async fn request_instance(master: Master) {
    master.format("computer", 2).await;
    let reply = call(&master, "/slapos.post.v0.software_instance", json!({
        "title": "db", "software_release_uri": "http://sr//", "software_type": "mariadb",
        "parameters": {"port": 3306, "name": "main"},
    }))
    .await;
    assert_eq!((reply.status, reply.content_type.as_str()), (StatusCode::OK, "application/json"));
    let first = reply.body;
    let timestamp = first["processing_timestamp"].as_i64().expect("integer timestamp");
    assert!(timestamp > 0);
    assert_eq!(first, json!({
        "title": "db", "instance_guid": "db______0", "software_release_uri": "http://sr//",
        "software_type": "mariadb", "state": "started", "connection_parameters": {},
        "parameters": {"port": "3306", "name": "main"}, "shared": false, "root_instance_title": "db",
        "ip_list": [["tap0", "127.0.0.1"], ["tap0", "fc00::1"]], "full_ip_list": [], "sla_parameters": {},
        "computer_guid": "computer", "compute_partition_id": "slappart0",
        "processing_timestamp": timestamp, "access_status_message": "",
    }));
    // The node sees it through the classic API.
    let computer = master.computer("computer").await;
    let slot = partition(&computer, "slappart0");
    assert_eq!(key(attr(&slot, "_parameter_dict"), "instance_title"), Some("db"));
    assert_eq!(key(attr(&slot, "_parameter_dict"), "port"), Some("3306"));
    // A classic request of the same title is the same instance; so is a
    // stopped JSON request, which answers the state it set.
    let classic = Order::new("db").software("http://sr//").software_type("mariadb").ok(&master).await;
    assert_eq!(attr_str(&classic, "slap_computer_partition_id"), "slappart0");
    let stopped = ok(&master, "/slapos.post.v0.software_instance", json!({
        "title": "db", "software_release_uri": "http://sr//", "software_type": "mariadb", "state": "stopped",
    }))
    .await;
    assert_eq!((stopped["compute_partition_id"].as_str(), stopped["state"].as_str()), (Some("slappart0"), Some("stopped")));
    assert_eq!(stopped["parameters"], json!({}), "parameters are replaced, not merged");
    // Errors: no free slot, unknown requester slot, no host for a shared instance.
    ok(&master, "/slapos.post.v0.software_instance", order("other")).await;
    let reply = call(&master, "/slapos.post.v0.software_instance", order("third")).await;
    assert_error(&reply, 403, "Forbidden", "No free computer partition found for: third");
    let reply = call_with(&master, "/slapos.post.v0.software_instance", order("x"), &[("authorization", "X-SlapPartition computer_id=computer, computer_partition_id=slappart9")]).await;
    assert_error(&reply, 400, "Bad Request", "No partition matching the authorization header: (computer / slappart9)");
    let reply = call(&master, "/slapos.post.v0.software_instance", json!({"title": "s", "software_release_uri": "http://none//", "software_type": "t", "shared": true})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body["title"].as_str().is_some_and(|t| t.starts_with("No partition corresponding to slave request")), "{}", reply.body);
}
on_both_engines!(json_request_allocates_like_the_classic_request, request_instance);

async fn tree_of_instances(master: Master) {
    master.format("computer", 3).await;
    let root = ok(&master, "/slapos.post.v0.software_instance", order("root")).await;
    let child = {
        let reply = call_with(&master, "/slapos.post.v0.software_instance", order("child"), &[("authorization", &as_slot(&root))]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    };
    assert_eq!((child["instance_guid"].as_str(), child["root_instance_title"].as_str()), (Some("child___root___0"), Some("root")));
    let shared_order = json!({"title": "site", "software_release_uri": "http://sr//", "software_type": "foobar", "shared": true, "parameters": {"port": 443, "tls": true}});
    let site = ok(&master, "/slapos.post.v0.software_instance", shared_order).await;
    assert_eq!(site["instance_guid"], "site______1");
    assert_eq!((site["compute_partition_id"].as_str(), site["processing_timestamp"].as_i64()), (Some("slappart0"), Some(0)));
    assert_eq!(site["parameters"], json!({"port": "443", "tls": "True"}), "answered as the host reads them");
    // Reads by id, by slot and by tree title.
    let got = ok(&master, "/slapos.get.v0.software_instance", json!({"instance_guid": "child___root___0"})).await;
    assert_eq!(got["compute_partition_id"], "slappart1");
    let got = ok(&master, "/slapos.get.v0.software_instance", json!({"instance_guid": "site______1"})).await;
    assert_eq!(got["parameters"], json!({"port": 443, "tls": true}), "stored with their JSON types");
    assert_eq!((got["shared"].as_bool(), got["ip_list"].as_array().map(Vec::len)), (Some(true), Some(0)));
    let got = ok(&master, "/slapos.get.v0.compute_partition", json!({"computer_guid": "computer", "compute_partition_id": "slappart0"})).await;
    assert_eq!(got["instance_guid"], "root______0");
    for (title, guid) in [("root", "root______0"), ("site", "site______1")] {
        let got = ok(&master, "/slapos.get.v0.instance_tree", json!({"title": title})).await;
        assert_eq!(got["instance_guid"], guid);
    }
    let listed = ok(&master, "/slapos.allDocs.v0.instance_tree_list", json!({})).await;
    assert_eq!(listed["result_list"], json!([{"title": "root"}, {"title": "site"}]), "roots only, instances first");
    let hosted = ok(&master, "/slapos.allDocs.v0.instance_node_instance_list", json!({"instance_guid": "root______0"})).await;
    assert_eq!(hosted["result_list"], json!([{
        "title": "site", "instance_guid": "site______1", "software_type": "foobar", "state": "started",
        "parameters": {"port": 443, "tls": true}, "compute_partition_id": "slappart0",
    }]));
    let on_node = ok(&master, "/slapos.allDocs.v0.compute_node_instance_list", json!({"computer_guid": "computer"})).await;
    let titles: Vec<_> = on_node["result_list"].as_array().expect("list").iter().map(|i| i["instance_guid"].clone()).collect();
    assert_eq!(titles, [json!("root______0"), json!("child___root___0")]);
    // What is not there is a 403.
    let not_found = [
        ("/slapos.get.v0.software_instance", json!({"instance_guid": "nope______0"}), "No software instance nope______0 found."),
        ("/slapos.get.v0.software_instance", json!({"instance_guid": "nope______1"}), "No shared instance nope______1 found."),
        ("/slapos.get.v0.software_instance", json!({"instance_guid": "nope"}), "instance_guid nope not handled."),
        ("/slapos.get.v0.compute_partition", json!({"computer_guid": "computer", "compute_partition_id": "slappart2"}), "No instance on partition slappart2 found."),
        ("/slapos.get.v0.instance_tree", json!({"title": "child"}), "No instance tree child found."),
        ("/slapos.allDocs.v0.instance_node_instance_list", json!({"instance_guid": "site______1"}), "No software instance site______1 found."),
        ("/slapos.allDocs.v0.compute_node_instance_list", json!({"computer_guid": "COMP-9"}), "COMP-9 is not registered."),
    ];
    for (path, body, title) in not_found {
        assert_error(&call(&master, path, body).await, 403, "Forbidden", title);
    }
    // A destroyed shared instance leaves its host: it is not found any more.
    let destroy = json!({"title": "site", "software_release_uri": "http://sr//", "software_type": "foobar", "shared": true, "state": "destroyed"});
    ok(&master, "/slapos.post.v0.software_instance", destroy).await;
    let reply = call(&master, "/slapos.get.v0.software_instance", json!({"instance_guid": "site______1"})).await;
    assert_error(&reply, 403, "Forbidden", "No shared instance site______1 found.");
    let reply = call(&master, "/slapos.get.v0.instance_tree", json!({"title": "site"})).await;
    assert_error(&reply, 403, "Forbidden", "No instance tree site found.");
    let hosted = ok(&master, "/slapos.allDocs.v0.instance_node_instance_list", json!({"instance_guid": "root______0"})).await;
    assert_eq!(hosted["result_list"], json!([]));
}
on_both_engines!(json_reads_name_instances_by_title_and_tree, tree_of_instances);

async fn connection_parameters(master: Master) {
    master.format("computer", 3).await;
    let root = ok(&master, "/slapos.post.v0.software_instance", order("root")).await;
    call_with(&master, "/slapos.post.v0.software_instance", order("child"), &[("authorization", &as_slot(&root))]).await;
    let site = json!({"title": "site", "software_release_uri": "http://sr//", "software_type": "foobar", "shared": true});
    call_with(&master, "/slapos.post.v0.software_instance", site, &[("authorization", &as_slot(&root))]).await;
    let before = node_timestamp(&master, "slappart0").await;
    let body = json!({"instance_guid": "child___root___0", "connection_parameter_dict": {"url": "http://db", "port": 5432}});
    assert_eq!(ok(&master, "/slapos.put.v0.software_instance_connection_parameter", body.clone()).await, json!({"type": "success", "title": "Updated"}));
    let got = ok(&master, "/slapos.get.v0.software_instance", json!({"instance_guid": "child___root___0"})).await;
    assert_eq!(got["connection_parameters"], json!({"url": "http://db", "port": "5432"}));
    let bumped = node_timestamp(&master, "slappart0").await;
    assert!(bumped > before, "the requester processes the change: {before} -> {bumped}");
    ok(&master, "/slapos.put.v0.software_instance_connection_parameter", body).await;
    assert_eq!(node_timestamp(&master, "slappart0").await, bumped, "an unchanged publication bumps nothing");
    // A shared instance's parameters, published by its host.
    let body = json!({"instance_guid": "site___root___1", "connection_parameter_dict": {"domain": "example.com"}});
    ok(&master, "/slapos.put.v0.software_instance_connection_parameter", body).await;
    let got = ok(&master, "/slapos.get.v0.software_instance", json!({"instance_guid": "site___root___1"})).await;
    assert_eq!(got["connection_parameters"], json!({"domain": "example.com"}));
    assert!(node_timestamp(&master, "slappart0").await > bumped, "the shared instance's requester is bumped");
    // The classic requester sees them too.
    let classic = Order::new("child").by("computer", "slappart0").ok(&master).await;
    assert_eq!(key(attr(&classic, "_connection_dict"), "url"), Some("http://db"));
    for guid in ["ghost______0", "ghost______1"] {
        let reply = call(&master, "/slapos.put.v0.software_instance_connection_parameter", json!({"instance_guid": guid, "connection_parameter_dict": {}})).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{guid}: {}", reply.body);
    }
}
on_both_engines!(published_connection_parameters_reach_the_requester, connection_parameters);

async fn destroy_rename_bang(master: Master) {
    master.format("computer", 3).await;
    let root = ok(&master, "/slapos.post.v0.software_instance", order("root")).await;
    call_with(&master, "/slapos.post.v0.software_instance", order("child"), &[("authorization", &as_slot(&root))]).await;
    ok(&master, "/slapos.post.v0.software_instance", json!({"title": "site", "software_release_uri": "http://sr//", "software_type": "foobar", "shared": true})).await;
    // Bang: a root's whole tree, a child alone; not a shared instance.
    let (root_before, child_before) = (node_timestamp(&master, "slappart0").await, node_timestamp(&master, "slappart1").await);
    let bang = |guid: &str| json!({"instance_guid": guid, "message": "reprocess"});
    assert_eq!(ok(&master, "/slapos.put.v0.software_instance_bang", bang("root______0")).await["title"], "Bang handled");
    let (root_after, child_after) = (node_timestamp(&master, "slappart0").await, node_timestamp(&master, "slappart1").await);
    assert!(root_after > root_before && child_after > child_before, "the whole tree is bumped");
    ok(&master, "/slapos.put.v0.software_instance_bang", bang("child___root___0")).await;
    assert_eq!(node_timestamp(&master, "slappart0").await, root_after, "a child's bang leaves its root");
    assert!(node_timestamp(&master, "slappart1").await > child_after);
    assert_error(&call(&master, "/slapos.put.v0.software_instance_bang", bang("site______1")).await, 403, "Forbidden", "NotImplemented");
    // Rename: the new id works, the old one does not, descendants follow.
    let rename = json!({"instance_guid": "root______0", "title": "main"});
    assert_eq!(ok(&master, "/slapos.put.v0.software_instance_title", rename).await["title"], "Renamed");
    let child = ok(&master, "/slapos.get.v0.software_instance", json!({"instance_guid": "child___main___0"})).await;
    assert_eq!(child["root_instance_title"], "main");
    assert_eq!(call(&master, "/slapos.get.v0.software_instance", json!({"instance_guid": "root______0"})).await.status, StatusCode::FORBIDDEN);
    let shared_rename = json!({"instance_guid": "site______1", "title": "web"});
    assert_error(&call(&master, "/slapos.put.v0.software_instance_title", shared_rename).await, 403, "Forbidden", "NotImplemented");
    // Destruction: a root waits for its descendants, which are asked to go.
    let destroyed = |guid: &str| json!({"instance_guid": guid, "reported_state": "destroyed"});
    for state in ["started", "stopped"] {
        let report = json!({"instance_guid": "main______0", "reported_state": state});
        assert_eq!(ok(&master, "/slapos.put.v0.software_instance_reported_state", report).await["title"], "Ignored");
    }
    let reply = call(&master, "/slapos.put.v0.software_instance_reported_state", destroyed("main______0")).await;
    assert_error(&reply, 403, "Forbidden", "Not destroying yet because this partition has child partitions: child");
    let child = ok(&master, "/slapos.get.v0.software_instance", json!({"instance_guid": "child___main___0"})).await;
    assert_eq!(child["state"], "destroyed");
    assert_eq!(ok(&master, "/slapos.put.v0.software_instance_reported_state", destroyed("child___main___0")).await["title"], "Destroyed");
    assert_eq!(ok(&master, "/slapos.put.v0.software_instance_reported_state", destroyed("main______0")).await["title"], "Destroyed");
    assert_eq!(ok(&master, "/slapos.put.v0.software_instance_reported_state", destroyed("site______1")).await["title"], "Ignored");
    let reply = call(&master, "/slapos.get.v0.compute_partition", json!({"computer_guid": "computer", "compute_partition_id": "slappart0"})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "the slot is free again");
    assert_eq!(ok(&master, "/slapos.post.v0.software_instance", order("again")).await["compute_partition_id"], "slappart0");
}
on_both_engines!(json_bang_rename_and_destroy_follow_the_tree, destroy_rename_bang);

async fn compute_node(master: Master) {
    let format = json!({"computer_guid": "COMP-1", "compute_partition_list": [
        {"partition_id": "part0", "ip_list": [{"ip-address": "10.0.0.1", "network-interface": "eth0", "netmask": "255.0.0.0", "gateway-ip-address": "10.0.0.254"}]},
        {"partition_id": "part1", "ip_list": [], "extra": "allowed"},
    ]});
    assert_eq!(ok(&master, "/slapos.put.v0.compute_node_format", format).await, json!({"type": "success", "title": "Formatted"}));
    let listed = ok(&master, "/slapos.allDocs.WIP.compute_node_list", json!({})).await;
    assert_eq!(listed["result_list"], json!([{"computer_guid": "COMP-1"}]));
    let placed = ok(&master, "/slapos.post.v0.software_instance", json!({"title": "a", "software_release_uri": "u", "software_type": "t", "sla_parameters": {"computer_guid": "COMP-1", "retention_delay": 7}})).await;
    assert_eq!((placed["computer_guid"].as_str(), placed["ip_list"].clone()), (Some("COMP-1"), json!([["eth0", "10.0.0.1"]])));
    // Reformatting without the slot removes it with its instance.
    let reformat = json!({"computer_guid": "COMP-1", "compute_partition_list": [{"partition_id": "part1"}]});
    ok(&master, "/slapos.put.v0.compute_node_format", reformat).await;
    assert_eq!(call(&master, "/slapos.get.v0.software_instance", json!({"instance_guid": "a______0"})).await.status, StatusCode::FORBIDDEN);
    let incomplete = json!({"computer_guid": "COMP-1", "compute_partition_list": [{"partition_id": "p", "ip_list": [{"ip-address": "10.0.0.2"}]}]});
    let reply = call(&master, "/slapos.put.v0.compute_node_format", incomplete).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    // Software installations: supply, report, list.
    let supply = json!({"software_release_uri": "http://sr//", "computer_guid": "COMP-1", "state": "destroyed"});
    assert_eq!(ok(&master, "/slapos.post.v0.software_installation", supply).await["title"], "Supplied http://sr// to be destroyed");
    let list = || json!({"computer_guid": "COMP-1"});
    let listed = ok(&master, "/slapos.allDocs.v0.compute_node_software_installation_list", list()).await;
    assert_eq!(listed["result_list"], json!([{"software_release_uri": "http://sr//", "state": "destroyed"}]));
    for (state, title) in [("building", "Ignored"), ("available", "Ignored"), ("destroyed", "Destroyed")] {
        let report = json!({"software_release_uri": "http://sr//", "computer_guid": "COMP-1", "reported_state": state});
        assert_eq!(ok(&master, "/slapos.put.v0.software_installation_reported_state", report).await["title"], title);
    }
    let listed = ok(&master, "/slapos.allDocs.v0.compute_node_software_installation_list", list()).await;
    assert_eq!(listed["result_list"], json!([]));
    let reply = call(&master, "/slapos.allDocs.v0.compute_node_software_installation_list", json!({"computer_guid": "computer"})).await;
    assert_error(&reply, 403, "Forbidden", "computer is not registered.");
    // Calls acknowledged without effect.
    let acknowledged = [
        ("/slapos.put.v0.compute_node_bang", json!({"computer_guid": "COMP-1", "message": "m"})),
        ("/slapos.post.v0.compute_node_usage", json!({"computer_guid": "COMP-1", "tioxml": ""})),
        ("/slapos.remove.v0.compute_node_certificate", json!({"computer_guid": "COMP-1"})),
        ("/slapos.put.v0.software_installation_error", json!({"software_release_uri": "u", "computer_guid": "COMP-1", "message": "m"})),
        ("/slapos.put.v0.software_instance_error", json!({"instance_guid": "x", "message": "m"})),
    ];
    for (path, body) in acknowledged {
        assert_eq!(ok(&master, path, body).await, json!({"type": "success", "title": "Ignored"}), "{path}");
    }
    let certificate = json!({"key": "", "certificate": ""});
    assert_eq!(ok(&master, "/slapos.post.v0.compute_node_certificate", json!({"computer_guid": "COMP-1"})).await, certificate);
    assert_eq!(ok(&master, "/slapos.get.v0.software_instance_certificate", json!({"instance_guid": "x"})).await, certificate);
    assert_eq!(ok(&master, "/slapos.get.v0.compute_node_status", json!({"computer_guid": "COMP-1"})).await["text"], "Unknown (not implemented)");
}
on_both_engines!(compute_nodes_format_and_supply_through_json, compute_node);

async fn hateoas_url_and_frontends(master: Master) {
    let url = ok(&master, "/slapos.get.v0.hateoas_url", json!({})).await;
    assert_eq!(url, json!({"hateoas_url": "http://localhost/hateoas/"}));
    let forwarded = [("x-forwarded-proto", "https"), ("x-forwarded-prefix", "/slap")];
    let url = call_with(&master, "/slapos.get.v0.hateoas_url", json!({}), &forwarded).await;
    assert_eq!(url.body, json!({"hateoas_url": "https://localhost/slap/hateoas/"}));
    // The apache frontend is faked, without a slot.
    let frontend = json!({
        "title": "cdn", "software_type": "default", "shared": true, "parameters": {"url": "https://[::1]:123/p?q=1"},
        "software_release_uri": "http://git.erp5.org/gitweb/slapos.git/blob_plain/HEAD:/software/apache-frontend/software.cfg",
    });
    let answer = ok(&master, "/slapos.post.v0.software_instance", frontend).await;
    assert_eq!(answer["compute_partition_id"], "Fake frontend for https://[::1]:123/p?q=1");
    assert_eq!(answer["connection_parameters"], json!({"secure_access": "https://[::1]:123/p?q=1", "domain": "[::1]:123"}));
    assert_eq!((answer["instance_guid"].as_str(), answer["computer_guid"].as_str()), (Some("cdn______1"), Some("")));
    assert_eq!(answer["parameters"], json!({"url": "https://[::1]:123/p?q=1"}));
}
on_both_engines!(json_hateoas_url_and_fake_frontends, hateoas_url_and_frontends);
