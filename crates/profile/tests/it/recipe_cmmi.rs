//! `slapos.recipe.cmmi`: real builds with `cc` and `make` of a small C
//! project whose tarball, `configure` script (a shell script writing a
//! Makefile) and patch the tests make and serve over loopback HTTP.
//! Covers checksums, patches, shell steps in order, `environment`,
//! `%`-formatting, `@@LOCATION@@`, failures (compile directory kept, or
//! nothing left for a bad checksum), `keep-compile-dir`, `path`, and a
//! shared build reused by a second profile.

use std::path::{Path, PathBuf};

use super::build_fixture::{gzip, install, lifecycle_install, md5_hex, profile, tar_bytes, HttpServer, Member, Run};

const CONFIGURE: &str = r#"#!/bin/sh
set -e
prefix=
for arg in "$@"; do
  case "$arg" in
    --prefix=*) prefix="${arg#--prefix=}" ;;
  esac
done
echo configure >> "$BUILD_LOG"
echo built >> "$BUILD_COUNTER"
if [ -n "$FAIL_CONFIGURE" ]; then echo "configure fails on purpose" >&2; exit 1; fi
mkdir -p "$prefix"
printf '%s\n' "$GREETING" > "$prefix/greeting"
cat > Makefile <<END_OF_MAKEFILE
PREFIX = $prefix
all: hello
hello: hello.c
	cc -o hello hello.c
	echo make >> "\$(BUILD_LOG)"
install: hello
	mkdir -p \$(PREFIX)/bin
	cp hello \$(PREFIX)/bin/hello
	echo install >> "\$(BUILD_LOG)"
END_OF_MAKEFILE
"#;

const HELLO_C: &[u8] = b"#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n";

const PATCH: &str = "--- hello.c\n+++ hello.c\n@@ -1,2 +1,2 @@\n #include <stdio.h>\n-int main(void) { puts(\"hello\"); return 0; }\n+int main(void) { puts(\"hello patched\"); return 0; }\n";

fn tarball() -> Vec<u8> {
    gzip(&tar_bytes(&[
        Member::Dir("hello-1.0/"),
        Member::File("hello-1.0/configure", CONFIGURE.as_bytes(), 0o755),
        Member::File("hello-1.0/hello.c", HELLO_C, 0o644),
    ]))
}

/// A served tarball and patch, and a scratch root for logs and counters.
struct Project {
    server: HttpServer,
    tarball: Vec<u8>,
    root: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let server = HttpServer::start();
        let tarball = tarball();
        server.put("hello-1.0.tar.gz", tarball.as_slice());
        server.put("fix.patch", PATCH);
        Project { server, tarball, root: tempfile::tempdir().expect("temporary directory") }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// A directory of the root for one profile.
    fn workspace(&self, name: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::create_dir(&path).expect("workspace");
        path
    }

    /// The source lines of the cmmi section.
    fn url_lines(&self) -> String {
        format!("url = {}\nmd5sum = {}\n", self.server.url("hello-1.0.tar.gz"), md5_hex(&self.tarball))
    }

    /// A cmmi section `[c]` building the tarball, with `extra` options.
    fn section(&self, extra: &str) -> String {
        format!(
            "[c]\nrecipe = slapos.recipe.cmmi\n{}log = {}\nenvironment =\n  BUILD_LOG={}\n  BUILD_COUNTER={}\n  GREETING=path is %(PATH)s\n{extra}\n",
            self.url_lines(),
            self.path("build.log").display(),
            self.path("build.log").display(),
            self.path("counter").display(),
        )
    }

    fn builds(&self) -> usize {
        std::fs::read_to_string(self.path("counter")).map(|text| text.lines().count()).unwrap_or(0)
    }

    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("build.log")).unwrap_or_default().lines().map(str::to_owned).collect()
    }
}

