//! Multi-master forwarding (§7.9): an order that matches no local instance
//! (or shared instance) is sent to another master when its SLA
//! `master_url` names one listed in a `[multimaster/<url>]` section, or when
//! a section lists its software release. This module owns the whole
//! feature; `place_order` calls [`forward_if_needed`] first and renders a
//! [`Forwarded`] answer like any other outcome.
//!
//! As the proxy (`slapos.proxy.db.forwardRequestToExternalMaster`):
//! - a `master_url` that is this master (`http(s)://<Host header>`, or a
//!   master answering `getRunId` with our run id) is not forwarded; any
//!   other unlisted one is a 404;
//! - the reference sent is `<requester id>_<title>`, as the section's
//!   `computer`/`partition` when both are set (the instance joins that
//!   partition's tree there), else as a user with SLA `source_instance_id`
//!   set to that reference;
//! - every forwarded request is recorded in the store, and forgotten when
//!   requested `destroyed`;
//! - the answer is the remote one as a `ComputerPartition`, plus
//!   `_master_url` and `_software_release_document` (the release URL);
//!   a remote 408 is a 408, an unreachable master a 523.
//!
//! Where we differ: https masters are refused with a 404 even with `key`
//! and `cert` (the SLAP client has no TLS); a remote error other than 408,
//! or an answer that is not an instance, is a 502 where the proxy crashes
//! with a 500; the forwarded SLA carries the values as strings.
//!
//! The network calls (the self check and the forwarded request) run
//! outside any store transaction: no lock is held while another master
//! answers, so two masters forwarding to each other cannot deadlock.

use axum::http::HeaderMap;
use client::{
    ClientConfig, ClientError, MasterUrl, PartitionAuth, RequestResult, RequestSpec, RequestedInstance, SlapClient,
};
use proto::{Class, Value};

use super::error::ApiError;
use super::form::Fields;
use super::request::{requester, Order, Requester};
use super::AppState;
use crate::config::{MasterConfig, Multimaster};
use crate::store::{forwarded, instance, shared, StoreError};

/// What the proxy answers with the error it gets for a remote 408.
const NOT_READY_MESSAGE: &str = "Resource not ready";

/// The answer of the master a request was forwarded to, as this master
/// relays it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Forwarded {
    /// The attributes of the `ComputerPartition` answered, in the order the
    /// proxy sets them (the encoder sorts them on the wire).
    attributes: Vec<(String, Value)>,
}

impl Forwarded {
    /// Builds the answer as the proxy does: the client's
    /// `ComputerPartition` (ids from the remote answer), the remote
    /// attributes copied over it, `_synced` for a shared instance, then
    /// `_master_url` and `_software_release_document`.
    fn new(remote: &RequestedInstance, master_url: &str, order: &Order) -> Forwarded {
        let mut forwarded = Forwarded {
            attributes: vec![
                ("_connection_helper".to_owned(), Value::None),
                ("_hateoas_navigator".to_owned(), Value::None),
                ("_computer_id".to_owned(), Value::str(remote.computer_id.as_str())),
                ("_partition_id".to_owned(), Value::str(remote.partition_id.as_str())),
                ("_request_dict".to_owned(), Value::None),
            ],
        };
        for (key, value) in &remote.document.attributes {
            forwarded.set(key, value.clone());
        }
        if order.shared {
            forwarded.set("_synced", Value::Bool(true));
        }
        forwarded.set("_master_url", Value::str(master_url));
        forwarded.set("_connection_helper", Value::None);
        forwarded.set("_software_release_document", Value::str(order.software_release.as_str()));
        forwarded
    }

    fn set(&mut self, key: &str, value: Value) {
        match self.attributes.iter_mut().find(|(existing, _)| existing == key) {
            Some(slot) => slot.1 = value,
            None => self.attributes.push((key.to_owned(), value)),
        }
    }

    /// Attribute `key` of the answer (`_connection_dict`, `_computer_id`…).
    pub(super) fn attribute(&self, key: &str) -> Option<&Value> {
        self.attributes.iter().find(|(existing, _)| existing == key).map(|(_, value)| value)
    }

