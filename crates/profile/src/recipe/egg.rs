//! The `zc.recipe.egg` family (spec §10, §11.14) as native recipes that
//! delegate the installation of Python distributions to pip, run by the
//! part's own interpreter (`<executable> -m pip`).
//!
//! Entry points: `zc.recipe.egg` (= `:default`), `:script`, `:scripts`
//! (install `eggs`, then write console scripts), `:eggs` (install only),
//! `:custom` (build one `egg` from source with `include-dirs`,
//! `library-dirs`, `rpath`, `define`, `undef`, `libraries`,
//! `environment`), `:develop` (install `setup` editable).
//!
//! Init always sets what the real recipe publishes, so that references
//! resolve without installing anything: `eggs-directory`/`_e`,
//! `develop-eggs-directory`/`_d`, `bin-directory`/`_b` (scripts),
//! `find-links`, `index`, `extra-paths` (joined to the buildout
//! directory), `include-dirs`/`library-dirs`/`rpath` (custom), `setup`
//! (develop), and `executable`: the `executable` of the section named by
//! the part's `python` option, else by `buildout:python` (`buildout`).
//!
//! # Layout
//! * `:eggs`/`:scripts`: one pip `--target` directory per requirement set,
//!   `<eggs-directory>/<first egg>-<md5 of executable, requirements and
//!   pins, 12 digits>`, shared by the parts asking for the same set and
//!   never deleted by an uninstall (as buildout's eggs directory). It is
//!   filled in `.<name>.tmp-<pid>` and renamed when pip succeeded and the
//!   picked versions were checked, so an existing directory is complete
//!   and reused without running pip (also offline). Dependencies are
//!   installed; `[versions]` pins reach pip as a constraints file.
//! * `:custom` and `:develop`: `<develop-eggs-directory>/<part>`, returned
//!   (removed on uninstall). A `:scripts` part takes a requirement found
//!   there (by `.dist-info` name) from it, ahead of the eggs, as buildout
//!   prefers develop eggs; pip then installs that egg's dependencies.
//! * Scripts: `<bin-directory>/<name>`, `#!<executable>` Python files that
//!   put develop eggs, the eggs, their `.pth` paths and `extra-paths` in
//!   front of `sys.path`, then call the entry point; these are returned.
//!
//! Pip runs without build isolation (sources build with the interpreter's
//! own setuptools, as buildout does) and, with `buildout:offline = true`,
//! with `--no-index` and the `find-links` plus `<download-cache>/dist`.
//! Not supported: `relative-paths = true` and the build options
//! `link-objects`, `debug`, `force`, `compiler`, `swig*` (init fails naming
//! them); `setup-eggs` is accepted and ignored (build requirements come
//! from the interpreter).

mod requirements;
mod scripts;
mod sys;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use requirements::{normalise, Pins, Requirement};
use scripts::{Distribution, EntryPoint, Selection};

use super::{build_environment, InitContext, InstallContext, Part, Recipe, RecipeError, Recipes};

/// Registers the `zc.recipe.egg` entry points.
pub fn register(recipes: &mut Recipes) {
    let entries = [
        ("zc.recipe.egg", Kind::Scripts),
        ("zc.recipe.egg:script", Kind::Scripts),
        ("zc.recipe.egg:scripts", Kind::Scripts),
        ("zc.recipe.egg:eggs", Kind::Eggs),
        ("zc.recipe.egg:custom", Kind::Custom),
        ("zc.recipe.egg:develop", Kind::Develop),
    ];
    for (name, kind) in entries {
        recipes.register(name, Arc::new(EggRecipe { kind }));
    }
}

/// Which class of the real recipe an entry point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Eggs,
    Scripts,
    Custom,
    Develop,
}

struct EggRecipe {
    kind: Kind,
}

/// The build options this engine does not pass to a `:custom` build.
const UNSUPPORTED_BUILD_OPTIONS: [&str; 7] = ["link-objects", "debug", "force", "compiler", "swig", "swig-cpp", "swig-opts"];

impl Recipe for EggRecipe {
    fn version(&self) -> &'static str {
        "2.0.7+pip1"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let settings = Settings::read(context, self.kind)?;
        match self.kind {
            Kind::Eggs | Kind::Scripts => {
                let eggs = EggsPart::read(context, settings, self.kind == Kind::Scripts)?;
                Ok(Box::new(eggs))
            }
            Kind::Custom => Ok(Box::new(CustomPart::read(context, settings)?)),
            Kind::Develop => {
                let setup = crate::paths::join(&buildout_option(context, "directory")?, context.require("setup")?.trim());
                context.set("setup", setup.clone())?;
                Ok(Box::new(DevelopPart { settings, setup }))
            }
        }
    }
}

