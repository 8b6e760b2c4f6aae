//! The native slapos.cookbook recipes: each recipe's options, outputs and
//! messages through the real resolution flow, the master recipes against
//! a fake [`SlapConnection`] that records every call and answers from a
//! script, and the wrapper scripts and promise plugins against goldens
//! recorded from slapos.cookbook 1.0.499 (`test_data/cookbook/generate.py`).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use profile::recipe::cookbook::{
    InstanceRequest, PartitionInformation, RequestedInstance, SlapConnection, SlapConnectionInfo, SlapError,
};
use profile::recipe::{Environment, InstallContext, Progress, RecipeRun, Recipes};
use profile::{LoadOptions, NoFetch};
use serde_json::{json, Value};

/// A master that records calls and answers from a script.
#[derive(Default)]
struct FakeMaster {
    calls: Mutex<Vec<String>>,
    partition: PartitionInformation,
    request: Option<Result<RequestedInstance, SlapError>>,
    /// What the partition already published (publish-early reads it).
    published: BTreeMap<String, String>,
}

impl SlapConnection for FakeMaster {
    fn partition(&self, connection: &SlapConnectionInfo) -> Result<PartitionInformation, SlapError> {
        self.calls.lock().unwrap().push(format!("partition {connection:?}"));
        Ok(self.partition.clone())
    }

    fn request(&self, connection: &SlapConnectionInfo, request: &InstanceRequest) -> Result<RequestedInstance, SlapError> {
        self.calls.lock().unwrap().push(format!("request {} {request:?}", connection.partition_id));
        self.request.clone().unwrap_or_else(|| Ok(RequestedInstance::default()))
    }

    fn set_connection_parameters(&self, connection: &SlapConnectionInfo, parameters: &BTreeMap<String, String>, shared: Option<&str>) -> Result<(), SlapError> {
        self.calls.lock().unwrap().push(format!("publish {} {parameters:?} {shared:?}", connection.partition_id));
        Ok(())
    }

    fn published(&self, connection: &SlapConnectionInfo) -> Result<BTreeMap<String, String>, SlapError> {
        self.calls.lock().unwrap().push(format!("published {}", connection.partition_id));
        Ok(self.published.clone())
    }

    fn report_error(&self, connection: &SlapConnectionInfo, message: &str, shared: Option<&str>) -> Result<(), SlapError> {
        self.calls.lock().unwrap().push(format!("error {} {message:?} {shared:?}", connection.partition_id));
        Ok(())
    }
}

#[derive(Default)]
struct Messages(RefCell<Vec<String>>);

impl Progress for Messages {
    fn step(&self, part: &str, message: &str) {
        self.0.borrow_mut().push(format!("{part}: {message}"));
    }
    fn bytes(&self, _part: &str, _done: u64, _total: Option<u64>) {}
}

/// What one run produced.
struct Outcome {
    options: BTreeMap<String, BTreeMap<String, String>>,
    volatile: BTreeMap<String, BTreeSet<String>>,
    messages: Vec<String>,
    error: Option<String>,
}

const SLAP_CONNECTION: &str = "[slap-connection]\ncomputer-id = COMP-1\npartition-id = slappart3\nserver-url = http://master/\nsoftware-release-url = http://sr/software.cfg\nkey-file = /k\ncert-file = /c\nrequested = stopped\n";

