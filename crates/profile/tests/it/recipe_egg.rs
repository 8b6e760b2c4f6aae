//! The `zc.recipe.egg` family through the lifecycle, with pip of the
//! reference venv and no network: each test writes tiny Python projects,
//! builds them into a find-links directory (`pip wheel`, or an sdist
//! tarball for `:custom`), installs a profile offline, and runs the
//! generated scripts. The init-only cases (published options, offline
//! without find-links) need no Python.

use std::path::{Path, PathBuf};
use std::process::Command;

use profile::recipe::{Environment, RecipeRun};

use super::build_fixture::{gzip, tar_bytes, Member, RecordingProgress, TestFetch};

/// The reference interpreter with pip, or `None` (reason printed) outside
/// CI.
fn python() -> Option<PathBuf> {
    let python = super::venv::python("the zc.recipe.egg test")?;
    let has_pip = Command::new(&python).args(["-m", "pip", "--version"]).output().is_ok_and(|output| output.status.success());
    assert!(has_pip || std::env::var_os("CI").is_none(), "{} has no pip under CI: run tests/python/setup-venv.sh", python.display());
    if !has_pip {
        eprintln!("skipping the zc.recipe.egg test: {} has no pip", python.display());
    }
    has_pip.then_some(python)
}

/// A scratch root: projects, a find-links directory, a buildout.
struct Site {
    root: tempfile::TempDir,
    python: PathBuf,
}

