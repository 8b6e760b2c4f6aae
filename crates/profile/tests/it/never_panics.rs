//! Loading and resolving never panic, whatever the input: arbitrary bytes,
//! mutated valid profiles, and generated profiles with random references,
//! macros, operators and extends graphs across files in a temp dir. The
//! case count comes from `PROPTEST_CASES`.

use proptest::prelude::*;

use crate::cases::{options, Tree};

/// Everything a user can ask of a profile; errors are fine, panics are not.
fn exercise(tree: &Tree, root: &str) {
    let Ok(profile) = profile::load_file(&tree.path(root), &options()) else { return };
    let _ = profile.raw();
    let _ = profile.resolve_all();
    let _ = profile.install_parts(&profile::NoRecipes);
}

const VALID: &str = "[buildout]\nextends = f1.cfg\nparts = a b\n[a]\nrecipe = r\nx = ${b:y} $${c:d}\nl =\n  one\n    two\n[b]\n<= c\nrecipe = r\ny += 1\n=> c\n[c]\nd = ${:_buildout_section_name_}\ny = 0\n[s:python3]\nz -= q\n";

fn name() -> impl Strategy<Value = String> {
    prop_oneof![Just("a"), Just("b"), Just("c"), Just("buildout"), Just("versions"), Just(""), Just("a b")].prop_map(str::to_owned)
}

fn value() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        (name(), name()).prop_map(|(section, option)| format!("${{{section}:{option}}}")),
        name().prop_map(|option| format!("${{:{option}}}")),
        Just("$$".to_owned()),
        Just("${".to_owned()),
        Just("}".to_owned()),
        Just("\n  ".to_owned()),
        Just("${:_buildout_section_name_}".to_owned()),
        Just("${:_profile_base_location_}".to_owned()),
        "[a-z ]{0,4}",
    ];
    proptest::collection::vec(piece, 0..5).prop_map(|pieces| pieces.concat())
}

fn option_line() -> impl Strategy<Value = String> {
    let key = prop_oneof![name(), Just("recipe".to_owned()), Just("parts".to_owned()), Just("<".to_owned()), Just("extends".to_owned())];
    let operator = prop_oneof![Just(" = "), Just(" += "), Just(" -= "), Just("+="), Just("-=")];
    prop_oneof![
        (key, operator, value()).prop_map(|(key, operator, value)| format!("{key}{operator}{value}\n")),
        name().prop_map(|deps| format!("=> {deps}\n")),
        Just("  continued\n".to_owned()),
        Just("\n".to_owned()),
        Just("# comment\n".to_owned()),
    ]
}

fn section() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        name().prop_map(|name| format!("[{name}]\n")),
        name().prop_map(|name| format!("[{name}:python3]\n")),
        name().prop_map(|name| format!("[{name}:False]\n")),
    ];
    (header, proptest::collection::vec(option_line(), 0..6)).prop_map(|(header, lines)| format!("{header}{}", lines.concat()))
}

/// A file: `extends` naming other files of the tree (cycles included), then sections.
fn file(files: usize) -> impl Strategy<Value = String> {
    let extends = proptest::collection::vec(0..files + 1, 0..3)
        .prop_map(|targets| targets.iter().map(|target| format!("f{target}.cfg")).collect::<Vec<_>>().join(" "));
    (extends, proptest::collection::vec(section(), 0..5))
        .prop_map(|(extends, sections)| format!("[buildout]\nextends = {extends}\nparts = a b c\n{}", sections.concat()))
}

fn mutate(text: &str, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for (position, kind, byte) in edits {
        let index = position % (bytes.len() + 1);
        match kind % 3 {
            0 => bytes.insert(index, *byte),
            1 if index < bytes.len() => {
                bytes.remove(index);
            }
            _ if index < bytes.len() => bytes[index] = *byte,
            _ => {}
        }
    }
    bytes
}

fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![Just(b'$'), Just(b'{'), Just(b'}'), Just(b':'), Just(b'['), Just(b']'), Just(b'='), Just(b'+'), Just(b'-'), Just(b'\n'), Just(b' '), Just(b'<'), Just(0xff), any::<u8>()]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let tree = Tree::new(&[]);
        std::fs::write(tree.path("buildout.cfg"), bytes).expect("write");
        exercise(&tree, "buildout.cfg");
    }

    #[test]
    fn mutated_profiles_never_panic(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), interesting_byte()), 1..8)) {
        let tree = Tree::new(&[("f1.cfg", "[c]\ny = 2\n[a]\nl += three\n")]);
        std::fs::write(tree.path("buildout.cfg"), mutate(VALID, &edits)).expect("write");
        exercise(&tree, "buildout.cfg");
    }

    #[test]
    fn generated_trees_never_panic(files in proptest::collection::vec(file(4), 1..5)) {
        let names: Vec<String> = (0..files.len()).map(|index| format!("f{index}.cfg")).collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(String::as_str).zip(files.iter().map(String::as_str)).collect();
        let tree = Tree::new(&pairs);
        exercise(&tree, "f0.cfg");
    }
}

#[test]
fn deep_chains_fail_cleanly() {
    let mut text = String::from("[buildout]\nparts = s0\n");
    for index in 0..5000 {
        text.push_str(&format!("[s{index}]\nrecipe = r\nv = ${{s{}:v}}\n<= m{index}\n[m{index}]\n<= m{}\n", index + 1, index + 1));
    }
    let tree = Tree::new(&[("buildout.cfg", &text)]);
    exercise(&tree, "buildout.cfg");
}
