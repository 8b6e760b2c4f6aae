//! The minimal HATEOAS (jIO/HAL) API the real client's `slapos service
//! list|info` and `slapos computer list|info` navigate (spec §5), reached
//! through `master_rest_url` (`…/hateoas`):
//!
//! - `GET /hateoas` redirects (308) to `/hateoas/`, as werkzeug does for a
//!   route with a final slash;
//! - `GET /hateoas/` is the root document, two URI templates (`raw_search`,
//!   `traverse`) the client expands;
//! - `?mode=search&query=Q` answers the four catalog queries those
//!   commands send (anything else is a 400 `Unhandled query`);
//! - `?mode=traverse&relative_url=U` redirects (302) to `U`;
//! - `/hateoas/partitions/<title>`, `/hateoas/shared/<title>` and
//!   `/hateoas/computers/<reference>` are the documents, as ERP5 forms.
//!
//! Absolute URLs honour `X-Forwarded-Proto` and `X-Forwarded-Prefix`, as
//! the proxy behind its `ProxyFix`. Not emulated: `_links.me`, tokens, news.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use proto::Value;
use serde_json::json;

use super::error::ApiError;
use super::form::Fields;
use super::AppState;
use crate::store::{computer, instance, lookup, shared, StoreError};

/// The HATEOAS routes, for `app()` to merge.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/hateoas", get(slash_redirect))
        .route("/hateoas/", get(root))
        .route("/hateoas/partitions/{title}", get(partition))
        .route("/hateoas/shared/{title}", get(shared_instance))
        .route("/hateoas/computers/{reference}", get(computer_document))
}

/// `<scheme>://<host><prefix>`: where the client reached this master, as
/// the proxy computes it behind a reverse proxy (the last value of
/// `X-Forwarded-Proto` and `X-Forwarded-Prefix` wins).
pub(super) fn public_base(headers: &HeaderMap) -> String {
    let last = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let scheme = last("x-forwarded-proto").unwrap_or_else(|| "http".to_owned());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    format!("{scheme}://{host}{}", prefix(headers))
}

/// The path prefix a reverse proxy mounts this master under, without a
/// final slash (`''` when none).
fn prefix(headers: &HeaderMap) -> String {
    let value = headers.get("x-forwarded-prefix").and_then(|v| v.to_str().ok()).unwrap_or("");
    value.rsplit(',').next().unwrap_or("").trim().trim_end_matches('/').to_owned()
}

/// What werkzeug leaves unquoted in a path segment it builds (its
/// `safe="!$&'()*+,:;=@"` plus `_.-~`); `/` is quoted too, so that a title
/// holding one still names one segment.
pub(super) const SEGMENT_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b':')
    .remove(b';')
    .remove(b'=')
    .remove(b'@')
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// What werkzeug's `url_for` leaves unquoted in a path (the fake frontend's
/// `http_proxy` URL): a segment's safe set plus `/`.
pub(super) const PATH_SAFE: &AsciiSet = &SEGMENT_SAFE.remove(b'/');

/// What may stay as is in a `Location` (werkzeug's `iri_to_uri`): other
/// bytes, non-ASCII included, are percent-encoded.
const LOCATION_SAFE: &AsciiSet = &PATH_SAFE.remove(b'%').remove(b'?').remove(b'#').remove(b'[').remove(b']');

/// The relative URL of a document, e.g. `/hateoas/partitions/my%20db`.
fn relative_url(headers: &HeaderMap, kind: &str, name: &str) -> String {
    format!("{}/hateoas/{kind}/{}", prefix(headers), utf8_percent_encode(name, SEGMENT_SAFE))
}

fn redirect(status: StatusCode, location: &str) -> Response {
    let encoded = utf8_percent_encode(location, LOCATION_SAFE).to_string();
    match HeaderValue::from_str(&encoded) {
        Ok(value) => (status, [(header::LOCATION, value)]).into_response(),
        // Unreachable: percent-encoding leaves visible ASCII only.
        Err(_) => ApiError::BadRequest(format!("cannot redirect to {location:?}")).into_response(),
    }
}

/// `GET /hateoas` (the client's `master_rest_url`) → `/hateoas/`.
async fn slash_redirect(headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let mut location = format!("{}/hateoas/", public_base(&headers));
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        location.push('?');
        location.push_str(&query);
    }
    redirect(StatusCode::PERMANENT_REDIRECT, &location)
}

