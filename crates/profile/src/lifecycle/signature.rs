//! `__buildout_signature__` (spec §8.3): the recipe and its version
//! (`<recipe>-<version>`, standing for zc.buildout's distribution
//! basenames) plus, as the SlapOS fork adds, one `<section>:<md5hex>` per
//! section the part looked up while initialising, the hash taken over
//! `repr(key)\0repr(value)\0` of that section's resolved items sorted by
//! key. A dependency that is a part carries its own signature among its
//! items, so a change travels to every referrer. Pure.

use std::collections::BTreeSet;

use crate::md5::md5_hex;
use crate::pytext::repr;
use crate::recipe::Options;

/// The hash of one dependency section's items.
pub fn section_hash(items: &Options) -> String {
    let mut data = String::new();
    for (key, value) in items {
        data.push_str(&repr(key));
        data.push('\0');
        data.push_str(&repr(value));
        data.push('\0');
    }
    md5_hex(data.as_bytes())
}

/// The signature: the sorted, unique words `<recipe>-<version>` and
/// `<section>:<hash>` for each `(section, items)` dependency, joined by
/// spaces.
pub fn signature<'a>(recipe: &str, version: &str, dependencies: impl IntoIterator<Item = (&'a str, &'a Options)>) -> String {
    let mut words = BTreeSet::new();
    words.insert(format!("{}-{version}", recipe.trim()));
    for (section, items) in dependencies {
        words.insert(format!("{section}:{}", section_hash(items)));
    }
    words.into_iter().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_md5_of_python_reprs() {
        let mut items = Options::new();
        items.insert("x".to_owned(), "1".to_owned());
        items.insert("a'b".to_owned(), "c\nd".to_owned());
        // hashlib.md5(b"\"a'b\"\0'c\\nd'\0'x'\0'1'\0").hexdigest()
        assert_eq!(section_hash(&items), md5_hex(b"\"a'b\"\0'c\\nd'\0'x'\0'1'\0"));
    }

    #[test]
    fn signature_words_are_sorted_and_unique() {
        let items = Options::new();
        let empty = section_hash(&items);
        let signature = signature("r", "1", [("z", &items), ("b", &items)]);
        assert_eq!(signature, format!("b:{empty} r-1 z:{empty}"));
    }
}
