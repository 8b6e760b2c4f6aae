//! The system access of the zc.recipe.egg family: running
//! `<executable> -m pip`, reading the `.dist-info` and `.pth` files of an
//! install directory, and writing scripts. The recipe decides; these
//! functions only act, attaching paths and pip's last words to errors.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::super::sys as recipe_sys;
use super::scripts::{self, Distribution};
use crate::recipe::RecipeError;

/// How many of pip's last stdout and stderr lines an error quotes.
const STDOUT_LINES_MAX: usize = 8;
const STDERR_LINES_MAX: usize = 15;

/// Runs `<executable> -m pip <arguments>` in `directory` with this
/// process's environment plus `environment`. pip's output is captured:
/// logged to our standard error (never stdout, which carries results)
/// when it succeeds, quoted when it fails.
///
/// # Errors
/// pip could not start, or failed: `Err` holds the exit status and the
/// last lines pip wrote (its resolver explains conflicts on stdout).
pub(crate) fn run_pip(executable: &str, arguments: &[OsString], directory: &Path, environment: &BTreeMap<String, String>) -> Result<(), String> {
    let mut child = Command::new(executable);
    child.args(["-m", "pip"]).args(arguments).current_dir(directory).envs(environment).stdin(Stdio::null());
    child.env("PIP_DISABLE_PIP_VERSION_CHECK", "1").env("PIP_NO_INPUT", "1");
    let output = child.output().map_err(|error| format!("cannot run {executable}: {error}"))?;
    if output.status.success() {
        let mut log = std::io::stderr();
        // Best effort: a closed log loses nothing the install needs.
        let _ = std::io::Write::write_all(&mut log, &output.stdout);
        let _ = std::io::Write::write_all(&mut log, &output.stderr);
        return Ok(());
    }
    let status = output.status.code().map_or_else(|| "a signal".to_owned(), |code| format!("exit status {code}"));
    let said = format!("{}{}", last_lines(&output.stdout, STDOUT_LINES_MAX), last_lines(&output.stderr, STDERR_LINES_MAX));
    Err(format!("pip failed with {status}:\n{}", said.trim_end()))
}

/// The last `count` non-blank lines of an output, each ending in a
/// newline.
fn last_lines(output: &[u8], count: usize) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(count)..].iter().map(|line| format!("{line}\n")).collect()
}

/// The distributions installed in `directory` (its `*.dist-info`
/// directories), sorted by directory name; a missing directory has none.
///
/// # Errors
/// An unreadable directory or metadata file.
pub(crate) fn installed_distributions(directory: &Path) -> Result<Vec<Distribution>, RecipeError> {
    if !recipe_sys::is_dir(directory) {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for name in recipe_sys::list_dir(directory)? {
        if !name.to_string_lossy().ends_with(".dist-info") {
            continue;
        }
        let info = directory.join(name);
        let metadata = read_optional(&info.join("METADATA"))?;
        let entry_points = read_optional(&info.join("entry_points.txt"))?;
        if let Some(distribution) = Distribution::parse(&metadata, &entry_points) {
            found.push(distribution);
        }
    }
    Ok(found)
}

/// The paths the `.pth` files of `directory` add (editable installs).
///
/// # Errors
/// An unreadable directory or file.
pub(crate) fn pth_paths(directory: &Path) -> Result<Vec<String>, RecipeError> {
    let mut paths = Vec::new();
    for name in recipe_sys::list_dir(directory)? {
        if name.to_string_lossy().ends_with(".pth") {
            let text = read_optional(&directory.join(name))?;
            paths.extend(scripts::pth_paths(&text, &directory.to_string_lossy()));
        }
    }
    Ok(paths)
}

/// The directories directly inside `directory` (none if it is missing).
///
/// # Errors
/// An unreadable directory.
pub(crate) fn subdirectories(directory: &Path) -> Result<Vec<PathBuf>, RecipeError> {
    if !recipe_sys::is_dir(directory) {
        return Ok(Vec::new());
    }
    Ok(recipe_sys::list_dir(directory)?.into_iter().map(|name| directory.join(name)).filter(|path| path.is_dir()).collect())
}

/// A text file, empty when missing.
fn read_optional(path: &Path) -> Result<String, RecipeError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(error) => Err(RecipeError::io(path, error)),
    }
}

/// Writes an executable script (mode 0755), only when its text changed.
///
/// # Errors
/// The file cannot be written.
pub(crate) fn write_script(path: &Path, text: &str) -> Result<(), RecipeError> {
    if std::fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(());
    }
    recipe_sys::write(path, text.as_bytes())?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|error| RecipeError::io(path, error))
}

pub(crate) use recipe_sys::{create_dir_all, exists, remove_tree, rename, write, ScratchDir};
