//! slapos.recipe.template 5.1, `:jinja2` entry point (spec §11.3): a file
//! rendered by a Jinja2 template, here with minijinja. `init` reads the
//! options in the Python recipe's order and evaluates the `context` lines
//! (`raw`, `key` with `!py!` decoding, `json`, `jsonkey`, `section`,
//! `import json`) and the `import-list` paths; `install` reads the template,
//! renders it with undefined names as errors (StrictUndefined), Python's
//! builtins, `assert` and `dumps` as globals, and writes it as the default
//! entry point does ([`super::template::OutputFile`]).
//!
//! Python semantics minijinja lacks come from a source rewrite
//! ([`rewrite`]): literals build mutable containers ([`containers`], so
//! `l.append(x)`, `d.update(…)`, `d.__setitem__(k, v)` work) and `%` is
//! Python's ([`percent`]).
//!
//! Differences from Jinja2, documented rather than hidden: values built by
//! minijinja itself (filter results, slices, `+`) are immutable; sets
//! iterate in insertion order, not Python's hash order; `~` concatenation
//! spells booleans and `None` minijinja's way; `{% do %}` and loop controls
//! work without their extensions; `section` dicts iterate in sorted key
//! order; `encoding` must be UTF-8.

mod builtins;
mod containers;
mod modules;
mod percent;
mod pycompat;
mod rewrite;
mod values;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};

use super::template::{buildout_directory, read_url, sys, CommonOptions, OutputFile, TemplateSource};
use super::{InitContext, InstallContext, Part, Recipe, RecipeError, Recipes};
use crate::python::decode_py_value;

/// Registers `slapos.recipe.template:jinja2`.
pub fn register(recipes: &mut Recipes) {
    recipes.register("slapos.recipe.template:jinja2", Arc::new(Jinja2Recipe));
}

struct Jinja2Recipe;

fn failed(message: impl Into<String>) -> RecipeError {
    RecipeError::Failed(message.into())
}

/// What an `import-list` alias names.
#[derive(Debug, Clone)]
enum ImportLoader {
    /// One template, imported as the alias itself.
    File(PathBuf),
    /// A folder, imported as `alias<delimiter>relative/path`.
    Folder(PathBuf),
}

/// The template, once read (url) or given (inline).
enum Template {
    Inline(String),
    Url { url: String, md5sum: Option<String> },
}

impl Recipe for Jinja2Recipe {
    fn version(&self) -> &'static str {
        super::template::VERSION
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let mut common = CommonOptions::read(context)?;
        let once = context.value("once")?;
        let encoding = context.value("encoding")?.unwrap_or_else(|| "utf-8".to_owned());
        let update = match context.value("update")?.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(failed("tuple.index(x): x not in tuple")),
        };
        if !matches!(encoding.to_lowercase().replace('_', "-").as_str(), "utf-8" | "utf8") {
            return Err(failed(format!("encoding {encoding:?} is not supported by this engine (UTF-8 only)")));
        }
        let delimiter = context.value("import-delimiter")?.unwrap_or_else(|| "/".to_owned());
        let directory = buildout_directory(context)?;
        let imports = import_list(context, &directory)?;
        let (output, template) = match context.value("output")? {
            Some(output) => {
                let template = match common.template(context)? {
                    TemplateSource::Inline(text) => Template::Inline(text),
                    TemplateSource::Url(url) => Template::Url { url, md5sum: common.md5sum.clone() },
                };
                (output, template)
            }
            None => {
                let output = context.require("rendered")?;
                let template = context.require("template")?;
                let template = match template.strip_prefix("inline:") {
                    Some(text) => Template::Inline(text.trim_start_matches(['\r', '\n']).to_owned()),
                    None => Template::Url { url: template, md5sum: common.md5sum.clone() },
                };
                (output, template)
            }
        };
        let extensions = context.value("extensions")?.unwrap_or_default();
        for extension in extensions.split_whitespace() {
            if !matches!(extension, "jinja2.ext.do" | "jinja2.ext.loopcontrols") {
                return Err(failed(format!("jinja2 extension {extension:?} is not supported by this engine")));
            }
        }
        let variables = context_lines(context)?;
        let source = match template {
            Template::Inline(text) => TemplateText::Inline(text),
            Template::Url { url, md5sum } => {
                // Read at init so that init-time reads see the same context
                // as Python's; rendering stays at install.
                let body = read_url(context, &url, md5sum.as_deref())?;
                let text = String::from_utf8(body).map_err(|error| {
                    failed(format!("{url}: not valid {encoding} (byte {})", error.utf8_error().valid_up_to()))
                })?;
                TemplateText::File { name: url, text }
            }
        };
        let file = OutputFile { output, directory: directory.clone(), mode: common.mode };
        let once = once.filter(|once| !once.is_empty()).map(|once| directory.join(once));
        Ok(Box::new(Jinja2Part {
            file,
            source,
            variables,
            imports,
            delimiter,
            once,
            frozen: common.frozen && !update,
        }))
    }
}

