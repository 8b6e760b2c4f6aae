//! `slapos.cookbook:switch-softwaretype` (spec §11.13): picks the
//! rendered instance profile named by this partition's software type
//! (`${slap-configuration:slap-software-type}`; `RootSoftwareInstance`
//! falls back to `default`) and installs it as a nested buildout with its
//! own record, `.installed-<part>.cfg`.
//!
//! Init selects the profile (the option named after the software type
//! holds `section:key`; `override`, a `!py!` dict, may map the type to a
//! profile that then extends the selected one) and keeps what the nested
//! buildout inherits: `buildout`'s `offline`, `verbosity`, `newest`,
//! `directory`, `eggs-directory` and `develop-eggs-directory`, the whole
//! `[slap-connection]` section, and the values of `[slap-configuration]`.
//! The real recipe reads those at install; reading them at init makes
//! `[slap-connection]` a dependency of the part's signature, which only
//! turns an update into a reinstall (both run the nested install).
//!
//! Install and update both load the profile with the inherited options as
//! command-line assignments (`buildout:installed`, `buildout:extends` for
//! an override, `slap-configuration:recipe =
//! slapos.cookbook:switch-softwaretype.noop`) and install it through the
//! [`ParentRun`](crate::lifecycle::ParentRun) the lifecycle lends the part:
//! same registry (master recipes included), environment and events. The
//! noop recipe, registered only in the nested run's registry, sets the
//! parent's `[slap-configuration]` values as they are (`!py!` text
//! included) instead of querying the master again; it carries them in
//! memory rather than in a serialised `-switch-softwaretype.noop` option.
//! A change of software type reinstalls this part, and the nested run,
//! sharing the record, uninstalls the parts of the old profile. Removing
//! the switch part leaves the nested parts installed: the real recipe has
//! no uninstall hook either.
//!
//! Deliberately absent: `~` in the nested profile is not expanded (the
//! lifecycle does not know the caller's home directory).

use std::path::PathBuf;
use std::sync::Arc;

use super::values::option_text;
use crate::python::{decode_py_value, PyValue};
use crate::recipe::{InitContext, InstallContext, Options, Part, Recipe, RecipeError};
use crate::{LoadOptions, ProfileError};

/// The recipe standing for `[slap-configuration]` in the nested buildout.
const NOOP_RECIPE: &str = "slapos.cookbook:switch-softwaretype.noop";

/// The `[buildout]` options the nested buildout takes from the parent.
const INHERITED_BUILDOUT_OPTIONS: [&str; 6] =
    ["offline", "verbosity", "newest", "directory", "eggs-directory", "develop-eggs-directory"];

/// The `switch-softwaretype` entry point.
#[derive(Debug, Default)]
pub(super) struct SwitchSoftwareType;

/// What a nested install runs.
#[derive(Debug, Clone, PartialEq)]
struct NestedProfile {
    /// The profile to install (the override's, when one matches).
    profile: String,
    /// The profile the override extends, if any.
    extends: Option<String>,
    /// `buildout:installed` of the nested run.
    installed: String,
}

/// What the nested buildout takes from the parent, as resolved there
/// (escaped: `$${` kept, so that the nested resolution reads them alike).
#[derive(Debug, Clone, Default)]
struct Inherited {
    /// `[buildout]` options the parent has, by name.
    buildout: Vec<(String, String)>,
    /// `[slap-connection]`, `None` when the parent has no such section.
    slap_connection: Option<Options>,
    /// `[slap-configuration]`, every option.
    slap_configuration: Options,
}

struct SwitchPart {
    nested: NestedProfile,
    inherited: Inherited,
}

impl Recipe for SwitchSoftwareType {
    fn version(&self) -> &'static str {
        "1.0.499"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let (software_type, mapping) = mapped_type(context)?;
        let mut pieces = mapping.split(':');
        let (Some(section), Some(key), None) = (pieces.next(), pieces.next(), pieces.next()) else {
            return Err(RecipeError::Failed(format!(
                "The software types in the section [{}] must be separated by a colon such as: 'section:key', where key is usually 'rendered'. Don't use: ${{section:key}}",
                context.part()
            )));
        };
        let base = context
            .lookup(section, key)?
            .ok_or_else(|| RecipeError::Profile(ProfileError::MissingOption { section: section.to_owned(), option: key.to_owned() }))?;
        let installed = format!(".installed-{}.cfg", context.part());
        let nested = match override_profile(context, &software_type)? {
            Some(profile) => NestedProfile { profile, extends: Some(base), installed },
            None => NestedProfile { profile: base, extends: None, installed },
        };
        let inherited = inherited(context)?;
        Ok(Box::new(SwitchPart { nested, inherited }))
    }
}

