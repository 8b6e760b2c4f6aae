//! The install run (spec §8.2–§8.4) through `lifecycle::install` with a
//! test recipe `r` that logs what it does to `<directory>/log`: install,
//! rerun, option change, part removal, the verified failure example, the
//! SlapOS dependency signatures, volatile options, unknown recipes, and the
//! replay of a journal left by a killed run.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use profile::lifecycle::{self, Action, Event, Events, InstallFailure, InstallReport, InstalledRecord, LifecycleError};
use profile::recipe::{
    self, Environment, InitContext, InstallContext, NoProgress, Options, Part, Recipe, RecipeError,
};
use profile::NoFetch;

use crate::cases::{options, Tree};

/// The test recipe `r`. Init sets `computed = <part>-<part>` and, when the
/// part has `secret`, a volatile `passwd`. Install writes
/// `parts/<part>` (declared created first) and returns it unless
/// `no-path` is set; `fail = install` or `fail = update` makes that step
/// fail after writing `parts/<part>.partial`.
struct TestRecipe;

fn log(directory: &Path, line: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(directory.join("log")).expect("log opens");
    writeln!(file, "{line}").expect("log written");
}

impl Recipe for TestRecipe {
    fn version(&self) -> &'static str {
        "1"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let part = context.part().to_owned();
        context.set("computed", format!("{part}-{part}"))?;
        if let Some(secret) = context.value("secret")? {
            context.set_volatile("passwd", format!("generated-{secret}"))?;
        }
        Ok(Box::new(TestPart))
    }

    fn uninstall(&self, part: &str, recorded: &Options, _environment: &Environment<'_>) -> Result<(), RecipeError> {
        let paths = recorded.get("__buildout_installed__").cloned().unwrap_or_default();
        let directory = Path::new(paths.lines().next().unwrap_or("/nonexistent")).parent().and_then(Path::parent);
        if let Some(directory) = directory {
            log(directory, &format!("uninstall-hook {part}"));
        }
        Ok(())
    }
}

struct TestPart;

impl TestPart {
    fn write(context: &mut InstallContext<'_>, step: &str) -> Result<Vec<PathBuf>, RecipeError> {
        log(context.directory, &format!("{step} {}", context.part));
        let path = context.directory.join("parts").join(context.part);
        if context.options.get("fail").map(String::as_str) == Some(step) {
            let partial = context.directory.join("parts").join(format!("{}.partial", context.part));
            context.created(partial.clone());
            std::fs::write(&partial, "half").map_err(|error| RecipeError::io(&partial, error))?;
            return Err(RecipeError::Failed(format!("{} refuses to {step}", context.part)));
        }
        context.created(path.clone());
        std::fs::write(&path, context.options.get("content").cloned().unwrap_or_default()).map_err(|error| RecipeError::io(&path, error))?;
        Ok(if context.options.contains_key("no-path") { Vec::new() } else { vec![path] })
    }
}

impl Part for TestPart {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        TestPart::write(context, "install")
    }

    fn update(&mut self, context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        log(context.directory, &format!("update {}", context.part));
        if context.options.get("fail").map(String::as_str) == Some("update") {
            return Err(RecipeError::Failed(format!("{} refuses to update", context.part)));
        }
        Ok(None)
    }
}

/// Buildout-style lines of what happened (nested runs included); shared
/// with the other lifecycle-driven tests.
#[derive(Default)]
pub struct Lines(pub RefCell<Vec<String>>);

impl Events for Lines {
    fn event(&self, event: &Event<'_>) {
        let line = match event {
            Event::Started { part, action: Action::Install } => format!("Installing {part}."),
            Event::Started { part, action: Action::Update } => format!("Updating {part}."),
            Event::Started { part, action: Action::Uninstall } => format!("Uninstalling {part}."),
            Event::Recovering { part, action } => format!("Recovering {part} ({action})."),
            Event::Warning { part, message } => format!("Warning {part}: {message}"),
            Event::Finished { .. } => return,
        };
        self.0.borrow_mut().push(line);
    }
}

/// A buildout directory with one profile, run again and again.
struct Site {
    tree: Tree,
}

