//! `slapos.recipe.build:download` and `:download-unpacked` against a
//! loopback HTTP server: checksums (md5, sha256, sha512) right and wrong,
//! `alternate-url`, `offline`, `file://` and plain paths, `destination`,
//! `filename`, shared parts, update; tarballs (gz, bz2, xz, plain), zip,
//! `strip-top-level-dir`, and members that try to escape.

use std::path::{Path, PathBuf};

use super::build_fixture::{
    bzip2, crc32, gzip, install, install_with, lifecycle_install, lzip, md5_hex, profile, sha256_hex, sha512_hex, tar_bytes, xz, HttpServer, Member, RecordingProgress,
};

fn temporary() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

const BODY: &[u8] = b"the file body\n";

fn download_section(name: &str, extra: &str) -> String {
    format!("[{name}]\nrecipe = slapos.recipe.build:download\n{extra}\n")
}

#[test]
fn download_with_right_md5_writes_location_file_and_reports_progress() {
    let server = HttpServer::start();
    server.put("f.txt", BODY);
    let root = temporary();
    let text = profile("f", &download_section("f", &format!("url = {}\nmd5sum = {}", server.url("f.txt"), md5_hex(BODY))));
    let progress = RecordingProgress::default();
    let run = install_with(root.path(), &text, &progress, |_, _| ()).expect("profile initialises");
    assert_eq!(run.error(), "");
    let location = root.path().join("parts/f");
    assert_eq!(run.option("f", "location"), location.to_string_lossy());
    assert_eq!(run.option("f", "target"), location.join("f").to_string_lossy());
    assert_eq!(read(&location.join("f")), "the file body\n");
    assert_eq!(run.paths["f"], vec![location]);
    assert_eq!(*progress.bytes_done_max.lock().expect("lock"), BODY.len() as u64);
    assert!(progress.steps.lock().expect("lock").iter().any(|step| step.starts_with("f: downloading http://")));
}

#[test]
fn download_filename_uses_its_basename() {
    let server = HttpServer::start();
    server.put("f.txt", BODY);
    let root = temporary();
    let text = profile("f", &download_section("f", &format!("url = {}\nfilename = sub/name.txt", server.url("f.txt"))));
    let run = install(root.path(), &text).expect("profile initialises");
    assert_eq!(run.error(), "");
    assert_eq!(read(&root.path().join("parts/f/name.txt")), "the file body\n");
}

#[test]
fn download_to_destination_returns_the_file_and_sets_no_location() {
    let server = HttpServer::start();
    server.put("f.txt", BODY);
    let root = temporary();
    let destination = root.path().join("out.txt");
    let text =
        profile("f", &download_section("f", &format!("url = {}\ndestination = {}", server.url("f.txt"), destination.display())));
    let run = install(root.path(), &text).expect("profile initialises");
    assert_eq!(run.error(), "");
    assert_eq!(read(&destination), "the file body\n");
    assert_eq!(run.paths["f"], vec![destination.clone()]);
    assert_eq!(run.option("f", "target"), destination.to_string_lossy());
    assert!(!run.options["f"].contains_key("location"));
}

/// Installs a download with `checksum_lines` and returns the run and the
/// URL.
fn download_checked(root: &Path, server: &HttpServer, checksum_lines: &str) -> (super::build_fixture::Run, String) {
    server.put("f.txt", BODY);
    let url = server.url("f.txt");
    let text = profile("f", &download_section("f", &format!("url = {url}\n{checksum_lines}")));
    (install(root, &text).expect("profile initialises"), url)
}

#[test]
fn download_wrong_md5_fails_and_leaves_nothing() {
    let server = HttpServer::start();
    let root = temporary();
    let (run, url) = download_checked(root.path(), &server, &format!("md5sum = {}", md5_hex(b"other")));
    assert_eq!(run.error(), format!("MD5 checksum mismatch downloading '{url}'"));
    let location = root.path().join("parts/f");
    assert!(!location.exists(), "nothing may be left at {}", location.display());
    let (_, _, created) = run.failure.as_ref().expect("a failure");
    assert_eq!(created, &vec![location]);
    assert!(run.paths.is_empty());
}

