//! `slapos.recipe.build` (= `:default`, spec §11.5): a part whose work is
//! Python code in its `init`, `install` and `update` options, run in an
//! external interpreter with a shim (`build_python/shim.py`) that gives the
//! code the globals of slapos.recipe.build's `Script`: `self`, `options`,
//! `location`, `call`, `guessworkdir`, `is_true` (and `os`, `sys`,
//! `shutil`, `subprocess`, `logging`).
//!
//! * The interpreter is the `executable` of the section named by the
//!   part's `python` option, else `buildout:executable`. It runs in
//!   `buildout:directory`, with the part's `environment` (`K=V` lines or a
//!   section; `%(VAR)s` from this process's environment) set in its
//!   process environment, hence in `os.environ`, `self.environ` and the
//!   commands it calls.
//! * The request (options, sections, code) and the result travel as JSON
//!   files; the code's standard output goes to standard error.
//! * `init` runs at init with `options` (the part's options, `location`
//!   already set to `parts/<name>` unless given, or the shared path) and
//!   `self.buildout`: the `[buildout]` section plus every section the code
//!   names literally as `self.buildout['x']` (or `"x"`), read through the
//!   resolver so that they are dependencies; other sections are absent.
//!   Options the code adds or changes are set on the part.
//! * `install` (cwd: buildout directory) runs after `location` is wiped,
//!   must create it, then the `slapos_promise` checks run (`file:`,
//!   `directory:`, `statlib:`, `dynlib:` lines, paths relative to
//!   `location`; only existence and kind are checked, not the linking of
//!   `dynlib:`). On error `location` is removed unless `keep-on-error =
//!   true`. Returns `[location]`, none when `location` is empty or the part
//!   is shared (§9.1). Without `install`, install and update run `update`
//!   and return none; `update` runs at update.
//! * `self.download(url, md5sum)` (file://, http(s):// and local paths,
//!   with urllib), `self.extract(path)` (shutil.unpack_archive) and
//!   `self.copyTree(src, dst)` are available; `self.applyPatchList` and
//!   `self.pipeCommand` raise a clear `NotImplementedError`.
//! * A failure names the part and the phase, and quotes the last lines of
//!   the Python traceback (a `UserError` only its message).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use super::shared::{parse_bool, InstallMode, Shared};
use super::{
    build_environment, sys, InitContext, InstallContext, Options, Part, Recipe, RecipeError,
    Recipes,
};

/// The shim run by `<executable> -c`.
const SHIM: &str = include_str!("build_python/shim.py");

/// The three code options.
const CODE_OPTIONS: [&str; 3] = ["init", "install", "update"];

/// Registers `slapos.recipe.build` (its default entry point).
pub fn register(recipes: &mut Recipes) {
    recipes.register("slapos.recipe.build", Arc::new(BuildPython));
}

/// The recipe.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildPython;

impl Recipe for BuildPython {
    fn version(&self) -> &'static str {
        "0.65+shim1"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let part = context.part().to_owned();
        let mut options = context.options()?;
        if CODE_OPTIONS
            .iter()
            .all(|option| !options.contains_key(*option))
        {
            return Err(RecipeError::Failed(
                "at least one of the following option is required: init, install, update"
                    .to_owned(),
            ));
        }
        let mut shared = Shared::new(context)?;
        if options.contains_key("update") {
            shared.assert_not_shared("option 'update' can't be set")?;
        }
        match options.get("location") {
            Some(location) => {
                shared.assert_not_shared("option 'location' can't be set")?;
                shared.location = PathBuf::from(location);
            }
            None => {
                let location = shared.location.to_string_lossy().into_owned();
                context.set("location", location.clone())?;
                options.insert("location".to_owned(), location);
            }
        }
        let keep_on_error = parse_bool(
            options.get("keep-on-error").map(|value| value.trim()),
            "keep-on-error",
        )?
        .unwrap_or(false);
        let variables = build_environment::read(context)?;
        let environment = build_environment::formatted(&variables, &sys::process_variable)?;
        let executable = executable(context)?;
        let directory = PathBuf::from(
            crate::final_read(&context.resolver().require("buildout", "directory")?).trim(),
        );
        let mut sections = BTreeMap::new();
        let all_code: Vec<&str> = CODE_OPTIONS
            .iter()
            .filter_map(|option| options.get(*option))
            .map(String::as_str)
            .collect();
        for section in referenced_sections(&all_code.join("\n")) {
            if !context.resolver().has_section(&section) {
                continue;
            }
            let values: Options = context
                .resolver()
                .options(&section)?
                .into_iter()
                .map(|(key, value)| (key, crate::final_read(&value)))
                .collect();
            sections.insert(section, values);
        }
        let interpreter = Interpreter {
            part: part.clone(),
            executable,
            directory,
            environment,
            sections,
        };
        if let Some(code) = options.get("init") {
            let after = interpreter.run("init", code, &options)?;
            for (key, value) in after {
                if options.get(&key) != Some(&value) {
                    context.set(&key, value)?;
                }
            }
        }
        Ok(Box::new(BuildPart {
            interpreter,
            shared,
            keep_on_error,
        }))
    }
}

