//! slapos.recipe.template 5.1, default entry point (spec §11.2): a file
//! rendered by buildout substitution. The text comes from `inline` (an
//! option value, already substituted) or from `url`, whose content is split
//! on `$$`, each piece substituted in this section's context (so referenced
//! sections become dependencies and parts) and the pieces joined with `$`.
//! Rendering happens in `init`; `install` writes `output` unless it already
//! holds the same bytes. The `:jinja2` entry point ([`super::jinja2`]) shares
//! the option handling and the write ([`TemplateSource`], [`OutputFile`]).

pub(crate) mod sys;

use std::path::PathBuf;
use std::sync::Arc;

use super::{InitContext, InstallContext, Part, Recipe, RecipeError, Recipes};

/// Registers `slapos.recipe.template` (its `default` entry point).
pub fn register(recipes: &mut Recipes) {
    recipes.register("slapos.recipe.template", Arc::new(TemplateRecipe));
}

/// The version recorded in part signatures: the Python recipe's.
pub(crate) const VERSION: &str = "5.1";

struct TemplateRecipe;

/// Where the template text is.
#[derive(Debug, Clone)]
pub(crate) enum TemplateSource {
    /// The text itself (`inline`, or BBB `template = inline:...`).
    Inline(String),
    /// A path or URL to read (`url`, or BBB `template`).
    Url(String),
}

/// The options every entry point of slapos.recipe.template reads first:
/// `md5sum`, `mode`, and the template (`Recipe.__init__` + `_template`).
#[derive(Debug, Clone)]
pub(crate) struct CommonOptions {
    /// `md5sum`, also "update does nothing" once an inline text is chosen.
    pub(crate) md5sum: Option<String>,
    /// Whether `update` does nothing (an md5sum was given or the text is
    /// inline).
    pub(crate) frozen: bool,
    /// `mode`, parsed as octal.
    pub(crate) mode: Option<u32>,
}

impl CommonOptions {
    /// Reads `md5sum` and `mode`.
    pub(crate) fn read(context: &mut InitContext<'_, '_>) -> Result<CommonOptions, RecipeError> {
        let md5sum = context.value("md5sum")?.filter(|sum| !sum.is_empty());
        let mode = match context.value("mode")? {
            Some(mode) if !mode.is_empty() => Some(parse_octal(&mode)?),
            _ => None,
        };
        Ok(CommonOptions { frozen: md5sum.is_some(), md5sum, mode })
    }

    /// `Recipe._template(options)`: `url` xor `inline`.
    pub(crate) fn template(&mut self, context: &mut InitContext<'_, '_>) -> Result<TemplateSource, RecipeError> {
        let inline = context.value("inline")?.filter(|text| !text.is_empty());
        let url = context.value("url")?.filter(|url| !url.is_empty());
        match (url, inline) {
            (Some(_), Some(_)) => Err(RecipeError::Failed("options 'inline' & 'url' conflict".to_owned())),
            (Some(url), None) => Ok(TemplateSource::Url(url)),
            (None, Some(inline)) => {
                if self.md5sum.is_some() {
                    return Err(RecipeError::Failed("options 'inline' & 'md5sum' conflict".to_owned()));
                }
                self.frozen = true;
                Ok(TemplateSource::Inline(inline))
            }
            (None, None) => Err(RecipeError::Failed("one of the options 'inline' 'url' is required".to_owned())),
        }
    }
}

/// Python's `int(text, 8)`: surrounding whitespace, a sign, an optional
/// `0o` prefix and `_` between digits allowed.
pub(crate) fn parse_octal(text: &str) -> Result<u32, RecipeError> {
    let invalid = || RecipeError::Failed(format!("invalid literal for int() with base 8: {}", crate::python::str_repr(text)));
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let digits = digits.strip_prefix("0o").or_else(|| digits.strip_prefix("0O")).map_or(digits, |rest| rest.strip_prefix('_').unwrap_or(rest));
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return Err(invalid());
    }
    u32::from_str_radix(&digits.replace('_', ""), 8).map_err(|_| invalid())
}

/// The directory relative paths are taken from (zc.buildout runs recipes
/// there).
pub(crate) fn buildout_directory(context: &mut InitContext<'_, '_>) -> Result<PathBuf, RecipeError> {
    Ok(PathBuf::from(context.lookup("buildout", "directory")?.unwrap_or_default()))
}

