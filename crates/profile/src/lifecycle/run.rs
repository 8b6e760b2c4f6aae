//! One `buildout install` run (spec §8.2) over a loaded profile: replay a
//! killed run's journal, resolve with the registered recipes, sign the
//! parts, uninstall what disappeared or changed, then update or install
//! each part in order, saving the record as each completes and once more at
//! the end whatever happened. Each part's context carries the run as a
//! [`ParentRun`], for nested installs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::record::{InstalledRecord, INSTALLED_KEY, SIGNATURE_KEY};
use super::signature::signature;
use super::store::{delete_paths, full_path, Journal, JournalEntry, RecordFile};
use super::{Action, Event, Events, InstallFailure, InstallReport, LifecycleError, ParentRun};
use crate::recipe::{Environment, InitialisedPart, InstallContext, Options, RecipeError, RecipeRun, Recipes};
use crate::{final_read, select_parts, Profile, ProfileError, Resolver};

/// Installs `profile` in its `buildout:directory` with `recipes`, telling
/// `events` what happens.
///
/// # Errors
/// An [`InstallFailure`] holding what completed and the
/// [`LifecycleError`]: resolution errors come before any change; a recipe
/// failure leaves the record as spec §8.2 describes.
// The failure carries the report by design; it is returned once per run.
#[allow(clippy::result_large_err)]
pub fn install(profile: &Profile, recipes: &Recipes, environment: &Environment<'_>, events: &dyn Events) -> Result<InstallReport, InstallFailure> {
    install_at_depth(profile, recipes, environment, events, 0)
}

/// [`install`] inside `depth` enclosing installs (see [`ParentRun`]).
// The failure carries the report by design, as `install` does.
#[allow(clippy::result_large_err)]
pub(super) fn install_at_depth(
    profile: &Profile,
    recipes: &Recipes,
    environment: &Environment<'_>,
    events: &dyn Events,
    depth: usize,
) -> Result<InstallReport, InstallFailure> {
    let mut report = InstallReport::default();
    let parent = ParentRun { recipes, python: &profile.python, events, depth };
    match run(profile, parent, environment, &mut report) {
        Ok(()) => Ok(report),
        Err(error) => Err(InstallFailure { report, error }),
    }
}

/// A part ready for the install loop.
struct Planned {
    /// What the record keeps and compares: escaped values, volatile keys
    /// out, the signature in.
    copy: Options,
    /// What the recipe sees: final values, all keys.
    options: Options,
}

/// The state of a run after resolution.
struct Run<'a> {
    file: RecordFile,
    record: InstalledRecord,
    journal: Journal,
    directory: PathBuf,
    parts_directory: PathBuf,
    events: &'a dyn Events,
    recipes: &'a Recipes,
    environment: &'a Environment<'a>,
    report: &'a mut InstallReport,
    /// What each part's install or update gets for nested installs.
    parent: ParentRun<'a>,
}

fn run(profile: &Profile, parent: ParentRun<'_>, environment: &Environment<'_>, report: &mut InstallReport) -> Result<(), LifecycleError> {
    let (recipes, events) = (parent.recipes, parent.events);
    let hook = RecipeRun::new(recipes, environment);
    let mut resolver = profile.resolver(&hook)?;
    let directory = PathBuf::from(resolver.require("buildout", "directory")?);
    let parts_directory = setup_directories(&mut resolver)?;
    let installed = resolver.require("buildout", "installed")?;
    let (file, record) = RecordFile::open((!installed.is_empty()).then(|| PathBuf::from(&installed)))?;
    report.record = file.path().map(Path::to_path_buf);
    let journal = Journal::new(file.journal_path());
    let mut run = Run { file, record, journal, directory, parts_directory, events, recipes, environment, report, parent };
    run.recover()?;
    select_parts(&mut resolver)?;
    let order = resolver.parts().to_vec();
    let mut initialised = hook.take_parts();
    let planned = plan(&mut resolver, &order, &initialised)?;
    let check_signature = resolver.get("buildout", "check-signature")?.is_none_or(|value| value.trim() != "false");
    let result = run.uninstall_changed(&planned, check_signature).and_then(|()| run.install_all(&order, planned, &mut initialised));
    let saved = run.file.save(&run.record);
    result.and(saved)
}

/// `_setup_directories`: `bin`, `parts` and `develop-eggs` directories
/// made if missing. Returns the parts directory.
fn setup_directories(resolver: &mut Resolver<'_>) -> Result<PathBuf, LifecycleError> {
    let mut parts_directory = PathBuf::new();
    for name in ["bin", "parts", "develop-eggs"] {
        let directory = PathBuf::from(resolver.require("buildout", &format!("{name}-directory"))?);
        if !directory.exists() {
            std::fs::create_dir(&directory).map_err(|error| LifecycleError::io(&directory, error))?;
        }
        if name == "parts" {
            parts_directory = directory;
        }
    }
    Ok(parts_directory)
}