/// Writes `profile` (after a `[buildout]` with `parts`) in `directory`,
/// initialises and installs every part; stops at the first error.
fn run(directory: &Path, parts: &str, profile: &str, master: Option<Arc<FakeMaster>>) -> Outcome {
    let text = format!("[buildout]\nparts = {parts}\noffline = true\n\n{SLAP_CONNECTION}\n{profile}");
    std::fs::write(directory.join("buildout.cfg"), text).unwrap();
    let mut options = LoadOptions::new(profile::python::PythonEnv::new((3, 11, 2)));
    options.cwd = Some(directory.to_path_buf());
    let loaded = profile::load_file(&directory.join("buildout.cfg"), &options).unwrap();
    let mut recipes = Recipes::new();
    match master {
        Some(master) => profile::recipe::cookbook::register(&mut recipes, master),
        None => profile::recipe::cookbook::register_local(&mut recipes),
    }
    let messages = Messages::default();
    let environment = Environment { fetch: &NoFetch, progress: &messages };
    let run = RecipeRun::new(&recipes, &environment);
    let mut outcome = Outcome { options: BTreeMap::new(), volatile: BTreeMap::new(), messages: Vec::new(), error: None };
    let mut resolver = loaded.resolver(&run).unwrap();
    if let Err(error) = profile::select_parts(&mut resolver) {
        outcome.error = Some(error.to_string());
    }
    let mut initialised = run.take_parts();
    for name in resolver.parts().to_vec() {
        let part_options: BTreeMap<String, String> =
            resolver.options(&name).unwrap().into_iter().map(|(k, v)| (k, profile::final_read(&v))).collect();
        outcome.options.insert(name.clone(), part_options.clone());
        let Some(part) = initialised.get_mut(&name) else { continue };
        outcome.volatile.insert(name.clone(), part.volatile.clone());
        if outcome.error.is_some() {
            continue;
        }
        let mut context = InstallContext::new(&name, &part_options, directory, &environment);
        if let Err(error) = part.part.install(&mut context) {
            outcome.error = Some(format!("{name}: {error}"));
        }
    }
    outcome.messages = messages.0.take();
    outcome
}

fn goldens() -> Value {
    let path = crate::crate_dir().join("test_data/cookbook/goldens.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// An option block: multi-line values indented.
fn section(name: &str, options: &serde_json::Map<String, Value>, extra: &[(&str, String)]) -> String {
    let mut text = format!("[{name}]\n");
    for (key, value) in options.iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap().to_owned())).chain(extra.iter().map(|(k, v)| (*k, v.clone()))) {
        text.push_str(&format!("{key} = {}\n", value.replace('\n', "\n  ")));
    }
    text
}

#[test]
fn wrapper_scripts_match_the_real_recipe() {
    for case in goldens()["wrapper"].as_array().unwrap() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("wrapper");
        let block = section("w", case["options"].as_object().unwrap(), &[("recipe", "slapos.cookbook:wrapper".into()), ("wrapper-path", path.display().to_string())]);
        let outcome = run(temp.path(), "w", &block, None);
        assert_eq!(outcome.error, None, "{case}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), case["script"].as_str().unwrap(), "{case}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o700);
        assert!(outcome.options["w"].contains_key("_d") && outcome.options["w"].contains_key("_e"));
    }
}

#[test]
fn wrapper_launcher_options_and_hash_files() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().display().to_string();
    std::fs::write(temp.path().join("conf"), "x").unwrap();
    let block = format!("[w]\nrecipe = slapos.cookbook:wrapper\ncommand-line = /bin/true a\nwrapper-path = {dir}/w\npidfile = {dir}/pid\nwait-for-files = {dir}/ready\nreserve-cpu = true\nredirect-stdout = {dir}/log\nhash-existing-files = {dir}/conf\n");
    let outcome = run(temp.path(), "w", &block, None);
    assert_eq!(outcome.error, None);
    let hash = &outcome.options["w"]["__hash_files__"];
    // md5("1\nx")
    assert_eq!(hash, "f3eb7f94f94c0d6c59fe8733c063462f");
    let script = std::fs::read_to_string(format!("{dir}/w-{hash}")).unwrap();
    assert!(script.starts_with("#!/bin/sh -e\ntrap '' USR1\nif pid=$(cat "), "{script}");
    assert!(script.contains(&format!("echo $$ > {dir}/pid\necho $$ >> \"$HOME/.slapos-cpu-exclusive\"\nuntil [ -e {dir}/ready ] || [ -L {dir}/ready ]; do sleep 0.1; done\nexec >>{dir}/log\n")), "{script}");
    assert!(script.ends_with("exec /bin/true a \"$@\"\n"), "{script}");
}

#[test]
fn wrapper_rejects_bad_signals() {
    let temp = tempfile::tempdir().unwrap();
    let outcome = run(temp.path(), "w", "[w]\nrecipe = slapos.cookbook:wrapper\ncommand-line = /a\nwrapper-path = /tmp/x\nredirect-signal = HUP\n", None);
    assert!(outcome.error.unwrap().contains("redirect-signal without redirecting any output makes no sense"));
}