/// A `[buildout]` option, final value.
fn buildout_option(context: &mut InitContext<'_, '_>, option: &str) -> Result<String, RecipeError> {
    Ok(crate::final_read(&context.resolver().require("buildout", option)?))
}

/// What every entry point reads at init.
#[derive(Debug, Clone)]
struct Settings {
    executable: String,
    eggs_directory: PathBuf,
    develop_eggs_directory: PathBuf,
    find_links: Vec<String>,
    index: Option<String>,
    offline: bool,
    pins: Pins,
    allow_picked: bool,
}

impl Settings {
    fn read(context: &mut InitContext<'_, '_>, kind: Kind) -> Result<Settings, RecipeError> {
        let links = match context.value("find-links")? {
            Some(links) => links,
            None => context.lookup("buildout", "find-links")?.unwrap_or_default(),
        };
        let mut find_links: Vec<String> = links.split_whitespace().map(str::to_owned).collect();
        if !find_links.is_empty() {
            context.set("find-links", find_links.join("\n"))?;
        }
        let index = match context.value("index")? {
            Some(index) => Some(index),
            None => context.lookup("buildout", "index")?,
        };
        if let Some(index) = &index {
            context.set("index", index.clone())?;
        }
        let eggs_directory = buildout_option(context, "eggs-directory")?;
        let develop_eggs_directory = buildout_option(context, "develop-eggs-directory")?;
        if matches!(kind, Kind::Eggs | Kind::Scripts | Kind::Custom) {
            if kind != Kind::Custom {
                context.set("eggs-directory", eggs_directory.clone())?;
                context.set("develop-eggs-directory", develop_eggs_directory.clone())?;
            }
            context.set("_e", eggs_directory.clone())?;
        }
        context.set("_d", develop_eggs_directory.clone())?;
        let python = match context.value("python")?.filter(|python| !python.trim().is_empty()) {
            Some(python) => python.trim().to_owned(),
            None => buildout_option(context, "python")?.trim().to_owned(),
        };
        let executable = crate::final_read(&context.resolver().require(&python, "executable")?).trim().to_owned();
        context.set("executable", executable.clone())?;
        let offline = context.lookup("buildout", "offline")?.is_some_and(|value| value.trim() == "true");
        if offline {
            if let Some(cache) = context.lookup("buildout", "download-cache")?.filter(|cache| !cache.trim().is_empty()) {
                find_links.push(crate::paths::join(cache.trim(), "dist"));
            }
        }
        let allow_picked = context.lookup("buildout", "allow-picked-versions")?.is_none_or(|value| value.trim() != "false");
        let versions = context.lookup("buildout", "versions")?.unwrap_or_default();
        let pins = if versions.trim().is_empty() { Pins::default() } else { Pins::new(&context.resolver().options(versions.trim())?) };
        Ok(Settings {
            executable,
            eggs_directory: PathBuf::from(eggs_directory),
            develop_eggs_directory: PathBuf::from(develop_eggs_directory),
            find_links,
            index,
            offline,
            pins,
            allow_picked,
        })
    }

    /// Where pip looks: `--no-index` offline, else `--index-url`; then
    /// each `--find-links`.
    fn source_arguments(&self) -> Vec<OsString> {
        let mut arguments: Vec<OsString> = Vec::new();
        if self.offline {
            arguments.push("--no-index".into());
        } else if let Some(index) = &self.index {
            arguments.extend(["--index-url".into(), index.into()]);
        }
        for link in &self.find_links {
            arguments.extend(["--find-links".into(), link.into()]);
        }
        arguments
    }

    /// Offline with nowhere to look: the eggs cannot be installed.
    fn check_reachable(&self, eggs: &str) -> Result<(), RecipeError> {
        if self.offline && self.find_links.is_empty() {
            return Err(RecipeError::Failed(format!(
                "cannot install {eggs} offline: neither find-links nor buildout:download-cache is set, and the eggs are not installed yet"
            )));
        }
        Ok(())
    }

    /// Checks a requirement against the pins and the picking policy.
    fn check_pinned(&self, requirement: &Requirement) -> Result<(), RecipeError> {
        self.pins.check(requirement).map_err(|message| RecipeError::Failed(format!("egg {}: {message}", requirement.name)))?;
        if !self.allow_picked && self.pins.get(&requirement.name).is_none() && !requirement.is_exact() {
            return Err(RecipeError::Failed(format!(
                "egg {name} has no version pin in [versions] and allow-picked-versions = false: add `{name} = <version>` to the [versions] section",
                name = requirement.name
            )));
        }
        Ok(())
    }