#[test]
fn download_checks_sha256_and_sha512() {
    let server = HttpServer::start();
    for (option, right, wrong_name) in [("sha256sum", sha256_hex(BODY), "SHA256"), ("sha512sum", sha512_hex(BODY), "SHA512")] {
        let root = temporary();
        let (run, _) = download_checked(root.path(), &server, &format!("{option} = {right}"));
        assert_eq!(run.error(), "", "{option} right");
        assert_eq!(read(&root.path().join("parts/f/f")), "the file body\n");
        let root = temporary();
        let (run, url) = download_checked(root.path(), &server, &format!("md5sum = {}\n{option} = {}", md5_hex(BODY), "0".repeat(8)));
        assert_eq!(run.error(), format!("{wrong_name} checksum mismatch downloading '{url}'"));
        assert!(!root.path().join("parts/f").exists());
    }
}

#[test]
fn download_falls_back_to_alternate_url_on_http_error() {
    let server = HttpServer::start();
    server.put("mirror/f.txt", BODY);
    let root = temporary();
    let text = profile(
        "f",
        &download_section(
            "f",
            &format!("url = {}\nalternate-url = {}\nmd5sum = {}", server.url("missing.txt"), server.url("mirror/f.txt"), md5_hex(BODY)),
        ),
    );
    let run = install(root.path(), &text).expect("profile initialises");
    assert_eq!(run.error(), "");
    assert_eq!(read(&root.path().join("parts/f/f")), "the file body\n");
    assert_eq!(server.requests(), vec!["/missing.txt".to_owned(), "/mirror/f.txt".to_owned()]);
}

#[test]
fn download_without_alternate_reports_the_http_error() {
    let server = HttpServer::start();
    let root = temporary();
    let url = server.url("missing.txt");
    let run = install(root.path(), &profile("f", &download_section("f", &format!("url = {url}")))).expect("initialises");
    assert_eq!(run.error(), format!("Error downloading {url}: HTTP Error 404: Not Found"));
    assert!(!root.path().join("parts/f").exists());
}

#[test]
fn download_offline_refuses_the_network_but_reads_files() {
    let server = HttpServer::start();
    server.put("f.txt", BODY);
    let root = temporary();
    let url = server.url("f.txt");
    let run = install(root.path(), &profile("f", &download_section("f", &format!("url = {url}\noffline = true")))).expect("initialises");
    assert_eq!(run.error(), format!("Couldn't download '{url}' in offline mode."));
    assert!(server.requests().is_empty());

    let local = root.path().join("local.txt");
    std::fs::write(&local, BODY).expect("write local file");
    let section = format!("url = file://{}\noffline = true\nmd5sum = {}", local.display(), md5_hex(BODY));
    let run = install(root.path(), &profile("f", &download_section("f", &section))).expect("initialises");
    assert_eq!(run.error(), "");
    assert_eq!(read(&root.path().join("parts/f/f")), "the file body\n");
}

#[test]
fn download_reads_plain_paths_relative_to_the_buildout_directory() {
    let root = temporary();
    std::fs::write(root.path().join("local.txt"), BODY).expect("write local file");
    let run = install(root.path(), &profile("f", &download_section("f", &format!("url = local.txt\nmd5sum = {}", md5_hex(BODY)))))
        .expect("initialises");
    assert_eq!(run.error(), "");
    assert_eq!(read(&root.path().join("parts/f/f")), "the file body\n");
    let wrong = md5_hex(b"x");
    let run = install(root.path(), &profile("f", &download_section("f", &format!("url = local.txt\nmd5sum = {wrong}")))).expect("initialises");
    let local = root.path().join("local.txt");
    assert_eq!(run.error(), format!("MD5 checksum mismatch for local resource at '{}'.", local.display()));
}

#[test]
fn download_refuses_mode_and_unpinned_shared() {
    let root = temporary();
    let error = install(root.path(), &profile("f", &download_section("f", "url = http://127.0.0.1:9/x\nmode = 0644"))).expect_err("mode");
    assert!(error.contains("option 'mode' not supported"), "{error}");
    let shared_profile = format!(
        "[buildout]\nparts = f\nshared-part-list = {}\n\n{}",
        root.path().display(),
        download_section("f", "url = http://127.0.0.1:9/x\nshared = true")
    );
    let error = install(root.path(), &shared_profile).expect_err("shared without md5sum");
    assert!(error.contains("When shared=true, option 'md5sum' must be set"), "{error}");
}

