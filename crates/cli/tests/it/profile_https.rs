//! `slapos profile resolve|install` over https:// against a local server
//! whose certificate a private CA signed (`https_server`): trusted with
//! `--ca-cert` or `SLAPOS_CA_CERT`, refused without it with an error that
//! names the URL and says how to trust the CA; recipe downloads stream
//! over https into their file.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::fixture::TempDir;
use crate::https_server::HttpsServer;

const BASE: &str = "[buildout]\nparts =\n\n[base]\nfrom = remote\n";

/// A finished `slapos` run: exit code, stdout, stderr.
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `slapos ARGS` in `directory` with its own HOME and cache.
fn slapos(directory: &Path, args: &[&str], ca_env: Option<&Path>) -> Finished {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slapos"));
    command
        .args(args)
        .current_dir(directory)
        .env("HOME", directory)
        .env("XDG_CACHE_HOME", directory.join("cache"))
        .env_remove("SLAPOS_CA_CERT")
        .env_remove("SLAPOS_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    if let Some(ca) = ca_env {
        command.env("SLAPOS_CA_CERT", ca);
    }
    let output = command.output().expect("slapos runs");
    Finished {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A directory whose `buildout.cfg` extends `base.cfg` of `server`.
fn extending_profile(server: &HttpsServer, prefix: &str) -> TempDir {
    let temp = TempDir::new(prefix);
    let profile = format!("[buildout]\nextends = {}\n\n[local]\nseen = ${{base:from}}\n", server.url("/base.cfg"));
    std::fs::write(temp.path().join("buildout.cfg"), profile).expect("profile");
    temp
}

fn assert_resolved(run: &Finished) {
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let sections: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON object");
    assert_eq!(sections["base"]["from"], "remote");
    assert_eq!(sections["local"]["seen"], "remote");
}

#[test]
fn https_extends_resolves_with_the_private_ca_given() {
    let server = HttpsServer::start(vec![("/base.cfg".to_owned(), BASE.as_bytes().to_vec())]);
    let temp = extending_profile(&server, "https-ca-flag");
    let ca = server.ca_file().to_string_lossy().into_owned();
    let run = slapos(temp.path(), &["--json", "profile", "resolve", "buildout.cfg", "--ca-cert", &ca], None);
    assert_resolved(&run);
}

#[test]
fn https_extends_resolves_with_the_ca_from_the_environment() {
    let server = HttpsServer::start(vec![("/base.cfg".to_owned(), BASE.as_bytes().to_vec())]);
    let temp = extending_profile(&server, "https-ca-env");
    let run = slapos(temp.path(), &["--json", "profile", "resolve", "buildout.cfg"], Some(server.ca_file()));
    assert_resolved(&run);
}

#[test]
fn https_extends_without_the_ca_fails_with_a_certificate_error_naming_the_url() {
    let server = HttpsServer::start(vec![("/base.cfg".to_owned(), BASE.as_bytes().to_vec())]);
    let temp = extending_profile(&server, "https-no-ca");
    let run = slapos(temp.path(), &["profile", "resolve", "buildout.cfg"], None);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let url = server.url("/base.cfg");
    assert!(run.stderr.contains(&format!("Error downloading extends for URL {url}")), "{}", run.stderr);
    assert!(run.stderr.contains("invalid peer certificate: UnknownIssuer"), "{}", run.stderr);
    assert!(run.stderr.contains("--ca-cert FILE or SLAPOS_CA_CERT"), "{}", run.stderr);
}

#[test]
fn unreadable_ca_file_fails_naming_it() {
    let temp = TempDir::new("https-bad-ca");
    std::fs::write(temp.path().join("buildout.cfg"), BASE).expect("profile");
    let run = slapos(temp.path(), &["profile", "resolve", "buildout.cfg", "--ca-cert", "missing.pem"], None);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("cannot read the CA certificate file missing.pem"), "{}", run.stderr);
}

#[test]
fn install_streams_an_https_download_into_its_part() {
    let payload: Vec<u8> = (0..2_500_000_u32).map(|n| (n % 253) as u8).collect();
    let server = HttpsServer::start(vec![("/files/payload.bin".to_owned(), payload.clone())]);
    let temp = TempDir::new("https-download");
    let profile = format!(
        "[buildout]\nparts = payload\n\n[payload]\nrecipe = slapos.recipe.build:download\nfilename = payload.bin\nurl = {}\n",
        server.url("/files/payload.bin")
    );
    std::fs::write(temp.path().join("buildout.cfg"), profile).expect("profile");
    let ca = server.ca_file().to_string_lossy().into_owned();
    let run = slapos(temp.path(), &["profile", "install", "buildout.cfg", "--ca-cert", &ca], None);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let downloaded = std::fs::read(temp.path().join("parts/payload/payload.bin")).expect("the downloaded file");
    assert!(downloaded == payload, "the file arrives whole ({} of {} bytes)", downloaded.len(), payload.len());
}
