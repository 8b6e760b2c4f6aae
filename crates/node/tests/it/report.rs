//! `node::report` against a real master served in process on 127.0.0.1:0:
//! a destroyed instance's partition is emptied (directory, owner and mode
//! kept, symlink targets untouched) after its `sbin/destroy` ran, and the
//! master frees its slot; the retention lock delays that; a failing
//! `sbin/destroy` keeps the files without stopping the other partitions;
//! report scripts and consumption files feed the usage journal; and the
//! measurement sees a busy process tree's CPU time and the bytes written.
//!
//! As root (CI), partition directories belong to `nobody` (65534), so the
//! scripts run as that user, as they would on a real node.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use client::{RequestResult, RequestSpec, SlapClient};
use node::config::{NodeConfig, Sections};
use node::report::{run, Destruction, ReportOptions, ReportOutcome, UsagePost};
use proto::Value;

const COMPUTER: &str = "COMP-REPORT";
const SOFTWARE: &str = "http://sr/report.cfg";
/// Every test call is bounded: a hung master or script fails the test.
const DEADLINE: Duration = Duration::from_secs(120);
/// The partition user when the tests run as root.
const NOBODY: u32 = 65534;

/// A master on loopback with a formatted compute node, and a node root.
struct Fixture {
    dir: tempfile::TempDir,
    client: SlapClient,
    _master: crate::master::MasterGuard,
}

impl Fixture {
    async fn new(partitions: usize) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        // Partition users must reach their directories and scripts.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        let (client, master) = crate::master::start(dir.path(), COMPUTER).await;
        let slots: Vec<Value> = (0..partitions)
            .map(|index| {
                Value::dict_from([
                    ("reference", Value::str(format!("slappart{index}"))),
                    ("address_list", Value::List(Vec::new())),
                    ("tap", Value::dict_from([("name", Value::str(format!("slaptap{index}")))])),
                ])
            })
            .collect();
        let description = Value::dict_from([
            ("reference", Value::str(COMPUTER)),
            ("address", Value::str("10.0.0.1")),
            ("netmask", Value::str("255.255.255.0")),
            ("partition_list", Value::List(slots)),
        ]);
        client.load_computer_configuration(&description).await.expect("format the compute node");
        std::fs::create_dir_all(dir.path().join("srv")).expect("instance root");
        std::fs::create_dir_all(dir.path().join("outside")).expect("outside folder");
        std::fs::set_permissions(dir.path().join("outside"), std::fs::Permissions::from_mode(0o777)).expect("chmod outside");
        Fixture { dir, client, _master: master }
    }

    fn config(&self) -> NodeConfig {
        let slapos = BTreeMap::from([
            ("computer_id".to_owned(), COMPUTER.to_owned()),
            ("master_url".to_owned(), self.client.master_url().to_string()),
            ("software_root".to_owned(), self.dir.path().join("opt").display().to_string()),
            ("instance_root".to_owned(), self.instance_root().display().to_string()),
        ]);
        let sections: Sections = BTreeMap::from([("slapos".to_owned(), slapos)]);
        NodeConfig::from_sections(&sections).expect("node config")
    }

    fn instance_root(&self) -> PathBuf {
        self.dir.path().join("srv")
    }

    fn outside(&self) -> PathBuf {
        self.dir.path().join("outside")
    }

    /// Orders `title` (or changes its state); the partition it got.
    async fn request(&self, title: &str, state: Option<&str>) -> String {
        let mut spec = RequestSpec::new(SOFTWARE, title);
        spec.sla = Value::dict_from([("computer_guid", Value::str(COMPUTER))]);
        spec.state = state.map(str::to_owned);
        match self.client.request(&spec).await.expect("request") {
            RequestResult::Ready(instance) => instance.partition_id,
            RequestResult::NotReady => panic!("{title} not allocated"),
        }
    }

    /// A deployed-looking partition: files, a folder, a symlink to a file
    /// outside, and optionally a `sbin/destroy` script.
    fn partition(&self, partition: &str, destroy_script: Option<&str>) -> PathBuf {
        let directory = self.instance_root().join(partition);
        std::fs::create_dir_all(directory.join("srv/data")).expect("partition folders");
        std::fs::create_dir_all(directory.join("sbin")).expect("sbin");
        std::fs::write(directory.join("srv/data/file"), vec![b'x'; 100_000]).expect("data file");
        std::fs::write(directory.join(".slapos-resource"), "{}").expect("resource file");
        let target = self.outside().join(format!("{partition}-target"));
        std::fs::write(&target, "keep me").expect("symlink target");
        std::os::unix::fs::symlink(&target, directory.join("link")).expect("symlink");
        if let Some(body) = destroy_script {
            script(&directory.join("sbin/destroy"), body);
        }
        std::fs::set_permissions(&directory, std::fs::Permissions::from_mode(0o750)).expect("chmod partition");
        give_to_partition_user(&directory);
        directory
    }

    async fn run(&self, services: &FakeServices, options: &ReportOptions, now: SystemTime) -> ReportOutcome {
        let config = self.config();
        tokio::time::timeout(DEADLINE, run(&config, &self.client, services, options, now))
            .await
            .expect("report within the deadline")
            .expect("report runs")
    }

    /// The partitions holding an instance on the master.
    async fn busy_on_master(&self) -> Vec<String> {
        let computer = self.client.full_computer_information(COMPUTER).await.expect("computer information");
        computer.partitions.into_iter().filter(|p| p.software_release.is_some()).map(|p| p.partition_id).collect()
    }
}


