//! Recipes: what turns a part's options into files, as zc.buildout recipe
//! entry points do (spec §9). A [`Recipe`] is the entry point (e.g.
//! `slapos.recipe.build:download`); its [`Recipe::init`] runs when the
//! part's section is initialised during resolution, may read other sections
//! and set options, and returns the [`Part`] that the lifecycle later
//! installs or updates. A part installed by the lifecycle also sees the
//! run itself ([`InstallContext::parent_run`]), to install a nested profile
//! with the same registry (switch-softwaretype).
//!
//! The registry ([`Recipes`]) maps entry-point names to recipes; the node
//! adds its own (those that talk to the master) next to the built-in ones.
//! A part whose recipe is not registered fails with an error naming the
//! recipe and the part.

mod archive;
mod build_environment;
pub mod build_python;
pub mod cmmi;
pub mod command;
pub mod cookbook;
pub mod download;
pub mod download_unpacked;
pub mod egg;
mod fetching;
pub mod gitclone;
mod hook;
pub mod mkdirectory;
mod shared;
mod sys;
pub mod collective_template;
pub mod jinja2;
pub mod template;

pub use hook::{InitialisedPart, RecipeRun};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::lifecycle::ParentRun;
use crate::{Fetch, ProfileError, Resolver};

/// A part's options: option name → value.
pub type Options = BTreeMap<String, String>;

/// Why a recipe failed.
#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    /// Resolution failed while the recipe read options or sections
    /// (missing option, bad reference…).
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The recipe's own failure, in words (zc.buildout's or the recipe's
    /// text where there is one, e.g. `MD5 checksum mismatch downloading
    /// '<url>'`).
    #[error("{0}")]
    Failed(String),
}

impl RecipeError {
    /// An I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> RecipeError {
        RecipeError::Io { path: path.into(), source }
    }
}

/// What a recipe may use from outside the profile: the machine and the
/// caller's services. Built once per run by the caller (CLI or node).
pub struct Environment<'a> {
    /// Network access for downloads (`http(s)://`; `file://` and plain
    /// paths are read directly).
    pub fetch: &'a dyn Fetch,
    /// Where progress of long work (downloads, builds) is reported.
    pub progress: &'a dyn Progress,
}

impl std::fmt::Debug for Environment<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment").finish_non_exhaustive()
    }
}

/// Progress of long work, shown by the caller (indicatif in the CLI).
pub trait Progress {
    /// A step of `part` begins or changes (e.g. `downloading <url>`,
    /// `configure`, `make install`).
    fn step(&self, part: &str, message: &str);
    /// Bytes done of a transfer of `part`, with the total when known.
    fn bytes(&self, part: &str, done: u64, total: Option<u64>);
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn step(&self, _part: &str, _message: &str) {}
    fn bytes(&self, _part: &str, _done: u64, _total: Option<u64>) {}
}

/// A recipe entry point.
pub trait Recipe: Send + Sync {
    /// The version recorded in the part's signature
    /// (`__buildout_signature__`, `<entry point>-<version>`): bump it when
    /// the recipe's output for the same options changes, so that installed
    /// parts are reinstalled.
    fn version(&self) -> &'static str;

    /// zc.buildout's recipe constructor: runs while the part's section is
    /// initialised. May read its options and other sections (recorded as
    /// dependencies, and initialising them first) and set options (e.g.
    /// `location`). Returns what installs the part.
    ///
    /// # Errors
    /// A missing or invalid option, a failed read.
    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError>;

    /// The `zc.buildout.uninstall` entry point of the same name: runs
    /// before the recorded paths of a part being uninstalled are deleted,
    /// with the options recorded when it was installed. Default: nothing.
    ///
    /// # Errors
    /// The recipe refuses (e.g. gitclone with local changes): the part stays
    /// installed.
    fn uninstall(&self, _part: &str, _recorded: &Options, _environment: &Environment<'_>) -> Result<(), RecipeError> {
        Ok(())
    }
}

/// An initialised part, ready to install or update.
pub trait Part: Send {
    /// Installs the part; returns the paths it created, which the
    /// lifecycle deletes on uninstall (a part returning none is never
    /// reinstalled for a missing path and loses nothing on uninstall).
    ///
    /// # Errors
    /// Any failure: the lifecycle then deletes what [`InstallContext::created`]
    /// recorded and does not record the part as installed.
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError>;

