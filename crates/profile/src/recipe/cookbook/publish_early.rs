//! `slapos.cookbook:publish-early` (spec §11.12): values published before
//! the rest of the instance is deployed, typically generated passwords
//! that must stay the same across runs and be known to the master early.
//!
//! Each `-init` line `KEY SECTION:OPTION` whose `KEY` is not an option of
//! the part itself presets `SECTION:OPTION` with the value already
//! published under `KEY` (this partition's connection parameters, `{"_":
//! json}` unwrapped) before `SECTION` initialises. After it has, the
//! option is taken out of `SECTION` (read it as `${<part>:KEY}`) and set on
//! the part as `KEY`. When some value differs from what was published,
//! the `-init` values are published at once (serialised). The part gets
//! `-publish` (its own plain options and the `-init` keys) so that a
//! `publish` section extending it publishes them all; these values are
//! volatile (kept out of `.installed.cfg`). Install and update do nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::connection::{SlapConnection, SlapConnectionInfo};
use super::values::{json_to_py, option_text, option_value, wrap};
use crate::recipe::{InitContext, InstallContext, Part, Recipe, RecipeError};

/// The `publish-early` entry point.
pub(super) struct PublishEarly {
    pub(super) connection: Arc<dyn SlapConnection>,
}

/// The `-init` lines: section → (key, option), in order of first mention.
type InitLines = Vec<(String, Vec<(String, String)>)>;

impl Recipe for PublishEarly {
    fn version(&self) -> &'static str {
        "1.0.499"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let part = context.part().to_owned();
        let own = context.options()?;
        let lines = parse_init(&part, &context.require("-init")?, &own)?;
        let mut publish_dict = BTreeMap::new();
        if !lines.is_empty() {
            let info = connection_info(context)?;
            let published = unwrap_published(&part, self.connection.published(&info).map_err(|error| RecipeError::Failed(error.to_string()))?)?;
            let mut changed = false;
            for (section, keys) in &lines {
                let mut preset = BTreeMap::new();
                for (key, option) in keys {
                    if let Some(value) = published.get(key) {
                        preset.insert(option.clone(), value.clone());
                    }
                }
                for (option, value) in &preset {
                    if !context.resolver().preset(section, option, value.clone()) {
                        return Err(RecipeError::Failed(format!(
                            "publish-early part '{part}': section '{section}' was initialised before '{part}', too late to preset {section}:{option}"
                        )));
                    }
                }
                context.resolver().section(section)?;
                let mut new = BTreeMap::new();
                for (key, option) in keys {
                    if let Some(value) = context.resolver().remove(section, option)? {
                        let value = crate::final_read(&value);
                        publish_dict.insert(key.clone(), value.clone());
                        new.insert(option.clone(), value);
                    }
                }
                changed |= new != preset;
            }
            if changed {
                let object = publish_dict.iter().map(|(key, value)| (key.clone(), serde_json::Value::String(option_text(value)))).collect();
                self.connection
                    .set_connection_parameters(&info, &wrap(&serde_json::Value::Object(object)), None)
                    .map_err(|error| RecipeError::Failed(error.to_string()))?;
            }
            let mut names: Vec<String> = own.keys().filter(|key| *key != "recipe" && !key.starts_with('-')).cloned().collect();
            names.extend(publish_dict.keys().cloned());
            publish_dict.insert("-publish".to_owned(), names.join(" "));
            for (key, value) in &publish_dict {
                context.set_volatile(key, value.clone())?;
            }
        }
        Ok(Box::new(PublishEarlyPart))
    }
}

/// `-init` lines of `part`, skipping keys the part sets itself.
fn parse_init(part: &str, text: &str, own: &BTreeMap<String, String>) -> Result<InitLines, RecipeError> {
    let mut lines: InitLines = Vec::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let bad = || RecipeError::Failed(format!("publish-early part '{part}': bad -init line '{line}', expected 'KEY SECTION:OPTION'"));
        let words: Vec<&str> = line.split_whitespace().collect();
        let [key, target] = words.as_slice() else { return Err(bad()) };
        if own.contains_key(*key) {
            continue;
        }
        let Some((section, option)) = target.split_once(':').filter(|(_, option)| !option.contains(':')) else { return Err(bad()) };
        match lines.iter_mut().find(|(name, _)| name == section) {
            Some((_, keys)) => keys.push(((*key).to_owned(), option.to_owned())),
            None => lines.push((section.to_owned(), vec![((*key).to_owned(), option.to_owned())])),
        }
    }
    Ok(lines)
}

/// `[slap-connection]` as the master recipes read it.
fn connection_info(context: &mut InitContext<'_, '_>) -> Result<SlapConnectionInfo, RecipeError> {
    let mut slap = |key: &str| context.lookup("slap-connection", key);
    let required = |value: Option<String>, key: &str| value.ok_or_else(|| RecipeError::Failed(format!("Missing option: slap-connection:{key}")));
    Ok(SlapConnectionInfo {
        computer_id: required(slap("computer-id")?, "computer-id")?,
        partition_id: required(slap("partition-id")?, "partition-id")?,
        server_url: required(slap("server-url")?, "server-url")?,
        key_file: slap("key-file")?,
        cert_file: slap("cert-file")?,
    })
}

/// `librecipe.unwrap` of the published parameters, as option values.
fn unwrap_published(part: &str, published: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, RecipeError> {
    let Some(serialised) = published.get("_") else { return Ok(published) };
    match serde_json::from_str::<serde_json::Value>(serialised) {
        Ok(serde_json::Value::Object(map)) => Ok(map.iter().map(|(key, value)| (key.clone(), option_value(&json_to_py(value)))).collect()),
        Ok(_) => Err(RecipeError::Failed(format!("publish-early part '{part}': the published '_' is not a JSON object"))),
        Err(error) => Err(RecipeError::Failed(format!("publish-early part '{part}': invalid JSON in the published '_': {error}"))),
    }
}

struct PublishEarlyPart;

impl Part for PublishEarlyPart {
    fn install(&mut self, _context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        Ok(Vec::new())
    }
}
