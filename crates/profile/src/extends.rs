//! `extends` (spec §3.1–3.2): a file and everything it extends, loaded
//! depth first into a flat list of layers then folded left to right, as
//! zc.buildout 6.0.1's `_open` does; SlapOS' leading-`../` rule and
//! `_profile_base_location_` on top. Files and URLs are reached through a
//! [`ProfileSource`], so this module does no I/O itself.
//!
//! A file reached again through another path of a diamond (SlapOS trees
//! reach `component/xz-utils` thousands of times: software/erp5 folds about
//! 177,000 layers from 600 files) gives the very same layers as the first
//! time: for a local file whose tree names no URL, they are kept by file
//! name and reused, shared, instead of being read, parsed and cloned again.
//! What buildout would still do on the way is replayed: the recursion and
//! nesting checks, the `optional-extends` warnings, the names opened.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::error::ProfileError;
use crate::merge::{merge, update_section};
use crate::model::{Origin, RawSection, RawSections, RawValue};
use crate::paths::{dirname, is_abs, is_url, join, strip_parent_prefixes};
use crate::python::PythonEnv;
use crate::pytext::is_space;
use crate::substitute::reference_spans;

/// What decides where an `extends` URL is read from (spec §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadPolicy {
    /// `extends-cache` as set (joined to `directory` by the source), if any.
    pub extends_cache: Option<String>,
    /// `buildout:directory` of the download options, if set.
    pub directory: Option<String>,
    /// `offline = true` (or `install-from-cache = true`): no network.
    pub offline: bool,
    /// Refetch even if a cached copy exists (keeping it on failure): `newest`
    /// and the first time this URL is seen in this load.
    pub refresh: bool,
}

/// Where profile files come from: the local disk and the network, or a
/// test's memory. Implemented for the real system in [`crate::sys`].
pub trait ProfileSource {
    /// Whether a local path exists (`os.path.exists`).
    fn exists(&mut self, path: &str) -> bool;
    /// Reads a local file as text.
    ///
    /// # Errors
    /// [`ProfileError::Read`] or [`ProfileError::Decode`].
    fn read(&mut self, path: &str) -> Result<String, ProfileError>;
    /// Reads a URL as text under `policy`.
    ///
    /// # Errors
    /// [`ProfileError::Download`] or [`ProfileError::Decode`].
    fn download(&mut self, url: &str, policy: &DownloadPolicy) -> Result<String, ProfileError>;
}

/// What a non-root file gave, kept for its next appearances.
struct Subtree {
    /// Its layers, its extends' first.
    layers: Vec<Arc<RawSections>>,
    /// How many levels of files it spans (1: no extends).
    height: usize,
    /// The warnings loading it printed.
    warnings: Vec<String>,
    /// The names it opened, itself included.
    opened: Vec<String>,
}

/// The loader's state across one root file and its extends tree.
pub(crate) struct Loader<'a> {
    pub(crate) source: &'a mut dyn ProfileSource,
    pub(crate) python: &'a PythonEnv,
    /// SlapOS fork rules on (`../` stripping, `_profile_base_location_`).
    pub(crate) slapos: bool,
    /// Command-line `buildout` options, applied to download options.
    pub(crate) override_options: RawSection,
    /// Every file name opened so far (buildout's `downloaded`).
    pub(crate) opened: HashSet<String>,
    /// Parsed files by name: a diamond parses its shared file once.
    parsed: HashMap<String, RawSections>,
    /// Loaded non-root files by name, for their next appearances; cleared
    /// with each root load (the download options may differ).
    subtrees: HashMap<String, Arc<Subtree>>,
    /// The deepest `seen` length reached so far by the open in progress.
    deepest: usize,
    /// The names opened by the open in progress (its subtree's).
    opened_here: Vec<String>,
    /// Whether the open in progress reached a URL (such trees are not kept:
    /// their downloads depend on what was fetched before).
    urls_here: bool,
    /// Messages buildout prints and goes on (missing optional extends).
    pub(crate) warnings: Vec<String>,
    /// The working directory: relative local names (command-line
    /// `extends`, `optional-extends` existence) are taken from it, as the
    /// operating system does for buildout.
    cwd: String,
}

