//! The few reads of the local machine that conditional section headers of
//! real profiles make, done as Python does them: zc.buildout evaluates the
//! condition on the machine it runs on, which is this one (the probed
//! interpreter's). `component/gcc` has
//! `[gcc-common:os.path.isdir('/usr/lib/arm-linux-gnueabihf') and
//! os.access('/proc/device-tree/model', os.R_OK) and 'OLinuXino' in
//! open('/proc/device-tree/model').read()]`, `component/poppler` calls
//! `platform.freedesktop_os_release()`.
//!
//! Supported: `open(path[, mode])` with mode `r`/`rt`/`rb` (the file is read
//! whole at once; text mode decodes UTF-8 with universal newlines) and its
//! `read()`, `readline()`, `readlines()`; `os.path.exists`, `isfile`,
//! `isdir`, `islink`, `lexists`, `getsize`; `os.access(path, mode)` for
//! `os.F_OK` and `os.R_OK` (write and execute checks are errors);
//! `platform.freedesktop_os_release()`. Relative paths are taken from the
//! process's working directory. Only conditions reach this module, never
//! `!py!` values.

use std::io::ErrorKind;

use super::attributes::Function;
use super::eval::Object;
use super::repr::str_repr;
use super::value::{dict_insert, PyValue};
use super::PythonError;

/// What `open()` returned: the whole content, read at once.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OpenFile {
    data: Vec<u8>,
    binary: bool,
}

impl OpenFile {
    pub(crate) fn type_name(&self) -> &'static str {
        if self.binary {
            "_io.BufferedReader"
        } else {
            "_io.TextIOWrapper"
        }
    }

    /// The content as `read()` returns it.
    fn content(&self) -> Result<PyValue, PythonError> {
        if self.binary {
            return Ok(PyValue::Bytes(self.data.clone()));
        }
        let text = std::str::from_utf8(&self.data).map_err(|error| {
            PythonError::new(format!("UnicodeDecodeError: 'utf-8' codec can't decode the file: {error}"))
        })?;
        // Universal newlines: `\r\n` and `\r` read as `\n`.
        Ok(PyValue::Str(text.replace("\r\n", "\n").replace('\r', "\n")))
    }

    /// The lines of the content, each with its line end.
    fn lines(&self) -> Result<Vec<PyValue>, PythonError> {
        Ok(match self.content()? {
            PyValue::Str(text) => text.split_inclusive('\n').map(|line| PyValue::Str(line.to_owned())).collect(),
            PyValue::Bytes(bytes) => {
                bytes.split_inclusive(|byte| *byte == b'\n').map(|line| PyValue::Bytes(line.to_vec())).collect()
            }
            _ => Vec::new(),
        })
    }
}

/// Python's `OSError` text for a failed system call on `path`.
fn os_error(error: &std::io::Error, path: &str) -> PythonError {
    let class = match error.kind() {
        ErrorKind::NotFound => "FileNotFoundError",
        ErrorKind::PermissionDenied => "PermissionError",
        ErrorKind::IsADirectory => "IsADirectoryError",
        ErrorKind::NotADirectory => "NotADirectoryError",
        _ => "OSError",
    };
    let text = error.to_string();
    let text = text.split(" (os error").next().unwrap_or_default();
    match error.raw_os_error() {
        Some(code) => PythonError::new(format!("{class}: [Errno {code}] {text}: {}", str_repr(path))),
        None => PythonError::new(format!("{class}: {text}: {}", str_repr(path))),
    }
}

fn path_argument(function: &str, args: &[PyValue], count: usize) -> Result<String, PythonError> {
    if args.len() < count.min(1) || args.len() > count {
        return Err(PythonError::new(format!(
            "TypeError: {function}() takes {count} argument(s) ({} given)",
            args.len()
        )));
    }
    match args.first() {
        Some(PyValue::Str(path)) => Ok(path.clone()),
        Some(other) => Err(PythonError::new(format!(
            "TypeError: {function}: path should be string, not {}",
            other.type_name()
        ))),
        None => Err(PythonError::new(format!("TypeError: {function}() missing required argument 'path'"))),
    }
}