impl Site {
    fn new(profile: &str) -> Site {
        Site { tree: Tree::new(&[("buildout.cfg", profile)]) }
    }

    fn write(&self, profile: &str) {
        std::fs::write(self.tree.path("buildout.cfg"), profile).expect("profile written");
    }

    fn run(&self) -> (Result<InstallReport, InstallFailure>, Vec<String>) {
        let mut load = options();
        load.cwd = Some(PathBuf::from(self.tree.root()));
        let profile = profile::load_file(&self.tree.path("buildout.cfg"), &load).expect("profile loads");
        let mut recipes = recipe::builtin();
        recipes.register("r", Arc::new(TestRecipe));
        let environment = Environment { fetch: &NoFetch, progress: &NoProgress };
        let lines = Lines::default();
        let result = lifecycle::install(&profile, &recipes, &environment, &lines);
        (result, lines.0.into_inner())
    }

    fn ok(&self) -> Vec<String> {
        let (result, lines) = self.run();
        result.unwrap_or_else(|failure| panic!("run failed: {failure} ({lines:?})"));
        lines
    }

    fn record(&self) -> InstalledRecord {
        let path = self.tree.path(".installed.cfg");
        InstalledRecord::parse(&std::fs::read_to_string(&path).expect("record exists"), "record").expect("record parses")
    }

    fn record_text(&self) -> String {
        std::fs::read_to_string(self.tree.path(".installed.cfg")).expect("record exists")
    }

    fn take_log(&self) -> Vec<String> {
        let path = self.tree.path("log");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        text.lines().map(str::to_owned).collect()
    }

    fn exists(&self, name: &str) -> bool {
        self.tree.path(name).exists()
    }
}

const TWO_PARTS: &str = "[buildout]\nparts = a b\n\n[a]\nrecipe = r\ncontent = A\n\n[b]\nrecipe = r\ncontent = ${a:content}B\n";

#[test]
fn install_records_each_part_with_paths_and_signature() {
    let site = Site::new(TWO_PARTS);
    assert_eq!(site.ok(), ["Installing a.", "Installing b."]);
    assert_eq!(std::fs::read_to_string(site.tree.path("parts/b")).expect("b installed"), "AB");
    let record = site.record();
    assert_eq!(record.parts, ["a", "b"]);
    let a = &record.sections["a"];
    assert_eq!(a["__buildout_installed__"], site.tree.path("parts/a").to_string_lossy());
    assert_eq!(a["__buildout_signature__"], "r-1");
    assert_eq!(a["computed"], "a-a");
    let b_signature = &record.sections["b"]["__buildout_signature__"];
    assert!(b_signature.starts_with("a:") && b_signature.ends_with(" r-1"), "{b_signature}");
    assert!(site.record_text().starts_with("[buildout]\ninstalled_develop_eggs = \nparts = a b\n\n[a]\n"));
    assert!(!site.exists(".installed.cfg.journal"));
}

#[test]
fn rerun_unchanged_only_updates() {
    let site = Site::new(TWO_PARTS);
    site.ok();
    let before = site.record_text();
    site.take_log();
    assert_eq!(site.ok(), ["Updating a.", "Updating b."]);
    assert_eq!(site.take_log(), ["update a", "update b"]);
    assert_eq!(site.record_text(), before);
}

#[test]
fn changed_option_reinstalls_the_part_and_its_referrer() {
    let site = Site::new(TWO_PARTS);
    site.ok();
    site.take_log();
    site.write(&TWO_PARTS.replace("content = A\n", "content = Z\n"));
    assert_eq!(site.ok(), ["Uninstalling b.", "Uninstalling a.", "Installing a.", "Installing b."]);
    assert_eq!(std::fs::read_to_string(site.tree.path("parts/b")).expect("b"), "ZB");
    assert_eq!(site.take_log(), ["uninstall-hook b", "uninstall-hook a", "install a", "install b"]);
}

