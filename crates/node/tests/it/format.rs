//! `node::format` against a real master served in process on 127.0.0.1:0:
//! directories and modes, `.slapos-resource` and `computer_xml` contents,
//! what the master then knows, idempotence, the amount rules, definition
//! files, post failures, IPv6 ranges; as root, users (unique names, removed
//! afterwards) and addresses and range routes (inside a network namespace
//! the test creates).

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use client::{ClientConfig, MasterUrl, RequestResult, RequestSpec, SlapClient};
use node::config::{FormatConfig, NodeConfig, Sections};
use node::format::{format, FormatError, FormatOptions, FormatReport};
use proto::Value;

const COMPUTER: &str = "COMP-FORMAT";
/// Every test call is bounded: a hung master or command fails the test.
const DEADLINE: Duration = Duration::from_secs(120);

/// A master on loopback and a node root in a temp dir.
struct Fixture {
    dir: tempfile::TempDir,
    client: SlapClient,
    _master: crate::master::MasterGuard,
    /// `[slapformat]` keys on top of the defaults below.
    keys: BTreeMap<String, String>,
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let (client, master) = crate::master::start(dir.path(), COMPUTER).await;
        let keys = BTreeMap::from([
            ("alter_user".to_owned(), "false".to_owned()),
            ("alter_network".to_owned(), "false".to_owned()),
            ("interface_name".to_owned(), "lo".to_owned()),
            ("ipv4_local_network".to_owned(), "10.213.0.0/24".to_owned()),
            ("computer_xml".to_owned(), dir.path().join("slapos.xml").display().to_string()),
            ("computer_json".to_owned(), dir.path().join("slapos.json").display().to_string()),
        ]);
        Fixture { dir, client, _master: master, keys }
    }

    fn set(&mut self, key: &str, value: &str) {
        self.keys.insert(key.to_owned(), value.to_owned());
    }

    fn instance_root(&self) -> PathBuf {
        self.dir.path().join("srv")
    }

    fn computer_xml(&self) -> PathBuf {
        self.dir.path().join("slapos.xml")
    }

    fn configs(&self, amount: usize) -> (FormatConfig, NodeConfig) {
        let slapos = BTreeMap::from([
            ("computer_id".to_owned(), COMPUTER.to_owned()),
            ("master_url".to_owned(), self.client.master_url().to_string()),
            ("software_root".to_owned(), self.dir.path().join("opt").display().to_string()),
            ("instance_root".to_owned(), self.instance_root().display().to_string()),
        ]);
        let mut slapformat = self.keys.clone();
        slapformat.insert("partition_amount".to_owned(), amount.to_string());
        let sections: Sections = BTreeMap::from([("slapos".to_owned(), slapos), ("slapformat".to_owned(), slapformat)]);
        (FormatConfig::from_sections(&sections).expect("format config"), NodeConfig::from_sections(&sections).expect("node config"))
    }

    async fn format_with(&self, amount: usize, options: &FormatOptions) -> Result<FormatReport, FormatError> {
        let (config, node) = self.configs(amount);
        tokio::time::timeout(DEADLINE, format(&config, &node, &self.client, options)).await.expect("format within the deadline")
    }

    async fn format(&self, amount: usize) -> Result<FormatReport, FormatError> {
        self.format_with(amount, &FormatOptions::default()).await
    }

    fn resource(&self, partition: &str) -> (String, serde_json::Value) {
        let text = std::fs::read_to_string(self.instance_root().join(partition).join(".slapos-resource")).expect("resource file");
        let json = serde_json::from_str(&text).expect("resource JSON");
        (text, json)
    }

    /// Orders `count` instances on the compute node; the master then shows
    /// their partitions' addresses in `getFullComputerInformation`.
    async fn master_addresses(&self, count: usize) -> BTreeMap<String, Vec<String>> {
        for index in 0..count {
            let mut spec = RequestSpec::new("http://sr/software.cfg", format!("instance{index}"));
            spec.sla = Value::dict_from([("computer_guid", Value::str(COMPUTER))]);
            let answer = self.client.request(&spec).await.expect("request");
            assert!(matches!(answer, RequestResult::Ready(_)), "{answer:?}");
        }
        let computer = self.client.full_computer_information(COMPUTER).await.expect("computer information");
        let mut found = BTreeMap::new();
        for partition in computer.partitions {
            let parameters = partition.parameters.unwrap_or_default();
            let ip_list = parameters.iter().find(|(k, _)| k == "ip_list").map(|(_, v)| v.clone()).unwrap_or(Value::None);
            let addresses = ip_list
                .as_seq()
                .unwrap_or_default()
                .iter()
                .filter_map(|pair| pair.as_seq().and_then(|p| p.get(1)).and_then(Value::as_str).map(str::to_owned))
                .collect();
            found.insert(partition.partition_id, addresses);
        }
        found
    }
}


fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o7777
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).and_then(|m| m.modified()).expect("mtime")
}

fn addresses(json: &serde_json::Value) -> Vec<String> {
    json["address_list"].as_array().expect("address_list").iter().map(|a| a["addr"].as_str().expect("addr").to_owned()).collect()
}

#[tokio::test]
async fn formats_partitions_and_declares_them_to_the_master() {
    let fixture = Fixture::new().await;
    let report = fixture.format(3).await.expect("format");
    assert!(report.posted);
    assert_eq!(report.created_partitions, ["slappart0", "slappart1", "slappart2"]);
    assert_eq!(mode(&fixture.instance_root()), 0o755);
    assert_eq!(mode(&fixture.dir.path().join("opt")), 0o755);
    let mut master_expected = BTreeMap::new();
    for index in 0..3 {
        let name = format!("slappart{index}");
        let path = fixture.instance_root().join(&name);
        assert_eq!(mode(&path), 0o750, "{name}");
        let (text, json) = fixture.resource(&name);
        assert_eq!(mode(&path.join(".slapos-resource")), 0o644);
        assert!(text.starts_with("{\n    \"address_list\": [\n        {\n            \"addr\": \""), "{text}");
        assert!(!text.ends_with('\n'));
        assert_eq!(json["reference"], name.as_str());
        assert_eq!(json["path"], path.display().to_string().as_str());
        assert_eq!(json["user"]["name"], format!("slapuser{index}").as_str());
        assert_eq!(json["user"]["shell"], "/bin/sh");
        let found = addresses(&json);
        assert_eq!(found[0], format!("10.213.0.{}", index + 1));
        assert!(found[1].parse::<std::net::Ipv6Addr>().is_ok(), "{found:?}");
        assert_eq!(json["address_list"][0]["netmask"], "255.255.255.255");
        master_expected.insert(name, found);
    }
    let stored = proto::marshal::decode(&std::fs::read(fixture.computer_xml()).expect("computer_xml")).expect("marshalled");
    assert_eq!(stored.dict_get("reference").and_then(Value::as_str), Some(COMPUTER));
    assert_eq!(stored.dict_get("partition_list").and_then(Value::as_seq).map(<[Value]>::len), Some(3));
    let copy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.dir.path().join("slapos.json")).expect("computer_json")).expect("JSON");
    assert_eq!(copy["partition_list"][2]["reference"], "slappart2");
    assert_eq!(fixture.master_addresses(3).await, master_expected);
}

#[tokio::test]
async fn rerun_changes_nothing_on_disk() {
    let fixture = Fixture::new().await;
    let first = fixture.format(2).await.expect("first format");
    let files = [fixture.instance_root().join("slappart0/.slapos-resource"), fixture.computer_xml(), fixture.dir.path().join("slapos.json")];
    let before: Vec<(SystemTime, Vec<u8>)> = files.iter().map(|f| (mtime(f), std::fs::read(f).expect("read"))).collect();
    let second = fixture.format(2).await.expect("second format");
    assert!(second.written_files.is_empty(), "{:?}", second.written_files);
    assert!(second.created_partitions.is_empty());
    assert_eq!(first.computer, second.computer);
    let after: Vec<(SystemTime, Vec<u8>)> = files.iter().map(|f| (mtime(f), std::fs::read(f).expect("read"))).collect();
    assert_eq!(before, after);
}

#[tokio::test]
async fn fewer_partitions_than_stored_is_refused_and_changes_nothing() {
    let fixture = Fixture::new().await;
    fixture.format(3).await.expect("format");
    let xml_before = std::fs::read(fixture.computer_xml()).expect("computer_xml");
    let error = fixture.format(2).await.expect_err("fewer partitions");
    assert_eq!(error.to_string(), "Requested amount of computer partitions (2) is lower than already configured (3), cannot continue");
    assert_eq!(std::fs::read(fixture.computer_xml()).expect("computer_xml"), xml_before);
    assert!(fixture.instance_root().join("slappart2").is_dir());
}

