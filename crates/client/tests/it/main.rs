//! Integration tests of the SLAP client against the real Python slapproxy
//! (slapos.core 1.26.1): format → supply → request → shared request →
//! connection parameters → HATEOAS service/computer list and info, plus
//! the status mapping as a real master produces it.

mod fixture;

use client::{
    ClientConfig, ClientError, MasterUrl, PartitionAuth, RequestResult, RequestSpec, RequestedInstance, SlapClient,
    SupplyState,
};
use fixture::{CannedServer, SlapProxy, COMPUTER};
use proto::Value;

const SOFTWARE: &str = "http://127.0.0.1:1/software.cfg";

fn client_for(proxy: &SlapProxy) -> SlapClient {
    let mut config = ClientConfig::new(MasterUrl::parse(&proxy.url()).expect("proxy URL"));
    config.rest_url = Some(proxy.rest_url());
    SlapClient::new(config).expect("client")
}

/// What `slapos node format` posts: `count` slots, one IPv4 each, on `tap0`.
fn format_description(computer: &str, count: usize) -> Value {
    let partitions = (0..count)
        .map(|index| {
            Value::dict_from([
                ("reference", Value::str(format!("slappart{index}"))),
                (
                    "address_list",
                    Value::List(vec![Value::dict_from([
                        ("addr", Value::str(format!("10.0.0.{}", index + 1))),
                        ("netmask", Value::str("255.255.255.0")),
                    ])]),
                ),
                ("tap", Value::dict_from([("name", Value::str("tap0"))])),
            ])
        })
        .collect();
    Value::dict_from([
        ("reference", Value::str(computer)),
        ("address", Value::str("10.0.0.254")),
        ("netmask", Value::str("255.255.255.0")),
        ("partition_list", Value::List(partitions)),
    ])
}

fn partition(id: &str) -> PartitionAuth {
    PartitionAuth { computer_id: COMPUTER.to_owned(), partition_id: id.to_owned() }
}

async fn ready(client: &SlapClient, spec: &RequestSpec) -> RequestedInstance {
    match client.request(spec).await.expect("request accepted") {
        RequestResult::Ready(instance) => *instance,
        RequestResult::NotReady => panic!("the proxy never answers 408 for a local request"),
    }
}

async fn formatted_proxy(count: usize) -> (SlapProxy, SlapClient) {
    let proxy = SlapProxy::start();
    let client = client_for(&proxy);
    let answer = client.load_computer_configuration(&format_description(COMPUTER, count)).await.expect("format");
    assert_eq!(answer, "done");
    (proxy, client)
}