#[test]
fn removed_part_is_uninstalled_and_its_files_deleted() {
    let site = Site::new(TWO_PARTS);
    site.ok();
    site.write("[buildout]\nparts = a\n\n[a]\nrecipe = r\ncontent = A\n");
    assert_eq!(site.ok(), ["Uninstalling b.", "Updating a."]);
    assert!(!site.exists("parts/b"));
    assert_eq!(site.record().parts, ["a"]);
    site.write("[buildout]\nparts =\n");
    assert_eq!(site.ok(), ["Uninstalling a."]);
    assert!(!site.exists("parts/a"));
    assert!(!site.exists(".installed.cfg"), "a record with nothing installed is removed");
}

#[test]
fn missing_recorded_path_reinstalls() {
    let site = Site::new(TWO_PARTS);
    site.ok();
    std::fs::remove_file(site.tree.path("parts/a")).expect("remove a");
    assert_eq!(site.ok(), ["Uninstalling a.", "Installing a.", "Updating b."]);
    assert!(site.exists("parts/a"));
}

#[test]
fn empty_recipe_part_is_not_installed_and_its_old_install_removed() {
    let site = Site::new(TWO_PARTS);
    site.ok();
    site.write(&TWO_PARTS.replace("[b]\nrecipe = r\n", "[b]\nrecipe =\n"));
    assert_eq!(site.ok(), ["Uninstalling b.", "Updating a."]);
    assert!(!site.exists("parts/b"));
    assert_eq!(site.record().parts, ["a"]);
}

/// Spec §7.4 / §8.2 verified example.
const ORDER: &str = "[buildout]\nparts = a b\n[a]\nrecipe = r\nref = ${c:computed}\nzz = ${d:x}\n[b]\nrecipe = r\nref = ${a:ref}\n[c]\nrecipe = r\n[d]\nrecipe = r\nx = 1\n=> e\n[e]\nrecipe = r\n";

#[test]
fn failure_example_leaves_c_e_d_a() {
    let site = Site::new(ORDER);
    assert_eq!(site.ok(), ["Installing c.", "Installing e.", "Installing d.", "Installing a.", "Installing b."]);
    assert_eq!(site.record().parts, ["c", "e", "d", "a", "b"]);
    site.write(&ORDER.replace("x = 1\n", "x = 2\n").replace("ref = ${a:ref}\n", "ref = ${a:ref}\nfail = install\n"));
    let (result, lines) = site.run();
    let failure = result.expect_err("b fails");
    assert_eq!(
        lines,
        ["Uninstalling b.", "Uninstalling a.", "Uninstalling d.", "Updating c.", "Updating e.", "Installing d.", "Installing a.", "Installing b."]
    );
    assert_eq!(failure.report.installed, ["d", "a"]);
    assert_eq!(failure.error.part(), Some("b"));
    assert_eq!(failure.error.to_string(), "cannot install part b: b refuses to install");
    assert_eq!(site.record().parts, ["c", "e", "d", "a"]);
    assert!(!site.exists("parts/b.partial"), "what the failed install declared created is deleted");
    assert!(!site.exists(".installed.cfg.journal"));
}

#[test]
fn failed_update_drops_the_part_and_deletes_its_paths() {
    let site = Site::new(TWO_PARTS);
    site.ok();
    site.write(&TWO_PARTS.replace("content = ${a:content}B\n", "content = ${a:content}B\nfail = update\n"));
    // The option change reinstalls b (install ignores `fail = update`), then
    // the next run updates it and fails.
    site.ok();
    let (result, _) = site.run();
    let failure = result.expect_err("update fails");
    assert_eq!(failure.error.part(), Some("b"));
    assert_eq!(site.record().parts, ["a"]);
    assert!(!site.exists("parts/b"));
}

#[test]
fn dependency_signature_change_reinstalls_the_referrer() {
    // Spec §12 case 15 [S]: p references ${d:x}; only d:y changes.
    let profile = "[buildout]\nparts = p\n[d]\nx = 1\ny = 1\n[p]\nrecipe = r\nref = ${d:x}\n";
    let site = Site::new(profile);
    site.ok();
    let signature = site.record().sections["p"]["__buildout_signature__"].clone();
    assert!(signature.starts_with("d:") && signature.ends_with(" r-1"), "{signature}");
    assert_eq!(site.ok(), ["Updating p."]);
    site.write(&profile.replace("y = 1", "y = 2"));
    assert_eq!(site.ok(), ["Uninstalling p.", "Installing p."]);
    assert_ne!(site.record().sections["p"]["__buildout_signature__"], signature);
}