    /// Updates an installed part whose options did not change; `None`
    /// keeps the recorded paths. Default: nothing to do.
    ///
    /// # Errors
    /// As [`Part::install`].
    fn update(&mut self, _context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        Ok(None)
    }
}

/// What a recipe's `init` sees: its part's options and the resolver.
pub struct InitContext<'r, 'p> {
    part: &'r str,
    resolver: &'r mut Resolver<'p>,
    volatile: &'r mut BTreeSet<String>,
    environment: &'r Environment<'r>,
}

impl std::fmt::Debug for InitContext<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitContext").field("part", &self.part).finish_non_exhaustive()
    }
}

impl<'r, 'p> InitContext<'r, 'p> {
    /// A context for initialising `part`; keys set with
    /// [`InitContext::set_volatile`] are added to `volatile`.
    pub fn new(
        part: &'r str,
        resolver: &'r mut Resolver<'p>,
        volatile: &'r mut BTreeSet<String>,
        environment: &'r Environment<'r>,
    ) -> InitContext<'r, 'p> {
        InitContext { part, resolver, volatile, environment }
    }

    /// The part's name (its section).
    pub fn part(&self) -> &str {
        self.part
    }

    /// The caller's services.
    pub fn environment(&self) -> &Environment<'r> {
        self.environment
    }

    /// The resolver, to read other sections (each read is recorded as a
    /// dependency of this part).
    pub fn resolver(&mut self) -> &mut Resolver<'p> {
        self.resolver
    }

    /// An option of this part, substituted but still escaped (`$${` kept).
    ///
    /// # Errors
    /// Resolution errors.
    pub fn get(&mut self, option: &str) -> Result<Option<String>, RecipeError> {
        Ok(self.resolver.get(self.part, option)?)
    }

    /// An option of this part as the recipe must use it: substituted, and
    /// `$${` turned into `${` (the SlapOS final read).
    ///
    /// # Errors
    /// Resolution errors.
    pub fn value(&mut self, option: &str) -> Result<Option<String>, RecipeError> {
        Ok(self.get(option)?.map(|value| crate::final_read(&value)))
    }

    /// As [`InitContext::value`], failing with `Missing option:
    /// <part>:<option>` when absent.
    ///
    /// # Errors
    /// [`ProfileError::MissingOption`] and resolution errors.
    pub fn require(&mut self, option: &str) -> Result<String, RecipeError> {
        Ok(crate::final_read(&self.resolver.require(self.part, option)?))
    }

    /// Every option of this part, final values.
    ///
    /// # Errors
    /// Resolution errors.
    pub fn options(&mut self) -> Result<Options, RecipeError> {
        let options = self.resolver.options(self.part)?;
        Ok(options.into_iter().map(|(key, value)| (key, crate::final_read(&value))).collect())
    }

    /// An option of another section, final value.
    ///
    /// # Errors
    /// Resolution errors (missing section…).
    pub fn lookup(&mut self, section: &str, option: &str) -> Result<Option<String>, RecipeError> {
        Ok(self.resolver.get(section, option)?.map(|value| crate::final_read(&value)))
    }

    /// Sets an option of this part (visible to later references and
    /// recorded in `.installed.cfg`).
    ///
    /// # Errors
    /// Resolution errors.
    pub fn set(&mut self, option: &str, value: impl Into<String>) -> Result<(), RecipeError> {
        Ok(self.resolver.set(self.part, option, value)?)
    }

    /// Sets an option that is kept out of `.installed.cfg` and of the
    /// comparison deciding reinstalls (spec §8.4: generated passwords,
    /// published values).
    ///
    /// # Errors
    /// Resolution errors.
    pub fn set_volatile(&mut self, option: &str, value: impl Into<String>) -> Result<(), RecipeError> {
        self.volatile.insert(option.to_owned());
        self.set(option, value)
    }
}

/// What a part's `install`/`update` sees.
pub struct InstallContext<'a> {
    /// The part's name.
    pub part: &'a str,
    /// Its final options (after every recipe's `init`).
    pub options: &'a Options,
    /// `buildout:directory`: the working directory of recipes.
    pub directory: &'a Path,
    /// The caller's services.
    pub environment: &'a Environment<'a>,
    created: Vec<PathBuf>,
    watcher: Option<&'a dyn Fn(&Path)>,
    parent_run: Option<ParentRun<'a>>,
}

