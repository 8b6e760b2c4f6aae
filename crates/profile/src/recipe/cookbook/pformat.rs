//! Python's `pprint.pformat(value, indent=2)` (width 80, sorted dicts)
//! for the values the promise.plugin recipe prints: a tuple of strings
//! (egg paths) and a dict of strings (`extra_config_dict`). Long strings
//! with whitespace are split into adjacent literals as pprint does.

use crate::python::str_repr;

const WIDTH: usize = 80;
const INDENT_PER_LEVEL: usize = 2;

/// `pformat(tuple(items), indent=2)`.
pub(super) fn tuple_of_strings(items: &[String]) -> String {
    let mut out = String::new();
    format_tuple(items, 0, 0, &mut out);
    out
}

/// `pformat(dict(items), indent=2)`; `items` sorted by key.
pub(super) fn dict_of_strings(items: &[(String, String)]) -> String {
    let mut out = String::new();
    let reprs: Vec<String> = items.iter().map(|(key, value)| format!("{}: {}", str_repr(key), str_repr(value))).collect();
    let rep = format!("{{{}}}", reprs.join(", "));
    if len(&rep) <= WIDTH {
        return rep;
    }
    out.push('{');
    out.push_str(&" ".repeat(INDENT_PER_LEVEL - 1));
    let indent = INDENT_PER_LEVEL;
    let allowance = 1;
    for (index, (key, value)) in items.iter().enumerate() {
        let last = index + 1 == items.len();
        let key_repr = str_repr(key);
        out.push_str(&key_repr);
        out.push_str(": ");
        format_string(value, indent + len(&key_repr) + 2, if last { allowance } else { 1 }, &mut out);
        if !last {
            out.push_str(",\n");
            out.push_str(&" ".repeat(indent));
        }
    }
    out.push('}');
    out
}

fn len(text: &str) -> usize {
    text.chars().count()
}

fn format_tuple(items: &[String], indent: usize, allowance: usize, out: &mut String) {
    let reprs: Vec<String> = items.iter().map(|item| str_repr(item)).collect();
    let rep = match reprs.len() {
        1 => format!("({},)", reprs[0]),
        _ => format!("({})", reprs.join(", ")),
    };
    if len(&rep) <= WIDTH - indent - allowance {
        out.push_str(&rep);
        return;
    }
    let end = if items.len() == 1 { ",)" } else { ")" };
    out.push('(');
    let indent = indent + INDENT_PER_LEVEL;
    out.push_str(&" ".repeat(INDENT_PER_LEVEL - 1));
    for (index, item) in items.iter().enumerate() {
        let last = index + 1 == items.len();
        if index > 0 {
            out.push_str(",\n");
            out.push_str(&" ".repeat(indent));
        }
        format_string(item, indent, if last { allowance + len(end) } else { 1 }, out);
    }
    out.push_str(end);
}

/// `PrettyPrinter._format` of a string nested in a container (level > 1).
fn format_string(text: &str, indent: usize, allowance: usize, out: &mut String) {
    let rep = str_repr(text);
    if len(&rep) <= WIDTH.saturating_sub(indent + allowance) || text.is_empty() {
        out.push_str(&rep);
        return;
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let max_width = WIDTH.saturating_sub(indent);
    let mut max_width1 = max_width;
    let mut chunks = Vec::new();
    for (line_index, line) in lines.iter().enumerate() {
        let last_line = line_index + 1 == lines.len();
        let line_repr = str_repr(line);
        if last_line {
            max_width1 = max_width1.saturating_sub(allowance);
        }
        if len(&line_repr) <= max_width1 {
            chunks.push(line_repr);
            continue;
        }
        let parts = whitespace_parts(line);
        let mut max_width2 = max_width;
        let mut current = String::new();
        for (part_index, part) in parts.iter().enumerate() {
            let candidate = format!("{current}{part}");
            if part_index + 1 == parts.len() && last_line {
                max_width2 = max_width2.saturating_sub(allowance);
            }
            if len(&str_repr(&candidate)) > max_width2 {
                if !current.is_empty() {
                    chunks.push(str_repr(&current));
                }
                current = (*part).to_owned();
            } else {
                current = candidate;
            }
        }
        if !current.is_empty() {
            chunks.push(str_repr(&current));
        }
    }
    if chunks.len() == 1 {
        out.push_str(&rep);
        return;
    }
    out.push_str(&chunks.join(&format!("\n{}", " ".repeat(indent))));
}

/// `re.findall(r'\S*\s*', line)` without the final empty match.
fn whitespace_parts(line: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (index, character) in line.char_indices() {
        let space = character.is_whitespace();
        if in_space && !space {
            parts.push(&line[start..index]);
            start = index;
        }
        in_space = space;
    }
    if start < line.len() {
        parts.push(&line[start..]);
    }
    parts
}
