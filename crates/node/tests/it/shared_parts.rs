//! Shared parts across software releases (issue #5 point 2; spec node §4
//! `shared-part-list`, profiles §9.1): with the node's `shared_part_list`
//! naming a directory, `node::software::run` writes it into each release's
//! `buildout.cfg`, and a `slapos.recipe.cmmi` part with `shared = true` is
//! compiled once into `<root>/<part>/<md5 of its options' JSON>/`; every
//! other release with the same part and options reuses that build (its
//! `configure` runs once, counted in a file outside every build) and
//! points `${part:location}` at it, while different options get their own
//! directory and their own compilation.
//!
//! The source is a tiny tarball made by the test (a shell `configure`
//! that writes a Makefile, no compiler needed), read from a plain path as
//! the engine is offline; releases are local `software.cfg` files of the
//! in-process master's [`Fixture`].

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use client::SupplyState;
use md5::{Digest, Md5};
use node::config::NodeConfig;
use node::software::{url_hash, SoftwareOptions, SoftwareOutcome, SoftwareResult};

use crate::software::{Fixture, DEADLINE};

/// The `configure` of the tarball: logs its arguments to
/// `$SHARED_PARTS_COUNTER` (one line per compilation), then writes a
/// Makefile installing `share/greeting` under `--prefix`.
const CONFIGURE: &str = "#!/bin/sh\n\
set -e\n\
prefix=\n\
for arg in \"$@\"; do\n\
  case \"$arg\" in\n\
    --prefix=*) prefix=\"${arg#--prefix=}\" ;;\n\
  esac\n\
done\n\
echo \"configure $*\" >> \"$SHARED_PARTS_COUNTER\"\n\
cat > Makefile <<END_OF_MAKEFILE\n\
PREFIX = $prefix\n\
all:\n\
\t@echo hello from a shared part > greeting\n\
install: all\n\
\t@mkdir -p \\$(PREFIX)/share\n\
\t@cp greeting \\$(PREFIX)/share/greeting\n\
END_OF_MAKEFILE\n";

/// The name of the shared cmmi part in every release.
const PART: &str = "hello";

/// A shared-part root in its own temp dir. Built shared parts are
/// read-only; on drop the tree is made writable again so the temp dir can
/// go even when the tests do not run as root.
struct SharedRoot {
    dir: tempfile::TempDir,
}

impl SharedRoot {
    fn new() -> SharedRoot {
        let dir = tempfile::tempdir().expect("temp dir");
        // Partition users may read shared parts, as on a real node.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod shared root");
        SharedRoot { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The hash directories of the part, sorted.
    fn builds_of(&self, part: &str) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.path().join(part)) else { return Vec::new() };
        let mut builds: Vec<PathBuf> = entries.map(|entry| entry.expect("entry").path()).collect();
        builds.sort();
        builds
    }
}

impl Drop for SharedRoot {
    fn drop(&mut self) {
        make_writable(self.dir.path());
    }
}

fn make_writable(path: &Path) {
    let Ok(metadata) = std::fs::symlink_metadata(path) else { return };
    if metadata.is_dir() {
        let mut permissions = metadata.permissions();
        permissions.set_mode(permissions.mode() | 0o700);
        // Best effort: the temp dir's removal is best effort too.
        let _ = std::fs::set_permissions(path, permissions);
        if let Ok(entries) = std::fs::read_dir(path) {
            for entry in entries.flatten() {
                make_writable(&entry.path());
            }
        }
    }
}

/// The source tarball, its md5 and the compilation counter, in the
/// fixture's temp dir (outside every release and build).
struct Source {
    tarball: PathBuf,
    md5sum: String,
    counter: PathBuf,
}

impl Source {
    /// Makes `<dir>/<name>/hello-1.0.tar.gz` with the system `tar`.
    fn new(fixture: &Fixture, name: &str) -> Source {
        let root = fixture.dir.path().join(name);
        let tree = root.join("hello-1.0");
        std::fs::create_dir_all(&tree).expect("source tree");
        let configure = tree.join("configure");
        std::fs::write(&configure, CONFIGURE).expect("write configure");
        std::fs::set_permissions(&configure, std::fs::Permissions::from_mode(0o755)).expect("chmod configure");
        let tarball = root.join("hello-1.0.tar.gz");
        let status = std::process::Command::new("tar")
            .arg("-czf")
            .arg(&tarball)
            .arg("-C")
            .arg(&root)
            .arg("hello-1.0")
            .status()
            .expect("run tar");
        assert!(status.success(), "tar failed: {status}");
        let md5sum = md5_hex(&std::fs::read(&tarball).expect("read tarball"));
        Source { tarball, md5sum, counter: fixture.dir.path().join("compilations") }
    }

