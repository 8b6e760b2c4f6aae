//! `POST /requestComputerPartition`: a user or an instance orders an
//! instance or a shared instance (§3.2, §7). The form is validated into a
//! typed request before the store is touched.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use proto::sla::Sla;
use proto::Value;
use crate::store::Db;

use super::classic::{marshalled, unmarshal_field};
use super::error::ApiError;
use super::form::{Fields, SlapForm};
use super::{now, render, AppState};
use crate::store::{computer, instance, shared, InstanceRequest, Placement, SharedRequest, StoreError};

const APACHE_FRONTEND_URL: &str =
    "http://git.erp5.org/gitweb/slapos.git/blob_plain/HEAD:/software/apache-frontend/software.cfg";
const KVM_FRONTEND_URL: &str =
    "http://git.erp5.org/gitweb/slapos.git/blob_plain/refs/tags/slapos-0.92:/software/kvm/software.cfg";

/// Who asks: a user, or the instance of a slot.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Requester {
    /// Root title of the requester's tree; `''` for a user.
    pub(super) requested_by: String,
    /// The requester's slot id, or `user`.
    pub(super) requester_id: String,
}

/// Python's truth value of a marshalled value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::None => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::BigInt(_) => true,
        Value::Float(f) => *f != 0.0,
        Value::String(s) => !s.is_empty(),
        Value::Tuple(items) | Value::List(items) | Value::Set(items) => !items.is_empty(),
        Value::Dict(items) => !items.is_empty(),
        Value::Object(_) => true,
    }
}

/// The requested state: a marshalled `None` keeps the current one.
fn requested_state(fields: &Fields) -> Result<Option<String>, ApiError> {
    match unmarshal_field(fields, "state")?.ok_or_else(|| ApiError::missing("state"))? {
        Value::None => Ok(None),
        Value::String(state) if matches!(state.as_str(), "started" | "stopped" | "destroyed") => Ok(Some(state)),
        other => Err(ApiError::BadRequest(format!(
            "field \"state\" must be started, stopped, destroyed or None, got {other:?}"
        ))),
    }
}

fn marshalled_dict(fields: &Fields, name: &str) -> Result<Value, ApiError> {
    match unmarshal_field(fields, name)? {
        None => Ok(Value::Dict(Vec::new())),
        Some(value @ Value::Dict(_)) => Ok(value),
        Some(other) => Err(ApiError::BadRequest(format!("field {name:?} must marshal a dictionary, got {other:?}"))),
    }
}

/// Resolves the requester from the `X-SlapPartition` header, else from the
/// form's slot ids, else a user (§7.1). Reads only, so the JSON API may ask
/// outside a write transaction.
pub(super) async fn requester(conn: &mut Db, headers: &HeaderMap, fields: &Fields) -> Result<Requester, ApiError> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|h| h.to_str().map_err(|_| ApiError::BadRequest("Authorization header is not ASCII".into())))
        .transpose()?;
    let auth = header
        .map(proto::auth::parse_authorization)
        .transpose()
        .map_err(|error| ApiError::BadRequest(format!("Authorization header: {error}")))?
        .flatten();
    let mut requested_by = String::new();
    let requester_id;
    if let Some(auth) = &auth {
        let slot = computer::slot(conn, &auth.computer_id, &auth.partition_id).await?.ok_or_else(|| {
            ApiError::BadRequest(format!(
                "No partition matching the authorization header: ({} / {})",
                auth.computer_id, auth.partition_id
            ))
        })?;
        requested_by = slot.root_title().to_owned();
        requester_id = auth.partition_id.clone();
    } else {
        requester_id = fields.get("computer_partition_id").unwrap_or("user").to_owned();
    }
    if requested_by.is_empty() {
        if let (Some(computer_id), Some(partition_id)) = (fields.get("computer_id"), fields.get("computer_partition_id")) {
            if let Some(slot) = computer::slot(conn, computer_id, partition_id).await? {
                requested_by = slot.root_title().to_owned();
            }
        }
    }
    Ok(Requester { requested_by, requester_id })
}

/// An order for an instance or a shared instance, validated, whichever API
/// it came from: the classic form and the JSON API place orders alike.
#[derive(Debug, Clone)]
pub(super) struct Order {
    /// Software release URL.
    pub(super) software_release: String,
    /// Software type as sent (empty means `default` at first allocation).
    pub(super) software_type: String,
    /// Instance title.
    pub(super) title: String,
    /// Requested state; `None` keeps the stored one.
    pub(super) state: Option<String>,
    /// Parameters with their original types, a dict.
    pub(super) parameters: Value,
    /// The same parameters as instance XML.
    pub(super) parameter_xml: String,
    /// The SLA.
    pub(super) sla: Sla,
    /// Whether a shared instance is ordered.
    pub(super) shared: bool,
}