#[tokio::test]
async fn more_partitions_keep_the_old_ones_and_their_files() {
    let fixture = Fixture::new().await;
    fixture.format(2).await.expect("format two");
    let (_, old) = fixture.resource("slappart1");
    let data = fixture.instance_root().join("slappart0/DATA");
    std::fs::create_dir(&data).expect("partition data");
    std::fs::write(data.join("kept"), "in use").expect("partition file");
    let report = fixture.format(4).await.expect("format four");
    assert_eq!(report.created_partitions, ["slappart2", "slappart3"]);
    assert_eq!(std::fs::read_to_string(data.join("kept")).expect("kept file"), "in use");
    let (_, same) = fixture.resource("slappart1");
    assert_eq!(addresses(&old), addresses(&same));
    let all: Vec<Vec<String>> = (0..4).map(|i| addresses(&fixture.resource(&format!("slappart{i}")).1)).collect();
    let mut unique: Vec<&String> = all.iter().flatten().collect();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 8, "addresses are distinct: {all:?}");
    assert_eq!(fixture.master_addresses(4).await.len(), 4);
}

#[tokio::test]
async fn definition_file_is_honoured() {
    let mut fixture = Fixture::new().await;
    let definition = fixture.dir.path().join("definition.cfg");
    std::fs::write(
        &definition,
        "[computer]\naddress = 10.0.0.1/255.255.255.255\n\
         [partition_0]\naddress = 10.0.0.2/255.255.255.255 2001:db8::2/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n\
         ipv6_range = 2001:db8:0:1::/80\npathname = first\nuser = alice\nnetwork_interface =\n\
         [partition_1]\naddress = 10.0.0.3/255.255.255.255\npathname = second\nuser = bob\n",
    )
    .expect("definition file");
    fixture.set("input_definition_file", &definition.display().to_string());
    let report = fixture.format(2).await.expect("format");
    assert_eq!((report.computer.address.as_str(), report.computer.netmask.as_str()), ("10.0.0.1", "255.255.255.255"));
    let (_, first) = fixture.resource("first");
    assert_eq!(addresses(&first), ["10.0.0.2", "2001:db8::2"]);
    assert_eq!(first["user"]["name"], "alice");
    assert_eq!(first["ipv6_range"]["network"], "2001:db8:0:1::/80");
    assert_eq!(first["ipv6_range"]["prefixlen"], 80);
    let (_, second) = fixture.resource("second");
    assert_eq!(addresses(&second), ["10.0.0.3"]);
    assert_eq!(mode(&fixture.instance_root().join("second")), 0o750);
    let master = fixture.master_addresses(2).await;
    assert_eq!(master.get("first").map(Vec::as_slice), Some(&["10.0.0.2".to_owned(), "2001:db8::2".to_owned()][..]));
    fixture.set("input_definition_file", &fixture.dir.path().join("missing.cfg").display().to_string());
    let missing = fixture.format(2).await.expect_err("missing definition file");
    assert!(missing.to_string().contains("missing.cfg"), "{missing}");
}

#[tokio::test]
async fn unreachable_master_is_a_post_error_and_dry_run_changes_nothing() {
    let mut fixture = Fixture::new().await;
    let dry = FormatOptions { dry_run: true, ..FormatOptions::default() };
    let report = fixture.format_with(2, &dry).await.expect("dry run");
    assert!(!report.posted);
    assert_eq!(report.computer.partitions.len(), 2);
    assert!(!fixture.instance_root().exists() && !fixture.computer_xml().exists());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address");
    let url = MasterUrl::parse(&format!("http://{closed}/")).expect("url");
    fixture.client = SlapClient::new(ClientConfig::new(url)).expect("client");
    let error = fixture.format(2).await.expect_err("nobody listens");
    assert!(matches!(error, FormatError::Post { .. }), "{error:?}");
    assert_eq!(error.to_string(), format!("failed to transfer information to 'http://{closed}/'"));
}

fn ranges(fixture: &Fixture, count: usize) -> Vec<serde_json::Value> {
    (0..count).map(|i| fixture.resource(&format!("slappart{i}")).1["ipv6_range"].clone()).collect()
}

