//! `slapos.recipe.build` (default entry point: Python code) through the
//! real lifecycle with the built-in recipes and the reference interpreter
//! (`/var/cache/slapos-rs/venv/bin/python`, or `$SLAPOS_VENV`) as
//! `buildout:executable`: `init` setting options others reference,
//! `install` filling `location`, failures wiping it (or not, with
//! `keep-on-error`), update-only parts, `environment`, promises, the
//! download/extract/copyTree helpers.

use std::path::{Path, PathBuf};

use profile::recipe::Environment;

use super::build_fixture::{RecordingProgress, TestFetch};


/// Writes `buildout.cfg` (`[buildout]` with `parts` and the interpreter,
/// then `sections`) into `directory` and installs it with the built-in
/// recipes; the error as text.
fn install(
    directory: &Path,
    parts: &str,
    sections: &str,
) -> Option<Result<profile::lifecycle::InstallReport, String>> {
    let python = super::venv::python("the slapos.recipe.build test")?;
    let text = format!(
        "[buildout]\nparts = {parts}\nexecutable = {}\n\n{sections}",
        python.display()
    );
    std::fs::write(directory.join("buildout.cfg"), text).expect("profile written");
    let mut options = super::cases::options();
    options.cwd = Some(directory.to_path_buf());
    let loaded = profile::load_file(&directory.join("buildout.cfg"), &options)
        .map_err(|error| error.to_string());
    let profile = match loaded {
        Ok(profile) => profile,
        Err(error) => return Some(Err(error)),
    };
    let progress = RecordingProgress::default();
    let environment = Environment {
        fetch: &TestFetch,
        progress: &progress,
    };
    let recipes = profile::recipe::builtin();
    Some(
        profile::lifecycle::install(
            &profile,
            &recipes,
            &environment,
            &profile::lifecycle::NoEvents,
        )
        .map_err(|failure| failure.error.to_string()),
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn init_sets_an_option_another_part_references() {
    let root = tempfile::tempdir().expect("temporary directory");
    let sections = "[a]\nrecipe = slapos.recipe.build\ninit =\n  options['made'] = options['base'] + '-' + self.buildout['info']['word']\nbase = x\n\n\
[info]\nword = hello\n\n\
[b]\nrecipe = slapos.recipe.build\ninstall =\n  os.makedirs(location)\n  open(os.path.join(location, 'out'), 'w').write('${a:made}')\n";
    let Some(result) = install(root.path(), "b", sections) else {
        return;
    };
    let report = result.expect("installs");
    assert_eq!(report.installed, vec!["a".to_owned(), "b".to_owned()]);
    assert!(!root.path().join("parts/a").exists());
    assert_eq!(read(&root.path().join("parts/b/out")), "x-hello");
}

#[test]
fn install_writes_into_location_and_runs_with_the_buildout_directory_as_cwd() {
    let root = tempfile::tempdir().expect("temporary directory");
    let sections = "[p]\nrecipe = slapos.recipe.build\nslapos_promise =\n  file:f\n  directory:d\ninstall =\n  os.makedirs(os.path.join(location, 'd'))\n  with open(os.path.join(location, 'f'), 'w') as f:\n    f.write(os.getcwd())\n  print('to stderr')\n";
    let Some(result) = install(root.path(), "p", sections) else {
        return;
    };
    result.expect("installs");
    let cwd = PathBuf::from(read(&root.path().join("parts/p/f")));
    assert_eq!(cwd.canonicalize().ok(), root.path().canonicalize().ok());
}

#[test]
fn failing_install_wipes_location_and_quotes_the_traceback() {
    let root = tempfile::tempdir().expect("temporary directory");
    let sections = "[p]\nrecipe = slapos.recipe.build\ninstall =\n  os.makedirs(location)\n  open(os.path.join(location, 'half'), 'w').close()\n  raise ValueError('it broke')\n";
    let Some(result) = install(root.path(), "p", sections) else {
        return;
    };
    let error = result.expect_err("fails");
    assert!(
        error.contains("p: install code of slapos.recipe.build failed"),
        "{error}"
    );
    assert!(error.contains("ValueError: it broke"), "{error}");
    assert!(!root.path().join("parts/p").exists());
}

#[test]
fn keep_on_error_keeps_location() {
    let root = tempfile::tempdir().expect("temporary directory");
    let sections = "[p]\nrecipe = slapos.recipe.build\nkeep-on-error = true\ninstall =\n  os.makedirs(location)\n  open(os.path.join(location, 'half'), 'w').close()\n  raise ValueError('it broke')\n";
    let Some(result) = install(root.path(), "p", sections) else {
        return;
    };
    assert!(result.is_err());
    assert!(root.path().join("parts/p/half").exists());
}

#[test]
fn unmet_promise_fails_and_wipes_location() {
    let root = tempfile::tempdir().expect("temporary directory");
    let sections = "[p]\nrecipe = slapos.recipe.build\nslapos_promise = file:missing\ninstall = os.makedirs(location)\n";
    let Some(result) = install(root.path(), "p", sections) else {
        return;
    };
    let error = result.expect_err("fails");
    assert!(
        error.contains("slapos_promise not met: file:missing"),
        "{error}"
    );
    assert!(!root.path().join("parts/p").exists());
}

#[test]
fn update_only_recipe_runs_update_at_install_and_returns_nothing() {
    let root = tempfile::tempdir().expect("temporary directory");
    let sections = "[p]\nrecipe = slapos.recipe.build\nupdate =\n  n = os.path.join(self.buildout['buildout']['directory'], 'count')\n  open(n, 'a').write('x')\n";
    let Some(result) = install(root.path(), "p", sections) else {
        return;
    };
    result.expect("installs");
    assert_eq!(read(&root.path().join("count")), "x");
    assert!(!root.path().join("parts/p").exists());
    let Some(again) = install(root.path(), "p", sections) else {
        return;
    };
    let report = again.expect("updates");
    assert_eq!(report.updated, vec!["p".to_owned()]);
    assert_eq!(read(&root.path().join("count")), "xx");
}

#[test]
fn missing_code_options_fail() {
    let root = tempfile::tempdir().expect("temporary directory");
    let Some(result) = install(
        root.path(),
        "p",
        "[p]\nrecipe = slapos.recipe.build\nlocation = x\n",
    ) else {
        return;
    };
    let error = result.expect_err("fails");
    assert!(
        error.contains("at least one of the following option is required: init, install, update"),
        "{error}"
    );
}

#[test]
fn environment_reaches_the_code() {
    let root = tempfile::tempdir().expect("temporary directory");
    let sections = "[p]\nrecipe = slapos.recipe.build\nenvironment =\n  GREETING = hi\n  WITH_PATH = %(PATH)s\n\
init = options['seen'] = os.environ['GREETING'] + ' ' + str(self.environ['WITH_PATH'] == os.environ['PATH'])\n\
install =\n  os.makedirs(location)\n  call(['sh', '-c', 'echo $GREETING > greeting'], cwd=location)\n\n\
[q]\nrecipe = slapos.recipe.build\ninstall =\n  os.makedirs(location)\n  open(os.path.join(location, 'seen'), 'w').write('${p:seen}')\n";
    let Some(result) = install(root.path(), "p q", sections) else {
        return;
    };
    result.expect("installs");
    assert_eq!(read(&root.path().join("parts/p/greeting")), "hi\n");
    assert_eq!(read(&root.path().join("parts/q/seen")), "hi True");
}

#[test]
fn python_errors_name_the_part_and_unsupported_helpers_say_so() {
    let root = tempfile::tempdir().expect("temporary directory");
    let sections = "[p]\nrecipe = slapos.recipe.build\ninit = self.applyPatchList('x')\n";
    let Some(result) = install(root.path(), "p", sections) else {
        return;
    };
    let error = result.expect_err("fails");
    assert!(
        error.contains("p: init code of slapos.recipe.build failed"),
        "{error}"
    );
    assert!(error.contains("applyPatchList is not supported"), "{error}");
}

#[test]
fn download_extract_and_copy_tree_helpers_work_on_file_urls() {
    use super::build_fixture::{gzip, md5_hex, tar_bytes, Member};
    let root = tempfile::tempdir().expect("temporary directory");
    let archive = gzip(&tar_bytes(&[Member::File(
        "top/inner.txt",
        b"inside\n",
        0o644,
    )]));
    let archive_path = root.path().join("a.tar.gz");
    std::fs::write(&archive_path, &archive).expect("archive written");
    let sections = format!(
        "[p]\nrecipe = slapos.recipe.build\nurl = file://{}\nmd5sum = {}\ninstall =\n  self.copyTree(self.extract(self.download()), location)\n",
        archive_path.display(),
        md5_hex(&archive)
    );
    let Some(result) = install(root.path(), "p", &sections) else {
        return;
    };
    result.expect("installs");
    assert_eq!(read(&root.path().join("parts/p/inner.txt")), "inside\n");
    let wrong = sections.replace(&md5_hex(&archive), "0123456789abcdef0123456789abcdef");
    let Some(result) = install(root.path(), "p", &wrong) else {
        return;
    };
    let error = result.expect_err("fails");
    assert!(
        error.contains("MD5 checksum mismatch downloading"),
        "{error}"
    );
}
