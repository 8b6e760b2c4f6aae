//! The `${section:option}` reference syntax (spec §7.1): where references
//! are in a value and whether each is well formed, with zc.buildout 6.0.1's
//! checks in its order. Looking the references up is the resolver's job.
//! Also the SlapOS final read, which turns `$${` into `${`.

use crate::error::BadReference;

/// Each `${...}` of `piece` (a value already split on `$$`): byte ranges
/// from `${` to the first `}` after it.
pub(crate) fn reference_spans(piece: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(start) = piece[from..].find("${").map(|offset| from + offset) {
        let Some(end) = piece[start + 2..].find('}').map(|offset| start + 2 + offset + 1) else { break };
        spans.push((start, end));
        from = end;
    }
    spans
}

/// A well-formed reference: section (empty for the current one) and option.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Reference<'a> {
    pub(crate) section: &'a str,
    pub(crate) option: &'a str,
}

/// Checks one reference (`${` to `}` included) as buildout does.
///
/// # Errors
/// Which rule the reference breaks.
pub(crate) fn check_reference(reference: &str) -> Result<Reference<'_>, BadReference> {
    let inner = &reference[2..reference.len() - 1];
    let pieces: Vec<&str> = inner.split(':').collect();
    let valid = pieces.len() == 2 && pieces[0].chars().all(is_name_char) && !pieces[1].is_empty() && pieces[1].chars().all(is_name_char);
    if !valid {
        if pieces.len() < 2 {
            return Err(BadReference::NoColon);
        }
        if pieces.len() > 2 {
            return Err(BadReference::TooManyColons);
        }
        if !is_simple(pieces[0]) {
            return Err(BadReference::SectionCharacters);
        }
        if !is_simple(pieces[1]) {
            return Err(BadReference::OptionCharacters);
        }
    }
    Ok(Reference { section: pieces[0], option: pieces[1] })
}

/// `[-a-zA-Z0-9 ._]`.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | ' ' | '.' | '_')
}

/// buildout's `_simple`: `[-a-zA-Z0-9 ._]+$`, whose `$` also accepts one
/// final newline.
fn is_simple(text: &str) -> bool {
    let body = text.strip_suffix('\n').unwrap_or(text);
    !body.is_empty() && body.chars().all(is_name_char)
}

/// The SlapOS fork's final read of a value (by a recipe, a comparison, a
/// template): `$${` becomes `${`, once. Resolution itself keeps `$${`.
pub fn final_read(value: &str) -> String {
    value.replace("$${", "${")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_stop_at_first_brace() {
        assert_eq!(reference_spans("a ${b:c} ${d"), vec![(2, 8)]);
        assert_eq!(reference_spans("${a ${b:c}"), vec![(0, 10)]);
        assert!(reference_spans("$ {a:b}").is_empty());
    }

    #[test]
    fn reference_checks_in_buildout_order() {
        assert_eq!(check_reference("${a}"), Err(BadReference::NoColon));
        assert_eq!(check_reference("${a:b:c}"), Err(BadReference::TooManyColons));
        assert_eq!(check_reference("${a/:b}"), Err(BadReference::SectionCharacters));
        assert_eq!(check_reference("${:}"), Err(BadReference::SectionCharacters));
        assert_eq!(check_reference("${a:b/}"), Err(BadReference::OptionCharacters));
        assert_eq!(check_reference("${:b}"), Ok(Reference { section: "", option: "b" }));
        assert_eq!(check_reference("${a\n:b}"), Ok(Reference { section: "a\n", option: "b" }));
    }

    #[test]
    fn final_read_unescapes_once() {
        assert_eq!(final_read("$${x:y} $$HOME $$${z}"), "${x:y} $$HOME $${z}");
    }
}
