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
//! A second test runs the long-lived agent (`slapos node run`) instead of
//! one-shot runs, kills the master for a while (the service keeps
//! running), restarts it and orders a second instance, which the agent
//! deploys once the master answers again.
//!
//! As root (CI), the node does what a root node does: one unix user per
//! partition (named uniquely for the test and deleted at the end), the
//! services running as those users.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::fixture::{free_port, SlapProxy, TempDir, COMPUTER};
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
  parts = service promise publish

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
  promise = $${:etc}/promise

  [service]
  recipe = slapos.cookbook:wrapper
  command-line = /bin/sh -c 'echo serving; exec sleep 600'
  wrapper-path = $${directory:service}/sleeper

  [promise]
  recipe = slapos.cookbook:wrapper
  command-line = test -x $${service:wrapper-path}
  wrapper-path = $${directory:promise}/service-installed

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

/// A node's files and guards, on a master at `master_url`. Fields drop in
/// order: the supervisor stops first, then the users go, then the files.
struct Node {
    _supervision: Supervision,
    _users: Users,
    client_cfg: PathBuf,
    node_cfg: PathBuf,
    software: String,
    dir: TempDir,
}

impl Node {
    fn new(name: &str, master_url: &str) -> Node {
        let dir = TempDir::new(name);
        let root = dir.path().to_path_buf();
        let software_cfg = root.join("software.cfg");
        write(&software_cfg, SOFTWARE_CFG);
        let client_cfg = root.join("slapos-client.cfg");
        write(&client_cfg, &format!("[slapos]\nmaster_url = {master_url}\n"));
        let as_root = is_root();
        let prefix = format!("e2e{}{}", std::process::id() % 100_000, &name[..1]);
        let users = Users(if as_root { vec![format!("{prefix}u0"), format!("{prefix}u1"), format!("{prefix}s")] } else { Vec::new() });
        let node_cfg = root.join("slapos.cfg");
        write(
            &node_cfg,
            &format!(
                "[slapos]\ncomputer_id = {COMPUTER}\nmaster_url = {master_url}\nsoftware_root = {root}/soft\ninstance_root = {root}/inst\n\n\
                 [slapformat]\npartition_amount = 2\nalter_user = {as_root}\nalter_network = false\ninterface_name = lo\n\
                 user_base_name = {prefix}u\nsoftware_user = {prefix}s\ncomputer_xml = {root}/slapos.xml\n",
                root = root.display()
            ),
        );
        Node {
            _supervision: Supervision { node_cfg: node_cfg.clone(), client_cfg: client_cfg.clone() },
            _users: users,
            client_cfg,
            node_cfg,
            software: software_cfg.to_string_lossy().into_owned(),
            dir,
        }
    }

    fn slapos(&self, args: &[&str]) -> Run {
        slapos(&self.client_cfg, args)
    }

    /// `slapos node VERB --cfg <node cfg>`.
    fn node(&self, verb: &str) -> Run {
        self.slapos(&["node", verb, "--cfg", &self.node_cfg.to_string_lossy()])
    }

    /// Re-requests `title` (parameter `name`) until it publishes its
    /// greeting, `hello <name>`.
    fn wait_published(&self, title: &str, name: &str, deadline: Duration) -> Run {
        let (parameter, greeting) = (format!("name={name}"), format!("hello {name}"));
        until(&self.client_cfg, &["request", title, &self.software, "--parameters", &parameter, "--json"], deadline, |run| {
            run.stdout.contains(&greeting)
        })
    }
}