#[test]
fn download_update_downloads_again_only_without_checksum() {
    let server = HttpServer::start();
    for (pinned, expected) in [(true, "the file body\n"), (false, "changed\n")] {
        server.put("f.txt", BODY);
        let root = temporary();
        let checksum = if pinned { format!("md5sum = {}", md5_hex(BODY)) } else { String::new() };
        let text = profile("f", &download_section("f", &format!("url = {}\n{checksum}", server.url("f.txt"))));
        let progress = RecordingProgress::default();
        let run = install_with(root.path(), &text, &progress, |part, context| {
            server.put("f.txt", "changed\n");
            assert_eq!(part.update(context).expect("update succeeds"), None);
        })
        .expect("initialises");
        assert_eq!(run.error(), "");
        assert_eq!(read(&root.path().join("parts/f/f")), expected, "pinned: {pinned}");
    }
}

#[test]
fn shared_download_is_stored_once_read_only_and_returns_no_path() {
    let server = HttpServer::start();
    server.put("f.txt", BODY);
    let shared_root = temporary();
    let section = download_section("f", &format!("url = {}\nmd5sum = {}\nshared = true", server.url("f.txt"), md5_hex(BODY)));
    let text = format!("[buildout]\nparts = f\nshared-part-list = {}\n\n{section}", shared_root.path().display());
    let first = temporary();
    let run = install(first.path(), &text).expect("initialises");
    assert_eq!(run.error(), "");
    assert_eq!(run.paths["f"], Vec::<PathBuf>::new());
    let location = PathBuf::from(run.option("f", "location"));
    assert!(location.starts_with(shared_root.path().join("f")), "{}", location.display());
    assert!(location.join(".buildout-shared.json").exists());
    assert_eq!(read(&location.join("f")), "the file body\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(location.join("f")).expect("stat").permissions().mode();
    assert_eq!(mode & 0o222, 0, "shared files are read-only");
    let second = temporary();
    let again = install(second.path(), &text).expect("initialises");
    assert_eq!(again.option("f", "location"), location.to_string_lossy());
    assert_eq!(server.requests().len(), 1, "the second profile reuses the shared part");
}

#[test]
fn lifecycle_records_nothing_for_a_wrong_checksum_then_installs_and_uninstalls() {
    let server = HttpServer::start();
    server.put("f.txt", BODY);
    let root = temporary();
    let url = server.url("f.txt");
    let wrong = profile("f", &download_section("f", &format!("url = {url}\nmd5sum = {}", md5_hex(b"wrong"))));
    let error = lifecycle_install(root.path(), &wrong).expect_err("wrong checksum");
    assert!(error.contains(&format!("MD5 checksum mismatch downloading '{url}'")), "{error}");
    let location = root.path().join("parts/f");
    assert!(!location.exists());
    let record = std::fs::read_to_string(root.path().join(".installed.cfg")).unwrap_or_default();
    assert!(!record.contains("[f]"), "{record}");

    let right = profile("f", &download_section("f", &format!("url = {url}\nmd5sum = {}", md5_hex(BODY))));
    let report = lifecycle_install(root.path(), &right).expect("installs");
    assert_eq!(report.installed, vec!["f".to_owned()]);
    assert_eq!(read(&location.join("f")), "the file body\n");
    let record = read(&root.path().join(".installed.cfg"));
    assert!(record.contains(&format!("__buildout_installed__ = {}", location.display())), "{record}");

    let report = lifecycle_install(root.path(), "[buildout]\nparts =\n").expect("uninstalls");
    assert_eq!(report.uninstalled, vec!["f".to_owned()]);
    assert!(!location.exists());
}

// ---- download-unpacked ----// ---- download-unpacked ----

fn unpacked_section(name: &str, extra: &str) -> String {
    format!("[{name}]\nrecipe = slapos.recipe.build:download-unpacked\n{extra}\n")
}

fn project_tar(top: bool) -> Vec<u8> {
    if top {
        tar_bytes(&[
            Member::Dir("proj-1.0/"),
            Member::File("proj-1.0/README", b"readme\n", 0o644),
            Member::Dir("proj-1.0/bin/"),
            Member::File("proj-1.0/bin/run", b"#!/bin/sh\necho run\n", 0o755),
            Member::Symlink("proj-1.0/bin/alias", "run"),
        ])
    } else {
        tar_bytes(&[Member::File("a.txt", b"a\n", 0o644), Member::File("b.txt", b"b\n", 0o644)])
    }
}

/// Serves `archive` as `name`, installs a download-unpacked part of it
/// with `extra` options; returns the run and the part's location.
fn unpack(name: &str, archive: &[u8], extra: &str) -> (tempfile::TempDir, super::build_fixture::Run) {
    let server = HttpServer::start();
    server.put(name, archive);
    let root = temporary();
    let section = unpacked_section("u", &format!("url = {}\nmd5sum = {}\n{extra}", server.url(name), md5_hex(archive)));
    let run = install(root.path(), &profile("u", &section)).expect("initialises");
    (root, run)
}

#[test]
fn unpacked_tar_gz_with_one_top_directory_is_stripped_by_default() {
    let (root, run) = unpack("p.tar.gz", &gzip(&project_tar(true)), "");
    assert_eq!(run.error(), "");
    let location = root.path().join("parts/u");
    assert_eq!(run.option("u", "location"), location.to_string_lossy());
    assert_eq!(run.option("u", "target"), location.to_string_lossy());
    assert_eq!(run.paths["u"], vec![location.clone()]);
    assert_eq!(read(&location.join("README")), "readme\n");
    assert_eq!(std::fs::read_link(location.join("bin/alias")).expect("symlink kept"), PathBuf::from("run"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(location.join("bin/run")).expect("stat").permissions().mode() & 0o777, 0o755);
}

#[test]
fn unpacked_tar_bz2_without_top_directory_is_kept_as_is() {
    let (root, run) = unpack("p.tar.bz2", &bzip2(&project_tar(false)), "");
    assert_eq!(run.error(), "");
    let location = root.path().join("parts/u");
    assert_eq!(read(&location.join("a.txt")), "a\n");
    assert_eq!(read(&location.join("b.txt")), "b\n");
}

#[test]
fn unpacked_tar_xz_keeps_its_top_directory_when_told_not_to_strip() {
    let (root, run) = unpack("p.tar.xz", &xz(&project_tar(true)), "strip-top-level-dir = false");
    assert_eq!(run.error(), "");
    assert_eq!(read(&root.path().join("parts/u/proj-1.0/README")), "readme\n");
}

#[test]
fn unpacked_tar_lz_with_two_members() {
    let tar = project_tar(true);
    let (first, second) = tar.split_at(700);
    let (root, run) = unpack("p.tar.lz", &lzip(&[first, second]), "");
    assert_eq!(run.error(), "");
    assert_eq!(read(&root.path().join("parts/u/README")), "readme\n");
}

#[test]
fn unpacked_plain_tar_with_strip_true_needs_one_top_entry() {
    let (root, run) = unpack("p.tar", &project_tar(false), "strip-top-level-dir = true");
    assert!(run.error().contains("exactly one top-level entry"), "{}", run.error());
    assert!(!root.path().join("parts/u").exists());
    let (root, run) = unpack("p.tar", &project_tar(true), "strip-top-level-dir = true");
    assert_eq!(run.error(), "");
    assert_eq!(read(&root.path().join("parts/u/README")), "readme\n");
}

#[test]
fn unpacked_members_never_escape_the_location() {
    let root = temporary();
    let outside = root.path().join("outside");
    let absolute = format!("{}/abs-evil", outside.display());
    let archive = gzip(&tar_bytes(&[
        Member::File("top/ok.txt", b"ok\n", 0o644),
        Member::File("../evil", b"evil\n", 0o644),
        Member::File("top/../../evil2", b"evil\n", 0o644),
        Member::File(&absolute, b"evil\n", 0o644),
        Member::Symlink("top/up", "../../.."),
        Member::Symlink("top/etc", "/etc"),
        Member::Symlink("top/inside", "ok.txt"),
        Member::File("top/up/escaped", b"evil\n", 0o644),
    ]));
    let server = HttpServer::start();
    server.put("evil.tgz", archive.as_slice());
    let section = unpacked_section("u", &format!("url = {}\nmd5sum = {}\nstrip-top-level-dir = false", server.url("evil.tgz"), md5_hex(&archive)));
    let run = install(root.path(), &profile("u", &section)).expect("initialises");
    assert_eq!(run.error(), "");
    let location = root.path().join("parts/u");
    assert_eq!(read(&location.join("top/ok.txt")), "ok\n");
    assert!(!root.path().join("parts/evil").exists());
    assert!(!root.path().join("evil").exists());
    assert!(!root.path().join("evil2").exists());
    assert!(!Path::new(&absolute).exists());
    assert!(!location.join("top/etc").exists(), "absolute symlink skipped");
    let up = location.join("top/up");
    assert!(std::fs::symlink_metadata(&up).map(|metadata| !metadata.file_type().is_symlink()).unwrap_or(true), "escaping symlink skipped");
    assert_eq!(std::fs::read_link(location.join("top/inside")).expect("inner symlink kept"), PathBuf::from("ok.txt"));
    assert!(!root.path().join("escaped").exists());
}

#[test]
fn unpacked_zip_is_extracted() {
    let zip = zip_bytes(&[("z/one.txt", b"one\n"), ("z/sub/two.txt", b"two\n")]);
    let (root, run) = unpack("p.zip", &zip, "");
    assert_eq!(run.error(), "");
    let location = root.path().join("parts/u");
    assert_eq!(read(&location.join("one.txt")), "one\n");
    assert_eq!(read(&location.join("sub/two.txt")), "two\n");
}

#[test]
fn unpacked_wrong_md5_leaves_nothing() {
    let server = HttpServer::start();
    let archive = gzip(&project_tar(true));
    server.put("p.tgz", archive.as_slice());
    let root = temporary();
    let url = server.url("p.tgz");
    let section = unpacked_section("u", &format!("url = {url}\nmd5sum = {}", md5_hex(b"nope")));
    let run = install(root.path(), &profile("u", &section)).expect("initialises");
    assert_eq!(run.error(), format!("MD5 checksum mismatch downloading '{url}'"));
    assert!(!root.path().join("parts/u").exists());
}

#[test]
fn unpacked_sha256_and_destination() {
    let server = HttpServer::start();
    let archive = gzip(&project_tar(true));
    server.put("p.tgz", archive.as_slice());
    let root = temporary();
    let destination = root.path().join("dest");
    let section = unpacked_section(
        "u",
        &format!("url = {}\nsha256sum = {}\ndestination = {}", server.url("p.tgz"), sha256_hex(&archive), destination.display()),
    );
    let run = install(root.path(), &profile("u", &section)).expect("initialises");
    assert_eq!(run.error(), "");
    assert_eq!(run.option("u", "location"), destination.to_string_lossy());
    assert_eq!(read(&destination.join("README")), "readme\n");
}

/// A zip of stored members, written by hand (local headers, central
/// directory, end record).
fn zip_bytes(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut output = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let offset = output.len() as u32;
        let (crc, size, name_length) = (crc32(data), data.len() as u32, name.len() as u16);
        output.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00");
        output.extend_from_slice(&crc.to_le_bytes());
        output.extend_from_slice(&size.to_le_bytes());
        output.extend_from_slice(&size.to_le_bytes());
        output.extend_from_slice(&name_length.to_le_bytes());
        output.extend_from_slice(&0u16.to_le_bytes());
        output.extend_from_slice(name.as_bytes());
        output.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02\x14\x03\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00");
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&name_length.to_le_bytes());
        central.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        central.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let central_offset = output.len() as u32;
    output.extend_from_slice(&central);
    output.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
    output.extend_from_slice(&(members.len() as u16).to_le_bytes());
    output.extend_from_slice(&(members.len() as u16).to_le_bytes());
    output.extend_from_slice(&(central.len() as u32).to_le_bytes());
    output.extend_from_slice(&central_offset.to_le_bytes());
    output.extend_from_slice(&0u16.to_le_bytes());
    output
}