    /// The lines `configure` appended: one per compilation.
    fn compilations(&self) -> Vec<String> {
        std::fs::read_to_string(&self.counter).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// A release: the shared cmmi part `[hello]` from `url` (plus `extra`
    /// options), and a template part writing `${hello:location}` to
    /// `hello-location` in the release directory.
    fn release_text(&self, url: &str, extra: &str) -> String {
        format!(
            "[buildout]\nparts = {PART} where\n\n\
             [{PART}]\nrecipe = slapos.recipe.cmmi\nshared = true\nurl = {url}\nmd5sum = {}\n\
             environment =\n  SHARED_PARTS_COUNTER={}\n{extra}\n\
             [where]\nrecipe = slapos.recipe.template\noutput = ${{buildout:directory}}/hello-location\n\
             inline = ${{{PART}:location}}\n",
            self.md5sum,
            self.counter.display(),
        )
    }
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The fixture's node configuration with `shared_part_list = [root]`.
fn config_sharing(fixture: &Fixture, root: &SharedRoot) -> NodeConfig {
    let mut config = fixture.config();
    config.shared_part_list = vec![root.path().display().to_string()];
    config
}

/// One `node software` run with `config`, under the deadline.
async fn software(fixture: &Fixture, config: &NodeConfig) -> Vec<SoftwareResult> {
    let engine = fixture.engine();
    let options = SoftwareOptions::default();
    tokio::time::timeout(DEADLINE, node::software::run(config, &fixture.client, &engine, &options, None))
        .await
        .expect("software run within the deadline")
        .expect("software run")
}

/// Asserts every release of the run was built now.
fn assert_built(results: &[SoftwareResult], urls: &[&str]) {
    for url in urls {
        let result = results.iter().find(|result| result.url == *url).unwrap_or_else(|| panic!("{url} in {results:?}"));
        assert_eq!(result.outcome, SoftwareOutcome::Built, "{url}");
    }
}

/// What the release's template part recorded as `${hello:location}`.
fn recorded_location(fixture: &Fixture, url: &str) -> PathBuf {
    let file = fixture.software_root().join(url_hash(url)).join("hello-location");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
    PathBuf::from(text.trim_end())
}

/// A finished shared build: named after the md5 of its signature file,
/// holding the installed file, without its compile directory, read-only.
fn assert_finished_shared_build(build: &Path) {
    let signature = std::fs::read(build.join(".buildout-shared.json")).expect("signature file of a finished shared part");
    let name = build.file_name().expect("hash directory name").to_string_lossy().into_owned();
    assert_eq!(name, md5_hex(&signature), "the directory is the md5 of the options' JSON");
    let greeting = std::fs::read_to_string(build.join("share/greeting")).expect("installed file");
    assert_eq!(greeting, "hello from a shared part\n");
    assert!(!build.join(".build").exists(), "the compile directory is dropped");
    let mode = std::fs::metadata(build.join("share/greeting")).expect("stat").permissions().mode();
    assert_eq!(mode & 0o222, 0, "a shared build is read-only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_cmmi_part_is_compiled_once_and_reused_by_another_release() {
    let fixture = Fixture::new(1).await;
    let shared = SharedRoot::new();
    let config = config_sharing(&fixture, &shared);
    let source = Source::new(&fixture, "source");
    let tarball = source.tarball.display().to_string();
    let first = fixture.release("first", &source.release_text(&tarball, ""));
    // The same part, options and tarball in another release (another URL,
    // another file with one more part of its own).
    let second_text = source.release_text(&tarball, "").replace("parts = hello where", "parts = hello where own")
        + "\n[own]\nrecipe = slapos.recipe.template\noutput = ${buildout:directory}/own\ninline = second\n";
    let second = fixture.release("second", &second_text);
    assert_ne!(first, second);

    fixture.supply(&first, SupplyState::Available).await;
    assert_built(&software(&fixture, &config).await, &[&first]);
    let builds = shared.builds_of(PART);
    assert_eq!(builds.len(), 1, "the first release compiles the part into the shared root: {builds:?}");
    let build = builds[0].clone();
    assert_finished_shared_build(&build);
    assert_eq!(source.compilations().len(), 1, "{:?}", source.compilations());
    assert_eq!(recorded_location(&fixture, &first), build, "${{hello:location}} is the shared build");

    fixture.supply(&second, SupplyState::Available).await;
    let results = software(&fixture, &config).await;
    assert_built(&results, &[&second]);
    assert_eq!(shared.builds_of(PART), std::slice::from_ref(&build), "no second build directory");
    assert_eq!(source.compilations().len(), 1, "the second release reuses the build: {:?}", source.compilations());
    assert_eq!(recorded_location(&fixture, &second), build, "both releases reference the same shared build");
    assert_finished_shared_build(&build);

    for url in [&first, &second] {
        let directory = fixture.software_root().join(url_hash(url));
        let buildout_cfg = std::fs::read_to_string(directory.join("buildout.cfg")).expect("buildout.cfg");
        let line = format!("\nshared-part-list = {}\n", shared.path().display());
        assert!(buildout_cfg.contains(&line), "{buildout_cfg}");
        assert!(!directory.join("parts").join(PART).exists(), "no private copy in {}", directory.display());
    }
    let own = fixture.software_root().join(url_hash(&second)).join("own");
    assert_eq!(std::fs::read_to_string(own).expect("own part").trim_end(), "second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_cmmi_options_get_their_own_shared_build() {
    let fixture = Fixture::new(1).await;
    let shared = SharedRoot::new();
    let config = config_sharing(&fixture, &shared);
    let source = Source::new(&fixture, "source");
    let tarball = source.tarball.display().to_string();
    let first = fixture.release("first", &source.release_text(&tarball, ""));
    let second = fixture.release("second", &source.release_text(&tarball, ""));
    let variant = fixture.release("variant", &source.release_text(&tarball, "configure-options = --enable-variant\n"));
    for url in [&first, &second, &variant] {
        fixture.supply(url, SupplyState::Available).await;
    }

    assert_built(&software(&fixture, &config).await, &[&first, &second, &variant]);
    let builds = shared.builds_of(PART);
    assert_eq!(builds.len(), 2, "one build per option set: {builds:?}");
    for build in &builds {
        assert_finished_shared_build(build);
    }
    let compilations = source.compilations();
    assert_eq!(compilations.len(), 2, "{compilations:?}");
    assert_eq!(compilations.iter().filter(|line| line.contains("--enable-variant")).count(), 1, "{compilations:?}");
    let (plain, with_variant) = (recorded_location(&fixture, &first), recorded_location(&fixture, &variant));
    assert_eq!(recorded_location(&fixture, &second), plain, "same options, same build");
    assert_ne!(plain, with_variant, "other options, other build");
    assert!(builds.contains(&plain) && builds.contains(&with_variant), "{builds:?}");
    let variant_signature = std::fs::read_to_string(with_variant.join(".buildout-shared.json")).expect("signature");
    assert!(variant_signature.contains("\"configure-options\": \"--enable-variant\""), "{variant_signature}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_build_ignores_where_each_release_keeps_its_copy_of_the_source() {
    let fixture = Fixture::new(1).await;
    let shared = SharedRoot::new();
    let config = config_sharing(&fixture, &shared);
    let source = Source::new(&fixture, "source");
    // Each release ships the same tarball beside its software.cfg and names
    // it through `${:_profile_base_location_}`, which the signature
    // abstracts: the resolved paths differ, the build is the same.
    let relative = "${:_profile_base_location_}/hello-1.0.tar.gz";
    let mut urls = Vec::new();
    for name in ["left", "right"] {
        let url = fixture.release(name, &source.release_text(relative, ""));
        let beside = Path::new(&url).parent().expect("release folder").join("hello-1.0.tar.gz");
        std::fs::copy(&source.tarball, beside).expect("copy tarball beside the release");
        fixture.supply(&url, SupplyState::Available).await;
        urls.push(url);
    }

    assert_built(&software(&fixture, &config).await, &[&urls[0], &urls[1]]);
    let builds = shared.builds_of(PART);
    assert_eq!(builds.len(), 1, "{builds:?}");
    assert_finished_shared_build(&builds[0]);
    assert_eq!(source.compilations().len(), 1, "{:?}", source.compilations());
    assert_eq!(recorded_location(&fixture, &urls[0]), builds[0]);
    assert_eq!(recorded_location(&fixture, &urls[1]), builds[0]);
    let signature = std::fs::read_to_string(builds[0].join(".buildout-shared.json")).expect("signature");
    assert!(signature.contains("\"url\": \"${:_profile_base_location_}/hello-1.0.tar.gz\""), "{signature}");
}
