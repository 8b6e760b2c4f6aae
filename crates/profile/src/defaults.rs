//! The `[buildout]` section before substitution (spec §2), as zc.buildout
//! 6.0.1's `Buildout.__init__` builds it: built-in defaults, `directory`,
//! the root file's tree, command-line `extends` files and assignments, the
//! versions section, cache directories made absolute against the file that
//! set them, the standard directories joined to `directory`, and the
//! `offline`/`newest` checks.

use crate::error::ProfileError;
use crate::extends::Loader;
use crate::merge::merge;
use crate::model::{Origin, RawSection, RawSections, RawValue};
use crate::paths::{abspath, basename, dirname, expanduser, is_abs, is_url, join};
use crate::pytext::strip;

/// The zc.buildout version whose behaviour is reproduced; it is also the
/// minimum pinned in the versions section.
pub(crate) const BUILDOUT_VERSION: &str = "6.0.1";

/// `_buildout_default_options`, with `executable` given.
pub(crate) fn default_options(executable: &str) -> RawSection {
    let defaults = [
        ("allow-hosts", "*"),
        ("allow-picked-versions", "true"),
        ("bin-directory", "bin"),
        ("develop-eggs-directory", "develop-eggs"),
        ("eggs-directory", "eggs"),
        ("eggs-directory-version", "v5"),
        ("executable", executable),
        ("find-links", ""),
        ("install-from-cache", "false"),
        ("installed", ".installed.cfg"),
        ("log-format", ""),
        ("log-level", "INFO"),
        ("newest", "true"),
        ("offline", "false"),
        ("parts-directory", "parts"),
        ("prefer-final", "true"),
        ("python", "buildout"),
        ("show-picked-versions", "false"),
        ("socket-timeout", ""),
        ("update-versions-file", ""),
        ("use-dependency-links", "true"),
        ("allow-unknown-extras", "false"),
    ];
    defaults.iter().map(|(name, value)| ((*name).to_owned(), RawValue::new(*value, Origin::Default))).collect()
}

/// The names of the default options, which buildout reads once at startup.
pub(crate) fn default_option_names() -> Vec<String> {
    default_options("").into_keys().collect()
}

/// Command-line `section:option=value` assignments grouped by section, as
/// buildout does: `section` defaults to `buildout`, each part stripped, the
/// triples sorted (so of two assignments to one option the greater value
/// wins).
///
/// # Errors
/// [`ProfileError::InvalidOverride`] for `a:b:c=...`.
pub(crate) fn command_line_sections(assignments: &[String]) -> Result<RawSections, ProfileError> {
    let mut triples = Vec::new();
    for assignment in assignments {
        let Some((target, value)) = assignment.split_once('=') else {
            return Err(ProfileError::InvalidOverride { parts: vec![assignment.clone()] });
        };
        let parts: Vec<&str> = target.split(':').collect();
        let (section, option) = match parts.as_slice() {
            [option] => ("buildout", *option),
            [section, option] => (*section, *option),
            _ => return Err(ProfileError::InvalidOverride { parts: parts.iter().map(|part| (*part).to_owned()).collect() }),
        };
        triples.push((strip(section).to_owned(), strip(option).to_owned(), strip(value).to_owned()));
    }
    triples.sort();
    let mut sections = RawSections::new();
    for (index, (section, option, value)) in triples.into_iter().enumerate() {
        // Dict order is the sorted order (a repeated option keeps its place).
        let entries = sections.entry(section).or_default();
        let order = entries.get(&option).map_or(u32::try_from(index).unwrap_or(u32::MAX), |earlier| earlier.order);
        entries.insert(option, RawValue::ordered(value, Origin::CommandLine, order));
    }
    Ok(sections)
}

/// What [`build`] needs besides the source.
pub(crate) struct BuildInput<'a> {
    pub(crate) root: &'a str,
    pub(crate) overrides: &'a [String],
    pub(crate) executable: &'a str,
    pub(crate) home: Option<&'a str>,
    pub(crate) cwd: &'a str,
}

/// The merged raw profile and the facts resolution starts from.
pub(crate) struct Built {
    pub(crate) raw: RawSections,
    pub(crate) versions_section: String,
    pub(crate) warnings: Vec<String>,
}

