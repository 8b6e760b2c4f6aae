//! The few Python string behaviours buildout's output depends on, written
//! out so the engine reproduces them exactly: `str.isspace`, `strip`,
//! `textwrap.dedent`, `repr(str)` (error messages quote lines with it) and
//! `int()` on option values.

/// Python's `str.isspace` for one character: Unicode `White_Space` plus the
/// four information separators `\x1c`..`\x1f` that Python also counts.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// `str.strip()`.
pub(crate) fn strip(text: &str) -> &str {
    text.trim_matches(is_space)
}

/// `str.rstrip()`.
pub(crate) fn rstrip(text: &str) -> &str {
    text.trim_end_matches(is_space)
}

/// `str.rstrip(chars)`.
pub(crate) fn rstrip_chars<'a>(text: &'a str, chars: &str) -> &'a str {
    text.trim_end_matches(|c| chars.contains(c))
}

/// `text[:-2]` on code points, as buildout slices operator keys.
pub(crate) fn drop_last_two(text: &str) -> &str {
    let mut ends = text.char_indices().map(|(index, _)| index).rev();
    let _last = ends.next();
    match ends.next() {
        Some(index) => &text[..index],
        None => "",
    }
}

/// `textwrap.dedent` of Python 3.11: whitespace-only lines (spaces and tabs)
/// emptied, then the longest common space/tab prefix of the other lines
/// removed.
pub(crate) fn dedent(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').map(|line| if line.trim_matches([' ', '\t']).is_empty() { "" } else { line }).collect();
    let mut margin: Option<&str> = None;
    for line in &lines {
        let body = line.trim_start_matches([' ', '\t']);
        if body.is_empty() {
            continue;
        }
        let indent = &line[..line.len() - body.len()];
        margin = Some(match margin {
            None => indent,
            Some(current) if indent.starts_with(current) => current,
            Some(current) if current.starts_with(indent) => indent,
            Some(current) => {
                let common = current.bytes().zip(indent.bytes()).take_while(|(a, b)| a == b).count();
                &current[..common]
            }
        });
    }
    let margin = margin.unwrap_or("");
    let mut out = String::with_capacity(text.len());
    for (index, line) in lines.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        out.push_str(if margin.is_empty() { line } else { line.strip_prefix(margin).unwrap_or(line) });
    }
    out
}

/// The leading-blank-lines removal buildout applies after `dedent`
/// (`^(\s*\n)+`): the whitespace prefix up to and including its last newline.
pub(crate) fn strip_leading_blank_lines(text: &str) -> &str {
    let blank_prefix = text.len() - text.trim_start_matches(is_space).len();
    match text[..blank_prefix].rfind('\n') {
        Some(index) => &text[index + 1..],
        None => text,
    }
}

/// Python's `repr()` of a string (error messages quote lines with it).
pub(crate) fn repr(text: &str) -> String {
    crate::python::str_repr(text)
}

/// Python's `int(text)` for base-10 strings: surrounding whitespace, a sign,
/// digits with single underscores between them.
pub(crate) fn parse_int(text: &str) -> Option<i64> {
    let body = strip(text);
    let (negative, digits) = match body.as_bytes().first() {
        Some(b'-') => (true, &body[1..]),
        Some(b'+') => (false, &body[1..]),
        _ => (false, body),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let mut value: i64 = 0;
    for c in digits.chars().filter(|c| *c != '_') {
        let digit = c.to_digit(10)?;
        value = value.checked_mul(10)?.checked_add(i64::from(digit))?;
    }
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedent_matches_python() {
        assert_eq!(dedent("\n  x\n    y\n\n  z\n  w"), "\nx\n  y\n\nz\nw");
        assert_eq!(dedent("  a\n\tb"), "  a\n\tb");
        assert_eq!(dedent("   \n  a"), "\na");
    }

    #[test]
    fn repr_matches_python() {
        assert_eq!(repr("a: b\n"), "'a: b\\n'");
        assert_eq!(repr("it's"), "\"it's\"");
        assert_eq!(repr("'\""), "'\\'\"'");
        assert_eq!(repr("\x01é\u{a0}"), "'\\x01é\\xa0'");
    }

    #[test]
    fn leading_blank_lines_go() {
        assert_eq!(strip_leading_blank_lines("\n \n  x\n"), "  x\n");
        assert_eq!(strip_leading_blank_lines("  x"), "  x");
    }

    #[test]
    fn ints_parse_as_python() {
        assert_eq!(parse_int(" 1_0 "), Some(10));
        assert_eq!(parse_int("-5"), Some(-5));
        assert_eq!(parse_int("1__0"), None);
        assert_eq!(parse_int(""), None);
    }
}