#[test]
fn dependency_change_travels_through_part_signatures() {
    // c references b which references a: a's change reaches c through b's
    // signature even though c's own values do not change.
    let profile = "[buildout]\nparts = c\n[a]\nrecipe = r\nv = 1\n[b]\nrecipe = r\nref = ${a:computed}\n[c]\nrecipe = r\nref = ${b:computed}\n";
    let site = Site::new(profile);
    site.ok();
    site.write(&profile.replace("v = 1", "v = 2"));
    assert_eq!(site.ok(), ["Uninstalling c.", "Uninstalling b.", "Uninstalling a.", "Installing a.", "Installing b.", "Installing c."]);
}

#[test]
fn volatile_option_is_neither_recorded_nor_compared() {
    // Spec §12 case 16 [S]: the recipe sets `passwd` volatile.
    let site = Site::new("[buildout]\nparts = p\n[p]\nrecipe = r\nsecret = s1\n");
    site.ok();
    assert!(!site.record().sections["p"].contains_key("passwd"));
    assert!(!site.record_text().contains("generated-"));
    assert_eq!(site.ok(), ["Updating p."]);
}

#[test]
fn unknown_recipe_names_the_recipe_and_the_part() {
    let site = Site::new("[buildout]\nparts = p\n[p]\nrecipe = no.such.recipe:thing\n");
    let (result, lines) = site.run();
    let failure = result.expect_err("unknown recipe");
    assert!(lines.is_empty());
    assert!(matches!(failure.error, LifecycleError::Profile(_)));
    assert_eq!(failure.error.part(), Some("p"));
    let message = failure.error.to_string();
    assert!(message.starts_with("part p: unknown recipe \"no.such.recipe:thing\""), "{message}");
}

#[test]
fn unknown_egg_entry_point_names_the_family() {
    let site = Site::new("[buildout]\nparts = p\n[p]\nrecipe = zc.recipe.egg:nothing\neggs = x\n");
    let (result, _) = site.run();
    let message = result.expect_err("no such entry point").error.to_string();
    assert!(message.starts_with("part p: unknown recipe \"zc.recipe.egg:nothing\": not registered here (zc.recipe.egg's entry points"), "{message}");
}

#[test]
fn resolution_error_changes_nothing() {
    let site = Site::new(TWO_PARTS);
    site.ok();
    let before = site.record_text();
    site.write(&TWO_PARTS.replace("content = A\n", "content = ${nope:x}\n"));
    let (result, lines) = site.run();
    assert!(result.is_err());
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(site.record_text(), before);
    assert!(site.exists("parts/a"));
}

#[test]
fn killed_install_is_cleaned_and_redone() {
    // The journal a run killed while installing b leaves: b's declared
    // path written, the record (a only) unchanged since.
    let site = Site::new(TWO_PARTS);
    site.write("[buildout]\nparts = a\n\n[a]\nrecipe = r\ncontent = A\n");
    site.ok();
    site.write(TWO_PARTS);
    let digest = md5_hex(site.record_text().as_bytes());
    let half = site.tree.path("parts/b");
    std::fs::write(&half, "half").expect("half-installed file");
    let journal = format!("[journal]\naction = install\npart = b\npaths = {}\nrecord = {digest}\n", half.display());
    std::fs::write(site.tree.path(".installed.cfg.journal"), journal).expect("journal");
    let lines = site.ok();
    assert_eq!(lines, ["Recovering b (install).", "Updating a.", "Installing b."]);
    assert_eq!(std::fs::read_to_string(&half).expect("b"), "AB");
    assert!(!site.exists(".installed.cfg.journal"));
}

#[test]
fn journal_of_a_completed_install_is_only_removed() {
    let site = Site::new(TWO_PARTS);
    site.ok();
    let journal = format!("[journal]\naction = install\npart = b\npaths = {}\nrecord = absent\n", site.tree.path("parts/b").display());
    std::fs::write(site.tree.path(".installed.cfg.journal"), journal).expect("journal");
    assert_eq!(site.ok(), ["Updating a.", "Updating b."]);
    assert!(site.exists("parts/b"));
}

