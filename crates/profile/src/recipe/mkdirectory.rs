//! `slapos.recipe.build:mkdirectory` 0.65 (spec §11.6): every option but
//! `recipe` and `mode` (and buildout's own `_`-prefixed and
//! `<part-dependencies>` keys) names a directory, created with its parents
//! when missing, with `mode` (octal, default `0777`, before the umask).
//! Returns no path, so the directories (which may hold data) are never
//! removed; update does the same as install.

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::Arc;

use super::{InitContext, InstallContext, Part, Recipe, RecipeError, Recipes};

/// The entry point's name.
pub const NAME: &str = "slapos.recipe.build:mkdirectory";

/// Registers `slapos.recipe.build:mkdirectory`.
pub fn register(recipes: &mut Recipes) {
    recipes.register(NAME, Arc::new(MkDirectoryRecipe));
}

struct MkDirectoryRecipe;

impl Recipe for MkDirectoryRecipe {
    fn version(&self) -> &'static str {
        "0.65"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let mode = match context.value("mode")? {
            Some(mode) => parse_mode(&mode)?,
            None => 0o777,
        };
        Ok(Box::new(MkDirectoryPart { mode }))
    }
}

/// Python's `int(text, 8)`.
fn parse_mode(text: &str) -> Result<u32, RecipeError> {
    let digits = text.trim();
    let digits = digits.strip_prefix("0o").or_else(|| digits.strip_prefix("0O")).unwrap_or(digits);
    u32::from_str_radix(digits, 8).map_err(|_| RecipeError::Failed(format!("invalid mode {text:?}: expected an octal number such as 0750")))
}

/// Whether an option names a directory.
fn is_directory_option(key: &str) -> bool {
    !matches!(key, "recipe" | "mode" | "<part-dependencies>") && !key.starts_with('_')
}

struct MkDirectoryPart {
    mode: u32,
}

impl Part for MkDirectoryPart {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        for (_, value) in context.options.iter().filter(|(key, _)| is_directory_option(key)) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let path = context.directory.join(value);
            if path.is_dir() {
                continue;
            }
            std::fs::DirBuilder::new().recursive(true).mode(self.mode).create(&path).map_err(|error| RecipeError::io(&path, error))?;
        }
        Ok(Vec::new())
    }

    fn update(&mut self, context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        self.install(context).map(Some)
    }
}
