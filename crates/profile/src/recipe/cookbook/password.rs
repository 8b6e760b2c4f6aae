//! `slapos.cookbook:generate.password` (spec §11.13): a password made once
//! and kept in a storage file, exposed as the volatile option `passwd`
//! so it never reaches `.installed.cfg` nor the reinstall comparison.
//!
//! Storage format (as the real recipe): JSON `{"": password, …}` written
//! by `json.dumps(…, sort_keys=True)`; a file holding anything else is
//! an older plain-text password. `passwd-<scheme>` hashes (passlib) are
//! not computed: a stored one is kept in the file, none is exposed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::values::{is_true, option_text};
use crate::python::write_json_string;
use crate::recipe::{InitContext, InstallContext, Part, Recipe, RecipeError};

/// The `generate.password` entry point.
#[derive(Debug, Default)]
pub(super) struct GeneratePassword;

struct PasswordPart {
    storage_path: String,
    create_once: bool,
    /// The storage content: `""` → the password, plus stored hashes.
    stored: BTreeMap<String, String>,
    /// Generated now: update writes the storage as install does.
    generated: bool,
}

impl Recipe for GeneratePassword {
    fn version(&self) -> &'static str {
        "1.0.499"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let create_once = is_true(&context.value("create-once")?.map(|v| option_text(&v)).unwrap_or_else(|| "True".to_owned()));
        let storage_path = match context.value("storage-path")? {
            Some(path) => option_text(&path),
            None => {
                let parts = context.lookup("buildout", "parts-directory")?.unwrap_or_default();
                let path = format!("{}/{}", parts.trim_end_matches('/'), context.part());
                context.set("storage-path", path.clone())?;
                path
            }
        };
        let option = context.value("passwd")?.map(|v| option_text(&v)).filter(|v| !v.is_empty());
        let mut stored = BTreeMap::from([(String::new(), option.clone().unwrap_or_default())]);
        if !storage_path.is_empty() {
            if let Some(content) = super::sys::read_optional(Path::new(&storage_path))? {
                stored = parse_storage(content.trim_matches('\n'), stored);
            }
            if let Some(option) = &option {
                if stored.get("").map(String::as_str) != Some(option.as_str()) {
                    stored = BTreeMap::from([(String::new(), option.clone())]);
                }
            }
        }
        let mut generated = false;
        if stored.get("").is_none_or(String::is_empty) {
            let length = match context.value("bytes")? {
                Some(bytes) => {
                    let bytes = option_text(&bytes);
                    bytes.trim().parse::<usize>().map_err(|_| {
                        RecipeError::Failed(format!("invalid literal for int() with base 10: {}", crate::python::str_repr(&bytes)))
                    })?
                }
                None => 16,
            };
            stored.insert(String::new(), super::sys::random_password(length)?);
            generated = true;
        }
        context.set_volatile("passwd", stored[""].clone())?;
        Ok(Box::new(PasswordPart { storage_path, create_once, stored, generated }))
    }
}

/// The storage file's content: a JSON object with a `""` key (strings
/// kept), else the whole text is the password.
fn parse_storage(content: &str, mut fallback: BTreeMap<String, String>) -> BTreeMap<String, String> {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(content) {
        if map.contains_key("") {
            return map
                .into_iter()
                .map(|(key, value)| match value {
                    serde_json::Value::String(text) => (key, text),
                    other => (key, other.to_string()),
                })
                .collect();
        }
    }
    fallback.insert(String::new(), content.to_owned());
    fallback
}

/// `json.dumps(passwd_dict, sort_keys=True)`.
fn serialise(stored: &BTreeMap<String, String>) -> String {
    let mut out = String::from("{");
    for (index, (key, value)) in stored.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        write_json_string(key, &mut out);
        out.push_str(": ");
        write_json_string(value, &mut out);
    }
    out.push('}');
    out
}

impl Part for PasswordPart {
    fn install(&mut self, _context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        if self.storage_path.is_empty() {
            return Ok(Vec::new());
        }
        let path = Path::new(&self.storage_path);
        let serialised = serialise(&self.stored);
        if super::sys::read_optional(path)?.as_deref() != Some(serialised.as_str()) {
            super::sys::write_text(path, &serialised)?;
        }
        Ok(if self.create_once { Vec::new() } else { vec![path.to_path_buf()] })
    }

    fn update(&mut self, context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        if self.generated {
            self.install(context).map(Some)
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_reads_json_or_plain_text() {
        let fallback = BTreeMap::from([(String::new(), String::new())]);
        let json = parse_storage(r#"{"": "pw", "passwd-x": "h"}"#, fallback.clone());
        assert_eq!(json[""], "pw");
        assert_eq!(serialise(&json), r#"{"": "pw", "passwd-x": "h"}"#);
        assert_eq!(parse_storage(r#"["x"]"#, fallback.clone())[""], r#"["x"]"#);
        assert_eq!(parse_storage("plain", fallback)[""], "plain");
    }
}
