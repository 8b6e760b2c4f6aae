//! Path arithmetic for the local software release root: when the proxy's
//! directory moves, software release URLs that are local paths under the
//! old root are rebased under the new one, as slapproxy does at start.
//! Pure: the store checks which files exist.

/// The components of an absolute or relative path, normalised as
/// `os.path.abspath` would (no `.`, `..` folded, no empty parts).
fn components(path: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts
}

/// Python's `os.path.relpath(path, start)` for absolute paths.
pub(crate) fn relpath(path: &str, start: &str) -> String {
    let path = components(path);
    let start = components(start);
    let common = path.iter().zip(&start).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; start.len() - common];
    parts.extend(&path[common..]);
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// Whether URLs must be rebased when the root moves from `old` to `new`:
/// not when the new root is inside the old one or contains it.
pub(crate) fn must_rebase(old: &str, new: &str) -> bool {
    if old == new {
        return false;
    }
    let relative = relpath(new, old);
    relative.starts_with("../") && !relative.ends_with("..")
}

/// The rebased form of `url` if it is a local path under `old`: the same
/// relative path under `new`. `None` when it is not rebased (a URL with a
/// scheme, or a path outside the old root).
pub(crate) fn rebased(url: &str, old: &str, new: &str) -> Option<String> {
    if url.is_empty() || has_scheme(url) {
        return None;
    }
    let relative = relpath(url, old);
    if relative.starts_with("../") || relative == ".." {
        return None;
    }
    Some(format!("{}/{relative}", new.trim_end_matches('/')))
}

/// Whether `url` starts with a URL scheme (`http:`, `file:` …).
fn has_scheme(url: &str) -> bool {
    match url.split_once(':') {
        Some((scheme, _)) => {
            scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relpath_matches_python() {
        assert_eq!(relpath("/a/b/c", "/a"), "b/c");
        assert_eq!(relpath("/a", "/a/b/c"), "../..");
        assert_eq!(relpath("/x/1/opt", "/x/0/opt"), "../../1/opt");
        assert_eq!(relpath("/a", "/a"), ".");
    }

    #[test]
    fn rebases_only_moved_roots() {
        assert!(must_rebase("/t/0/opt", "/t/1/opt"));
        assert!(!must_rebase("/t/0/opt", "/t/0/opt/sub"), "subpath");
        assert!(!must_rebase("/t/0/opt", "/t"), "superpath");
        assert_eq!(rebased("/t/0/opt/soft/software.cfg", "/t/0/opt", "/t/1/opt").as_deref(), Some("/t/1/opt/soft/software.cfg"));
        assert_eq!(rebased("/t/0/srv/software.cfg", "/t/0/opt", "/t/1/opt"), None);
        assert_eq!(rebased("http://sr//", "/t/0/opt", "/t/1/opt"), None);
    }
}