/// What placing an order did, for the caller to render in its own format.
#[derive(Debug, Clone)]
pub(super) enum Placed {
    /// A well-known frontend faked without touching the store (§7.3).
    FakeFrontend(FakeFrontend),
    /// An instance allocated or updated (its slot names its tree).
    Instance(instance::RequestOutcome),
    /// Forwarded to another master (§7.9, `forward.rs`).
    Forwarded(super::forward::Forwarded),
    /// A shared instance hosted or updated.
    Shared {
        /// The store's outcome.
        outcome: shared::SharedOutcome,
        /// Who asked (the record names its tree only in its reference).
        requester: Requester,
    },
}

/// A frontend the master fakes: the partition id it names and the
/// connection parameters it publishes.
#[derive(Debug, Clone)]
pub(super) struct FakeFrontend {
    /// `Fake frontend for <url>` or `Fake KVM VNC frontend for <url>`.
    pub(super) partition_id: String,
    /// Published connection parameters, all strings.
    pub(super) connection: Vec<(String, Value)>,
}

/// `POST /requestComputerPartition`.
pub(super) async fn request_partition(
    State(app): State<AppState>,
    headers: HeaderMap,
    SlapForm(fields): SlapForm,
) -> Result<Response, ApiError> {
    let software_release = fields.require("software_release")?.to_owned();
    let software_type = fields.require("software_type")?.to_owned();
    let title = fields.require("partition_reference")?.to_owned();
    let state = requested_state(&fields)?;
    let parameters = marshalled_dict(&fields, "partition_parameter_xml")?;
    let filter = marshalled_dict(&fields, "filter_xml")?;
    let shared = unmarshal_field(&fields, "shared_xml")?.as_ref().is_some_and(truthy);
    let sla = Sla::from_value(&filter).map_err(|error| ApiError::BadRequest(format!("field \"filter_xml\": {error}")))?;
    let parameter_map = proto::instance_xml::from_dict(&parameters)
        .map_err(|error| ApiError::BadRequest(format!("field \"partition_parameter_xml\": {error}")))?;
    let parameter_xml = proto::instance_xml::encode(&parameter_map);
    let order = Order { software_release, software_type, title, state, parameters, parameter_xml, sla, shared };
    let answer = place_order(&app, &headers, &fields, &order, |placed| match placed {
        Placed::FakeFrontend(fake) => Ok(render::fake_frontend(&fake.partition_id, fake.connection.clone())),
        Placed::Forwarded(forwarded) => Ok(forwarded.to_value()),
        Placed::Instance(outcome) => render::requested_instance(&outcome.slot, &outcome.addresses, &outcome.answered_state),
        Placed::Shared { outcome, .. } => {
            render::requested_shared(&outcome.host, &outcome.addresses, &outcome.shared, &order.parameter_xml)
        }
    })
    .await?;
    Ok(marshalled(&answer))
}

/// Places an order (§7): forwards it to another master if it must be
/// (§7.9), fakes the well-known frontends, else resolves the
/// requester and requests the instance or shared instance in one write
/// transaction. `render` builds the answer before the transaction commits,
/// so an answer that cannot be rendered leaves the store untouched.
///
/// # Errors
/// A bad `Authorization` header, an unlisted `master_url`, a failed
/// forward, no free slot or no host (as [`ApiError`]), store failures, and
/// whatever `render` returns.
/// The store's view of an order for a (non-shared) instance.
fn instance_request(app: &AppState, order: &Order, who: &Requester) -> InstanceRequest {
    InstanceRequest {
        software_release: order.software_release.clone(),
        software_type: order.software_type.clone(),
        title: order.title.clone(),
        parameter_xml: order.parameter_xml.clone(),
        placement: Placement::from_sla(&order.sla, &app.config.computer_id),
        requested_state: order.state.clone(),
        requested_by: who.requested_by.clone(),
        requester_id: who.requester_id.clone(),
    }
}

pub(super) async fn place_order<T>(
    app: &AppState,
    headers: &HeaderMap,
    fields: &Fields,
    order: &Order,
    render: impl FnOnce(&Placed) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    if let Some(forwarded) = super::forward::forward_if_needed(app, headers, fields, order).await? {
        return render(&Placed::Forwarded(forwarded));
    }
    let computer = order.sla.computer_guid.clone().unwrap_or_else(|| app.config.computer_id.clone());
    if order.shared {
        if let Some(fake) = fake_frontend(&order.software_release, &order.software_type, &order.parameters, headers) {
            return render(&Placed::FakeFrontend(fake));
        }
    }
    let idle_writer = app.store.try_begin_write()?;
    if !order.shared && idle_writer.is_none() {
        // Most requests change nothing (instances re-request their children
        // on every run): while another request writes, answer those from a
        // read rather than queueing for the write lock.
        let mut conn = app.store.read().await?;
        let who = requester(&mut conn, headers, fields).await?;
        if let Some(outcome) = instance::unchanged(&mut conn, &instance_request(app, order, &who)).await? {
            return render(&Placed::Instance(outcome));
        }
    }
    let mut tx = match idle_writer {
        Some(tx) => tx,
        None => app.store.begin_write().await?,
    };
    let who = requester(&mut tx, headers, fields).await?;
    let placed = if order.shared {
        let request = SharedRequest {
            software_release: order.software_release.clone(),
            software_type: order.software_type.clone(),
            title: order.title.clone(),
            parameters: order
                .parameters
                .as_dict()
                .unwrap_or_default()
                .iter()
                .map(|(k, v)| (k.as_str().map_or_else(|| proto::python_repr::str_of(k), str::to_owned), v.clone()))
                .collect(),
            computer,
            instance_guid: order.sla.instance_guid.clone(),
            requested_state: order.state.clone(),
            requested_by: who.requested_by.clone(),
            requester_id: who.requester_id.clone(),
        };
        Placed::Shared { outcome: shared::request(&mut tx, &request, now()).await?, requester: who }
    } else {
        Placed::Instance(instance::request(&mut tx, &instance_request(app, order, &who), now()).await?)
    };
    let answer = render(&placed)?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(answer)
}