#[test]
fn promise_plugins_match_the_real_recipe() {
    let goldens = goldens();
    for case in goldens["plugin"].as_array().unwrap() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("plugin.py");
        let block = section("p", case["options"].as_object().unwrap(), &[("recipe", "slapos.cookbook:promise.plugin".into()), ("eggs", String::new()), ("output", path.display().to_string())]);
        let outcome = run(temp.path(), "p", &block, None);
        assert_eq!(outcome.error, None, "{case}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), case["content"].as_str().unwrap(), "{case}");
        use std::os::unix::fs::PermissionsExt;
        let mode = u32::from_str_radix(case["mode"].as_str().unwrap().trim_start_matches("0o"), 8).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777, mode);
    }
    let check = &goldens["check_port_listening"];
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("check");
    let block = format!("[c]\nrecipe = slapos.cookbook:check_port_listening\npath = {}\nhostname = 10.0.0.1\nport = 8080\n", path.display());
    let outcome = run(temp.path(), "c", &block, None);
    assert_eq!(outcome.error, None);
    let written = std::fs::read_to_string(&path).unwrap();
    let expected = check["script"].as_str().unwrap().replacen(check["python"].as_str().unwrap(), &outcome_python(&written), 1);
    assert_eq!(written, expected);
}

fn outcome_python(script: &str) -> String {
    script.lines().next().unwrap().trim_start_matches("#!").to_owned()
}

#[test]
fn promise_plugin_needs_module_xor_file() {
    let temp = tempfile::tempdir().unwrap();
    let outcome = run(temp.path(), "p", "[p]\nrecipe = slapos.cookbook:promise.plugin\noutput = /tmp/x\neggs =\n", None);
    assert!(outcome.error.unwrap().contains("Either 'module' or 'file' is required but not both"));
    let outcome = run(temp.path(), "p", "[p]\nrecipe = slapos.cookbook:promise.plugin\noutput = /tmp/x\nmodule = a.b-c\n", None);
    assert!(outcome.error.unwrap().contains("'a.b-c' is not a valid module name"));
}

fn partition() -> PartitionInformation {
    let parameters = json!({
        "foo": "bar",
        "a=b": "hidden",
        "ip_list": [["tap0", "10.0.0.2"], ["tap0", "10.0.0.1"], ["tap0", "fe80::1"]],
        "full_address_list": [],
        "slap_software_type": "default",
        "slap_computer_partition_id": "slappart3",
        "slap_computer_id": "COMP-1",
        "slap_software_release_url": "http://sr/software.cfg",
        "slave_instance_list": [{"slave_reference": "SHARED-1", "slave_title": "s", "port": 1}],
        "timestamp": "1700000000.5",
        "instance_title": "My Instance",
        "root_instance_title": "Root",
    });
    PartitionInformation {
        state: "started".into(),
        instance_guid: "COMP-1-slappart3".into(),
        parameters: parameters.as_object().unwrap().clone().into_iter().collect(),
    }
}

const SLAP_CONFIGURATION: &str = "[slap-configuration]\nrecipe = slapos.cookbook:slapconfiguration\ncomputer = ${slap-connection:computer-id}\npartition = ${slap-connection:partition-id}\nurl = ${slap-connection:server-url}\nkey = ${slap-connection:key-file}\ncert = ${slap-connection:cert-file}\n";

#[test]
fn slapconfiguration_exposes_the_partition_with_py_values() {
    let temp = tempfile::tempdir().unwrap();
    let master = Arc::new(FakeMaster { partition: partition(), ..FakeMaster::default() });
    let outcome = run(temp.path(), "slap-configuration", SLAP_CONFIGURATION, Some(Arc::clone(&master)));
    assert_eq!(outcome.error, None);
    let options = &outcome.options["slap-configuration"];
    let expect = [
        ("instance-state", "started"),
        ("instance-guid", "COMP-1-slappart3"),
        ("instance-title", "My Instance"),
        ("root-instance-title", "Root"),
        ("root-instance-short-title", "UNKNOWN"),
        ("slap-software-type", "default"),
        ("timestamp", "1700000000.5"),
        ("ipv4", "!py!{'10.0.0.1', '10.0.0.2'}"),
        ("ipv6", "!py!{'fe80::1'}"),
        ("ipv4-random", "10.0.0.1"),
        ("ipv6-random", "fe80::1"),
        ("storage-dict", "!py!{}"),
        ("slave-instance-list", "!py![{'port': 1, 'slave_reference': 'SHARED-1', 'slave_title': 's'}]"),
        ("configuration", "!py!{'a=b': 'hidden', 'foo': 'bar'}"),
        ("configuration.foo", "bar"),
    ];
    for (key, value) in expect {
        assert_eq!(options.get(key).map(String::as_str), Some(value), "{key}");
    }
    assert!(!options.contains_key("configuration.a=b"));
    let calls = master.calls.lock().unwrap().clone();
    assert_eq!(calls, [format!("partition {:?}", SlapConnectionInfo {
        server_url: "http://master/".into(),
        key_file: Some("/k".into()),
        cert_file: Some("/c".into()),
        computer_id: "COMP-1".into(),
        partition_id: "slappart3".into(),
    })]);
}

