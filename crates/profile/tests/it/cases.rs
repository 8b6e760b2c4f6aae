//! Spec §12 cases through the public API (`load_file`, `raw`,
//! `resolve_all`, `install_parts`), each expectation checked against what
//! zc.buildout 6.0.1 gives for the same files.

use std::path::{Path, PathBuf};

use profile::{LoadOptions, NoRecipes, Profile, ProfileError, Sections};

/// A temporary directory of profile files.
pub struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    pub fn new(files: &[(&str, &str)]) -> Tree {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("files live in the tree")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        Tree { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn root(&self) -> String {
        self.dir.path().to_string_lossy().into_owned()
    }
}

pub fn options() -> LoadOptions {
    let mut python = profile::python::PythonEnv::new((3, 11, 2));
    python.sys_executable = "/usr/bin/python3".to_owned();
    let mut options = LoadOptions::new(python);
    options.home = Some(PathBuf::from("/home/u"));
    options
}

fn load(tree: &Tree, overrides: &[&str]) -> Result<Profile, ProfileError> {
    let mut options = options();
    options.overrides = overrides.iter().map(|text| (*text).to_owned()).collect();
    profile::load_file(&tree.path("buildout.cfg"), &options)
}

/// Loads and resolves `buildout.cfg` of a tree built from `files`.
fn resolve(files: &[(&str, &str)]) -> Result<Sections, ProfileError> {
    let tree = Tree::new(files);
    load(&tree, &[])?.resolve_all()
}

fn value(sections: &Sections, section: &str, option: &str) -> String {
    sections[section][option].clone()
}

fn message(result: Result<Sections, ProfileError>) -> String {
    result.expect_err("zc.buildout fails here").buildout_message()
}

#[test]
fn one_file_operators() {
    let sections = resolve(&[("buildout.cfg", "[buildout]\nparts =\n[t]\nx = a\nx += b\nx -= a\n[u]\nx += b\nx = a\n")]).expect("resolves");
    assert_eq!(value(&sections, "t", "x"), "b");
    assert_eq!(value(&sections, "u", "x"), "a");
}

#[test]
fn operators_across_files() {
    let base = "[s]\nx = a\n  b\n  c\n[t]\ny = 1\n";
    let root = "[buildout]\nextends = base.cfg\nparts =\n[s]\nx += d\nx -= b\n[t]\nz += 2\n[u]\nw += 3\nv -= 3\n";
    let sections = resolve(&[("base.cfg", base), ("buildout.cfg", root)]).expect("resolves");
    assert_eq!(value(&sections, "s", "x"), "a\nc\nd");
    assert_eq!(value(&sections, "t", "z"), "\n2");
    assert_eq!(value(&sections, "u", "w"), "3");
    assert_eq!(value(&sections, "u", "v"), "");
}

#[test]
fn diamond_extends_fold_in_order() {
    let files = [
        ("c.cfg", "[buildout]\nx = c\n"),
        ("a.cfg", "[buildout]\nextends = c.cfg\nparts += A\nx += a\n"),
        ("b.cfg", "[buildout]\nextends = c.cfg\nparts += B\nx += b\n"),
        ("buildout.cfg", "[buildout]\nextends = a.cfg b.cfg\nparts += R\n[A]\nrecipe = r\n[B]\nrecipe = r\n[R]\nrecipe = r\n"),
    ];
    let tree = Tree::new(&files);
    let profile = load(&tree, &[]).expect("loads");
    let sections = profile.resolve_all().expect("resolves");
    assert_eq!(value(&sections, "buildout", "parts"), "\nA\nB\nR");
    assert_eq!(value(&sections, "buildout", "x"), "c\nb");
    assert_eq!(profile.install_parts(&NoRecipes).expect("parts"), ["A", "B", "R"]);
}

#[test]
fn macros_expand_before_substitution() {
    let root = "[buildout]\nparts =\n[base]\na = base-a\nb = ${:a}/b\nn = ${:_buildout_section_name_}\nl = 1\n[p2]\na = p2-a\nc = p2-c\n[child]\n<= base\n   p2\na = child-a\nl += 3\n";
    let sections = resolve(&[("buildout.cfg", root)]).expect("resolves");
    let child = &sections["child"];
    assert_eq!((child["a"].as_str(), child["b"].as_str(), child["n"].as_str()), ("child-a", "child-a/b", "child"));
    assert_eq!((child["l"].as_str(), child["c"].as_str()), ("1\n3", "p2-c"));
    assert!(!child.contains_key("<"));
}

#[test]
fn macro_errors_and_late_operator() {
    let root = "[buildout]\nparts =\n[child]\n<= a b\n";
    assert_eq!(message(resolve(&[("buildout.cfg", root)])), "No section named 'a b'");
    let root = "[buildout]\nparts =\n[a]\n<= b\n[b]\n<= a\n";
    assert_eq!(message(resolve(&[("buildout.cfg", root)])), "Infinite extending loop 'a'");
    let files = [("base.cfg", "[base]\nl = 1\n[child]\n<= base\n"), ("buildout.cfg", "[buildout]\nextends = base.cfg\nparts =\n[child]\nl += 2\n")];
    let tree = Tree::new(&files);
    let profile = load(&tree, &[]).expect("loads");
    assert_eq!(profile.raw().expect("raw")["child"]["l"], "\n2");
    assert_eq!(value(&profile.resolve_all().expect("resolves"), "child", "l"), "\n2");
}

#[test]
fn dollar_escapes_stay_and_final_read_unescapes() {
    let root = "[buildout]\nparts =\n[s]\na = $${x:y}\nc = ${:a}\nh = $$HOME\n[t]\nn = ${s:_buildout_section_name_}\n";
    let sections = resolve(&[("buildout.cfg", root)]).expect("resolves");
    assert_eq!(value(&sections, "s", "c"), "$${x:y}");
    assert_eq!(profile::final_read(&value(&sections, "s", "c")), "${x:y}");
    assert_eq!(value(&sections, "s", "h"), "$$HOME");
    assert_eq!(value(&sections, "t", "n"), "t");
}

#[test]
fn reference_errors() {
    let ok = resolve(&[("buildout.cfg", "[buildout]\nparts =\n[unused]\na = ${nope:x}\n")]);
    assert!(ok.is_err(), "resolve_all resolves every section, so unused references fail too");
    let tree = Tree::new(&[("buildout.cfg", "[buildout]\nparts =\n[unused]\na = ${nope:x}\n")]);
    assert_eq!(load(&tree, &[]).expect("loads").install_parts(&NoRecipes).expect("never-referenced sections are not checked"), Vec::<String>::new());
    let missing = "[buildout]\nparts = p\n[p]\nrecipe = r\na = ${nope:x}\n";
    assert_eq!(message(resolve(&[("buildout.cfg", missing)])), "The referenced section, 'nope', was not defined.");
    let option = "[buildout]\nparts =\n[t]\na = ${t:nope}\n";
    assert_eq!(message(resolve(&[("buildout.cfg", option)])), "Referenced option does not exist: t nope");
    let circular = "[buildout]\nparts =\n[t]\na = ${:b}\nb = ${:a}\n";
    assert_eq!(message(resolve(&[("buildout.cfg", circular)])), "Circular reference in substitutions.\n");
    let cases = [
        ("${x}", "The substitution, ${x},\ndoesn't contain a colon."),
        ("${x:y:z}", "The substitution, ${x:y:z},\nhas too many colons."),
        ("${x/:y}", "The section name in substitution, ${x/:y},\nhas invalid characters."),
        ("${x:y/}", "The option name in substitution, ${x:y/},\nhas invalid characters."),
    ];
    for (reference, expected) in cases {
        let root = format!("[buildout]\nparts =\n[s]\na = {reference}\n");
        assert_eq!(message(resolve(&[("buildout.cfg", &root)])), expected);
    }
}

#[test]
fn part_order_is_dfs_post_order() {
    let root = "[buildout]\nparts = a b\nfoo = ${z:x}\n[z]\nrecipe = r\nx = 1\n[a]\nrecipe = r\nref = ${c:computed}\nzz = ${d:x}\n[b]\nrecipe = r\nref = ${a:ref}\n[c]\nrecipe = r\ncomputed = 2\n[d]\nrecipe = r\nx = 1\n=> e\n[e]\nrecipe = r\n[f]\nrecipe = r\n";
    let tree = Tree::new(&[("buildout.cfg", root)]);
    let profile = load(&tree, &[]).expect("loads");
    assert_eq!(profile.install_parts(&NoRecipes).expect("parts"), ["z", "c", "e", "d", "a", "b"]);
    let root = "[buildout]\nparts = a g\n[a]\nrecipe = r\n[g]\nrecipe =\n";
    let tree = Tree::new(&[("buildout.cfg", root)]);
    assert_eq!(load(&tree, &[]).expect("loads").install_parts(&NoRecipes).expect("parts"), ["a"]);
}

#[test]
fn conditional_sections() {
    let root = "[buildout]\nparts =\n[s:python2]\na = 2\n[s:python3]\na = 3\n[s:python_version >= \"3.0\"]\ne = m\n[t:False]\nz = 1\n";
    let sections = resolve(&[("buildout.cfg", root)]).expect("resolves");
    assert_eq!((value(&sections, "s", "a").as_str(), value(&sections, "s", "e").as_str()), ("3", "m"));
    assert!(!sections.contains_key("t"));
}

#[test]
fn buildout_defaults_and_directories() {
    let files = [
        ("sub/inc.cfg", "[buildout]\ndownload-cache = dl\n"),
        ("buildout.cfg", "[buildout]\nextends = sub/inc.cfg\nparts =\neggs-directory = ~/eggs\nbin-directory = ${buildout:directory}/b\n"),
    ];
    let tree = Tree::new(&files);
    let root = tree.root();
    let sections = load(&tree, &[]).expect("loads").resolve_all().expect("resolves");
    let buildout = &sections["buildout"];
    assert_eq!(buildout["directory"], root);
    assert_eq!(buildout["download-cache"], format!("{root}/sub/dl"));
    assert_eq!(buildout["eggs-directory"], "/home/u/eggs/v5");
    assert_eq!(buildout["bin-directory"], format!("{root}/b"));
    assert_eq!(buildout["parts-directory"], format!("{root}/parts"));
    assert_eq!(buildout["installed"], format!("{root}/.installed.cfg"));
    assert_eq!(buildout["executable"], "/usr/bin/python3");
    assert_eq!(buildout["versions"], "versions");
    assert_eq!(sections["versions"]["zc.buildout"], ">=6.0.1");
    assert_eq!(sections["versions"]["zc.recipe.egg"], ">=2.0.6");
}

#[test]
fn command_line_assignments_merge_last() {
    let tree = Tree::new(&[("buildout.cfg", "[buildout]\nparts =\nc = 1\n[s]\na = x\n")]);
    let sections = load(&tree, &["s:a=y", "b=2", "c+=3", "s:n-=q"]).expect("loads").resolve_all().expect("resolves");
    assert_eq!(value(&sections, "s", "a"), "y");
    assert_eq!(value(&sections, "buildout", "b"), "2");
    assert_eq!(value(&sections, "buildout", "c"), "1\n3");
    assert_eq!(value(&sections, "s", "n"), "");
    let error = load(&tree, &["a:b:c=1"]).expect_err("three parts");
    assert_eq!(error.buildout_message(), "Invalid option: ['a', 'b', 'c']");
}

#[test]
fn load_errors() {
    let tree = Tree::new(&[("buildout.cfg", "[buildout]\nextends = a.cfg\nparts =\n"), ("a.cfg", "[buildout]\nextends = buildout.cfg\n")]);
    let root = tree.root();
    let error = load(&tree, &[]).expect_err("recursive");
    assert_eq!(error.buildout_message(), format!("Recursive file include ['{root}/buildout.cfg', '{root}/a.cfg'] {root}/buildout.cfg"));
    // As zc.buildout: the merge completes, the flag is refused at startup.
    let tree = Tree::new(&[("buildout.cfg", "[buildout]\nparts =\noffline = yes\n")]);
    let loaded = load(&tree, &[]).expect("loads: booleans are checked at startup");
    assert_eq!(loaded.resolve_all().expect_err("bool").buildout_message(), "Invalid value for 'offline' option: 'yes'");
    let tree = Tree::new(&[("buildout.cfg", "[buildout]\nparts =\nextended-by = x\n")]);
    let expected = format!("No-longer supported \"extended-by\" option found in {}/buildout.cfg.", tree.root());
    assert_eq!(load(&tree, &[]).expect_err("extended-by").buildout_message(), expected);
    let tree = Tree::new(&[("buildout.cfg", "[buildout]\nextends = http://example.invalid/a.cfg\n")]);
    let error = load(&tree, &[]).expect_err("no fetcher");
    assert!(error.to_string().contains("Error downloading extends for URL http://example.invalid/a.cfg"), "{error}");
    let missing = profile::load_file(Path::new("/nonexistent/buildout.cfg"), &options()).expect_err("missing");
    assert_eq!(missing.buildout_message(), "Couldn't open /nonexistent/buildout.cfg");
}

#[test]
fn errors_name_file_and_line() {
    let tree = Tree::new(&[("buildout.cfg", "[buildout]\nparts =\n[t]\n\na = ${t:nope}\n")]);
    let error = load(&tree, &[]).expect("loads").resolve_all().expect_err("missing option");
    let shown = error.to_string();
    assert!(shown.starts_with(&format!("{}/buildout.cfg:5: [t] a: Referenced option", tree.root())), "{shown}");
}

#[test]
fn slapos_profile_base_location() {
    let files = [
        ("stack/base.cfg", "[tpl]\nurl = ${:_profile_base_location_}/a\n"),
        (
            "software/x/buildout.cfg",
            "[buildout]\nextends = ../../stack/base.cfg\nparts =\n[download-base]\nurl = ${:_profile_base_location_}/${:filename}\nfilename = none\n[tpl]\nmd5sum = 01ab\n[json]\n<= download-base\nfilename = s.json\n",
        ),
    ];
    let tree = Tree::new(&files);
    let root = tree.root();
    let sections = profile::load_file(&tree.path("software/x/buildout.cfg"), &options()).expect("loads").resolve_all().expect("resolves");
    assert_eq!(value(&sections, "tpl", "url"), format!("{root}/stack/a"));
    assert_eq!(value(&sections, "json", "url"), format!("{root}/software/x/s.json"));
    let mut upstream = options();
    upstream.slapos = false;
    let error = profile::load_file(&tree.path("software/x/buildout.cfg"), &upstream).expect("loads").resolve_all().expect_err("upstream lacks it");
    assert_eq!(error.buildout_message(), "Referenced option does not exist: download-base _profile_base_location_");
}
