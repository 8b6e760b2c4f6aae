//! The Python probe cache of `slapos profile resolve`, seen from outside:
//! `--python` names a wrapper script that counts its runs in a file, then
//! execs `python3`. A second run must not start it; a changed interpreter
//! (mtime), a corrupt cache file or an unwritable cache must make the run
//! probe again, and still succeed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use crate::fixture::TempDir;

const PROFILE: &str = "[buildout]\nparts =\n\n[facts]\nexecutable = ${buildout:executable}\n";

/// A scratch directory with the profile and the counting wrapper.
struct Setup {
    temp: TempDir,
}

impl Setup {
    fn new(prefix: &str) -> Setup {
        use std::os::unix::fs::PermissionsExt;
        let temp = TempDir::new(prefix);
        let directory = temp.path();
        std::fs::write(directory.join("buildout.cfg"), PROFILE).expect("profile");
        let runs = directory.join("runs");
        let script = format!("#!/bin/sh\necho run >> '{}'\nexec python3 \"$@\"\n", runs.display());
        let wrapper = directory.join("python-wrapper");
        std::fs::write(&wrapper, script).expect("wrapper");
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Setup { temp }
    }

    fn wrapper(&self) -> PathBuf {
        self.temp.path().join("python-wrapper")
    }

    fn cache(&self) -> PathBuf {
        self.temp.path().join("cache")
    }

    /// How many times the wrapper ran.
    fn runs(&self) -> usize {
        std::fs::read_to_string(self.temp.path().join("runs")).map_or(0, |text| text.lines().count())
    }

    /// `slapos --json profile resolve buildout.cfg --python WRAPPER` with
    /// `XDG_CACHE_HOME=cache`; the resolved `facts:executable`.
    fn resolve(&self, cache: &Path) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_slapos"))
            .args(["--json", "profile", "resolve", "buildout.cfg", "--python"])
            .arg(self.wrapper())
            .current_dir(self.temp.path())
            .env("HOME", self.temp.path())
            .env("XDG_CACHE_HOME", cache)
            .env_remove("SLAPOS_PYTHON")
            .env_remove("SLAPOS_LOG")
            .stdin(Stdio::null())
            .output()
            .expect("slapos runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        let sections: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
        let executable = sections["facts"]["executable"].as_str().unwrap_or_default().to_owned();
        assert!(!executable.is_empty(), "{sections}");
        executable
    }

    /// The one cache file.
    fn cache_file(&self) -> PathBuf {
        let directory = self.cache().join("slapos-rs");
        let files: Vec<PathBuf> = std::fs::read_dir(&directory)
            .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
            .map(|entry| entry.expect("entry").path())
            .collect();
        assert_eq!(files.len(), 1, "one file per interpreter, no temporary left: {files:?}");
        files.into_iter().next().expect("one file")
    }
}

#[test]
fn second_run_does_not_start_python() {
    let setup = Setup::new("probe-cache");
    let first = setup.resolve(&setup.cache());
    assert_eq!(setup.runs(), 1);
    let second = setup.resolve(&setup.cache());
    assert_eq!(setup.runs(), 1, "the cached probe is used");
    assert_eq!(first, second);
    let entry: serde_json::Value = serde_json::from_slice(&std::fs::read(setup.cache_file()).expect("read")).expect("JSON");
    assert_eq!(entry["key"]["interpreter"], setup.wrapper().display().to_string());
    assert_eq!(entry["probe"]["sys_executable"], first.as_str());
}

#[test]
fn changed_interpreter_mtime_probes_again() {
    let setup = Setup::new("probe-mtime");
    setup.resolve(&setup.cache());
    let file = std::fs::File::options().write(true).open(setup.wrapper()).expect("open the wrapper");
    file.set_modified(SystemTime::now() - Duration::from_secs(3600)).expect("set mtime");
    drop(file);
    setup.resolve(&setup.cache());
    assert_eq!(setup.runs(), 2, "an interpreter with another mtime is probed again");
    setup.resolve(&setup.cache());
    assert_eq!(setup.runs(), 2, "and the new probe is cached");
}

#[test]
fn corrupt_cache_file_is_ignored_and_rewritten() {
    let setup = Setup::new("probe-corrupt");
    setup.resolve(&setup.cache());
    let cache_file = setup.cache_file();
    std::fs::write(&cache_file, "{\"format\": 1, \"key\": tru").expect("corrupt the cache");
    setup.resolve(&setup.cache());
    assert_eq!(setup.runs(), 2);
    let text = std::fs::read_to_string(&cache_file).expect("read");
    serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|error| panic!("rewritten as JSON ({error}): {text}"));
    setup.resolve(&setup.cache());
    assert_eq!(setup.runs(), 2, "the rewritten file is used");
}

#[test]
fn unwritable_cache_falls_back_to_probing_every_run() {
    let setup = Setup::new("probe-unwritable");
    let not_a_directory = setup.temp.path().join("cache-file");
    std::fs::write(&not_a_directory, "").expect("a file where the cache would go");
    let first = setup.resolve(&not_a_directory);
    let second = setup.resolve(&not_a_directory);
    assert_eq!(first, second);
    assert_eq!(setup.runs(), 2);
}