#[test]
fn slapconfiguration_serialised_unwraps_json() {
    let temp = tempfile::tempdir().unwrap();
    let mut information = partition();
    information.parameters.retain(|key, _| key.starts_with("slap") || key == "ip_list");
    information.parameters.insert("_".into(), json!("{\"b\": 1, \"a\": [true, null]}"));
    let master = Arc::new(FakeMaster { partition: information, ..FakeMaster::default() });
    let profile = SLAP_CONFIGURATION.replace(":slapconfiguration\n", ":slapconfiguration.serialised\n");
    let outcome = run(temp.path(), "slap-configuration", &profile, Some(master));
    assert_eq!(outcome.error, None);
    let options = &outcome.options["slap-configuration"];
    assert_eq!(options["configuration"], "!py!{'a': [True, None], 'b': 1}");
    assert_eq!(options["configuration.b"], "!py!1");
    assert_eq!(options["configuration.a"], "!py![True, None]");
}

fn write_schemas(directory: &Path) -> PathBuf {
    let software = json!({"serialisation": "json-in-xml", "software-type": {"default": {"request": "instance-input-schema.json", "software-type": "default"}}});
    let request = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "port": {"type": "integer", "default": 8080},
            "mode": {"$ref": "#/definitions/mode"},
            "tls": {"type": "object", "default": {}, "properties": {"enabled": {"type": "boolean", "default": true}}}
        },
        "definitions": {"mode": {"enum": ["a", "b"], "default": "a"}}
    });
    std::fs::write(directory.join("software.cfg.json"), software.to_string()).unwrap();
    std::fs::write(directory.join("instance-input-schema.json"), request.to_string()).unwrap();
    directory.join("software.cfg.json")
}

#[test]
fn slapconfiguration_jsonschema_fills_defaults_and_reports_errors() {
    let temp = tempfile::tempdir().unwrap();
    let schema = write_schemas(temp.path());
    let mut information = partition();
    information.parameters.retain(|key, _| key.starts_with("slap") || key == "ip_list");
    information.parameters.insert("_".into(), json!("{\"mode\": \"b\"}"));
    let master = Arc::new(FakeMaster { partition: information.clone(), ..FakeMaster::default() });
    let profile = SLAP_CONFIGURATION.replace(":slapconfiguration\n", &format!(":slapconfiguration.jsonschema\njsonschema = {}\nset-default = main\nvalidate-parameters = main\n", schema.display()));
    let outcome = run(temp.path(), "slap-configuration", &profile, Some(master));
    assert_eq!(outcome.error, None);
    let options = &outcome.options["slap-configuration"];
    assert_eq!(options["configuration"], "!py!{'mode': 'b', 'port': 8080, 'tls': {'enabled': True}}");
    assert_eq!(options["configuration.port"], "!py!8080");

    information.parameters.insert("_".into(), json!("{\"port\": \"x\", \"mode\": \"c\", \"extra\": 1}"));
    let master = Arc::new(FakeMaster { partition: information, ..FakeMaster::default() });
    let outcome = run(temp.path(), "slap-configuration", &profile, Some(Arc::clone(&master)));
    let error = outcome.error.unwrap();
    let expected = "Invalid parameters:\n  $: Additional properties are not allowed ('extra' was unexpected)\n  $.mode: 'c' is not one of ['a', 'b']\n  $.port: 'x' is not of type 'integer'";
    assert!(error.contains(expected), "{error}");
    assert!(master.calls.lock().unwrap().iter().any(|call| call.starts_with("error slappart3 \"Invalid parameters:")));
}

const REQUEST: &str = "[req]\nrecipe = slapos.cookbook:request\nsoftware-url = http://sr/other.cfg\nsoftware-type = front\nname = Child\nserver-url = ${slap-connection:server-url}\ncomputer-id = ${slap-connection:computer-id}\npartition-id = ${slap-connection:partition-id}\nconfig-a = 1\nsla-computer_guid = COMP-2\nsla-empty =\nreturn = url missing\n";

