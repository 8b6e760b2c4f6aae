//! Integration tests of the client subcommands: the built `slapos` binary
//! against the real Python slapproxy (slapos.core 1.26.1), human output
//! compared with what the Python CLI prints, `--json` output parsed, exit
//! codes checked. The proxy is formatted and connection parameters are
//! published with the `client` crate, as a node and an instance would.

#[path = "../../../client/tests/it/fixture.rs"]
mod fixture;
mod https_server;
mod profile_https;
mod profile_install;
mod node_e2e;
mod profile_probe;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use client::{ClientConfig, MasterUrl, PartitionAuth, SlapClient};
use fixture::{CannedServer, SlapProxy, TempDir, COMPUTER};
use proto::Value;

const SOFTWARE: &str = "http://127.0.0.1:1/software.cfg";

/// The longest any one `slapos` run may take.
const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// A finished `slapos` run.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {self:?}"))
    }

    fn assert_success(&self) -> &Run {
        assert_eq!(self.code, 0, "slapos failed: {self:?}");
        self
    }
}

/// `slapos ARGS` with `SLAPOS_CLIENT_CONFIGURATION=config` and `HOME` in a
/// scratch directory, started (not waited for).
fn spawn(config: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_slapos"))
        .args(args)
        .env("SLAPOS_CLIENT_CONFIGURATION", config)
        .env("HOME", config.parent().unwrap_or(Path::new("/nonexistent")))
        .env_remove("SLAPOS_CONFIGURATION")
        .env_remove("SLAPOS_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the slapos binary")
}

