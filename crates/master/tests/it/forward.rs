//! Multi-master forwarding (§7.9) between two of our masters served on
//! loopback: what the requester, the master it asked and the master the
//! order was forwarded to each see; and the errors when the other master
//! fails, is not ready, is gone, or cannot be spoken to.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use client::{ClientConfig, MasterUrl, RequestResult, RequestSpec, RequestedInstance, SlapClient};
use master::store::ForwardedRequest;
use master::{AppState, MasterConfig, Multimaster, Store};
use proto::Value;
use serde_json::json;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::on_both_engines;
use crate::support::{attr, attr_str, key, partition, Master, Order};

const SOFTWARE: &str = "http://sr/external.cfg";

/// A master served on `127.0.0.1:0` until dropped.
struct Served {
    /// `http://127.0.0.1:PORT`, no trailing `/`.
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn serve_router(router: axum::Router) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("bound address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Served { url, stop: Some(stop) }
}

async fn serve(store: &Store, config: MasterConfig) -> Served {
    serve_router(master::app(AppState::new(store.clone(), config))).await
}

/// The master's configuration with one `[multimaster/<url>]` section.
fn listing(url: &str, section: Multimaster) -> MasterConfig {
    let mut config = MasterConfig::new("computer");
    config.multimasters.insert(url.to_owned(), section);
    config
}

/// A section listing [`SOFTWARE`].
fn listing_software() -> Multimaster {
    Multimaster { software_releases: vec![SOFTWARE.into()], ..Multimaster::default() }
}

/// Makes `master`'s in-process router use `config`.
fn configure(master: &mut Master, config: MasterConfig) {
    master.app = master::app(AppState::new(master.store.clone(), config));
}

fn client(url: &str) -> SlapClient {
    SlapClient::new(ClientConfig::new(MasterUrl::parse(url).expect("http url"))).expect("client")
}

fn ready(result: RequestResult) -> RequestedInstance {
    match result {
        RequestResult::Ready(instance) => *instance,
        RequestResult::NotReady => panic!("the request is not ready"),
    }
}

fn sla_to(url: &str) -> Value {
    Value::dict_from([("master_url", Value::str(url))])
}

fn document_str<'a>(instance: &'a RequestedInstance, key: &str) -> Option<&'a str> {
    instance.document.get(key).and_then(Value::as_str)
}

fn record(reference: &str, master_url: &str) -> ForwardedRequest {
    ForwardedRequest { reference: reference.to_owned(), master_url: master_url.to_owned() }
}

/// Another master with `slots` formatted slots on its default compute node
/// `external_computer`.
async fn external(slots: usize) -> (Master, Served) {
    let master = Master::sqlite().await;
    master.format("external_computer", slots).await;
    let served = serve(&master.store, MasterConfig::new("external_computer")).await;
    (master, served)
}