    /// The classic API's answer: the marshalled `ComputerPartition`, whose
    /// constructor arguments are its final `_computer_id`, `_partition_id`
    /// and `_request_dict`.
    pub(super) fn to_value(&self) -> Value {
        let initargs = ["_computer_id", "_partition_id", "_request_dict"]
            .iter()
            .map(|key| self.attribute(key).cloned().unwrap_or(Value::None))
            .collect();
        let state = self.attributes.iter().map(|(key, value)| (Value::str(key.as_str()), value.clone())).collect();
        Value::object(Class::ComputerPartition, initargs, state)
    }
}

/// Forwards `order` if it must be (see the module documentation) and
/// returns the other master's answer; `None` places it locally.
///
/// # Errors
/// A bad `Authorization` header (400); an unlisted `master_url` or an
/// unusable https master (404); the other master not ready (408), failing
/// (502) or unreachable (523); store failures.
pub(super) async fn forward_if_needed(
    app: &AppState,
    headers: &HeaderMap,
    fields: &Fields,
    order: &Order,
) -> Result<Option<Forwarded>, ApiError> {
    let master_url = order.sla.master_url.as_deref().filter(|url| !url.is_empty());
    if master_url.is_none() && listing_section(&app.config, &order.software_release).is_none() {
        return Ok(None);
    }
    let (who, local) = local_match(app, headers, fields, order).await?;
    if local && !order.shared {
        return Ok(None);
    }
    let is_this_master = match master_url {
        Some(url) => is_this_master(app, headers, url).await,
        None => false,
    };
    let Some((url, target)) = route(&app.config, master_url, &order.software_release, is_this_master)? else {
        return Ok(None);
    };
    if local {
        // A shared instance recorded here stays here, even when its SLA
        // names another master (the proxy checks the SLA first all the same).
        return Ok(None);
    }
    forward(app, url, target, order, &who).await.map(Some)
}

/// Who asks, and whether the order names an instance (or a shared
/// instance) this master already holds.
async fn local_match(
    app: &AppState,
    headers: &HeaderMap,
    fields: &Fields,
    order: &Order,
) -> Result<(Requester, bool), ApiError> {
    let mut conn = app.store.read().await?;
    let who = requester(&mut conn, headers, fields).await?;
    let local = if order.shared {
        let reference = shared::shared_reference(&who.requested_by, &order.title);
        let computer = order.sla.computer_guid.as_deref().unwrap_or(&app.config.computer_id);
        shared::shared_instance(&mut conn, &reference, computer).await?.is_some()
    } else {
        instance::instance(&mut conn, &order.title, &who.requested_by).await?.is_some()
    };
    Ok((who, local))
}

/// Where an order without a local match goes: the section of its SLA
/// `master_url` unless that is this master, else the first section
/// listing its software release, else nowhere (`None`: placed locally).
///
/// # Errors
/// [`ApiError::NotFound`] for a `master_url` that is neither this master
/// nor listed.
fn route<'c>(
    config: &'c MasterConfig,
    master_url: Option<&str>,
    software_release: &str,
    is_this_master: bool,
) -> Result<Option<(&'c str, &'c Multimaster)>, ApiError> {
    if let Some(url) = master_url.filter(|_| !is_this_master) {
        return match config.multimasters.get_key_value(url) {
            Some((url, target)) => Ok(Some((url.as_str(), target))),
            None => Err(ApiError::NotFound(format!(
                "External SlapOS Master URL {url} is not listed in multimaster list."
            ))),
        };
    }
    Ok(listing_section(config, software_release))
}

/// The first section (by URL) whose `software_release_list` holds
/// `software_release`.
fn listing_section<'c>(config: &'c MasterConfig, software_release: &str) -> Option<(&'c str, &'c Multimaster)> {
    config
        .multimasters
        .iter()
        .find(|(_, target)| target.software_releases.iter().any(|listed| listed == software_release))
        .map(|(url, target)| (url.as_str(), target))
}

