//! `slapos.recipe.build:download-unpacked` (spec §11.4): an archive
//! (tar, tar.gz, tar.bz2, tar.xz, tar.lz, zip) fetched and checked as `download`
//! does, then extracted into `parts/<part>` (or `destination`, or a shared
//! location), skipping absolute and `..` members; `strip-top-level-dir`
//! (unset: strip when the archive holds exactly one directory) moves that
//! directory's contents up. `environment` is accepted and checked but
//! unused: slapos.recipe.build only passes it to `xzcat`/`lunzip`, and xz
//! is decoded natively here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::archive::{self, Format, Strip};
use super::download::DownloadSettings;
use super::fetching;
use super::shared::{InstallMode, Shared};
use super::{build_environment, sys, InitContext, InstallContext, Part, Recipe, RecipeError, Recipes};

/// Registers `slapos.recipe.build:download-unpacked`.
pub fn register(recipes: &mut Recipes) {
    recipes.register("slapos.recipe.build:download-unpacked", Arc::new(DownloadUnpacked));
}

/// The recipe.
#[derive(Debug, Clone, Copy, Default)]
pub struct DownloadUnpacked;

impl Recipe for DownloadUnpacked {
    fn version(&self) -> &'static str {
        "1"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let strip = Strip::parse(context.value("strip-top-level-dir")?.as_deref()).map_err(RecipeError::Failed)?;
        let settings = DownloadSettings::read(context)?;
        let mut shared = Shared::new(context)?;
        if let Some(destination) = context.value("destination")?.filter(|destination| !destination.is_empty()) {
            shared.assert_not_shared("option 'destination' can't be set")?;
            shared.location = PathBuf::from(destination);
        }
        context.set("location", shared.location.to_string_lossy())?;
        context.set("target", shared.location.to_string_lossy())?;
        build_environment::read(context)?;
        Ok(Box::new(DownloadUnpackedPart { settings, strip, shared }))
    }
}

struct DownloadUnpackedPart {
    settings: DownloadSettings,
    strip: Strip,
    shared: Shared,
}

impl Part for DownloadUnpackedPart {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        if !self.shared.is_shared() {
            context.created(&self.shared.location);
        }
        let location = self.shared.location.clone();
        let mode = InstallMode { create_location: true, keep_on_error: false };
        self.shared.install(mode, || fetch_and_unpack(&self.settings, self.strip, &location, context))
    }
}

/// Downloads the archive of `settings` to a scratch directory and
/// extracts it into `location` (which exists).
///
/// # Errors
/// Download, checksum, format and extraction errors.
pub(crate) fn fetch_and_unpack(
    settings: &DownloadSettings,
    strip: Strip,
    location: &Path,
    context: &InstallContext<'_>,
) -> Result<(), RecipeError> {
    let scratch = sys::ScratchDir::new(context.part)?;
    let archive_path = scratch.path().join("archive");
    fetching::download(&settings.source(), &archive_path, context.directory, context.part, context.environment)?;
    context.environment.progress.step(context.part, &format!("unpacking {}", settings.url));
    unpack(&archive_path, location, strip)
}

/// Extracts `archive_path` into `location`, then strips the top-level
/// directory as `strip` says.
///
/// # Errors
/// An unknown format, extraction errors, `strip-top-level-dir = true` with
/// other than one top entry.
pub(crate) fn unpack(archive_path: &Path, location: &Path, strip: Strip) -> Result<(), RecipeError> {
    let head = sys::read_head(archive_path, 512)?;
    match archive::detect(&head) {
        Some(Format::Tar(compression)) => sys::unpack_tar(archive_path, compression, location)?,
        Some(Format::Zip) => sys::unpack_zip(archive_path, location)?,
        None => {
            return Err(RecipeError::Failed(format!("Not a recognized archive type: {}", archive_path.display())));
        }
    }
    let mut entries = Vec::new();
    for name in sys::list_dir(location)? {
        let is_dir = sys::is_dir(&location.join(&name));
        entries.push((name, is_dir));
    }
    let Some(top) = strip.top_to_strip(&entries).map_err(RecipeError::Failed)? else { return Ok(()) };
    // Rename the top directory first: it may contain an entry of its own
    // name.
    let moved = location.join(".slapos-strip-top-level-dir");
    sys::rename(&location.join(&top), &moved)?;
    for name in sys::list_dir(&moved)? {
        sys::rename(&moved.join(&name), &location.join(&name))?;
    }
    sys::remove_empty_dir(&moved)
}