impl Site {
    fn new(python: PathBuf) -> Site {
        let site = Site { root: tempfile::tempdir().expect("temporary directory"), python };
        std::fs::create_dir_all(site.links()).expect("links directory");
        std::fs::create_dir_all(site.buildout()).expect("buildout directory");
        site
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    fn links(&self) -> PathBuf {
        self.path("links")
    }

    fn buildout(&self) -> PathBuf {
        self.path("buildout")
    }

    /// Writes a pure-Python project `<name>` (module `<module>`, console
    /// script `<module>-hello` printing `<greeting>`) and returns its
    /// directory.
    fn project(&self, name: &str, version: &str, module: &str, greeting: &str, dependencies: &[&str]) -> PathBuf {
        let directory = self.path(&format!("src-{module}"));
        std::fs::create_dir_all(directory.join(module)).expect("project directory");
        let dependencies: Vec<String> = dependencies.iter().map(|dependency| format!("{dependency:?}")).collect();
        let pyproject = format!(
            "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n[project]\nname = {name:?}\nversion = {version:?}\ndependencies = [{}]\n[project.scripts]\n{module}-hello = \"{module}.cli:main\"\n",
            dependencies.join(", ")
        );
        std::fs::write(directory.join("pyproject.toml"), pyproject).expect("pyproject.toml");
        std::fs::write(directory.join(module).join("__init__.py"), "").expect("__init__.py");
        let cli = format!(
            "import os, sys\nGREETING = {greeting:?}\ndef main(*arguments):\n    print(GREETING, *arguments, os.environ.get('EGG_INIT', ''))\n    return 0\n"
        );
        std::fs::write(directory.join(module).join("cli.py"), cli).expect("cli.py");
        directory
    }

    /// Builds a project's wheel into the find-links directory.
    fn wheel(&self, project: &Path) {
        let output = Command::new(&self.python)
            .args(["-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index", "-w"])
            .arg(self.links())
            .arg(project)
            .output()
            .expect("pip wheel runs");
        assert!(output.status.success(), "pip wheel failed: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// The `[buildout]` section: offline, with the find-links, `extra`
    /// lines, then `sections`.
    fn profile(&self, parts: &str, extra: &str, sections: &str) -> String {
        format!(
            "[buildout]\nparts = {parts}\noffline = true\nfind-links = {}\n{extra}\n[python]\nexecutable = {}\n\n{sections}",
            self.links().display(),
            self.python.display()
        )
    }

    /// Installs `text` through the lifecycle with the built-in recipes.
    fn install(&self, text: &str) -> Result<(), String> {
        lifecycle_install(&self.buildout(), text)
    }

    /// Runs a generated script with `arguments`; its stdout, or the
    /// failure.
    fn run(&self, script: &str, arguments: &[&str]) -> String {
        let path = self.buildout().join("bin").join(script);
        let output = Command::new(&path).args(arguments).output().unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        assert!(output.status.success(), "{} failed: {}", path.display(), String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

fn lifecycle_install(directory: &Path, text: &str) -> Result<(), String> {
    std::fs::write(directory.join("buildout.cfg"), text).map_err(|error| error.to_string())?;
    let mut options = super::cases::options();
    options.cwd = Some(directory.to_path_buf());
    let profile = profile::load_file(&directory.join("buildout.cfg"), &options).map_err(|error| error.to_string())?;
    let progress = RecordingProgress::default();
    let environment = Environment { fetch: &TestFetch, progress: &progress };
    profile::lifecycle::install(&profile, &profile::recipe::builtin(), &environment, &profile::lifecycle::NoEvents)
        .map(|_| ())
        .map_err(|failure| failure.error.to_string())
}

#[test]
fn scripts_part_installs_eggs_and_writes_runnable_scripts() {
    let Some(python) = python() else { return };
    let site = Site::new(python);
    site.wheel(&site.project("Slapos_RS.Egg-Probe", "1.0", "probe_pkg", "probe says hello", &[]));
    let part = "[p]\nrecipe = zc.recipe.egg\npython = python\neggs = slapos-rs-egg-probe\nscripts = probe_pkg-hello=hello\ninterpreter = py\ninitialization = import os\n  os.environ['EGG_INIT'] = 'initialised'\narguments = 'with', 'arguments'\n";
    let text = site.profile("p", "[versions]\nSlapos-rs-egg-probe = 1.0\n", part);
    site.install(&text).expect("installs");
    assert_eq!(site.run("hello", &[]), "probe says hello with arguments initialised");
    assert_eq!(site.run("py", &["-c", "import probe_pkg.cli; print(probe_pkg.cli.GREETING)"]), "probe says hello");
    let script = std::fs::read_to_string(site.buildout().join("bin/hello")).expect("script");
    assert!(script.starts_with(&format!("#!{}\n", site.python.display())), "{script}");
    assert!(!site.buildout().join("bin/probe_pkg-hello").exists(), "renamed by `scripts`");
    let eggs: Vec<String> = std::fs::read_dir(site.buildout().join("eggs/v5"))
        .expect("eggs directory")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(eggs.len() == 1 && eggs[0].starts_with("slapos-rs-egg-probe-"), "{eggs:?}");
    let record = std::fs::read_to_string(site.buildout().join(".installed.cfg")).expect("record");
    let bin = site.buildout().join("bin");
    let installed = format!("__buildout_installed__ = {}/hello\n\t{}/py\n", bin.display(), bin.display());
    assert!(record.contains(&installed), "only the scripts are the part's paths: {record}");
    // Rerun: the part is updated and the scripts kept, with the eggs reused.
    site.install(&text).expect("updates");
    assert_eq!(site.run("hello", &[]), "probe says hello with arguments initialised");
}

#[test]
fn pinned_version_conflicts_fail_clearly() {
    let Some(python) = python() else { return };
    let site = Site::new(python);
    site.wheel(&site.project("slapos-rs-egg-probe", "1.0", "probe_pkg", "hi", &[]));
    let part = "[p]\nrecipe = zc.recipe.egg:eggs\npython = python\neggs = slapos-rs-egg-probe == 2.0\n";
    let message = site.install(&site.profile("p", "[versions]\nslapos-rs-egg-probe = 1.0\n", part)).expect_err("conflict");
    assert!(message.contains("part p"), "{message}");
    assert!(
        message.contains("egg slapos-rs-egg-probe: The requirement ('slapos-rs-egg-probe==2.0') is not allowed by your [versions] constraint (1.0)"),
        "{message}"
    );
    let part = "[p]\nrecipe = zc.recipe.egg:eggs\npython = python\neggs = slapos-rs-egg-probe\n";
    let message = site.install(&site.profile("p", "[versions]\nslapos-rs-egg-probe = 3.0\n", part)).expect_err("no such version");
    assert!(message.contains("cannot install egg slapos-rs-egg-probe: pip failed"), "{message}");
    assert!(message.contains("slapos-rs-egg-probe==3.0"), "pip's stderr is quoted: {message}");
}

#[test]
fn unpinned_eggs_fail_when_picking_is_disallowed() {
    let Some(python) = python() else { return };
    let site = Site::new(python);
    site.wheel(&site.project("slapos-rs-egg-dep", "1.5", "dep_pkg", "dep", &[]));
    site.wheel(&site.project("slapos-rs-egg-top", "1.0", "top_pkg", "top", &["slapos-rs-egg-dep>=1"]));
    let part = "[p]\nrecipe = zc.recipe.egg\npython = python\neggs = slapos-rs-egg-top\n";
    let strict = "allow-picked-versions = false\n";
    let message = site.install(&site.profile("p", strict, part)).expect_err("top not pinned");
    assert!(message.contains("egg slapos-rs-egg-top has no version pin"), "{message}");
    let message = site.install(&site.profile("p", &format!("{strict}[versions]\nslapos-rs-egg-top = 1.0\n"), part)).expect_err("dependency picked");
    assert!(message.contains("Picked: slapos-rs-egg-dep = 1.5"), "{message}");
    assert!(!site.buildout().join("bin/top_pkg-hello").exists());
    let pinned = format!("{strict}[versions]\nslapos-rs-egg-top = 1.0\nslapos_rs_egg_dep = 1.5\n");
    site.install(&site.profile("p", &pinned, part)).expect("everything pinned");
    assert_eq!(site.run("top_pkg-hello", &[]), "top");
    assert!(!site.buildout().join("bin/dep_pkg-hello").exists(), "only the listed eggs' scripts");
}

#[test]
fn init_publishes_options_without_installing() {
    let tree = tempfile::tempdir().expect("temporary directory");
    let text = "[buildout]\nparts = user\n[python]\nexecutable = /opt/py/bin/python3\n[p]\nrecipe = zc.recipe.egg\npython = python\neggs = not-installed\nextra-paths = lib\n[custom]\nrecipe = zc.recipe.egg:custom\ninclude-dirs = include\nrpath = $ORIGIN/lib\n  /opt/lib\n[user]\nrecipe = slapos.recipe.build:mkdirectory\nx = ${p:_e} ${p:_d} ${p:_b} ${p:executable} ${p:extra-paths}\ny = ${custom:include-dirs} ${custom:rpath} ${custom:_e}\n";
    std::fs::write(tree.path().join("buildout.cfg"), text).expect("profile");
    let mut options = super::cases::options();
    options.cwd = Some(tree.path().to_path_buf());
    let profile = profile::load_file(&tree.path().join("buildout.cfg"), &options).expect("loads");
    let recipes = profile::recipe::builtin();
    let progress = RecordingProgress::default();
    let environment = Environment { fetch: &TestFetch, progress: &progress };
    let hook = RecipeRun::new(&recipes, &environment);
    let mut resolver = profile.resolver(&hook).expect("resolver");
    profile::select_parts(&mut resolver).expect("parts");
    let root = tree.path().display();
    assert_eq!(
        resolver.get("user", "x").expect("resolves"),
        Some(format!("{root}/eggs/v5 {root}/develop-eggs {root}/bin /opt/py/bin/python3 {root}/lib"))
    );
    assert_eq!(resolver.get("user", "y").expect("resolves"), Some(format!("{root}/include $ORIGIN/lib:/opt/lib {root}/eggs/v5")));
    assert!(!tree.path().join("eggs").exists() || std::fs::read_dir(tree.path().join("eggs")).expect("eggs").next().is_none());
}

#[test]
fn offline_without_find_links_fails_clearly() {
    let tree = tempfile::tempdir().expect("temporary directory");
    let text = "[buildout]\nparts = p\noffline = true\n[p]\nrecipe = zc.recipe.egg:scripts\neggs = slapos-rs-egg-probe\n";
    let message = lifecycle_install(tree.path(), text).expect_err("nowhere to look");
    assert!(message.contains("part p"), "{message}");
    assert!(message.contains("cannot install egg slapos-rs-egg-probe offline: neither find-links nor buildout:download-cache is set"), "{message}");
}

/// An sdist of a C extension whose value comes from a header found
/// through `include-dirs`.
fn extension_sdist(site: &Site) {
    let setup = "from setuptools import setup, Extension\nsetup(name='slapos-rs-egg-ext', version='1.0', ext_modules=[Extension('probe_ext', ['probe_ext.c'])])\n";
    let source = "#include <Python.h>\n#include \"probe_value.h\"\nstatic PyObject *value(PyObject *self, PyObject *args) { return PyLong_FromLong(PROBE_VALUE); }\nstatic PyMethodDef methods[] = {{\"value\", value, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};\nstatic struct PyModuleDef module = {PyModuleDef_HEAD_INIT, \"probe_ext\", NULL, -1, methods};\nPyMODINIT_FUNC PyInit_probe_ext(void) { return PyModule_Create(&module); }\n";
    let pkg_info = "Metadata-Version: 2.1\nName: slapos-rs-egg-ext\nVersion: 1.0\n";
    let pyproject = "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n";
    let tarball = gzip(&tar_bytes(&[
        Member::Dir("slapos_rs_egg_ext-1.0/"),
        Member::File("slapos_rs_egg_ext-1.0/setup.py", setup.as_bytes(), 0o644),
        Member::File("slapos_rs_egg_ext-1.0/pyproject.toml", pyproject.as_bytes(), 0o644),
        Member::File("slapos_rs_egg_ext-1.0/PKG-INFO", pkg_info.as_bytes(), 0o644),
        Member::File("slapos_rs_egg_ext-1.0/probe_ext.c", source.as_bytes(), 0o644),
    ]));
    std::fs::write(site.links().join("slapos_rs_egg_ext-1.0.tar.gz"), tarball).expect("sdist");
    std::fs::create_dir_all(site.path("include")).expect("include directory");
    std::fs::write(site.path("include/probe_value.h"), "#define PROBE_VALUE 42\n").expect("header");
}

#[test]
fn custom_builds_with_include_dirs_and_scripts_use_the_develop_egg() {
    let Some(python) = python() else { return };
    let site = Site::new(python);
    extension_sdist(&site);
    let sections = format!(
        "[ext]\nrecipe = zc.recipe.egg:custom\npython = python\negg = slapos-rs-egg-ext\ninclude-dirs = {}\n\n[p]\nrecipe = zc.recipe.egg\npython = python\neggs = ${{ext:egg}}\ninterpreter = py\n",
        site.path("include").display()
    );
    site.install(&site.profile("ext p", "", &sections)).expect("builds");
    assert_eq!(site.run("py", &["-c", "import probe_ext; print(probe_ext.value())"]), "42");
    assert!(site.buildout().join("develop-eggs/ext").is_dir());
    std::fs::remove_file(site.path("include/probe_value.h")).expect("header removed");
    let text = site.profile("ext p", "", &sections.replace("include-dirs = ", "include-dirs = /nonexistent "));
    let message = site.install(&text).expect_err("the header is missing");
    assert!(message.contains("part ext") && message.contains("cannot build egg slapos-rs-egg-ext: pip failed"), "{message}");
}

#[test]
fn develop_installs_editable_and_scripts_follow_the_source() {
    let Some(python) = python() else { return };
    let site = Site::new(python);
    let project = site.project("slapos-rs-egg-dev", "0.1", "dev_pkg", "first", &[]);
    let sections = format!(
        "[dev]\nrecipe = zc.recipe.egg:develop\npython = python\nsetup = {}\n\n[p]\nrecipe = zc.recipe.egg:scripts\npython = python\neggs = slapos-rs-egg-dev\n",
        project.display()
    );
    site.install(&site.profile("dev p", "allow-picked-versions = false\n", &sections)).expect("installs");
    assert_eq!(site.run("dev_pkg-hello", &[]), "first");
    std::fs::write(project.join("dev_pkg/cli.py"), "def main():\n    print('edited')\n").expect("edit the source");
    assert_eq!(site.run("dev_pkg-hello", &[]), "edited");
}
