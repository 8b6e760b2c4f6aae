//! The profile engine: buildout-syntax profiles (`software.cfg`,
//! `instance.cfg`) parsed, merged and resolved exactly as zc.buildout 6.0.1
//! does (`shared/spec/profiles.md` §1–§7), plus the SlapOS fork rules that
//! change resolution (leading `../` in extends, `_profile_base_location_`,
//! `$${` unescaped on final read, `!py!` values kept as text).
//!
//! Flow: [`load`] reads the root file and its `extends` tree
//! (`extends`), parses each file (`syntax`), folds the layers (`merge`),
//! adds buildout's defaults and command-line assignments (`defaults`), and
//! returns a [`Profile`]. [`Profile::resolver`] then resolves sections
//! lazily (`resolve`: macros, substitution, part order), running the
//! caller's [`RecipeHook`] on each part.
//!
//! Invariants: the engine never panics on any input; it does no I/O outside
//! `sys` (files, the working directory) and `python/machine.rs` (the reads
//! conditional sections make, as zc.buildout's do) and never opens a socket (URLs go
//! through the caller's [`Fetch`]); it never reads the environment (home
//! directory and interpreter facts come in [`LoadOptions`]).

mod defaults;
mod error;
mod extends;
mod macros;
pub mod lifecycle;
mod md5;
mod merge;
mod model;
mod paths;
pub mod python;
pub mod recipe;
mod pytext;
mod resolve;
mod startup;
mod substitute;
mod syntax;
mod sys;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use error::{BadReference, DownloadFailure, Location, ProfileError};
pub use extends::{DownloadPolicy, ProfileSource};
pub use resolve::{NoRecipes, RecipeHook, Resolver};
pub use substitute::final_read;
pub use sys::{Fetch, NoFetch};

/// Sections by name, each mapping option names to values.
pub type Sections = BTreeMap<String, BTreeMap<String, String>>;

/// How to load a profile.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Command-line assignments `section:option=value` (`option+=`,
    /// `option-=` too; section defaults to `buildout`), merged last.
    pub overrides: Vec<String>,
    /// The interpreter conditions are evaluated for; also gives
    /// `buildout:executable`.
    pub python: python::PythonEnv,
    /// The home directory `~` expands to; `None` leaves `~` as is.
    pub home: Option<PathBuf>,
    /// The working directory relative paths are taken from; `None` reads
    /// the process's.
    pub cwd: Option<PathBuf>,
    /// Apply the SlapOS fork's rules (leading `../` stripped from extends,
    /// `_profile_base_location_`); `false` gives plain zc.buildout 6.0.1.
    pub slapos: bool,
}

impl LoadOptions {
    /// Options for `python`, no overrides, no home, the process's working
    /// directory, SlapOS rules on.
    pub fn new(python: python::PythonEnv) -> LoadOptions {
        LoadOptions { overrides: Vec::new(), python, home: None, cwd: None, slapos: true }
    }
}

/// A loaded profile: buildout's merged raw data, ready to resolve.
#[derive(Debug, Clone)]
pub struct Profile {
    raw: model::RawSections,
    versions_section: String,
    python: python::PythonEnv,
    warnings: Vec<String>,
}

/// Loads a local profile file. URLs in its `extends` fail with a clear
/// error.
///
/// # Errors
/// Any [`ProfileError`] of loading (missing or unreadable file, syntax,
/// extends, merge, `[buildout]` checks).
pub fn load_file(path: &Path, options: &LoadOptions) -> Result<Profile, ProfileError> {
    load(&path.to_string_lossy(), options, &NoFetch)
}

/// Loads a profile from a path or URL, fetching URLs through `fetch`.
///
/// # Errors
/// As [`load_file`], plus download errors.
pub fn load(root: &str, options: &LoadOptions, fetch: &dyn Fetch) -> Result<Profile, ProfileError> {
    let mut source = sys::SystemSource::new(fetch);
    load_from(root, options, &mut source)
}