    /// Runs pip into `<target>`'s temporary sibling, `check` on what was
    /// installed, then renames it; the temporary directory is removed on
    /// failure.
    fn pip_into(
        &self,
        context: &mut InstallContext<'_>,
        target: &Path,
        arguments: Vec<OsString>,
        environment: &BTreeMap<String, String>,
        check: &dyn Fn(&[Distribution]) -> Result<(), String>,
    ) -> Result<(), RecipeError> {
        self.pip_into_with(context, target, arguments, environment, &self.pins.constraints(), check)
    }

    /// As [`Settings::pip_into`], with the constraints file's text given
    /// (a develop egg is not held to the pins, as in buildout).
    fn pip_into_with(
        &self,
        context: &mut InstallContext<'_>,
        target: &Path,
        arguments: Vec<OsString>,
        environment: &BTreeMap<String, String>,
        constraints_text: &str,
        check: &dyn Fn(&[Distribution]) -> Result<(), String>,
    ) -> Result<(), RecipeError> {
        let parent = target.parent().unwrap_or(Path::new("/"));
        sys::create_dir_all(parent)?;
        let name = target.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let temporary = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        context.created(temporary.clone());
        sys::remove_tree(&temporary)?;
        let scratch = sys::ScratchDir::new("egg-constraints")?;
        let constraints = scratch.path().join("constraints.txt");
        sys::write(&constraints, constraints_text.as_bytes())?;
        let mut all: Vec<OsString> = vec!["install".into(), "--target".into(), temporary.clone().into()];
        all.extend(["--no-build-isolation", "--no-warn-script-location", "--constraint"].map(OsString::from));
        all.push(constraints.into());
        all.extend(arguments);
        context.environment.progress.step(context.part, &format!("pip install into {}", target.display()));
        let result = sys::run_pip(&self.executable, &all, context.directory, environment)
            .and_then(|()| sys::installed_distributions(&temporary).map_err(|error| error.to_string()))
            .and_then(|installed| check(&installed));
        if let Err(message) = result {
            let _ = sys::remove_tree(&temporary);
            return Err(RecipeError::Failed(message));
        }
        sys::remove_tree(target)?;
        sys::rename(&temporary, target)
    }
}

/// The parts of the `:eggs` and `:scripts` entry points.
struct EggsPart {
    settings: Settings,
    eggs: Vec<Requirement>,
    scripts: Option<ScriptSettings>,
}

/// What `:scripts` adds.
#[derive(Debug, Clone)]
struct ScriptSettings {
    bin_directory: PathBuf,
    selection: Selection,
    entry_points: Vec<EntryPoint>,
    interpreter: Option<String>,
    initialization: String,
    arguments: String,
    extra_paths: Vec<String>,
    dependent_scripts: bool,
}

impl EggsPart {
    fn read(context: &mut InitContext<'_, '_>, settings: Settings, with_scripts: bool) -> Result<EggsPart, RecipeError> {
        let part = context.part().to_owned();
        let eggs_text = context.value("eggs")?.unwrap_or(part);
        let eggs = eggs_text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| Requirement::parse(line).map_err(RecipeError::Failed))
            .collect::<Result<Vec<_>, _>>()?;
        let scripts = if with_scripts { Some(ScriptSettings::read(context)?) } else { None };
        Ok(EggsPart { settings, eggs, scripts })
    }
}

