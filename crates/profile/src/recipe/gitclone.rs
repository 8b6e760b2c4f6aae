//! `slapos.recipe.build:gitclone` (spec §11.6): a git working copy as a
//! part. Options: `repository` (required), `branch` (`master`),
//! `revision` (pinned commit or tag), `location` (`parts/<name>`, set at
//! init), `git-executable` (`git`), `develop`, `depth`,
//! `ignore-ssl-certificate` (`use-cache` is accepted and ignored).
//!
//! Install clones the branch (`git clone --quiet --branch`) and checks
//! out `revision` if given; returns `[location]`. Update fetches and
//! resets to the branch head, unless a revision is pinned or `develop` is
//! true (then it does nothing). The uninstall hook refuses to lose local
//! work: uncommitted changes or commits on no remote make it fail, naming
//! the part, so that the lifecycle keeps the part installed. Errors name
//! the part and quote git's standard error.

mod sys;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sys::{git, GitFailure};

use super::{Environment, InitContext, InstallContext, Options, Part, Recipe, RecipeError, Recipes};
use crate::ProfileError;

/// The entry point's name.
pub const NAME: &str = "slapos.recipe.build:gitclone";

/// Registers `slapos.recipe.build:gitclone`.
pub fn register(recipes: &mut Recipes) {
    recipes.register(NAME, Arc::new(GitCloneRecipe));
}

struct GitCloneRecipe;

impl Recipe for GitCloneRecipe {
    fn version(&self) -> &'static str {
        "0.65"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        context.require("repository")?;
        let location = match context.value("location")?.map(|value| value.trim().to_owned()).filter(|value| !value.is_empty()) {
            Some(location) => location,
            None => {
                let parts_directory = context.lookup("buildout", "parts-directory")?.unwrap_or_default();
                let mut location = Path::new(parts_directory.trim()).join(context.part());
                if location.is_relative() {
                    if let Some(directory) = context.lookup("buildout", "directory")? {
                        location = Path::new(directory.trim()).join(location);
                    }
                }
                location.to_string_lossy().into_owned()
            }
        };
        context.set("location", location)?;
        let options = context.options()?;
        let settings = Settings::parse(context.part(), &options)?;
        Ok(Box::new(GitClonePart { settings }))
    }

    fn uninstall(&self, part: &str, recorded: &Options, _environment: &Environment<'_>) -> Result<(), RecipeError> {
        let Some(location) = recorded.get("location").map(|value| value.trim()).filter(|value| !value.is_empty()) else {
            return Ok(());
        };
        let location = Path::new(location);
        if !location.join(".git").exists() {
            return Ok(());
        }
        let executable = recorded.get("git-executable").map(|value| value.trim()).filter(|value| !value.is_empty()).unwrap_or("git");
        let changes = git(executable, Some(location), &["status", "--porcelain"]).map_err(|failure| failed(part, "git status", failure))?;
        let unpushed = git(executable, Some(location), &["log", "--oneline", "--branches", "--not", "--remotes"])
            .map_err(|failure| failed(part, "git log", failure))?;
        let mut found = Vec::new();
        if !changes.trim().is_empty() {
            found.push(format!("uncommitted changes:\n{}", changes.trim_end()));
        }
        if !unpushed.trim().is_empty() {
            found.push(format!("unpushed commits:\n{}", unpushed.trim_end()));
        }
        if found.is_empty() {
            return Ok(());
        }
        Err(RecipeError::Failed(format!(
            "gitclone part '{part}': refusing to uninstall {}, it has local changes that would be lost; {}",
            location.display(),
            found.join("; ")
        )))
    }
}

/// The options install and update use.
#[derive(Debug, Clone)]
struct Settings {
    repository: String,
    branch: String,
    revision: Option<String>,
    location: PathBuf,
    executable: String,
    develop: bool,
    depth: Option<String>,
    ignore_ssl_certificate: bool,
}