/// The proxy answers requests for two well-known frontends itself, so that
/// promises of profiles that need one succeed without one (§7.3).
fn fake_frontend(url: &str, software_type: &str, parameters: &Value, headers: &HeaderMap) -> Option<FakeFrontend> {
    let parameter = |key: &str| {
        parameters.dict_get(key).filter(|v| truthy(v)).map(|v| match v {
            Value::String(s) => s.clone(),
            other => proto::python_repr::str_of(other),
        })
    };
    if url == APACHE_FRONTEND_URL && matches!(software_type, "" | "RootSoftwareInstance" | "default") {
        let target = parameter("url")?;
        let https = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) == Some("https");
        let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        let (secure_access, domain) = if https {
            let parsed = SplitUrl::parse(&target);
            let netloc = percent_encoding::utf8_percent_encode(&parsed.netloc, super::hateoas::PATH_SAFE).to_string();
            let mut access = format!("https://{host}/http_proxy/{}/{netloc}{}", parsed.scheme, parsed.path);
            if !parsed.query.is_empty() {
                access.push('?');
                access.push_str(&parsed.query);
            }
            if !parsed.fragment.is_empty() {
                access.push('#');
                access.push_str(&parsed.fragment);
            }
            (access, host.to_owned())
        } else {
            let netloc = SplitUrl::parse(&target).netloc;
            (target.clone(), netloc)
        };
        return Some(FakeFrontend {
            partition_id: format!("Fake frontend for {target}"),
            connection: vec![("secure_access".into(), Value::String(secure_access)), ("domain".into(), Value::String(domain))],
        });
    }
    if url == KVM_FRONTEND_URL && software_type == "frontend" {
        let mut host = parameter("host")?;
        let port = parameter("port")?;
        if host.contains(':') && !host.starts_with('[') {
            host = format!("[{host}]");
        }
        let target = format!("https://{host}:{port}/");
        return Some(FakeFrontend {
            partition_id: format!("Fake KVM VNC frontend for {target}"),
            connection: vec![
                ("url".into(), Value::String(target.clone())),
                ("domainname".into(), Value::String(host)),
                ("port".into(), Value::String(port)),
                ("path".into(), Value::str("/")),
            ],
        });
    }
    None
}

/// The parts of a URL as Python's `urlparse` splits them.
struct SplitUrl {
    scheme: String,
    netloc: String,
    path: String,
    query: String,
    fragment: String,
}

impl SplitUrl {
    fn parse(url: &str) -> SplitUrl {
        let (url, fragment) = url.split_once('#').unwrap_or((url, ""));
        let (url, query) = url.split_once('?').unwrap_or((url, ""));
        let (scheme, rest) = match url.split_once(':') {
            Some((scheme, rest)) if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) => {
                (scheme.to_ascii_lowercase(), rest)
            }
            _ => (String::new(), url),
        };
        let (netloc, path) = match rest.strip_prefix("//") {
            Some(after) => match after.find('/') {
                Some(at) => (after[..at].to_owned(), after[at..].to_owned()),
                None => (after.to_owned(), String::new()),
            },
            None => (String::new(), rest.to_owned()),
        };
        SplitUrl { scheme, netloc, path, query: query.to_owned(), fragment: fragment.to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_like_urlparse() {
        let url = SplitUrl::parse("https://[::1]:8080/a/b?x=1#top");
        assert_eq!(
            (url.scheme.as_str(), url.netloc.as_str(), url.path.as_str(), url.query.as_str(), url.fragment.as_str()),
            ("https", "[::1]:8080", "/a/b", "x=1", "top")
        );
        assert_eq!(SplitUrl::parse("http://host").netloc, "host");
    }

    #[test]
    fn python_truthiness() {
        assert!(!truthy(&Value::Dict(Vec::new())));
        assert!(!truthy(&Value::Bool(false)));
        assert!(truthy(&Value::Bool(true)));
        assert!(!truthy(&Value::None));
    }
}