/// Records what the report asked of the supervisor.
#[derive(Default)]
struct FakeServices {
    stopped: Mutex<Vec<String>>,
}

impl node::instance::Services for FakeServices {
    async fn start(&self, _partition: &str, _directory: &Path) -> Result<(), String> {
        Ok(())
    }

    async fn stop(&self, partition: &str) -> Result<(), String> {
        self.stopped.lock().expect("lock").push(partition.to_owned());
        Ok(())
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// As root, hands the tree to `nobody` (links themselves, not targets).
fn give_to_partition_user(path: &Path) {
    if !is_root() {
        return;
    }
    std::os::unix::fs::lchown(path, Some(NOBODY), Some(NOBODY)).expect("chown");
    if std::fs::symlink_metadata(path).expect("metadata").is_dir() {
        for entry in std::fs::read_dir(path).expect("list") {
            give_to_partition_user(&entry.expect("entry").path());
        }
    }
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod script");
}

fn entries(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(directory).expect("list").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn result<'a>(outcome: &'a ReportOutcome, partition: &str) -> &'a node::report::PartitionResult {
    outcome.partitions.iter().find(|p| p.partition == partition).expect("partition in the outcome")
}

#[tokio::test]
async fn destroyed_partition_is_emptied_kept_and_freed_on_the_master() {
    let fixture = Fixture::new(2).await;
    let partition = fixture.request("doomed", None).await;
    let marker = fixture.outside().join("destroy-ran");
    let directory = fixture.partition(&partition, Some(&format!("id -u > {}", marker.display())));
    let owner = std::fs::metadata(&directory).expect("metadata").uid();
    fixture.request("doomed", Some("destroyed")).await;
    let services = FakeServices::default();
    let outcome = fixture.run(&services, &ReportOptions::default(), SystemTime::now()).await;

    assert_eq!(result(&outcome, &partition).destruction, Destruction::Destroyed { master_answer: "OK".to_owned() }, "{outcome:?}");
    assert_eq!(outcome.exit_code(), 0, "{outcome:?}");
    assert_eq!(entries(&directory), Vec::<String>::new(), "everything inside is removed");
    let metadata = std::fs::metadata(&directory).expect("the directory stays");
    assert_eq!((metadata.permissions().mode() & 0o7777, metadata.uid()), (0o750, owner));
    assert_eq!(std::fs::read_to_string(fixture.outside().join(format!("{partition}-target"))).expect("target"), "keep me");
    let ran_as = std::fs::read_to_string(&marker).expect("sbin/destroy ran");
    assert_eq!(ran_as.trim(), if is_root() { NOBODY.to_string() } else { owner.to_string() });
    assert_eq!(*services.stopped.lock().expect("lock"), [partition.as_str()]);
    assert_eq!(fixture.busy_on_master().await, Vec::<String>::new(), "the master freed the slot");
    assert!(matches!(outcome.usage, UsagePost::Posted { movements: 3, files: 0 }), "{:?}", outcome.usage);
}

#[tokio::test]
async fn retention_lock_delays_destruction_until_its_date() {
    let fixture = Fixture::new(1).await;
    let partition = fixture.request("kept", None).await;
    let directory = fixture.partition(&partition, None);
    std::fs::write(directory.join(".slapos-retention-lock-delay"), "1.5").expect("delay");
    fixture.request("kept", Some("destroyed")).await;
    let services = FakeServices::default();
    let now = SystemTime::now();
    let outcome = fixture.run(&services, &ReportOptions::default(), now).await;

    let unix_now = now.duration_since(SystemTime::UNIX_EPOCH).expect("after 1970").as_secs() as f64;
    let until = unix_now + 1.5 * 86_400.0;
    assert_eq!(result(&outcome, &partition).destruction, Destruction::RetentionLocked { until_unix_seconds: until });
    assert_eq!(outcome.exit_code(), 0, "a lock is not a failure");
    assert_eq!(std::fs::read_to_string(directory.join(".slapos-retention-lock-date")).expect("date file"), format!("{until:?}"));
    assert!(directory.join("srv/data/file").exists(), "nothing removed while locked");
    assert_eq!(fixture.busy_on_master().await, [partition.as_str()]);

    let later = now + Duration::from_secs(86_400);
    let outcome = fixture.run(&services, &ReportOptions::default(), later).await;
    assert!(matches!(result(&outcome, &partition).destruction, Destruction::RetentionLocked { .. }), "the date holds");

    let after = now + Duration::from_secs(2 * 86_400);
    let outcome = fixture.run(&services, &ReportOptions::default(), after).await;
    assert_eq!(result(&outcome, &partition).destruction, Destruction::Destroyed { master_answer: "OK".to_owned() });
    assert_eq!(entries(&directory), Vec::<String>::new());
    assert_eq!(fixture.busy_on_master().await, Vec::<String>::new());
}

#[tokio::test]
async fn failing_destroy_script_keeps_the_files_and_the_others_are_destroyed() {
    let fixture = Fixture::new(2).await;
    let refusing = fixture.request("refusing", None).await;
    let willing = fixture.request("willing", None).await;
    let refusing_directory = fixture.partition(&refusing, Some("echo 'not today' >&2; exit 3"));
    let willing_directory = fixture.partition(&willing, Some("exit 0"));
    fixture.request("refusing", Some("destroyed")).await;
    fixture.request("willing", Some("destroyed")).await;
    let services = FakeServices::default();
    let outcome = fixture.run(&services, &ReportOptions::default(), SystemTime::now()).await;

    let Destruction::Failed(message) = &result(&outcome, &refusing).destruction else {
        panic!("{outcome:?}");
    };
    let expected = format!("Failed to destroy Computer Partition in '{}'.", refusing_directory.display());
    assert!(message.starts_with(&expected) && message.contains("not today"), "{message}");
    assert!(refusing_directory.join("srv/data/file").exists(), "a refused destruction removes nothing");
    assert_eq!(result(&outcome, &willing).destruction, Destruction::Destroyed { master_answer: "OK".to_owned() });
    assert_eq!(entries(&willing_directory), Vec::<String>::new());
    assert_eq!(outcome.exit_code(), 1);
    assert_eq!(fixture.busy_on_master().await, [refusing.as_str()]);
}

#[tokio::test]
async fn report_scripts_and_consumption_files_feed_one_journal() {
    let fixture = Fixture::new(1).await;
    let partition = fixture.request("measured", None).await;
    let directory = fixture.partition(&partition, None);
    let consumption = "<?xml version='1.0'?><consumption><movement><resource>CPU</resource><title>t</title>\
        <reference>x</reference><quantity>1.5</quantity><price>0.0</price><VAT>1</VAT></movement></consumption>";
    std::fs::create_dir_all(directory.join("etc/report")).expect("etc/report");
    script(&directory.join("etc/report/good"), &format!("cat > \"$1\" <<'EOF'\n{consumption}\nEOF"));
    script(&directory.join("etc/report/bad"), "exit 1");
    give_to_partition_user(&directory);
    let node_side = fixture.instance_root().join("var/xml_report").join(&partition);
    std::fs::create_dir_all(&node_side).expect("node-side folder");
    std::fs::write(node_side.join("valid.xml"), consumption).expect("valid file");
    std::fs::write(node_side.join("invalid.xml"), "<consumption></consumption>").expect("invalid file");
    let computer_side = fixture.instance_root().join("var/xml_report").join(COMPUTER);
    std::fs::create_dir_all(&computer_side).expect("computer folder");
    std::fs::write(computer_side.join("journal.xml"), "<journal><transaction/></journal>").expect("computer journal");
    let services = FakeServices::default();
    let outcome = fixture.run(&services, &ReportOptions::default(), SystemTime::now()).await;

    assert_eq!(outcome.usage, UsagePost::Posted { movements: 5, files: 2 }, "{outcome:?}");
    assert_eq!(result(&outcome, &partition).errors, ["Script 'bad' failed."]);
    assert_eq!(outcome.exit_code(), 1, "a failing report script fails the run");
    assert_eq!(entries(&node_side), ["invalid.xml"], "valid files are consumed, invalid ones stay");
    assert_eq!(entries(&directory.join("var/xml_report")), Vec::<String>::new());
    assert_eq!(outcome.computer_journals_posted, 1);
    assert_eq!(entries(&computer_side), Vec::<String>::new());
    assert!(services.stopped.lock().expect("lock").is_empty(), "nothing to destroy");
    assert_eq!(result(&outcome, &partition).destruction, Destruction::NotRequested);
}

#[tokio::test]
async fn nothing_is_posted_without_a_busy_partition() {
    let fixture = Fixture::new(2).await;
    let outcome = fixture.run(&FakeServices::default(), &ReportOptions::default(), SystemTime::now()).await;
    assert_eq!(outcome.usage, UsagePost::Nothing);
    assert_eq!(outcome.partitions, []);
    assert_eq!(outcome.exit_code(), 0);
}

/// Kills the whole process group of a spawned test process on drop.
struct GroupGuard(std::process::Child);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.0.id()) {
            // SAFETY: kill(2) has no memory effects; a negative pid names the group.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn measurement_sees_a_busy_process_tree_and_the_bytes_written() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let partition = dir.path().join("slappart0");
    std::fs::create_dir_all(partition.join("data")).expect("partition");
    std::fs::write(partition.join("data/a"), vec![0u8; 100_000]).expect("file a");
    std::fs::write(partition.join("b"), vec![0u8; 50_000]).expect("file b");
    let big = dir.path().join("big-outside");
    std::fs::write(&big, vec![0u8; 5_000_000]).expect("big file");
    std::os::unix::fs::symlink(&big, partition.join("link")).expect("symlink");

    // The busy loop is a grandchild: only the process tree reaches it.
    let child = std::process::Command::new("sh")
        .args(["-c", "sh -c 'while :; do :; done' & wait"])
        .process_group(0)
        .spawn()
        .expect("spawn a busy process");
    let guard = GroupGuard(child);
    let pid = guard.0.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    let usage = loop {
        let usage = node::report::measure(&partition, &[pid]);
        if usage.cpu_seconds >= 0.2 || Instant::now() > deadline {
            break usage;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    drop(guard);
    assert!(usage.cpu_seconds > 0.0, "{usage:?}");
    assert!(usage.memory_bytes > 0, "{usage:?}");
    assert!(usage.disk_bytes >= 150_000, "{usage:?}");
    assert!(usage.disk_bytes < 1_000_000, "a symlink's target is not counted: {usage:?}");
    let idle = node::report::measure(&partition, &[]);
    assert_eq!((idle.cpu_seconds, idle.memory_bytes, idle.disk_bytes), (0.0, 0, usage.disk_bytes), "no pid, no process");
}
