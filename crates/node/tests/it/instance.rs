//! `node::instance` (spec §5) against a real master served in process on
//! 127.0.0.1:0: releases built by `node::software` from local profiles,
//! partitions made by `node::format`, instance profiles run by the profile
//! engine (their `slapconfiguration` asks the master through `NodeSlap`),
//! and a fake supervisor that records what it is asked. One failing
//! partition leaves the others deployed; `.timestamp` is written only after
//! full success, so failures and failing promises are retried; stopped and
//! destroyed instances are stopped; the partition's `buildout.cfg` carries
//! the slapgrid tail; `only` rejects unknown partitions.
//!
//! As root (CI), partition directories belong to `nobody` (65534), so the
//! promises run as that user, as they would on a real node.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use client::{RequestResult, RequestSpec, SupplyState};
use node::instance::{InstanceError, InstanceOptions, PartitionOutcome, PartitionResult};
use node::software::{url_hash, SoftwareOptions, SoftwareOutcome};
use proto::Value;

use crate::software::{give_to_partition_user, Fixture, COMPUTER, DEADLINE};

/// An instance profile that reads its parameters from the master and
/// fails when the instance was requested with `fail = yes`.
const PARAMETRIC_PROFILE: &str = "[buildout]
parts = check
[slap-configuration]
recipe = slapos.cookbook:slapconfiguration
computer = ${slap-connection:computer-id}
partition = ${slap-connection:partition-id}
url = ${slap-connection:server-url}
key = ${slap-connection:key-file}
cert = ${slap-connection:cert-file}
configuration.fail = no
[check]
recipe = plone.recipe.command
stop-on-error = yes
command = echo ${slap-configuration:instance-guid} > deployed && test ${slap-configuration:configuration.fail} != yes";

const EMPTY_PROFILE: &str = "[buildout]\nparts =";

/// Records what the instance loop asked of the supervisor.
#[derive(Default)]
struct FakeServices {
    calls: Mutex<Vec<String>>,
}

impl FakeServices {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("lock").clone()
    }
}

impl node::instance::Services for FakeServices {
    async fn start(&self, partition: &str, directory: &Path) -> Result<(), String> {
        assert!(directory.ends_with(partition), "{partition} started in {}", directory.display());
        self.calls.lock().expect("lock").push(format!("start {partition}"));
        Ok(())
    }

    async fn stop(&self, partition: &str) -> Result<(), String> {
        self.calls.lock().expect("lock").push(format!("stop {partition}"));
        Ok(())
    }
}

impl Fixture {
    /// Supplies and builds a release rendering `instance_profile`.
    async fn built_release(&self, name: &str, instance_profile: &str) -> String {
        let url = self.release_with_instance(name, instance_profile);
        self.supply(&url, SupplyState::Available).await;
        let only = SoftwareOptions { only: vec![url.clone()], ..SoftwareOptions::default() };
        let results = self.software(&only, None).await;
        assert!(results.iter().any(|r| r.url == url && r.outcome == SoftwareOutcome::Built), "{results:?}");
        url
    }

    /// Orders `title` (or changes its state); the partition it got.
    async fn request(&self, url: &str, title: &str, state: Option<&str>, parameters: &[(&str, &str)]) -> String {
        let mut spec = RequestSpec::new(url, title);
        spec.sla = Value::dict_from([("computer_guid", Value::str(COMPUTER))]);
        spec.state = state.map(str::to_owned);
        spec.parameters = Value::Dict(parameters.iter().map(|(k, v)| (Value::str(*k), Value::str(*v))).collect());
        match self.client.request(&spec).await.expect("request") {
            RequestResult::Ready(instance) => instance.partition_id,
            RequestResult::NotReady => panic!("{title} not allocated"),
        }
    }

    async fn instance(&self, services: &FakeServices, options: &InstanceOptions) -> Result<Vec<PartitionResult>, InstanceError> {
        let (config, engine) = (self.config(), self.engine());
        tokio::time::timeout(DEADLINE, node::instance::run(&config, &self.client, &engine, services, options))
            .await
            .expect("instance run within the deadline")
    }

