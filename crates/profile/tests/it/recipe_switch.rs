//! `slapos.cookbook:switch-softwaretype` through `lifecycle::install`: a
//! parent profile with `slapconfiguration` (answered by a fake master
//! whose software type each test picks) and a switch part mapping two
//! software types to instance profiles, one written by the test, one
//! rendered by a `slapos.recipe.template` part. The nested installs use
//! `slapos.recipe.build:mkdirectory`, `plone.recipe.command` and
//! `slapos.recipe.template` parts that make files, so each test reads
//! what was installed, the nested record `.installed-switch.cfg`, and the
//! buildout-style lines of both runs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use profile::lifecycle::{self, InstallFailure, InstallReport, InstalledRecord};

use super::lifecycle::Lines;
use profile::recipe::cookbook::{
    InstanceRequest, PartitionInformation, RequestedInstance, SlapConnection, SlapConnectionInfo, SlapError,
};
use profile::recipe::{self, Environment, NoProgress};
use profile::NoFetch;
use serde_json::json;

use crate::cases::options;

/// A master whose partition has the given software type; counts the
/// partition queries (the nested buildout must not make any).
struct TypedMaster {
    software_type: String,
    queries: Mutex<usize>,
}

impl SlapConnection for TypedMaster {
    fn partition(&self, _connection: &SlapConnectionInfo) -> Result<PartitionInformation, SlapError> {
        *self.queries.lock().expect("no test thread panicked holding it") += 1;
        let parameters = json!({
            "foo": "bar",
            "ip_list": [["tap0", "fe80::1"]],
            "slap_software_type": self.software_type,
            "slap_computer_partition_id": "slappart3",
            "slap_computer_id": "COMP-1",
            "slap_software_release_url": "http://sr/software.cfg",
            "instance_title": "My Instance",
        });
        let parameters = parameters.as_object().expect("an object literal").clone().into_iter().collect();
        Ok(PartitionInformation { state: "started".into(), instance_guid: "COMP-1-slappart3".into(), parameters })
    }

    fn request(&self, _connection: &SlapConnectionInfo, _request: &InstanceRequest) -> Result<RequestedInstance, SlapError> {
        Err(SlapError::Other("no request in these tests".into()))
    }

    fn set_connection_parameters(&self, _: &SlapConnectionInfo, _: &BTreeMap<String, String>, _: Option<&str>) -> Result<(), SlapError> {
        Ok(())
    }

    fn report_error(&self, _: &SlapConnectionInfo, _: &str, _: Option<&str>) -> Result<(), SlapError> {
        Ok(())
    }
}

/// The `default` instance profile: a directory, and a file whose text
/// shows inherited values (`offline` and `directory` of the parent's
/// `[buildout]`, `[slap-connection]`, `[slap-configuration]` with a `!py!`
/// value).
const DEFAULT_PROFILE: &str = "[buildout]
parts = directories marker

[directories]
recipe = slapos.recipe.build:mkdirectory
etc = ${buildout:directory}/etc

[marker]
recipe = plone.recipe.command
location = ${directories:etc}/default.txt
command = echo \"${slap-configuration:configuration.foo} ${slap-connection:computer-id} ${slap-configuration:ipv6} offline=${buildout:offline} version=1\" > ${:location}
stop-on-error = true
";

/// The `other` instance profile, as a template: `$${` becomes `${` when
/// the parent's template part renders it.
const OTHER_TEMPLATE: &str = "[buildout]
parts = config

[config]
recipe = slapos.recipe.template
inline = type=$${slap-configuration:slap-software-type} title=$${slap-configuration:instance-title}
output = $${buildout:directory}/etc/other.conf
";

const SLAP_SECTIONS: &str = "[slap-connection]
computer-id = COMP-1
partition-id = slappart3
server-url = http://master/
software-release-url = http://sr/software.cfg
key-file = /k
cert-file = /c

[slap-configuration]
recipe = slapos.cookbook:slapconfiguration
computer = ${slap-connection:computer-id}
partition = ${slap-connection:partition-id}
url = ${slap-connection:server-url}
key = ${slap-connection:key-file}
cert = ${slap-connection:cert-file}
";

/// A partition directory; the instance profiles live in `profiles/`, so
/// that a nested run not inheriting `directory` would work there.
struct Partition {
    root: tempfile::TempDir,
}