fn answered() -> RequestedInstance {
    RequestedInstance {
        instance_guid: Some("COMP-2-slappart0".into()),
        state: Some("started".into()),
        status: None,
        connection_parameters: BTreeMap::from([("url".into(), "http://child/".into())]),
    }
}

#[test]
fn request_sends_in_init_and_fails_on_missing_parameter_at_install() {
    let temp = tempfile::tempdir().unwrap();
    let master = Arc::new(FakeMaster { request: Some(Ok(answered())), ..FakeMaster::default() });
    let outcome = run(temp.path(), "req", REQUEST, Some(Arc::clone(&master)));
    let options = &outcome.options["req"];
    assert_eq!(options["connection-url"], "http://child/");
    assert_eq!(options["connection-missing"], "");
    assert_eq!(options["instance-guid"], "COMP-2-slappart0");
    assert_eq!(options["instance_guid"], "COMP-2-slappart0");
    assert_eq!(options["instance-state"], "started");
    assert_eq!(options["requested-state"], "stopped");
    assert_eq!(outcome.error.as_deref(), Some("req: Connection parameter missing not found. Status of requested instance is: started. If this error persists, check status of this instance."));
    let call = master.calls.lock().unwrap()[0].clone();
    assert!(call.contains("parameters: {\"a\": \"1\"}, filter: {\"computer_guid\": \"COMP-2\"}, shared: false, state: \"stopped\""), "{call}");

    let optional = REQUEST.replace(":request\n", ":requestoptional\n");
    let outcome = run(temp.path(), "req", &optional, Some(Arc::new(FakeMaster { request: Some(Ok(answered())), ..FakeMaster::default() })));
    assert_eq!(outcome.error, None);
    assert!(outcome.messages.iter().any(|m| m == "req: Connection parameter missing not found. Requested instance is currently started. If this error persists, check status of this instance."), "{:?}", outcome.messages);
}

#[test]
fn request_errors_are_deferred_to_install() {
    let temp = tempfile::tempdir().unwrap();
    let failing = || Arc::new(FakeMaster { request: Some(Err(SlapError::NotFound("No free computer partition found for: Child".into()))), ..FakeMaster::default() });
    let outcome = run(temp.path(), "req", REQUEST, Some(failing()));
    assert_eq!(outcome.options["req"]["connection-url"], "");
    assert_eq!(outcome.error.as_deref(), Some("req: not found: No free computer partition found for: Child"));
    let outcome = run(temp.path(), "req", &REQUEST.replace(":request\n", ":requestoptional\n"), Some(failing()));
    assert_eq!(outcome.error, None);
    assert!(outcome.messages.iter().any(|m| m == "req: Optional request failed."));
    let outcome = run(temp.path(), "req", &format!("{REQUEST}config = a\n"), Some(failing()));
    assert!(outcome.error.unwrap().contains("'config' & 'sla' options are obsolete. Clean up your software release."));
}

#[test]
fn request_serialised_wraps_parameters_and_reads_json() {
    let temp = tempfile::tempdir().unwrap();
    let mut instance = answered();
    instance.connection_parameters = BTreeMap::from([("_".into(), "{\"url\": \"u\", \"missing\": 3}".into())]);
    let master = Arc::new(FakeMaster { request: Some(Ok(instance)), ..FakeMaster::default() });
    let outcome = run(temp.path(), "req", &REQUEST.replace(":request\n", ":request.serialised\n"), Some(Arc::clone(&master)));
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.options["req"]["connection-missing"], "!py!3");
    assert_eq!(outcome.options["req"]["connection-url"], "u");
    assert!(master.calls.lock().unwrap()[0].contains("parameters: {\"_\": \"{\\\"a\\\": \\\"1\\\"}\"}"));
}