/// `GET /hateoas/`: the root document, a search or a traversal by `mode`.
async fn root(State(app): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let fields = Fields::parse(query.unwrap_or_default().as_bytes())?;
    match fields.get("mode") {
        None => {
            let base = format!("{}/hateoas/", public_base(&headers));
            Ok(Json(json!({
                "_links": {
                    "raw_search": { "href": format!("{base}?mode=search&query={{query}}&select_list={{select_list}}") },
                    "traverse": { "href": format!("{base}?mode=traverse&relative_url={{relative_url}}&view={{view}}") },
                }
            }))
            .into_response())
        }
        Some("search") => {
            let query = fields.require("query")?;
            let mut conn = app.store.read().await?;
            let contents = search(&mut conn, &headers, query)
                .await?
                .ok_or_else(|| ApiError::BadRequest(format!("Unhandled query: {query}")))?;
            Ok(Json(json!({ "_embedded": { "contents": contents } })).into_response())
        }
        Some("traverse") => Ok(redirect(StatusCode::FOUND, fields.require("relative_url")?)),
        Some(mode) => Err(ApiError::BadRequest(format!("Unhandled mode: {mode}"))),
    }
}

const SERVICE_LIST: &str = "portal_type:\"Instance Tree\" AND validation_state:validated";
const COMPUTER_LIST: &str = "portal_type:\"Compute Node\" AND validation_state:validated";

/// The catalog query `query` understood: every tree root, one by title,
/// every compute node, one by reference. `None` for any other query,
/// including a value that is not one double-quoted token.
async fn search(
    conn: &mut crate::store::Db,
    headers: &HeaderMap,
    query: &str,
) -> Result<Option<Vec<serde_json::Value>>, StoreError> {
    if query == SERVICE_LIST {
        return tree_roots(conn, headers, None).await.map(Some);
    }
    if let Some(quoted) = query.strip_prefix(SERVICE_LIST).and_then(|rest| rest.strip_prefix(" AND title:=")) {
        let Some(title) = quoted_value(quoted) else { return Ok(None) };
        return tree_roots(conn, headers, Some(title)).await.map(Some);
    }
    if query == COMPUTER_LIST {
        return computers(conn, headers, None).await.map(Some);
    }
    if let Some(quoted) = query.strip_prefix(COMPUTER_LIST).and_then(|rest| rest.strip_prefix(" AND reference:=")) {
        let Some(reference) = quoted_value(quoted) else { return Ok(None) };
        return computers(conn, headers, Some(reference)).await.map(Some);
    }
    Ok(None)
}

/// The value of a search term: exactly one double-quoted token, where a
/// backslash escapes the next character. Like the proxy, the quotes are
/// stripped but escapes are kept.
fn quoted_value(term: &str) -> Option<&str> {
    let mut chars = term.strip_prefix('"')?.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => {
                // The proxy's pattern escapes any character but a newline.
                chars.next().filter(|(_, escaped)| *escaped != '\n')?;
            }
            '"' => return (at + 2 == term.len()).then(|| term.trim_matches('"')),
            _ => {}
        }
    }
    None
}

/// Search rows of tree roots: instances, then shared instances whose host
/// still lists them. With a title, shared instances only when no instance
/// has it.
async fn tree_roots(
    conn: &mut crate::store::Db,
    headers: &HeaderMap,
    title: Option<&str>,
) -> Result<Vec<serde_json::Value>, StoreError> {
    let roots = instance::tree_roots(conn, title).await?;
    let mut rows: Vec<serde_json::Value> = roots
        .instances
        .iter()
        .map(|slot| {
            let title = slot.title.clone().unwrap_or_default();
            json!({
                "title": title,
                "url_string": slot.software_release,
                "relative_url": relative_url(headers, "partitions", &title),
            })
        })
        .collect();
    if title.is_some() && !rows.is_empty() {
        return Ok(rows);
    }
    for record in &roots.shared {
        let Some(host) = computer::slot(conn, &record.computer_reference, &record.hosted_by).await? else {
            continue;
        };
        if lookup::hosted_entry(&host, &record.reference)?.is_none() {
            continue;
        }
        let title = record.reference.strip_prefix('_').unwrap_or(&record.reference);
        rows.push(json!({
            "title": title,
            "url_string": host.software_release,
            "relative_url": relative_url(headers, "shared", title),
        }));
    }
    Ok(rows)
}

/// Search rows of compute nodes, all or one.
async fn computers(
    conn: &mut crate::store::Db,
    headers: &HeaderMap,
    reference: Option<&str>,
) -> Result<Vec<serde_json::Value>, StoreError> {
    let found = match reference {
        Some(reference) => computer::computer(conn, reference).await?.into_iter().collect(),
        None => computer::computers(conn).await?,
    };
    Ok(found
        .iter()
        .map(|c| {
            json!({
                "reference": c.reference,
                "title": c.reference,
                "address": c.address,
                "netmask": c.netmask,
                "relative_url": relative_url(headers, "computers", &c.reference),
            })
        })
        .collect())
}

fn not_found(what: &str) -> ApiError {
    ApiError::NotFound(format!("{what} not found"))
}

/// One field of an ERP5 form, as jIO reads it.
fn field(kind: &str, key: &str, default: serde_json::Value) -> serde_json::Value {
    json!({ "type": kind, "key": key, "default": default })
}

