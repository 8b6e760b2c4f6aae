//! `slapos.recipe.build:gitclone` through the lifecycle with the built-in
//! registry, against a local bare repository the test makes with git (no
//! network): clone of a branch, pinned revision, update pulling a new
//! commit, pinned revision left alone, `develop`, an uninstall refused for
//! local changes (the part stays installed) and a clean uninstall.

use std::path::{Path, PathBuf};
use std::process::Command;

use profile::lifecycle::InstallReport;
use profile::recipe::Environment;

use super::build_fixture::{profile, RecordingProgress, TestFetch};

fn temporary() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// Runs git in `directory` as a test author; panics on failure.
fn git(directory: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.invalid", "-c", "init.defaultBranch=master"])
        .args(args)
        .current_dir(directory)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A bare repository `origin.git` and a working copy `work` pushing to
/// it, under `root`.
struct Origin {
    bare: PathBuf,
    work: PathBuf,
}

impl Origin {
    fn new(root: &Path) -> Origin {
        let bare = root.join("origin.git");
        let work = root.join("work");
        std::fs::create_dir_all(&work).expect("work directory");
        git(root, &["init", "--quiet", "--bare", "origin.git"]);
        git(&work, &["init", "--quiet"]);
        git(&work, &["remote", "add", "origin", &bare.to_string_lossy()]);
        Origin { bare, work }
    }

    /// Commits `file` = `content` on `branch` and pushes it; returns the
    /// commit's hash.
    fn commit(&self, branch: &str, file: &str, content: &str) -> String {
        let current = git(&self.work, &["symbolic-ref", "--short", "HEAD"]);
        if current != branch {
            let exists = Command::new("git")
                .args(["rev-parse", "--verify", "--quiet", &format!("refs/heads/{branch}")])
                .current_dir(&self.work)
                .status()
                .expect("git runs")
                .success();
            let switch = if exists { vec!["checkout", "--quiet", branch] } else { vec!["checkout", "--quiet", "-b", branch] };
            git(&self.work, &switch);
        }
        std::fs::write(self.work.join(file), content).expect("write file");
        git(&self.work, &["add", file]);
        git(&self.work, &["commit", "--quiet", "-m", &format!("{file} on {branch}")]);
        git(&self.work, &["push", "--quiet", "origin", &format!("HEAD:refs/heads/{branch}")]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }
}

/// Installs `text` as `directory/buildout.cfg` with the lifecycle and the
/// built-in recipes.
fn run(directory: &Path, text: &str) -> Result<InstallReport, String> {
    std::fs::write(directory.join("buildout.cfg"), text).map_err(|error| error.to_string())?;
    let mut options = super::cases::options();
    options.cwd = Some(directory.to_path_buf());
    let loaded = profile::load_file(&directory.join("buildout.cfg"), &options).map_err(|error| error.to_string())?;
    let progress = RecordingProgress::default();
    let environment = Environment { fetch: &TestFetch, progress: &progress };
    profile::lifecycle::install(&loaded, &profile::recipe::builtin(), &environment, &profile::lifecycle::NoEvents)
        .map_err(|failure| failure.error.to_string())
}

fn clone_section(extra: &str, origin: &Origin) -> String {
    profile("clone", &format!("[clone]\nrecipe = slapos.recipe.build:gitclone\nrepository = {}\n{extra}\n", origin.url()))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn recorded(directory: &Path) -> String {
    std::fs::read_to_string(directory.join(".installed.cfg")).unwrap_or_default()
}

#[test]
fn gitclone_clones_master_by_default_and_records_the_location() {
    let root = temporary();
    let origin = Origin::new(root.path());
    origin.commit("master", "a.txt", "one\n");
    let directory = root.path().join("buildout");
    std::fs::create_dir_all(&directory).expect("buildout directory");
    let report = run(&directory, &clone_section("", &origin)).expect("install succeeds");
    assert_eq!(report.installed, vec!["clone".to_owned()]);
    let location = directory.join("parts/clone");
    assert_eq!(read(&location.join("a.txt")), "one\n");
    let record = recorded(&directory);
    assert!(record.contains(&format!("location = {}", location.display())), "{record}");
    assert!(record.contains(&format!("__buildout_installed__ = {}", location.display())), "{record}");
}

#[test]
fn gitclone_clones_the_given_branch_into_the_given_location() {
    let root = temporary();
    let origin = Origin::new(root.path());
    origin.commit("master", "a.txt", "master\n");
    origin.commit("feature", "a.txt", "feature\n");
    let directory = root.path().join("buildout");
    std::fs::create_dir_all(&directory).expect("buildout directory");
    let location = root.path().join("elsewhere/copy");
    let text = clone_section(&format!("branch = feature\nlocation = {}", location.display()), &origin);
    run(&directory, &text).expect("install succeeds");
    assert_eq!(read(&location.join("a.txt")), "feature\n");
    assert_eq!(git(&location, &["symbolic-ref", "--short", "HEAD"]), "feature");
}

#[test]
fn gitclone_checks_out_a_pinned_revision_and_does_not_update_it() {
    let root = temporary();
    let origin = Origin::new(root.path());
    let first = origin.commit("master", "a.txt", "one\n");
    origin.commit("master", "a.txt", "two\n");
    let directory = root.path().join("buildout");
    std::fs::create_dir_all(&directory).expect("buildout directory");
    let text = clone_section(&format!("revision = {first}"), &origin);
    run(&directory, &text).expect("install succeeds");
    let location = directory.join("parts/clone");
    assert_eq!(read(&location.join("a.txt")), "one\n");
    origin.commit("master", "a.txt", "three\n");
    let report = run(&directory, &text).expect("update succeeds");
    assert_eq!(report.updated, vec!["clone".to_owned()]);
    assert_eq!(read(&location.join("a.txt")), "one\n");
    assert_eq!(git(&location, &["rev-parse", "HEAD"]), first);
}

#[test]
fn gitclone_update_pulls_a_new_commit_of_the_branch() {
    let root = temporary();
    let origin = Origin::new(root.path());
    origin.commit("master", "a.txt", "one\n");
    let directory = root.path().join("buildout");
    std::fs::create_dir_all(&directory).expect("buildout directory");
    let text = clone_section("", &origin);
    run(&directory, &text).expect("install succeeds");
    let newest = origin.commit("master", "a.txt", "two\n");
    let report = run(&directory, &text).expect("update succeeds");
    assert_eq!(report.updated, vec!["clone".to_owned()]);
    let location = directory.join("parts/clone");
    assert_eq!(read(&location.join("a.txt")), "two\n");
    assert_eq!(git(&location, &["rev-parse", "HEAD"]), newest);
}

#[test]
fn gitclone_in_develop_mode_is_not_updated() {
    let root = temporary();
    let origin = Origin::new(root.path());
    origin.commit("master", "a.txt", "one\n");
    let directory = root.path().join("buildout");
    std::fs::create_dir_all(&directory).expect("buildout directory");
    let text = clone_section("develop = true", &origin);
    run(&directory, &text).expect("install succeeds");
    origin.commit("master", "a.txt", "two\n");
    run(&directory, &text).expect("update succeeds");
    assert_eq!(read(&directory.join("parts/clone/a.txt")), "one\n");
}

#[test]
fn gitclone_uninstall_with_local_changes_is_refused_and_the_part_kept() {
    let root = temporary();
    let origin = Origin::new(root.path());
    origin.commit("master", "a.txt", "one\n");
    let directory = root.path().join("buildout");
    std::fs::create_dir_all(&directory).expect("buildout directory");
    run(&directory, &clone_section("", &origin)).expect("install succeeds");
    let location = directory.join("parts/clone");
    std::fs::write(location.join("a.txt"), "local edit\n").expect("edit");
    let error = run(&directory, "[buildout]\nparts =\n").expect_err("uninstall is refused");
    assert!(error.contains("clone"), "{error}");
    assert!(error.contains("uncommitted changes"), "{error}");
    assert!(error.contains("a.txt"), "{error}");
    assert_eq!(read(&location.join("a.txt")), "local edit\n");
    assert!(recorded(&directory).contains("[clone]"), "{}", recorded(&directory));
}

#[test]
fn gitclone_uninstall_with_an_unpushed_commit_is_refused() {
    let root = temporary();
    let origin = Origin::new(root.path());
    origin.commit("master", "a.txt", "one\n");
    let directory = root.path().join("buildout");
    std::fs::create_dir_all(&directory).expect("buildout directory");
    run(&directory, &clone_section("", &origin)).expect("install succeeds");
    let location = directory.join("parts/clone");
    std::fs::write(location.join("b.txt"), "new\n").expect("write");
    git(&location, &["add", "b.txt"]);
    git(&location, &["commit", "--quiet", "-m", "local only"]);
    let error = run(&directory, "[buildout]\nparts =\n").expect_err("uninstall is refused");
    assert!(error.contains("unpushed commits"), "{error}");
    assert!(error.contains("local only"), "{error}");
    assert!(location.join("b.txt").exists());
}

#[test]
fn gitclone_clean_uninstall_removes_the_clone() {
    let root = temporary();
    let origin = Origin::new(root.path());
    origin.commit("master", "a.txt", "one\n");
    let directory = root.path().join("buildout");
    std::fs::create_dir_all(&directory).expect("buildout directory");
    run(&directory, &clone_section("", &origin)).expect("install succeeds");
    let report = run(&directory, "[buildout]\nparts =\n").expect("uninstall succeeds");
    assert_eq!(report.uninstalled, vec!["clone".to_owned()]);
    assert!(!directory.join("parts/clone").exists());
    assert!(!recorded(&directory).contains("[clone]"));
}

#[test]
fn gitclone_failure_names_the_part_and_quotes_git() {
    let root = temporary();
    let directory = root.path().join("buildout");
    std::fs::create_dir_all(&directory).expect("buildout directory");
    let missing = root.path().join("no-such-repository");
    let text = profile("clone", &format!("[clone]\nrecipe = slapos.recipe.build:gitclone\nrepository = {}\n", missing.display()));
    let error = run(&directory, &text).expect_err("clone fails");
    assert!(error.contains("gitclone part 'clone'"), "{error}");
    assert!(error.contains("git clone failed"), "{error}");
    assert!(error.contains("does not exist") || error.contains("no-such-repository"), "{error}");
    assert!(!directory.join("parts/clone").exists());
}

#[test]
fn gitclone_into_an_existing_working_copy_fails_and_keeps_it() {
    let root = temporary();
    let origin = Origin::new(root.path());
    origin.commit("master", "a.txt", "one\n");
    let directory = root.path().join("buildout");
    let location = directory.join("parts/clone");
    std::fs::create_dir_all(&location).expect("location");
    std::fs::write(location.join("mine.txt"), "precious\n").expect("write");
    let error = run(&directory, &clone_section("", &origin)).expect_err("clone fails");
    assert!(error.contains("gitclone part 'clone'"), "{error}");
    assert_eq!(read(&location.join("mine.txt")), "precious\n");
}

#[test]
fn gitclone_without_repository_is_a_missing_option() {
    let root = temporary();
    let text = profile("clone", "[clone]\nrecipe = slapos.recipe.build:gitclone\n");
    let error = run(root.path(), &text).expect_err("init fails");
    assert!(error.contains("Missing option: clone:repository"), "{error}");
}
