//! `node::software` (spec §4) against a real master served in process on
//! 127.0.0.1:0, with releases the tests write as local `software.cfg`
//! files and the profile engine offline (`NoFetch`): a release builds once
//! into `software_root/<md5(url)>` and is left alone until forced; a
//! failing build is an outcome carrying the buildout error, retried only
//! when the agent's backoff allows; a destroyed supply removes the
//! directory and the master forgets the release; `only` selects releases.
//!
//! The [`Fixture`] (master, formatted compute node, node roots, engine) is
//! shared with the instance loop's tests (`instance.rs`).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use client::{SlapClient, SupplyState};
use node::build::Engine;
use node::config::{FormatConfig, NodeConfig, Sections};
use node::software::{software_path, url_hash, RetryBackoff, SoftwareOptions, SoftwareOutcome, SoftwareResult};

pub(crate) const COMPUTER: &str = "COMP-LOOPS";
/// Every test call is bounded: a hung master or build fails the test.
pub(crate) const DEADLINE: Duration = Duration::from_secs(120);
/// The partition user when the tests run as root.
const NOBODY: u32 = 65534;

/// A master on loopback with a compute node formatted by `node format`
/// (no users, no addresses), a node root, and releases on disk.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) client: SlapClient,
    _master: crate::master::MasterGuard,
}

impl Fixture {
    /// `partitions` slots, each `0750` and, as root, owned by `nobody`.
    pub(crate) async fn new(partitions: usize) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        // Partition users must reach their directories and scripts.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        let (client, master) = crate::master::start(dir.path(), COMPUTER).await;
        let fixture = Fixture { dir, client, _master: master };
        fixture.format(partitions).await;
        fixture
    }

    fn sections(&self, partitions: usize) -> Sections {
        let slapos = BTreeMap::from([
            ("computer_id".to_owned(), COMPUTER.to_owned()),
            ("master_url".to_owned(), self.client.master_url().to_string()),
            ("software_root".to_owned(), self.software_root().display().to_string()),
            ("instance_root".to_owned(), self.instance_root().display().to_string()),
        ]);
        let slapformat = BTreeMap::from([
            ("alter_user".to_owned(), "false".to_owned()),
            ("alter_network".to_owned(), "false".to_owned()),
            ("interface_name".to_owned(), "lo".to_owned()),
            ("ipv4_local_network".to_owned(), "10.214.0.0/24".to_owned()),
            ("computer_xml".to_owned(), self.dir.path().join("slapos.xml").display().to_string()),
            ("partition_amount".to_owned(), partitions.to_string()),
        ]);
        BTreeMap::from([("slapos".to_owned(), slapos), ("slapformat".to_owned(), slapformat)])
    }

    async fn format(&self, partitions: usize) {
        let sections = self.sections(partitions);
        let config = FormatConfig::from_sections(&sections).expect("format config");
        let node = NodeConfig::from_sections(&sections).expect("node config");
        let options = node::format::FormatOptions::default();
        tokio::time::timeout(DEADLINE, node::format::format(&config, &node, &self.client, &options))
            .await
            .expect("format within the deadline")
            .expect("format");
        for index in 0..partitions {
            give_to_partition_user(&self.instance_root().join(format!("slappart{index}")));
        }
    }

    pub(crate) fn config(&self) -> NodeConfig {
        NodeConfig::from_sections(&self.sections(0)).expect("node config")
    }

    pub(crate) fn software_root(&self) -> PathBuf {
        self.dir.path().join("opt")
    }

    pub(crate) fn instance_root(&self) -> PathBuf {
        self.dir.path().join("srv")
    }

    /// The profile engine as `node_loops::engine` builds it, offline.
    pub(crate) fn engine(&self) -> Engine {
        Engine {
            fetch: Arc::new(profile::NoFetch),
            python: profile::python::PythonEnv::new((3, 11, 2)),
            slap: Arc::new(node::slap::NodeSlap::new(tokio::runtime::Handle::current())),
            buildout_command: None,
        }
    }

    /// Writes `releases/<name>/software.cfg`; its path is the release URL.
    pub(crate) fn release(&self, name: &str, text: &str) -> String {
        let directory = self.dir.path().join("releases").join(name);
        std::fs::create_dir_all(&directory).expect("release folder");
        let file = directory.join("software.cfg");
        std::fs::write(&file, text).expect("write software.cfg");
        file.display().to_string()
    }

    /// A release whose build renders `instance_profile` (plain buildout
    /// text, no blank line) into `instance.cfg`.
    pub(crate) fn release_with_instance(&self, name: &str, instance_profile: &str) -> String {
        let inline: String =
            instance_profile.lines().map(|line| format!("  {}\n", line.replace("${", "$${"))).collect();
        let text = format!(
            "[buildout]\nparts = instance\n\n[instance]\nrecipe = slapos.recipe.template\n\
             output = ${{buildout:directory}}/instance.cfg\ninline =\n{inline}"
        );
        self.release(name, &text)
    }

    pub(crate) async fn supply(&self, url: &str, state: SupplyState) {
        self.client.supply(url, COMPUTER, state).await.expect("supply");
    }

    pub(crate) async fn software(
        &self,
        options: &SoftwareOptions,
        retry: Option<&mut RetryBackoff>,
    ) -> Vec<SoftwareResult> {
        let (config, engine) = (self.config(), self.engine());
        tokio::time::timeout(DEADLINE, node::software::run(&config, &self.client, &engine, options, retry))
            .await
            .expect("software run within the deadline")
            .expect("software run")
    }

    /// The releases the master lists for this node, with their state.
    pub(crate) async fn supplied_on_master(&self) -> Vec<(String, Option<String>)> {
        let computer = self.client.full_computer_information(COMPUTER).await.expect("computer information");
        computer.software_releases.into_iter().map(|release| (release.url, release.requested_state)).collect()
    }
}


pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// As root, hands a directory tree to `nobody` (links themselves).
pub(crate) fn give_to_partition_user(path: &Path) {
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

fn outcome_of(results: &[SoftwareResult], url: &str) -> SoftwareOutcome {
    results.iter().find(|result| result.url == url).map(|result| result.outcome.clone()).unwrap_or_else(|| panic!("{url} in {results:?}"))
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).and_then(|m| m.modified()).expect("mtime")
}

fn set_mtime(path: &Path, time: SystemTime) {
    std::fs::File::options().write(true).open(path).and_then(|file| file.set_modified(time)).expect("set mtime");
}

const FAILING_RELEASE: &str =
    "[buildout]\nparts = broken\n\n[broken]\nrecipe = plone.recipe.command\nstop-on-error = yes\ncommand = echo compiling; exit 3\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_builds_once_and_rebuilds_only_when_forced() {
    let fixture = Fixture::new(1).await;
    let url = fixture.release_with_instance("good", "[buildout]\nparts =");
    fixture.supply(&url, SupplyState::Available).await;

    let results = fixture.software(&SoftwareOptions::default(), None).await;
    let directory = fixture.software_root().join(url_hash(&url));
    assert_eq!(results, [SoftwareResult { url: url.clone(), path: directory.clone(), outcome: SoftwareOutcome::Built }]);
    assert_eq!(software_path(&fixture.software_root(), &url), directory);
    assert!(directory.join(".completed").is_file(), "a built release is marked completed");
    let buildout_cfg = std::fs::read_to_string(directory.join("buildout.cfg")).expect("buildout.cfg");
    assert!(buildout_cfg.starts_with(&format!("[buildout]\nextends = {url}\n")), "{buildout_cfg}");
    let instance_cfg = directory.join("instance.cfg");
    assert_eq!(std::fs::read_to_string(&instance_cfg).expect("instance.cfg"), "[buildout]\nparts =");
    // Dated in the past, any rewrite shows in the mtime.
    let long_ago = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    set_mtime(&instance_cfg, long_ago);
    set_mtime(&directory.join(".completed"), long_ago);

    let results = fixture.software(&SoftwareOptions::default(), None).await;
    assert_eq!(outcome_of(&results, &url), SoftwareOutcome::Completed);
    assert_eq!(mtime(&instance_cfg), long_ago, "nothing rebuilt");
    assert_eq!(mtime(&directory.join(".completed")), long_ago);

    let forced = SoftwareOptions { force: true, ..SoftwareOptions::default() };
    let results = fixture.software(&forced, None).await;
    assert_eq!(outcome_of(&results, &url), SoftwareOutcome::Built);
    assert!(mtime(&directory.join(".completed")) > long_ago, "a forced build marks completion again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_build_reports_buildout_error_and_is_not_completed() {
    let fixture = Fixture::new(1).await;
    let url = fixture.release("broken", FAILING_RELEASE);
    fixture.supply(&url, SupplyState::Available).await;

    let results = fixture.software(&SoftwareOptions::default(), None).await;
    let directory = fixture.software_root().join(url_hash(&url));
    let SoftwareOutcome::Failed(message) = outcome_of(&results, &url) else { panic!("{results:?}") };
    let expected = format!("Failed to run buildout profile in directory '{}':\n", directory.display());
    assert!(message.starts_with(&expected), "{message}");
    assert!(message.contains("Installing broken."), "the buildout log is in the message: {message}");
    assert!(message.contains("command failed with exit code 3: echo compiling; exit 3"), "{message}");
    assert!(!directory.join(".completed").exists());

    // Without a backoff the next run retries at once.
    let results = fixture.software(&SoftwareOptions::default(), None).await;
    assert!(matches!(outcome_of(&results, &url), SoftwareOutcome::Failed(_)), "{results:?}");
}

