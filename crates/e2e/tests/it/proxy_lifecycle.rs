//! `slapos proxy start` as an operator runs it: from a slapproxy
//! configuration file, stopped by SIGTERM with exit status 0, and its
//! SQLite store intact for the next start.

use std::time::{Duration, Instant};

use client::{ClientConfig, MasterUrl, RequestResult, RequestSpec, SlapClient};
use proto::Value;

use crate::process::Server;

fn write_config(dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("slapos.cfg");
    let text = format!(
        "[slapos]\ncomputer_id = COMP-1\n\n[slapproxy]\nhost = 127.0.0.1\nport = 0\ndatabase_uri = {}\n",
        dir.join("lib/proxy.db").display()
    );
    std::fs::create_dir_all(dir.join("lib")).expect("lib dir");
    std::fs::write(&config, text).expect("write config");
    config
}

fn format_description() -> Value {
    let slot = Value::dict_from([
        ("reference", Value::str("slappart0")),
        ("tap", Value::dict_from([("name", Value::str("lo"))])),
        ("address_list", Value::List(Vec::new())),
    ]);
    Value::dict_from([
        ("reference", Value::str("COMP-1")),
        ("address", Value::str("")),
        ("netmask", Value::str("")),
        ("partition_list", Value::List(vec![slot])),
    ])
}

async fn request_slot(url: &str) -> String {
    let client = SlapClient::new(ClientConfig::new(MasterUrl::parse(url).expect("url"))).expect("client");
    match client.request(&RequestSpec::new("http://sr/", "kept")).await.expect("request") {
        RequestResult::Ready(instance) => instance.partition_id,
        RequestResult::NotReady => panic!("the master never answers 408"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_proxy_cleanly_and_the_store_survives() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path());
    let config = config.to_str().expect("utf-8 path");
    let mut server = Server::start(&["proxy", "start", "--cfg", config]);
    let client = SlapClient::new(ClientConfig::new(MasterUrl::parse(&server.url).expect("url"))).expect("client");
    client.load_computer_configuration(&format_description()).await.expect("format");
    assert_eq!(request_slot(&server.url).await, "slappart0");

    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = server.try_wait() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the proxy did not stop within 10 s of SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "SIGTERM is a clean stop: {exit}");

    // The next start finds the instance where it was.
    let again = Server::start(&["proxy", "start", "--cfg", config]);
    assert_eq!(request_slot(&again.url).await, "slappart0", "the instance survived the restart");
}