#[tokio::test]
async fn ipv6_ranges_are_declared_and_kept_across_runs() {
    let fixture = Fixture::new().await;
    let report = fixture.format(2).await.expect("format");
    let first = ranges(&fixture, 2);
    let computer_address: std::net::Ipv6Addr = report.computer.address.parse().expect("computer IPv6");
    for (index, range) in first.iter().enumerate() {
        assert_eq!(range["prefixlen"], 80, "{range}");
        assert_eq!(range["netmask"], "ffff:ffff:ffff:ffff:ffff::");
        let addr: std::net::Ipv6Addr = range["addr"].as_str().expect("addr").parse().expect("IPv6");
        let segments = addr.segments();
        assert_eq!(segments[..4], computer_address.segments()[..4], "inside the node's /64");
        assert_eq!(segments[4..], [0x4001 + u16::try_from(index).expect("small"), 0, 0, 0]);
        assert_eq!(range["network"], format!("{addr}/80").as_str());
    }
    let copy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.dir.path().join("slapos.json")).expect("computer_json")).expect("JSON");
    assert_eq!(copy["partition_has_ipv6_range"], true);
    assert_eq!(copy["partition_list"][1]["ipv6_range"], first[1]);
    let stored = proto::marshal::decode(&std::fs::read(fixture.computer_xml()).expect("computer_xml")).expect("marshalled");
    let stored_range = client::value_to_json(&stored)["partition_list"][0]["ipv6_range"].clone();
    assert_eq!(stored_range, first[0]);
    let again = fixture.format(3).await.expect("re-run with one more partition");
    assert_eq!(again.written_files.len(), 3, "only the new partition and the descriptions: {:?}", again.written_files);
    let all = ranges(&fixture, 3);
    assert_eq!(all[..2], first[..]);
    assert!(all[2]["network"].as_str().expect("network").contains(":4003::/80"), "{}", all[2]);
}

#[tokio::test]
async fn ranges_off_writes_empty_ranges_and_small_shift_is_refused() {
    let mut fixture = Fixture::new().await;
    fixture.set("ipv6_prefixshift", "4");
    let error = fixture.format(5).await.expect_err("2**4 < 4 * 5");
    assert!(matches!(error, FormatError::Network { key: "ipv6_prefixshift", .. }), "{error:?}");
    assert!(error.to_string().contains("ipv6_prefixshift"), "{error}");
    assert!(!fixture.instance_root().exists() && !fixture.computer_xml().exists(), "refused before any change");
    fixture.format(4).await.expect("2**4 >= 4 * 4");
    assert!(ranges(&fixture, 4).iter().all(|r| r["prefixlen"] == 68), "{:?}", ranges(&fixture, 4));
    fixture.set("partition_has_ipv6_range", "false");
    fixture.format(4).await.expect("format without ranges");
    assert!(ranges(&fixture, 4).iter().all(|r| *r == serde_json::json!({})), "{:?}", ranges(&fixture, 4));
    let (text, _) = fixture.resource("slappart0");
    assert!(text.contains("\n    \"ipv6_range\": {},\n"), "{text}");
}

/// Whether the test runs as root; prints why it skips otherwise.
fn running_as_root(test: &str) -> bool {
    let root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    if !root {
        eprintln!("skipping {test}: needs root (users and network namespaces)");
    }
    root
}

/// A name no other test run uses: users, groups and namespaces.
fn unique_prefix(kind: &str) -> String {
    format!("slt{kind}{}", std::process::id() % 100_000)
}

/// Removes the users and groups a test created, even when it fails.
struct UsersGuard(Vec<String>);

impl Drop for UsersGuard {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = std::process::Command::new("userdel").arg(name).output();
            let _ = std::process::Command::new("groupdel").arg(name).output();
        }
    }
}

fn user_ids(name: &str) -> Option<(u32, u32)> {
    let output = std::process::Command::new("getent").args(["passwd", name]).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let fields: Vec<&str> = text.trim().split(':').collect();
    Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
}