/// Each part's record copy (with its signature, §8.3) and recipe options.
fn plan(
    resolver: &mut Resolver<'_>,
    order: &[String],
    initialised: &BTreeMap<String, InitialisedPart>,
) -> Result<BTreeMap<String, Planned>, ProfileError> {
    let dependencies = resolver.dependencies().clone();
    let mut signatures: BTreeMap<String, String> = BTreeMap::new();
    let mut planned = BTreeMap::new();
    for part in order {
        let Some(init) = initialised.get(part) else { continue };
        let mut hashed = Vec::new();
        for section in dependencies.get(part).into_iter().flatten() {
            if section == "buildout" || section == part {
                continue;
            }
            let mut items = resolver.options(section)?;
            if let Some(dependency) = initialised.get(section) {
                items.retain(|key, _| !dependency.volatile.contains(key));
            }
            if let Some(signature) = signatures.get(section) {
                items.insert(SIGNATURE_KEY.to_owned(), signature.clone());
            }
            hashed.push((section.clone(), items));
        }
        let signature = signature(&init.recipe, init.version, hashed.iter().map(|(section, items)| (section.as_str(), items)));
        let resolved = resolver.options(part)?;
        let options = resolved.iter().map(|(key, value)| (key.clone(), final_read(value))).collect();
        let mut copy = resolved;
        copy.retain(|key, _| !init.volatile.contains(key));
        copy.insert(SIGNATURE_KEY.to_owned(), signature.clone());
        signatures.insert(part.clone(), signature);
        planned.insert(part.clone(), Planned { copy, options });
    }
    Ok(planned)
}

/// Whether a recorded part matches its new copy (its paths aside).
fn unchanged(recorded: &Options, copy: &Options, check_signature: bool) -> bool {
    let relevant = |key: &String| key != INSTALLED_KEY && (check_signature || key != SIGNATURE_KEY);
    let old: BTreeMap<&String, &String> = recorded.iter().filter(|(key, _)| relevant(key)).collect();
    let new: BTreeMap<&String, &String> = copy.iter().filter(|(key, _)| relevant(key)).collect();
    old == new
}

