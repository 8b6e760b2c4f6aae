//! The bridge between resolution and recipes: a [`RecipeHook`] that, for
//! each part the resolver initialises, looks its recipe up in a
//! [`Recipes`] registry, runs the recipe's `init` and keeps the returned
//! [`Part`] (with the option names the recipe marked volatile) for the
//! lifecycle to install.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use super::{Environment, InitContext, Part, RecipeError, Recipes};
use crate::{ProfileError, RecipeHook, Resolver};

/// A part initialised by its recipe.
pub struct InitialisedPart {
    /// The `recipe` option as written (entry-point name).
    pub recipe: String,
    /// The recipe's version, for the part's signature.
    pub version: &'static str,
    /// What installs it.
    pub part: Box<dyn Part>,
    /// Options kept out of `.installed.cfg` and of the reinstall decision.
    pub volatile: BTreeSet<String>,
}

impl std::fmt::Debug for InitialisedPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitialisedPart")
            .field("recipe", &self.recipe)
            .field("version", &self.version)
            .field("volatile", &self.volatile)
            .finish_non_exhaustive()
    }
}

/// Runs registered recipes as parts are initialised.
pub struct RecipeRun<'a> {
    recipes: &'a Recipes,
    environment: &'a Environment<'a>,
    parts: RefCell<BTreeMap<String, InitialisedPart>>,
}

impl std::fmt::Debug for RecipeRun<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecipeRun").field("parts", &self.parts).finish_non_exhaustive()
    }
}

impl<'a> RecipeRun<'a> {
    /// A hook running `recipes` with `environment`.
    pub fn new(recipes: &'a Recipes, environment: &'a Environment<'a>) -> RecipeRun<'a> {
        RecipeRun { recipes, environment, parts: RefCell::new(BTreeMap::new()) }
    }

    /// The parts initialised so far, by name; the hook forgets them.
    pub fn take_parts(&self) -> BTreeMap<String, InitialisedPart> {
        std::mem::take(&mut *self.parts.borrow_mut())
    }
}

impl RecipeHook for RecipeRun<'_> {
    fn init(&self, resolver: &mut Resolver<'_>, part: &str) -> Result<(), ProfileError> {
        let name = resolver.require(part, "recipe")?;
        let recipe_name = name.trim().to_owned();
        let Some(recipe) = self.recipes.get(&recipe_name) else {
            return Err(ProfileError::Recipe { section: part.to_owned(), message: unknown_recipe_message(&recipe_name) });
        };
        let mut volatile = BTreeSet::new();
        let mut context = InitContext::new(part, resolver, &mut volatile, self.environment);
        let initialised = recipe.init(&mut context).map_err(|error| match error {
            RecipeError::Profile(error) => error,
            other => ProfileError::Recipe { section: part.to_owned(), message: other.to_string() },
        })?;
        let entry = InitialisedPart { recipe: recipe_name, version: recipe.version(), part: initialised, volatile };
        self.parts.borrow_mut().insert(part.to_owned(), entry);
        Ok(())
    }
}

/// Why a part's recipe cannot run: an unregistered `zc.recipe.egg` entry
/// point (the family is native, `recipe::egg`) is named as such, any other
/// name as unknown.
fn unknown_recipe_message(recipe: &str) -> String {
    if recipe == "zc.recipe.egg" || recipe.starts_with("zc.recipe.egg:") {
        format!("unknown recipe {recipe:?}: not registered here (zc.recipe.egg's entry points are default, script, scripts, eggs, custom and develop)")
    } else {
        format!("unknown recipe {recipe:?}: this engine runs only its native recipes, and no Python egg recipes")
    }
}