impl ScriptSettings {
    fn read(context: &mut InitContext<'_, '_>) -> Result<ScriptSettings, RecipeError> {
        let bin_directory = buildout_option(context, "bin-directory")?;
        context.set("bin-directory", bin_directory.clone())?;
        context.set("_b", bin_directory.clone())?;
        let directory = buildout_option(context, "directory")?;
        let extra_paths: Vec<String> =
            context.value("extra-paths")?.unwrap_or_default().lines().map(str::trim).filter(|line| !line.is_empty()).map(|line| crate::paths::join(&directory, line)).collect();
        if !extra_paths.is_empty() {
            context.set("extra-paths", extra_paths.join("\n"))?;
        }
        let relative_paths = match context.value("relative-paths")? {
            Some(value) => value,
            None => context.lookup("buildout", "relative-paths")?.unwrap_or_else(|| "false".to_owned()),
        };
        if relative_paths.trim() == "true" {
            return Err(RecipeError::Failed("relative-paths = true is not supported by the native zc.recipe.egg".to_owned()));
        }
        let dependent_scripts = match context.value("dependent-scripts")?.as_deref().map(str::trim) {
            None | Some("" | "false") => false,
            Some("true") => true,
            Some(other) => return Err(RecipeError::Failed(format!("Invalid value for dependent-scripts option: {other}"))),
        };
        let entry_points = scripts::parse_entry_points_option(&context.value("entry-points")?.unwrap_or_default()).map_err(RecipeError::Failed)?;
        Ok(ScriptSettings {
            bin_directory: PathBuf::from(bin_directory),
            selection: Selection::parse(context.value("scripts")?.as_deref()),
            entry_points,
            interpreter: context.value("interpreter")?.map(|name| name.trim().to_owned()).filter(|name| !name.is_empty()),
            initialization: context.value("initialization")?.unwrap_or_default(),
            arguments: context.value("arguments")?.unwrap_or_default(),
            extra_paths,
            dependent_scripts,
        })
    }
}

/// The distributions of `:custom` and `:develop` parts, by normalised
/// name, with the directory holding each.
fn develop_distributions(directory: &Path) -> Result<BTreeMap<String, (PathBuf, Distribution)>, RecipeError> {
    let mut found = BTreeMap::new();
    for location in sys::subdirectories(directory)? {
        if location.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.')) {
            continue;
        }
        for distribution in sys::installed_distributions(&location)? {
            found.insert(normalise(&distribution.name), (location.clone(), distribution));
        }
    }
    Ok(found)
}

/// The requirements of a develop distribution that pip must install (those
/// not conditioned on an extra).
fn develop_requirements(distribution: &Distribution) -> Vec<Requirement> {
    distribution.requires.iter().filter(|text| !text.contains("extra ==") && !text.contains("extra==")).filter_map(|text| Requirement::parse(text).ok()).collect()
}

/// The versions pip picked that neither a pin nor an exact requirement
/// fixed: refused, as buildout refuses them, when picking is disallowed.
fn check_picked(installed: &[Distribution], requested: &[Requirement], pins: &Pins) -> Result<(), String> {
    let mut exact: BTreeSet<String> = requested.iter().filter(|requirement| requirement.is_exact()).map(Requirement::key).collect();
    for distribution in installed {
        exact.extend(distribution.requires.iter().filter_map(|text| Requirement::parse(text).ok()).filter(Requirement::is_exact).map(|requirement| requirement.key()));
    }
    for distribution in installed {
        let Distribution { name, version, .. } = distribution;
        if pins.get(name).is_none() && !exact.contains(&normalise(name)) {
            return Err(format!(
                "Picked: {name} = {version}\n\nthe egg {name} has no version pin and allow-picked-versions = false: add\n\n    {name} = {version}\n\nto the [versions] section, or set allow-picked-versions = true"
            ));
        }
    }
    Ok(())
}

impl EggsPart {
    /// Installs the eggs; returns the `sys.path` entries and the
    /// distributions whose scripts may be generated.
    fn install_eggs(&self, context: &mut InstallContext<'_>) -> Result<(Vec<String>, BTreeMap<String, Distribution>), RecipeError> {
        let settings = &self.settings;
        let develop = develop_distributions(&settings.develop_eggs_directory)?;
        let mut path = Vec::new();
        let mut distributions = BTreeMap::new();
        let mut for_pip = Vec::new();
        for requirement in &self.eggs {
            if let Some((location, distribution)) = develop.get(&requirement.key()) {
                path.push(location.to_string_lossy().into_owned());
                path.extend(sys::pth_paths(location)?);
                distributions.insert(requirement.key(), distribution.clone());
                for_pip.extend(develop_requirements(distribution).into_iter().filter(|dependency| !develop.contains_key(&dependency.key())));
                continue;
            }
            settings.check_pinned(requirement)?;
            for_pip.push(requirement.clone());
        }
        if !for_pip.is_empty() {
            let target = self.eggs_target(&for_pip);
            if !sys::exists(&target) {
                let names: Vec<&str> = for_pip.iter().map(|requirement| requirement.name.as_str()).collect();
                let described = format!("egg{} {}", if names.len() == 1 { "" } else { "s" }, names.join(", "));
                settings.check_reachable(&described)?;
                let mut arguments = settings.source_arguments();
                arguments.extend(for_pip.iter().map(|requirement| OsString::from(&requirement.text)));
                let check = |installed: &[Distribution]| {
                    if settings.allow_picked {
                        return Ok(());
                    }
                    check_picked(installed, &for_pip, &settings.pins)
                };
                settings
                    .pip_into(context, &target, arguments, &BTreeMap::new(), &check)
                    .map_err(|error| RecipeError::Failed(format!("cannot install {described}: {error}")))?;
            }
            path.push(target.to_string_lossy().into_owned());
            path.extend(sys::pth_paths(&target)?);
            for distribution in sys::installed_distributions(&target)? {
                distributions.entry(normalise(&distribution.name)).or_insert(distribution);
            }
        }
        Ok((path, distributions))
    }

