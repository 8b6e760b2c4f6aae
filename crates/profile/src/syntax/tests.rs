//! Parser rules of spec §1, each checked against zc.buildout 6.0.1.

use super::parse_plain;

fn check(text: &str, section: &str, option: &str, expected: &str) {
    let parsed = parse_plain(text).expect("test input parses");
    assert_eq!(parsed[section][option], expected, "{section}:{option} of {text:?}");
}

fn error(text: &str) -> String {
    parse_plain(text).expect_err("test input is invalid").buildout_message()
}

#[test]
fn line_and_block_mode_values() {
    let text = "[s]\na = first\n    second\n       third\n\n    fourth\nb =\n    x\n      y\n\n    z\n# col-0 comment\n    w\n";
    check(text, "s", "a", "first\nsecond\nthird\nfourth");
    check(text, "s", "b", "x\n  y\n\nz\nw");
}

#[test]
fn no_inline_comments_and_odd_names() {
    check("[s]\na = v # c\n", "s", "a", "v # c");
    check("[s]\n<= x\n", "s", "<", "x");
    check("[s]\n=> a b\n", "s", "<part-dependencies>", "a b");
    check("[s]\nx+=v\n", "s", "x+", "v");
    check("[s]\nx += v\n", "s", "x +", "v");
    check("[ s ] ; comment\na=1\n", "s", "a", "1");
}

#[test]
fn repeated_headers_merge_later_wins() {
    check("[s]\na = 1\nb = 2\n[t]\n[s]\na = 3\n", "s", "a", "3");
    check("[s]\na = 1\nb = 2\n[t]\n[s]\na = 3\n", "s", "b", "2");
}

#[test]
fn operators_in_one_file() {
    let parsed = parse_plain("[s]\nx = a\nx += b\nx -= a\n").expect("parses");
    assert_eq!(parsed["s"]["x"], "a");
    assert_eq!(parsed["s"]["x +"], "b");
    assert_eq!(parsed["s"]["x -"], "a");
    let parsed = parse_plain("[s]\nx += b\nx = a\n").expect("parses");
    assert!(!parsed["s"].contains_key("x +"));
}

#[test]
fn bad_lines_are_all_reported() {
    assert_eq!(error("[s]\na: b\nok = 1\n  indented\nc d\n"), "File contains parsing errors: test.cfg\n\t[line  2]: 'a: b\\n'\n\t[line  5]: 'c d\\n'");
    assert_eq!(error("[s]\n  indented\n"), "File contains parsing errors: test.cfg\n\t[line  2]: '  indented\\n'");
}

#[test]
fn missing_header() {
    assert_eq!(error("\n# c\na = 1\n"), "File contains no section headers.\nfile: test.cfg, line: 3\n'a = 1\\n'");
}

#[test]
fn carriage_returns_are_newlines() {
    check("[s]\r\na = 1\r\n  2\rb = 3", "s", "a", "1\n2");
    check("[s]\r\na = 1\r\n  2\rb = 3", "s", "b", "3");
}

#[test]
fn conditional_sections() {
    let text = "[buildout]\n[s:python2]\na = 2\n[s:python3]\na = 3\n[s:python_version >= \"3.0\"]\ne = m\n[t:False]\nz = 1\n";
    let parsed = parse_plain(text).expect("parses");
    assert_eq!(parsed["s"]["a"], "3");
    assert_eq!(parsed["s"]["e"], "m");
    assert!(!parsed.contains_key("t"));
}

#[test]
fn false_first_header_leaves_no_section() {
    assert_eq!(error("[s:False]\na = 1\n[buildout]\n"), "File contains no section headers.\nfile: test.cfg, line: 2\n'a = 1\\n'");
}

#[test]
fn conditional_operator_lines_feed_the_same_section() {
    check("[s]\nx = a\n[s:python3]\nx += b\n", "s", "x +", "b");
    check("[s]\nx = a\n[s:python3]\nx += b\n", "s", "x", "a");
}