#[test]
fn publish_sends_options_extends_and_shared_reference() {
    let temp = tempfile::tempdir().unwrap();
    let profile = "[pub]\nrecipe = slapos.cookbook:publish\nurl = http://x/\n-extends = more\n-slave-reference = SHARED-1\n\n[more]\npassword = p\n-hidden = 1\n";
    let master = Arc::new(FakeMaster::default());
    let outcome = run(temp.path(), "pub", profile, Some(Arc::clone(&master)));
    assert_eq!(outcome.error, None);
    assert_eq!(*master.calls.lock().unwrap(), ["publish slappart3 {\"password\": \"p\", \"url\": \"http://x/\"} Some(\"SHARED-1\")"]);
    let master = Arc::new(FakeMaster::default());
    let outcome = run(temp.path(), "pub", "[pub]\nrecipe = slapos.cookbook:publish.serialised\nb = 2\na = 1\n", Some(Arc::clone(&master)));
    assert_eq!(outcome.error, None);
    assert_eq!(*master.calls.lock().unwrap(), ["publish slappart3 {\"_\": \"{\\\"a\\\": \\\"1\\\", \\\"b\\\": \\\"2\\\"}\"} None"]);
}

const PUBLISH_EARLY: &str = "[publish-early]\nrecipe = slapos.cookbook:publish-early\n-init =\n  password gen-password:passwd\n  token gen-token:value\n  forced gen-forced:value\nforced = z\n\n[gen-password]\nrecipe = slapos.cookbook:generate.password\nstorage-path =\n\n[gen-token]\nvalue = initial-token\n\n[gen-forced]\nvalue = ignored\n\n[pub]\nrecipe = slapos.cookbook:publish\n-extends = publish-early\nurl = http://x/\n";

#[test]
fn publish_early_publishes_new_values_at_once_and_hides_them() {
    let temp = tempfile::tempdir().unwrap();
    let master = Arc::new(FakeMaster::default());
    let outcome = run(temp.path(), "publish-early pub", PUBLISH_EARLY, Some(Arc::clone(&master)));
    assert_eq!(outcome.error, None);
    let early = &outcome.options["publish-early"];
    let password = early["password"].clone();
    assert_eq!(password.len(), 16);
    assert_eq!(early["token"], "initial-token");
    assert_eq!(early["forced"], "z");
    assert_eq!(early["-publish"], "forced password token");
    assert!(!outcome.options["gen-password"].contains_key("passwd"));
    let volatile: Vec<&str> = outcome.volatile["publish-early"].iter().map(String::as_str).collect();
    assert_eq!(volatile, ["-publish", "password", "token"]);
    let early_json = format!("{{\"password\": \"{password}\", \"token\": \"initial-token\"}}");
    assert_eq!(
        *master.calls.lock().unwrap(),
        [
            "published slappart3".to_owned(),
            format!("publish slappart3 {:?} None", BTreeMap::from([("_", early_json)])),
            format!("publish slappart3 {{\"forced\": \"z\", \"password\": \"{password}\", \"token\": \"initial-token\", \"url\": \"http://x/\"}} None"),
        ]
    );
}

#[test]
fn publish_early_presets_published_values_and_republishes_nothing_early() {
    let temp = tempfile::tempdir().unwrap();
    let published = BTreeMap::from([("_".to_owned(), "{\"password\": \"kept-pw\", \"token\": \"kept-token\"}".to_owned())]);
    let master = Arc::new(FakeMaster { published, ..FakeMaster::default() });
    let outcome = run(temp.path(), "publish-early pub", PUBLISH_EARLY, Some(Arc::clone(&master)));
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.options["publish-early"]["password"], "kept-pw");
    assert_eq!(outcome.options["publish-early"]["token"], "kept-token");
    assert_eq!(
        *master.calls.lock().unwrap(),
        [
            "published slappart3",
            "publish slappart3 {\"forced\": \"z\", \"password\": \"kept-pw\", \"token\": \"kept-token\", \"url\": \"http://x/\"} None",
        ]
    );
}

#[test]
fn publish_early_rejects_a_bad_init_line() {
    let temp = tempfile::tempdir().unwrap();
    let profile = "[publish-early]\nrecipe = slapos.cookbook:publish-early\n-init = password\n";
    let outcome = run(temp.path(), "publish-early", profile, Some(Arc::new(FakeMaster::default())));
    assert!(outcome.error.unwrap().contains("bad -init line 'password'"));
}

#[test]
fn master_recipes_are_absent_without_a_connection() {
    let temp = tempfile::tempdir().unwrap();
    let outcome = run(temp.path(), "slap-configuration", SLAP_CONFIGURATION, None);
    assert!(outcome.error.unwrap().contains("slapos.cookbook:slapconfiguration"));
}