#[test]
fn an_ordered_service_is_built_deployed_supervised_and_publishes() {
    let proxy = SlapProxy::start_program(Path::new(env!("CARGO_BIN_EXE_slapos")));
    let node = Node::new("node-e2e", &proxy.url());
    let root = node.dir.path();
    node.node("format").assert_success();
    node.slapos(&["supply", &node.software, COMPUTER]).assert_success();
    let first = node.slapos(&["request", "e2e-service", &node.software, "--parameters", "name=world"]);
    assert_ne!(first.stdout, "", "the first request answers: {first:?}");

    let built = node.node("software");
    built.assert_success();
    let release = root.join("soft").join(node::software::url_hash(&node.software));
    assert!(release.join(".completed").is_file(), "no .completed after {built:?}");
    assert!(release.join("instance.cfg").is_file(), "the release wrote no instance.cfg: {built:?}");
    if is_root() {
        // A root node builds releases as the software user format made.
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(root.join("soft")).expect("software root").uid();
        let built_by = std::fs::metadata(release.join("instance.cfg")).expect("instance.cfg").uid();
        assert!(owner != 0 && built_by == owner, "the release was built by uid {built_by}, software_root belongs to {owner}");
    }

    // A second instance run while one holds the loop's lock is refused as
    // the real node refuses it: exit status 10.
    let held = node::lock::LoopLock::acquire(&root.join("inst/.slapgrid-cp.lock")).expect("the instance lock");
    let refused = node.node("instance");
    assert_eq!(refused.code, 10, "{refused:?}");
    assert!(refused.stderr.contains(&format!("another slapos process is aleady running with pid {}", std::process::id())), "{refused:?}");
    drop(held);

    let deployed = node.node("instance");
    let supervisor_log = std::fs::read_to_string(root.join("inst/supervisord.log")).unwrap_or_default();
    assert_eq!(deployed.code, 0, "{deployed:?}\nsupervisor log:\n{supervisor_log}");
    assert!(deployed.stdout.contains("slappart0: started"), "{deployed:?}");
    let partition = root.join("inst/slappart0");
    assert!(partition.join("etc/service/sleeper").is_file(), "no service wrapper: {deployed:?}");
    assert!(partition.join(".timestamp").is_file(), "no .timestamp after success");
    if is_root() {
        // A root node runs the instance profile as the partition user.
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(&partition).expect("partition").uid();
        let wrapper = std::fs::metadata(partition.join("etc/service/sleeper")).expect("wrapper").uid();
        assert!(owner != 0 && wrapper == owner, "the profile ran as uid {wrapper}, the partition belongs to {owner}");
    }

    let answered = node.wait_published("e2e-service", "world", Duration::from_secs(10));
    assert!(answered.stdout.contains("hello world"), "the requester never saw the connection parameters: {answered:?}");

    let status = until(&node.client_cfg, &["node", "status", "--cfg", &node.node_cfg.to_string_lossy()], Duration::from_secs(10), |run| {
        run.stdout.contains("RUNNING")
    });
    assert!(status.stdout.contains("slappart0:sleeper-on-watch") && status.stdout.contains("RUNNING"), "{status:?}");

    let again = node.node("instance");
    again.assert_success();
    assert!(again.stdout.contains("slappart0: up to date"), "a second run redeployed: {again:?}");

    // The watchdog: the watched service dies, the supervisor restarts it
    // and bangs the master as the partition; the master's new timestamp
    // makes the next instance run process the partition again.
    let status_json = node.slapos(&["--json", "node", "status", "--cfg", &node.node_cfg.to_string_lossy()]);
    let pid = status_json.json()[0]["pid"].as_i64().unwrap_or_else(|| panic!("no pid in {status_json:?}"));
    // SAFETY: kill(2) has no memory effects; the pid is the service this test started.
    assert_eq!(unsafe { libc::kill(i32::try_from(pid).expect("a pid"), libc::SIGKILL) }, 0, "cannot kill the service");
    let banged = partition.join(".slapos_latest_bang_timestamp");
    let started = Instant::now();
    while !banged.exists() {
        assert!(started.elapsed() < Duration::from_secs(30), "no bang recorded after the service died");
        std::thread::sleep(Duration::from_millis(100));
    }
    let reprocessed = node.node("instance");
    reprocessed.assert_success();
    assert!(reprocessed.stdout.contains("slappart0: started"), "the bang did not make the partition reprocessed: {reprocessed:?}");

    let promised = node.node("promise");
    promised.assert_success();
    assert!(promised.stdout.contains("slappart0: promises pass"), "{promised:?}");
    let banged = node.slapos(&["node", "bang", "--cfg", &node.node_cfg.to_string_lossy(), "-m", "testing"]);
    banged.assert_success();
    assert!(banged.stdout.contains("Bang with message 'testing'"), "{banged:?}");
    let booted = node.node("boot");
    booted.assert_success();
    let after_boot = node.node("instance");
    after_boot.assert_success();
    assert!(after_boot.stdout.contains("slappart0: started"), "boot did not make the partition reprocessed: {after_boot:?}");

    let reported = node.node("report");
    reported.assert_success();
    assert!(reported.stdout.contains("slappart0: 3 movement(s)"), "usage of the running partition: {reported:?}");

    // Destruction: the instance loop stops the service, the report loop
    // wipes the partition and frees its slot on the master.
    node.slapos(&["request", "e2e-service", &node.software, "--state", "destroyed"]);
    let stopped = node.node("instance");
    stopped.assert_success();
    assert!(stopped.stdout.contains("slappart0: stopped"), "{stopped:?}");
    let status = node.node("status");
    assert!(!status.stdout.contains("slappart0:"), "the destroyed partition's service still runs: {status:?}");
    let destroyed = node.node("report");
    destroyed.assert_success();
    assert!(destroyed.stdout.contains("slappart0: destroyed"), "{destroyed:?}");
    let left: Vec<_> = std::fs::read_dir(&partition).expect("the partition directory stays").flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "the destroyed partition still holds {left:?}");
    let after = node.node("instance");
    after.assert_success();
    assert!(after.stdout.contains("slappart0: free"), "the master did not free the slot: {after:?}");
    drop(proxy);
}