    /// `<eggs-directory>/<first egg>-<digest>` for a requirement set.
    fn eggs_target(&self, requirements: &[Requirement]) -> PathBuf {
        let mut texts: Vec<&str> = requirements.iter().map(|requirement| requirement.text.as_str()).collect();
        texts.sort_unstable();
        texts.dedup();
        let key = format!("{}\n{}\n{}", self.settings.executable, texts.join("\n"), self.settings.pins.constraints());
        let digest = crate::md5::md5_hex(key.as_bytes());
        let first = requirements.first().map(Requirement::key).unwrap_or_default();
        self.settings.eggs_directory.join(format!("{first}-{}", &digest[..12]))
    }

    fn install_all(&self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        let (mut path, distributions) = self.install_eggs(context)?;
        let Some(scripts) = &self.scripts else { return Ok(Vec::new()) };
        if scripts.selection == Selection::Nothing {
            return Ok(Vec::new());
        }
        path.extend(scripts.extra_paths.iter().cloned());
        let mut unique = BTreeSet::new();
        path.retain(|entry| unique.insert(entry.clone()));
        let mut entry_points = Vec::new();
        let mut names: Vec<String> = self.eggs.iter().map(Requirement::key).collect();
        if scripts.dependent_scripts {
            names.extend(distributions.keys().filter(|key| key.as_str() != "setuptools").cloned());
        }
        let mut seen = BTreeSet::new();
        for key in names.into_iter().filter(|key| seen.insert(key.clone())) {
            let distribution = distributions
                .get(&key)
                .ok_or_else(|| RecipeError::Failed(format!("egg {key} is not among the installed distributions")))?;
            entry_points.extend(distribution.console_scripts.iter().cloned());
        }
        entry_points.extend(scripts.entry_points.iter().cloned());
        sys::create_dir_all(&scripts.bin_directory)?;
        let executable = &self.settings.executable;
        let mut written = Vec::new();
        for entry_point in &entry_points {
            let Some(file_name) = scripts.selection.file_name(&entry_point.name) else { continue };
            let destination = scripts.bin_directory.join(file_name);
            context.created(destination.clone());
            let text = scripts::console_script(executable, &path, entry_point, &scripts.arguments, &scripts.initialization);
            sys::write_script(&destination, &text)?;
            written.push(destination);
        }
        if let Selection::Only(wanted) = &scripts.selection {
            for name in wanted.keys().filter(|name| !entry_points.iter().any(|entry_point| &entry_point.name == *name)) {
                context.environment.progress.step(context.part, &format!("could not generate script {name:?}: it is not defined in the egg entry points"));
            }
        }
        if let Some(interpreter) = &scripts.interpreter {
            let destination = scripts.bin_directory.join(interpreter);
            context.created(destination.clone());
            sys::write_script(&destination, &scripts::interpreter_script(executable, &path, &scripts.initialization))?;
            written.push(destination);
        }
        Ok(written)
    }
}

impl Part for EggsPart {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        self.install_all(context)
    }

    fn update(&mut self, context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        self.install_all(context).map(Some)
    }
}

/// A `:custom` part: one egg built from source with build flags.
struct CustomPart {
    settings: Settings,
    egg: Requirement,
    /// Compiler and linker flags from `include-dirs`, `library-dirs`,
    /// `rpath`, `define`, `undef`, `libraries`.
    cflags: Vec<String>,
    ldflags: Vec<String>,
    /// `environment`, values not yet formatted.
    environment: BTreeMap<String, String>,
}