/// The software type and the `section:key` text it maps to, with the
/// `RootSoftwareInstance` → `default` fallback.
fn mapped_type(context: &mut InitContext<'_, '_>) -> Result<(String, String), RecipeError> {
    let not_named = || {
        RecipeError::Failed(
            "The section to retrieve slap partition parameters (with slapos.cookbook:slapconfiguration recipe or a derived one) must be named [slap-configuration].".to_owned(),
        )
    };
    let software_type = match context.lookup("slap-configuration", "slap-software-type") {
        Ok(Some(kind)) => option_text(&kind),
        Ok(None) | Err(RecipeError::Profile(ProfileError::MissingSection { .. })) => return Err(not_named()),
        Err(other) => return Err(other),
    };
    if let Some(mapping) = context.value(&software_type)? {
        return Ok((software_type, option_text(&mapping)));
    }
    if software_type != "RootSoftwareInstance" {
        return Err(RecipeError::Failed(format!(
            "This software type ({software_type}) isn't mapped. 'default' is the default software type."
        )));
    }
    let Some(mapping) = context.value("default")? else {
        return Err(RecipeError::Failed(
            "The software type 'RootSoftwareInstance' isn't mapped. We even tried 'default' but it isn't mapped either.".to_owned(),
        ));
    };
    context.environment().progress.step(
        context.part(),
        "The software_type 'RootSoftwareInstance' is deprecated. We used 'default' instead. Please change the software_type of your instance to 'default'.",
    );
    Ok(("default".to_owned(), option_text(&mapping)))
}

/// `override[software_type]` when `override` is a `!py!` dict holding a
/// string for that type; anything else is ignored, as the real recipe's
/// `except (KeyError, TypeError)` does.
fn override_profile(context: &mut InitContext<'_, '_>, software_type: &str) -> Result<Option<String>, RecipeError> {
    let Some(raw) = context.get("override")? else { return Ok(None) };
    let Some(text) = raw.strip_prefix("!py!") else { return Ok(None) };
    let Ok(PyValue::Dict(pairs)) = decode_py_value(text) else { return Ok(None) };
    Ok(pairs.into_iter().find_map(|pair| match pair {
        (PyValue::Str(key), PyValue::Str(profile)) if key == software_type => Some(crate::final_read(&profile)),
        _ => None,
    }))
}

/// Reads what the nested buildout inherits from the parent.
fn inherited(context: &mut InitContext<'_, '_>) -> Result<Inherited, RecipeError> {
    let resolver = context.resolver();
    let mut buildout = Vec::new();
    for option in INHERITED_BUILDOUT_OPTIONS {
        if let Some(value) = resolver.get("buildout", option)? {
            buildout.push((option.to_owned(), value));
        }
    }
    let slap_connection = if resolver.has_section("slap-connection") { Some(resolver.options("slap-connection")?) } else { None };
    let slap_configuration = resolver.options("slap-configuration")?;
    Ok(Inherited { buildout, slap_connection, slap_configuration })
}

impl SwitchPart {
    /// `section:option=value` assignments of the nested buildout. Options
    /// whose names hold `=` or `:` cannot be written so and are left out.
    fn overrides(&self) -> Result<Vec<String>, RecipeError> {
        let Some(slap_connection) = &self.inherited.slap_connection else {
            return Err(RecipeError::Profile(ProfileError::MissingSection { name: "slap-connection".to_owned(), from: None, location: None }));
        };
        let mut overrides = vec![format!("buildout:installed={}", self.nested.installed)];
        if let Some(extends) = &self.nested.extends {
            overrides.push(format!("buildout:extends={extends}"));
        }
        for (option, value) in &self.inherited.buildout {
            overrides.push(format!("buildout:{option}={value}"));
        }
        let writable = |option: &str| !option.contains(['=', ':']);
        for (option, value) in slap_connection.iter().filter(|(option, _)| writable(option)) {
            overrides.push(format!("slap-connection:{option}={value}"));
        }
        overrides.push(format!("slap-configuration:recipe={NOOP_RECIPE}"));
        Ok(overrides)
    }

    /// The nested install, failing with an error naming the nested profile
    /// (and, through the lifecycle's message, the nested part).
    fn run(&self, context: &InstallContext<'_>) -> Result<(), RecipeError> {
        let nested = &self.nested;
        let Some(parent) = context.parent_run() else {
            return Err(RecipeError::Failed(format!(
                "switch-softwaretype: installing the nested profile {} (record {}) needs the part lifecycle, which runs it; this part was installed outside it",
                nested.profile, nested.installed
            )));
        };
        let failed = |message: String| RecipeError::Failed(format!("nested profile {} (record {}): {message}", nested.profile, nested.installed));
        let mut options = LoadOptions::new(parent.python().clone());
        options.overrides = self.overrides()?;
        options.cwd = Some(context.directory.to_path_buf());
        let profile = crate::load(&nested.profile, &options, context.environment.fetch).map_err(|error| failed(error.to_string()))?;
        let mut recipes = parent.recipes().clone();
        let noop = NoOperation { values: self.inherited.slap_configuration.clone() };
        recipes.register(NOOP_RECIPE, Arc::new(noop));
        parent.install(&profile, &recipes, context.environment).map_err(|failure| failed(failure.error.to_string()))?;
        Ok(())
    }
}

impl Part for SwitchPart {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        self.run(context)?;
        Ok(Vec::new())
    }

    fn update(&mut self, context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        self.run(context)?;
        Ok(None)
    }
}

/// `switch-softwaretype.noop`: `[slap-configuration]` of the nested
/// buildout, set to the parent's values; installs nothing.
#[derive(Debug)]
struct NoOperation {
    values: Options,
}

struct NothingToInstall;

impl Recipe for NoOperation {
    fn version(&self) -> &'static str {
        "1.0.499"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        for (option, value) in &self.values {
            context.set(option, value.clone())?;
        }
        Ok(Box::new(NothingToInstall))
    }
}

impl Part for NothingToInstall {
    fn install(&mut self, _context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        Ok(Vec::new())
    }
}
