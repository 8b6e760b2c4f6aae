//! The `environment` option of the build recipes (slapos.recipe.build's
//! `EnvironMixin`): `KEY=VALUE` lines, or the name of a section whose
//! options are the variables; values are `%`-formatted with the process
//! environment (`PATH=/opt/bin:%(PATH)s`). Also Python's `%`-formatting
//! with a mapping, which cmmi applies to its commands.

use std::collections::BTreeMap;

use super::{InitContext, RecipeError};

/// Reads `environment` at init: the variables, values not yet formatted.
///
/// # Errors
/// A line without `=`, a repeated key, resolution errors for a section.
pub(crate) fn read(context: &mut InitContext<'_, '_>) -> Result<BTreeMap<String, String>, RecipeError> {
    let Some(value) = context.value("environment")? else { return Ok(BTreeMap::new()) };
    if value.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    if !value.contains('=') {
        let section = value.trim().to_owned();
        return Ok(context.resolver().options(&section)?.into_iter().map(|(key, value)| (key, crate::final_read(&value))).collect());
    }
    parse_lines(&value)
}

/// `KEY=VALUE` lines (blank lines ignored; key right-stripped, value
/// left-stripped).
///
/// # Errors
/// `Line '<line>' in environment is incorrect`, `Key '<key>' is repeated`.
pub(crate) fn parse_lines(value: &str) -> Result<BTreeMap<String, String>, RecipeError> {
    let mut variables = BTreeMap::new();
    for line in value.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let Some((key, value)) = line.split_once('=') else {
            return Err(RecipeError::Failed(format!("Line {} in environment is incorrect", crate::pytext::repr(line))));
        };
        let key = key.trim_end().to_owned();
        if variables.contains_key(&key) {
            return Err(RecipeError::Failed(format!("Key {} is repeated", crate::pytext::repr(&key))));
        }
        variables.insert(key, value.trim_start().to_owned());
    }
    Ok(variables)
}

/// The variables with their values formatted with the process
/// environment, as given by `lookup` (in production `sys::process_variable`).
///
/// # Errors
/// A `%(NAME)s` naming an unset variable, a bad format.
pub(crate) fn formatted(
    variables: &BTreeMap<String, String>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, RecipeError> {
    variables
        .iter()
        .map(|(key, value)| {
            percent_format(value, lookup)
                .map(|value| (key.clone(), value))
                .map_err(|why| RecipeError::Failed(format!("environment: {key}: {why}")))
        })
        .collect()
}

/// Python's `text % mapping` for the forms profiles use: `%(name)s` and
/// `%%`.
///
/// # Errors
/// A name `lookup` does not know (`KeyError: '<name>'`), another
/// conversion, a `%` at the end.
pub(crate) fn percent_format(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find('%') {
        output.push_str(&rest[..position]);
        let after = &rest[position + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            output.push('%');
            rest = tail;
            continue;
        }
        let Some(named) = after.strip_prefix('(') else {
            return Err(format!("unsupported format at {} (only %(name)s and %% are supported)", crate::pytext::repr(&rest[position..])));
        };
        let Some(close) = named.find(')') else { return Err("incomplete format key".to_owned()) };
        let name = &named[..close];
        let tail = &named[close + 1..];
        let Some(tail) = tail.strip_prefix('s') else {
            return Err(format!("unsupported format for {} (only %(name)s is supported)", crate::pytext::repr(name)));
        };
        let value = lookup(name).ok_or_else(|| format!("KeyError: {}", crate::pytext::repr(name)))?;
        output.push_str(&value);
        rest = tail;
    }
    output.push_str(rest);
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        (name == "PATH").then(|| "/usr/bin".to_owned())
    }

    #[test]
    fn percent_formats_names_and_escapes() {
        assert_eq!(percent_format("/opt/bin:%(PATH)s 100%%", &lookup), Ok("/opt/bin:/usr/bin 100%".to_owned()));
        assert_eq!(percent_format("%(HOME)s", &lookup), Err("KeyError: 'HOME'".to_owned()));
        assert!(percent_format("50%", &lookup).is_err());
        assert!(percent_format("%d", &lookup).is_err());
    }

    #[test]
    fn lines_parse_like_environ_mixin() {
        let parsed = parse_lines("  A = 1 \n\nB=x=y").expect("valid");
        assert_eq!(parsed.get("A").map(String::as_str), Some("1"));
        assert_eq!(parsed.get("B").map(String::as_str), Some("x=y"));
        assert!(parse_lines("A=1\nA=2").is_err());
    }
}