/// `Buildout.__init__` up to `self._raw`.
///
/// # Errors
/// Everything loading, merging and the pre-substitution checks raise.
pub(crate) fn build(input: &BuildInput<'_>, loader: &mut Loader<'_>) -> Result<Built, ProfileError> {
    let mut data = RawSections::new();
    let mut buildout = default_options(input.executable);
    let root = if is_url(input.root) {
        input.root.to_owned()
    } else {
        let root = abspath(input.root, input.cwd);
        if !loader.source.exists(&root) {
            return Err(ProfileError::Open { path: root });
        }
        buildout.insert("directory".to_owned(), RawValue::new(dirname(&root), Origin::Computed));
        root
    };
    data.insert("buildout".to_owned(), buildout.clone());
    let mut command_line = command_line_sections(input.overrides)?;
    loader.override_options = command_line.get("buildout").cloned().unwrap_or_default();
    let tree = loader.load_root(dirname(&root), &root, &buildout)?;
    merge(&mut data, tree)?;
    let command_line_extends = command_line.get_mut("buildout").and_then(|section| section.remove("extends"));
    if let Some(extends) = command_line_extends {
        for extended in extends.text.split(crate::pytext::is_space).filter(|word| !word.is_empty()) {
            let tree = loader.load_root(dirname(extended), basename(extended), &buildout)?;
            merge(&mut data, tree)?;
        }
    }
    merge(&mut data, command_line)?;
    let versions_section = add_versions(&mut data)?;
    let buildout = data.get_mut("buildout").ok_or_else(|| key_error("buildout"))?;
    absolutize_caches(buildout, input)?;
    join_directories(buildout);
    Ok(Built { raw: data, versions_section, warnings: std::mem::take(&mut loader.warnings) })
}

fn key_error(key: &str) -> ProfileError {
    ProfileError::Internal { kind: "KeyError".to_owned(), message: crate::pytext::repr(key), location: None }
}

/// The versions section: `buildout:versions` defaults to `versions` (created
/// if missing) and gains minimum pins of zc.buildout and zc.recipe.egg.
/// Returns its name as set before substitution.
fn add_versions(data: &mut RawSections) -> Result<String, ProfileError> {
    let buildout = data.get_mut("buildout").ok_or_else(|| key_error("buildout"))?;
    if !buildout.contains_key("versions") {
        buildout.insert("versions".to_owned(), RawValue::new("versions", Origin::Default));
        data.entry("versions".to_owned()).or_default();
    }
    let name = data.get("buildout").and_then(|buildout| buildout.get("versions")).map(|value| value.text.clone()).unwrap_or_default();
    if name.is_empty() {
        return Ok(name);
    }
    let Some(versions) = data.get_mut(&name) else {
        return Err(key_error(&name));
    };
    let pins = [("zc.buildout", format!(">={BUILDOUT_VERSION}")), ("zc.recipe.egg", ">=2.0.6".to_owned())];
    for (project, pin) in pins {
        versions.entry(project.to_owned()).or_insert_with(|| RawValue::new(pin, Origin::Default));
    }
    Ok(name)
}

/// `download-cache`, `eggs-directory`, `extends-cache`: `~` expanded and a
/// relative value made absolute against the directory of the file that set
/// it (`directory` for defaults and the command line).
fn absolutize_caches(buildout: &mut RawSection, input: &BuildInput<'_>) -> Result<(), ProfileError> {
    let directory = buildout.get("directory").map(|value| value.text.clone());
    for name in ["download-cache", "eggs-directory", "extends-cache"] {
        let Some(value) = buildout.get_mut(name) else { continue };
        if value.text.contains("${") || is_abs(&value.text) {
            continue;
        }
        let base = match &value.origin {
            Origin::Default | Origin::Computed | Origin::CommandLine => directory.clone().unwrap_or_else(|| input.cwd.to_owned()),
            Origin::Implicit => String::new(),
            Origin::File { file, .. } => {
                if is_url(file) {
                    return Err(ProfileError::AmbiguousRemoteDirectory {
                        option: name.to_owned(),
                        value: value.text.clone(),
                        url: file.to_string(),
                    });
                }
                dirname(file).to_owned()
            }
        };
        let mut absolute = expanduser(&value.text, input.home);
        if !is_abs(&absolute) {
            absolute = join(&base, &absolute);
        }
        value.text = abspath(&absolute, input.cwd);
    }
    Ok(())
}

/// `bin-`, `parts-`, `eggs-`, `develop-eggs-directory` joined to
/// `directory` unless they hold `${`.
fn join_directories(buildout: &mut RawSection) {
    let Some(directory) = buildout.get("directory").map(|value| value.text.clone()) else { return };
    for name in ["bin", "parts", "eggs", "develop-eggs"] {
        if let Some(value) = buildout.get_mut(&format!("{name}-directory")) {
            if !value.text.contains("${") {
                value.text = join(&directory, &value.text);
            }
        }
    }
}