impl Partition {
    fn new() -> Partition {
        let partition = Partition { root: tempfile::tempdir().expect("temp dir") };
        std::fs::create_dir(partition.path("profiles")).expect("profiles directory");
        partition.write("profiles/instance-default.cfg", DEFAULT_PROFILE);
        partition.write("profiles/instance-other.cfg.in", OTHER_TEMPLATE);
        partition
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).expect("file written");
    }

    fn read(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.path(name)).ok()
    }

    /// Writes the parent profile, its switch part having `switch_extra`
    /// lines, and installs it for a partition of `software_type`.
    fn run(&self, software_type: &str, switch_extra: &str) -> Run {
        let profiles = self.path("profiles").display().to_string();
        self.write(
            "buildout.cfg",
            &format!(
                "[buildout]\nparts = switch\noffline = true\n\n{SLAP_SECTIONS}\n\
                 [instance-default]\nrendered = {profiles}/instance-default.cfg\n\n\
                 [instance-other]\nrecipe = slapos.recipe.template\nurl = {profiles}/instance-other.cfg.in\noutput = {profiles}/instance-other.cfg\n\n\
                 [switch]\nrecipe = slapos.cookbook:switch-softwaretype\ndefault = instance-default:rendered\nother = instance-other:output\n{switch_extra}"
            ),
        );
        let mut load = options();
        load.cwd = Some(self.root.path().to_path_buf());
        let profile = profile::load_file(&self.path("buildout.cfg"), &load).expect("parent profile loads");
        let master = Arc::new(TypedMaster { software_type: software_type.to_owned(), queries: Mutex::new(0) });
        let mut recipes = recipe::builtin();
        profile::recipe::cookbook::register(&mut recipes, Arc::clone(&master) as Arc<dyn SlapConnection>);
        let environment = Environment { fetch: &NoFetch, progress: &NoProgress };
        let lines = Lines::default();
        let result = lifecycle::install(&profile, &recipes, &environment, &lines);
        let queries = *master.queries.lock().expect("no test thread panicked holding it");
        Run { result, lines: lines.0.into_inner(), queries }
    }

    /// The nested record.
    fn nested_record(&self) -> InstalledRecord {
        let text = self.read(".installed-switch.cfg").expect("the nested record exists");
        InstalledRecord::parse(&text, ".installed-switch.cfg").expect("the nested record parses")
    }
}

struct Run {
    result: Result<InstallReport, InstallFailure>,
    lines: Vec<String>,
    queries: usize,
}

impl Run {
    fn report(self) -> (InstallReport, Vec<String>) {
        assert_eq!(self.queries, 1, "only the parent queries the master");
        match self.result {
            Ok(report) => (report, self.lines),
            Err(failure) => panic!("install failed: {failure}\n{:?}", self.lines),
        }
    }

    fn failure(self) -> String {
        match self.result {
            Ok(report) => panic!("install succeeded: {report:?}"),
            Err(failure) => {
                assert_eq!(failure.error.part(), Some("switch"));
                failure.to_string()
            }
        }
    }
}

fn lines(expected: &[&str]) -> Vec<String> {
    expected.iter().map(|line| (*line).to_owned()).collect()
}

#[test]
fn software_type_selects_the_profile_installed_with_inherited_sections() {
    let partition = Partition::new();
    let (report, run_lines) = partition.run("default", "").report();
    assert_eq!(report.installed, ["slap-configuration", "switch"]);
    assert_eq!(
        run_lines,
        lines(&[
            "Installing slap-configuration.",
            "Installing switch.",
            "Installing directories.",
            "Installing slap-configuration.",
            "Installing marker.",
        ])
    );
    assert_eq!(partition.read("etc/default.txt").as_deref(), Some("bar COMP-1 !py!{'fe80::1'} offline=true version=1\n"));
    assert_eq!(partition.read("profiles/instance-other.cfg"), None, "the other profile is not even rendered");
    assert!(!partition.path("profiles/etc").exists(), "the nested run inherits the parent's directory");
    let record = partition.nested_record();
    assert_eq!(record.parts, ["directories", "slap-configuration", "marker"]);
    let configuration = &record.sections["slap-configuration"];
    assert_eq!(configuration["slap-software-type"], "default");
    assert_eq!(configuration["ipv6"], "!py!{'fe80::1'}");
    assert_eq!(configuration["computer"], "COMP-1");
    assert_eq!(configuration["recipe"], "slapos.cookbook:slapconfiguration", "the parent's values, its recipe included");
    let parent = std::fs::read_to_string(partition.path(".installed.cfg")).expect("the parent record exists");
    assert!(parent.contains("parts = slap-configuration switch"), "{parent}");
}