/// `--garbage-collect`: builds of releases the master no longer lists go;
/// the supplied release and anything that is not a build stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_collection_removes_only_forgotten_builds() {
    let fixture = Fixture::new(1).await;
    let url = fixture.release_with_instance("kept", "[buildout]\nparts =");
    fixture.supply(&url, SupplyState::Available).await;
    let forgotten = fixture.software_root().join(url_hash("http://forgotten.invalid/software.cfg"));
    std::fs::create_dir_all(forgotten.join("parts")).expect("a forgotten build");
    std::fs::write(forgotten.join("buildout.cfg"), "[buildout]\nextends = http://forgotten.invalid/software.cfg\n").expect("its buildout.cfg");
    let not_a_build = fixture.software_root().join("keep-me");
    let no_buildout = fixture.software_root().join(url_hash("http://no-buildout.invalid/"));
    for directory in [&not_a_build, &no_buildout] {
        std::fs::create_dir_all(directory).expect("other directory");
    }
    let collect = SoftwareOptions { garbage_collect: true, ..SoftwareOptions::default() };
    let results = fixture.software(&collect, None).await;
    assert_eq!(outcome_of(&results, &url), SoftwareOutcome::Built);
    assert_eq!(outcome_of(&results, "http://forgotten.invalid/software.cfg"), SoftwareOutcome::Destroyed);
    assert!(!forgotten.exists(), "the forgotten build stays");
    assert!(fixture.software_root().join(url_hash(&url)).join(".completed").is_file(), "the supplied release went");
    assert!(not_a_build.is_dir() && no_buildout.is_dir(), "directories that are not builds were touched");
}

