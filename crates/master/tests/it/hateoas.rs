//! The HATEOAS API (§5) as the real client's `slapos service|computer
//! list|info` walks it: the REST URL redirects to the root document, whose
//! templates lead to searches and, through traversal, to documents.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use proto::Value;
use serde_json::{json, Value as Json};

use crate::jsonrpc::exchange;
use crate::on_both_engines;
use crate::support::{encode_form, Master, Order};

const SERVICE_LIST: &str = "portal_type:\"Instance Tree\" AND validation_state:validated";
const COMPUTER_LIST: &str = "portal_type:\"Compute Node\" AND validation_state:validated";

/// GETs a path (query included) with extra headers.
async fn get(master: &Master, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::get(uri).header("host", "localhost");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    exchange(master, request.body(Body::empty()).expect("request")).await
}

/// GETs a document that must exist, as JSON.
async fn document(master: &Master, uri: &str) -> Json {
    let (status, headers, body) = get(master, uri, &[]).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    assert_eq!(headers.get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"), "{uri}");
    serde_json::from_str(&body).expect("json document")
}

/// The rows a catalog query returns.
async fn search(master: &Master, query: &str) -> Vec<Json> {
    let uri = format!("/hateoas/?{}", encode_form(&[("mode", "search"), ("query", query), ("select_list", "title")]));
    let found = document(master, &uri).await;
    found["_embedded"]["contents"].as_array().expect("contents").clone()
}

/// Follows a search row to its document through `traverse`, as jIO does.
async fn traverse(master: &Master, relative_url: &str) -> Json {
    let uri = format!("/hateoas/?{}", encode_form(&[("mode", "traverse"), ("relative_url", relative_url), ("view", "view")]));
    let (status, headers, _) = get(master, &uri, &[]).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = headers.get("location").and_then(|v| v.to_str().ok()).expect("location").to_owned();
    assert_eq!(location, relative_url);
    document(master, &location).await
}

/// The `default` of a field of a document's view.
fn view<'a>(document: &'a Json, field: &str) -> &'a Json {
    &document["_embedded"]["_view"][field]["default"]
}

async fn root_document(master: Master) {
    let (status, headers, _) = get(&master, "/hateoas", &[]).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT, "the client's master_rest_url has no final slash");
    assert_eq!(headers.get("location").and_then(|v| v.to_str().ok()), Some("http://localhost/hateoas/"));
    let (_, headers, _) = get(&master, "/hateoas?mode=search", &[]).await;
    assert_eq!(headers.get("location").and_then(|v| v.to_str().ok()), Some("http://localhost/hateoas/?mode=search"));
    let root = document(&master, "/hateoas/").await;
    assert_eq!(root, json!({"_links": {
        "raw_search": {"href": "http://localhost/hateoas/?mode=search&query={query}&select_list={select_list}"},
        "traverse": {"href": "http://localhost/hateoas/?mode=traverse&relative_url={relative_url}&view={view}"},
    }}));
    let forwarded = [("x-forwarded-proto", "https"), ("x-forwarded-prefix", "/slap")];
    let (_, _, body) = get(&master, "/hateoas/", &forwarded).await;
    let root: Json = serde_json::from_str(&body).expect("json");
    assert_eq!(root["_links"]["traverse"]["href"], "https://localhost/slap/hateoas/?mode=traverse&relative_url={relative_url}&view={view}");
    for uri in ["/hateoas/?mode=browse", "/hateoas/?mode=search&query=portal_type%3A%22Person%22", "/hateoas/?mode=search"] {
        let (status, _, _) = get(&master, uri, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
    }
}
on_both_engines!(rest_url_leads_to_the_root_document, root_document);

