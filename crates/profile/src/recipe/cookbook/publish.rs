//! `slapos.cookbook:publish` and `publish.serialised` (spec §11.12):
//! publishes the section's options (all but `recipe` and `-*`, or those
//! listed in `-publish`), merged with the sections named by `-extends`
//! (recursively), as this partition's connection parameters, or as the
//! shared instance `-slave-reference`'s. The master connection comes from
//! `[slap-connection]`. Publishes at install; update publishes again only
//! when other sections are merged (their changes are not tracked).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use super::connection::{SlapConnection, SlapConnectionInfo};
use super::values::{option_text, wrap};
use crate::recipe::{InitContext, InstallContext, Part, Recipe, RecipeError};

/// The `publish*` entry points.
pub(super) struct Publish {
    pub(super) connection: Arc<dyn SlapConnection>,
    pub(super) serialised: bool,
}

struct PublishPart {
    connection: Arc<dyn SlapConnection>,
    info: SlapConnectionInfo,
    serialised: bool,
    values: BTreeMap<String, String>,
    shared_reference: Option<String>,
    extended: bool,
}

impl Recipe for Publish {
    fn version(&self) -> &'static str {
        "1.0.499"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let mut slap = |key: &str| -> Result<Option<String>, RecipeError> { context.lookup("slap-connection", key) };
        let required = |value: Option<String>, key: &str| {
            value.ok_or_else(|| RecipeError::Failed(format!("Missing option: slap-connection:{key}")))
        };
        let info = SlapConnectionInfo {
            computer_id: required(slap("computer-id")?, "computer-id")?,
            partition_id: required(slap("partition-id")?, "partition-id")?,
            server_url: required(slap("server-url")?, "server-url")?,
            key_file: slap("key-file")?,
            cert_file: slap("cert-file")?,
        };
        required(slap("software-release-url")?, "software-release-url")?;
        let mut done = BTreeSet::new();
        let mut pending = vec![context.part().to_owned()];
        let mut values = BTreeMap::new();
        while let Some(section) = pending.pop() {
            if !done.insert(section.clone()) {
                continue;
            }
            let options = context.resolver().options(&section)?;
            let options: BTreeMap<String, String> = options.into_iter().map(|(k, v)| (k, crate::final_read(&v))).collect();
            let names: Vec<String> = match options.get("-publish") {
                Some(listed) => option_text(listed).split_whitespace().map(str::to_owned).collect(),
                None => options.keys().filter(|key| *key != "recipe" && !key.starts_with('-')).cloned().collect(),
            };
            for name in names {
                let value = options.get(&name).cloned().ok_or_else(|| {
                    RecipeError::Failed(format!("Missing option: {section}:{name}"))
                })?;
                values.insert(name, option_text(&value));
            }
            if let Some(extends) = options.get("-extends") {
                pending.extend(option_text(extends).split_whitespace().filter(|name| !done.contains(*name)).map(str::to_owned));
            }
        }
        let shared_reference = context.value("-slave-reference")?.map(|v| option_text(&v));
        Ok(Box::new(PublishPart {
            connection: Arc::clone(&self.connection),
            info,
            serialised: self.serialised,
            values,
            shared_reference,
            extended: done.len() > 1,
        }))
    }
}

impl PublishPart {
    fn publish(&self) -> Result<Vec<PathBuf>, RecipeError> {
        let parameters = if self.serialised {
            wrap(&serde_json::Value::Object(self.values.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect()))
        } else {
            self.values.clone()
        };
        self.connection
            .set_connection_parameters(&self.info, &parameters, self.shared_reference.as_deref())
            .map_err(|error| RecipeError::Failed(error.to_string()))?;
        Ok(Vec::new())
    }
}

impl Part for PublishPart {
    fn install(&mut self, _context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        self.publish()
    }

    fn update(&mut self, _context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        if self.extended {
            self.publish().map(Some)
        } else {
            Ok(Some(Vec::new()))
        }
    }
}