/// `expression.split(':')` into section and option, as `getKey` does.
fn split_key(expression: &str) -> Result<(&str, &str), RecipeError> {
    let pieces: Vec<&str> = expression.split(':').collect();
    match pieces.as_slice() {
        [section, option] => Ok((section, option)),
        [_] => Err(failed("not enough values to unpack (expected 2, got 1)")),
        _ => Err(failed("too many values to unpack (expected 2)")),
    }
}

/// `getKey`: `buildout[section][entry]` (own options for an empty section),
/// final read, `!py!` values decoded.
fn get_key(context: &mut InitContext<'_, '_>, expression: &str) -> Result<Value, RecipeError> {
    let (section, option) = split_key(expression)?;
    let section = if section.is_empty() { context.part().to_owned() } else { section.to_owned() };
    let text = crate::final_read(&context.resolver().require(&section, option)?);
    decode_option(&text)
}

/// An option's final text as the template sees it: `!py!` decoded.
fn decode_option(text: &str) -> Result<Value, RecipeError> {
    match text.strip_prefix("!py!") {
        Some(code) => decode_py_value(code).map(|value| values::to_value(&value)).map_err(|error| failed(error.message)),
        None => Ok(Value::from(text)),
    }
}

/// The key's text (for loaders, which need a path).
fn key_text(context: &mut InitContext<'_, '_>, expression: &str) -> Result<String, RecipeError> {
    let value = get_key(context, expression)?;
    Ok(values::py_str(&value))
}

/// Parses `import-list`.
fn import_list(context: &mut InitContext<'_, '_>, directory: &Path) -> Result<BTreeMap<String, ImportLoader>, RecipeError> {
    let mut imports = BTreeMap::new();
    let list = context.value("import-list")?.unwrap_or_default();
    for line in list.lines().filter(|line| !line.is_empty()) {
        let (kind, alias, expression) = split_line(line)?;
        if imports.contains_key(alias) {
            return Err(failed(format!("Duplicate import-list entry {}", crate::python::str_repr(alias))));
        }
        let path = match kind {
            "rawfile" | "rawfolder" => expression.to_owned(),
            "file" | "folder" => key_text(context, expression)?,
            other => return Err(failed(format!("KeyError: {}", crate::python::str_repr(other)))),
        };
        let base = normalize(&directory.join(path));
        let loader = if kind.ends_with("file") { ImportLoader::File(base) } else { ImportLoader::Folder(base) };
        imports.insert(alias.to_owned(), loader);
    }
    Ok(imports)
}

/// `line.split(None, 2)` unpacked into three names.
fn split_line(line: &str) -> Result<(&str, &str, &str), RecipeError> {
    let mut rest = line.trim_start();
    let mut words = Vec::new();
    for _ in 0..2 {
        let Some(end) = rest.find(char::is_whitespace) else { break };
        words.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    if !rest.is_empty() {
        words.push(rest);
    }
    match words.as_slice() {
        [kind, name, expression] => Ok((kind, name, expression)),
        other => Err(failed(format!("not enough values to unpack (expected 3, got {})", other.len()))),
    }
}

/// `os.path.normpath` of an absolute path.
fn normalize(path: &Path) -> PathBuf {
    let mut result = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                result.pop();
            }
            Component::CurDir => {}
            other => result.push(other),
        }
    }
    result
}

/// Evaluates the `context` lines.
fn context_lines(context: &mut InitContext<'_, '_>) -> Result<Vec<(String, Value)>, RecipeError> {
    let mut variables: Vec<(String, Value)> = Vec::new();
    let lines = context.value("context")?.unwrap_or_default();
    for line in lines.lines().filter(|line| !line.is_empty()) {
        let (kind, name, expression) = split_line(line)?;
        if builtins::NAMES.contains(&name) || variables.iter().any(|(existing, _)| existing == name) {
            return Err(failed(format!("Duplicate context entry {}", crate::python::str_repr(name))));
        }
        let value = match kind {
            "raw" => Value::from(expression),
            "key" => get_key(context, expression)?,
            "json" => values::from_json(expression).map_err(|error| failed(format!("JSONDecodeError: {error}")))?,
            "jsonkey" => {
                let text = key_text(context, expression)?;
                values::from_json(&text).map_err(|error| failed(format!("JSONDecodeError: {error}")))?
            }
            "section" => {
                let options = context.resolver().options(expression)?;
                let mut pairs = Vec::new();
                for (key, text) in options {
                    pairs.push((Value::from(key), decode_option(&crate::final_read(&text))?));
                }
                pairs.into_iter().collect()
            }
            "import" => modules::import(expression).ok_or_else(|| {
                failed(format!("import {expression:?}: only the 'json' module is available to templates in this engine"))
            })?,
            other => return Err(failed(format!("KeyError: {}", crate::python::str_repr(other)))),
        };
        variables.push((name.to_owned(), value));
    }
    Ok(variables)
}

/// The template text and its name in error messages.
enum TemplateText {
    Inline(String),
    File { name: String, text: String },
}

/// An initialised `:jinja2` part.
struct Jinja2Part {
    file: OutputFile,
    source: TemplateText,
    variables: Vec<(String, Value)>,
    imports: BTreeMap<String, ImportLoader>,
    delimiter: String,
    once: Option<PathBuf>,
    /// `md5sum` given or inline, and `update` not true: update does nothing.
    frozen: bool,
}

