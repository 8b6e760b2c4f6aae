//! Nested installs: what the run installing a part lends that part so it
//! can install another profile with the same lifecycle, as
//! `slapos.cookbook:switch-softwaretype` runs a buildout inside the
//! buildout (spec §11.13).
//!
//! A [`ParentRun`] is handed to each part through
//! `InstallContext::parent_run` by [`super::install`]; it carries the
//! registry and interpreter facts of the run and its [`Events`] receiver.
//! Recipes are registered before any run exists, so they cannot hold the
//! registry themselves (and the node registers the master recipes after
//! the built-in ones): the run that installs them is what knows it.
//!
//! Nesting is bounded by [`MAX_NESTED_DEPTH`]: a profile that switches to
//! itself fails with Python's `RecursionError`, as buildout does, instead of
//! exhausting the stack.

use super::{install_at_depth, Events, InstallFailure, InstallReport, LifecycleError};
use crate::python::PythonEnv;
use crate::recipe::{Environment, Recipes};
use crate::Profile;

/// How many installs may run inside one another (the outermost one is
/// depth 0).
pub const MAX_NESTED_DEPTH: usize = 8;

/// The run installing a part, as that part sees it.
#[derive(Clone, Copy)]
pub struct ParentRun<'a> {
    pub(super) recipes: &'a Recipes,
    pub(super) python: &'a PythonEnv,
    pub(super) events: &'a dyn Events,
    pub(super) depth: usize,
}

impl std::fmt::Debug for ParentRun<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParentRun").field("recipes", self.recipes).field("depth", &self.depth).finish_non_exhaustive()
    }
}

impl<'a> ParentRun<'a> {
    /// The registry the run was given, master recipes included when the
    /// caller registered them.
    pub fn recipes(&self) -> &'a Recipes {
        self.recipes
    }

    /// The interpreter facts the run's profile was loaded for: a nested
    /// profile is loaded for the same interpreter.
    pub fn python(&self) -> &'a PythonEnv {
        self.python
    }

    /// How many installs enclose this one (0: the caller's own run).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Installs `profile` with `recipes` (usually [`ParentRun::recipes`],
    /// possibly with additions) and `environment`, reporting to the run's
    /// [`Events`], one level deeper.
    ///
    /// # Errors
    /// As [`super::install`]; beyond [`MAX_NESTED_DEPTH`] levels, a
    /// `RecursionError` before anything is done.
    // The failure carries the report by design, as `install` does.
    #[allow(clippy::result_large_err)]
    pub fn install(&self, profile: &Profile, recipes: &Recipes, environment: &Environment<'_>) -> Result<InstallReport, InstallFailure> {
        let depth = self.depth + 1;
        if depth > MAX_NESTED_DEPTH {
            let error = LifecycleError::from(crate::resolve::recursion_error());
            return Err(InstallFailure { report: InstallReport::default(), error });
        }
        install_at_depth(profile, recipes, environment, self.events, depth)
    }
}