#[test]
fn killed_uninstall_finishes_deleting() {
    // Killed after the record dropped b, during the deletions.
    let site = Site::new(TWO_PARTS);
    site.ok();
    let b = site.tree.path("parts/b");
    site.write("[buildout]\nparts = a\n\n[a]\nrecipe = r\ncontent = A\n");
    let journal = format!("[journal]\naction = uninstall\npart = b\npaths = {}\nrecord = whatever\n", b.display());
    std::fs::write(site.tree.path(".installed.cfg.journal"), journal).expect("journal");
    assert_eq!(site.ok(), ["Recovering b (uninstall).", "Updating a."]);
    assert!(!b.exists());
    assert_eq!(site.record().parts, ["a"]);
}

#[test]
fn recorded_buildout_directory_is_never_deleted() {
    let site = Site::new("[buildout]\nparts = p\n[p]\nrecipe = r\n");
    site.ok();
    let text = site.record_text().replace(
        &format!("__buildout_installed__ = {}", site.tree.path("parts/p").display()),
        &format!("__buildout_installed__ = {}\n\t..", site.tree.path("parts/p").display()),
    );
    std::fs::write(site.tree.path(".installed.cfg"), text).expect("record edited");
    site.write("[buildout]\nparts =\n");
    let lines = site.ok();
    assert_eq!(lines[0], "Uninstalling p.");
    assert!(lines[1].starts_with("Warning p: not deleting"), "{lines:?}");
    assert!(site.exists("buildout.cfg"));
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(data).iter().map(|byte| format!("{byte:02x}")).collect()
}

#[test]
fn command_recipe_runs_in_the_directory_and_returns_its_locations() {
    let profile = "[buildout]\nparts = cmd\n[cmd]\nrecipe = plone.recipe.command\ncommand = mkdir out && echo hi > out/file && false\nupdate-command = echo again >> out/file\nlocation = out\n";
    let site = Site::new(profile);
    site.ok();
    assert_eq!(std::fs::read_to_string(site.tree.path("out/file")).expect("command ran"), "hi\n");
    assert_eq!(site.record().sections["cmd"]["__buildout_installed__"], "out");
    assert_eq!(site.record().sections["cmd"]["__buildout_signature__"], "plone.recipe.command-1.1");
    assert_eq!(site.ok(), ["Updating cmd."]);
    assert_eq!(std::fs::read_to_string(site.tree.path("out/file")).expect("update ran"), "hi\nagain\n");
    site.write("[buildout]\nparts =\n");
    site.ok();
    assert!(!site.exists("out"), "the location is removed with the part");
}

#[test]
fn command_recipe_stops_on_error_when_asked() {
    let site = Site::new("[buildout]\nparts = cmd\n[cmd]\nrecipe = plone.recipe.command\ncommand = exit 3\nstop-on-error = Yes\n");
    let (result, _) = site.run();
    assert_eq!(result.expect_err("stops").error.to_string(), "cannot install part cmd: command failed with exit code 3: exit 3");
    let site = Site::new("[buildout]\nparts = cmd\n[cmd]\nrecipe = plone.recipe.command\n");
    let (result, _) = site.run();
    assert_eq!(result.expect_err("no command").error.to_string(), "cannot install part cmd: No command specified");
}

#[test]
fn mkdirectory_makes_directories_and_never_removes_them() {
    let site = Site::new("[buildout]\nparts = dirs\n[dirs]\nrecipe = slapos.recipe.build:mkdirectory\nmode = 0700\netc = ${buildout:directory}/etc/deep\nvar = var\nempty =\n");
    site.ok();
    assert!(site.exists("etc/deep") && site.exists("var"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(site.tree.path("var")).expect("var").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert_eq!(site.ok(), ["Updating dirs."]);
    site.write("[buildout]\nparts =\n");
    site.ok();
    assert!(site.exists("etc/deep"), "directories may hold data: kept");
}
