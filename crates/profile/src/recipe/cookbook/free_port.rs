//! `slapos.cookbook:free_port` (spec §11.13): a TCP port free on `ip`,
//! kept across runs. Like the real recipe, init reads this section's
//! `port` back from `.installed.cfg` (`buildout:installed`), so the
//! recipe contract needs no access to the previous record.
//!
//! Difference: the bind test uses Rust's `TcpListener`, which sets
//! `SO_REUSEADDR`, so a port held only by a `TIME_WAIT` connection counts
//! as free here and not in Python.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::values::option_text;
use crate::recipe::{InitContext, InstallContext, Part, Recipe, RecipeError};

/// The `free_port` entry point.
#[derive(Debug, Default)]
pub(super) struct FreePort;

struct Nothing;

impl Part for Nothing {
    fn install(&mut self, _context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        Ok(Vec::new())
    }

    fn update(&mut self, _context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        Ok(Some(Vec::new()))
    }
}

impl Recipe for FreePort {
    fn version(&self) -> &'static str {
        "1.0.499"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        if let Some(installed) = context.lookup("buildout", "installed")? {
            if let Some(content) = super::sys::read_optional(Path::new(&installed))? {
                if let Some(port) = recorded_option(&content, context.part(), "port").filter(|port| port != "0") {
                    context.set("port", port)?;
                    return Ok(Box::new(Nothing));
                }
            }
        }
        let minimum = integer(context.value("minimum")?, 1024)?;
        let maximum = integer(context.value("maximum")?, 49151)?;
        if minimum == maximum {
            context.set("port", minimum.to_string())?;
            return Ok(Box::new(Nothing));
        }
        let ip = context.value("ip")?.map(|ip| option_text(&ip)).unwrap_or_default();
        let port = match ip.parse::<IpAddr>() {
            Ok(address) => (minimum.max(0)..maximum.min(65536))
                .filter_map(|port| u16::try_from(port).ok())
                .find(|port| super::sys::can_bind(address, *port))
                .map_or(0, i64::from),
            // An unknown address family: a general purpose port.
            Err(_) => 0,
        };
        context.set("port", port.to_string())?;
        Ok(Box::new(Nothing))
    }
}

/// `int(option or default)`.
fn integer(value: Option<String>, default: i64) -> Result<i64, RecipeError> {
    match value {
        None => Ok(default),
        Some(value) => {
            let text = option_text(&value);
            text.trim().parse().map_err(|_| {
                RecipeError::Failed(format!("invalid literal for int() with base 10: {}", crate::python::str_repr(&text)))
            })
        }
    }
}

/// `RawConfigParser().get(section, option)` on a `.installed.cfg` text:
/// the first line of the option's value in the named section.
pub(super) fn recorded_option(content: &str, section: &str, option: &str) -> Option<String> {
    let mut in_section = false;
    for line in content.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|rest| rest.split_once(']')).map(|(name, _)| name) {
            in_section = name == section;
            continue;
        }
        if !in_section || line.starts_with([' ', '\t', '#', ';']) {
            continue;
        }
        let Some(split) = line.find(['=', ':']) else { continue };
        if line[..split].trim().to_lowercase() == option {
            return Some(line[split + 1..].trim().to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::recorded_option;

    #[test]
    fn recorded_port_is_read_from_its_section() {
        let installed = "[buildout]\nparts = a b\n\n[a]\nport = 1\n\n[b]\n__buildout_installed__ = \nport = 4242\nrecipe = slapos.cookbook:free_port\n";
        assert_eq!(recorded_option(installed, "b", "port").as_deref(), Some("4242"));
        assert_eq!(recorded_option(installed, "c", "port"), None);
    }
}
