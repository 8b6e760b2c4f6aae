//! `slapos.recipe.cmmi` (spec §11.7): configure, make, make install of a
//! source tree, from `url` (downloaded and unpacked as download-unpacked
//! does, into `<location>/.build`) or from a local `path`. Patches
//! (`url#md5`) are applied with `patch-binary patch-options < file`; the
//! shell steps `pre-configure`, `pre-build`, `pre-install`,
//! `post-install` and the configure/make commands are `%`-formatted with
//! the options and run as `sh -c 'set -e;…'` in the source directory with
//! `environment` added to the process environment. `shared = true` builds
//! once per option set (§9.1). A failed build keeps its compile directory
//! with `slapos.recipe.build.env.sh`; a failed download leaves nothing.
//!
//! Not supported natively: the Python-callable hooks `pre-configure-hook`,
//! `pre-make-hook`, `post-make-hook` (init fails naming the option), and
//! `${buildout:prefix}` installs (init fails when it is set).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::archive::Strip;
use super::download::DownloadSettings;
use super::fetching::{self, Checksums, Source};
use super::shared::{parse_bool, InstallMode, Shared};
use super::{build_environment, download_unpacked, sys, InitContext, InstallContext, Options, Part, Recipe, RecipeError, Recipes};

/// Registers `slapos.recipe.cmmi`.
pub fn register(recipes: &mut Recipes) {
    recipes.register("slapos.recipe.cmmi", Arc::new(Cmmi));
}

/// The recipe.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cmmi;

/// The Python-callable hooks this engine cannot run.
const PYTHON_HOOKS: [&str; 3] = ["pre-configure-hook", "pre-make-hook", "post-make-hook"];

/// The name of the script left in a failed (or kept) build directory.
const ENVIRONMENT_SCRIPT: &str = "slapos.recipe.build.env.sh";

/// Where the sources come from.
#[derive(Debug, Clone)]
enum Sources {
    /// Downloaded and unpacked into the compile directory.
    Url { settings: DownloadSettings, strip: Strip },
    /// A local directory, built in place.
    Path(PathBuf),
}

impl Recipe for Cmmi {
    fn version(&self) -> &'static str {
        "1"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        for hook in PYTHON_HOOKS {
            if context.value(hook)?.is_some_and(|value| !value.trim().is_empty()) {
                return Err(RecipeError::Failed(format!(
                    "option '{hook}' (a Python callable) is not supported by the native slapos.recipe.cmmi; use the shell steps pre-configure, pre-build, pre-install or post-install"
                )));
            }
        }
        let shared = Shared::new(context)?;
        let location = shared.location.to_string_lossy().into_owned();
        if let Some(given) = context.value("location")? {
            if given.replace("@@LOCATION@@", &location) != location {
                return Err(RecipeError::Failed("invalid 'location' value".to_owned()));
            }
        }
        context.set("location", location.clone())?;
        init_prefix(context, &shared, &location)?;
        let sources = init_sources(context, &location)?;
        for key in context.options()?.into_keys() {
            // The escaped value, so that a `$${` stays escaped when set back.
            if let Some(value) = context.get(&key)?.filter(|value| value.contains("@@LOCATION@@")) {
                context.set(&key, value.replace("@@LOCATION@@", &location))?;
            }
        }
        let environment = build_environment::read(context)?;
        let keep_compile_dir_default = context.lookup("buildout", "keep-compile-dir")?;
        let offline = context.lookup("buildout", "offline")?.is_some_and(|value| value.trim() == "true");
        Ok(Box::new(CmmiPart { shared, sources, environment, keep_compile_dir_default, offline }))
    }
}

/// `prefix`: given (then inside the location when shared), else the
/// location.
fn init_prefix(context: &mut InitContext<'_, '_>, shared: &Shared, location: &str) -> Result<(), RecipeError> {
    if let Some(prefix) = context.value("prefix")?.filter(|prefix| !prefix.trim().is_empty()) {
        if !prefix.replace("@@LOCATION@@", location).starts_with(location) {
            shared.assert_not_shared("'prefix' can't be outside location")?;
        }
        return Ok(());
    }
    if context.lookup("buildout", "prefix")?.is_some_and(|prefix| !prefix.trim().is_empty()) {
        return Err(RecipeError::Failed(
            "${buildout:prefix} installs are not supported by the native slapos.recipe.cmmi: set the part's 'prefix'".to_owned(),
        ));
    }
    context.set("prefix", location)
}

