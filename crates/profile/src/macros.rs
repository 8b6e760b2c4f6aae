//! Macro sections (spec §5): a section with a `<` option starts from the
//! sections named on each line of it, expanded recursively, then applies
//! its own options over them with the merge rule (its `x +=` extends the
//! parent's `x`). zc.buildout 6.0.1's `_do_extend_raw`; `[buildout]` is
//! never expanded.

use crate::error::ProfileError;
use crate::merge::update_section;
use crate::model::{RawSection, RawSections};
use crate::pytext::strip;

/// The section `name` (whose raw options are `data`) with its macros
/// expanded and `<` dropped; `data` itself when it has no `<`.
///
/// # Errors
/// [`ProfileError::NoSectionNamed`], [`ProfileError::InfiniteExtending`],
/// and the merge's internal errors.
pub(crate) fn expand(name: &str, data: &RawSection, all: &RawSections) -> Result<RawSection, ProfileError> {
    let mut doing = Vec::new();
    extend_raw(name, data, all, &mut doing)
}

fn extend_raw(name: &str, data: &RawSection, all: &RawSections, doing: &mut Vec<String>) -> Result<RawSection, ProfileError> {
    if name == "buildout" {
        return Ok(data.clone());
    }
    if doing.iter().any(|done| done == name) {
        return Err(ProfileError::InfiniteExtending { name: name.to_owned() });
    }
    let Some(to_do) = data.get("<") else { return Ok(data.clone()) };
    if doing.len() >= crate::resolve::MAX_NESTING {
        return Err(crate::resolve::recursion_error());
    }
    doing.push(name.to_owned());
    let mut result = RawSection::new();
    for line in to_do.text.split('\n') {
        let included = strip(line);
        if included.is_empty() {
            continue;
        }
        let Some(raw) = all.get(included) else {
            return Err(ProfileError::NoSectionNamed {
                name: included.to_owned(),
                section: name.to_owned(),
                location: to_do.origin.location(),
            });
        };
        result.extend(extend_raw(included, raw, all, doing)?);
    }
    update_section(&mut result, data.clone())?;
    result.remove("<");
    doing.pop();
    Ok(result)
}