/// Our master on a fixed port and database, which the test stops and
/// starts again; killed on drop.
struct Master {
    config: PathBuf,
    port: u16,
    child: Option<std::process::Child>,
}

impl Master {
    fn new(dir: &Path) -> Master {
        let port = free_port();
        let config = dir.join("master.cfg");
        write(
            &config,
            &format!(
                "[slapos]\ncomputer_id = {COMPUTER}\n[slapproxy]\nhost = 127.0.0.1\nport = {port}\ndatabase_uri = {}\n",
                dir.join("master.db").display()
            ),
        );
        Master { config, port, child: None }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn start(&mut self) {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_slapos"))
            .args(["proxy", "start", "--cfg"])
            .arg(&self.config)
            .env_remove("SLAPOS_LOG")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start our master");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "our master did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A child process killed and reaped on drop.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_agent_keeps_services_through_a_master_outage_and_catches_up() {
    let master_dir = TempDir::new("agent-master");
    let mut master = Master::new(master_dir.path());
    master.start();
    let node = Node::new("agent", &master.url());
    node.node("format").assert_success();
    node.slapos(&["supply", &node.software, COMPUTER]).assert_success();
    node.slapos(&["request", "before", &node.software, "--parameters", "name=world"]);
    let cfg = node.node_cfg.to_string_lossy().into_owned();
    let agent = std::process::Command::new(env!("CARGO_BIN_EXE_slapos"))
        .args(["node", "run", "--cfg", &cfg, "--software-period", "1", "--instance-period", "1"])
        .env("SLAPOS_CLIENT_CONFIGURATION", &node.client_cfg)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(node.dir.path().join("agent.log")).expect("agent log"))
        .spawn()
        .expect("start the agent");
    let mut agent = Killed(agent);
    let agent_log = || std::fs::read_to_string(node.dir.path().join("agent.log")).unwrap_or_default();

    let before = node.wait_published("before", "world", Duration::from_secs(60));
    assert!(before.stdout.contains("hello world"), "the agent never deployed the first instance: {before:?}\n{}", agent_log());

    master.stop();
    std::thread::sleep(Duration::from_secs(3));
    assert!(agent.0.try_wait().expect("agent status").is_none(), "the agent died with the master:\n{}", agent_log());
    let status = node.node("status");
    assert!(status.stdout.contains("RUNNING"), "the service stopped with the master: {status:?}");
    // A one-shot instance run meanwhile is offline: exit 3, services kept
    // (retried while the agent's own round holds the lock: exit 10).
    let offline = until(&node.client_cfg, &["node", "instance", "--cfg", &cfg], Duration::from_secs(20), |run| run.code != 10);
    assert_eq!(offline.code, 3, "{offline:?}");

    master.start();
    node.slapos(&["request", "after", &node.software, "--parameters", "name=again"]);
    let after = node.wait_published("after", "again", Duration::from_secs(60));
    assert!(after.stdout.contains("hello again"), "the agent did not catch up: {after:?}\n{}", agent_log());
}

#[test]
fn standalone_runs_a_master_and_a_node_in_one_process() {
    let dir = TempDir::new("standalone");
    let root = dir.path().join("root");
    let software_cfg = dir.path().join("software.cfg");
    write(&software_cfg, SOFTWARE_CFG);
    let software = software_cfg.to_string_lossy().into_owned();
    let prefix = format!("e2e{}z", std::process::id() % 100_000);
    let _users = Users(if is_root() { vec![format!("{prefix}u0"), format!("{prefix}s")] } else { Vec::new() });
    let mut standalone = std::process::Command::new(env!("CARGO_BIN_EXE_slapos"))
        .args(["standalone", "--root", &root.to_string_lossy(), "--partitions", "1", "--software-period", "1", "--instance-period", "1"])
        .args(["--user-base-name", &format!("{prefix}u"), "--software-user", &format!("{prefix}s")])
        .env_remove("SLAPOS_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("standalone.log")).expect("log"))
        .spawn()
        .expect("start slapos standalone");
    let stdout = standalone.stdout.take().expect("stdout");
    let mut standalone = Killed(standalone);
    let mut first_line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut first_line).expect("the first line");
    assert!(first_line.starts_with("slapos standalone: master on http://127.0.0.1:"), "{first_line:?}");
    let client_cfg = root.join("slapos-client.cfg");
    let node_cfg = root.join("slapos.cfg");
    let _supervision = Supervision { node_cfg: node_cfg.clone(), client_cfg: client_cfg.clone() };
    slapos(&client_cfg, &["supply", &software, "local"]).assert_success();
    let answered = until(&client_cfg, &["request", "solo", &software, "--parameters", "name=solo", "--json"], Duration::from_secs(60), |run| {
        run.stdout.contains("hello solo")
    });
    let log = std::fs::read_to_string(dir.path().join("standalone.log")).unwrap_or_default();
    assert!(answered.stdout.contains("hello solo"), "the standalone node never deployed: {answered:?}\n{log}");
    // SAFETY: kill(2) has no memory effects; the pid is the child this test started.
    unsafe { libc::kill(i32::try_from(standalone.0.id()).expect("a pid"), libc::SIGTERM) };
    let started = Instant::now();
    let status = loop {
        if let Some(status) = standalone.0.try_wait().expect("standalone status") {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "slapos standalone ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "slapos standalone ended with {status}");
}

/// A release whose build fails: the master and the operator get the
/// build's whole output, what earlier parts' commands printed included
/// (the profile runs in a child process whose output is captured).
#[test]
fn a_failed_build_reports_the_output_of_its_commands() {
    let proxy = SlapProxy::start_program(Path::new(env!("CARGO_BIN_EXE_slapos")));
    let node = Node::new("broken", &proxy.url());
    write(
        Path::new(&node.software),
        "[buildout]\nparts = chatty broken\n\n[chatty]\nrecipe = plone.recipe.command\nstop-on-error = true\n\
         command = echo visible-in-the-log\n\n[broken]\nrecipe = plone.recipe.command\nstop-on-error = true\n\
         command = exit 3\n",
    );
    node.node("format").assert_success();
    node.slapos(&["supply", &node.software, COMPUTER]).assert_success();
    let built = node.slapos(&["--json", "node", "software", "--cfg", &node.node_cfg.to_string_lossy()]);
    assert_eq!(built.code, 1, "{built:?}");
    // In the error itself (what the master gets), not merely on the
    // node's stdout.
    let error = built.json()[0]["error"].as_str().map(str::to_owned).unwrap_or_default();
    assert!(error.contains("visible-in-the-log"), "{built:?}");
    drop(proxy);
}