/// `url` xor `path`, and `compile-directory`.
fn init_sources(context: &mut InitContext<'_, '_>, location: &str) -> Result<Sources, RecipeError> {
    let url = context.value("url")?.map(|url| url.trim().to_owned()).filter(|url| !url.is_empty());
    let path = context.value("path")?.map(|path| path.trim().to_owned()).filter(|path| !path.is_empty());
    match (url, path) {
        (Some(_), Some(_)) => Err(RecipeError::Failed("You must use either \"url\" or \"path\", not both!".to_owned())),
        (None, None) => Err(RecipeError::Failed("You must provide either \"url\" or \"path\".".to_owned())),
        (Some(url), None) => {
            context.set("compile-directory", Path::new(location).join(".build").to_string_lossy())?;
            let strip = match context.value("strip-top-level-dir")?.filter(|value| !value.is_empty()) {
                Some(value) => Strip::parse(Some(&value)).map_err(RecipeError::Failed)?,
                None => Strip::Never,
            };
            Ok(Sources::Url { settings: DownloadSettings::read_for(context, url)?, strip })
        }
        (None, Some(path)) => {
            context.set("compile-directory", path.clone())?;
            Ok(Sources::Path(PathBuf::from(path)))
        }
    }
}

struct CmmiPart {
    shared: Shared,
    sources: Sources,
    /// `environment`, values not yet formatted with the process
    /// environment.
    environment: BTreeMap<String, String>,
    /// `buildout:keep-compile-dir`, used when the part does not say.
    keep_compile_dir_default: Option<String>,
    /// `buildout:offline`, for patches.
    offline: bool,
}

/// The three commands of a build, formatted.
#[derive(Debug)]
struct Commands {
    configure: String,
    make: String,
    install: String,
}

/// Why a build failed: a failed fetch leaves nothing, a failed build
/// keeps its directory.
enum BuildFailure {
    Sources(RecipeError),
    Build(RecipeError),
}

impl Part for CmmiPart {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        let location = self.shared.location.clone();
        let mut failure = None;
        let mode = InstallMode { create_location: true, keep_on_error: true };
        let result = self.shared.install(mode, || {
            self.build(context).map_err(|error| {
                let (error, sources) = match error {
                    BuildFailure::Sources(error) => (error, true),
                    BuildFailure::Build(error) => (error, false),
                };
                failure = Some(sources);
                error
            })
        });
        if failure == Some(true) {
            // A wrong checksum or a failed transfer installs nothing.
            let _ = sys::remove_tree(&location);
        }
        result
    }
}

impl CmmiPart {
    fn build(&self, context: &InstallContext<'_>) -> Result<(), BuildFailure> {
        let options = context.options;
        let environment = build_environment::formatted(&self.environment, &sys::process_variable).map_err(BuildFailure::Sources)?;
        let compile_directory = self.prepare_sources(context).map_err(BuildFailure::Sources)?;
        let source_directory = single_directory_inside(&compile_directory).map_err(BuildFailure::Build)?;
        let commands = commands(options).map_err(BuildFailure::Build)?;
        let steps = self.run_steps(context, &source_directory, &commands, &environment);
        let keep = self.keep_compile_directory(context).map_err(BuildFailure::Build)?;
        if steps.is_err() || keep {
            write_environment_script(&source_directory, &environment, &commands).map_err(BuildFailure::Build)?;
        }
        steps.map_err(|error| {
            BuildFailure::Build(RecipeError::Failed(format!(
                "{error}\nCompilation error. The package is left as is at {} where you can inspect what went wrong (source {ENVIRONMENT_SCRIPT} to reproduce the build environment)",
                source_directory.display()
            )))
        })?;
        if matches!(self.sources, Sources::Url { .. }) && !keep {
            sys::remove_tree(&compile_directory).map_err(BuildFailure::Build)?;
        }
        for promise in options.get("promises").map(String::as_str).unwrap_or("").lines().filter(|line| !line.is_empty()) {
            if !sys::exists(Path::new(promise)) {
                context.environment.progress.step(context.part, &format!("could not find promise {}", crate::pytext::repr(promise)));
            }
        }
        fix_shebangs(&self.shared.location).map_err(BuildFailure::Build)
    }

    /// `keep-compile-dir` of the part, else of `[buildout]`;
    /// `true`/`false`.
    fn keep_compile_directory(&self, context: &InstallContext<'_>) -> Result<bool, RecipeError> {
        let value = context.options.get("keep-compile-dir").filter(|value| !value.is_empty());
        let value = value.or(self.keep_compile_dir_default.as_ref()).filter(|value| !value.is_empty());
        Ok(parse_bool(value.map(String::as_str), "keep-compile-dir")?.unwrap_or(false))
    }

