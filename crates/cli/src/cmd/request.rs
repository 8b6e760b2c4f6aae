//! `slapos request REFERENCE SOFTWARE_URL`: orders an instance (or a shared
//! instance with `--slave`) and shows its state and connection parameters,
//! as `slapos.cli.request` 1.26.1 does:
//!
//! * `--parameters k=v…` are sent as they are (strings);
//!   `--parameters-file F` is read as JSON (or instance XML for `.xml`) and,
//!   with the `json-in-xml` serialisation, wrapped as `{'_': json}` (JSON
//!   with a two-space indent) unless it already is exactly `{'_': …}`.
//! * `product.NAME` URLs are resolved with
//!   `getSoftwareReleaseListFromSoftwareProduct` (the first is best).
//! * Output: `State is : S.` then the connection parameters, with `_`
//!   JSON-decoded when the serialisation is `json-in-xml`, printed as Python's
//!   `pprint` would. A 408 prints "Master is provisioning it" and exits 2.
//!
//! Ours beyond Python: `--timeout` re-requests (idempotent) until connection
//! parameters arrive or time runs out, with a spinner on stderr.
//! Differences: the serialisation comes from `--force-serialisation`, else a
//! local `<software_url>.json` schema when the URL is a file path, else
//! `json-in-xml` — remote schemas are not downloaded (Python downloads
//! `<url>.json`, and crashes on `--parameters-file` when it cannot). For a
//! shared instance we show its own connection parameters (the Python CLI
//! shows its host's, overwritten by the `registerComputerPartition` it does
//! to read the state). YAML parameter files are refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use client::{PartitionAuth, RequestResult, RequestSpec, RequestedInstance, SlapClient};
use proto::Value;
use serde::Serialize;

use crate::cmd::client_config::{self, ConfigArgs, EXIT_NOT_READY};
use crate::output::Output;
use crate::Ctx;

/// How instance parameters travel (`SoftwareReleaseSerialisation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Serialisation {
    /// Each parameter is one `<parameter>`.
    Xml,
    /// All parameters are one JSON text under the key `_`.
    JsonInXml,
}

/// Options of `slapos request`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Your instance reference (for now it is its title).
    reference: String,
    /// Your software url (or product.NAME).
    software_url: String,
    /// Node request option 'option1=value1 option2=value2' (i.e. computer_guid=COMP-1234).
    #[arg(long, num_args = 1..)]
    node: Vec<String>,
    /// Software type to be requested.
    #[arg(long = "type")]
    software_type: Option<String>,
    /// State of the requested instance.
    #[arg(long, value_parser = ["started", "stopped", "destroyed"])]
    state: Option<String>,
    /// Ask for a slave (shared) instance.
    #[arg(long)]
    slave: bool,
    /// Enforce serialisation of instance parameters when using --parameters-file.
    #[arg(long, value_enum)]
    force_serialisation: Option<Serialisation>,
    /// Instance parameters, in the form 'option1=value1 option2=value2'.
    #[arg(long, num_args = 1.., conflicts_with = "parameters_file")]
    parameters: Vec<String>,
    /// Instance parameters, in a file (JSON, or instance XML for .xml).
    #[arg(long)]
    parameters_file: Option<PathBuf>,
    /// Keep re-requesting until connection parameters are published, for at most this many seconds (0: ask once).
    #[arg(long, default_value_t = 0.0)]
    timeout: f64,
    /// Seconds between two requests while waiting.
    #[arg(long, default_value_t = 5.0)]
    poll_interval: f64,
    #[command(flatten)]
    config: ConfigArgs,
}