impl Run<'_> {
    fn emit(&self, event: &Event<'_>) {
        self.events.event(event);
    }

    /// Replays the journal a killed run left (see the crash-safety notes).
    fn recover(&mut self) -> Result<(), LifecycleError> {
        let Some(entry) = self.journal.leftover()? else { return Ok(()) };
        let unfinished = entry.action == Action::Uninstall || entry.record_digest == self.file.digest();
        if unfinished {
            self.emit(&Event::Recovering { part: &entry.part, action: entry.action });
            self.delete(&entry.part, &entry.paths)?;
            self.record.remove(&entry.part);
            self.file.save(&self.record)?;
            self.report.recovered.push(entry.part.clone());
        }
        self.journal.remove()
    }

    /// Deletes recorded paths, warning about refused ones.
    fn delete(&self, part: &str, paths: &[String]) -> Result<(), LifecycleError> {
        for refused in delete_paths(&self.directory, paths)? {
            let message = format!("not deleting {}: it is the buildout directory or holds it", refused.display());
            self.emit(&Event::Warning { part, message });
        }
        Ok(())
    }

    fn begin(&self, action: Action, part: &str, paths: Vec<String>) -> Result<(), LifecycleError> {
        let entry = JournalEntry { action, part: part.to_owned(), paths, record_digest: self.file.digest() };
        self.journal.begin(entry)
    }

    /// Loop 1 of §8.2: recorded parts, last first, uninstalled unless kept.
    fn uninstall_changed(&mut self, planned: &BTreeMap<String, Planned>, check_signature: bool) -> Result<(), LifecycleError> {
        let recorded_parts = self.record.parts.clone();
        for part in recorded_parts.iter().rev() {
            if let (Some(new), Some(old)) = (planned.get(part), self.record.sections.get(part)) {
                if unchanged(old, &new.copy, check_signature) && self.paths_exist(part) {
                    continue;
                }
            }
            self.uninstall(part)?;
        }
        Ok(())
    }

    fn paths_exist(&self, part: &str) -> bool {
        self.record.installed_paths(part).iter().all(|path| full_path(&self.directory, path).exists())
    }

    fn uninstall(&mut self, part: &str) -> Result<(), LifecycleError> {
        self.emit(&Event::Started { part, action: Action::Uninstall });
        let recorded = self.record.sections.get(part).cloned().unwrap_or_default();
        if let Some(recipe) = recorded.get("recipe").and_then(|name| self.recipes.get(name)) {
            recipe.uninstall(part, &recorded, self.environment).map_err(|cause| LifecycleError::Recipe {
                part: part.to_owned(),
                action: Action::Uninstall,
                cause: Box::new(cause),
            })?;
        }
        let paths = self.record.installed_paths(part);
        self.begin(Action::Uninstall, part, paths.clone())?;
        self.record.remove(part);
        self.file.save(&self.record)?;
        self.delete(part, &paths)?;
        self.journal.end()?;
        self.report.uninstalled.push(part.to_owned());
        self.emit(&Event::Finished { part, action: Action::Uninstall });
        Ok(())
    }

    /// Loop 2 of §8.2: each part updated if still recorded, else installed.
    fn install_all(
        &mut self,
        order: &[String],
        mut planned: BTreeMap<String, Planned>,
        initialised: &mut BTreeMap<String, InitialisedPart>,
    ) -> Result<(), LifecycleError> {
        for part in order {
            let (Some(plan), Some(init)) = (planned.remove(part), initialised.get_mut(part)) else { continue };
            if self.record.contains(part) {
                self.update(part, plan, init)?;
            } else {
                self.install(part, plan, init)?;
            }
        }
        Ok(())
    }

    /// The part's `location`, when it is a single path inside the buildout
    /// or parts directory (never one of them): journalled before an install.
    fn owned_location(&self, options: &Options) -> Vec<String> {
        let Some(location) = options.get("location").map(|value| value.trim()) else { return Vec::new() };
        if location.is_empty() || location.contains('\n') {
            return Vec::new();
        }
        let path = full_path(&self.directory, location);
        let inside = |root: &Path| path.starts_with(root) && path != root && !location.contains("..");
        if inside(&self.directory) || inside(&self.parts_directory) {
            vec![path.to_string_lossy().into_owned()]
        } else {
            Vec::new()
        }
    }

    fn install(&mut self, part: &str, plan: Planned, init: &mut InitialisedPart) -> Result<(), LifecycleError> {
        self.emit(&Event::Started { part, action: Action::Install });
        self.begin(Action::Install, part, self.owned_location(&plan.options))?;
        let journal = &self.journal;
        let watcher = |path: &Path| journal.add_path(path);
        let mut context = InstallContext::new(part, &plan.options, &self.directory, self.environment).watch_created(&watcher).with_parent_run(self.parent);
        let result = init.part.install(&mut context);
        let created: Vec<String> = context.created_paths().iter().map(|path| path.to_string_lossy().into_owned()).collect();
        let paths = match result {
            Ok(paths) => paths,
            Err(source) => return self.fail(Action::Install, part, &created, source),
        };
        let mut copy = plan.copy;
        let paths: Vec<String> = paths.iter().map(|path| path.to_string_lossy().into_owned()).collect();
        copy.insert(INSTALLED_KEY.to_owned(), paths.join("\n"));
        self.record.put(part, copy);
        self.file.save(&self.record)?;
        self.journal.end()?;
        self.report.installed.push(part.to_owned());
        self.emit(&Event::Finished { part, action: Action::Install });
        Ok(())
    }

    fn update(&mut self, part: &str, plan: Planned, init: &mut InitialisedPart) -> Result<(), LifecycleError> {
        self.emit(&Event::Started { part, action: Action::Update });
        let old_text = self.record.sections.get(part).and_then(|options| options.get(INSTALLED_KEY)).cloned().unwrap_or_default();
        let old_paths = self.record.installed_paths(part);
        self.begin(Action::Update, part, old_paths.clone())?;
        let journal = &self.journal;
        let watcher = |path: &Path| journal.add_path(path);
        let mut context = InstallContext::new(part, &plan.options, &self.directory, self.environment).watch_created(&watcher).with_parent_run(self.parent);
        let result = init.part.update(&mut context);
        let created: Vec<String> = context.created_paths().iter().map(|path| path.to_string_lossy().into_owned()).collect();
        let installed = match result {
            Ok(None) => old_text,
            Ok(Some(new_paths)) => {
                let mut all: std::collections::BTreeSet<String> = old_paths.into_iter().collect();
                all.extend(new_paths.iter().map(|path| path.to_string_lossy().into_owned()));
                all.into_iter().collect::<Vec<_>>().join("\n")
            }
            Err(source) => {
                self.record.remove(part);
                self.file.save(&self.record)?;
                let mut paths = created;
                paths.extend(old_paths);
                return self.fail(Action::Update, part, &paths, source);
            }
        };
        let mut copy = plan.copy;
        copy.insert(INSTALLED_KEY.to_owned(), installed);
        self.record.put(part, copy);
        self.file.save(&self.record)?;
        self.journal.end()?;
        self.report.updated.push(part.to_owned());
        self.emit(&Event::Finished { part, action: Action::Update });
        Ok(())
    }

    /// A failed install or update: `paths` deleted, the journal closed, the
    /// recipe's error returned.
    fn fail(&mut self, action: Action, part: &str, paths: &[String], source: RecipeError) -> Result<(), LifecycleError> {
        self.delete(part, paths)?;
        self.journal.end()?;
        Err(LifecycleError::Recipe { part: part.to_owned(), action, cause: Box::new(source) })
    }
}
