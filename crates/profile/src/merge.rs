//! Layering one set of sections over another (spec §3.3): zc.buildout
//! 6.0.1's `_update` and `_update_section`, operator keys (`x +`, `x -`)
//! included, with their exact ordering and leading-empty-line quirks. The
//! accumulator is updated in place and the layer consumed, so folding a
//! large extends tree copies nothing twice.

use crate::error::ProfileError;
use crate::model::{Origin, RawSection, RawSections, RawValue};
use crate::pytext::{drop_last_two, rstrip_chars};

/// `_update(acc, layer)`: every section of `layer` merged into `acc`.
///
/// # Errors
/// [`ProfileError::Internal`] where buildout itself crashes (an operator key
/// folded to an empty name, then sorted).
pub(crate) fn merge(acc: &mut RawSections, layer: RawSections) -> Result<(), ProfileError> {
    for (name, section) in layer {
        match acc.get_mut(&name) {
            Some(existing) => update_section(existing, section)?,
            None if section.contains_key("<") => {
                acc.insert(name, section);
            }
            None => {
                let mut folded = RawSection::new();
                update_section(&mut folded, fold_new_section(section))?;
                acc.insert(name, folded);
            }
        }
    }
    Ok(())
}

/// A section seen for the first time: `x +` without `x` becomes `x`, `x -`
/// without `x` becomes an empty `x` (names cut by two characters, as
/// buildout's `k[:-2]` does).
fn fold_new_section(mut section: RawSection) -> RawSection {
    let keys: Vec<String> = section.keys().cloned().collect();
    for key in keys {
        let plus = key.ends_with('+');
        if !plus && !key.ends_with('-') {
            continue;
        }
        let base = drop_last_two(&key);
        if section.contains_key(base) {
            continue;
        }
        let base = base.to_owned();
        let Some(mut value) = section.remove(&key) else { continue };
        if !plus {
            value = RawValue::new("", Origin::Implicit);
        }
        section.insert(base, value);
    }
    section
}

/// `_update_section(s1, s2)` in place on `s1`: `s2`'s operator keys are
/// applied (base: `s2`'s own value, else `s1`'s, else empty), then every key
/// of `s2` overrides `s1`.
///
/// # Errors
/// [`ProfileError::Internal`] for an empty key, on which buildout's sort
/// raises `IndexError`.
pub(crate) fn update_section(s1: &mut RawSection, mut s2: RawSection) -> Result<(), ProfileError> {
    if s2.contains_key("") {
        let location = s2.get("").and_then(|value| value.origin.location());
        return Err(ProfileError::Internal { kind: "IndexError".to_owned(), message: "string index out of range".to_owned(), location });
    }
    let mut operators: Vec<(String, RawValue)> = s2
        .iter()
        .filter(|(key, _)| key.ends_with('+') || key.ends_with('-'))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if operators.is_empty() {
        override_all(s1, s2);
        return Ok(());
    }
    // Python's stable sort over the dict: ties (`x+` and `x +`) keep the
    // order the keys were inserted in.
    operators.sort_by(|(a, a_value), (b, b_value)| sort_key(a).cmp(&sort_key(b)).then(a_value.order.cmp(&b_value.order)));
    for (key, value) in operators {
        let plus = key.ends_with('+');
        let target = if plus { rstrip_chars(&key, " +") } else { rstrip_chars(&key, " -") }.to_owned();
        let base = s2.get(&target).or_else(|| s1.get(&target)).map_or("", |base| base.text.as_str());
        let text = if plus { add_lines(base, &value.text) } else { remove_lines(base, &value.text) };
        s2.insert(target, RawValue::new(text, value.origin));
        s2.remove(&key);
    }
    override_all(s1, s2);
    Ok(())
}

/// buildout's sort key: the name without trailing spaces and `+`, then the
/// last character (so `x +` precedes `x` and `x -` sorts by its full name).
fn sort_key(key: &str) -> (&str, char) {
    (rstrip_chars(key, " +"), key.chars().next_back().unwrap_or('\0'))
}

fn override_all(s1: &mut RawSection, s2: RawSection) {
    for (key, value) in s2 {
        s1.insert(key, value);
    }
}

/// `SectionKey.addToValue`: the lines of both joined, so an empty base
/// gives a leading empty line.
pub(crate) fn add_lines(base: &str, added: &str) -> String {
    let mut text = String::with_capacity(base.len() + added.len() + 1);
    text.push_str(base);
    text.push('\n');
    text.push_str(added);
    text
}

/// `SectionKey.removeFromValue`: the lines of `base` equal to none of the
/// lines of `removed`.
pub(crate) fn remove_lines(base: &str, removed: &str) -> String {
    let removed: Vec<&str> = removed.split('\n').collect();
    let kept: Vec<&str> = base.split('\n').filter(|line| !removed.contains(line)).collect();
    kept.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn layers(texts: &[&str]) -> BTreeMap<String, BTreeMap<String, String>> {
        let python = crate::python::PythonEnv::new((3, 11, 2));
        let mut acc = RawSections::new();
        for (index, text) in texts.iter().enumerate() {
            let file: Arc<str> = Arc::from(format!("f{index}.cfg").as_str());
            let layer = parse(text, &file, &python).expect("test input parses");
            merge(&mut acc, layer).expect("test input merges");
        }
        acc.iter().map(|(name, section)| (name.clone(), crate::model::plain(section))).collect()
    }

    fn value(texts: &[&str], section: &str, option: &str) -> Option<String> {
        layers(texts).get(section).and_then(|section| section.get(option).cloned())
    }

    #[test]
    fn one_file_operators_fold_in_order() {
        assert_eq!(value(&["[t]\nx = a\nx += b\nx -= a\n"], "t", "x").as_deref(), Some("b"));
        assert_eq!(value(&["[t]\nx += b\nx = a\n"], "t", "x").as_deref(), Some("a"));
    }

    #[test]
    fn later_layer_adds_and_removes_lines() {
        let texts = ["[s]\nx = a\n  b\n  c\n", "[s]\nx += d\nx -= b\n"];
        assert_eq!(value(&texts, "s", "x").as_deref(), Some("a\nc\nd"));
    }

    #[test]
    fn operators_without_base() {
        let texts = ["[t]\ny = 1\n", "[t]\nz += 2\n[u]\nw += 3\nv -= 3\n"];
        let merged = layers(&texts);
        assert_eq!(merged["t"]["z"], "\n2");
        assert_eq!(merged["u"]["w"], "3");
        assert_eq!(merged["u"]["v"], "");
    }

    #[test]
    fn macro_sections_keep_operator_keys() {
        let merged = layers(&["[c]\n<= b\nl += 3\n"]);
        assert_eq!(merged["c"]["l +"], "3");
    }

    #[test]
    fn unspaced_operator_in_new_section_is_buildout_index_error() {
        let python = crate::python::PythonEnv::new((3, 11, 2));
        let file: Arc<str> = Arc::from("f.cfg");
        let layer = parse("[t]\nx+=b\ny = 1\n", &file, &python).expect("parses");
        let error = merge(&mut RawSections::new(), layer).expect_err("buildout crashes here");
        assert_eq!(error.buildout_message(), "string index out of range");
    }
}