async fn forwarded_by_master_url(master: Master) {
    let (other, other_served) = external(2).await;
    master.format("computer", 1).await;
    let served = serve(&master.store, listing(&other_served.url, Multimaster::default())).await;
    let mut spec = RequestSpec::new(SOFTWARE, "MyFirstInstance");
    spec.parameters = Value::dict_from([("foo", Value::str("bar"))]);
    spec.sla = sla_to(&other_served.url);

    let answer = ready(client(&served.url).request(&spec).await.expect("forwarded"));
    assert_eq!((answer.computer_id.as_str(), answer.partition_id.as_str()), ("external_computer", "slappart0"));
    assert_eq!(document_str(&answer, "_master_url"), Some(other_served.url.as_str()));
    assert_eq!(document_str(&answer, "_software_release_document"), Some(SOFTWARE));
    assert_eq!(answer.parameters.get("foo"), Some(&Value::str("bar")));
    let here = master.computer("computer").await;
    assert_eq!(attr(&partition(&here, "slappart0"), "_software_release_document"), &Value::None, "nothing allocated here");
    let there = partition(&other.computer("external_computer").await, "slappart0");
    assert_eq!(key(attr(&there, "_parameter_dict"), "instance_title"), Some("user_MyFirstInstance"));
    assert_eq!(key(attr(&there, "_parameter_dict"), "foo"), Some("bar"));
    let recorded = vec![record("user_MyFirstInstance", &other_served.url)];
    assert_eq!(master.store.forwarded_requests().await.expect("records"), recorded);

    let again = ready(client(&served.url).request(&spec).await.expect("forwarded again"));
    assert_eq!(again.partition_id, "slappart0", "the other master finds the same instance");
    let unused = partition(&other.computer("external_computer").await, "slappart1");
    assert_eq!(attr(&unused, "_software_release_document"), &Value::None);
    assert_eq!(master.store.forwarded_requests().await.expect("records"), recorded, "recorded once");

    spec.state = Some("destroyed".into());
    let destroyed = ready(client(&served.url).request(&spec).await.expect("destroy forwarded"));
    assert_eq!(destroyed.state.as_deref(), Some("destroyed"));
    let there = partition(&other.computer("external_computer").await, "slappart0");
    assert_eq!(attr_str(&there, "_requested_state"), "destroyed");
    assert_eq!(master.store.forwarded_requests().await.expect("records"), [], "destroyed is forgotten");
}
on_both_engines!(request_naming_a_listed_master_is_forwarded_recorded_once_and_forgotten_when_destroyed, forwarded_by_master_url);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn listed_release_is_forwarded_as_the_configured_partition() {
    let (other, other_served) = external(3).await;
    let mut instance = RequestSpec::new("http://sr/dummy.cfg", "instance");
    instance.software_type = Some("default".into());
    ready(client(&other_served.url).request(&instance).await.expect("instance on the other master"));
    let mut master = Master::sqlite().await;
    master.format("computer", 1).await;
    let section = Multimaster {
        computer_id: Some("external_computer".into()),
        partition_id: Some("slappart0".into()),
        software_releases: vec![SOFTWARE.into()],
        ..Multimaster::default()
    };
    configure(&mut master, listing(&format!("{}/", other_served.url), section));

    let answer = Order::new("MySubInstance").software(SOFTWARE).by("computer", "slappart0").ok(&master).await;
    assert_eq!(attr_str(&answer, "slap_computer_partition_id"), "slappart1");
    assert_eq!(attr_str(&answer, "_master_url"), format!("{}/", other_served.url));
    let there = partition(&other.computer("external_computer").await, "slappart1");
    let parameters = attr(&there, "_parameter_dict");
    assert_eq!(key(parameters, "instance_title"), Some("slappart0_MySubInstance"));
    assert_eq!(key(parameters, "root_instance_title"), Some("instance"), "joined the configured partition's tree");
    let recorded = master.store.forwarded_requests().await.expect("records");
    assert_eq!(recorded, [record("slappart0_MySubInstance", &format!("{}/", other_served.url))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shared_and_json_requests_are_forwarded_too() {
    let (other, other_served) = external(2).await;
    ready(client(&other_served.url).request(&RequestSpec::new(SOFTWARE, "host")).await.expect("host instance"));
    let mut master = Master::sqlite().await;
    master.format("computer", 1).await;
    configure(&mut master, listing(&other_served.url, Multimaster::default()));

    let shared = Order::new("frontend").software(SOFTWARE).shared().sla(sla_to(&other_served.url)).ok(&master).await;
    assert_eq!(attr_str(&shared, "slap_computer_partition_id"), "slappart0", "hosted by the other master's instance");
    assert_eq!(attr(&shared, "_synced"), &Value::Bool(true));
    let host = partition(&other.computer("external_computer").await, "slappart0");
    let hosted = attr(&host, "_parameter_dict").dict_get("slave_instance_list").and_then(Value::as_seq).expect("list").to_vec();
    assert_eq!(key(&hosted[0], "slave_reference"), Some("_user_frontend"));

    let body = json!({
        "title": "MyJsonInstance",
        "software_release_uri": SOFTWARE,
        "software_type": "default",
        "parameters": {"foo": "bar"},
        "sla_parameters": {"master_url": other_served.url},
    });
    let (status, _, text) = post_json(&master, &body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let document: serde_json::Value = serde_json::from_str(&text).expect("JSON answer");
    assert_eq!(document["instance_guid"], "MyJsonInstance______0");
    assert_eq!(document["computer_guid"], "external_computer");
    assert_eq!(document["compute_partition_id"], "slappart1");
    assert_eq!(document["parameters"], json!({"foo": "bar"}));
    assert_eq!(document["state"], "started");
    let recorded = master.store.forwarded_requests().await.expect("records");
    assert_eq!(recorded, [record("user_MyJsonInstance", &other_served.url), record("user_frontend", &other_served.url)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn own_url_is_not_forwarded_and_unlisted_ones_are_refused() {
    let master = Master::sqlite().await;
    master.format("computer", 2).await;
    let served = serve(&master.store, MasterConfig::new("computer")).await;
    // Another spelling than the Host header: recognised by its run id.
    let port = served.url.rsplit(':').next().expect("port");
    let mut spec = RequestSpec::new(SOFTWARE, "local");
    spec.sla = sla_to(&format!("http://localhost:{port}/"));
    let answer = ready(client(&served.url).request(&spec).await.expect("allocated here"));
    assert_eq!((answer.computer_id.as_str(), answer.partition_id.as_str()), ("computer", "slappart0"));
    assert_eq!(answer.document.get("_master_url"), None);

    spec.title = "elsewhere".into();
    spec.sla = sla_to("http://127.0.0.1:1/");
    let error = client(&served.url).request(&spec).await.expect_err("unlisted");
    assert!(error.is_not_found(), "{error}");
    let unlisted = "External SlapOS Master URL http://127.0.0.1:1/ is not listed in multimaster list.";
    assert!(error.to_string().contains(unlisted), "{error}");
    assert_eq!(master.store.forwarded_requests().await.expect("records"), []);
}

/// A port nothing listens on: bound, then closed.
async fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("bound address"));
    drop(listener);
    url
}

/// One exchange with the in-process router: status, reason phrase, body.
async fn exchange(master: &Master, request: Request<Body>) -> (StatusCode, Option<String>, String) {
    let response = master.app.clone().oneshot(request).await.expect("router is infallible");
    let reason = response
        .extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map(|reason| String::from_utf8_lossy(reason.as_bytes()).into_owned());
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, reason, String::from_utf8_lossy(&bytes).into_owned())
}

async fn post_json(master: &Master, body: &serde_json::Value) -> (StatusCode, Option<String>, String) {
    let request = Request::post("/slapos.post.v0.software_instance")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    exchange(master, request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unreachable_master_is_523_on_both_apis() {
    let dead = dead_url().await;
    let mut master = Master::sqlite().await;
    master.format("computer", 1).await;
    configure(&mut master, listing(&dead, listing_software()));

    let (status, body) = {
        let (status, _, body) = Order::new("MyFirstInstance").software(SOFTWARE).send(&master).await;
        (status, body)
    };
    assert_eq!(status.as_u16(), 523, "{body}");
    assert!(body.starts_with(&format!("External SlapOS Master {dead} is unreachable")), "{body}");
    let form = crate::support::encode_form(&[
        ("software_release", SOFTWARE),
        ("software_type", "default"),
        ("partition_reference", "viaSla"),
        ("filter_xml", &proto::marshal::encode(&sla_to(&dead))),
        ("state", &proto::marshal::encode(&Value::None)),
    ]);
    let request = Request::post("/requestComputerPartition")
        .header("host", "localhost")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .expect("request");
    let (status, reason, _) = exchange(&master, request).await;
    assert_eq!((status.as_u16(), reason.as_deref()), (523, Some("UNKNOWN")), "werkzeug's status line");

    let body = json!({"title": "MyFirstInstance", "software_release_uri": SOFTWARE, "software_type": "foobar"});
    let (status, reason, text) = post_json(&master, &body).await;
    assert_eq!((status.as_u16(), reason.as_deref()), (523, Some("UNKNOWN")), "{text}");
    let error: serde_json::Value = serde_json::from_str(&text).expect("JSON error");
    assert_eq!((&error["status"], &error["type"]), (&json!(523), &json!("Unknown Error")));
    assert_eq!(master.store.forwarded_requests().await.expect("records"), [], "nothing recorded");
    let here = master.computer("computer").await;
    assert_eq!(attr(&partition(&here, "slappart0"), "_software_release_document"), &Value::None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn not_ready_is_408_and_recorded_and_a_failing_master_is_502() {
    let not_ready = serve_router(axum::Router::new().route(
        "/requestComputerPartition",
        post(|| async { (StatusCode::REQUEST_TIMEOUT, "Resource not ready") }),
    ))
    .await;
    let mut master = Master::sqlite().await;
    configure(&mut master, listing(&not_ready.url, Multimaster::default()));
    let (status, _, body) = Order::new("slow").sla(sla_to(&not_ready.url)).send(&master).await;
    assert_eq!((status, body.as_str()), (StatusCode::REQUEST_TIMEOUT, "Resource not ready"));
    let body = json!({"title": "slowJson", "software_release_uri": SOFTWARE, "software_type": "default",
                      "sla_parameters": {"master_url": not_ready.url}});
    assert_eq!(post_json(&master, &body).await.0, StatusCode::REQUEST_TIMEOUT);
    let recorded = master.store.forwarded_requests().await.expect("records");
    assert_eq!(recorded, [record("user_slow", &not_ready.url), record("user_slowJson", &not_ready.url)]);

    // The other master has no free slot: its 404 is our 502.
    let (_full_master, full) = external(0).await;
    configure(&mut master, listing(&full.url, Multimaster::default()));
    let (status, _, body) = Order::new("nowhere").sla(sla_to(&full.url)).send(&master).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.contains("No free computer partition found for: user_nowhere"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn https_masters_need_key_and_cert_and_are_not_supported_yet() {
    let mut master = Master::sqlite().await;
    let mut config = listing("https://bare.example", Multimaster::default());
    let tls = Multimaster { key_file: Some("/k".into()), cert_file: Some("/c".into()), ..Multimaster::default() };
    config.multimasters.insert("https://tls.example".into(), tls);
    configure(&mut master, config);
    let (status, _, body) = Order::new("a").sla(sla_to("https://bare.example")).send(&master).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::NOT_FOUND, "External master https://bare.example configuration did not specify key or certificate.")
    );
    let (status, _, body) = Order::new("b").sla(sla_to("https://tls.example")).send(&master).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("https forwarding is not supported yet"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_already_here_stay_here() {
    let (_other, other_served) = external(1).await;
    let mut master = Master::sqlite().await;
    master.format("computer", 1).await;
    Order::new("mine").software(SOFTWARE).ok(&master).await;
    configure(&mut master, listing(&other_served.url, listing_software()));
    let answer = Order::new("mine").software(SOFTWARE).sla(sla_to(&other_served.url)).ok(&master).await;
    assert_eq!(attr_str(&answer, "slap_computer_id"), "computer");
    assert_eq!(master.store.forwarded_requests().await.expect("records"), []);
}