fn run_binary(path: &Path) -> String {
    let output = std::process::Command::new(path).output().unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn build(directory: &Path, text: &str) -> Run {
    install(directory, text).expect("profile initialises")
}

#[test]
fn cmmi_builds_patches_and_runs_steps_in_order() {
    let project = Project::new();
    let hooks = [
        "pre-configure = echo pre-configure >> %(log)s",
        "pre-build = echo pre-build >> %(log)s",
        "pre-install = echo pre-install >> %(log)s",
        "post-install = echo post-install >> %(log)s\n  printf '#!/%%0200d\\n' 0 > %(location)s/bin/long-shebang\n  chmod 755 %(location)s/bin/long-shebang",
    ]
    .join("\n");
    let patch = format!("patches = {}#{}", project.server.url("fix.patch"), md5_hex(PATCH.as_bytes()));
    let extra = format!("{hooks}\n{patch}\nconfigure-options = --with-data=@@LOCATION@@/data");
    let workspace = project.workspace("buildout");
    let run = build(&workspace, &profile("c", &project.section(&extra)));
    assert_eq!(run.error(), "");
    let location = workspace.join("parts/c");
    assert_eq!(run.paths["c"], vec![location.clone()]);
    assert_eq!(run.option("c", "location"), location.to_string_lossy());
    assert_eq!(run.option("c", "prefix"), location.to_string_lossy());
    assert_eq!(run.option("c", "compile-directory"), location.join(".build").to_string_lossy());
    assert_eq!(run.option("c", "configure-options"), format!("--with-data={}/data", location.display()));
    assert_eq!(run_binary(&location.join("bin/hello")), "hello patched\n");
    assert_eq!(
        project.log(),
        ["pre-configure", "configure", "pre-build", "make", "pre-install", "install", "post-install"].map(str::to_owned).to_vec()
    );
    let greeting = std::fs::read_to_string(location.join("greeting")).expect("greeting written by configure");
    assert!(greeting.starts_with("path is /"), "environment formatted with the process PATH: {greeting}");
    assert!(!location.join(".build").exists(), "the compile directory is dropped after success");
    assert!(location.join("bin/long-shebang.shebang").exists(), "a long shebang is wrapped");
    let wrapper = std::fs::read_to_string(location.join("bin/long-shebang")).expect("wrapper");
    assert!(wrapper.starts_with("#!/bin/sh -e\n"), "{wrapper}");
}

#[test]
fn cmmi_wrong_checksum_fails_and_leaves_nothing() {
    let project = Project::new();
    let url = project.server.url("hello-1.0.tar.gz");
    let section = project.section("").replace(&md5_hex(&project.tarball), &md5_hex(b"wrong"));
    let workspace = project.workspace("buildout");
    let run = build(&workspace, &profile("c", &section));
    assert_eq!(run.error(), format!("MD5 checksum mismatch downloading '{url}'"));
    assert!(!workspace.join("parts/c").exists());
    assert_eq!(project.builds(), 0);
    assert!(run.paths.is_empty());
}

#[test]
fn cmmi_wrong_patch_checksum_fails() {
    let project = Project::new();
    let patch_url = project.server.url("fix.patch");
    let workspace = project.workspace("buildout");
    let run = build(&workspace, &profile("c", &project.section(&format!("patches = {patch_url}#{}", md5_hex(b"wrong")))));
    assert_eq!(run.error().lines().next(), Some(format!("MD5 checksum mismatch downloading '{patch_url}'").as_str()));
    assert_eq!(project.builds(), 0, "patches are applied before configure");
}

#[test]
fn cmmi_failed_build_keeps_the_compile_directory_with_an_environment_script() {
    let project = Project::new();
    let section = project.section("").replace("  GREETING=", "  FAIL_CONFIGURE=1\n  GREETING=");
    let workspace = project.workspace("buildout");
    let run = build(&workspace, &profile("c", &section));
    assert!(run.error().starts_with("System error: command"), "{}", run.error());
    assert!(run.error().contains("Compilation error"), "{}", run.error());
    let source = workspace.join("parts/c/.build/hello-1.0");
    let script = std::fs::read_to_string(source.join("slapos.recipe.build.env.sh")).expect("environment script");
    assert!(script.contains("export FAIL_CONFIGURE=1\n"), "{script}");
    assert!(script.contains("echo configure with:"), "{script}");
    assert!(source.join("configure").exists());
    assert!(run.failure.as_ref().is_some_and(|(_, _, created)| created.is_empty()), "the lifecycle must not delete a failed build");
}

#[test]
fn cmmi_keep_compile_dir_keeps_it_after_success() {
    let project = Project::new();
    let workspace = project.workspace("buildout");
    let run = build(&workspace, &profile("c", &project.section("keep-compile-dir = true")));
    assert_eq!(run.error(), "");
    assert!(workspace.join("parts/c/.build/hello-1.0/slapos.recipe.build.env.sh").exists());
    assert_eq!(run_binary(&workspace.join("parts/c/bin/hello")), "hello\n");
}

#[test]
fn cmmi_builds_a_local_path_in_place() {
    let project = Project::new();
    let source = project.workspace("src");
    std::fs::write(source.join("configure"), CONFIGURE).expect("configure");
    std::fs::write(source.join("hello.c"), HELLO_C).expect("hello.c");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(source.join("configure"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let section = project.section("").replace(&project.url_lines(), &format!("path = {}\n", source.display()));
    let workspace = project.workspace("buildout");
    let run = build(&workspace, &profile("c", &section));
    assert_eq!(run.error(), "");
    assert_eq!(run.option("c", "compile-directory"), source.to_string_lossy());
    assert_eq!(run_binary(&workspace.join("parts/c/bin/hello")), "hello\n");
    assert!(source.join("Makefile").exists(), "a local path is built in place and kept");
}

#[test]
fn cmmi_option_errors() {
    let project = Project::new();
    let workspace = project.workspace("buildout");
    let both = project.section("path = /tmp");
    let error = install(&workspace, &profile("c", &both)).expect_err("url and path");
    assert!(error.contains("You must use either \"url\" or \"path\", not both!"), "{error}");
    let neither = "[c]\nrecipe = slapos.recipe.cmmi\n";
    let error = install(&workspace, &profile("c", neither)).expect_err("no source");
    assert!(error.contains("You must provide either \"url\" or \"path\"."), "{error}");
    let hook = project.section("pre-configure-hook = hooks.py:run");
    let error = install(&workspace, &profile("c", &hook)).expect_err("python hook");
    assert!(error.contains("'pre-configure-hook'"), "{error}");
    let location = project.section("location = /elsewhere");
    let error = install(&workspace, &profile("c", &location)).expect_err("custom location");
    assert!(error.contains("invalid 'location' value"), "{error}");
}

#[test]
fn cmmi_shared_build_is_reused_by_a_second_profile() {
    let project = Project::new();
    let shared_root = project.workspace("shared");
    let text = format!("[buildout]\nparts = c\nshared-part-list = {}\n\n{}", shared_root.display(), project.section("shared = true"));
    let first = project.workspace("first");
    let run = build(&first, &text);
    assert_eq!(run.error(), "");
    assert_eq!(run.paths["c"], Vec::<PathBuf>::new(), "a shared part is never recorded for deletion");
    let location = PathBuf::from(run.option("c", "location"));
    assert_eq!(location.parent(), Some(shared_root.join("c").as_path()));
    assert!(location.join(".buildout-shared.json").exists());
    assert!(!location.join(".build").exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(location.join("bin/hello")).expect("stat").permissions().mode();
    assert_eq!(mode & 0o222, 0, "a shared part is read-only");
    assert_eq!(run_binary(&location.join("bin/hello")), "hello\n");
    assert_eq!(project.builds(), 1);

    let second = project.workspace("second");
    let again = build(&second, &text);
    assert_eq!(again.error(), "");
    assert_eq!(again.option("c", "location"), location.to_string_lossy());
    assert_eq!(again.paths["c"], Vec::<PathBuf>::new());
    assert_eq!(project.builds(), 1, "the second profile does not rebuild");
    assert!(!second.join("parts/c").exists());
}

#[test]
fn lifecycle_never_deletes_a_shared_build() {
    let project = Project::new();
    let shared_root = project.workspace("shared");
    let text = format!("[buildout]\nparts = c\nshared-part-list = {}\n\n{}", shared_root.display(), project.section("shared = true"));
    let workspace = project.workspace("buildout");
    let report = lifecycle_install(&workspace, &text).expect("builds");
    assert_eq!(report.installed, vec!["c".to_owned()]);
    assert_eq!(project.builds(), 1);
    let report = lifecycle_install(&workspace, "[buildout]\nparts =\n").expect("uninstalls");
    assert_eq!(report.uninstalled, vec!["c".to_owned()]);
    let built: Vec<_> = std::fs::read_dir(shared_root.join("c")).expect("shared part directory").collect();
    assert_eq!(built.len(), 1, "the shared build stays for other profiles");
    let report = lifecycle_install(&workspace, &text).expect("reuses");
    assert_eq!(report.installed, vec!["c".to_owned()]);
    assert_eq!(project.builds(), 1, "reinstalling reuses the shared build");
}
