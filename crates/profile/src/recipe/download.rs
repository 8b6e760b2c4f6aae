//! `slapos.recipe.build:download` (spec §11.4): one file fetched to
//! `parts/<part>/<basename(filename) or part>` (or to `destination`),
//! checked against `md5sum` (and `sha256sum`/`sha512sum`), optionally
//! shared (§9.1, needs a checksum). Update downloads again only when no
//! checksum pins the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::fetching::{self, Checksums, Source};
use super::shared::{parse_bool, InstallMode, Shared};
use super::{sys, InitContext, InstallContext, Part, Recipe, RecipeError, Recipes};

/// Registers `slapos.recipe.build:download`.
pub fn register(recipes: &mut Recipes) {
    recipes.register("slapos.recipe.build:download", Arc::new(Download));
}

/// The recipe.
#[derive(Debug, Clone, Copy, Default)]
pub struct Download;

/// What the part downloads, read at init.
#[derive(Debug, Clone)]
pub(crate) struct DownloadSettings {
    pub(crate) url: String,
    pub(crate) alternate_url: Option<String>,
    pub(crate) checksums: Checksums,
    pub(crate) offline: bool,
}

impl DownloadSettings {
    /// `url`, `alternate-url`, checksums and `offline` (else
    /// `buildout:offline`).
    ///
    /// # Errors
    /// Missing `url`, an invalid `offline`.
    pub(crate) fn read(context: &mut InitContext<'_, '_>) -> Result<DownloadSettings, RecipeError> {
        let url = context.require("url")?.trim().to_owned();
        DownloadSettings::read_for(context, url)
    }

    /// As [`DownloadSettings::read`] with the URL already known.
    ///
    /// # Errors
    /// An invalid `offline`.
    pub(crate) fn read_for(context: &mut InitContext<'_, '_>, url: String) -> Result<DownloadSettings, RecipeError> {
        let alternate_url = context.value("alternate-url")?.map(|url| url.trim().to_owned()).filter(|url| !url.is_empty());
        let options = context.options()?;
        let checksums = Checksums::from_options(&options);
        let offline = match parse_bool(context.value("offline")?.as_deref().filter(|value| !value.is_empty()), "offline")? {
            Some(offline) => offline,
            None => context.lookup("buildout", "offline")?.is_some_and(|value| value.trim() == "true"),
        };
        Ok(DownloadSettings { url, alternate_url, checksums, offline })
    }

    pub(crate) fn source(&self) -> Source<'_> {
        Source { url: &self.url, alternate_url: self.alternate_url.as_deref(), checksums: &self.checksums, offline: self.offline }
    }
}

impl Recipe for Download {
    fn version(&self) -> &'static str {
        "1"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let settings = DownloadSettings::read(context)?;
        if context.get("mode")?.is_some() {
            return Err(RecipeError::Failed("option 'mode' not supported".to_owned()));
        }
        let shared = Shared::new(context)?;
        if settings.checksums.is_empty() {
            shared.assert_not_shared("option 'md5sum' must be set")?;
        }
        let destination = context.value("destination")?.filter(|destination| !destination.is_empty());
        let (target, shared) = match destination {
            Some(destination) => {
                shared.assert_not_shared("option 'destination' can't be set")?;
                (PathBuf::from(destination), None)
            }
            None => {
                let file_name = match context.value("filename")?.filter(|name| !name.is_empty()) {
                    Some(filename) => Path::new(&filename).file_name().map(|name| name.to_os_string()),
                    None => None,
                };
                let file_name = file_name.unwrap_or_else(|| context.part().into());
                context.set("location", shared.location.to_string_lossy())?;
                (shared.location.join(file_name), Some(shared))
            }
        };
        context.set("target", target.to_string_lossy())?;
        Ok(Box::new(DownloadPart { settings, target, shared }))
    }
}

struct DownloadPart {
    settings: DownloadSettings,
    /// The file written.
    target: PathBuf,
    /// The location directory, unless `destination` was given.
    shared: Option<Shared>,
}

impl DownloadPart {
    fn download(&self, context: &InstallContext<'_>) -> Result<(), RecipeError> {
        fetching::download(&self.settings.source(), &self.target, context.directory, context.part, context.environment)
    }
}

impl Part for DownloadPart {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        match &self.shared {
            Some(shared) => {
                if !shared.is_shared() {
                    context.created(&shared.location);
                }
                let mode = InstallMode { create_location: true, keep_on_error: false };
                shared.install(mode, || self.download(context))
            }
            None => {
                sys::remove_tree(&self.target)?;
                context.created(&self.target);
                self.download(context)?;
                Ok(vec![self.target.clone()])
            }
        }
    }

    fn update(&mut self, context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        if self.settings.checksums.is_empty() {
            self.download(context)?;
        }
        Ok(None)
    }
}