#[tokio::test]
async fn format_supply_request_and_connection_parameters_round_trip() {
    let (_proxy, client) = formatted_proxy(3).await;

    let computer = client.full_computer_information(COMPUTER).await.expect("computer information");
    assert_eq!(computer.computer_id, COMPUTER);
    let slots: Vec<_> = computer.partitions.iter().map(|p| p.partition_id.as_str()).collect();
    assert_eq!(slots, ["slappart0", "slappart1", "slappart2"]);
    assert!(computer.partitions.iter().all(|p| p.requested_state == "destroyed" && p.software_release.is_none()));

    let supplied = client.supply(SOFTWARE, COMPUTER, SupplyState::Available).await.expect("supply");
    assert_eq!(supplied, format!("Supplied '{SOFTWARE}' to be available"));
    let computer = client.full_computer_information(COMPUTER).await.expect("computer information");
    assert_eq!(computer.software_releases.len(), 1);
    assert_eq!(computer.software_releases[0].url, SOFTWARE);
    assert_eq!(computer.software_releases[0].requested_state.as_deref(), Some("available"));

    let mut spec = RequestSpec::new(SOFTWARE, "my instance");
    spec.parameters = Value::dict_from([("a", Value::Int(1)), ("b", Value::str("x"))]);
    let instance = ready(&client, &spec).await;
    assert_eq!((instance.computer_id.as_str(), instance.partition_id.as_str()), (COMPUTER, "slappart0"));
    assert_eq!(instance.instance_guid.as_deref(), Some("computer-slappart0"));
    assert_eq!(instance.state.as_deref(), Some("started"));
    assert_eq!(instance.software_type.as_deref(), Some("default"));
    assert_eq!(instance.parameters.get("a"), Some(&Value::str("1")), "parameters come back as strings");
    assert!(instance.parameters.contains_key("timestamp"));
    assert!(instance.connection_parameters.is_empty());

    let slot = client.register_partition(&partition("slappart0")).await.expect("register partition");
    assert_eq!(slot.requested_state, "started");
    assert_eq!(slot.software_release.as_ref().map(|release| release.url.as_str()), Some(SOFTWARE));

    let published = Value::dict_from([("url", Value::str("http://10.0.0.1/")), ("password", Value::str("secret"))]);
    client.set_connection_parameters(&partition("slappart0"), &published, None).await.expect("publish");
    let instance = ready(&client, &spec).await;
    assert_eq!(instance.partition_id, "slappart0", "re-request is idempotent");
    assert_eq!(instance.connection_parameters.get("url"), Some(&Value::str("http://10.0.0.1/")));

    let mut shared = RequestSpec::new(SOFTWARE, "my shared");
    shared.shared = true;
    shared.parameters = Value::dict_from([("k", Value::str("v"))]);
    let hosted = ready(&client, &shared).await;
    assert_eq!(hosted.partition_id, "slappart0", "hosted by the instance of the same release");
    assert_eq!(hosted.state, None, "shared instances carry no state");
    assert_eq!(hosted.instance_guid, None);
    assert_eq!(hosted.parameters.get("k"), Some(&Value::str("v")));

    let shared_published = Value::dict_from([("site", Value::str("https://shared/"))]);
    client
        .set_connection_parameters(&partition("slappart0"), &shared_published, Some("_my shared"))
        .await
        .expect("publish for the shared instance");
    let hosted = ready(&client, &shared).await;
    assert_eq!(hosted.connection_parameters.get("site"), Some(&Value::str("https://shared/")));
    let instance = ready(&client, &spec).await;
    assert_eq!(instance.connection_parameters.get("url"), Some(&Value::str("http://10.0.0.1/")), "own parameters kept");

    let removed = client.supply(SOFTWARE, COMPUTER, SupplyState::Destroyed).await.expect("remove");
    assert_eq!(removed, format!("Supplied '{SOFTWARE}' to be destroyed"));
}

#[tokio::test]
async fn partitions_request_children_with_the_authorization_header() {
    let (_proxy, client) = formatted_proxy(2).await;
    let root = ready(&client, &RequestSpec::new(SOFTWARE, "root")).await;
    assert_eq!(root.partition_id, "slappart0");

    let mut child = RequestSpec::new(SOFTWARE, "child");
    child.as_partition = Some(partition("slappart0"));
    child.software_type = Some("worker".to_owned());
    let child = ready(&client, &child).await;
    assert_eq!(child.partition_id, "slappart1");
    assert_eq!(child.software_type.as_deref(), Some("worker"));
    let slot = client.register_partition(&partition("slappart1")).await.expect("register child");
    let parameters = slot.parameters.expect("allocated slot has parameters");
    let root_title = parameters.iter().find(|(key, _)| key == "root_instance_title").map(|(_, value)| value);
    assert_eq!(root_title, Some(&Value::str("root")), "the child belongs to the root's tree");

    let mut stranger = RequestSpec::new(SOFTWARE, "orphan");
    stranger.as_partition = Some(partition("slappart9"));
    let error = client.request(&stranger).await.expect_err("unknown requester slot");
    assert_eq!(error.status(), Some(400), "{error}");
    assert!(error.to_string().contains("/requestComputerPartition: HTTP error 400"), "{error}");

    let answer = client.destroyed_partition(&partition("slappart1")).await.expect("destroyed");
    assert_eq!(answer, "OK");
}