#[test]
fn rerun_updates_the_nested_parts_and_reinstalls_changed_ones() {
    let partition = Partition::new();
    partition.run("default", "").report();
    let (report, run_lines) = partition.run("default", "").report();
    assert_eq!(report.updated, ["slap-configuration", "switch"]);
    assert_eq!(
        run_lines,
        lines(&["Updating slap-configuration.", "Updating switch.", "Updating directories.", "Updating slap-configuration.", "Updating marker."])
    );
    partition.write("profiles/instance-default.cfg", &DEFAULT_PROFILE.replace("version=1", "version=2"));
    let (report, run_lines) = partition.run("default", "").report();
    assert_eq!(report.updated, ["slap-configuration", "switch"], "the switch part itself did not change");
    assert_eq!(
        run_lines,
        lines(&[
            "Updating slap-configuration.",
            "Updating switch.",
            "Uninstalling marker.",
            "Updating directories.",
            "Updating slap-configuration.",
            "Installing marker.",
        ])
    );
    assert_eq!(partition.read("etc/default.txt").as_deref(), Some("bar COMP-1 !py!{'fe80::1'} offline=true version=2\n"));
}

#[test]
fn a_new_software_type_switches_profiles_and_uninstalls_the_old_parts() {
    let partition = Partition::new();
    partition.run("default", "").report();
    assert!(partition.path("etc/default.txt").exists());
    let (report, run_lines) = partition.run("other", "").report();
    assert_eq!(report.installed, ["slap-configuration", "instance-other", "switch"], "the new type changed slap-configuration");
    assert!(run_lines.contains(&"Uninstalling marker.".to_owned()), "{run_lines:?}");
    assert!(run_lines.contains(&"Uninstalling directories.".to_owned()), "{run_lines:?}");
    assert!(!partition.path("etc/default.txt").exists(), "the old marker's file is removed");
    assert_eq!(partition.read("etc/other.conf").as_deref(), Some("type=other title=My Instance"));
    let record = partition.nested_record();
    assert_eq!(record.parts, ["slap-configuration", "config"]);
    assert_eq!(record.sections["slap-configuration"]["slap-software-type"], "other");
}

#[test]
fn root_software_instance_falls_back_to_default() {
    let partition = Partition::new();
    partition.run("RootSoftwareInstance", "").report();
    assert!(partition.path("etc/default.txt").exists());
    let record = partition.nested_record();
    assert_eq!(record.sections["slap-configuration"]["slap-software-type"], "RootSoftwareInstance");
}

#[test]
fn override_installs_a_profile_extending_the_selected_one() {
    let partition = Partition::new();
    partition.write("profiles/override.cfg", "[directories]\nextra = ${buildout:directory}/srv-override\n");
    let override_option = format!("override = !py!{{'default': '{}'}}\n", partition.path("profiles/override.cfg").display());
    partition.run("default", &override_option).report();
    assert!(partition.path("srv-override").is_dir(), "the override's option is merged");
    assert!(partition.path("etc/default.txt").exists(), "the selected profile's parts are installed");
    let record = partition.nested_record();
    assert!(record.sections["directories"].contains_key("extra"));
    let partition = Partition::new();
    let other_only = "override = !py!{'other': '/nonexistent.cfg'}\n";
    partition.run("default", other_only).report();
    assert!(!partition.path("srv-override").exists());
}

#[test]
fn nested_errors_name_the_nested_profile_and_part() {
    let partition = Partition::new();
    let broken = DEFAULT_PROFILE.replace("parts = directories marker", "parts = directories broken marker")
        + "\n[broken]\nrecipe = plone.recipe.command\ncommand = exit 3\nstop-on-error = true\n";
    partition.write("profiles/instance-default.cfg", &broken);
    let run = partition.run("default", "");
    assert_eq!(run.lines.last().map(String::as_str), Some("Installing broken."));
    let message = run.failure();
    let nested = partition.path("profiles/instance-default.cfg").display().to_string();
    assert!(message.starts_with(&format!("cannot install part switch: nested profile {nested} (record .installed-switch.cfg): cannot install part broken: ")), "{message}");
    assert_eq!(partition.nested_record().parts, ["directories"], "what completed stays recorded");
    partition.write("profiles/instance-default.cfg", "[buildout]\nparts = missing\n");
    let message = partition.run("default", "").failure();
    assert!(message.contains(&format!("nested profile {nested} (record .installed-switch.cfg): ")), "{message}");
    assert!(message.contains("missing"), "{message}");
}

#[test]
fn a_profile_switching_to_itself_stops_with_a_recursion_error() {
    let partition = Partition::new();
    let looping = format!(
        "[buildout]\nparts = switch\n\n[self]\nrendered = {}\n\n[switch]\nrecipe = slapos.cookbook:switch-softwaretype\ndefault = self:rendered\n",
        partition.path("profiles/instance-default.cfg").display()
    );
    partition.write("profiles/instance-default.cfg", &looping);
    let message = partition.run("default", "").failure();
    assert_eq!(message.matches("nested profile").count(), lifecycle::MAX_NESTED_DEPTH + 1, "{message}");
    assert!(message.ends_with("maximum recursion depth exceeded while calling a Python object"), "{message}");
}