impl Settings {
    fn parse(part: &str, options: &Options) -> Result<Settings, RecipeError> {
        let get = |key: &str| options.get(key).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        let repository = get("repository").ok_or_else(|| {
            RecipeError::Profile(ProfileError::MissingOption { section: part.to_owned(), option: "repository".to_owned() })
        })?;
        let depth = get("depth");
        if let Some(depth) = &depth {
            if depth.parse::<u32>().is_err() {
                return Err(RecipeError::Failed(format!("gitclone part '{part}': depth must be a number, not '{depth}'")));
            }
        }
        Ok(Settings {
            repository,
            branch: get("branch").unwrap_or_else(|| "master".to_owned()),
            revision: get("revision"),
            location: PathBuf::from(get("location").unwrap_or_default()),
            executable: get("git-executable").unwrap_or_else(|| "git".to_owned()),
            develop: get("develop").is_some_and(|value| is_true(&value)),
            depth,
            ignore_ssl_certificate: get("ignore-ssl-certificate").is_some_and(|value| is_true(&value)),
        })
    }

    /// `-c http.sslVerify=false` when certificates are ignored.
    fn config(&self) -> Vec<&str> {
        if self.ignore_ssl_certificate {
            vec!["-c", "http.sslVerify=false"]
        } else {
            Vec::new()
        }
    }
}

/// `y|yes|on|true|1`, any case.
fn is_true(value: &str) -> bool {
    matches!(value.to_lowercase().as_str(), "y" | "yes" | "on" | "true" | "1")
}

/// A git failure as the part's error, quoting git.
fn failed(part: &str, what: &str, failure: GitFailure) -> RecipeError {
    match failure {
        GitFailure::Spawn(error) => RecipeError::Failed(format!("gitclone part '{part}': cannot run {what}: {error}")),
        GitFailure::Exit { status, stderr } => {
            RecipeError::Failed(format!("gitclone part '{part}': {what} failed with {status}: {stderr}"))
        }
    }
}

struct GitClonePart {
    settings: Settings,
}

impl GitClonePart {
    fn run(&self, context: &InstallContext<'_>, directory: Option<&Path>, what: &str, args: &[&str]) -> Result<String, RecipeError> {
        let mut full = self.settings.config();
        full.extend_from_slice(args);
        git(&self.settings.executable, directory, &full).map_err(|failure| failed(context.part, what, failure))
    }
}

impl Part for GitClonePart {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        let settings = self.settings.clone();
        let location = context.directory.join(&settings.location);
        context.environment.progress.step(context.part, &format!("cloning {}", settings.repository));
        if let Some(parent) = location.parent() {
            std::fs::create_dir_all(parent).map_err(|error| RecipeError::io(parent, error))?;
        }
        // An existing directory (a working copy left by the user) is never
        // marked as created: git refuses a non-empty one, and a failed
        // install must not delete it.
        if !location.exists() {
            context.created(&location);
        }
        let location_text = location.to_string_lossy().into_owned();
        let mut args = vec!["clone", "--quiet", "--branch", settings.branch.as_str()];
        if let (Some(depth), None) = (&settings.depth, &settings.revision) {
            args.extend(["--depth", depth.as_str()]);
        }
        args.extend(["--", settings.repository.as_str(), location_text.as_str()]);
        self.run(context, Some(context.directory), "git clone", &args)?;
        if let Some(revision) = &settings.revision {
            self.run(context, Some(&location), "git reset", &["reset", "--quiet", "--hard", revision.as_str()])?;
        }
        Ok(vec![location])
    }

    fn update(&mut self, context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        if self.settings.develop || self.settings.revision.is_some() {
            return Ok(None);
        }
        let location = context.directory.join(&self.settings.location);
        context.environment.progress.step(context.part, &format!("fetching {}", self.settings.repository));
        let branch = self.settings.branch.clone();
        self.run(context, Some(&location), "git fetch", &["fetch", "--quiet", "origin"])?;
        let upstream = format!("origin/{branch}");
        self.run(context, Some(&location), "git reset", &["reset", "--quiet", "--hard", upstream.as_str()])?;
        Ok(None)
    }
}