impl CustomPart {
    fn read(context: &mut InitContext<'_, '_>, settings: Settings) -> Result<CustomPart, RecipeError> {
        for option in UNSUPPORTED_BUILD_OPTIONS {
            if context.value(option)?.is_some() {
                return Err(RecipeError::Failed(format!("option {option:?} is not supported by the native zc.recipe.egg:custom")));
            }
        }
        let directory = buildout_option(context, "directory")?;
        let mut cflags = Vec::new();
        let mut ldflags = Vec::new();
        for (option, flag) in [("include-dirs", "-I"), ("library-dirs", "-L"), ("rpath", "-Wl,-rpath,")] {
            let Some(value) = context.value(option)? else { continue };
            let special = |entry: &str| ["$ORIGIN", "$LIB", "$PLATFORM", "${ORIGIN}", "${LIB}", "${PLATFORM}"].iter().any(|prefix| entry.starts_with(prefix));
            let entries: Vec<String> = value
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(|entry| if option == "rpath" && special(entry) { entry.to_owned() } else { crate::paths::join(&directory, entry) })
                .collect();
            context.set(option, entries.join(":"))?;
            let flags = entries.iter().map(|entry| format!("{flag}{entry}"));
            if option == "include-dirs" { cflags.extend(flags) } else { ldflags.extend(flags) }
        }
        let words = |value: Option<String>| value.unwrap_or_default().split([',', ' ', '\n']).filter(|word| !word.is_empty()).map(str::to_owned).collect::<Vec<_>>();
        cflags.extend(words(context.value("define")?).into_iter().map(|word| format!("-D{word}")));
        cflags.extend(words(context.value("undef")?).into_iter().map(|word| format!("-U{word}")));
        ldflags.extend(words(context.value("libraries")?).into_iter().map(|word| format!("-l{word}")));
        let environment = build_environment::read(context)?;
        let data: Vec<String> =
            environment.iter().map(|(key, value)| format!("({}, {})", crate::pytext::repr(key), crate::pytext::repr(value))).collect();
        context.set("_environment-data", format!("[{}]", data.join(", ")))?;
        let part = context.part().to_owned();
        let egg_text = match context.value("egg")? {
            Some(egg) => egg,
            None => context.value("eggs")?.unwrap_or(part),
        };
        let egg = Requirement::parse(&egg_text).map_err(RecipeError::Failed)?;
        Ok(CustomPart { settings, egg, cflags, ldflags, environment })
    }
}

impl Part for CustomPart {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        let settings = &self.settings;
        let egg = &self.egg;
        let described = format!("egg {}", egg.name);
        settings.check_pinned(egg)?;
        settings.check_reachable(&described)?;
        let mut environment = build_environment::formatted(&self.environment, &super::sys::process_variable)?;
        for (variable, flags) in [("CFLAGS", &self.cflags), ("LDFLAGS", &self.ldflags)] {
            if flags.is_empty() {
                continue;
            }
            let mut value = flags.join(" ");
            if let Some(existing) = environment.get(variable).cloned().or_else(|| super::sys::process_variable(variable)) {
                value = format!("{value} {existing}");
            }
            environment.insert(variable.to_owned(), value);
        }
        let target = settings.develop_eggs_directory.join(context.part);
        // No wheel cache: a build with other flags must not reuse an old one.
        let mut arguments: Vec<OsString> = vec!["--no-deps".into(), "--no-cache-dir".into(), "--no-binary".into(), egg.key().into()];
        arguments.extend(settings.source_arguments());
        arguments.push(egg.text.clone().into());
        let check = |installed: &[Distribution]| {
            if installed.is_empty() {
                return Err("pip installed no distribution".to_owned());
            }
            Ok(())
        };
        context.created(target.clone());
        settings.pip_into(context, &target, arguments, &environment, &check).map_err(|error| RecipeError::Failed(format!("cannot build {described}: {error}")))?;
        Ok(vec![target])
    }
}

/// A `:develop` part: `setup` installed editable.
struct DevelopPart {
    settings: Settings,
    setup: String,
}

impl Part for DevelopPart {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        let target = self.settings.develop_eggs_directory.join(context.part);
        let arguments: Vec<OsString> =
            ["--no-deps", "--no-index", "--config-settings", "editable_mode=compat", "--editable"].into_iter().map(OsString::from).chain([OsString::from(&self.setup)]).collect();
        let check = |installed: &[Distribution]| {
            if installed.is_empty() {
                return Err("pip installed no distribution".to_owned());
            }
            Ok(())
        };
        context.created(target.clone());
        self.settings
            .pip_into_with(context, &target, arguments, &BTreeMap::new(), "", &check)
            .map_err(|error| RecipeError::Failed(format!("cannot install {} in develop mode: {error}", self.setup)))?;
        Ok(vec![target])
    }
}