/// The validated order.
struct Order {
    spec: RequestSpec,
    serialisation: Serialisation,
    wait: Duration,
    poll_interval: Duration,
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
struct Report {
    reference: String,
    software_url: String,
    software_type: String,
    shared: bool,
    ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    computer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partition_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance_guid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_parameters: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

const PROVISIONING: &str =
    "Instance requested. Master is provisioning it. Please rerun in a couple of minutes to get connection information.";

fn seconds(option: &str, value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| anyhow::anyhow!("{option} {value}: expected a number of seconds >= 0"))
}

/// Orders the instance and reports on it.
pub(crate) async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<Output> {
    let settings = client_config::load(&args.config)?;
    let client = client_config::connect(&settings)?;
    let order = order(args, &client).await?;
    let result = poll(&client, &order, ctx).await?;
    let spec = &order.spec;
    let mut report = Report {
        reference: spec.title.clone(),
        software_url: spec.software_release.clone(),
        software_type: spec.software_type.clone().unwrap_or_else(|| client::DEFAULT_SOFTWARE_TYPE.to_owned()),
        shared: spec.shared,
        ready: false,
        state: None,
        computer_id: None,
        partition_id: None,
        instance_guid: None,
        parameters: None,
        connection_parameters: None,
        message: None,
    };
    let instance = match result {
        RequestResult::Ready(instance) if !instance.partition_id.is_empty() => instance,
        // No partition: the Python client's getState() raises
        // ResourceNotReady, like a 408.
        RequestResult::Ready(_) | RequestResult::NotReady => {
            eprintln!("{PROVISIONING}");
            report.message = Some(PROVISIONING.to_owned());
            return Ok(Output::new(&report, "").with_exit_code(EXIT_NOT_READY));
        }
    };
    let state = match &instance.state {
        Some(state) => state.clone(),
        None => host_state(&client, &instance).await?,
    };
    let connection = displayed_connection(&instance.connection_parameters, order.serialisation);
    let human = format!(
        "Instance requested.\nState is : {state}.\nConnection parameters of instance are:\n{}\nYou can rerun the command to get up-to-date information.\n",
        pformat(&connection)
    );
    report.ready = true;
    report.state = Some(state);
    report.computer_id = Some(instance.computer_id.clone());
    report.partition_id = Some(instance.partition_id.clone());
    report.instance_guid = instance.instance_guid.clone();
    report.parameters = Some(map_to_json(&instance.parameters));
    report.connection_parameters = Some(client::value_to_json(&connection));
    Ok(Output::new(&report, human))
}

/// A shared instance has no state of its own: the Python CLI reads its
/// host partition's (`registerComputerPartition`).
async fn host_state(client: &SlapClient, instance: &RequestedInstance) -> anyhow::Result<String> {
    let host = PartitionAuth { computer_id: instance.computer_id.clone(), partition_id: instance.partition_id.clone() };
    let slot = client.register_partition(&host).await.with_context(|| {
        format!("cannot read the state of host partition {} of {}", host.partition_id, host.computer_id)
    })?;
    Ok(slot.requested_state)
}

/// Requests until connection parameters arrive or the wait is over.
async fn poll(client: &SlapClient, order: &Order, ctx: &Ctx) -> anyhow::Result<RequestResult> {
    let deadline = Instant::now() + order.wait;
    let spinner = (ctx.progress && !order.wait.is_zero()).then(|| {
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.enable_steady_tick(Duration::from_millis(120));
        spinner.set_message(format!("requesting {}", order.spec.title));
        spinner
    });
    let mut attempts: u32 = 0;
    let result = loop {
        attempts += 1;
        let result = client
            .request(&order.spec)
            .await
            .with_context(|| format!("cannot request {:?} of {}", order.spec.title, order.spec.software_release))?;
        let published = matches!(&result, RequestResult::Ready(instance) if !instance.connection_parameters.is_empty());
        let now = Instant::now();
        if published || now >= deadline {
            break result;
        }
        if let Some(spinner) = &spinner {
            let waiting = if matches!(result, RequestResult::NotReady) {
                "being provisioned"
            } else {
                "no connection parameters yet"
            };
            spinner.set_message(format!("{}: {waiting} (attempt {attempts})", order.spec.title));
        }
        tokio::time::sleep(order.poll_interval.min(deadline - now)).await;
    };
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    Ok(result)
}

/// Validates the arguments into an [`Order`] (resolving `product.NAME`).
async fn order(args: Args, client: &SlapClient) -> anyhow::Result<Order> {
    let wait = seconds("--timeout", args.timeout)?;
    let poll_interval = seconds("--poll-interval", args.poll_interval)?;
    if poll_interval.is_zero() && !wait.is_zero() {
        bail!("--poll-interval must be above 0 when --timeout is set");
    }
    let software_release = resolve_product(client, &args.software_url).await?;
    let serialisation =
        args.force_serialisation.unwrap_or_else(|| serialisation_for(&software_release, args.software_type.as_deref()));
    let parameters = match &args.parameters_file {
        Some(path) => parameters_from_file(path, serialisation)?,
        None => string_dict(client_config::parse_option_dict("--parameters", &args.parameters)?),
    };
    let sla = string_dict(client_config::parse_option_dict("--node", &args.node)?);
    let mut spec = RequestSpec::new(software_release, args.reference);
    spec.software_type = args.software_type;
    spec.parameters = parameters;
    spec.sla = sla;
    spec.shared = args.slave;
    spec.state = args.state;
    Ok(Order { spec, serialisation, wait, poll_interval })
}

/// `product.NAME` → the best release of software product NAME.
pub(crate) async fn resolve_product(client: &SlapClient, software_url: &str) -> anyhow::Result<String> {
    let Some(product) = software_url.strip_prefix("product.") else {
        return Ok(software_url.to_owned());
    };
    let releases = client
        .software_release_list_from_product(product)
        .await
        .with_context(|| format!("cannot resolve software product {product:?}"))?;
    match releases.into_iter().next() {
        Some(url) => {
            tracing::info!(software_url = %url, product, "software product resolved");
            Ok(url)
        }
        None => bail!("no Software Release corresponding to the Software Product {product:?} has been found"),
    }
}

fn string_dict(pairs: Vec<(String, String)>) -> Value {
    Value::dict_from(pairs.into_iter().map(|(key, value)| (key, Value::String(value))))
}

/// `getParametersFromFile`: JSON (or `.xml` instance XML, sent as is),
/// wrapped as `{'_': json}` for `json-in-xml` unless already so.
fn parameters_from_file(path: &Path, serialisation: Serialisation) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    match path.extension().and_then(|extension| extension.to_str()) {
        Some("yaml" | "yml") => bail!("{}: YAML parameter files are not supported, use JSON", path.display()),
        Some("xml") => {
            let params =
                proto::instance_xml::decode(&text).with_context(|| format!("{}: not instance XML", path.display()))?;
            return Ok(proto::instance_xml::to_value(&params));
        }
        _ => {}
    }
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let Some(object) = json.as_object() else {
        bail!("{}: the parameters must be a JSON object", path.display());
    };
    let already_wrapped = object.len() == 1 && object.contains_key("_");
    if serialisation == Serialisation::JsonInXml && !already_wrapped {
        let dumped = python_json_dumps(&json).with_context(|| format!("{}: cannot serialise", path.display()))?;
        return Ok(Value::dict_from([("_", Value::String(dumped))]));
    }
    Ok(Value::from(&json))
}