/// The `executable` of the part's `python` section, else
/// `buildout:executable`.
fn executable(context: &mut InitContext<'_, '_>) -> Result<String, RecipeError> {
    let executable = match context
        .value("python")?
        .map(|python| python.trim().to_owned())
        .filter(|python| !python.is_empty())
    {
        Some(python) => crate::final_read(&context.resolver().require(&python, "executable")?),
        None => crate::final_read(&context.resolver().require("buildout", "executable")?),
    };
    Ok(executable.trim().to_owned())
}

/// `buildout` and the sections `code` names as `buildout['x']` or
/// `buildout["x"]`, in order of appearance.
fn referenced_sections(code: &str) -> Vec<String> {
    let mut found = vec!["buildout".to_owned()];
    let mut rest = code;
    while let Some(position) = rest.find("buildout[") {
        rest = &rest[position + "buildout[".len()..];
        let Some(quote) = rest
            .chars()
            .next()
            .filter(|quote| *quote == '\'' || *quote == '"')
        else {
            continue;
        };
        let body = &rest[1..];
        if let Some(end) = body.find(quote) {
            let name = &body[..end];
            if !name.is_empty() && !name.contains('\n') && !found.iter().any(|known| known == name)
            {
                found.push(name.to_owned());
            }
        }
    }
    found
}

/// How the part's code is run.
#[derive(Debug, Clone)]
struct Interpreter {
    part: String,
    executable: String,
    directory: PathBuf,
    environment: BTreeMap<String, String>,
    sections: BTreeMap<String, Options>,
}

impl Interpreter {
    /// Runs `code` as the `phase` option with `options`; returns the
    /// options after the run.
    ///
    /// # Errors
    /// The interpreter cannot run, or the code failed: the message names
    /// the part and the phase and quotes the traceback's last lines.
    fn run(&self, phase: &str, code: &str, options: &Options) -> Result<Options, RecipeError> {
        let failed = |why: String| {
            RecipeError::Failed(format!(
                "{}: {phase} code of slapos.recipe.build failed:\n{why}",
                self.part
            ))
        };
        let scratch = sys::ScratchDir::new(&format!("build-{}", self.part))?;
        let request_path = scratch.path().join("request.json");
        let result_path = scratch.path().join("result.json");
        let request = serde_json::json!({
            "phase": phase,
            "name": self.part,
            "code": code,
            "options": options,
            "buildout": self.sections,
        });
        sys::write(&request_path, request.to_string().as_bytes())?;
        let mut child = Command::new(&self.executable);
        child
            .arg("-c")
            .arg(SHIM)
            .arg(&request_path)
            .arg(&result_path);
        child
            .current_dir(&self.directory)
            .envs(&self.environment)
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()));
        let status = child
            .status()
            .map_err(|error| failed(format!("cannot run {}: {error}", self.executable)))?;
        let text = match std::fs::read_to_string(&result_path) {
            Ok(text) => text,
            Err(error) => {
                return Err(failed(format!(
                    "{} exited with {status} and no result ({error}); its output is above",
                    self.executable
                )))
            }
        };
        let result: serde_json::Value = serde_json::from_str(&text)
            .map_err(|error| failed(format!("unreadable result: {error}")))?;
        if let Some(error) = result.get("error") {
            return Err(failed(
                error
                    .as_str()
                    .map_or_else(|| error.to_string(), str::to_owned),
            ));
        }
        let Some(after) = result.get("options").and_then(serde_json::Value::as_object) else {
            return Err(failed(format!("result without options: {text}")));
        };
        Ok(after
            .iter()
            .filter_map(|(key, value)| value.as_str().map(|value| (key.clone(), value.to_owned())))
            .collect())
    }
}