#[test]
fn generate_password_keeps_the_password_and_records_none() {
    let temp = tempfile::tempdir().unwrap();
    let profile = format!("[pw]\nrecipe = slapos.cookbook:generate.password\nstorage-path = {}/pw\nbytes = 20\n", temp.path().display());
    let first = run(temp.path(), "pw", &profile, None);
    assert_eq!(first.error, None);
    let password = first.options["pw"]["passwd"].clone();
    assert_eq!(password.len(), 20);
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(std::fs::read_to_string(temp.path().join("pw")).unwrap(), format!("{{\"\": \"{password}\"}}"));
    assert!(first.volatile["pw"].contains("passwd"));
    let second = run(temp.path(), "pw", &profile, None);
    assert_eq!(second.options["pw"]["passwd"], password);
    assert!(second.volatile["pw"].contains("passwd"));
    std::fs::write(temp.path().join("pw"), "plain-old\n").unwrap();
    let third = run(temp.path(), "pw", &profile, None);
    assert_eq!(third.options["pw"]["passwd"], "plain-old");
}

#[test]
fn free_port_picks_a_free_port_and_keeps_it() {
    let temp = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    let profile = format!("[port]\nrecipe = slapos.cookbook:free_port\nip = 127.0.0.1\nminimum = {busy_port}\nmaximum = {}\n", u32::from(busy_port) + 50);
    let outcome = run(temp.path(), "port", &profile, None);
    assert_eq!(outcome.error, None);
    let port: u16 = outcome.options["port"]["port"].parse().unwrap();
    assert!(port > busy_port && u32::from(port) < u32::from(busy_port) + 50);
    std::fs::write(temp.path().join(".installed.cfg"), "[buildout]\nparts = port\n\n[port]\n__buildout_installed__ = \nport = 4321\n").unwrap();
    let outcome = run(temp.path(), "port", &profile, None);
    assert_eq!(outcome.options["port"]["port"], "4321");
    let outcome = run(temp.path(), "other", "[other]\nrecipe = slapos.cookbook:free_port\nip = not-an-ip\n", None);
    assert_eq!(outcome.options["other"]["port"], "0");
}

#[test]
fn files_recipes_lay_out_directories_links_and_cron_entries() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().display().to_string();
    let profile = format!(
        "[dirs]\nrecipe = slapos.cookbook:mkdirectory\netc = {dir}/etc\ncron = {dir}/etc/cron.d\nbin = {dir}/bin\nmode = 0750\n\n[link]\nrecipe = slapos.cookbook:symbolic.link\ntarget-directory = ${{dirs:bin}}\nlink-binary = /bin/sh /usr/bin/env\n\n[cron]\nrecipe = slapos.cookbook:cron.d\ncron-entries = ${{dirs:cron}}\nname = backup\ntime = Mon 10:00\ncommand = /bin/backup\n"
    );
    let outcome = run(temp.path(), "dirs link cron", &profile, None);
    assert_eq!(outcome.error, None);
    assert!(temp.path().join("etc/cron.d").is_dir());
    assert_eq!(std::fs::read_link(temp.path().join("bin/sh")).unwrap(), Path::new("/bin/sh"));
    assert_eq!(std::fs::read_to_string(temp.path().join("etc/cron.d/backup")).unwrap(), "00 10 * * 1 /bin/backup\n");
}

#[test]
fn switch_softwaretype_selects_and_reports_missing_lifecycle() {
    let temp = tempfile::tempdir().unwrap();
    let master = Arc::new(FakeMaster { partition: partition(), ..FakeMaster::default() });
    let profile = format!("{SLAP_CONFIGURATION}\n[profile]\nrendered = /r/default.cfg\n\n[switch]\nrecipe = slapos.cookbook:switch-softwaretype\ndefault = profile:rendered\n");
    let outcome = run(temp.path(), "switch", &profile, Some(Arc::clone(&master)));
    assert!(outcome.error.unwrap().contains("installing the nested profile /r/default.cfg (record .installed-switch.cfg) needs the part lifecycle"));
    let profile = format!("{SLAP_CONFIGURATION}\n[switch]\nrecipe = slapos.cookbook:switch-softwaretype\nother = x:y\n");
    let outcome = run(temp.path(), "switch", &profile, Some(master));
    assert!(outcome.error.unwrap().contains("This software type (default) isn't mapped. 'default' is the default software type."));
}