impl std::fmt::Debug for InstallContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstallContext").field("part", &self.part).field("created", &self.created).finish_non_exhaustive()
    }
}

impl<'a> InstallContext<'a> {
    /// A context for installing `part`.
    pub fn new(part: &'a str, options: &'a Options, directory: &'a Path, environment: &'a Environment<'a>) -> InstallContext<'a> {
        InstallContext { part, options, directory, environment, created: Vec::new(), watcher: None, parent_run: None }
    }

    /// The same context, lending `run` to the part for nested installs
    /// (the lifecycle does this for every part it installs or updates).
    pub fn with_parent_run(mut self, run: ParentRun<'a>) -> InstallContext<'a> {
        self.parent_run = Some(run);
        self
    }

    /// The lifecycle run installing this part, with which the part may
    /// install another profile using the same registry, interpreter and
    /// events (`slapos.cookbook:switch-softwaretype`); `None` when the part
    /// is installed outside the lifecycle (a test calling
    /// [`Part::install`] directly).
    pub fn parent_run(&self) -> Option<ParentRun<'a>> {
        self.parent_run
    }

    /// The same context, calling `watcher` with each path given to
    /// [`InstallContext::created`] as it is given (the lifecycle journals
    /// them, so that what a killed install left is cleaned).
    pub fn watch_created(mut self, watcher: &'a dyn Fn(&Path)) -> InstallContext<'a> {
        self.watcher = Some(watcher);
        self
    }

    /// Records a path as created by this install (zc.buildout's
    /// `options.created`), so that a failed install removes it. Call it
    /// before creating the path: a run killed in between then still
    /// cleans it.
    pub fn created(&mut self, path: impl Into<PathBuf>) {
        let path = path.into();
        if let Some(watcher) = self.watcher {
            watcher(&path);
        }
        self.created.push(path);
    }

    /// The paths recorded by [`InstallContext::created`].
    pub fn created_paths(&self) -> &[PathBuf] {
        &self.created
    }

    /// An option, `Missing option: <part>:<option>` when absent.
    ///
    /// # Errors
    /// [`ProfileError::MissingOption`].
    pub fn require(&self, option: &str) -> Result<&'a str, RecipeError> {
        self.options.get(option).map(String::as_str).ok_or_else(|| {
            RecipeError::Profile(ProfileError::MissingOption { section: self.part.to_owned(), option: option.to_owned() })
        })
    }
}

/// A registry of every built-in recipe (those needing no master
/// connection): each recipe module's `register`.
pub fn builtin() -> Recipes {
    let mut recipes = Recipes::new();
    command::register(&mut recipes);
    mkdirectory::register(&mut recipes);
    download::register(&mut recipes);
    download_unpacked::register(&mut recipes);
    cmmi::register(&mut recipes);
    cookbook::register_local(&mut recipes);
    template::register(&mut recipes);
    jinja2::register(&mut recipes);
    collective_template::register(&mut recipes);
    egg::register(&mut recipes);
    build_python::register(&mut recipes);
    gitclone::register(&mut recipes);
    recipes
}

/// Recipes by entry-point name.
#[derive(Clone, Default)]
pub struct Recipes {
    by_name: HashMap<String, Arc<dyn Recipe>>,
}

impl std::fmt::Debug for Recipes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.by_name.keys().collect();
        names.sort();
        f.debug_struct("Recipes").field("names", &names).finish()
    }
}

impl Recipes {
    /// An empty registry.
    pub fn new() -> Recipes {
        Recipes::default()
    }

    /// Registers `recipe` under `name` (`package` or `package:entry`;
    /// `package` alone means `package:default`), replacing any previous one.
    pub fn register(&mut self, name: &str, recipe: Arc<dyn Recipe>) {
        self.by_name.insert(canonical(name), recipe);
    }

    /// The recipe a part's `recipe` option names, if registered.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Recipe>> {
        self.by_name.get(&canonical(name))
    }
}

/// `package` → `package:default`; surrounding whitespace dropped.
fn canonical(name: &str) -> String {
    let name = name.trim();
    if name.contains(':') {
        name.to_owned()
    } else {
        format!("{name}:default")
    }
}
