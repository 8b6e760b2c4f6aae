//! The HATEOAS navigation of `slapos service|computer list|info` without the
//! I/O, as `slapos.slap.hateoas.SlapHateoasNavigator` does it (spec §5):
//!
//! 1. `GET <rest_url>` (exactly as configured, `Cache-Control: no-cache`):
//!    `_links.raw_search.href` and `_links.traverse.href` are URI templates.
//! 2. Search: expand `raw_search` with `query`, `select_list` (a list) and
//!    `limit=40` (dropped when the template lacks it); rows are
//!    `_embedded.contents`.
//! 3. Get: expand `traverse` with `relative_url` and `view=slaposjs_view`;
//!    the (redirected) document is an ERP5 form whose `my_*`/`your_*`
//!    fields of an allowed type become properties
//!    (`_extractPropertyFromFormDict`).
//!
//! Queries are the exact strings the Python client sends; the proxy
//! understands only these four.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use crate::template::{expand, TemplateValue};

/// The view asked for when traversing (hard-coded in the Python client).
const TRAVERSE_VIEW: &str = "slaposjs_view";

/// Rows per search; the Python client always adds it.
const SEARCH_LIMIT: &str = "40";

/// Field types whose value becomes a property (`ALLOWED_JIO_FIELD_LIST`).
const ALLOWED_FIELD_TYPES: [&str; 5] = ["StringField", "EmailField", "IntegerField", "FloatField", "TextAreaField"];

/// The two templates of the HATEOAS root document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HateoasLinks {
    /// `_links.raw_search.href`.
    pub raw_search: String,
    /// `_links.traverse.href`.
    pub traverse: String,
}

/// One row of `slapos service list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSummary {
    /// The instance tree's title (its root instance's title).
    pub title: String,
    /// `url_string`: the software release URL.
    pub software_release_url: String,
}

/// One row of `slapos computer list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputerSummary {
    /// The compute node's reference (its id, e.g. `COMP-123`).
    pub reference: String,
    /// Its title (the proxy uses the reference).
    pub title: String,
}

/// `slapos service info REFERENCE`: an instance tree's root instance.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceInfo {
    /// `reference` (the title).
    pub reference: Option<String>,
    /// `url_string`: the software release URL.
    pub software_release_url: Option<String>,
    /// `source_reference`: the software type.
    pub software_type: Option<String>,
    /// `root_slave`: whether it is a shared instance.
    pub shared: bool,
    /// `slap_state`: the requested state (`unused` for a shared instance on
    /// the proxy).
    pub requested_state: Option<String>,
    /// `text_content` read as instance XML (`xml2dict`); empty when absent.
    pub parameters: BTreeMap<String, Option<String>>,
    /// `connection_parameter_list`: instance XML (proxy) or a list of
    /// `{connection_key, connection_value}` (ERP5 master), as a map.
    pub connection_parameters: BTreeMap<String, Json>,
    /// `news` if the master sends it (ERP5 master only).
    pub news: Option<Json>,
    /// Every property extracted from the form.
    pub properties: Map<String, Json>,
}

/// `slapos computer info REFERENCE`.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputerInfo {
    /// `reference`.
    pub reference: String,
    /// `title`.
    pub title: String,
    /// Every property extracted from the form.
    pub properties: Map<String, Json>,
}

