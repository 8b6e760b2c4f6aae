//! Lazy resolution (spec §7.4): sections are initialised on first use, in
//! zc.buildout 6.0.1's order and with its caches (`_raw`, `_cooked`,
//! `_data`), so values, part order and the first error raised are the ones
//! buildout gives. A section with a non-empty `recipe` is handed to the
//! caller's [`RecipeHook`] when initialised and becomes a part; the hook may
//! read other sections (which makes them parts first) and set options.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::{Location, ProfileError};
use crate::macros;
use crate::model::{RawSection, RawSections};
use crate::pytext::is_space;
use crate::substitute::{check_reference, reference_spans};

/// The caller's recipe code, run when a part is initialised (zc.buildout's
/// recipe constructor). `slapos profile resolve` passes [`NoRecipes`].
pub trait RecipeHook {
    /// Called once for each section whose `recipe` is non-empty, after its
    /// values were substituted and before it is appended to the parts. It
    /// may read sections through `resolver` (recorded as dependencies of
    /// `part`) and set options of `part`.
    ///
    /// # Errors
    /// Whatever the recipe refuses; resolution stops with it.
    fn init(&self, resolver: &mut Resolver<'_>, part: &str) -> Result<(), ProfileError>;
}

/// A hook that runs no recipe: parts are ordered, nothing else happens.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRecipes;

impl RecipeHook for NoRecipes {
    fn init(&self, _resolver: &mut Resolver<'_>, _part: &str) -> Result<(), ProfileError> {
        Ok(())
    }
}

/// One initialised section: buildout's `Options`.
struct Options {
    /// Raw values after macro expansion.
    raw: RawSection,
    /// Values substituted once at initialisation.
    cooked: HashMap<String, String>,
    /// Values read (fully resolved) or set by a recipe.
    data: BTreeMap<String, String>,
}

/// The resolution state of one profile: which sections are initialised,
/// their values, the parts in install order and who referenced whom.
pub struct Resolver<'p> {
    raw: &'p RawSections,
    sections: HashMap<String, Options>,
    parts: Vec<String>,
    hook: &'p dyn RecipeHook,
    /// The parts whose hook is running, innermost last.
    running_hooks: Vec<String>,
    dependencies: BTreeMap<String, BTreeSet<String>>,
    /// Values set on sections not yet initialised ([`Resolver::preset`]),
    /// given to them when they are.
    presets: HashMap<String, BTreeMap<String, String>>,
    /// Current nesting of initialisations and substitutions.
    depth: usize,
}

/// A `(section, option)` pair on the substitution stack.
type Key = (String, String);

/// How deeply section initialisations and substitutions may nest. Python
/// stops near 180 chained sections with `RecursionError`; this bound is a
/// little more lenient and keeps the stack far from overflowing.
pub(crate) const MAX_NESTING: usize = 250;

/// Python's `RecursionError`, which buildout lets through.
pub(crate) fn recursion_error() -> ProfileError {
    ProfileError::Internal {
        kind: "RecursionError".to_owned(),
        message: "maximum recursion depth exceeded while calling a Python object".to_owned(),
        location: None,
    }
}

