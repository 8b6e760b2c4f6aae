//! The end of zc.buildout 6.0.1's `Buildout.__init__`, once values can be
//! substituted: `[buildout]` initialised (and every section it references),
//! the standard directories made absolute again, `installed` joined,
//! logging options checked, the versions section initialised, boolean
//! options checked, `eggs-directory` suffixed with its format version.
//! Errors come in buildout's order.

use crate::error::ProfileError;
use crate::extends::bool_value;
use crate::model::RawSections;
use crate::paths::join;
use crate::python::PythonEnv;
use crate::pytext::parse_int;
use crate::resolve::Resolver;

/// What startup needs besides the resolver.
pub(crate) struct StartFacts<'a> {
    /// `offline` as read before substitution.
    pub(crate) offline: bool,
    /// The versions section name as set before substitution.
    pub(crate) versions_section: &'a str,
    /// The interpreter, for `abi-tag-eggs`.
    pub(crate) python: &'a PythonEnv,
}

/// `self.offline` and `self.newest` of `Buildout.__init__`: the raw
/// (unsubstituted) `offline`, then `newest` unless offline, each exactly
/// `true` or `false`. Returns `offline`.
///
/// # Errors
/// [`ProfileError::InvalidBool`]; an internal `KeyError` without a
/// `[buildout]` section.
pub(crate) fn check_raw_flags(raw: &RawSections) -> Result<bool, ProfileError> {
    let Some(buildout) = raw.get("buildout") else {
        return Err(ProfileError::Internal { kind: "KeyError".to_owned(), message: crate::pytext::repr("buildout"), location: None });
    };
    let offline = bool_value(buildout, "offline", "")?;
    if !offline {
        bool_value(buildout, "newest", "")?;
    }
    Ok(offline)
}

/// Runs the startup sequence on a fresh resolver.
///
/// # Errors
/// Substitution errors of `[buildout]` and of what it references,
/// [`ProfileError::MissingOption`] (e.g. `buildout:directory` for a remote
/// root), invalid log level, verbosity or booleans, install-from-cache in
/// offline mode.
pub(crate) fn start(resolver: &mut Resolver<'_>, facts: &StartFacts<'_>) -> Result<(), ProfileError> {
    const B: &str = "buildout";
    resolver.section(B)?;
    resolver.get(B, "find-links")?;
    resolver.require(B, "allow-hosts")?;
    let directory = resolver.require(B, "directory")?;
    for name in ["bin", "parts", "eggs", "develop-eggs"] {
        let option = format!("{name}-directory");
        let value = resolver.require(B, &option)?;
        let value = if value.contains("${") { value } else { join(&directory, &value) };
        resolver.set(B, &option, value)?;
    }
    let installed = resolver.require(B, "installed")?;
    if !installed.is_empty() {
        let directory = resolver.require(B, "directory")?;
        resolver.set(B, "installed", join(&directory, &installed))?;
    }
    check_logging(resolver)?;
    resolver.require(B, "socket-timeout")?;
    if !facts.versions_section.is_empty() {
        resolver.section(facts.versions_section)?;
    }
    resolver.require(B, "versions")?;
    for name in ["prefer-final", "use-dependency-links"] {
        resolved_bool(resolver, name, None)?;
    }
    resolver.get(B, "index")?;
    for name in ["allow-picked-versions", "show-picked-versions"] {
        resolved_bool(resolver, name, None)?;
    }
    resolver.require(B, "update-versions-file")?;
    resolver.get(B, "download-cache")?;
    resolver.get(B, "extends-cache")?;
    let eggs_version = resolver.require(B, "eggs-directory-version")?;
    if !eggs_version.is_empty() {
        let eggs = resolver.require(B, "eggs-directory")?;
        resolver.set(B, "eggs-directory", join(&eggs, &eggs_version))?;
    }
    if resolved_bool(resolver, "abi-tag-eggs", Some("false"))? {
        let eggs = resolver.require(B, "eggs-directory")?;
        resolver.set(B, "eggs-directory", join(&eggs, &abi_tag(facts.python)?))?;
    }
    if resolved_bool(resolver, "install-from-cache", None)? && facts.offline {
        return Err(ProfileError::InstallFromCacheOffline);
    }
    for name in crate::defaults::default_option_names() {
        resolver.require(B, &name)?;
    }
    Ok(())
}

fn check_logging(resolver: &mut Resolver<'_>) -> Result<(), ProfileError> {
    resolver.require("buildout", "log-format")?;
    let level = resolver.require("buildout", "log-level")?;
    let named = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"].contains(&level.as_str());
    if !named && parse_int(&level).is_none() {
        return Err(ProfileError::InvalidLogLevel { value: level });
    }
    if let Some(verbosity) = resolver.get("buildout", "verbosity")? {
        if parse_int(&verbosity).is_none() {
            return Err(ProfileError::InvalidVerbosity { value: verbosity });
        }
    }
    Ok(())
}

/// `bool_option(options, name, default)` on a resolved `[buildout]` value.
fn resolved_bool(resolver: &mut Resolver<'_>, name: &str, default: Option<&str>) -> Result<bool, ProfileError> {
    let value = match resolver.get("buildout", name)? {
        Some(value) => value,
        None => match default {
            Some(default) => default.to_owned(),
            None => {
                return Err(ProfileError::Internal { kind: "KeyError".to_owned(), message: crate::pytext::repr(name), location: None })
            }
        },
    };
    match value.as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ProfileError::InvalidBool { option: name.to_owned(), value, location: None }),
    }
}

/// `pep425tags.get_abi_tag()` for CPython (`cp311`); other interpreters
/// are not modelled.
fn abi_tag(python: &PythonEnv) -> Result<String, ProfileError> {
    if python.implementation_name == "cpython" {
        Ok(format!("cp{}{}", python.version_info.major, python.version_info.minor))
    } else {
        Err(ProfileError::Internal {
            kind: "NotImplemented".to_owned(),
            message: format!("abi-tag-eggs is not supported for {}", python.implementation_name),
            location: None,
        })
    }
}