/// Calls one of the machine functions of [`Function`].
///
/// # Errors
/// Python's: `OSError` and its subclasses, `TypeError`, `ValueError`; an
/// error for the unsupported `os.access` modes.
pub(crate) fn call(function: Function, args: Vec<PyValue>) -> Result<Object, PythonError> {
    let value = |value: PyValue| Ok(Object::Value(value));
    match function {
        Function::Open => {
            let path = path_argument("open", &args, 2)?;
            let binary = match args.get(1) {
                None => false,
                Some(PyValue::Str(mode)) if mode == "r" || mode == "rt" || mode == "tr" => false,
                Some(PyValue::Str(mode)) if mode == "rb" || mode == "br" => true,
                Some(PyValue::Str(mode)) => {
                    return Err(PythonError::new(format!(
                        "open() mode {} is not supported: conditions only read files",
                        str_repr(mode)
                    )))
                }
                Some(other) => {
                    return Err(PythonError::new(format!(
                        "TypeError: open() argument 'mode' must be str, not {}",
                        other.type_name()
                    )))
                }
            };
            if path.contains('\0') {
                return Err(PythonError::new("ValueError: embedded null byte"));
            }
            let data = std::fs::read(&path).map_err(|error| os_error(&error, &path))?;
            Ok(Object::File(OpenFile { data, binary }))
        }
        Function::PathTest(name) => {
            let path = path_argument(name, &args, 1)?;
            // Python's os.path tests answer False (never raise) for paths
            // the system cannot stat, embedded NUL included.
            let ok = |result: bool| value(PyValue::Bool(result));
            if path.contains('\0') {
                return if name == "getsize" { Err(PythonError::new("ValueError: embedded null byte")) } else { ok(false) };
            }
            match name {
                "exists" => ok(std::fs::metadata(&path).is_ok()),
                "isfile" => ok(std::fs::metadata(&path).is_ok_and(|meta| meta.is_file())),
                "isdir" => ok(std::fs::metadata(&path).is_ok_and(|meta| meta.is_dir())),
                "islink" => ok(std::fs::symlink_metadata(&path).is_ok_and(|meta| meta.file_type().is_symlink())),
                "lexists" => ok(std::fs::symlink_metadata(&path).is_ok()),
                "getsize" => {
                    let meta = std::fs::metadata(&path).map_err(|error| os_error(&error, &path))?;
                    let size = i64::try_from(meta.len()).map_err(|_| PythonError::new("file size outside 64 bits"))?;
                    value(PyValue::Int(size))
                }
                other => Err(PythonError::new(format!("os.path.{other}() is not supported"))),
            }
        }
        Function::OsAccess => {
            if args.len() != 2 {
                return Err(PythonError::new(format!(
                    "TypeError: access() takes exactly 2 arguments ({} given)",
                    args.len()
                )));
            }
            let path = path_argument("access", &args[..1], 1)?;
            let mode = match &args[1] {
                PyValue::Int(mode) => *mode,
                PyValue::Bool(flag) => i64::from(*flag),
                other => {
                    return Err(PythonError::new(format!(
                        "TypeError: 'mode' must be int, not {}",
                        other.type_name()
                    )))
                }
            };
            if path.contains('\0') {
                return Err(PythonError::new("ValueError: access: embedded null character in path"));
            }
            match mode {
                0 => value(PyValue::Bool(std::fs::metadata(&path).is_ok())),
                // Opening for reading is what R_OK asks (directories too, on
                // Linux).
                4 => value(PyValue::Bool(std::fs::File::open(&path).is_ok())),
                _ => Err(PythonError::new(
                    "os.access() with W_OK or X_OK is not supported: only os.F_OK and os.R_OK are",
                )),
            }
        }
        Function::FreedesktopOsRelease => {
            if !args.is_empty() {
                return Err(PythonError::new("TypeError: freedesktop_os_release() takes 0 positional arguments"));
            }
            freedesktop_os_release().map(Object::Value)
        }
        other => Err(PythonError::new(format!("{other:?}() is not a machine function"))),
    }
}

/// `file.name`: a bound method of an opened file.
///
/// # Errors
/// `AttributeError` for other names.
pub(crate) fn file_method(file: OpenFile, name: &str) -> Result<Object, PythonError> {
    match name {
        "read" => Ok(Object::FileMethod(file, "read")),
        "readline" => Ok(Object::FileMethod(file, "readline")),
        "readlines" => Ok(Object::FileMethod(file, "readlines")),
        _ => Err(PythonError::new(format!(
            "AttributeError (or an unsupported method): '{}' object has no attribute '{name}'",
            file.type_name()
        ))),
    }
}