#[tokio::test]
async fn as_root_alter_user_creates_users_and_owns_partitions() {
    if !running_as_root("as_root_alter_user_creates_users_and_owns_partitions") {
        return;
    }
    let prefix = unique_prefix("u");
    let software_user = format!("{prefix}s");
    let users: Vec<String> = (0..2).map(|i| format!("{prefix}p{i}")).collect();
    let _guard = UsersGuard(users.iter().cloned().chain([software_user.clone()]).collect());
    let mut fixture = Fixture::new().await;
    fixture.set("alter_user", "true");
    fixture.set("user_base_name", &format!("{prefix}p"));
    let options = FormatOptions { software_user: software_user.clone(), ..FormatOptions::default() };
    let report = fixture.format_with(2, &options).await.expect("format as root");
    assert!(report.altered_users);
    let software_ids = user_ids(&software_user).expect("software user exists");
    let software_root = std::fs::metadata(fixture.dir.path().join("opt")).expect("software_root");
    assert_eq!((software_root.uid(), software_root.gid()), software_ids);
    for (index, user) in users.iter().enumerate() {
        let ids = user_ids(user).expect("partition user exists");
        let path = fixture.instance_root().join(format!("slappart{index}"));
        let metadata = std::fs::metadata(&path).expect("partition");
        assert_eq!((metadata.uid(), metadata.gid()), ids, "{user}");
        assert_eq!(mode(&path), 0o750);
        let groups = std::process::Command::new("id").args(["-nG", user]).output().expect("id");
        assert!(String::from_utf8_lossy(&groups.stdout).contains(&software_user), "{user} is in {software_user}");
    }
    let again = fixture.format_with(2, &options).await.expect("re-run as root");
    assert!(again.written_files.is_empty(), "{:?}", again.written_files);
}

/// A network namespace of the test's own, deleted even when it fails.
struct NamespaceGuard(String);

impl Drop for NamespaceGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip").args(["netns", "delete", &self.0]).output();
    }
}

fn ip(arguments: &[&str]) -> String {
    let output = std::process::Command::new("ip").args(arguments).output().expect("ip runs");
    assert!(output.status.success(), "ip {arguments:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn as_root_alter_network_adds_addresses_once_in_a_namespace() {
    if !running_as_root("as_root_alter_network_adds_addresses_once_in_a_namespace") {
        return;
    }
    let namespace = unique_prefix("n");
    let _ = std::process::Command::new("ip").args(["netns", "delete", &namespace]).output();
    let added = std::process::Command::new("ip").args(["netns", "add", &namespace]).output().expect("ip runs");
    if !added.status.success() {
        eprintln!("skipping: cannot create a network namespace: {}", String::from_utf8_lossy(&added.stderr));
        return;
    }
    let _guard = NamespaceGuard(namespace.clone());
    ip(&["-n", &namespace, "link", "set", "lo", "up"]);
    ip(&["-n", &namespace, "addr", "add", "fd42:5a:1::1/64", "dev", "lo"]);
    let mut fixture = Fixture::new().await;
    fixture.set("alter_network", "true");
    let options = FormatOptions { network_namespace: Some(namespace.clone()), ..FormatOptions::default() };
    let report = fixture.format_with(2, &options).await.expect("format as root");
    assert_eq!(report.computer.address, "fd42:5a:1::1");
    assert_eq!(report.added_addresses, ["10.213.0.1", "fd42:5a:1::2", "10.213.0.2", "fd42:5a:1::3"]);
    let shown = ip(&["-n", &namespace, "-o", "addr", "show", "dev", "lo"]);
    for address in ["10.213.0.1/32", "fd42:5a:1::2/64", "10.213.0.2/32", "fd42:5a:1::3/64"] {
        assert!(shown.contains(address), "{address} in {shown}");
    }
    let expected_routes = ["fd42:5a:1:0:4001::/80", "fd42:5a:1:0:4002::/80"];
    assert_eq!(report.added_routes, expected_routes);
    let nonlocal = ip(&["netns", "exec", &namespace, "sysctl", "-n", "net.ipv6.ip_nonlocal_bind"]);
    assert_eq!(nonlocal.trim(), "1");
    let again = fixture.format_with(2, &options).await.expect("re-run");
    assert!(again.added_addresses.is_empty(), "{:?}", again.added_addresses);
    assert!(again.added_routes.is_empty(), "{:?}", again.added_routes);
    assert_eq!(again.computer, report.computer);
    let routes = ip(&["-n", &namespace, "-6", "route", "show", "table", "local"]);
    for range in expected_routes {
        let count = routes.lines().filter(|line| line.starts_with(&format!("local {range} dev lo"))).count();
        assert_eq!(count, 1, "{range} once in {routes}");
    }
}
