//! Shared parts (spec §9.1), as slapos.recipe.build's `Shared` helper
//! does them for download, download-unpacked and cmmi: with `shared =
//! true` and `[buildout] shared-part-list`, the part lives at
//! `<root>/<part>/<md5 of the JSON of its options>`, found in the first
//! root where it exists, else built in the first writable root; a built
//! shared part holds `.buildout-shared.json` (the JSON), is read-only, and
//! its install returns no path so that no profile ever deletes it.

use std::path::{Path, PathBuf};

use super::{sys, InitContext, RecipeError};

/// The file marking a finished shared part.
pub(crate) const SIGNATURE_FILE: &str = ".buildout-shared.json";

/// Where a part is installed, shared or not.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    /// `shared = true` was asked (even if no root could hold it): some
    /// options are then forbidden.
    maybe_shared: bool,
    /// The part's directory.
    pub(crate) location: PathBuf,
    /// The JSON of the options when the part is really shared.
    signature: Option<String>,
}

/// How [`Shared::install`] treats the location.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InstallMode {
    /// Create the location before building (else only its parent).
    pub(crate) create_location: bool,
    /// Leave the location on failure, for inspection (cmmi).
    pub(crate) keep_on_error: bool,
}

impl Shared {
    /// Computes the part's location from its options (read now: later
    /// changes do not move it).
    ///
    /// # Errors
    /// An invalid `shared` value, resolution errors.
    pub(crate) fn new(context: &mut InitContext<'_, '_>) -> Result<Shared, RecipeError> {
        let maybe_shared = parse_bool(context.value("shared")?.as_deref(), "shared")?.unwrap_or(false);
        let parts_directory = context.lookup("buildout", "parts-directory")?.unwrap_or_default();
        let default_location = Path::new(&parts_directory).join(context.part());
        if !maybe_shared {
            return Ok(Shared { maybe_shared, location: default_location, signature: None });
        }
        let roots = context.lookup("buildout", "shared-part-list")?.unwrap_or_default();
        if roots.trim().is_empty() {
            return Ok(Shared { maybe_shared, location: default_location, signature: None });
        }
        let signature = signature_json(&context.options()?);
        let digest = crate::md5::md5_hex(signature.as_bytes());
        let candidates: Vec<(PathBuf, PathBuf)> = roots
            .lines()
            .map(|root| root.trim().trim_end_matches('/'))
            .filter(|root| !root.is_empty())
            .map(|root| (PathBuf::from(root), Path::new(root).join(context.part()).join(&digest)))
            .collect();
        let chosen = candidates
            .iter()
            .find(|(_, location)| sys::exists(location))
            .or_else(|| candidates.iter().find(|(root, _)| sys::is_writable_dir(root)));
        Ok(match chosen {
            Some((_, location)) => Shared { maybe_shared, location: location.clone(), signature: Some(signature) },
            None => Shared { maybe_shared, location: default_location, signature: None },
        })
    }

    /// Fails with `When shared=true, <reason>` if sharing was asked.
    ///
    /// # Errors
    /// As said.
    pub(crate) fn assert_not_shared(&self, reason: &str) -> Result<(), RecipeError> {
        if self.maybe_shared {
            return Err(RecipeError::Failed(format!("When shared=true, {reason}")));
        }
        Ok(())
    }

    /// Whether the part really lives in a shared root.
    pub(crate) fn is_shared(&self) -> bool {
        self.signature.is_some()
    }

    /// Whether this shared part is already built (install then does
    /// nothing).
    pub(crate) fn is_built(&self) -> bool {
        self.signature.is_some() && sys::exists(&self.location.join(SIGNATURE_FILE))
    }

    /// Installs with `build`: nothing when already built; else the
    /// location is wiped and (re)created, `build` runs, and a shared part
    /// gets its signature file and is made read-only. Returns the paths to
    /// record: `[location]`, or none for a shared part.
    ///
    /// # Errors
    /// `build`'s error (the location removed unless `keep_on_error`), a
    /// missing location after the build, file errors.
    pub(crate) fn install(
        &self,
        mode: InstallMode,
        build: impl FnOnce() -> Result<(), RecipeError>,
    ) -> Result<Vec<PathBuf>, RecipeError> {
        if self.is_built() {
            return Ok(Vec::new());
        }
        let location = &self.location;
        sys::remove_tree(location)?;
        let result = self.build_and_seal(mode, build);
        if result.is_err() && !mode.keep_on_error {
            // The build's error is the one to report.
            let _ = sys::remove_tree(location);
        }
        result
    }

    fn build_and_seal(&self, mode: InstallMode, build: impl FnOnce() -> Result<(), RecipeError>) -> Result<Vec<PathBuf>, RecipeError> {
        let location = &self.location;
        if mode.create_location {
            sys::create_dir_all(location)?;
        } else if let Some(parent) = location.parent() {
            sys::create_dir_all(parent)?;
        }
        build()?;
        if !sys::exists(location) {
            return Err(RecipeError::Failed(format!("{} was not created", crate::pytext::repr(&location.to_string_lossy()))));
        }
        if self.maybe_shared && !sys::is_dir(location) {
            return Err(RecipeError::Failed(format!("{} is not a directory", crate::pytext::repr(&location.to_string_lossy()))));
        }
        let Some(signature) = &self.signature else { return Ok(vec![location.clone()]) };
        sys::write_atomic(&location.join(SIGNATURE_FILE), signature.as_bytes())?;
        sys::make_read_only_recursively(location)?;
        Ok(Vec::new())
    }
}

/// The JSON a shared part is named after: its options but
/// `_profile_base_location_`, whose value is replaced by the literal
/// `${:_profile_base_location_}` in the others; sorted keys, indent 2,
/// non-ASCII kept (Python's `json.dumps(…, ensure_ascii=False, indent=2,
/// sort_keys=True)`).
pub(crate) fn signature_json(options: &super::Options) -> String {
    let base = options.get("_profile_base_location_").filter(|base| !base.is_empty());
    let signed: super::Options = options
        .iter()
        .filter(|(key, _)| key.as_str() != "_profile_base_location_")
        .map(|(key, value)| {
            let value = match base {
                Some(base) => value.replace(base.as_str(), "${:_profile_base_location_}"),
                None => value.clone(),
            };
            (key.clone(), value)
        })
        .collect();
    serde_json::to_string_pretty(&signed).expect("a map of strings always serialises")
}

/// slapos.recipe.build's `is_true`: exactly `true` or `false`; `None` when
/// absent.
///
/// # Errors
/// Any other value.
pub(crate) fn parse_bool(value: Option<&str>, option: &str) -> Result<Option<bool>, RecipeError> {
    match value {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(RecipeError::Failed(format!(
            "invalid value for {}: {} (expected true or false)",
            crate::pytext::repr(option),
            crate::pytext::repr(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_python_json_with_base_location_abstracted() {
        let mut options = super::super::Options::new();
        options.insert("_profile_base_location_".into(), "/srv/p".into());
        options.insert("url".into(), "/srv/p/a.tgz".into());
        options.insert("recipe".into(), "slapos.recipe.cmmi".into());
        options.insert("é".into(), "x\ny".into());
        assert_eq!(
            signature_json(&options),
            "{\n  \"recipe\": \"slapos.recipe.cmmi\",\n  \"url\": \"${:_profile_base_location_}/a.tgz\",\n  \"é\": \"x\\ny\"\n}"
        );
        assert_eq!(signature_json(&super::super::Options::new()), "{}");
    }
}