/// The search query for instance trees, all or the one titled `title`.
pub(crate) fn service_query(title: Option<&str>) -> String {
    let base = r#"portal_type:"Instance Tree" AND validation_state:validated"#;
    match title {
        Some(title) => format!(r#"{base} AND title:="{title}""#),
        None => base.to_owned(),
    }
}

/// The search query for compute nodes, all or the one with `reference`.
pub(crate) fn computer_query(reference: Option<&str>) -> String {
    let base = r#"portal_type:"Compute Node" AND validation_state:validated"#;
    match reference {
        Some(reference) => format!(r#"{base} AND reference:="{reference}""#),
        None => base.to_owned(),
    }
}

/// Reads the root document.
pub(crate) fn parse_root(body: &[u8]) -> Result<HateoasLinks, String> {
    let root: Json = serde_json::from_slice(body).map_err(|error| format!("root document is not JSON: {error}"))?;
    let href = |name: &str| {
        root.pointer(&format!("/_links/{name}/href"))
            .and_then(Json::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("root document has no _links.{name}.href"))
    };
    Ok(HateoasLinks { raw_search: href("raw_search")?, traverse: href("traverse")? })
}

/// The URL of a search.
pub(crate) fn search_url(links: &HateoasLinks, query: &str, select_list: &[&str]) -> String {
    let select = TemplateValue::List(select_list.iter().map(|name| (*name).to_owned()).collect());
    expand(
        &links.raw_search,
        &[("query", TemplateValue::from(query)), ("select_list", select), ("limit", TemplateValue::from(SEARCH_LIMIT))],
    )
}

/// The URL of a traversal to `relative_url`.
pub(crate) fn traverse_url(links: &HateoasLinks, relative_url: &str) -> String {
    expand(
        &links.traverse,
        &[("relative_url", TemplateValue::from(relative_url)), ("view", TemplateValue::from(TRAVERSE_VIEW))],
    )
}

/// The rows of a search answer (`_embedded.contents`).
pub(crate) fn search_rows(body: &[u8]) -> Result<Vec<Map<String, Json>>, String> {
    let answer: Json = serde_json::from_slice(body).map_err(|error| format!("search answer is not JSON: {error}"))?;
    let contents = answer
        .pointer("/_embedded/contents")
        .and_then(Json::as_array)
        .ok_or("search answer has no _embedded.contents list")?;
    contents
        .iter()
        .map(|row| row.as_object().cloned().ok_or_else(|| format!("search row is not an object: {row}")))
        .collect()
}

/// The service list rows, keyed by title as the Python client's dict is
/// (a repeated title keeps its first place and its last URL).
pub(crate) fn service_summaries(rows: &[Map<String, Json>]) -> Result<Vec<ServiceSummary>, String> {
    let mut summaries: Vec<ServiceSummary> = Vec::with_capacity(rows.len());
    for row in rows {
        let title = row_text(row, "title")?;
        let software_release_url = row_text(row, "url_string")?;
        match summaries.iter_mut().find(|summary| summary.title == title) {
            Some(summary) => summary.software_release_url = software_release_url,
            None => summaries.push(ServiceSummary { title, software_release_url }),
        }
    }
    Ok(summaries)
}

/// The computer list rows, keyed by title as the Python client's dict is.
pub(crate) fn computer_summaries(rows: &[Map<String, Json>]) -> Result<Vec<ComputerSummary>, String> {
    let mut summaries: Vec<ComputerSummary> = Vec::with_capacity(rows.len());
    for row in rows {
        let title = row_text(row, "title")?;
        let reference = row_text(row, "reference")?;
        match summaries.iter_mut().find(|summary| summary.title == title) {
            Some(summary) => summary.reference = reference,
            None => summaries.push(ComputerSummary { reference, title }),
        }
    }
    Ok(summaries)
}

/// The `relative_url` of the one row whose `key` equals `wanted`; `None`
/// if there is none. More than one matching row is an error, as the Python
/// client asserts at most one.
pub(crate) fn pick_relative_url(rows: &[Map<String, Json>], key: &str, wanted: &str) -> Result<Option<String>, String> {
    if rows.len() > 1 {
        return Err(format!("{} documents match {key} {wanted:?}, expected at most one", rows.len()));
    }
    for row in rows {
        if row.get(key).and_then(Json::as_str) == Some(wanted) {
            return row_text(row, "relative_url").map(Some);
        }
    }
    Ok(None)
}

fn row_text(row: &Map<String, Json>, key: &str) -> Result<String, String> {
    match row.get(key) {
        Some(Json::String(text)) => Ok(text.clone()),
        Some(other) => Err(format!("search row field {key:?} is not a string: {other}")),
        None => Err(format!("search row has no {key:?}")),
    }
}

/// `_extractPropertyFromFormDict`: the form's allowed `my_*`/`your_*`
/// fields as properties, plus `portal_type` from `_links.type.name`.
pub(crate) fn extract_properties(body: &[u8]) -> Result<Map<String, Json>, String> {
    let document: Json = serde_json::from_slice(body).map_err(|error| format!("document is not JSON: {error}"))?;
    let view =
        document.pointer("/_embedded/_view").and_then(Json::as_object).ok_or("document has no _embedded._view form")?;
    let portal_type = document.pointer("/_links/type/name").cloned().ok_or("document has no _links.type.name")?;
    let mut properties = Map::new();
    properties.insert("portal_type".to_owned(), portal_type);
    for (name, field) in view {
        let Some(key) = name.strip_prefix("my_").or_else(|| name.strip_prefix("your_")) else {
            continue;
        };
        let field_type = field.get("type").and_then(Json::as_str).unwrap_or_default();
        if ALLOWED_FIELD_TYPES.contains(&field_type) {
            properties.insert(key.to_owned(), field.get("default").cloned().unwrap_or(Json::Null));
        }
    }
    Ok(properties)
}

/// Builds [`ServiceInfo`] from the properties of an instance tree form.
pub(crate) fn service_info(properties: Map<String, Json>) -> Result<ServiceInfo, String> {
    let text = |key: &str| properties.get(key).and_then(Json::as_str).map(str::to_owned);
    let parameters = match properties.get("text_content") {
        Some(Json::String(xml)) => {
            proto::instance_xml::decode(xml).map_err(|error| format!("text_content is not instance XML: {error}"))?
        }
        _ => BTreeMap::new(),
    };
    let connection_parameters = match properties.get("connection_parameter_list") {
        Some(Json::String(xml)) => proto::instance_xml::decode(xml)
            .map_err(|error| format!("connection_parameter_list is not instance XML: {error}"))?
            .into_iter()
            .map(|(key, value)| (key, value.map_or(Json::Null, Json::String)))
            .collect(),
        Some(Json::Array(items)) => connection_list(items)?,
        _ => BTreeMap::new(),
    };
    let shared = match properties.get("root_slave") {
        Some(Json::Bool(flag)) => *flag,
        Some(Json::Number(number)) => number.as_f64().is_some_and(|number| number != 0.0),
        Some(Json::String(text)) => !text.is_empty(),
        _ => false,
    };
    Ok(ServiceInfo {
        reference: text("reference"),
        software_release_url: text("url_string"),
        software_type: text("source_reference"),
        shared,
        requested_state: text("slap_state"),
        parameters,
        connection_parameters,
        news: properties.get("news").cloned(),
        properties,
    })
}

/// The ERP5 master's `[{connection_key, connection_value}, ...]`.
fn connection_list(items: &[Json]) -> Result<BTreeMap<String, Json>, String> {
    let mut map = BTreeMap::new();
    for item in items {
        let key = item
            .get("connection_key")
            .and_then(Json::as_str)
            .ok_or_else(|| format!("connection parameter without a connection_key: {item}"))?;
        map.insert(key.to_owned(), item.get("connection_value").cloned().unwrap_or(Json::Null));
    }
    Ok(map)
}

/// Builds [`ComputerInfo`] from the properties of a compute node form.
pub(crate) fn computer_info(properties: Map<String, Json>) -> Result<ComputerInfo, String> {
    let text = |key: &str| {
        properties
            .get(key)
            .and_then(Json::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("compute node form has no {key:?}"))
    };
    Ok(ComputerInfo { reference: text("reference")?, title: text("title")?, properties })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> HateoasLinks {
        parse_root(
            br#"{"_links":{"raw_search":{"href":"http://h:1/hateoas/?mode=search&query={query}&select_list={select_list}"},"traverse":{"href":"http://h:1/hateoas/?mode=traverse&relative_url={relative_url}&view={view}"}}}"#,
        )
        .expect("valid root")
    }

    #[test]
    fn queries_are_the_python_strings() {
        assert_eq!(service_query(None), r#"portal_type:"Instance Tree" AND validation_state:validated"#);
        assert_eq!(
            service_query(Some("my inst")),
            r#"portal_type:"Instance Tree" AND validation_state:validated AND title:="my inst""#
        );
        assert_eq!(computer_query(None), r#"portal_type:"Compute Node" AND validation_state:validated"#);
        assert_eq!(
            computer_query(Some("COMP-1")),
            r#"portal_type:"Compute Node" AND validation_state:validated AND reference:="COMP-1""#
        );
    }

    #[test]
    fn search_and_traverse_urls_expand_the_root_templates() {
        let links = links();
        assert_eq!(
            search_url(&links, &computer_query(None), &["title", "reference"]),
            "http://h:1/hateoas/?mode=search&query=portal_type%3A%22Compute%20Node%22%20AND%20validation_state%3Avalidated&select_list=title,reference"
        );
        assert_eq!(
            traverse_url(&links, "/hateoas/partitions/a b"),
            "http://h:1/hateoas/?mode=traverse&relative_url=%2Fhateoas%2Fpartitions%2Fa%20b&view=slaposjs_view"
        );
        assert_eq!(parse_root(b"{}").expect_err("no links"), "root document has no _links.raw_search.href");
    }

    #[test]
    fn rows_become_summaries_keyed_by_title() {
        let rows = search_rows(
            br#"{"_embedded":{"contents":[{"title":"a","url_string":"u1"},{"title":"b","url_string":"u2"},{"title":"a","url_string":"u3"}]}}"#,
        )
        .expect("rows");
        let summaries = service_summaries(&rows).expect("summaries");
        assert_eq!(summaries.len(), 2);
        assert_eq!(summaries[0], ServiceSummary { title: "a".into(), software_release_url: "u3".into() });
        assert_eq!(pick_relative_url(&rows[..1], "title", "b").expect("no error"), None);
        assert!(pick_relative_url(&rows, "title", "a").expect_err("ambiguous").starts_with("3 documents match"));
    }

    #[test]
    fn instance_tree_form_becomes_service_info() {
        let body = br#"{"_embedded":{"_view":{
            "form_id":{"type":"StringField","key":"form_id","default":"InstanceTree_viewAsHateoas"},
            "my_reference":{"type":"StringField","key":"field_my_reference","default":"inst"},
            "my_slap_state":{"type":"StringField","key":"k","default":"started"},
            "my_text_content":{"type":"StringField","key":"k","default":"<?xml version='1.0' encoding='utf-8'?>\n<instance>\n  <parameter id=\"a\">1</parameter>\n</instance>\n"},
            "my_connection_parameter_list":{"type":"StringField","key":"k","default":null},
            "my_url_string":{"type":"StringField","key":"k","default":"http://sr"},
            "my_source_reference":{"type":"StringField","key":"k","default":"default"},
            "my_root_slave":{"type":"IntegerField","key":"k","default":1},
            "my_ignored":{"type":"ListField","key":"k","default":"x"}}},
            "_links":{"type":{"name":"Instance Tree"}}}"#;
        let properties = extract_properties(body).expect("form");
        assert_eq!(properties.get("portal_type"), Some(&Json::from("Instance Tree")));
        assert!(!properties.contains_key("ignored"));
        assert!(!properties.contains_key("form_id"));
        let info = service_info(properties).expect("info");
        assert_eq!(info.reference.as_deref(), Some("inst"));
        assert_eq!(info.software_type.as_deref(), Some("default"));
        assert!(info.shared);
        assert_eq!(info.parameters.get("a"), Some(&Some("1".to_owned())));
        assert!(info.connection_parameters.is_empty());

        let erp5 = serde_json::json!({"connection_parameter_list": [{"connection_key": "url", "connection_value": "http://x"}]});
        let Json::Object(properties) = erp5 else { unreachable!("literal object") };
        let info = service_info(properties).expect("info");
        assert_eq!(info.connection_parameters.get("url"), Some(&Json::from("http://x")));
    }
}