/// Calls `file.read()`, `readline()` or `readlines()` on a just opened
/// file (so reading starts at its beginning).
///
/// # Errors
/// `UnicodeDecodeError`, `TypeError` for arguments.
pub(crate) fn call_file_method(file: &OpenFile, name: &str, args: &[PyValue]) -> Result<PyValue, PythonError> {
    if !args.is_empty() {
        return Err(PythonError::new(format!("arguments to {name}() are not supported")));
    }
    match name {
        "read" => file.content(),
        "readline" => Ok(file.lines()?.into_iter().next().unwrap_or_else(|| {
            if file.binary {
                PyValue::Bytes(Vec::new())
            } else {
                PyValue::Str(String::new())
            }
        })),
        _ => Ok(PyValue::List(file.lines()?)),
    }
}

/// `platform.freedesktop_os_release()` as CPython 3.10+ computes it.
fn freedesktop_os_release() -> Result<PyValue, PythonError> {
    const CANDIDATES: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];
    let mut last_error = None;
    for candidate in CANDIDATES {
        match std::fs::read(candidate) {
            Ok(data) => {
                let text = String::from_utf8(data).map_err(|error| {
                    PythonError::new(format!("UnicodeDecodeError: {candidate}: {error}"))
                })?;
                return parse_os_release(&text).map(PyValue::Dict);
            }
            Err(error) => last_error = Some(error),
        }
    }
    let code = last_error.and_then(|error| error.raw_os_error()).unwrap_or(2);
    Err(PythonError::new(format!(
        "OSError: [Errno {code}] Unable to read files {}",
        CANDIDATES.join(", ")
    )))
}

/// CPython's `_parse_os_release`: `NAME=value` lines, one pair of matching
/// quotes removed, `\\` escapes of `\ $ " ' `` ` undone, over the defaults
/// `NAME=Linux ID=linux PRETTY_NAME=Linux`.
fn parse_os_release(text: &str) -> Result<Vec<(PyValue, PyValue)>, PythonError> {
    let mut info = Vec::new();
    for (name, value) in [("NAME", "Linux"), ("ID", "linux"), ("PRETTY_NAME", "Linux")] {
        dict_insert(&mut info, PyValue::Str(name.to_owned()), PyValue::Str(value.to_owned()))?;
    }
    // Text mode: universal newlines.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    for line in text.split('\n') {
        let name_end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(line.len());
        if name_end == 0 || !line[name_end..].starts_with('=') {
            continue;
        }
        let rest = &line[name_end + 1..];
        let unquoted = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) if rest.len() >= 2 && rest.ends_with(quote) => &rest[1..rest.len() - 1],
            _ => rest,
        };
        let mut value = String::with_capacity(unquoted.len());
        let mut chars = unquoted.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(&next @ ('\\' | '$' | '"' | '\'' | '`')) = chars.peek() {
                    value.push(next);
                    chars.next();
                    continue;
                }
            }
            value.push(c);
        }
        dict_insert(&mut info, PyValue::Str(line[..name_end].to_owned()), PyValue::Str(value))?;
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_lines_parse_like_cpython() {
        let info = parse_os_release("ID=debian\nVERSION_ID=\"12\"\nNAME='A \\\"b\\\"'\nbad line\nX=\"unbalanced\n").unwrap();
        let get = |name: &str| {
            info.iter().find(|(key, _)| *key == PyValue::Str(name.to_owned())).map(|(_, value)| value.clone())
        };
        assert_eq!(get("ID"), Some(PyValue::Str("debian".to_owned())));
        assert_eq!(get("VERSION_ID"), Some(PyValue::Str("12".to_owned())));
        assert_eq!(get("NAME"), Some(PyValue::Str("A \"b\"".to_owned())));
        assert_eq!(get("X"), Some(PyValue::Str("\"unbalanced".to_owned())));
        assert_eq!(get("PRETTY_NAME"), Some(PyValue::Str("Linux".to_owned())));
        // Defaults keep their place, updated in place.
        assert_eq!(info[1].0, PyValue::Str("ID".to_owned()));
    }
}