/// `json.dumps(value, indent=2)`: two-space indent, non-ASCII escaped as
/// `\uXXXX`. Keys come out sorted (Python keeps the file's order).
///
/// # Errors
/// Serialisation failure (not expected for JSON values).
pub(crate) fn python_json_dumps(value: &impl Serialize) -> anyhow::Result<String> {
    let pretty = serde_json::to_string_pretty(value)?;
    let mut escaped = String::with_capacity(pretty.len());
    for c in pretty.chars() {
        if c.is_ascii() {
            escaped.push(c);
        } else {
            let mut units = [0_u16; 2];
            for unit in c.encode_utf16(&mut units) {
                escaped.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    Ok(escaped)
}

/// The serialisation to assume for `software_url` and `software_type`
/// when none is forced: the local schema's, else `json-in-xml` (what the
/// Python CLI assumes when it cannot read a schema).
pub(crate) fn serialisation_for(software_url: &str, software_type: Option<&str>) -> Serialisation {
    schema_serialisation(software_url, software_type).unwrap_or(Serialisation::JsonInXml)
}

/// The serialisation a local software release schema
/// (`<software_url>.json`, `file:` URLs and paths only) declares, for the
/// software type or the whole release.
fn schema_serialisation(software_url: &str, software_type: Option<&str>) -> Option<Serialisation> {
    if software_url.starts_with("http://") || software_url.starts_with("https://") {
        return None;
    }
    let path =
        software_url.strip_prefix("file://").or_else(|| software_url.strip_prefix("file:")).unwrap_or(software_url);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{path}.json")).ok()?).ok()?;
    let software_type = match software_type {
        None | Some("RootSoftwareInstance" | "") => client::DEFAULT_SOFTWARE_TYPE,
        Some(software_type) => software_type,
    };
    let declared = schema
        .pointer(&format!("/software-type/{}/serialisation", software_type.replace('~', "~0").replace('/', "~1")))
        .or_else(|| schema.get("serialisation"))
        .and_then(serde_json::Value::as_str)?;
    match declared {
        "xml" => Some(Serialisation::Xml),
        "json-in-xml" => Some(Serialisation::JsonInXml),
        other => {
            tracing::warn!(software_url, serialisation = other, "invalid serialisation in the software release schema");
            None
        }
    }
}

/// The connection parameters as the Python CLI shows them: with
/// `json-in-xml`, the JSON under `_` replaces the dict.
pub(crate) fn displayed_connection(parameters: &BTreeMap<String, Value>, serialisation: Serialisation) -> Value {
    let as_dict = || Value::dict_from(parameters.iter().map(|(key, value)| (key.clone(), value.clone())));
    if serialisation != Serialisation::JsonInXml {
        return as_dict();
    }
    match parameters.get("_") {
        Some(Value::String(text)) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(json) => Value::from(&json),
            Err(error) => {
                tracing::warn!(%error, "connection parameter _ is not JSON, shown as is");
                as_dict()
            }
        },
        _ => as_dict(),
    }
}

fn map_to_json(parameters: &BTreeMap<String, Value>) -> serde_json::Value {
    serde_json::Value::Object(
        parameters.iter().map(|(key, value)| (key.clone(), client::value_to_json(value))).collect(),
    )
}

/// Python's `pprint.pformat` for the common case: one line when the repr
/// fits in 80 columns, else one `key: value` per line (keys sorted). Nested
/// values stay on one line.
fn pformat(value: &Value) -> String {
    const WIDTH: usize = 80;
    let sorted = sorted_dict(value);
    let one_line = proto::python_repr::repr_of(&sorted);
    let Value::Dict(items) = &sorted else {
        return one_line;
    };
    if one_line.chars().count() <= WIDTH || items.len() < 2 {
        return one_line;
    }
    let lines: Vec<String> = items
        .iter()
        .map(|(key, item)| format!("{}: {}", proto::python_repr::repr_of(key), proto::python_repr::repr_of(item)))
        .collect();
    format!("{{{}}}", lines.join(",\n "))
}

/// A dict with its string keys sorted (pprint's `sort_dicts`).
fn sorted_dict(value: &Value) -> Value {
    match value {
        Value::Dict(items) => {
            let mut items = items.clone();
            items.sort_by_key(|(key, _)| key.as_str().map_or_else(|| proto::python_repr::repr_of(key), str::to_owned));
            Value::Dict(items)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_parameters_show_like_the_python_cli() {
        let mut published = BTreeMap::new();
        published.insert("_".to_owned(), Value::str(r#"{"url": "http://x", "n": 1}"#));
        let shown = displayed_connection(&published, Serialisation::JsonInXml);
        assert_eq!(pformat(&shown), "{'n': 1, 'url': 'http://x'}");
        let raw = displayed_connection(&published, Serialisation::Xml);
        assert_eq!(pformat(&raw), r#"{'_': '{"url": "http://x", "n": 1}'}"#);
        assert_eq!(pformat(&Value::Dict(Vec::new())), "{}");
        let long = Value::dict_from([("b", Value::str("y".repeat(50))), ("a", Value::str("x".repeat(50)))]);
        assert_eq!(pformat(&long), format!("{{'a': '{}',\n 'b': '{}'}}", "x".repeat(50), "y".repeat(50)));
    }

    #[test]
    fn json_dumps_escapes_non_ascii_like_python() {
        let value = serde_json::json!({"b": [1, 2], "a": "é😀"});
        assert_eq!(
            python_json_dumps(&value).expect("dumps"),
            "{\n  \"a\": \"\\u00e9\\ud83d\\ude00\",\n  \"b\": [\n    1,\n    2\n  ]\n}"
        );
    }

    #[test]
    fn parameter_files_are_wrapped_for_json_in_xml() {
        let dir = std::env::temp_dir().join(format!("slapos-rs-request-params-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("p.json");
        std::fs::write(&file, r#"{"k": [1, 2]}"#).expect("write");
        let wrapped = parameters_from_file(&file, Serialisation::JsonInXml).expect("json");
        assert_eq!(wrapped, Value::dict_from([("_", Value::str("{\n  \"k\": [\n    1,\n    2\n  ]\n}"))]));
        let plain = parameters_from_file(&file, Serialisation::Xml).expect("json");
        assert_eq!(plain, Value::dict_from([("k", Value::List(vec![Value::Int(1), Value::Int(2)]))]));
        std::fs::write(&file, r#"{"_": "{}"}"#).expect("write");
        assert_eq!(
            parameters_from_file(&file, Serialisation::JsonInXml).expect("json"),
            Value::dict_from([("_", Value::str("{}"))])
        );
        std::fs::write(&file, "[1]").expect("write");
        let error = parameters_from_file(&file, Serialisation::JsonInXml).expect_err("not an object");
        assert!(error.to_string().ends_with("p.json: the parameters must be a JSON object"), "{error}");
        let schema = dir.join("software.cfg.json");
        std::fs::write(
            &schema,
            r#"{"serialisation": "xml", "software-type": {"kvm": {"serialisation": "json-in-xml"}}}"#,
        )
        .expect("write schema");
        let release = dir.join("software.cfg").display().to_string();
        assert_eq!(schema_serialisation(&release, None), Some(Serialisation::Xml));
        assert_eq!(schema_serialisation(&release, Some("kvm")), Some(Serialisation::JsonInXml));
        assert_eq!(schema_serialisation("http://127.0.0.1:1/software.cfg", None), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