    /// Downloads and unpacks the sources, or finds the local `path`;
    /// returns the compile directory.
    fn prepare_sources(&self, context: &InstallContext<'_>) -> Result<PathBuf, RecipeError> {
        match &self.sources {
            Sources::Path(path) => Ok(context.directory.join(path)),
            Sources::Url { settings, strip } => {
                let compile_directory = self.shared.location.join(".build");
                sys::create_dir(&compile_directory)?;
                download_unpacked::fetch_and_unpack(settings, *strip, &compile_directory, context)?;
                Ok(compile_directory)
            }
        }
    }

    fn run_steps(
        &self,
        context: &InstallContext<'_>,
        directory: &Path,
        commands: &Commands,
        environment: &BTreeMap<String, String>,
    ) -> Result<(), RecipeError> {
        let options = context.options;
        let progress = |message: &str| context.environment.progress.step(context.part, message);
        let option = |key: &str| options.get(key).map(|value| value.split_whitespace().collect::<Vec<_>>().join(" "));
        let patches = options.get("patches").map(String::as_str).unwrap_or("");
        if !patches.trim().is_empty() {
            let binary = options.get("patch-binary").map(|value| value.trim().to_owned()).unwrap_or_else(|| "patch".to_owned());
            let patch_options = option("patch-options").unwrap_or_else(|| "-p0".to_owned());
            let scratch = sys::ScratchDir::new("patches")?;
            for (index, patch) in patches.split_whitespace().enumerate() {
                progress(&format!("applying patch {patch}"));
                let file = fetch_patch(patch, &scratch.path().join(index.to_string()), self.offline, context)?;
                sys::run_shell(&format!("{binary} {patch_options} < {}", file.display()), directory, environment)?;
            }
        }
        let step = |key: &str| -> Result<(), RecipeError> {
            let command = options.get(key).map(|value| value.trim()).unwrap_or("");
            let command = format_with_options(command, options, key)?;
            if command.is_empty() {
                return Ok(());
            }
            progress(key);
            sys::run_shell(&command, directory, environment)
        };
        step("pre-configure")?;
        progress("configure");
        sys::run_shell(&commands.configure, directory, environment)?;
        step("pre-build")?;
        progress("make");
        sys::run_shell(&commands.make, directory, environment)?;
        step("pre-install")?;
        progress("make install");
        sys::run_shell(&commands.install, directory, environment)?;
        step("post-install")
    }
}

/// A patch `url#md5` fetched to `file`.
fn fetch_patch(patch: &str, file: &Path, offline: bool, context: &InstallContext<'_>) -> Result<PathBuf, RecipeError> {
    let (url, md5) = fetching::split_md5_suffix(patch);
    let checksums = Checksums::md5_only(md5);
    let source = Source { url, alternate_url: None, checksums: &checksums, offline };
    fetching::download(&source, file, context.directory, context.part, context.environment)?;
    Ok(file.to_path_buf())
}

/// Python's `text % options`, naming the option in errors.
fn format_with_options(text: &str, options: &Options, option: &str) -> Result<String, RecipeError> {
    build_environment::percent_format(text, &|name| options.get(name).cloned())
        .map_err(|why| RecipeError::Failed(format!("option {}: {why}", crate::pytext::repr(option))))
}

/// The configure, make and make-install commands, as cmmi builds them.
fn commands(options: &Options) -> Result<Commands, RecipeError> {
    let words = |key: &str, default: &str| {
        options.get(key).map(|value| value.split_whitespace().collect::<Vec<_>>().join(" ")).unwrap_or_else(|| default.to_owned())
    };
    let make_binary = options.get("make-binary").map(|value| value.trim().to_owned()).unwrap_or_else(|| "make".to_owned());
    let make_options = words("make-options", "");
    let mut make_targets = words("make-targets", "install");
    let mut configure_options: Vec<String> =
        options.get("configure-options").map(|value| value.split_whitespace().map(str::to_owned).collect()).unwrap_or_default();
    let mut configure = options.get("configure-command").map(|value| value.trim().to_owned()).unwrap_or_default();
    let prefix = options.get("prefix").map(String::as_str).unwrap_or("");
    if configure.is_empty() {
        configure = "./configure".to_owned();
        if !configure_options.join(" ").contains("--prefix") {
            configure_options.insert(0, format!("--prefix=\"{prefix}\""));
        }
    } else if make_binary == "make" && make_targets == "install" {
        make_targets.push_str(&format!(" prefix=\"{prefix}\""));
    }
    Ok(Commands {
        configure: format_with_options(&format!("{configure} {}", configure_options.join(" ")), options, "configure-command")?,
        make: format_with_options(&format!("{make_binary} {make_options}"), options, "make-options")?,
        install: format_with_options(&format!("{make_binary} {make_options} {make_targets}"), options, "make-targets")?,
    })
}