/// Whether `buildout:offline` is true.
pub(crate) fn offline(context: &mut InitContext<'_, '_>) -> Result<bool, RecipeError> {
    Ok(context.lookup("buildout", "offline")?.is_some_and(|value| value.trim() == "true"))
}

/// Reads a template source (`Recipe._read`).
pub(crate) fn read_url(context: &mut InitContext<'_, '_>, url: &str, md5sum: Option<&str>) -> Result<Vec<u8>, RecipeError> {
    let directory = buildout_directory(context)?;
    let offline = offline(context)?;
    sys::read_source(url, md5sum, &directory, offline, context.environment().fetch)
}

impl Recipe for TemplateRecipe {
    fn version(&self) -> &'static str {
        VERSION
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let mut common = CommonOptions::read(context)?;
        let output = context.require("output")?;
        let rendered = match common.template(context)? {
            TemplateSource::Inline(text) => text,
            TemplateSource::Url(url) => {
                let body = read_url(context, &url, common.md5sum.as_deref())?;
                let text = String::from_utf8(body)
                    .map_err(|error| RecipeError::Failed(format!("{url}: not UTF-8 text (byte {})", error.utf8_error().valid_up_to())))?;
                substitute_pieces(context, &universal_newlines(&text))?
            }
        };
        let directory = buildout_directory(context)?;
        let file = OutputFile { output, directory, mode: common.mode };
        Ok(Box::new(TemplatePart { file, rendered: rendered.into_bytes(), frozen: common.frozen }))
    }
}

/// Python's text-mode read: `\r\n` and lone `\r` become `\n`.
pub(crate) fn universal_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// `'$'.join(options._sub(s, None) for s in text.split('$$'))`.
fn substitute_pieces(context: &mut InitContext<'_, '_>, text: &str) -> Result<String, RecipeError> {
    let part = context.part().to_owned();
    let mut pieces = Vec::new();
    for piece in text.split("$$") {
        pieces.push(context.resolver().substitute_text(&part, piece)?);
    }
    Ok(pieces.join("$"))
}

/// Where and how slapos.recipe.template writes its result.
#[derive(Debug, Clone)]
pub(crate) struct OutputFile {
    /// `output` as written (returned as the installed path).
    pub(crate) output: String,
    /// `buildout:directory`, for a relative `output`.
    pub(crate) directory: PathBuf,
    /// `mode`, if given.
    pub(crate) mode: Option<u32>,
}

impl OutputFile {
    /// The output's path on disk.
    pub(crate) fn path(&self) -> PathBuf {
        self.directory.join(&self.output)
    }

    /// `Recipe.install` after rendering: writes `rendered` unless identical,
    /// with the default mode rules; returns `[output]`.
    pub(crate) fn write(&self, rendered: &[u8]) -> Result<Vec<PathBuf>, RecipeError> {
        let mask = match self.mode {
            Some(_) => 0,
            None if shebang_is_executable(rendered) => 0o777,
            None => 0o666,
        };
        let fixed_mode = match self.mode {
            Some(mode) => mode,
            None => sys::umask_mode()? & mask,
        };
        sys::write_if_changed(&self.path(), rendered, fixed_mode, mask, self.mode)?;
        Ok(vec![PathBuf::from(&self.output)])
    }
}

/// Whether `rendered` starts with `#!` naming an executable file.
fn shebang_is_executable(rendered: &[u8]) -> bool {
    let Some(rest) = rendered.strip_prefix(b"#!") else { return false };
    let line = rest.iter().position(|&byte| byte == b'\n').map_or(rest, |end| &rest[..end]);
    let line = String::from_utf8_lossy(line);
    line.split_whitespace().next().is_some_and(sys::is_executable)
}

/// An initialised slapos.recipe.template part.
struct TemplatePart {
    file: OutputFile,
    rendered: Vec<u8>,
    /// `md5sum` given or inline: `update` does nothing.
    frozen: bool,
}

impl Part for TemplatePart {
    fn install(&mut self, _context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        self.file.write(&self.rendered)
    }

    fn update(&mut self, _context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        if !self.frozen {
            self.file.write(&self.rendered)?;
        }
        Ok(None)
    }
}