#[tokio::test]
async fn hateoas_lists_and_describes_services_and_computers() {
    let (_proxy, client) = formatted_proxy(2).await;
    assert!(client.service_list().await.expect("empty list").is_empty());

    let mut spec = RequestSpec::new(SOFTWARE, "web");
    spec.parameters = Value::dict_from([("_", Value::str(r#"{"port": 8080}"#))]);
    ready(&client, &spec).await;
    client
        .set_connection_parameters(
            &partition("slappart0"),
            &Value::dict_from([("_", Value::str(r#"{"url": "http://x"}"#))]),
            None,
        )
        .await
        .expect("publish");
    let mut shared = RequestSpec::new(SOFTWARE, "site");
    shared.shared = true;
    shared.parameters = Value::dict_from([("domain", Value::str("example.test"))]);
    ready(&client, &shared).await;

    let services = client.service_list().await.expect("service list");
    let titles: Vec<_> = services.iter().map(|s| (s.title.as_str(), s.software_release_url.as_str())).collect();
    assert_eq!(titles, [("web", SOFTWARE), ("site", SOFTWARE)]);

    let web = client.service_info("web").await.expect("service info").expect("web exists");
    assert_eq!(web.software_release_url.as_deref(), Some(SOFTWARE));
    assert_eq!(web.software_type.as_deref(), Some("default"));
    assert_eq!(web.requested_state.as_deref(), Some("started"));
    assert!(!web.shared);
    assert_eq!(web.parameters.get("_"), Some(&Some(r#"{"port": 8080}"#.to_owned())));
    assert_eq!(web.connection_parameters.get("_"), Some(&serde_json::json!(r#"{"url": "http://x"}"#)));
    assert_eq!(web.news, None);

    let site = client.service_info("site").await.expect("service info").expect("site exists");
    assert!(site.shared);
    assert_eq!(site.requested_state.as_deref(), Some("unused"));
    assert_eq!(site.parameters.get("domain"), Some(&Some("example.test".to_owned())));

    assert_eq!(client.service_info("nothing").await.expect("search works"), None);
    let error = client.service_info("a\"b").await.expect_err("the proxy refuses unquotable titles");
    assert_eq!(error.status(), Some(400), "{error}");

    let computers = client.computer_list().await.expect("computer list");
    assert_eq!(computers.len(), 1);
    assert_eq!((computers[0].reference.as_str(), computers[0].title.as_str()), (COMPUTER, COMPUTER));
    let info = client.computer_info(COMPUTER).await.expect("computer info").expect("known computer");
    assert_eq!((info.reference.as_str(), info.title.as_str()), (COMPUTER, COMPUTER));
    assert!(client.computer_info("COMP-404").await.expect("search works").is_none());
}

#[tokio::test]
async fn statuses_map_to_the_python_exceptions() {
    let (proxy, client) = formatted_proxy(1).await;
    ready(&client, &RequestSpec::new(SOFTWARE, "only")).await;

    let error = client.request(&RequestSpec::new(SOFTWARE, "one too many")).await.expect_err("no free slot");
    assert!(matches!(error, ClientError::NotFound { .. }), "{error:?}");
    assert!(
        error.to_string().contains(&format!("{}/requestComputerPartition: not found (HTTP 404)", proxy.url())),
        "{error}"
    );

    let error = client.full_computer_information("COMP-unknown").await.expect_err("unknown computer");
    assert_eq!(error.status(), Some(500), "the Python proxy answers 500 for an unknown computer: {error}");
    assert!(error.to_string().contains("getFullComputerInformation?computer_id=COMP-unknown"), "{error}");

    assert_eq!(client.software_release_list_from_product("unknown").await.expect("product"), Vec::<String>::new());

    let without_rest =
        SlapClient::new(ClientConfig::new(MasterUrl::parse(&proxy.url()).expect("url"))).expect("client");
    let error = without_rest.service_list().await.expect_err("the proxy has no getHateoasUrl");
    assert!(matches!(error, ClientError::NoHateoas { .. }), "{error:?}");

    let closed = format!("http://127.0.0.1:{}/prefix", fixture::free_port());
    let offline = SlapClient::new(ClientConfig::new(MasterUrl::parse(&closed).expect("url"))).expect("client");
    let error = offline.supply(SOFTWARE, COMPUTER, SupplyState::Available).await.expect_err("nothing listens");
    assert!(error.to_string().starts_with(&format!("cannot reach {closed}/supplySupply")), "{error}");
}

#[tokio::test]
async fn a_408_is_a_not_ready_outcome_not_an_error() {
    let master = CannedServer::start(408, "");
    let client = SlapClient::new(ClientConfig::new(MasterUrl::parse(&master.url()).expect("url"))).expect("client");
    let result = client.request(&RequestSpec::new(SOFTWARE, "slow")).await.expect("408 is not an error");
    assert_eq!(result, RequestResult::NotReady);
    let error = client.supply(SOFTWARE, COMPUTER, SupplyState::Available).await.expect_err("408 elsewhere is an error");
    assert!(matches!(error, ClientError::ResourceNotReady { .. }), "{error:?}");

    let teapot = CannedServer::start(418, "short and stout");
    let client = SlapClient::new(ClientConfig::new(MasterUrl::parse(&teapot.url()).expect("url"))).expect("client");
    let error = client.full_computer_information(COMPUTER).await.expect_err("418");
    assert_eq!(
        error.to_string(),
        format!("{}/getFullComputerInformation?computer_id=computer: HTTP error 418: short and stout", teapot.url())
    );
}
