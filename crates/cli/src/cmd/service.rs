//! `slapos service list` and `slapos service info REFERENCE`: the instance
//! trees of the master through its HATEOAS API, as `slapos.cli.list` and
//! `slapos.cli.info` print them.
//!
//! * `list` prints `{title: software_url}` as JSON (keys sorted, two-space
//!   indent, non-ASCII escaped), `{}` when there is none.
//! * `info` prints `software-url`, `software-type`, `shared`,
//!   `requested-state`, `instance-parameters` (with a lone `_` JSON-decoded
//!   in place), `connection-parameters` (replaced by the JSON under `_` for
//!   `json-in-xml`) and `status` (`unsupported` unless the master sends
//!   news; `--news` adds them). An unknown reference logs
//!   `Instance REF does not exist.` and exits 2.

use std::collections::BTreeMap;

use anyhow::Context;
use client::{ClientError, ServiceInfo};
use serde::Serialize;
use serde_json::Value as Json;

use crate::cmd::client_config::{self, ConfigArgs, EXIT_NOT_READY};
use crate::cmd::request::{python_json_dumps, serialisation_for, Serialisation};
use crate::output::Output;

/// `slapos service` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// List the title of all your slapos services.
    List(ListArgs),
    /// Get status, software_release and parameters of an instance.
    Info(InfoArgs),
}

/// Options of `slapos service list`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

/// Options of `slapos service info`.
#[derive(Debug, clap::Args)]
pub(crate) struct InfoArgs {
    /// Your instance reference (for now it is its title).
    reference: String,
    /// Include raw news in output.
    #[arg(long)]
    news: bool,
    #[command(flatten)]
    config: ConfigArgs,
}

/// What `info` prints, keys in the Python order.
#[derive(Debug, Serialize)]
struct InfoReport {
    #[serde(rename = "software-url")]
    software_url: Option<String>,
    #[serde(rename = "software-type")]
    software_type: Option<String>,
    shared: bool,
    #[serde(rename = "requested-state")]
    requested_state: Option<String>,
    #[serde(rename = "instance-parameters")]
    instance_parameters: Json,
    #[serde(rename = "connection-parameters")]
    connection_parameters: Json,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    news: Option<Json>,
}

/// What `info` prints (`--json`) for an unknown reference.
#[derive(Debug, Serialize)]
struct Missing {
    reference: String,
    error: String,
}

/// Runs one `slapos service` subcommand.
pub(crate) async fn run(command: Command) -> anyhow::Result<Output> {
    match command {
        Command::List(args) => list(args).await,
        Command::Info(args) => info(args).await,
    }
}

async fn list(args: ListArgs) -> anyhow::Result<Output> {
    let client = client_config::client(&args.config)?;
    let services = client.service_list().await.context("cannot list the services")?;
    let by_title: BTreeMap<String, String> =
        services.into_iter().map(|service| (service.title, service.software_release_url)).collect();
    let human = python_json_dumps(&by_title)?;
    Ok(Output::new(&by_title, human))
}

async fn info(args: InfoArgs) -> anyhow::Result<Output> {
    let client = client_config::client(&args.config)?;
    let missing = |message: String| -> Output {
        eprintln!("{message}");
        let report = Missing { reference: args.reference.clone(), error: message };
        Output::new(&report, "").with_exit_code(EXIT_NOT_READY)
    };
    let info = match client.service_info(&args.reference).await {
        Ok(Some(info)) => info,
        Ok(None) | Err(ClientError::NotFound { .. }) => return Ok(missing(format!("Instance {} does not exist.", args.reference))),
        Err(ClientError::ResourceNotReady { .. }) => return Ok(missing("Instance does not exist or is not ready yet.".to_owned())),
        Err(error) => return Err(error).with_context(|| format!("cannot get the information of {:?}", args.reference)),
    };
    let report = report(info, args.news);
    let human = python_json_dumps(&report)?;
    Ok(Output::new(&report, human))
}