/// A disk too small for `software_min_free_space` stops the build before
/// it starts, with slapos.core's message (which the master receives).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_the_build_with_slapos_words() {
    let fixture = Fixture::new(1).await;
    let url = fixture.release_with_instance("big", "[buildout]\nparts =");
    fixture.supply(&url, SupplyState::Available).await;
    let mut config = fixture.config();
    config.software_min_free_space = u64::MAX;
    let engine = fixture.engine();
    let results = tokio::time::timeout(
        DEADLINE,
        node::software::run(&config, &fixture.client, &engine, &SoftwareOptions::default(), None),
    )
    .await
    .expect("software run within the deadline")
    .expect("software run");
    let directory = fixture.software_root().join(url_hash(&url));
    let SoftwareOutcome::Failed(message) = outcome_of(&results, &url) else { panic!("{results:?}") };
    assert!(message.starts_with(&format!("Not enough space for {}: available ", directory.display())), "{message}");
    assert!(message.ends_with("required 16.0 EB (option 'software_min_free_space')"), "{message}");
    assert!(!directory.join("buildout.cfg").exists(), "nothing was prepared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_skips_a_failed_release_until_its_retry_time() {
    let fixture = Fixture::new(1).await;
    let broken = fixture.release("broken", FAILING_RELEASE);
    let good = fixture.release_with_instance("good", "[buildout]\nparts =");
    fixture.supply(&broken, SupplyState::Available).await;
    fixture.supply(&good, SupplyState::Available).await;
    let mut backoff = RetryBackoff::default();

    let results = fixture.software(&SoftwareOptions::default(), Some(&mut backoff)).await;
    assert!(matches!(outcome_of(&results, &broken), SoftwareOutcome::Failed(_)), "{results:?}");
    assert_eq!(outcome_of(&results, &good), SoftwareOutcome::Built);

    let results = fixture.software(&SoftwareOptions::default(), Some(&mut backoff)).await;
    assert_eq!(outcome_of(&results, &broken), SoftwareOutcome::Skipped, "its retry time has not come");
    assert_eq!(outcome_of(&results, &good), SoftwareOutcome::Completed, "the others go on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroyed_supply_removes_the_release_and_the_master_forgets_it() {
    let fixture = Fixture::new(1).await;
    let url = fixture.release_with_instance("doomed", "[buildout]\nparts =");
    fixture.supply(&url, SupplyState::Available).await;
    let results = fixture.software(&SoftwareOptions::default(), None).await;
    assert_eq!(outcome_of(&results, &url), SoftwareOutcome::Built);
    let directory = fixture.software_root().join(url_hash(&url));
    // A read-only folder, as some builds leave, does not stop the removal
    // (as root it never could; as another user it takes the chmod retry).
    std::fs::create_dir_all(directory.join("cache/locked")).expect("folder");
    std::fs::set_permissions(directory.join("cache"), std::fs::Permissions::from_mode(0o500)).expect("chmod");

    fixture.supply(&url, SupplyState::Destroyed).await;
    assert_eq!(fixture.supplied_on_master().await, [(url.clone(), Some("destroyed".to_owned()))]);
    let results = fixture.software(&SoftwareOptions::default(), None).await;
    assert_eq!(outcome_of(&results, &url), SoftwareOutcome::Destroyed);
    assert!(!directory.exists(), "the release directory is removed");
    assert_eq!(fixture.supplied_on_master().await, [], "the master no longer lists the release");
    assert_eq!(fixture.software(&SoftwareOptions::default(), None).await, []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_builds_the_named_releases_by_url_or_directory_name() {
    let fixture = Fixture::new(1).await;
    let first = fixture.release_with_instance("first", "[buildout]\nparts =");
    let second = fixture.release_with_instance("second", "[buildout]\nparts =");
    fixture.supply(&first, SupplyState::Available).await;
    fixture.supply(&second, SupplyState::Available).await;

    let only_first = SoftwareOptions { only: vec![first.clone()], ..SoftwareOptions::default() };
    let results = fixture.software(&only_first, None).await;
    assert_eq!(outcome_of(&results, &first), SoftwareOutcome::Built);
    assert_eq!(outcome_of(&results, &second), SoftwareOutcome::Skipped);
    assert!(!fixture.software_root().join(url_hash(&second)).exists(), "a skipped release is not touched");

    let only_second = SoftwareOptions { only: vec![url_hash(&second)], ..SoftwareOptions::default() };
    let results = fixture.software(&only_second, None).await;
    assert_eq!(outcome_of(&results, &first), SoftwareOutcome::Skipped);
    assert_eq!(outcome_of(&results, &second), SoftwareOutcome::Built);
}
