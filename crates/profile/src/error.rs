//! Every way loading or resolving a profile fails. Each variant carries what
//! a user needs to find the problem (file and line where known, section and
//! option); [`ProfileError::buildout_message`] is zc.buildout 6.0.1's own
//! text for the same failure, and `Display` is that text behind the location.

use crate::pytext::repr;

/// Where a value or a line comes from: a file (or URL) and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file path or URL as buildout names it.
    pub file: String,
    /// The 1-based line number.
    pub line: u32,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// The four malformed-reference cases of `${...}`, in the order zc.buildout
/// tests them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadReference {
    /// No `:` at all.
    NoColon,
    /// More than one `:`.
    TooManyColons,
    /// The section part holds characters outside `[-a-zA-Z0-9 ._]`.
    SectionCharacters,
    /// The option part is empty or holds characters outside `[-a-zA-Z0-9 ._]`.
    OptionCharacters,
}

/// Why a download of an `extends` URL failed, as the fetcher reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownloadFailure {
    /// Offline mode and no usable cached copy.
    Offline,
    /// The transfer failed; the reason in words.
    Failed(String),
    /// `extends-cache` names a directory that does not exist.
    CacheMissing(String),
}

/// A failure to load or resolve a profile. Locations are boxed so the
/// error stays small (it travels in every `Result` of the engine).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.display_text())]
pub enum ProfileError {
    /// The root profile file does not exist.
    Open {
        /// Its path.
        path: String,
    },
    /// A file named by `extends` could not be read.
    Read {
        /// Its path.
        path: String,
        /// The operating system's reason.
        reason: String,
        /// Whether the reason is "no such file".
        not_found: bool,
    },
    /// A file is not UTF-8.
    Decode {
        /// Its path or URL.
        path: String,
        /// Byte offset of the first bad byte.
        position: usize,
    },
    /// An `extends` URL could not be fetched.
    Download {
        /// The URL.
        url: String,
        /// Why.
        failure: DownloadFailure,
    },
    /// An option line before any section header.
    NoSectionHeaders {
        /// The file and the offending line.
        location: Box<Location>,
        /// The line as read, newline included.
        text: String,
    },
    /// Lines that are neither header, option, continuation, comment nor
    /// blank; all of them, in order.
    Parsing {
        /// The file.
        file: String,
        /// Each bad line: its number and text.
        lines: Vec<(u32, String)>,
    },
    /// A conditional section header whose expression could not be evaluated.
    Condition {
        /// The header line.
        location: Box<Location>,
        /// The section named by the header.
        section: String,
        /// The expression.
        expression: String,
        /// The evaluator's reason.
        reason: String,
    },
    /// A file extends itself, directly or not.
    RecursiveInclude {
        /// The files being loaded, outermost first.
        stack: Vec<String>,
        /// The file met again.
        file: String,
    },
    /// The removed `extended-by` option.
    ExtendedBy {
        /// The file using it.
        file: String,
    },
    /// `extends-cache` holds a `${...}` reference.
    ExtendsCacheReference {
        /// Its value.
        value: String,
    },
    /// A relative cache directory set in a remote file.
    AmbiguousRemoteDirectory {
        /// `download-cache`, `eggs-directory` or `extends-cache`.
        option: String,
        /// The relative value.
        value: String,
        /// The remote file.
        url: String,
    },
    /// A boolean option that is neither `true` nor `false`.
    InvalidBool {
        /// The option of `[buildout]`.
        option: String,
        /// Its value.
        value: String,
        /// Where it was set, when known.
        location: Option<Box<Location>>,
    },
    /// A malformed `section:option=value` command-line assignment.
    InvalidOverride {
        /// The pieces of the `section:option` part split on `:`.
        parts: Vec<String>,
    },
    /// `log-level` is neither a level name nor an integer.
    InvalidLogLevel {
        /// Its value.
        value: String,
    },
    /// `verbosity` is not an integer.
    InvalidVerbosity {
        /// Its value.
        value: String,
    },
    /// `install-from-cache = true` together with `offline = true`.
    InstallFromCacheOffline,
    /// A `<` macro line naming a section that does not exist.
    NoSectionNamed {
        /// The missing name.
        name: String,
        /// The section being expanded.
        section: String,
        /// Where its `<` was set.
        location: Option<Box<Location>>,
    },
    /// Macros that include each other.
    InfiniteExtending {
        /// The section met again.
        name: String,
    },
    /// A reference to, or a request for, a section that does not exist.
    MissingSection {
        /// The missing section.
        name: String,
        /// The section and option holding the reference, when one does.
        from: Option<(String, String)>,
        /// Where the referring value was set.
        location: Option<Box<Location>>,
    },
    /// An option required by buildout (e.g. `buildout:parts`,
    /// `part:recipe`) is missing.
    MissingOption {
        /// Its section.
        section: String,
        /// The option.
        option: String,
    },
    /// `${section:option}` naming an option the section lacks.
    ReferencedOptionMissing {
        /// The referenced section.
        section: String,
        /// The referenced option.
        option: String,
        /// The section and option holding the reference.
        from: (String, String),
        /// Where the referring value was set.
        location: Option<Box<Location>>,
    },
    /// Values referring to each other.
    CircularReference {
        /// The section and option met again.
        at: (String, String),
        /// Where that value was set.
        location: Option<Box<Location>>,
    },
    /// A malformed `${...}` reference.
    BadReference {
        /// Which rule it breaks.
        kind: BadReference,
        /// The reference text, `${` to `}`.
        reference: String,
        /// The section and option holding it.
        from: (String, String),
        /// Where that value was set.
        location: Option<Box<Location>>,
    },
    /// A recipe hook refused a part.
    Recipe {
        /// The part.
        section: String,
        /// The hook's reason.
        message: String,
    },
    /// Input on which zc.buildout itself crashes with a Python exception
    /// (e.g. `IndexError` on an operator key that folds to an empty name);
    /// reproduced as an error, never a panic.
    Internal {
        /// The Python exception type, e.g. `IndexError`.
        kind: String,
        /// The exception's `str()`.
        message: String,
        /// Where the input came from, when known.
        location: Option<Box<Location>>,
    },
}