/// Whether `url` reaches this master: it is the URL the request came in
/// by, or the master there answers `getRunId` with our run id. Any failure
/// to ask means "another master".
async fn is_this_master(app: &AppState, headers: &HeaderMap, url: &str) -> bool {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let bare = url.trim_end_matches('/');
    if !host.is_empty() && (bare == format!("http://{host}") || bare == format!("https://{host}")) {
        return true;
    }
    let Ok(master_url) = MasterUrl::parse(url) else {
        return false;
    };
    let asked = match SlapClient::new(ClientConfig::new(master_url)) {
        Ok(client) => client.run_id().await,
        Err(error) => Err(error),
    };
    match asked {
        Ok(run_id) => run_id == *app.run_id,
        Err(error) => {
            tracing::debug!(master_url = url, error = %error, "cannot ask for a run id, another master");
            false
        }
    }
}

/// Sends `order` to the master at `url`, records it, and relays the answer.
async fn forward(
    app: &AppState,
    url: &str,
    target: &Multimaster,
    order: &Order,
    who: &Requester,
) -> Result<Forwarded, ApiError> {
    check_transport(url, target)?;
    let reference = format!("{}_{}", who.requester_id, order.title);
    let spec = remote_spec(order, &reference, target);
    tracing::info!(
        reference = %reference,
        master_url = url,
        state = order.state.as_deref().unwrap_or("None"),
        "forwarding request"
    );
    let master_url = MasterUrl::parse(url)
        .map_err(|error| ApiError::NotFound(format!("External SlapOS Master URL {url} cannot be used: {error}")))?;
    let client =
        SlapClient::new(ClientConfig::new(master_url)).map_err(|error| remote_failure(url, &reference, &error))?;
    let result = match client.request(&spec).await {
        Ok(result) => result,
        Err(error @ ClientError::Connection { .. }) => {
            return Err(ApiError::Unreachable(format!(
                "External SlapOS Master {url} is unreachable: {}",
                error_chain(&error)
            )))
        }
        Err(error) => return Err(remote_failure(url, &reference, &error)),
    };
    // The proxy records the request once the other master accepted it,
    // ready or not.
    let mut tx = app.store.begin_write().await?;
    if order.state.as_deref() == Some("destroyed") {
        forwarded::forget(&mut tx, &reference, url).await?;
    } else {
        forwarded::record(&mut tx, &reference, url).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    match result {
        RequestResult::Ready(remote) => Ok(Forwarded::new(&remote, url, order)),
        RequestResult::NotReady => Err(ApiError::NotReady(NOT_READY_MESSAGE.to_owned())),
    }
}

fn remote_failure(url: &str, reference: &str, error: &ClientError) -> ApiError {
    ApiError::BadGateway(format!(
        "External SlapOS Master {url} failed the forwarded request of {reference}: {}",
        error_chain(error)
    ))
}

/// An error and its causes, `: `-separated (reqwest hides the cause, e.g.
/// "connection refused", in its source).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Refuses https masters: without `key` and `cert` as the proxy does,
/// with them because the SLAP client has no TLS yet.
///
/// # Errors
/// [`ApiError::NotFound`] with the reason.
fn check_transport(url: &str, target: &Multimaster) -> Result<(), ApiError> {
    if !url.starts_with("https") {
        return Ok(());
    }
    if target.key_file.is_none() || target.cert_file.is_none() {
        return Err(ApiError::NotFound(format!(
            "External master {url} configuration did not specify key or certificate."
        )));
    }
    Err(ApiError::NotFound(format!(
        "External master {url}: https forwarding is not supported yet (no TLS client certificates in this build)."
    )))
}

/// The request sent to the other master: the order under `reference`, as
/// the section's partition when it names one, else as a user whose SLA
/// says which instance it stands for (`source_instance_id`).
fn remote_spec(order: &Order, reference: &str, target: &Multimaster) -> RequestSpec {
    let partition = match (target.computer_id.as_deref(), target.partition_id.as_deref()) {
        (Some(computer_id), Some(partition_id)) if !computer_id.is_empty() && !partition_id.is_empty() => {
            Some(PartitionAuth { computer_id: computer_id.to_owned(), partition_id: partition_id.to_owned() })
        }
        _ => None,
    };
    let mut sla = order.sla.to_value();
    if partition.is_none() {
        if let Value::Dict(items) = &mut sla {
            items.retain(|(key, _)| key.as_str() != Some("source_instance_id"));
            items.push((Value::str("source_instance_id"), Value::str(reference)));
        }
    }
    RequestSpec {
        software_release: order.software_release.clone(),
        software_type: Some(order.software_type.clone()),
        title: reference.to_owned(),
        parameters: order.parameters.clone(),
        sla,
        shared: order.shared,
        state: order.state.clone(),
        as_partition: partition,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::sla::Sla;

    /// A remote answer as our master (and the proxy) renders it.
    const REMOTE: &str = concat!(
        r#"<marshal><object id="i2" module="slapos.slap.slap" class="SoftwareInstance"><tuple/><dictionary id="i3">"#,
        r#"<string>_connection_dict</string><dictionary id="i4"/><string>_instance_guid</string><string>external_computer-slappart0</string>"#,
        r#"<string>_parameter_dict</string><dictionary id="i5"><string>foo</string><string>bar</string><string>timestamp</string><string>1.5</string></dictionary>"#,
        r#"<string>_requested_state</string><string>started</string><string>connection_xml</string><none/>"#,
        r#"<string>ip_list</string><list id="i6"><tuple><string>tap0</string><string>10.0.0.1</string></tuple></list>"#,
        r#"<string>slap_computer_id</string><string>external_computer</string><string>slap_computer_partition_id</string><string>slappart0</string>"#,
        r#"<string>slap_server_url</string><string>slap_server_url</string><string>slap_software_release_url</string><string>http://sr/ext.cfg</string>"#,
        r#"<string>slap_software_type</string><string>default</string></dictionary></object></marshal>"#
    );

    /// What the proxy of slapos.core 1.26.1 marshals for that answer
    /// forwarded to `http://127.0.0.1:8281` (recorded with its own classes).
    const PROXY_ANSWER: &str = concat!(
        r#"<marshal><object id="i2" module="slapos.slap.slap" class="ComputerPartition"><tuple><string>external_computer</string><string>slappart0</string><none/></tuple>"#,
        r#"<dictionary id="i3"><string>_computer_id</string><string>external_computer</string><string>_connection_dict</string><dictionary id="i4"/>"#,
        r#"<string>_connection_helper</string><none/><string>_hateoas_navigator</string><none/><string>_instance_guid</string><string>external_computer-slappart0</string>"#,
        r#"<string>_master_url</string><string>http://127.0.0.1:8281</string>"#,
        r#"<string>_parameter_dict</string><dictionary id="i5"><string>foo</string><string>bar</string><string>timestamp</string><string>1.5</string></dictionary>"#,
        r#"<string>_partition_id</string><string>slappart0</string><string>_request_dict</string><none/><string>_requested_state</string><string>started</string>"#,
        r#"<string>_software_release_document</string><string>http://sr/ext.cfg</string>SYNCED<string>connection_xml</string><none/>"#,
        r#"<string>ip_list</string><list id="i6"><tuple><string>tap0</string><string>10.0.0.1</string></tuple></list>"#,
        r#"<string>slap_computer_id</string><string>external_computer</string><string>slap_computer_partition_id</string><string>slappart0</string>"#,
        r#"<string>slap_server_url</string><string>slap_server_url</string><string>slap_software_release_url</string><string>http://sr/ext.cfg</string>"#,
        r#"<string>slap_software_type</string><string>default</string></dictionary></object></marshal>"#
    );

    fn order(sla: Sla, shared: bool) -> Order {
        Order {
            software_release: "http://sr/ext.cfg".into(),
            software_type: "default".into(),
            title: "MyInstance".into(),
            state: None,
            parameters: Value::dict_from([("foo", Value::str("bar"))]),
            parameter_xml: String::new(),
            sla,
            shared,
        }
    }

    fn remote() -> RequestedInstance {
        let value = proto::marshal::decode(REMOTE.as_bytes()).expect("valid remote answer");
        let document = proto::documents::SoftwareInstanceDoc::from_value(&value).expect("an instance");
        RequestedInstance {
            computer_id: "external_computer".into(),
            partition_id: "slappart0".into(),
            instance_guid: None,
            state: None,
            software_release_url: None,
            software_type: None,
            parameters: Default::default(),
            connection_parameters: Default::default(),
            document,
        }
    }

    #[test]
    fn answer_is_marshalled_as_the_proxy_does() {
        for shared in [false, true] {
            let forwarded = Forwarded::new(&remote(), "http://127.0.0.1:8281", &order(Sla::default(), shared));
            let synced = if shared { "<string>_synced</string><bool>1</bool>" } else { "" };
            let expected = PROXY_ANSWER.replace("SYNCED", synced);
            assert_eq!(proto::marshal::encode(&forwarded.to_value()), expected, "shared {shared}");
        }
    }

    fn config() -> MasterConfig {
        let mut config = MasterConfig::new("computer");
        let listing = Multimaster { software_releases: vec!["http://sr/auto.cfg".into()], ..Multimaster::default() };
        config.multimasters.insert("http://a:1".into(), listing.clone());
        config.multimasters.insert("http://b:2/".into(), listing);
        config
    }

    fn routed(master_url: Option<&str>, release: &str, is_this_master: bool) -> Result<Option<String>, String> {
        let config = config();
        route(&config, master_url, release, is_this_master)
            .map(|found| found.map(|(url, _)| url.to_owned()))
            .map_err(|error| error.to_string())
    }

    #[test]
    fn routes_follow_the_sla_then_the_release_lists() {
        assert_eq!(routed(Some("http://b:2/"), "http://sr/other.cfg", false), Ok(Some("http://b:2/".into())));
        assert_eq!(routed(None, "http://sr/auto.cfg", false), Ok(Some("http://a:1".into())), "first section by URL");
        assert_eq!(routed(None, "http://sr/other.cfg", false), Ok(None));
        assert_eq!(routed(Some("http://me/"), "http://sr/other.cfg", true), Ok(None));
        let listed = Ok(Some("http://a:1".to_owned()));
        assert_eq!(routed(Some("http://me/"), "http://sr/auto.cfg", true), listed, "lists still apply");
        assert_eq!(
            routed(Some("http://b:2"), "http://sr/auto.cfg", false),
            Err("External SlapOS Master URL http://b:2 is not listed in multimaster list.".into()),
            "URLs match exactly, as section names"
        );
    }

    #[test]
    fn users_send_source_instance_id_and_partitions_their_ids() {
        let sla = Sla { master_url: Some("http://a:1".into()), ..Sla::default() };
        let as_user = remote_spec(&order(sla.clone(), false), "user_MyInstance", &Multimaster::default());
        assert_eq!(as_user.title, "user_MyInstance");
        assert_eq!(as_user.as_partition, None);
        assert_eq!(as_user.sla.dict_get("source_instance_id"), Some(&Value::str("user_MyInstance")));
        assert_eq!(as_user.sla.dict_get("master_url"), Some(&Value::str("http://a:1")));
        assert_eq!(as_user.software_type.as_deref(), Some("default"));
        let target = Multimaster {
            computer_id: Some("COMP-1".into()),
            partition_id: Some("slappart1".into()),
            ..Multimaster::default()
        };
        let as_partition = remote_spec(&order(sla, true), "slappart0_MyInstance", &target);
        assert_eq!(
            as_partition.as_partition,
            Some(PartitionAuth { computer_id: "COMP-1".into(), partition_id: "slappart1".into() })
        );
        assert_eq!(as_partition.sla.dict_get("source_instance_id"), None);
        assert!(as_partition.shared);
    }

    #[test]
    fn https_needs_key_and_cert_and_is_not_supported_yet() {
        let message = |target: &Multimaster| check_transport("https://m/", target).map_err(|error| error.to_string());
        assert_eq!(check_transport("http://m/", &Multimaster::default()).map_err(|e| e.to_string()), Ok(()));
        assert_eq!(
            message(&Multimaster::default()),
            Err("External master https://m/ configuration did not specify key or certificate.".into())
        );
        let with_tls =
            Multimaster { key_file: Some("k".into()), cert_file: Some("c".into()), ..Multimaster::default() };
        assert!(message(&with_tls).is_err_and(|m| m.contains("https forwarding is not supported yet")));
    }
}
