//! `slapos profile install` as a process: a run killed with SIGKILL in the
//! middle of a part (a `plone.recipe.command` sleeping) must leave a record
//! that the next run trusts: the killed part is not recorded as installed,
//! what its journal names is cleaned, and the next run completes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixture::TempDir;

/// How long a step may take before the test gives up.
const DEADLINE: Duration = Duration::from_secs(60);

fn slapos_install(directory: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slapos"));
    command
        .args(["profile", "install", "buildout.cfg"])
        .current_dir(directory)
        .env("HOME", directory)
        .env_remove("SLAPOS_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// Runs to the end; returns (exit code, stdout, stderr).
fn run_to_end(directory: &Path, extra: &[&str]) -> (i32, String, String) {
    let output = slapos_install(directory).args(extra).output().expect("slapos runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Starts a run with its output discarded (the recipe's orphaned `sleep`
/// must not hold a pipe open), waits until `marker` holds the pid the
/// command wrote, kills the run with SIGKILL, then the orphaned command.
fn run_and_kill_when(directory: &Path, marker: &str) {
    let mut child = slapos_install(directory).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("slapos starts");
    let marker = directory.join(marker);
    let started = Instant::now();
    let pid = loop {
        if let Ok(text) = std::fs::read_to_string(&marker) {
            if let Ok(pid) = text.trim().parse::<u32>() {
                break pid;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("slapos ended ({status}) before the command started");
        }
        assert!(started.elapsed() < DEADLINE, "the command never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().expect("SIGKILL slapos");
    child.wait().expect("reap slapos");
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn recorded_parts(directory: &Path) -> String {
    read(&directory.join(".installed.cfg")).lines().find_map(|line| line.strip_prefix("parts = ")).unwrap_or_default().to_owned()
}

const KILLED_INSTALL: &str = "[buildout]\nparts = dirs cmd\n\n[dirs]\nrecipe = slapos.recipe.build:mkdirectory\nvar = var\n\n[cmd]\nrecipe = plone.recipe.command\nlocation = out\ncommand = mkdir -p out && touch out/stale && echo $$ > started && exec sleep 30\n";

#[test]
fn install_killed_mid_part_is_cleaned_and_completed_by_the_next_run() {
    let temp = TempDir::new("profile-kill-install");
    let directory = temp.path();
    std::fs::write(directory.join("buildout.cfg"), KILLED_INSTALL).expect("profile");
    run_and_kill_when(directory, "started");

    assert_eq!(recorded_parts(directory), "dirs", "the killed part is not recorded");
    let journal = read(&directory.join(".installed.cfg.journal"));
    assert!(journal.contains("action = install") && journal.contains("part = cmd"), "{journal}");
    assert!(directory.join("out/stale").exists());

    let finished = KILLED_INSTALL.replace("touch out/stale && echo $$ > started && exec sleep 30", "echo done > out/done");
    std::fs::write(directory.join("buildout.cfg"), finished).expect("profile");
    let (code, stdout, stderr) = run_to_end(directory, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Cleaning up cmd: a previous run was killed during its install."), "{stderr}");
    assert!(stderr.contains("Updating dirs.\nInstalling cmd.\n"), "{stderr}");
    assert_eq!(stdout.trim(), "1 installed, 1 updated, 0 uninstalled");
    assert_eq!(recorded_parts(directory), "dirs cmd");
    assert!(!directory.join(".installed.cfg.journal").exists());
    assert!(!directory.join("out/stale").exists(), "what the killed attempt left in its location is gone");
    assert_eq!(read(&directory.join("out/done")), "done\n");
}

const KILLED_UPDATE: &str = "[buildout]\nparts = cmd\n\n[cmd]\nrecipe = plone.recipe.command\nlocation = out\ncommand = mkdir -p out && echo first > out/file\nupdate-command = if [ ! -e killed-once ]; then touch killed-once; echo $$ > updating; exec sleep 30; fi\n";

#[test]
fn update_killed_mid_part_drops_the_part_and_the_next_run_reinstalls_it() {
    let temp = TempDir::new("profile-kill-update");
    let directory = temp.path();
    std::fs::write(directory.join("buildout.cfg"), KILLED_UPDATE).expect("profile");
    let (code, _, stderr) = run_to_end(directory, &[]);
    assert_eq!(code, 0, "{stderr}");
    run_and_kill_when(directory, "updating");
    assert_eq!(recorded_parts(directory), "cmd", "an update does not touch the record before it completes");

    let (code, _, stderr) = run_to_end(directory, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Cleaning up cmd: a previous run was killed during its update.\nInstalling cmd.\n"), "{stderr}");
    assert_eq!(recorded_parts(directory), "cmd");
    assert_eq!(read(&directory.join("out/file")), "first\n");
}

#[test]
fn failing_part_exits_1_naming_it_and_json_reports_it() {
    let temp = TempDir::new("profile-fail");
    let directory = temp.path();
    let profile = "[buildout]\nparts = ok bad\n[ok]\nrecipe = slapos.recipe.build:mkdirectory\nd = d\n[bad]\nrecipe = plone.recipe.command\ncommand = exit 3\nstop-on-error = yes\n";
    std::fs::write(directory.join("buildout.cfg"), profile).expect("profile");
    let (code, stdout, stderr) = run_to_end(directory, &[]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("cannot install part bad: command failed with exit code 3: exit 3"), "{stderr}");
    let output = Command::new(env!("CARGO_BIN_EXE_slapos"))
        .args(["--json", "profile", "install", "buildout.cfg"])
        .current_dir(directory)
        .stdin(Stdio::null())
        .output()
        .expect("slapos runs");
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(report["part"], "bad");
    assert_eq!(report["updated"], serde_json::json!(["ok"]));
    assert_eq!(report["error"], "cannot install part bad: command failed with exit code 3: exit 3");
}