impl<'p> Resolver<'p> {
    /// A resolver over merged raw data with nothing initialised yet.
    pub(crate) fn new(raw: &'p RawSections, hook: &'p dyn RecipeHook) -> Resolver<'p> {
        Resolver {
            raw,
            sections: HashMap::new(),
            parts: Vec::new(),
            hook,
            running_hooks: Vec::new(),
            dependencies: BTreeMap::new(),
            presets: HashMap::new(),
            depth: 0,
        }
    }

    /// Initialises section `name` if it is not yet (`buildout[name]`):
    /// macros, substitution, `<part-dependencies>`, then the recipe hook.
    ///
    /// # Errors
    /// [`ProfileError::MissingSection`] and every substitution, macro or
    /// hook error met on the way.
    pub fn section(&mut self, name: &str) -> Result<(), ProfileError> {
        self.record_hook_dependency(name);
        self.ensure_section(name)
    }

    /// The resolved value of `option` in `section` (`buildout[section].get(option)`),
    /// `None` when the section lacks it.
    ///
    /// # Errors
    /// As [`Resolver::section`], plus substitution errors of the value.
    pub fn get(&mut self, section: &str, option: &str) -> Result<Option<String>, ProfileError> {
        self.section(section)?;
        self.get_option(section, option, None)
    }

    /// The resolved value of a required option (`buildout[section][option]`).
    ///
    /// # Errors
    /// [`ProfileError::MissingOption`] when absent, else as [`Resolver::get`].
    pub fn require(&mut self, section: &str, option: &str) -> Result<String, ProfileError> {
        match self.get(section, option)? {
            Some(value) => Ok(value),
            None => Err(ProfileError::MissingOption { section: section.to_owned(), option: option.to_owned() }),
        }
    }

    /// Sets an option of an initialised section, as a recipe does
    /// (`options[option] = value`); later reads see it.
    ///
    /// # Errors
    /// [`ProfileError::MissingSection`] if the section does not exist.
    pub fn set(&mut self, section: &str, option: &str, value: impl Into<String>) -> Result<(), ProfileError> {
        self.ensure_section(section)?;
        if let Some(options) = self.sections.get_mut(section) {
            options.data.insert(option.to_owned(), value.into());
        }
        Ok(())
    }

    /// Sets `option` of `section` before the section is initialised, so
    /// that its substitutions and recipe see this value (publish-early's
    /// override of `buildout.Options`). Returns `false`, setting nothing,
    /// when the section is already initialised.
    pub fn preset(&mut self, section: &str, option: &str, value: impl Into<String>) -> bool {
        if self.sections.contains_key(section) {
            return false;
        }
        self.presets.entry(section.to_owned()).or_default().insert(option.to_owned(), value.into());
        true
    }

    /// Removes `option` from `section` (`buildout[section].pop(option)`),
    /// returning its resolved value; `None` when the section lacks it.
    ///
    /// # Errors
    /// As [`Resolver::get`].
    pub fn remove(&mut self, section: &str, option: &str) -> Result<Option<String>, ProfileError> {
        let value = self.get(section, option)?;
        if let Some(options) = self.sections.get_mut(section) {
            options.raw.remove(option);
            options.cooked.remove(option);
            options.data.remove(option);
        }
        Ok(value)
    }

    /// Every option of a section, resolved (`dict(buildout[name])`): the raw
    /// names and those set by recipes.
    ///
    /// # Errors
    /// As [`Resolver::get`], for the first option that fails.
    pub fn options(&mut self, section: &str) -> Result<BTreeMap<String, String>, ProfileError> {
        self.section(section)?;
        let names: Vec<String> = match self.sections.get(section) {
            Some(options) => options.raw.keys().chain(options.data.keys()).cloned().collect(),
            None => Vec::new(),
        };
        let mut resolved = BTreeMap::new();
        for name in names {
            if resolved.contains_key(&name) {
                continue;
            }
            let value = self.get_option(section, &name, None)?.unwrap_or_default();
            resolved.insert(name, value);
        }
        Ok(resolved)
    }

    /// The parts initialised so far, in install order (dependencies first).
    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// For each section, the other sections it referenced (by substitution
    /// or through its recipe hook) while being initialised.
    pub fn dependencies(&self) -> &BTreeMap<String, BTreeSet<String>> {
        &self.dependencies
    }

    /// Whether a section exists in the profile.
    pub fn has_section(&self, name: &str) -> bool {
        self.raw.contains_key(name)
    }

    /// The names of all sections of the profile, sorted.
    pub fn section_names(&self) -> Vec<String> {
        self.raw.keys().cloned().collect()
    }

    fn record_hook_dependency(&mut self, name: &str) {
        if let Some(part) = self.running_hooks.last() {
            if part != name {
                self.dependencies.entry(part.clone()).or_default().insert(name.to_owned());
            }
        }
    }

    fn ensure_section(&mut self, name: &str) -> Result<(), ProfileError> {
        if self.sections.contains_key(name) {
            return Ok(());
        }
        if self.depth >= MAX_NESTING {
            return Err(recursion_error());
        }
        self.depth += 1;
        let result = self.initialize(name);
        self.depth -= 1;
        result
    }

    /// `Options._initialize` of a section not yet initialised.
    fn initialize(&mut self, name: &str) -> Result<(), ProfileError> {
        let Some(raw) = self.raw.get(name) else {
            return Err(ProfileError::MissingSection { name: name.to_owned(), from: None, location: None });
        };
        let raw = if name != "buildout" && raw.contains_key("<") { macros::expand(name, raw, self.raw)? } else { raw.clone() };
        let to_substitute: Vec<(String, String)> = raw
            .iter()
            .filter(|(_, value)| value.text.contains("${"))
            .map(|(key, value)| (key.clone(), value.text.clone()))
            .collect();
        let data = self.presets.remove(name).unwrap_or_default();
        self.sections.insert(name.to_owned(), Options { raw, cooked: HashMap::new(), data });
        for (option, text) in to_substitute {
            let mut seen = vec![(name.to_owned(), option.clone())];
            let cooked = self.substitute(name, &text, &mut seen)?;
            if let Some(options) = self.sections.get_mut(name) {
                options.cooked.insert(option, cooked);
            }
        }
        if name == "buildout" {
            return Ok(());
        }
        let dependencies = self.get_option(name, "<part-dependencies>", None)?.unwrap_or_default();
        for dependency in dependencies.split(is_space).filter(|word| !word.is_empty()) {
            self.ensure_section(dependency)?;
        }
        if self.get_option(name, "recipe", None)?.is_some_and(|recipe| !recipe.is_empty()) {
            self.running_hooks.push(name.to_owned());
            let hook = self.hook;
            let result = hook.init(self, name);
            self.running_hooks.pop();
            result?;
            self.parts.push(name.to_owned());
        }
        Ok(())
    }

    /// `Options.get(option, None, seen)` on an initialised section.
    fn get_option(&mut self, section: &str, option: &str, seen: Option<&mut Vec<Key>>) -> Result<Option<String>, ProfileError> {
        let Some(options) = self.sections.get(section) else { return Ok(None) };
        if let Some(value) = options.data.get(option) {
            return Ok(Some(value.clone()));
        }
        let text = match options.cooked.get(option) {
            Some(cooked) => cooked.clone(),
            None => match options.raw.get(option) {
                Some(raw) => raw.text.clone(),
                None => return Ok(None),
            },
        };
        let value = if text.contains("${") {
            let key = (section.to_owned(), option.to_owned());
            let mut own_stack = Vec::new();
            let seen = match seen {
                None => &mut own_stack,
                Some(seen) if seen.contains(&key) => {
                    let location = self.location_of(section, option);
                    return Err(ProfileError::CircularReference { at: key, location });
                }
                Some(seen) => seen,
            };
            if self.depth >= MAX_NESTING {
                return Err(recursion_error());
            }
            seen.push(key);
            self.depth += 1;
            let value = self.substitute(section, &text, seen);
            self.depth -= 1;
            seen.pop();
            value?
        } else {
            text
        };
        if let Some(options) = self.sections.get_mut(section) {
            options.data.insert(option.to_owned(), value.clone());
        }
        Ok(Some(value))
    }

    /// Substitutes every reference of `text`, a value of section `current`,
    /// keeping `$$` and what follows it.
    fn substitute(&mut self, current: &str, text: &str, seen: &mut Vec<Key>) -> Result<String, ProfileError> {
        let mut result = String::with_capacity(text.len());
        for (index, piece) in text.split("$$").enumerate() {
            if index > 0 {
                result.push_str("$$");
            }
            self.substitute_piece(current, piece, seen, &mut result)?;
        }
        Ok(result)
    }

    /// Substitutes every reference of `text` in the context of `section`
    /// (its own references `${:x}` read it), with no `$$` handling: buildout's
    /// `options._sub(text, None)`, which template recipes call on text that
    /// is not an option value (a template file's pieces, an inline
    /// template). Referenced sections are initialised first and recorded as
    /// dependencies of `section`.
    ///
    /// # Errors
    /// As [`Resolver::get`]: bad, missing or circular references.
    pub fn substitute_text(&mut self, section: &str, text: &str) -> Result<String, ProfileError> {
        self.section(section)?;
        let mut result = String::with_capacity(text.len());
        self.substitute_piece(section, text, &mut Vec::new(), &mut result)?;
        Ok(result)
    }

    /// Appends `piece` (text holding no `$$` to honour) to `result` with each
    /// reference replaced by its value.
    fn substitute_piece(&mut self, current: &str, piece: &str, seen: &mut Vec<Key>, result: &mut String) -> Result<(), ProfileError> {
        let mut copied = 0;
        for (start, end) in reference_spans(piece) {
            result.push_str(&piece[copied..start]);
            copied = end;
            let value = self.reference(current, &piece[start..end], seen)?;
            result.push_str(&value);
        }
        result.push_str(&piece[copied..]);
        Ok(())
    }

    /// The value a reference inserts.
    fn reference(&mut self, current: &str, reference: &str, seen: &mut Vec<Key>) -> Result<String, ProfileError> {
        let from = seen.last().cloned().unwrap_or_else(|| (current.to_owned(), String::new()));
        let checked = check_reference(reference).map_err(|kind| ProfileError::BadReference {
            kind,
            reference: reference.to_owned(),
            location: self.location_of(&from.0, &from.1),
            from: from.clone(),
        })?;
        let section = if checked.section.is_empty() { current } else { checked.section };
        let (section, option) = (section.to_owned(), checked.option.to_owned());
        if section != current {
            self.dependencies.entry(current.to_owned()).or_default().insert(section.clone());
        }
        if let Err(error) = self.ensure_section(&section) {
            return Err(match error {
                ProfileError::MissingSection { name, from: None, .. } => {
                    let location = self.location_of(&from.0, &from.1);
                    ProfileError::MissingSection { name, from: Some(from), location }
                }
                other => other,
            });
        }
        match self.get_option(&section, &option, Some(seen))? {
            Some(value) => Ok(value),
            None if option == "_buildout_section_name_" => Ok(current.to_owned()),
            None => {
                let location = self.location_of(&from.0, &from.1);
                Err(ProfileError::ReferencedOptionMissing { section, option, from, location })
            }
        }
    }

    fn location_of(&self, section: &str, option: &str) -> Option<Box<Location>> {
        let raw = match self.sections.get(section) {
            Some(options) => options.raw.get(option),
            None => self.raw.get(section).and_then(|raw| raw.get(option)),
        };
        raw.and_then(|value| value.origin.location())
    }
}
