//! `plone.recipe.command` 1.1 (spec §11.14): runs `command` with `sh -c`
//! in the buildout directory when the part is installed, `update-command`
//! when it is updated. Exit codes are ignored unless `stop-on-error` is
//! `yes`, `on` or `true`. `location` lists (whitespace-separated) the paths
//! the command makes, returned so that uninstalling the part removes them.
//! The command's output goes to our stderr, keeping stdout for results.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use super::{InitContext, InstallContext, Part, Recipe, RecipeError, Recipes};

/// The entry point's name.
pub const NAME: &str = "plone.recipe.command";

/// Registers `plone.recipe.command`.
pub fn register(recipes: &mut Recipes) {
    recipes.register(NAME, Arc::new(CommandRecipe));
}

struct CommandRecipe;

impl Recipe for CommandRecipe {
    fn version(&self) -> &'static str {
        "1.1"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let stop_on_error = context.value("stop-on-error")?.is_some_and(|value| is_true(&value));
        Ok(Box::new(CommandPart { stop_on_error }))
    }
}

/// `yes|on|true`, any case, as the recipe tests `stop-on-error`.
fn is_true(value: &str) -> bool {
    matches!(value.trim().to_lowercase().as_str(), "yes" | "on" | "true")
}

struct CommandPart {
    stop_on_error: bool,
}

impl CommandPart {
    fn execute(&self, context: &InstallContext<'_>, command: &str) -> Result<(), RecipeError> {
        context.environment.progress.step(context.part, command);
        let mut shell = Command::new("sh");
        shell.arg("-c").arg(command).current_dir(context.directory).stdin(Stdio::null());
        if let Ok(stderr) = std::io::stderr().as_fd().try_clone_to_owned() {
            shell.stdout(stderr);
        }
        let status = shell.status().map_err(|error| RecipeError::io("sh", error))?;
        if !status.success() && self.stop_on_error {
            let code = status.code().map_or_else(|| "a signal".to_owned(), |code| format!("exit code {code}"));
            return Err(RecipeError::Failed(format!("command failed with {code}: {command}")));
        }
        Ok(())
    }
}

impl Part for CommandPart {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        let command = context.options.get("command").map(|value| value.trim()).unwrap_or_default();
        if command.is_empty() {
            return Err(RecipeError::Failed("No command specified".to_owned()));
        }
        let locations: Vec<PathBuf> =
            context.options.get("location").map(|value| value.split_whitespace().map(PathBuf::from).collect()).unwrap_or_default();
        for location in &locations {
            context.created(context.directory.join(location));
        }
        self.execute(context, command)?;
        Ok(locations)
    }

    fn update(&mut self, context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        if let Some(command) = context.options.get("update-command").map(|value| value.trim()).filter(|value| !value.is_empty()) {
            self.execute(context, command)?;
        }
        Ok(None)
    }
}