/// The directory to build in: the only entry of `directory` when it is a
/// directory, else `directory` itself.
fn single_directory_inside(directory: &Path) -> Result<PathBuf, RecipeError> {
    let entries = sys::list_dir(directory)?;
    if let [only] = entries.as_slice() {
        let inner = directory.join(only);
        if sys::is_dir(&inner) {
            return Ok(inner);
        }
    }
    Ok(directory.to_path_buf())
}

/// Writes `slapos.recipe.build.env.sh` into `directory`: the variables the
/// build added, then how to re-run its commands.
fn write_environment_script(directory: &Path, environment: &BTreeMap<String, String>, commands: &Commands) -> Result<(), RecipeError> {
    let mut script = String::new();
    for (key, value) in environment {
        if sys::process_variable(key).as_deref() == Some(value.as_str()) {
            continue;
        }
        let comment = if matches!(key.as_str(), "TEMP" | "TMP" | "TMPDIR") { "#" } else { "" };
        script.push_str(&format!("{comment}export {key}={}\n", shell_quote(value)));
    }
    script.push_str("echo \"If this recipe does not use pre/post hooks or commands, you can re-run as below.\"\n");
    for (what, command) in [("configure", &commands.configure), ("make", &commands.make), ("install", &commands.install)] {
        script.push_str(&format!("echo {what} with:\necho {}\n", shell_quote(&format!("  {command}"))));
        if what != "install" {
            script.push_str("echo\n");
        }
    }
    sys::write(&directory.join(ENVIRONMENT_SCRIPT), script.as_bytes())
}

/// `shlex.quote`.
fn shell_quote(text: &str) -> String {
    if text.is_empty() {
        return "''".to_owned();
    }
    let safe = |c: char| c.is_alphanumeric() || c == '_' || "@%+=:,./-".contains(c);
    if text.chars().all(safe) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', "'\"'\"'"))
}

/// The wrapper replacing a script whose shebang line is too long for the
/// kernel (127 bytes): it reads the interpreter from `<script>.shebang`.
const SHEBANG_WRAPPER: &str = "#!/bin/sh -e\nread -r EXE ARG < \"$0.shebang\"\nEXE=${EXE#\\#!}\n[ \"$EXE\" ] || read -r _ EXE ARG < \"$0.shebang\"\nexec $EXE ${ARG:+\"$ARG\"} \"$0.shebang\" \"$@\"\n";

/// Wraps the scripts of `bin/` and `sbin/` whose first line starts with
/// `#!` and does not end within 128 bytes.
fn fix_shebangs(location: &Path) -> Result<(), RecipeError> {
    for directory in ["bin", "sbin"].map(|name| location.join(name)) {
        if !sys::is_dir(&directory) {
            continue;
        }
        for name in sys::list_dir(&directory)? {
            let script = directory.join(&name);
            let Some(mode) = sys::regular_file_mode(&script) else { continue };
            let line = sys::read_first_line(&script, 128)?;
            if !line.starts_with(b"#!") || line.last() == Some(&b'\n') {
                continue;
            }
            let mut renamed = script.as_os_str().to_owned();
            renamed.push(".shebang");
            sys::rename(&script, Path::new(&renamed))?;
            sys::write(&script, SHEBANG_WRAPPER.as_bytes())?;
            sys::set_mode(&script, mode)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> Options {
        pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn default_commands_add_the_prefix_to_configure() {
        let commands = commands(&options(&[("prefix", "/p"), ("configure-options", "--a\n  --b=%(prefix)s")])).expect("valid");
        assert_eq!(commands.configure, "./configure --prefix=\"/p\" --a --b=/p");
        assert_eq!(commands.make, "make ");
        assert_eq!(commands.install, "make  install");
    }

    #[test]
    fn custom_configure_puts_the_prefix_on_make_install() {
        let commands = commands(&options(&[("prefix", "/p"), ("configure-command", "cmake ."), ("make-options", "-j2")])).expect("valid");
        assert_eq!(commands.configure, "cmake . ");
        assert_eq!(commands.install, "make -j2 install prefix=\"/p\"");
    }

    #[test]
    fn quoting_matches_shlex() {
        assert_eq!(shell_quote("a/b-c"), "a/b-c");
        assert_eq!(shell_quote("it's"), "'it'\"'\"'s'");
        assert_eq!(shell_quote(""), "''");
    }
}