impl Jinja2Part {
    fn render(&self) -> Result<String, RecipeError> {
        let environment = environment(self.imports.clone(), self.delimiter.clone());
        let (name, text) = match &self.source {
            TemplateText::Inline(text) => ("<inline>", text.as_str()),
            TemplateText::File { name, text } => (name.as_str(), text.as_str()),
        };
        let text = rewrite::rewrite(text, name);
        let template = environment.template_from_named_str(name, &text).map_err(render_error)?;
        // A fresh copy of the context: a render may mutate it in place.
        let context: Value = self.variables.iter().map(|(name, value)| (name.clone(), values::fresh_copy(value))).collect();
        template.render(context).map_err(render_error)
    }

    fn install_once(&self) -> Result<Vec<PathBuf>, RecipeError> {
        if let Some(once) = &self.once {
            if sys::exists(once) {
                return Ok(Vec::new());
            }
        }
        let rendered = self.render()?;
        let installed = self.file.write(rendered.as_bytes())?;
        match &self.once {
            Some(once) => {
                sys::touch(once)?;
                Ok(Vec::new())
            }
            None => Ok(installed),
        }
    }
}

impl Part for Jinja2Part {
    fn install(&mut self, _context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        self.install_once()
    }

    fn update(&mut self, _context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        if !self.frozen {
            self.install_once()?;
        }
        Ok(None)
    }
}

/// A template error with its chain (minijinja's message names the
/// template and line).
fn render_error(error: Error) -> RecipeError {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    failed(message)
}

/// The minijinja environment of one render: Jinja2's defaults (no
/// autoescape, trailing newline dropped), strict undefined, Python's
/// printing, builtins and methods, and the `import-list` loader.
fn environment(imports: BTreeMap<String, ImportLoader>, delimiter: String) -> Environment<'static> {
    let mut environment = Environment::new();
    environment.set_undefined_behavior(UndefinedBehavior::Strict);
    environment.set_auto_escape_callback(|_| AutoEscape::None);
    environment.set_keep_trailing_newline(false);
    environment.set_formatter(|out, _state, value| {
        if value.is_undefined() {
            return Err(Error::from(ErrorKind::UndefinedError));
        }
        out.write_str(&values::py_str(value)).map_err(Error::from)
    });
    environment.set_unknown_method_callback(pycompat::call_method);
    for name in builtins::NAMES {
        environment.add_global(*name, builtins::global(name));
    }
    environment.add_global(rewrite::LIST, Value::from_function(|items: Value| containers::iterate(&items).map(containers::list)));
    environment.add_global(rewrite::TUPLE, Value::from_function(|items: Value| containers::iterate(&items).map(values::tuple)));
    environment.add_global(rewrite::DICT, Value::from_function(|map: Value| containers::dict_from_map(&map)));
    environment.add_global(rewrite::MOD, Value::from_function(|left: Value, right: Value| percent::modulo(&left, &right)));
    environment.add_filter("string", |value: Value| values::py_str(&value));
    environment.add_filter("join", |value: Value, separator: Option<String>| -> Result<String, Error> {
        let parts: Vec<String> = value.try_iter()?.map(|item| values::py_str(&item)).collect();
        Ok(parts.join(separator.as_deref().unwrap_or("")))
    });
    // Python lists and tuples where Jinja2's filters give them.
    environment.add_filter("list", |value: Value| containers::iterate(&value).map(containers::list));
    environment.add_filter("dictsort", |value: Value, keywords: minijinja::value::Kwargs| -> Result<Value, Error> {
        let sorted = minijinja::filters::dictsort(&value, keywords)?;
        let pairs = sorted.try_iter()?.map(|pair| containers::iterate(&pair).map(values::tuple));
        Ok(containers::list(pairs.collect::<Result<_, _>>()?))
    });
    environment.set_loader(move |name| load_import(&imports, &delimiter, name));
    environment
}

/// `RelaxedPrefixLoader` + `FileLoader`/`FolderLoader`.
fn load_import(imports: &BTreeMap<String, ImportLoader>, delimiter: &str, name: &str) -> Result<Option<String>, Error> {
    let relaxed = if name.contains(delimiter) { name.to_owned() } else { format!("{name}{delimiter}") };
    let Some((prefix, rest)) = relaxed.split_once(delimiter) else { return Ok(None) };
    let path = match imports.get(prefix) {
        Some(ImportLoader::File(path)) if rest.is_empty() => path.clone(),
        Some(ImportLoader::Folder(base)) => {
            let path = normalize(&rest.split(delimiter).fold(base.clone(), |path, piece| path.join(piece)));
            if !path.starts_with(base) {
                return Ok(None);
            }
            path
        }
        _ => return Ok(None),
    };
    if !sys::exists(&path) {
        return Ok(None);
    }
    let bytes = sys::read_file(&path).map_err(|error| Error::new(ErrorKind::TemplateNotFound, error.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("{} is not UTF-8", path.display())))?;
    Ok(Some(rewrite::rewrite(&text, name)))
}