fn report(info: ServiceInfo, with_news: bool) -> InfoReport {
    let serialisation =
        serialisation_for(info.software_release_url.as_deref().unwrap_or_default(), info.software_type.as_deref());
    let status = news_status(info.news.as_ref());
    InfoReport {
        software_url: info.software_release_url,
        software_type: info.software_type,
        shared: info.shared,
        requested_state: info.requested_state,
        instance_parameters: instance_parameters(&info.parameters),
        connection_parameters: connection_parameters(&info.connection_parameters, serialisation),
        status: status.unwrap_or("unsupported").to_owned(),
        news: if with_news && status.is_some() {
            info.news.and_then(|news| news.get("instance").cloned())
        } else {
            None
        },
    }
}

/// `OpenOrder.getInformation`: a lone `_` parameter is JSON-decoded in
/// place (the key stays).
fn instance_parameters(parameters: &BTreeMap<String, Option<String>>) -> Json {
    let mut map: serde_json::Map<String, Json> =
        parameters.iter().map(|(key, value)| (key.clone(), value.clone().map_or(Json::Null, Json::String))).collect();
    if map.len() == 1 {
        if let Some(Json::String(text)) = map.get("_") {
            match serde_json::from_str::<Json>(text) {
                Ok(decoded) => {
                    map.insert("_".to_owned(), decoded);
                }
                Err(error) => tracing::warn!(%error, "instance parameter _ is not JSON, shown as is"),
            }
        }
    }
    Json::Object(map)
}

/// `do_info`: with `json-in-xml`, the JSON under `_` replaces the dict.
fn connection_parameters(parameters: &BTreeMap<String, Json>, serialisation: Serialisation) -> Json {
    if serialisation == Serialisation::JsonInXml {
        if let Some(Json::String(text)) = parameters.get("_") {
            match serde_json::from_str::<Json>(text) {
                Ok(decoded) => return decoded,
                Err(error) => tracing::warn!(%error, "connection parameter _ is not JSON, shown as is"),
            }
        }
    }
    Json::Object(parameters.iter().map(|(key, value)| (key.clone(), value.clone())).collect())
}

/// The news colour: `#access…` lines make it green, `#error…` red, both
/// orange, neither `none`; `None` when the master sends no instance news.
fn news_status(news: Option<&Json>) -> Option<&'static str> {
    let entries = news?.get("instance")?.as_array()?;
    let mut status = 0_usize;
    for entry in entries {
        let text = entry.get("text").and_then(Json::as_str).unwrap_or_default();
        if text.starts_with("#access") {
            status |= 0b01;
        } else if text.starts_with("#error") {
            status |= 0b10;
        }
    }
    Some(["none", "green", "red", "orange"][status])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_decode_as_the_python_info_does() {
        let mut parameters = BTreeMap::new();
        parameters.insert("_".to_owned(), Some(r#"{"a": 1}"#.to_owned()));
        assert_eq!(instance_parameters(&parameters), serde_json::json!({"_": {"a": 1}}));
        parameters.insert("b".to_owned(), None);
        assert_eq!(instance_parameters(&parameters), serde_json::json!({"_": "{\"a\": 1}", "b": null}));

        let mut connection = BTreeMap::new();
        connection.insert("_".to_owned(), Json::from(r#"{"url": "http://x"}"#));
        connection.insert("other".to_owned(), Json::from("kept only without json-in-xml"));
        assert_eq!(
            connection_parameters(&connection, Serialisation::JsonInXml),
            serde_json::json!({"url": "http://x"})
        );
        assert_eq!(connection_parameters(&connection, Serialisation::Xml).as_object().map(|map| map.len()), Some(2));
    }

    #[test]
    fn news_colours_the_status() {
        assert_eq!(news_status(None), None);
        let news = serde_json::json!({"instance": [{"text": "#access ok"}, {"text": "#error bad"}]});
        assert_eq!(news_status(Some(&news)), Some("orange"));
        let news = serde_json::json!({"instance": [{"text": "#access ok"}]});
        assert_eq!(news_status(Some(&news)), Some("green"));
        let news = serde_json::json!({"instance": []});
        assert_eq!(news_status(Some(&news)), Some("none"));
    }
}