/// Loads a profile whose files come from `source` (e.g. memory in tests).
///
/// # Errors
/// As [`load`].
pub fn load_from(root: &str, options: &LoadOptions, source: &mut dyn ProfileSource) -> Result<Profile, ProfileError> {
    let cwd = match &options.cwd {
        Some(cwd) => cwd.to_string_lossy().into_owned(),
        None => sys::current_dir(),
    };
    let home = options.home.as_ref().map(|home| home.to_string_lossy().into_owned());
    let input = defaults::BuildInput {
        root,
        overrides: &options.overrides,
        executable: &options.python.sys_executable,
        home: home.as_deref(),
        cwd: &cwd,
    };
    let mut loader = extends::Loader::new(source, &options.python, options.slapos, &cwd);
    let built = defaults::build(&input, &mut loader)?;
    Ok(Profile {
        raw: built.raw,
        versions_section: built.versions_section,
        python: options.python.clone(),
        warnings: built.warnings,
    })
}

impl Profile {
    /// zc.buildout's merged data before substitution (defaults + files +
    /// overrides), with each section's `<` macros expanded by zc.buildout's
    /// own rules (`_do_extend_raw`), `<` dropped.
    ///
    /// # Errors
    /// Macro errors ([`ProfileError::NoSectionNamed`],
    /// [`ProfileError::InfiniteExtending`]) of the first failing section.
    pub fn raw(&self) -> Result<Sections, ProfileError> {
        let mut sections = Sections::new();
        for (name, section) in &self.raw {
            let expanded = if name != "buildout" && section.contains_key("<") {
                macros::expand(name, section, &self.raw)?
            } else {
                section.clone()
            };
            sections.insert(name.clone(), model::plain(&expanded));
        }
        Ok(sections)
    }

    /// A resolver after buildout's startup (`[buildout]` and the versions
    /// section initialised, directories absolute), running `hook` on parts.
    ///
    /// # Errors
    /// Startup errors: invalid raw `offline` or `newest` (checked before
    /// any substitution), substitution in `[buildout]`, missing
    /// `buildout:directory`, invalid booleans or log level.
    pub fn resolver<'p>(&'p self, hook: &'p dyn RecipeHook) -> Result<Resolver<'p>, ProfileError> {
        let offline = startup::check_raw_flags(&self.raw)?;
        let mut resolver = Resolver::new(&self.raw, hook);
        let facts = startup::StartFacts { offline, versions_section: &self.versions_section, python: &self.python };
        startup::start(&mut resolver, &facts)?;
        Ok(resolver)
    }

    /// Every section resolved (substituted) as `buildout[name]` would give
    /// with recipes not run: startup first, then sections in name order.
    ///
    /// # Errors
    /// The first error zc.buildout raises in that order.
    pub fn resolve_all(&self) -> Result<Sections, ProfileError> {
        let mut resolver = self.resolver(&NoRecipes)?;
        let mut sections = Sections::new();
        for name in self.raw.keys() {
            sections.insert(name.clone(), resolver.options(name)?);
        }
        Ok(sections)
    }

    /// The parts to install, in order, as `buildout install` computes them:
    /// each name of `buildout:parts` initialised (its recipe required), the
    /// parts they reference first.
    ///
    /// # Errors
    /// [`ProfileError::MissingOption`] for `buildout:parts` or a part's
    /// `recipe`, [`ProfileError::MissingSection`], substitution and hook errors.
    pub fn install_parts(&self, hook: &dyn RecipeHook) -> Result<Vec<String>, ProfileError> {
        let mut resolver = self.resolver(hook)?;
        select_parts(&mut resolver)?;
        Ok(resolver.parts().to_vec())
    }

    /// Messages zc.buildout prints while loading and goes on (e.g.
    /// `optional-extends file not found: x.cfg`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The names of all sections.
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.raw.keys().map(String::as_str)
    }
}

/// Initialises the parts of `buildout:parts` in order on a started resolver
/// (`[self[part]['recipe'] for part in parts]`).
///
/// # Errors
/// As [`Profile::install_parts`].
pub fn select_parts(resolver: &mut Resolver<'_>) -> Result<(), ProfileError> {
    let parts = resolver.require("buildout", "parts")?;
    for part in parts.split(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)).filter(|word| !word.is_empty()) {
        resolver.require(part, "recipe")?;
    }
    Ok(())
}
