//! Conventions enforced by a test (STYLE.md): the crate dependency edges
//! DESIGN.md allows, a `//!` header on every Rust file, files under 900
//! lines, and no stubs or disabled tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    crate::crate_dir().join("../..").canonicalize().expect("workspace root")
}

/// Our crates and the crates of ours each may depend on (normal
/// dependencies; dev-dependencies are free). `cli` may use everything and
/// nothing may use `cli`.
fn allowed_edges() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        ("proto", &[][..]),
        ("profile", &[][..]),
        ("ca", &["proto"][..]),
        ("client", &["proto"][..]),
        ("cache", &["proto"][..]),
        ("master", &["proto", "client"][..]),
        ("node", &["proto", "client", "profile"][..]),
        ("net", &["proto"][..]),
        ("collect", &["proto"][..]),
        ("testkit", &[][..]),
        ("e2e", &[][..]),
    ])
}

fn crates() -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(root().join("crates"))
        .expect("crates/")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    found.sort();
    found
}

/// The names of our crates listed under `[dependencies]` of a manifest.
fn internal_dependencies(manifest: &str, ours: &[String]) -> Vec<String> {
    let mut in_dependencies = false;
    let mut found = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        if !in_dependencies {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or("").trim();
        if ours.iter().any(|o| o == name) {
            found.push(name.to_owned());
        }
    }
    found
}

#[test]
fn crate_edges_follow_the_design() {
    let crates = crates();
    let ours: Vec<String> = crates.iter().map(|(n, _)| n.clone()).collect();
    let allowed = allowed_edges();
    let mut violations = Vec::new();
    for (name, path) in &crates {
        let manifest = std::fs::read_to_string(path.join("Cargo.toml")).expect("manifest");
        for dependency in internal_dependencies(&manifest, &ours) {
            let ok = match allowed.get(name.as_str()) {
                _ if dependency == "cli" => false,
                _ if name == "cli" => true,
                Some(edges) => edges.contains(&dependency.as_str()),
                None => false,
            };
            if !ok {
                violations.push(format!("{name} -> {dependency}"));
            }
        }
        assert!(name == "cli" || allowed.contains_key(name.as_str()), "crate {name} is not in the tidy edge table");
    }
    assert!(violations.is_empty(), "forbidden crate edges: {violations:?}");
}

#[test]
fn internal_dependency_parser_sees_workspace_and_path_forms() {
    let manifest = "[package]\nname = \"x\"\n[dependencies]\nproto.workspace = true\nmaster = { path = \"../master\" }\nserde = \"1\"\n[dev-dependencies]\ncli.workspace = true\n";
    let ours = vec!["proto".to_owned(), "master".to_owned(), "cli".to_owned()];
    assert_eq!(internal_dependencies(manifest, &ours), ["proto", "master"]);
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() && name != "target" && name != ".git" {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn rust_files_have_headers_stay_short_and_hold_no_stubs() {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    assert!(files.len() > 10, "found too few files: {files:?}");
    let forbidden = [
        concat!("#[", "ignore"),
        concat!("#[", "should_panic"),
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
        concat!("dbg", "!("),
    ];
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let shown = file.strip_prefix(root()).unwrap_or(file).display().to_string();
        if !text.trim_start().starts_with("//!") {
            problems.push(format!("{shown}: no //! header"));
        }
        let lines = text.lines().count();
        if lines > 900 {
            problems.push(format!("{shown}: {lines} lines (max 900)"));
        }
        for pattern in forbidden {
            if text.contains(pattern) {
                problems.push(format!("{shown}: contains {pattern}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