impl ProfileError {
    /// A read or decode error naming the file as buildout names it
    /// (`path`) rather than where the system found it; others unchanged.
    pub(crate) fn with_path(self, path: &str) -> ProfileError {
        match self {
            ProfileError::Read { reason, not_found, .. } => ProfileError::Read { path: path.to_owned(), reason, not_found },
            ProfileError::Decode { position, .. } => ProfileError::Decode { path: path.to_owned(), position },
            other => other,
        }
    }

    /// zc.buildout 6.0.1's message for this failure, exactly as its
    /// exception's `str()` reads (the CLI prints it after `Error: `).
    pub fn buildout_message(&self) -> String {
        match self {
            ProfileError::Open { path } => format!("Couldn't open {path}"),
            ProfileError::Read { path, reason, not_found } => {
                if *not_found {
                    format!("[Errno 2] No such file or directory: {}", repr(path))
                } else {
                    format!("{reason}: {}", repr(path))
                }
            }
            ProfileError::Decode { path, position } => {
                format!("'utf-8' codec can't decode bytes in position {position} of {path}: invalid utf-8")
            }
            ProfileError::Download { url, failure } => match failure {
                DownloadFailure::Offline => format!("Couldn't download {} in offline mode.", repr(url)),
                DownloadFailure::Failed(reason) => format!("Error downloading extends for URL {url}: {reason}"),
                DownloadFailure::CacheMissing(directory) => format!(
                    "The directory:\n{}\nto be used as a download cache doesn't exist.\n",
                    repr(directory)
                ),
            },
            ProfileError::NoSectionHeaders { location, text } => format!(
                "File contains no section headers.\nfile: {}, line: {}\n{}",
                location.file,
                location.line,
                repr(text)
            ),
            ProfileError::Parsing { file, lines } => {
                let mut message = format!("File contains parsing errors: {file}");
                for (line, text) in lines {
                    message.push_str(&format!("\n\t[line {line:2}]: {}", repr(text)));
                }
                message
            }
            ProfileError::Condition { expression, reason, .. } => {
                format!("Invalid section condition {}: {reason}", repr(expression))
            }
            ProfileError::RecursiveInclude { stack, file } => {
                let listed: Vec<String> = stack.iter().map(|entry| repr(entry)).collect();
                format!("Recursive file include [{}] {file}", listed.join(", "))
            }
            ProfileError::ExtendedBy { file } => {
                format!("No-longer supported \"extended-by\" option found in {file}.")
            }
            ProfileError::ExtendsCacheReference { value } => {
                format!("extends-cache '{value}' may not contain ${{section:variable}} to expand.")
            }
            ProfileError::AmbiguousRemoteDirectory { option, value, url } => format!(
                "Setting \"{option}\" to a non absolute location (\"{value}\") within a\nremote configuration file (\"{url}\") is ambiguous."
            ),
            ProfileError::InvalidBool { option, value, .. } => {
                format!("Invalid value for {} option: {}", repr(option), repr(value))
            }
            ProfileError::InvalidOverride { parts } => {
                let listed: Vec<String> = parts.iter().map(|part| repr(part)).collect();
                format!("Invalid option: [{}]", listed.join(", "))
            }
            ProfileError::InvalidLogLevel { value } => format!("Invalid logging level {value}"),
            ProfileError::InvalidVerbosity { value } => format!("Invalid verbosity {value}"),
            ProfileError::InstallFromCacheOffline => "install-from-cache can't be used with offline mode.\nNothing is installed, even from cache, in offline\nmode, which might better be called 'no-install mode'.\n".to_owned(),
            ProfileError::NoSectionNamed { name, .. } => format!("No section named {}", repr(name)),
            ProfileError::InfiniteExtending { name } => format!("Infinite extending loop {}", repr(name)),
            ProfileError::MissingSection { name, .. } => {
                format!("The referenced section, {}, was not defined.", repr(name))
            }
            ProfileError::MissingOption { section, option } => format!("Missing option: {section}:{option}"),
            ProfileError::ReferencedOptionMissing { section, option, .. } => {
                format!("Referenced option does not exist: {section} {option}")
            }
            ProfileError::CircularReference { .. } => "Circular reference in substitutions.\n".to_owned(),
            ProfileError::BadReference { kind, reference, .. } => match kind {
                BadReference::NoColon => format!("The substitution, {reference},\ndoesn't contain a colon."),
                BadReference::TooManyColons => format!("The substitution, {reference},\nhas too many colons."),
                BadReference::SectionCharacters => {
                    format!("The section name in substitution, {reference},\nhas invalid characters.")
                }
                BadReference::OptionCharacters => {
                    format!("The option name in substitution, {reference},\nhas invalid characters.")
                }
            },
            ProfileError::Recipe { section, message } => format!("{section}: {message}"),
            ProfileError::Internal { message, .. } => message.clone(),
        }
    }