    async fn instance_ok(&self, services: &FakeServices) -> Vec<PartitionResult> {
        self.instance(services, &InstanceOptions::default()).await.expect("instance run")
    }

    fn partition(&self, partition: &str) -> PathBuf {
        self.instance_root().join(partition)
    }

    /// The master's `timestamp` parameter and instance guid of a partition.
    async fn master_view(&self, partition: &str) -> (String, String) {
        let computer = self.client.full_computer_information(COMPUTER).await.expect("computer information");
        let found = computer.partitions.into_iter().find(|p| p.partition_id == partition).expect("partition on the master");
        let parameters = found.parameters.unwrap_or_default();
        let timestamp = parameters.iter().find(|(k, _)| k == "timestamp").map(|(_, v)| proto::python_repr::str_of(v));
        (timestamp.expect("a timestamp parameter"), found.instance_guid)
    }
}

fn outcome_of(results: &[PartitionResult], partition: &str) -> PartitionOutcome {
    results.iter().find(|r| r.partition == partition).map(|r| r.outcome.clone()).unwrap_or_else(|| panic!("{partition} in {results:?}"))
}

fn failure(outcome: PartitionOutcome) -> String {
    match outcome {
        PartitionOutcome::Failed(message) => message,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("script folder");
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod script");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_partition_leaves_the_other_started_and_is_retried() {
    let fixture = Fixture::new(2).await;
    let url = fixture.built_release("parametric", PARAMETRIC_PROFILE).await;
    let good = fixture.request(&url, "good", None, &[]).await;
    let bad = fixture.request(&url, "bad", None, &[("fail", "yes")]).await;
    assert_ne!(good, bad);
    let services = FakeServices::default();

    let results = fixture.instance_ok(&services).await;
    let message = failure(outcome_of(&results, &bad));
    let expected = format!("Failed to run buildout profile in directory '{}':\n", fixture.partition(&bad).display());
    assert!(message.starts_with(&expected), "the message names the partition's directory as slapgrid does: {message}");
    assert!(message.contains("Installing check."), "the buildout log is in the message: {message}");
    assert!(message.contains("command failed with exit code 1"), "{message}");
    let bad_directory = fixture.partition(&bad);
    assert_eq!(read(&bad_directory.join(format!(".slapgrid-{bad}-error.log"))), message);
    assert!(!bad_directory.join(".timestamp").exists(), "a failed partition has no timestamp");

    assert_eq!(outcome_of(&results, &good), PartitionOutcome::Started);
    let good_directory = fixture.partition(&good);
    let (timestamp, instance_guid) = fixture.master_view(&good).await;
    assert_eq!(read(&good_directory.join(".timestamp")), timestamp);
    assert_eq!(read(&good_directory.join("deployed")).trim(), instance_guid, "slapconfiguration asked the master");
    assert!(!good_directory.join(format!(".slapgrid-{good}-error.log")).exists());
    assert_eq!(services.calls(), [format!("start {good}")]);

    let results = fixture.instance_ok(&services).await;
    assert_eq!(outcome_of(&results, &good), PartitionOutcome::UpToDate);
    let again = failure(outcome_of(&results, &bad));
    assert!(again.contains("command failed with exit code 1"), "processed again: {again}");
    assert_eq!(services.calls(), [format!("start {good}")], "an up-to-date partition is left alone");

    let forced = InstanceOptions { force: true, ..InstanceOptions::default() };
    let results = fixture.instance(&services, &forced).await.expect("forced run");
    assert_eq!(outcome_of(&results, &good), PartitionOutcome::Started, "force processes it again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_promise_withholds_the_timestamp_until_fixed() {
    let fixture = Fixture::new(1).await;
    let url = fixture.built_release("plain", EMPTY_PROFILE).await;
    let partition = fixture.request(&url, "promised", None, &[]).await;
    let directory = fixture.partition(&partition);
    let check = directory.join("etc/promise/check");
    script(&check, "echo 'port 8080 closed'; exit 1");
    give_to_partition_user(&directory.join("etc"));
    let services = FakeServices::default();

    let results = fixture.instance_ok(&services).await;
    let PartitionOutcome::PromiseFailed(message) = outcome_of(&results, &partition) else { panic!("{results:?}") };
    assert!(message.contains("Promise 'check' failed with output:"), "{message}");
    assert!(message.contains("port 8080 closed"), "{message}");
    assert!(!directory.join(".timestamp").exists(), "a failing promise leaves no timestamp");
    assert_eq!(services.calls(), [format!("start {partition}")], "services start before promises run");

    let results = fixture.instance_ok(&services).await;
    assert!(matches!(outcome_of(&results, &partition), PartitionOutcome::PromiseFailed(_)), "processed again: {results:?}");

    script(&check, "exit 0");
    give_to_partition_user(&check);
    let results = fixture.instance_ok(&services).await;
    assert_eq!(outcome_of(&results, &partition), PartitionOutcome::Started);
    assert_eq!(read(&directory.join(".timestamp")), fixture.master_view(&partition).await.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_and_destroyed_instances_are_stopped() {
    let fixture = Fixture::new(2).await;
    let url = fixture.built_release("parametric", PARAMETRIC_PROFILE).await;
    let quiet = fixture.request(&url, "quiet", Some("stopped"), &[]).await;
    let broken = fixture.request(&url, "broken", Some("stopped"), &[("fail", "yes")]).await;
    let services = FakeServices::default();

    let results = fixture.instance_ok(&services).await;
    assert_eq!(outcome_of(&results, &quiet), PartitionOutcome::Stopped);
    let quiet_directory = fixture.partition(&quiet);
    assert!(read(&quiet_directory.join("buildout.cfg")).contains("\nrequested-state = stopped\n"), "a stopped instance is deployed");
    assert!(quiet_directory.join("deployed").exists());
    assert_eq!(read(&quiet_directory.join(".timestamp")), fixture.master_view(&quiet).await.0);
    let message = failure(outcome_of(&results, &broken));
    assert!(message.contains("command failed with exit code 1"), "{message}");
    let mut calls = services.calls();
    calls.sort();
    let mut expected = [format!("stop {broken}"), format!("stop {quiet}")];
    expected.sort();
    assert_eq!(calls, expected, "stopped even when its deployment failed");

    fixture.request(&url, "quiet", Some("destroyed"), &[]).await;
    let before = services.calls().len();
    let results = fixture.instance_ok(&services).await;
    assert_eq!(outcome_of(&results, &quiet), PartitionOutcome::Stopped);
    assert!(services.calls()[before..].contains(&format!("stop {quiet}")), "{:?}", services.calls());
    assert!(!services.calls().iter().any(|call| call.starts_with("start")), "{:?}", services.calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_buildout_cfg_is_the_instance_profile_plus_the_slapgrid_tail() {
    let fixture = Fixture::new(1).await;
    let url = fixture.built_release("plain", EMPTY_PROFILE).await;
    let partition = fixture.request(&url, "tailed", None, &[]).await;
    assert_eq!(partition, "slappart0");
    let services = FakeServices::default();
    let results = fixture.instance_ok(&services).await;
    assert_eq!(outcome_of(&results, &partition), PartitionOutcome::Started);

    let directory = fixture.partition(&partition);
    let text = read(&directory.join("buildout.cfg"));
    let master_url = fixture.client.master_url().to_string();
    assert!(text.starts_with("[buildout]\nparts =\n\n# This is beginning of zc.buildout profile's tail added by slapgrid\n"), "{text}");
    for line in [
        "bin-directory = ${buildout:directory}/sbin\n",
        "offline = true\n",
        "[slap-connection]\n",
        &format!("computer-id = {COMPUTER}\n"),
        "partition-id = slappart0\n",
        &format!("server-url = {master_url}\n"),
        &format!("software-release-url = {url}\n"),
        "requested-state = started\n",
        "[slap_connection]\n# Kept for backward compatiblity\n",
        &format!("computer_id = {COMPUTER}\n"),
        "partition_id = slappart0\n",
        &format!("server_url = {master_url}\n"),
        &format!("software_release_url = {url}\n"),
        "[storage-configuration]\n",
        "[network-information]\n",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
    assert!(text.ends_with("# This is end of zc.buildout profile's tail added by slapgrid\n"), "{text}");
    assert_eq!(std::fs::metadata(directory.join("buildout.cfg")).expect("metadata").permissions().mode() & 0o777, 0o640);
    let software = fixture.software_root().join(url_hash(&url));
    assert_eq!(std::fs::read_link(directory.join("software_release")).expect("software_release link"), software);
    assert_eq!(read(&directory.join(".slapos-retention-lock-delay")), "0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_selects_partitions_and_rejects_unknown_ones() {
    let fixture = Fixture::new(3).await;
    let url = fixture.built_release("plain", EMPTY_PROFILE).await;
    let first = fixture.request(&url, "first", None, &[]).await;
    let second = fixture.request(&url, "second", None, &[]).await;
    let services = FakeServices::default();

    let unknown = InstanceOptions { only: vec![first.clone(), "slappart99".to_owned()], ..InstanceOptions::default() };
    let error = fixture.instance(&services, &unknown).await.expect_err("an unknown partition");
    assert!(matches!(&error, InstanceError::UnknownPartitions(ids) if ids == &["slappart99".to_owned()]), "{error:?}");
    assert_eq!(error.to_string(), "Unknown partition(s): slappart99");
    assert_eq!(services.calls(), Vec::<String>::new(), "nothing processed");

    let only_second = InstanceOptions { only: vec![second.clone()], ..InstanceOptions::default() };
    let results = fixture.instance(&services, &only_second).await.expect("instance run");
    assert_eq!(outcome_of(&results, &first), PartitionOutcome::Skipped);
    assert_eq!(outcome_of(&results, &second), PartitionOutcome::Started);
    assert_eq!(outcome_of(&results, "slappart2"), PartitionOutcome::Skipped);
    assert!(!fixture.partition(&first).join("buildout.cfg").exists(), "a skipped partition is not touched");

    let results = fixture.instance_ok(&services).await;
    assert_eq!(outcome_of(&results, &first), PartitionOutcome::Started);
    assert_eq!(outcome_of(&results, &second), PartitionOutcome::UpToDate);
    assert_eq!(outcome_of(&results, "slappart2"), PartitionOutcome::Free);
    assert_eq!(services.calls(), [format!("start {second}"), format!("start {first}")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_with_wrong_mode_or_missing_release_fails_without_deploying() {
    let fixture = Fixture::new(2).await;
    let url = fixture.built_release("plain", EMPTY_PROFILE).await;
    let loose = fixture.request(&url, "loose", None, &[]).await;
    let missing_url = fixture.release_with_instance("never-built", EMPTY_PROFILE);
    let orphan = fixture.request(&missing_url, "orphan", None, &[]).await;
    let loose_directory = fixture.partition(&loose);
    std::fs::set_permissions(&loose_directory, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let services = FakeServices::default();

    let results = fixture.instance_ok(&services).await;
    let message = failure(outcome_of(&results, &loose));
    let expected = format!("Wrong permissions in {}: actual permissions are: 0755, wanted are 0750", loose_directory.display());
    assert_eq!(message, expected);
    assert!(!loose_directory.join("buildout.cfg").exists());
    let message = failure(outcome_of(&results, &orphan));
    assert_eq!(message, format!("Software Release {missing_url} is not present on system.\nCannot deploy instance."));
    assert_eq!(services.calls(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_is_processed_again_when_its_timestamp_moves_or_its_periodicity_is_zero() {
    let fixture = Fixture::new(1).await;
    let url = fixture.built_release("plain", EMPTY_PROFILE).await;
    let partition = fixture.request(&url, "watched", None, &[("size", "1")]).await;
    let directory = fixture.partition(&partition);
    let services = FakeServices::default();
    assert_eq!(outcome_of(&fixture.instance_ok(&services).await, &partition), PartitionOutcome::Started);
    let first = read(&directory.join(".timestamp"));
    assert_eq!(outcome_of(&fixture.instance_ok(&services).await, &partition), PartitionOutcome::UpToDate);

    fixture.request(&url, "watched", None, &[("size", "2")]).await;
    let (moved, _) = fixture.master_view(&partition).await;
    assert_ne!(moved, first, "new parameters give a new timestamp");
    assert_eq!(outcome_of(&fixture.instance_ok(&services).await, &partition), PartitionOutcome::Started);
    assert_eq!(read(&directory.join(".timestamp")), moved);

    let periodicity = fixture.software_root().join(url_hash(&url)).join("periodicity");
    std::fs::write(&periodicity, "0").expect("periodicity");
    assert_eq!(outcome_of(&fixture.instance_ok(&services).await, &partition), PartitionOutcome::Started, "periodicity 0: every run");
    std::fs::write(&periodicity, "soon").expect("periodicity");
    assert_eq!(outcome_of(&fixture.instance_ok(&services).await, &partition), PartitionOutcome::UpToDate);
    assert!(!periodicity.exists(), "a periodicity that is not a number is removed");
    assert_eq!(services.calls().len(), 3, "{:?}", services.calls());
}

/// An instance profile requesting a child instance (of a release never
/// built: the child's own deployment fails, which must not matter here).
const REQUESTING_PROFILE: &str = "[buildout]
parts = child
[child]
recipe = slapos.cookbook:request
software-url = http://leaf.invalid/software.cfg
name = the-child
server-url = ${slap-connection:server-url}
computer-id = ${slap-connection:computer-id}
partition-id = ${slap-connection:partition-id}
key-file = ${slap-connection:key-file}
cert-file = ${slap-connection:cert-file}
sla-computer_guid = ${slap-connection:computer-id}";

/// Spec §5.2 step 8: the titles a partition's profile requested are kept
/// in its request transaction file (then sent to the master, whose 404
/// is only logged), and a new run starts the file afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requested_titles_are_kept_in_the_transaction_file() {
    let fixture = Fixture::new(2).await;
    let url = fixture.built_release("parent", REQUESTING_PROFILE).await;
    let parent = fixture.request(&url, "parent", None, &[]).await;
    let services = FakeServices::default();
    let config = fixture.config();
    let mut engine = fixture.engine();
    engine.slap = std::sync::Arc::new(
        node::slap::NodeSlap::new(tokio::runtime::Handle::current()).with_instance_root(fixture.instance_root()),
    );
    let run = tokio::time::timeout(DEADLINE, node::instance::run(&config, &fixture.client, &engine, &services, &InstanceOptions::default()))
        .await
        .expect("instance run within the deadline")
        .expect("instance run");
    let parent_outcome = run.iter().find(|r| r.partition == parent).map(|r| r.outcome.clone());
    assert_eq!(parent_outcome, Some(PartitionOutcome::Started), "{run:?}");
    let transaction = node::slap::transaction_file(&fixture.instance_root(), &parent);
    assert_eq!(std::fs::read_to_string(&transaction).expect("the transaction file"), "the-child\n");
    // The next run of the partition starts a new transaction: an
    // up-to-date partition requests nothing, so no file is left.
    tokio::time::timeout(DEADLINE, node::instance::run(&config, &fixture.client, &engine, &services, &InstanceOptions::default()))
        .await
        .expect("instance run within the deadline")
        .expect("instance run");
    assert!(!transaction.exists(), "a stale transaction file was kept");
}