/// What the service document shows of an instance or a shared instance.
struct Service<'a> {
    title: &'a str,
    requested_state: &'a str,
    parameter_xml: Option<String>,
    connection_xml: Option<&'a str>,
    software_release: Option<&'a str>,
    software_type: Option<&'a str>,
    shared: bool,
}

fn service_document(service: &Service<'_>) -> Response {
    Json(json!({
        "_embedded": {
            "_view": {
                "form_id": field("StringField", "form_id", json!("InstanceTree_viewAsHateoas")),
                "my_reference": field("StringField", "field_my_reference", json!(service.title)),
                "my_slap_state": field("StringField", "field_my_slap_state", json!(service.requested_state)),
                "my_text_content": field("StringField", "field_my_text_content", json!(service.parameter_xml)),
                "my_connection_parameter_list":
                    field("StringField", "field_my_connection_parameter_list", json!(service.connection_xml)),
                "my_url_string": field("StringField", "field_my_url_string", json!(service.software_release)),
                "my_source_reference": field("StringField", "field_my_source_reference", json!(service.software_type)),
                "my_root_slave": field("IntegerField", "field_my_root_slave", json!(u8::from(service.shared))),
            }
        },
        "_links": { "type": { "name": "Instance Tree" } },
    }))
    .into_response()
}

/// `GET /hateoas/partitions/<title>`: an instance (a tree root first).
async fn partition(State(app): State<AppState>, Path(title): Path<String>) -> Result<Response, ApiError> {
    let mut conn = app.store.read().await?;
    let slot = lookup::instance_titled(&mut conn, &title).await?.ok_or_else(|| not_found("instance"))?;
    Ok(service_document(&Service {
        title: &title,
        requested_state: &slot.requested_state,
        parameter_xml: slot.parameter_xml.clone(),
        connection_xml: slot.connection_xml.as_deref(),
        software_release: slot.software_release.as_deref(),
        software_type: slot.software_type.as_deref(),
        shared: false,
    }))
}

/// `GET /hateoas/shared/<title>`: a shared instance a user requested, with
/// the parameters it was requested with (as instance XML).
async fn shared_instance(State(app): State<AppState>, Path(title): Path<String>) -> Result<Response, ApiError> {
    let mut conn = app.store.read().await?;
    let reference = shared::shared_reference("", &title);
    let record = lookup::shared_by_reference(&mut conn, &reference).await?.ok_or_else(|| not_found("shared instance"))?;
    let host = computer::slot(&mut conn, &record.computer_reference, &record.hosted_by)
        .await?
        .ok_or_else(|| not_found("host of the shared instance"))?;
    let entry = lookup::hosted_entry(&host, &reference)?.ok_or_else(|| not_found("shared instance"))?;
    let parameters = Value::Dict(lookup::entry_parameters(&entry));
    let parameter_map = proto::instance_xml::from_dict(&parameters)
        .map_err(|error| StoreError::Corrupted { table: "partition_slot", detail: format!("shared parameters: {error}") })?;
    Ok(service_document(&Service {
        title: &title,
        requested_state: "unused",
        parameter_xml: Some(proto::instance_xml::encode(&parameter_map)),
        connection_xml: record.connection_xml.as_deref(),
        software_release: host.software_release.as_deref(),
        software_type: entry.dict_get("slap_software_type").and_then(Value::as_str),
        shared: true,
    }))
}

/// `GET /hateoas/computers/<reference>`.
async fn computer_document(State(app): State<AppState>, Path(reference): Path<String>) -> Result<Response, ApiError> {
    let mut conn = app.store.read().await?;
    let found = computer::computer(&mut conn, &reference).await?.ok_or_else(|| not_found("compute node"))?;
    Ok(Json(json!({
        "_embedded": {
            "_view": {
                "form_id": field("StringField", "computer", json!(found.reference)),
                "my_reference": field("StringField", "reference", json!(found.reference)),
                "my_title": field("StringField", "reference", json!(found.reference)),
            }
        },
        "_links": { "type": { "name": "Computer" } },
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_values_are_one_quoted_token() {
        assert_eq!(quoted_value("\"MyInstance\""), Some("MyInstance"));
        assert_eq!(quoted_value("\"a\\\"b\""), Some("a\\\"b"));
        assert_eq!(quoted_value("\"\""), Some(""));
        for invalid in ["\"\"MyInstance0\"", "\"MyInstance1\"\"", "\"My\"Instance2\"", "\"title:=\"x\"\"", "x", "\"x", "\"a\\\n\""] {
            assert_eq!(quoted_value(invalid), None, "{invalid:?}");
        }
    }

    #[test]
    fn base_honours_forwarded_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("example.net:8080"));
        assert_eq!(public_base(&headers), "http://example.net:8080");
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http, https"));
        headers.insert("x-forwarded-prefix", HeaderValue::from_static("/slap/"));
        assert_eq!(public_base(&headers), "https://example.net:8080/slap");
        assert_eq!(relative_url(&headers, "partitions", "my db/\"x\""), "/slap/hateoas/partitions/my%20db%2F%22x%22");
    }
}
