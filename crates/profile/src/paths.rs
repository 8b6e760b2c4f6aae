//! Path and URL text handling as buildout does it on POSIX: `os.path.join`,
//! `dirname`, `abspath` (lexical, against a given working directory),
//! `expanduser` (against a given home), the URL test and the SlapOS
//! leading-`../` rule. Pure string work: nothing here touches the disk.

/// buildout's `_isurl`: a scheme of `[a-zA-Z0-9+.-]+` then `://`.
pub(crate) fn is_url(text: &str) -> bool {
    match text.find("://") {
        Some(end) if end > 0 => text[..end].bytes().all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b)),
        _ => false,
    }
}

/// `os.path.isabs`.
pub(crate) fn is_abs(path: &str) -> bool {
    path.starts_with('/')
}

/// `os.path.join(base, name)`.
pub(crate) fn join(base: &str, name: &str) -> String {
    if is_abs(name) || base.is_empty() {
        name.to_owned()
    } else if base.ends_with('/') {
        format!("{base}{name}")
    } else {
        format!("{base}/{name}")
    }
}

/// `os.path.dirname`.
pub(crate) fn dirname(path: &str) -> &str {
    match path.rfind('/') {
        Some(index) => {
            let head = &path[..=index];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head
            } else {
                trimmed
            }
        }
        None => "",
    }
}

/// `os.path.basename`.
pub(crate) fn basename(path: &str) -> &str {
    match path.rfind('/') {
        Some(index) => &path[index + 1..],
        None => path,
    }
}

/// `os.path.normpath`.
pub(crate) fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let initial_slashes = if path.starts_with("//") && !path.starts_with("///") {
        2
    } else if path.starts_with('/') {
        1
    } else {
        0
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        if part.is_empty() || part == "." {
            continue;
        }
        if part != ".." || (initial_slashes == 0 && parts.is_empty()) || parts.last() == Some(&"..") {
            parts.push(part);
        } else if !parts.is_empty() {
            parts.pop();
        }
    }
    let joined = parts.join("/");
    let result = format!("{}{joined}", "/".repeat(initial_slashes));
    if result.is_empty() {
        ".".to_owned()
    } else {
        result
    }
}

/// `os.path.abspath`, with the working directory given.
pub(crate) fn abspath(path: &str, cwd: &str) -> String {
    if is_abs(path) {
        normpath(path)
    } else {
        normpath(&join(cwd, path))
    }
}

/// `os.path.expanduser` for `~` and `~/...` (the `~user` form is left as is).
pub(crate) fn expanduser(path: &str, home: Option<&str>) -> String {
    let Some(home) = home else { return path.to_owned() };
    if path == "~" {
        return home.to_owned();
    }
    match path.strip_prefix("~/") {
        Some(rest) => {
            let home = home.trim_end_matches('/');
            format!("{home}/{rest}")
        }
        None => path.to_owned(),
    }
}

/// SlapOS: each leading `../` of `name` is dropped together with the last
/// component of `base`, so URLs never carry `..`.
pub(crate) fn strip_parent_prefixes<'a>(base: &str, name: &'a str) -> (String, &'a str) {
    let mut base = base.to_owned();
    let mut name = name;
    while let Some(rest) = name.strip_prefix("../") {
        name = rest;
        let cut = base.rfind('/').unwrap_or(0);
        base.truncate(cut);
    }
    (base, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_paths_behave_like_python() {
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(join("/a/", ""), "/a/");
        assert_eq!(join("/a", "/b"), "/b");
        assert_eq!(dirname("/a/b.cfg"), "/a");
        assert_eq!(dirname("/b.cfg"), "/");
        assert_eq!(dirname("b.cfg"), "");
        assert_eq!(normpath("/a/b/../c/./d/"), "/a/c/d");
        assert_eq!(normpath("../x"), "../x");
        assert_eq!(abspath("x/../y", "/w"), "/w/y");
        assert_eq!(expanduser("~/c", Some("/home/u/")), "/home/u/c");
    }

    #[test]
    fn urls_are_recognised() {
        assert!(is_url("http://h/x"));
        assert!(is_url("file:///x"));
        assert!(!is_url("/x://"));
        assert!(!is_url("://x"));
    }

    #[test]
    fn parent_prefixes_cut_the_base() {
        assert_eq!(strip_parent_prefixes("/sr/software/x", "../../stack/b.cfg"), ("/sr".to_owned(), "stack/b.cfg"));
        assert_eq!(strip_parent_prefixes("http://h/a/b", "../c.cfg"), ("http://h/a".to_owned(), "c.cfg"));
    }
}