    /// The file and line the failure points at, when known.
    pub fn location(&self) -> Option<Location> {
        match self {
            ProfileError::NoSectionHeaders { location, .. } | ProfileError::Condition { location, .. } => {
                Some(Location::clone(location))
            }
            ProfileError::Parsing { file, lines } => {
                lines.first().map(|(line, _)| Location { file: file.clone(), line: *line })
            }
            ProfileError::InvalidBool { location, .. }
            | ProfileError::NoSectionNamed { location, .. }
            | ProfileError::MissingSection { location, .. }
            | ProfileError::ReferencedOptionMissing { location, .. }
            | ProfileError::CircularReference { location, .. }
            | ProfileError::BadReference { location, .. }
            | ProfileError::Internal { location, .. } => location.as_deref().cloned(),
            _ => None,
        }
    }

    /// The section and option the failure is about, when one is.
    pub fn section_option(&self) -> Option<(String, String)> {
        match self {
            ProfileError::MissingSection { from, .. } => from.clone(),
            ProfileError::ReferencedOptionMissing { from, .. }
            | ProfileError::BadReference { from, .. } => Some(from.clone()),
            ProfileError::CircularReference { at, .. } => Some(at.clone()),
            ProfileError::MissingOption { section, option } => Some((section.clone(), option.clone())),
            ProfileError::InvalidBool { option, .. } => Some(("buildout".to_owned(), option.clone())),
            _ => None,
        }
    }

    fn display_text(&self) -> String {
        let message = self.buildout_message();
        let message = message.trim_end();
        let mut prefix = String::new();
        if let ProfileError::Internal { kind, .. } = self {
            prefix.push_str(&format!("zc.buildout crashes here with {kind}: "));
        }
        if let Some(location) = self.location() {
            prefix.push_str(&format!("{location}: "));
        }
        if let Some((section, option)) = self.section_option() {
            prefix.push_str(&format!("[{section}] {option}: "));
        }
        format!("{prefix}{message}")
    }
}