async fn services(master: Master) {
    master.format("computer", 4).await;
    Order::new("db").software("http://sr0//").ok(&master).await;
    let parameters = Value::dict_from([("couscous", Value::str("hello"))]);
    Order::new("web").software("http://sr1//").software_type("MyType").parameters(parameters.clone()).ok(&master).await;
    Order::new("child").software("http://sr2//").by("computer", "slappart0").ok(&master).await;
    let shared_parameters = Value::dict_from([("port", Value::Int(443))]);
    Order::new("site").software("http://sr1//").software_type("MyType").parameters(shared_parameters).shared().ok(&master).await;
    // The list: tree roots (instances, then shared instances), never children.
    let rows = search(&master, SERVICE_LIST).await;
    let listed: Vec<(Json, Json)> = rows.iter().map(|r| (r["title"].clone(), r["url_string"].clone())).collect();
    assert_eq!(listed, [(json!("db"), json!("http://sr0//")), (json!("web"), json!("http://sr1//")), (json!("site"), json!("http://sr1//"))]);
    // One by title, then its document.
    let rows = search(&master, &format!("{SERVICE_LIST} AND title:=\"web\"")).await;
    assert_eq!(rows.len(), 1);
    let web = traverse(&master, rows[0]["relative_url"].as_str().expect("relative_url")).await;
    assert_eq!(web["_links"]["type"]["name"], "Instance Tree");
    assert_eq!((view(&web, "my_reference"), view(&web, "my_slap_state")), (&json!("web"), &json!("started")));
    assert_eq!((view(&web, "my_url_string"), view(&web, "my_source_reference")), (&json!("http://sr1//"), &json!("MyType")));
    assert_eq!(view(&web, "my_root_slave"), &json!(0));
    let xml = view(&web, "my_text_content").as_str().expect("parameter xml");
    let decoded = proto::instance_xml::decode(xml).expect("instance xml");
    assert_eq!(decoded.get("couscous"), Some(&Some("hello".to_owned())));
    assert_eq!(view(&web, "my_connection_parameter_list"), &Json::Null);
    // A shared root: its requested parameters, no bookkeeping, no state.
    let rows = search(&master, &format!("{SERVICE_LIST} AND title:=\"site\"")).await;
    assert_eq!(rows[0]["relative_url"], "/hateoas/shared/site");
    let site = traverse(&master, "/hateoas/shared/site").await;
    assert_eq!((view(&site, "my_slap_state"), view(&site, "my_root_slave")), (&json!("unused"), &json!(1)));
    let xml = view(&site, "my_text_content").as_str().expect("parameter xml");
    let decoded = proto::instance_xml::decode(xml).expect("instance xml");
    assert_eq!(decoded.keys().collect::<Vec<_>>(), ["port"]);
    assert_eq!(view(&site, "my_source_reference"), &json!("MyType"));
    // Unknown or non-root titles find nothing; documents that do not exist are 404.
    assert!(search(&master, &format!("{SERVICE_LIST} AND title:=\"child\"")).await.is_empty());
    assert!(search(&master, &format!("{SERVICE_LIST} AND title:=\"nope\"")).await.is_empty());
    for uri in ["/hateoas/partitions/nope", "/hateoas/shared/nope", "/hateoas/computers/nope"] {
        assert_eq!(get(&master, uri, &[]).await.0, StatusCode::NOT_FOUND, "{uri}");
    }
}
on_both_engines!(service_list_and_info_walk_tree_roots, services);

async fn awkward_titles(master: Master) {
    master.format("computer", 2).await;
    Order::new("my \"db\"/été").ok(&master).await;
    Order::new("plain").ok(&master).await;
    // A value that is not one quoted token is refused, as by the proxy.
    for name in ["\"plain", "plain\"", "pl\"ain", "title:=\"plain\""] {
        let uri = format!("/hateoas/?{}", encode_form(&[("mode", "search"), ("query", &format!("{SERVICE_LIST} AND title:=\"{name}\""))]));
        let (status, _, body) = get(&master, &uri, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
        assert!(body.starts_with("Unhandled query: "), "{body}");
    }
    // Every root is reachable through its relative URL, whatever its title.
    let rows = search(&master, SERVICE_LIST).await;
    assert_eq!(rows[0]["relative_url"], "/hateoas/partitions/my%20%22db%22%2F%C3%A9t%C3%A9");
    let found = traverse(&master, rows[0]["relative_url"].as_str().expect("relative_url")).await;
    assert_eq!(view(&found, "my_reference"), "my \"db\"/été");
}
on_both_engines!(titles_survive_quoting_and_traversal, awkward_titles);

async fn computers(master: Master) {
    master.format("computer", 1).await;
    master.format("COMP-1", 1).await;
    let rows = search(&master, COMPUTER_LIST).await;
    let listed: Vec<(Json, Json)> = rows.iter().map(|r| (r["reference"].clone(), r["title"].clone())).collect();
    assert_eq!(listed, [(json!("computer"), json!("computer")), (json!("COMP-1"), json!("COMP-1"))]);
    let rows = search(&master, &format!("{COMPUTER_LIST} AND reference:=\"COMP-1\"")).await;
    assert_eq!(rows.len(), 1);
    let found = traverse(&master, rows[0]["relative_url"].as_str().expect("relative_url")).await;
    assert_eq!(found["_links"]["type"]["name"], "Computer");
    assert_eq!((view(&found, "my_reference"), view(&found, "my_title")), (&json!("COMP-1"), &json!("COMP-1")));
    assert!(search(&master, &format!("{COMPUTER_LIST} AND reference:=\"COMP-9\"")).await.is_empty());
    let uri = format!("/hateoas/?{}", encode_form(&[("mode", "search"), ("query", &format!("{COMPUTER_LIST} AND reference:=\"COMP\"-1\""))]));
    assert_eq!(get(&master, &uri, &[]).await.0, StatusCode::BAD_REQUEST);
}
on_both_engines!(computer_list_and_info_walk_formatted_nodes, computers);
