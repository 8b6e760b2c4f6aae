//! The whole order, end to end, with our binaries only: `slapos proxy
//! start` (the master), `slapos node format` (two partitions, no users or
//! addresses changed), `slapos supply` and `slapos request` of a small
//! software release written by the test, `slapos node software` (the
//! release built by the profile engine), `slapos node instance` (the
//! instance profile deployed: `slapconfiguration` reads the request's
//! parameter from the master, a service is handed to the supervisor,
//! `publish` sends connection parameters), then the requester sees them and
//! `slapos node status` shows the service RUNNING. The supervisor daemon
//! and its service are stopped at the end, even when the test fails.
//!
//! As root (CI), the node does what a root node does: one unix user per
//! partition (named uniquely for the test and deleted at the end), the
//! services running as those users.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::fixture::{SlapProxy, TempDir, COMPUTER};
use crate::{slapos, Run};

/// The release: its buildout writes `instance.cfg`, the instance profile
/// (`$${` stays `${` in it).
const SOFTWARE_CFG: &str = r#"[buildout]
parts = instance-profile

[instance-profile]
recipe = slapos.recipe.template
output = ${buildout:directory}/instance.cfg
inline =
  [buildout]
  parts = service publish

  [slap-configuration]
  recipe = slapos.cookbook:slapconfiguration
  computer = $${slap-connection:computer-id}
  partition = $${slap-connection:partition-id}
  url = $${slap-connection:server-url}
  key = $${slap-connection:key-file}
  cert = $${slap-connection:cert-file}

  [directory]
  recipe = slapos.cookbook:mkdirectory
  etc = $${buildout:directory}/etc
  service = $${:etc}/service

  [service]
  recipe = slapos.cookbook:wrapper
  command-line = /bin/sh -c 'echo serving; exec sleep 600'
  wrapper-path = $${directory:service}/sleeper

  [publish]
  recipe = slapos.cookbook:publish
  greeting = hello $${slap-configuration:configuration.name}
"#;

/// Stops the supervisor daemon (and so the service) however the test ends.
struct Supervision {
    node_cfg: PathBuf,
    client_cfg: PathBuf,
}

impl Drop for Supervision {
    fn drop(&mut self) {
        let shutdown = slapos(&self.client_cfg, &["node", "supervisord", "--cfg", &self.node_cfg.to_string_lossy(), "--shutdown"]);
        if shutdown.code != 0 {
            eprintln!("stopping the supervisor failed: {shutdown:?}");
        }
    }
}

/// Unix users and groups `format` created as root, deleted at the end.
struct Users(Vec<String>);

impl Drop for Users {
    fn drop(&mut self) {
        for name in &self.0 {
            for (program, arguments) in [("userdel", [name.as_str()]), ("groupdel", [name.as_str()])] {
                let _ = std::process::Command::new(program).args(arguments).stderr(std::process::Stdio::null()).status();
            }
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| status.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
}

/// Runs `slapos ARGS` until `done` accepts the run or `deadline` passes.
fn until(client_cfg: &Path, args: &[&str], deadline: Duration, done: impl Fn(&Run) -> bool) -> Run {
    let started = Instant::now();
    loop {
        let run = slapos(client_cfg, args);
        if done(&run) || started.elapsed() > deadline {
            return run;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_ordered_service_is_built_deployed_supervised_and_publishes() {
    let proxy = SlapProxy::start_program(Path::new(env!("CARGO_BIN_EXE_slapos")));
    let dir = TempDir::new("node-e2e");
    let root = dir.path();
    let software_cfg = root.join("software.cfg");
    write(&software_cfg, SOFTWARE_CFG);
    let client_cfg = root.join("slapos-client.cfg");
    write(&client_cfg, &format!("[slapos]\nmaster_url = {}\n", proxy.url()));
    let as_root = is_root();
    let prefix = format!("e2e{}", std::process::id() % 100_000);
    let _users = Users(if as_root { vec![format!("{prefix}u0"), format!("{prefix}u1"), format!("{prefix}s")] } else { Vec::new() });
    let node_cfg = root.join("slapos.cfg");
    write(
        &node_cfg,
        &format!(
            "[slapos]\ncomputer_id = {COMPUTER}\nmaster_url = {}\nsoftware_root = {root}/soft\ninstance_root = {root}/inst\n\n\
             [slapformat]\npartition_amount = 2\nalter_user = {as_root}\nalter_network = false\ninterface_name = lo\n\
             user_base_name = {prefix}u\nsoftware_user = {prefix}s\ncomputer_xml = {root}/slapos.xml\n",
            proxy.url(),
            root = root.display()
        ),
    );
    let cfg = node_cfg.to_string_lossy().into_owned();
    let software = software_cfg.to_string_lossy().into_owned();
    let _supervision = Supervision { node_cfg: node_cfg.clone(), client_cfg: client_cfg.clone() };

    slapos(&client_cfg, &["node", "format", "--cfg", &cfg]).assert_success();
    slapos(&client_cfg, &["supply", &software, COMPUTER]).assert_success();
    let first = slapos(&client_cfg, &["request", "e2e-service", &software, "--parameters", "name=world", "--timeout", "0"]);
    assert_ne!(first.stdout, "", "the first request answers: {first:?}");

    let built = slapos(&client_cfg, &["node", "software", "--cfg", &cfg]);
    built.assert_success();
    let release = root.join("soft").join(node::software::url_hash(&software));
    assert!(release.join(".completed").is_file(), "no .completed after {built:?}");
    assert!(release.join("instance.cfg").is_file(), "the release wrote no instance.cfg: {built:?}");

    let deployed = slapos(&client_cfg, &["node", "instance", "--cfg", &cfg]);
    let supervisor_log = std::fs::read_to_string(root.join("inst/supervisord.log")).unwrap_or_default();
    assert_eq!(deployed.code, 0, "{deployed:?}\nsupervisor log:\n{supervisor_log}");
    assert!(deployed.stdout.contains("slappart0: started"), "{deployed:?}");
    let partition = root.join("inst/slappart0");
    assert!(partition.join("etc/service/sleeper").is_file(), "no service wrapper: {deployed:?}");
    assert!(partition.join(".timestamp").is_file(), "no .timestamp after success");

    let answered = until(&client_cfg, &["request", "e2e-service", &software, "--parameters", "name=world", "--json"], Duration::from_secs(10), |run| {
        run.stdout.contains("hello world")
    });
    assert!(answered.stdout.contains("hello world"), "the requester never saw the connection parameters: {answered:?}");

    let status = until(&client_cfg, &["node", "status", "--cfg", &cfg], Duration::from_secs(10), |run| {
        run.stdout.contains("RUNNING")
    });
    assert!(status.stdout.contains("slappart0:sleeper-on-watch") && status.stdout.contains("RUNNING"), "{status:?}");

    let again = slapos(&client_cfg, &["node", "instance", "--cfg", &cfg]);
    again.assert_success();
    assert!(again.stdout.contains("slappart0: up to date"), "a second run redeployed: {again:?}");
    drop(proxy);
}
