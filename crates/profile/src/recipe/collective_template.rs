//! collective.recipe.template 2.2 (spec §11.14): a file rendered by
//! buildout substitution of a template given as `input` (a file, or
//! `inline:` text) or `inline`. Each `${name}` without a colon is first
//! rewritten to `${<section>:name}`, then the whole text is substituted in
//! the section's context with no `$$` handling (`options._sub(text, [])`).
//! `install` writes `output` (parent directories created and returned),
//! `overwrite = false` keeps an existing file, `update` rewrites only when
//! the content changed. `url` templates need a network fetch at init and
//! are refused with a clear error (no profile of SlapOS uses them).

use std::path::PathBuf;
use std::sync::Arc;

use super::template::{buildout_directory, parse_octal, sys};
use super::{InitContext, InstallContext, Part, Recipe, RecipeError, Recipes};

/// Registers `collective.recipe.template` (its `default` entry point).
pub fn register(recipes: &mut Recipes) {
    recipes.register("collective.recipe.template", Arc::new(CollectiveTemplateRecipe));
}

struct CollectiveTemplateRecipe;

/// `TRUE_VALUES` of the recipe.
fn is_true(value: &str) -> bool {
    matches!(value.to_lowercase().as_str(), "y" | "yes" | "1" | "true")
}

fn failed(message: &str) -> RecipeError {
    RecipeError::Failed(message.to_owned())
}

impl Recipe for CollectiveTemplateRecipe {
    fn version(&self) -> &'static str {
        "2.2"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let input = context.value("input")?;
        let inline = context.value("inline")?;
        let url = context.value("url")?;
        if input.is_none() && inline.is_none() && url.is_none() {
            return Err(failed("No input file, inline template, or URL specified."));
        }
        let Some(output) = context.value("output")? else { return Err(failed("No output file specified.")) };
        if input.is_some() && (inline.is_some() || url.is_some()) {
            return Err(failed("Too many input sources."));
        }
        let directory = buildout_directory(context)?;
        let overwrite = context.value("overwrite")?.is_none_or(|value| is_true(&value));
        let (source, mut mode) = match (&inline, &input) {
            (Some(inline), _) => (inline.trim_start().to_owned(), None),
            (None, Some(input)) if sys::exists(&directory.join(input)) => {
                let path = directory.join(input);
                let body = String::from_utf8(sys::read_file(&path)?)
                    .map_err(|_| RecipeError::Failed(format!("{}: not UTF-8 text", path.display())))?;
                (body, Some(sys::mode_of(&path)?))
            }
            (None, Some(input)) => match input.strip_prefix("inline:") {
                Some(text) => (text.trim_start().to_owned(), None),
                None => return Err(RecipeError::Failed(format!("Input file '{input}' does not exist."))),
            },
            (None, None) => {
                return Err(failed(
                    "collective.recipe.template: 'url' templates are not supported by this engine (use 'input' or 'inline')",
                ))
            }
        };
        let rewritten = qualify_references(&source, context.part());
        let part = context.part().to_owned();
        let result = context.resolver().substitute_text(&part, &rewritten)?;
        if let Some(explicit) = context.value("mode")? {
            mode = Some(parse_octal(&explicit)?);
        }
        Ok(Box::new(CollectiveTemplatePart { output: directory.join(output), result: result.into_bytes(), mode, overwrite }))
    }
}

/// `re.sub(r"\$\{([^:]+?)\}", r"${<section>:\1}", text)`: each `${` whose
/// text up to the first `}` (at least one character, no colon) names an
/// option of this section.
pub(crate) fn qualify_references(text: &str, section: &str) -> String {
    let mut result = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        result.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match reference_name_end(after) {
            Some(end) => {
                result.push_str("${");
                result.push_str(section);
                result.push(':');
                result.push_str(&after[..end]);
                result.push('}');
                rest = &after[end + 1..];
            }
            None => {
                result.push('$');
                rest = &rest[start + 1..];
            }
        }
    }
    result.push_str(rest);
    result
}

/// The length of `[^:]+?` before the `}` closing it, if the pattern matches
/// at the start of `text`.
fn reference_name_end(text: &str) -> Option<usize> {
    let first = text.chars().next()?;
    if first == ':' {
        return None;
    }
    let from = first.len_utf8();
    for (offset, c) in text[from..].char_indices() {
        match c {
            '}' => return Some(from + offset),
            ':' => return None,
            _ => {}
        }
    }
    None
}

struct CollectiveTemplatePart {
    output: PathBuf,
    result: Vec<u8>,
    mode: Option<u32>,
    overwrite: bool,
}

impl CollectiveTemplatePart {
    /// `createIntermediatePaths`: the directories made, outermost first.
    fn create_parents(&self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        let mut missing = Vec::new();
        let mut cursor = self.output.parent();
        while let Some(path) = cursor {
            if path.as_os_str().is_empty() || sys::exists(path) {
                break;
            }
            missing.push(path.to_path_buf());
            cursor = path.parent();
        }
        missing.reverse();
        for path in &missing {
            sys::make_directory(path)?;
            context.created(path.clone());
        }
        Ok(missing)
    }
}

impl Part for CollectiveTemplatePart {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        if !self.overwrite && sys::is_file(&self.output) {
            return Ok(context.created_paths().to_vec());
        }
        self.create_parents(context)?;
        sys::remove_quietly(&self.output);
        sys::write_file(&self.output, &self.result)?;
        if let Some(mode) = self.mode {
            sys::set_mode(&self.output, mode)?;
        }
        if self.overwrite {
            context.created(self.output.clone());
        }
        Ok(context.created_paths().to_vec())
    }

    fn update(&mut self, context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        let unchanged = sys::read_file(&self.output).is_ok_and(|current| current == self.result);
        if unchanged {
            return Ok(None);
        }
        self.install(context).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::qualify_references;

    #[test]
    fn names_without_colon_are_qualified() {
        assert_eq!(qualify_references("${a} ${b:c} ${HOME}", "s"), "${s:a} ${b:c} ${s:HOME}");
        assert_eq!(qualify_references("${}} $${x} ${a", "s"), "${s:}} $${s:x} ${a");
        assert_eq!(qualify_references("${:x}", "s"), "${:x}");
    }
}