impl<'a> Loader<'a> {
    pub(crate) fn new(source: &'a mut dyn ProfileSource, python: &'a PythonEnv, slapos: bool, cwd: &str) -> Loader<'a> {
        Loader {
            source,
            python,
            slapos,
            override_options: RawSection::new(),
            opened: HashSet::new(),
            parsed: HashMap::new(),
            subtrees: HashMap::new(),
            deepest: 0,
            opened_here: Vec::new(),
            urls_here: false,
            warnings: Vec::new(),
            cwd: cwd.to_owned(),
        }
    }

    /// Where the system finds the local `path`: itself if absolute, else
    /// under the working directory.
    pub(crate) fn local_path(&self, path: &str) -> String {
        join(&self.cwd, path)
    }

    /// Loads a root file (`_open(base, name, [], ...)`) and folds its tree.
    ///
    /// # Errors
    /// Read, download, parse, recursion and merge errors.
    pub(crate) fn load_root(&mut self, base: &str, name: &str, download_options: &RawSection) -> Result<RawSections, ProfileError> {
        // Each root load starts a new `downloaded` set, as buildout's
        // `_open(..., set(), ...)` calls do.
        self.opened.clear();
        self.subtrees.clear();
        let layers = self.open(base, name, &mut Vec::new(), download_options)?;
        let mut folded = RawSections::new();
        for layer in layers {
            merge(&mut folded, Arc::unwrap_or_clone(layer))?;
        }
        Ok(folded)
    }

    /// A file loaded before under the same name: its recursion and nesting
    /// checks redone against the current stack, its warnings and opened
    /// names replayed.
    fn reuse(&mut self, filename: &str, seen: &[String]) -> Option<Result<Vec<Arc<RawSections>>, ProfileError>> {
        let subtree = Arc::clone(self.subtrees.get(filename)?);
        self.opened.extend(subtree.opened.iter().cloned());
        self.opened_here.extend(subtree.opened.iter().cloned());
        if seen.iter().any(|name| name == filename) {
            return Some(Err(ProfileError::RecursiveInclude { stack: seen.to_vec(), file: filename.to_owned() }));
        }
        // Its deepest file was opened `height - 1` levels below it.
        if seen.len() + subtree.height > crate::resolve::MAX_NESTING {
            return Some(Err(crate::resolve::recursion_error()));
        }
        self.deepest = self.deepest.max(seen.len() + subtree.height);
        self.warnings.extend(subtree.warnings.iter().cloned());
        Some(Ok(subtree.layers.clone()))
    }

    fn open(&mut self, base: &str, name: &str, seen: &mut Vec<String>, download_options: &RawSection) -> Result<Vec<Arc<RawSections>>, ProfileError> {
        let (stripped_base, stripped_name) = if self.slapos { strip_parent_prefixes(base, name) } else { (base.to_owned(), name) };
        let local = !seen.is_empty() && !is_url(stripped_name) && !is_url(&stripped_base);
        let key = join(&stripped_base, stripped_name);
        if local {
            if let Some(reused) = self.reuse(&key, seen) {
                return reused;
            }
        }
        let (outer_deepest, outer_warnings, outer_opened, outer_urls) =
            (self.deepest, self.warnings.len(), std::mem::take(&mut self.opened_here), self.urls_here);
        self.urls_here = false;
        self.deepest = seen.len();
        let result = self.open_file(base, name, seen, download_options);
        let height = self.deepest.saturating_sub(seen.len());
        let opened = std::mem::replace(&mut self.opened_here, outer_opened);
        let urls = self.urls_here;
        self.urls_here = outer_urls || urls;
        self.opened_here.extend(opened.iter().cloned());
        let layers = result?;
        if local && !urls {
            let subtree = Subtree { layers: layers.clone(), height, warnings: self.warnings[outer_warnings..].to_vec(), opened };
            self.subtrees.insert(key, Arc::new(subtree));
        }
        self.deepest = self.deepest.max(outer_deepest);
        Ok(layers)
    }

    fn open_file(&mut self, base: &str, name: &str, seen: &mut Vec<String>, download_options: &RawSection) -> Result<Vec<Arc<RawSections>>, ProfileError> {
        let mut download_options = download_options.clone();
        update_section(&mut download_options, self.override_options.clone())?;
        let newest = bool_value(&download_options, "newest", "false")?;
        let refresh = newest && !self.opened.contains(name);
        let extends_cache = download_options.get("extends-cache").map(|value| value.text.clone());
        if let Some(value) = &extends_cache {
            if !reference_spans(value).is_empty() {
                return Err(ProfileError::ExtendsCacheReference { value: value.clone() });
            }
        }
        let text_of = |options: &RawSection, key: &str| options.get(key).map(|value| value.text.as_str()) == Some("true");
        let policy = DownloadPolicy {
            extends_cache,
            directory: download_options.get("directory").map(|value| value.text.clone()),
            offline: text_of(&download_options, "offline") || text_of(&download_options, "install-from-cache"),
            refresh,
        };
        let (base, name) = if self.slapos { strip_parent_prefixes(base, name) } else { (base.to_owned(), name) };
        let (filename, text, file_base) = self.fetch(&base, name, &policy)?;
        self.opened.insert(filename.clone());
        self.opened_here.push(filename.clone());
        if is_url(&filename) {
            self.urls_here = true;
        }
        if seen.contains(&filename) {
            return Err(ProfileError::RecursiveInclude { stack: seen.clone(), file: filename });
        }
        if seen.len() >= crate::resolve::MAX_NESTING {
            return Err(crate::resolve::recursion_error());
        }
        let root = seen.is_empty();
        seen.push(filename.clone());
        self.deepest = self.deepest.max(seen.len());
        let mut result = self.parse_once(&filename, &text)?;
        if self.slapos {
            add_profile_base_location(&mut result, &filename, &file_base);
        }
        let (extends, optional_extends) = match result.get_mut("buildout") {
            Some(buildout) => {
                let extends = buildout.remove("extends");
                if buildout.contains_key("extended-by") {
                    return Err(ProfileError::ExtendedBy { file: filename });
                }
                (extends, buildout.remove("optional-extends"))
            }
            None => (None, None),
        };
        if root {
            if let Some(buildout) = result.get("buildout") {
                let mut own = buildout.clone();
                if let Some(optional) = &optional_extends {
                    own.insert("optional-extends".to_owned(), optional.clone());
                }
                update_section(&mut download_options, own)?;
            }
        }
        let mut layers = Vec::new();
        if let Some(extends) = extends {
            for extended in extends.text.split(is_space).filter(|word| !word.is_empty()) {
                layers.extend(self.open(&file_base, extended, seen, &download_options)?);
            }
        }
        if let Some(optional) = optional_extends {
            for extended in optional.text.split(is_space).filter(|word| !word.is_empty()) {
                // zc.buildout tests `os.path.exists(fname)`: relative to the
                // working directory, not to the extending file it then opens
                // it from (a zc.buildout quirk profiles may rely on).
                let found = self.local_path(extended);
                if !self.source.exists(&found) {
                    self.warnings.push(format!("optional-extends file not found: {extended}"));
                    continue;
                }
                layers.extend(self.open(&file_base, extended, seen, &download_options)?);
            }
        }
        layers.push(Arc::new(result));
        seen.pop();
        Ok(layers)
    }

    /// Reads `name` relative to `base`: the name buildout gives the file,
    /// its text, and the base its own extends are relative to.
    fn fetch(&mut self, base: &str, name: &str, policy: &DownloadPolicy) -> Result<(String, String, String), ProfileError> {
        let url_base = |url: &str| url[..url.rfind('/').unwrap_or(0)].to_owned();
        if is_url(name) {
            let text = self.source.download(name, policy)?;
            return Ok((name.to_owned(), text, url_base(name)));
        }
        if is_url(base) && !is_abs(name) {
            let filename = format!("{base}/{name}");
            let text = self.source.download(&filename, policy)?;
            let file_base = url_base(&filename);
            return Ok((filename, text, file_base));
        }
        let filename = if is_url(base) { name.to_owned() } else { join(base, name) };
        let text = self.source.read(&self.local_path(&filename)).map_err(|error| error.with_path(&filename))?;
        let file_base = dirname(&filename).to_owned();
        Ok((filename, text, file_base))
    }

    fn parse_once(&mut self, filename: &str, text: &str) -> Result<RawSections, ProfileError> {
        if let Some(parsed) = self.parsed.get(filename) {
            return Ok(parsed.clone());
        }
        let file: Arc<str> = Arc::from(filename);
        let parsed = crate::syntax::parse(text, &file, self.python)?;
        self.parsed.insert(filename.to_owned(), parsed.clone());
        Ok(parsed)
    }
}

/// SlapOS: a section of this file using `${:_profile_base_location_}` gets
/// that option set to the file's base (its directory or URL prefix).
fn add_profile_base_location(sections: &mut RawSections, filename: &str, base: &str) {
    const LITERAL: &str = "${:_profile_base_location_}";
    for section in sections.values_mut() {
        if section.values().any(|value| value.text.contains(LITERAL)) {
            let origin = Origin::File { file: Arc::from(filename), line: 0 };
            section.insert("_profile_base_location_".to_owned(), RawValue::new(base, origin));
        }
    }
}

/// buildout's `bool_option` on raw values: exactly `true` or `false`.
///
/// # Errors
/// [`ProfileError::InvalidBool`] for any other text.
pub(crate) fn bool_value(options: &RawSection, name: &str, default: &str) -> Result<bool, ProfileError> {
    let (text, location) = match options.get(name) {
        Some(value) => (value.text.as_str(), value.origin.location()),
        None => (default, None),
    };
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ProfileError::InvalidBool { option: name.to_owned(), value: text.to_owned(), location }),
    }
}