/// Waits for `child` under [`RUN_DEADLINE`] (killing it past that).
fn finish(mut child: Child) -> Run {
    let started = Instant::now();
    while child.try_wait().expect("wait for slapos").is_none() {
        if started.elapsed() > RUN_DEADLINE {
            let _ = child.kill();
            panic!("slapos ran for more than {RUN_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("slapos output");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn slapos(config: &Path, args: &[&str]) -> Run {
    finish(spawn(config, args))
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(future)
}

fn client_for(proxy: &SlapProxy) -> SlapClient {
    let mut config = ClientConfig::new(MasterUrl::parse(&proxy.url()).expect("proxy URL"));
    config.rest_url = Some(proxy.rest_url());
    SlapClient::new(config).expect("client")
}

fn partition(id: &str) -> PartitionAuth {
    PartitionAuth { computer_id: COMPUTER.to_owned(), partition_id: id.to_owned() }
}

/// Formats `count` slots on the default computer, as `slapos node format`.
fn format(client: &SlapClient, count: usize) {
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
    let description = Value::dict_from([
        ("reference", Value::str(COMPUTER)),
        ("address", Value::str("10.0.0.254")),
        ("netmask", Value::str("255.255.255.0")),
        ("partition_list", Value::List(partitions)),
    ]);
    block_on(client.load_computer_configuration(&description)).expect("format");
}

fn publish(client: &SlapClient, slot: &str, parameters: Value, shared_reference: Option<&str>) {
    block_on(client.set_connection_parameters(&partition(slot), &parameters, shared_reference)).expect("publish");
}

struct Setup {
    proxy: SlapProxy,
    client: SlapClient,
    config: PathBuf,
}

fn setup(partitions: usize) -> Setup {
    let proxy = SlapProxy::start();
    let client = client_for(&proxy);
    format(&client, partitions);
    let config = proxy.client_config();
    Setup { proxy, client, config }
}

#[test]
fn client_commands_print_what_the_python_cli_prints() {
    let Setup { proxy: _proxy, client, config } = setup(3);

    let run = slapos(&config, &["supply", SOFTWARE, COMPUTER]);
    assert_eq!(run.assert_success().stdout, format!("Requesting software installation of {SOFTWARE}...\nDone.\n"));

    let run = slapos(&config, &["request", "web", SOFTWARE, "--parameters", "a=1", "b=x"]);
    let nothing_yet = "Instance requested.\nState is : started.\nConnection parameters of instance are:\n{}\n\
                       You can rerun the command to get up-to-date information.\n";
    assert_eq!(run.assert_success().stdout, nothing_yet);

    publish(
        &client,
        "slappart0",
        Value::dict_from([("_", Value::str(r#"{"url": "http://10.0.0.1/", "port": 80}"#))]),
        None,
    );
    let run = slapos(&config, &["request", "web", SOFTWARE, "--parameters", "a=1", "b=x"]);
    assert_eq!(
        run.assert_success().stdout,
        "Instance requested.\nState is : started.\nConnection parameters of instance are:\n\
         {'port': 80, 'url': 'http://10.0.0.1/'}\nYou can rerun the command to get up-to-date information.\n"
    );

    let run = slapos(&config, &["request", "site", SOFTWARE, "--slave", "--parameters", "domain=example.test"]);
    assert_eq!(run.assert_success().stdout, nothing_yet, "a shared instance shows its own (empty) parameters");
    publish(&client, "slappart0", Value::dict_from([("site-url", Value::str("https://example.test/"))]), Some("_site"));
    let run = slapos(&config, &["request", "site", SOFTWARE, "--slave", "--parameters", "domain=example.test"]);
    assert!(run.assert_success().stdout.contains("{'site-url': 'https://example.test/'}\n"), "{run:?}");

    let run = slapos(&config, &["service", "list"]);
    assert_eq!(
        run.assert_success().stdout,
        format!("{{\n  \"site\": \"{SOFTWARE}\",\n  \"web\": \"{SOFTWARE}\"\n}}\n")
    );

    let run = slapos(&config, &["service", "info", "web"]);
    assert_eq!(
        run.assert_success().stdout,
        format!(
            "{{\n  \"software-url\": \"{SOFTWARE}\",\n  \"software-type\": \"default\",\n  \"shared\": false,\n  \
             \"requested-state\": \"started\",\n  \"instance-parameters\": {{\n    \"a\": \"1\",\n    \"b\": \"x\"\n  }},\n  \
             \"connection-parameters\": {{\n    \"port\": 80,\n    \"url\": \"http://10.0.0.1/\"\n  }},\n  \
             \"status\": \"unsupported\"\n}}\n"
        )
    );
    let run = slapos(&config, &["service", "info", "site"]);
    let info = run.assert_success().json();
    assert_eq!(info["shared"], true);
    assert_eq!(info["requested-state"], "unused");
    assert_eq!(info["connection-parameters"]["site-url"], "https://example.test/");

    let run = slapos(&config, &["computer", "list"]);
    assert_eq!(run.assert_success().stdout, "List of Computers:\ncomputer computer\n");
    let run = slapos(&config, &["computer", "info", COMPUTER]);
    assert_eq!(run.assert_success().stdout, "Computer Reference: computer\nComputer Title    : computer\n");

    let run = slapos(&config, &["remove", SOFTWARE, COMPUTER]);
    assert_eq!(run.assert_success().stdout, format!("Requesting deletion of {SOFTWARE} Software Release...\nDone.\n"));
}

#[test]
fn json_output_is_one_structured_document() {
    let Setup { proxy: _proxy, client, config } = setup(2);
    let supplied = slapos(&config, &["--json", "supply", SOFTWARE, COMPUTER]).assert_success().json();
    assert_eq!(supplied["state"], "available");
    assert_eq!(supplied["answer"], format!("Supplied '{SOFTWARE}' to be available"));

    let dir = TempDir::new("cli-params");
    let parameters = dir.path().join("parameters.json");
    std::fs::write(&parameters, r#"{"name": "é", "size": 3}"#).expect("write parameters");
    let parameters = parameters.display().to_string();
    let requested = slapos(
        &config,
        &[
            "--json",
            "request",
            "db",
            SOFTWARE,
            "--type",
            "mariadb",
            "--node",
            "computer_guid=computer",
            "--parameters-file",
            &parameters,
        ],
    )
    .assert_success()
    .json();
    assert_eq!(requested["ready"], true);
    assert_eq!(requested["state"], "started");
    assert_eq!(requested["partition_id"], "slappart0");
    assert_eq!(requested["instance_guid"], "computer-slappart0");
    assert_eq!(requested["software_type"], "mariadb");
    assert_eq!(
        requested["parameters"]["_"], "{\n  \"name\": \"\\u00e9\",\n  \"size\": 3\n}",
        "wrapped as {{'_': json}}"
    );
    assert_eq!(requested["connection_parameters"], serde_json::json!({}));

    publish(&client, "slappart0", Value::dict_from([("_", Value::str(r#"{"dsn": "mysql://db"}"#))]), None);
    let again = ["--json", "request", "db", SOFTWARE, "--type", "mariadb", "--parameters-file", &parameters];
    let requested = slapos(&config, &again).assert_success().json();
    assert_eq!(requested["connection_parameters"], serde_json::json!({"dsn": "mysql://db"}));

    let services = slapos(&config, &["--json", "service", "list"]).assert_success().json();
    assert_eq!(services, serde_json::json!({"db": SOFTWARE}));
    let info = slapos(&config, &["--json", "service", "info", "db"]).assert_success().json();
    assert_eq!(info["software-type"], "mariadb");
    assert_eq!(info["instance-parameters"], serde_json::json!({"_": {"name": "é", "size": 3}}));
    assert_eq!(info["connection-parameters"], serde_json::json!({"dsn": "mysql://db"}));
    let computers = slapos(&config, &["--json", "computer", "list"]).assert_success().json();
    assert_eq!(computers, serde_json::json!([{"reference": COMPUTER, "title": COMPUTER}]));
    let computer = slapos(&config, &["--json", "computer", "info", COMPUTER]).assert_success().json();
    assert_eq!(computer, serde_json::json!({"reference": COMPUTER, "title": COMPUTER}));
}

#[test]
fn unknown_services_and_computers_exit_2_and_bad_input_exits_1() {
    let Setup { proxy, client: _client, config } = setup(1);
    let run = slapos(&config, &["service", "info", "nothing"]);
    assert_eq!((run.code, run.stdout.as_str()), (2, ""), "{run:?}");
    assert!(run.stderr.contains("Instance nothing does not exist."), "{run:?}");
    let run = slapos(&config, &["--json", "service", "info", "nothing"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.json()["error"], "Instance nothing does not exist.");
    let run = slapos(&config, &["computer", "info", "COMP-404"]);
    assert_eq!((run.code, run.stdout.as_str()), (2, "Computer COMP-404 does not exist.\n"), "{run:?}");

    let run = slapos(&config, &["service", "info", "a\"b"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("HTTP error 400") && run.stderr.contains(&proxy.url()), "{run:?}");

    slapos(&config, &["request", "only", SOFTWARE]).assert_success();
    let run = slapos(&config, &["request", "one too many", SOFTWARE]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("/requestComputerPartition: not found (HTTP 404)"), "{run:?}");

    let run = slapos(&config, &["request", "x", SOFTWARE, "--parameters", "a=1", "a=2"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("--parameters: multiple values provided for the same key 'a'"), "{run:?}");

    let missing = proxy.dir().join("absent.cfg");
    let run = slapos(&missing, &["service", "list"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains(&format!("configuration file does not exist: {}", missing.display())), "{run:?}");
    let run = slapos(&missing, &["computer", "list", "--cfg", &config.display().to_string()]);
    assert_eq!(
        run.assert_success().stdout,
        "List of Computers:\ncomputer computer\n",
        "--cfg wins over the environment"
    );
}

#[test]
fn request_waits_for_connection_parameters_until_the_timeout() {
    let Setup { proxy: _proxy, client, config } = setup(1);
    let child = spawn(&config, &["request", "late", SOFTWARE, "--timeout", "30", "--poll-interval", "0.2"]);
    let started = Instant::now();
    loop {
        let computer = block_on(client.full_computer_information(COMPUTER)).expect("computer information");
        if computer.partitions.first().is_some_and(|slot| slot.software_release.is_some()) {
            break;
        }
        assert!(started.elapsed() < RUN_DEADLINE, "the request never reached the proxy");
        std::thread::sleep(Duration::from_millis(50));
    }
    publish(&client, "slappart0", Value::dict_from([("ready", Value::str("yes"))]), None);
    let run = finish(child);
    assert!(run.assert_success().stdout.contains("{'ready': 'yes'}\n"), "{run:?}");

    let started = Instant::now();
    let run = slapos(&config, &["request", "late", SOFTWARE, "--timeout", "0.5", "--poll-interval", "0.1"]);
    assert!(run.assert_success().stdout.contains("{'ready': 'yes'}"), "already published: no wait");
    assert!(started.elapsed() < RUN_DEADLINE);
}

#[test]
fn request_exits_2_while_the_master_provisions() {
    let master = CannedServer::start(408, "");
    let dir = TempDir::new("cli-408");
    let config = dir.path().join("slapos-client.cfg");
    std::fs::write(&config, format!("[slapos]\nmaster_url = {}\n", master.url())).expect("write config");
    let run = slapos(&config, &["request", "slow", SOFTWARE]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("Instance requested. Master is provisioning it."), "{run:?}");
    let run = slapos(&config, &["--json", "request", "slow", SOFTWARE, "--timeout", "0.3", "--poll-interval", "0.1"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.json()["ready"], false);
}

#[test]
fn node_register_creates_the_compute_node_once_and_writes_its_config() {
    let proxy = SlapProxy::start();
    let client = client_for(&proxy);
    let output = proxy.dir().join("node/slapos.cfg");
    let output_arg = output.display().to_string();
    let config = proxy.client_config();
    let register = |count: &str| {
        slapos(
            &config,
            &[
                "--json",
                "node",
                "register",
                COMPUTER,
                "--master-url",
                &proxy.url(),
                "--partition-number",
                count,
                "--cfg-output",
                &output_arg,
            ],
        )
    };
    let report = register("3").assert_success().json();
    assert_eq!(report["created"], true);
    assert_eq!(report["partition_count"], 3);
    assert_eq!(
        std::fs::read_to_string(&output).expect("slapos.cfg written"),
        format!(
            "[slapos]\nmaster_url = {}/\ncomputer_id = {COMPUTER}\nsoftware_root = /opt/slapgrid\ninstance_root = /srv/slapgrid\n",
            proxy.url()
        )
    );

    slapos(&config, &["request", "kept", SOFTWARE]).assert_success();
    let report = register("1").assert_success().json();
    assert_eq!(report["created"], false, "an existing compute node is never formatted again");
    assert_eq!(report["partition_count"], 3);
    let computer = block_on(client.full_computer_information(COMPUTER)).expect("computer information");
    assert_eq!(computer.partitions.len(), 3);
    assert!(computer.partitions[0].software_release.is_some(), "the instance survived");

    let run =
        slapos(&config, &["node", "register", "COMP-new", "--master-url", &proxy.url(), "--cfg-output", &output_arg]);
    assert_eq!(run.code, 1, "the Python proxy answers 500 for unknown compute nodes: {run:?}");
    assert!(run.stderr.contains("cannot tell whether compute node COMP-new exists"), "{run:?}");
    assert!(run.stderr.contains("getFullComputerInformation?computer_id=COMP-new: server error (HTTP 500)"), "{run:?}");
}