/// An initialised part.
struct BuildPart {
    interpreter: Interpreter,
    shared: Shared,
    keep_on_error: bool,
}

impl BuildPart {
    /// Runs the `update` code if any.
    fn run_update(&self, context: &InstallContext<'_>) -> Result<(), RecipeError> {
        if let Some(code) = context.options.get("update") {
            self.interpreter.run("update", code, context.options)?;
        }
        Ok(())
    }
}

impl Part for BuildPart {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        let Some(code) = context.options.get("install") else {
            self.run_update(context)?;
            return Ok(Vec::new());
        };
        let options = context.options;
        let location = options
            .get("location")
            .map(|location| location.trim())
            .unwrap_or_default();
        if location.is_empty() {
            self.interpreter.run("install", code, options)?;
            return Ok(Vec::new());
        }
        if !self.keep_on_error && !self.shared.is_shared() {
            context.created(&self.shared.location);
        }
        let mode = InstallMode {
            create_location: false,
            keep_on_error: self.keep_on_error,
        };
        let promises = options.get("slapos_promise").cloned().unwrap_or_default();
        self.shared.install(mode, || {
            self.interpreter.run("install", code, options)?;
            check_promises(&self.interpreter.part, &promises, &self.shared.location)
        })
    }

    fn update(
        &mut self,
        context: &mut InstallContext<'_>,
    ) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        self.run_update(context)?;
        Ok(None)
    }
}

/// Checks the `slapos_promise` lines (`kind:path …`, `path` relative to
/// `location`).
///
/// # Errors
/// An unknown kind, a missing path or one of the wrong kind.
fn check_promises(part: &str, promises: &str, location: &Path) -> Result<(), RecipeError> {
    let mut unmet = BTreeSet::new();
    for line in promises
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
    {
        let Some((kind, rest)) = line.split_once(':') else {
            return Err(RecipeError::Failed(format!(
                "{part}: invalid slapos_promise line {}",
                crate::pytext::repr(line)
            )));
        };
        let relative = rest.split_whitespace().next().unwrap_or_default();
        let path = location.join(relative);
        let met = match kind.trim() {
            "directory" => path.is_dir(),
            "file" | "statlib" | "dynlib" => path.is_file(),
            other => {
                return Err(RecipeError::Failed(format!(
                    "{part}: unknown slapos_promise kind {}",
                    crate::pytext::repr(other)
                )))
            }
        };
        if !met {
            unmet.insert(format!("{}:{}", kind.trim(), relative));
        }
    }
    if unmet.is_empty() {
        return Ok(());
    }
    Err(RecipeError::Failed(format!(
        "{part}: slapos_promise not met: {}",
        unmet.into_iter().collect::<Vec<_>>().join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_named_literally_are_found() {
        let code = "x = self.buildout['a']['b']\ny = self.buildout[\"c\"]\nz = self.buildout[name]\nw = self.buildout['a']";
        assert_eq!(referenced_sections(code), vec!["buildout", "a", "c"]);
    }

    #[test]
    fn promises_check_kinds() {
        let directory = std::env::temp_dir();
        assert!(check_promises("p", "directory:.", &directory).is_ok());
        assert!(check_promises("p", "file:.", &directory).is_err());
        assert!(check_promises("p", "bogus:.", &directory).is_err());
    }
}
