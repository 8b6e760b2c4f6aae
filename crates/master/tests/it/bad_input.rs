//! Bad input gets a 4xx naming the problem, never a 500, and changes nothing.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use crate::support::{attr, partitions, Master, Order};

#[tokio::test]
async fn malformed_and_missing_fields_are_400_naming_the_field() {
    let master = Master::sqlite().await;
    master.format("computer", 1).await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("software_release", "x"), ("software_type", "default"), ("partition_reference", "a")], "\"state\""),
        (&[("software_release", "x"), ("software_type", "default"), ("partition_reference", "a"), ("state", "<marshal><string>")], "\"state\""),
        (&[("software_release", "x"), ("software_type", "default"), ("partition_reference", "a"), ("state", "<marshal><int>1</int></marshal>")], "\"state\""),
        (&[("software_release", "x"), ("software_type", "default"), ("partition_reference", "a"), ("state", "<marshal><none/></marshal>"), ("partition_parameter_xml", "<marshal><list id=\"i2\"/></marshal>")], "partition_parameter_xml"),
        (&[("software_type", "default"), ("partition_reference", "a"), ("state", "<marshal><none/></marshal>")], "software_release"),
    ];
    for (fields, named) in cases {
        let (status, body) = master.post("/requestComputerPartition", fields).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{fields:?}: {body}");
        assert!(body.contains(named), "{body} should name {named}");
    }
    let (status, body) = master.post("/loadComputerConfigurationFromXML", &[("xml", "<marshal><dictionary id=\"i2\"/></marshal>")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("reference"), "{body}");
    let (status, _) = master.get("/getFullComputerInformation", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Nothing was allocated by the failed requests.
    let computer = master.computer("computer").await;
    assert!(partitions(&computer).iter().all(|p| attr(p, "_need_modification") == &proto::Value::Int(0)));
}

#[tokio::test]
async fn non_utf8_form_is_400() {
    let master = Master::sqlite().await;
    let request = Request::post("/supplySupply")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(&b"url=%FF%FE&computer_id=computer&state=available"[..]))
        .expect("request");
    let (status, body) = master.send(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("\"url\""), "{body}");
}

#[tokio::test]
async fn oversized_body_is_rejected() {
    let master = Master::sqlite().await;
    let huge = vec![b'a'; 17 * 1024 * 1024];
    let request = Request::post("/supplySupply")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(huge))
        .expect("request");
    let (status, _) = master.send(request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn unknown_authorization_slot_is_400() {
    let master = Master::sqlite().await;
    master.format("computer", 2).await;
    let (status, _, body) = Order::new("x").by("computer", "slappart9").send(&master).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("No partition matching the authorization header: (computer / slappart9)"), "{body}");
}

#[tokio::test]
async fn status_lines_use_werkzeug_reason_phrases() {
    use hyper::ext::ReasonPhrase;
    use tower::ServiceExt;
    let master = Master::sqlite().await;
    let response = master
        .app
        .clone()
        .oneshot(Request::get("/getFullComputerInformation").body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let reason = response.extensions().get::<ReasonPhrase>().map(|r| r.as_bytes().to_vec());
    assert_eq!(reason.as_deref(), Some(&b"BAD REQUEST"[..]));
}

#[tokio::test]
async fn a_partition_cannot_name_another_partition_in_its_form() {
    let master = Master::sqlite().await;
    master.format("computer", 2).await;
    Order::new("a").ok(&master).await;
    Order::new("b").ok(&master).await;
    let xml = proto::marshal::encode(&proto::Value::dict_from([("url", proto::Value::str("http://evil/"))]));
    let form = [("computer_id", "computer"), ("computer_partition_id", "slappart1"), ("connection_xml", xml.as_str())];
    let header = "X-SlapPartition computer_id=computer, computer_partition_id=slappart0";
    let (status, body) = master.post_with("/setComputerPartitionConnectionXml", &form, Some(header)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("(computer / slappart0)") && body.contains("(computer / slappart1)"), "{body}");
    let answer = Order::new("b").ok(&master).await;
    assert_eq!(attr(&answer, "_connection_dict"), &proto::Value::Dict(Vec::new()), "nothing was published");
}
