//! The differential test against the real zc.buildout 6.0.1 (issue #4):
//! for every profile of `test_data/corpus/`, of trees written by
//! `test_data/generate_tree.py` and of random profiles, our engine's raw
//! data (`Profile::raw`) and substituted sections (`Profile::resolve_all`)
//! must equal what zc.buildout gives, as dumped by
//! `tests/python/buildout_dump.py` (one Python process per test, batch).
//!
//! Errors: both must fail; when zc.buildout's error is part of the contract
//! (the harness marks it `checked`: `UserError`, parser errors, `ValueError`)
//! our `buildout_message()` must contain its text, compared with every run
//! of whitespace collapsed to one space and both ends trimmed; otherwise
//! (Python internals such as `NameError` from a condition or `OSError`)
//! the failure alone is compared.
//!
//! The Python side needs the reference venv (`SLAPOS_VENV`, default
//! `/var/cache/slapos-rs/venv`, built by `tests/python/setup-venv.sh`);
//! without it the tests print why and pass, except under `CI`, where they
//! fail. The SlapOS-fork cases (`test_data/slapos/`) cannot be compared with
//! upstream: they are checked against hand-written `expected.json` files.

mod random;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use profile::python::PythonEnv;
use profile::{LoadOptions, ProfileError, Sections};
use serde_json::Value;

/// `$HOME` on both sides, so `~` expands to the same (nonexistent) place.
const HOME: &str = "/nonexistent/slapos-differential-home";

/// The generated trees compared with the corpus: `(files, sections,
/// options, seed)`; the last one has the public helloworld release's shape.
const TREES: &[(u32, u32, u32, u32)] = &[(8, 12, 60, 11), (20, 30, 200, 12), (40, 60, 450, 13), (150, 170, 1300, 14)];

fn manifest_dir() -> PathBuf {
    crate::crate_dir()
}


/// The interpreter facts of `python`, from its own probe run.
pub fn probe(python: &Path) -> PythonEnv {
    let output = Command::new(python)
        .args(["-c", PythonEnv::PROBE_SCRIPT])
        .output()
        .expect("run the python probe");
    assert!(output.status.success(), "python probe failed: {}", String::from_utf8_lossy(&output.stderr));
    let json = String::from_utf8(output.stdout).expect("probe prints UTF-8");
    PythonEnv::from_probe_json(json.trim()).expect("probe JSON reads")
}

/// One case: a directory, its root file and command-line assignments.
#[derive(Debug, Clone)]
pub struct Case {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub overrides: Vec<String>,
}

impl Case {
    /// Reads `dir/case.json` (`file`, `overrides`) if present.
    pub fn read(dir: &Path) -> Case {
        let settings_path = dir.join("case.json");
        let settings: Value = match std::fs::read_to_string(&settings_path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", settings_path.display())),
            Err(_) => Value::Object(serde_json::Map::new()),
        };
        let file = settings.get("file").and_then(Value::as_str).unwrap_or("buildout.cfg");
        let overrides = settings
            .get("overrides")
            .and_then(Value::as_array)
            .map(|list| list.iter().map(|item| item.as_str().expect("overrides are strings").to_owned()).collect())
            .unwrap_or_default();
        Case { dir: dir.to_path_buf(), root: dir.join(file), overrides }
    }

    fn name(&self) -> String {
        self.dir.file_name().map_or_else(|| self.dir.display().to_string(), |name| name.to_string_lossy().into_owned())
    }

    /// Load options matching the harness: same interpreter, home, working
    /// directory (the root file's), overrides; SlapOS rules off.
    fn options(&self, python: &PythonEnv) -> LoadOptions {
        let mut options = LoadOptions::new(python.clone());
        options.overrides = self.overrides.clone();
        options.home = Some(PathBuf::from(HOME));
        options.cwd = self.root.parent().map(Path::to_path_buf);
        options.slapos = false;
        options
    }
}

/// Runs the harness once over `cases`; its JSON result per case directory.
pub fn run_harness(python: &Path, cases: &[Case]) -> BTreeMap<PathBuf, Value> {
    let script = manifest_dir().join("../../tests/python/buildout_dump.py");
    let mut child = Command::new(python)
        .arg(&script)
        .args(["--home", HOME])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start tests/python/buildout_dump.py");
    let mut list = String::new();
    for case in cases {
        list.push_str(&case.dir.to_string_lossy());
        list.push('\n');
    }
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || stdin.write_all(list.as_bytes()));
    let output = child.wait_with_output().expect("harness runs");
    writer.join().expect("stdin writer").expect("write case list");
    assert!(output.status.success(), "buildout_dump.py failed ({})", output.status);
    let mut results = BTreeMap::new();
    for line in String::from_utf8(output.stdout).expect("harness prints UTF-8").lines() {
        let value: Value = serde_json::from_str(line).expect("harness prints JSON lines");
        let dir = value["case"].as_str().expect("result names its case");
        results.insert(PathBuf::from(dir), value);
    }
    results
}

/// Whitespace runs collapsed to one space, ends trimmed.
fn normalise(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Differences between our result and the reference for one half (`raw`
/// or `resolved`), as readable lines.
fn compare_half(half: &str, ours: &Result<Sections, ProfileError>, theirs: &Value, diffs: &mut Vec<String>) {
    match (ours, theirs.get("error")) {
        (Ok(ours), None) => compare_sections(half, ours, theirs, diffs),
        (Ok(_), Some(error)) => diffs.push(format!("{half}: we succeed, zc.buildout fails with {}: {error}", theirs["type"])),
        (Err(error), None) => diffs.push(format!("{half}: we fail with {:?}, zc.buildout succeeds", error.buildout_message())),
        (Err(error), Some(message)) => {
            let checked = theirs.get("checked").and_then(Value::as_bool).unwrap_or(false);
            let theirs_text = normalise(message.as_str().unwrap_or_default());
            let ours_text = normalise(&error.buildout_message());
            if checked && !ours_text.contains(&theirs_text) {
                diffs.push(format!("{half}: error text differs\n      ours:   {ours_text:?}\n      theirs: {theirs_text:?} ({})", theirs["type"]));
            }
        }
    }
}

fn compare_sections(half: &str, ours: &Sections, theirs: &Value, diffs: &mut Vec<String>) {
    let theirs = theirs.as_object().expect("sections are an object");
    let names: BTreeSet<&str> = ours.keys().map(String::as_str).chain(theirs.keys().map(String::as_str)).collect();
    for name in names {
        let their_section = theirs.get(name).and_then(Value::as_object);
        let Some(our_section) = ours.get(name) else {
            diffs.push(format!("{half}: [{name}] missing in ours (zc.buildout has {} options)", their_section.map_or(0, |s| s.len())));
            continue;
        };
        let Some(their_section) = their_section else {
            diffs.push(format!("{half}: [{name}] extra in ours ({} options)", our_section.len()));
            continue;
        };
        let options: BTreeSet<&str> =
            our_section.keys().map(String::as_str).chain(their_section.keys().map(String::as_str)).collect();
        for option in options {
            let mine = our_section.get(option).map(String::as_str);
            let reference = their_section.get(option).and_then(Value::as_str);
            if mine != reference {
                diffs.push(format!("{half}: [{name}] {option}\n      ours:   {mine:?}\n      theirs: {reference:?}"));
            }
        }
    }
}

/// Loads `case` with our engine and lists every difference from `reference`.
fn compare_case(case: &Case, reference: &Value, python: &PythonEnv) -> Vec<String> {
    let mut diffs = Vec::new();
    let (raw, resolved) = match profile::load_file(&case.root, &case.options(python)) {
        Ok(profile) => (profile.raw(), profile.resolve_all()),
        Err(error) => (Err(error.clone()), Err(error)),
    };
    compare_half("raw", &raw, &reference["raw"], &mut diffs);
    compare_half("resolved", &resolved, &reference["resolved"], &mut diffs);
    diffs
}

/// Compares every case with its reference; panics listing every failing
/// case (after printing each one's differences), or if any case has no
/// reference result.
pub fn check_all(cases: &[Case], references: &BTreeMap<PathBuf, Value>, python: &PythonEnv, describe: &dyn Fn(&Case) -> String) {
    assert_eq!(
        references.len(),
        cases.len(),
        "the harness produced {} results for {} cases",
        references.len(),
        cases.len()
    );
    let mut failing = Vec::new();
    for case in cases {
        let reference = references
            .get(&case.dir)
            .unwrap_or_else(|| panic!("no harness result for {}", case.dir.display()));
        let diffs = compare_case(case, reference, python);
        if !diffs.is_empty() {
            eprintln!("\n=== {} ({} differences)\n{}", case.name(), diffs.len(), describe(case));
            for diff in diffs.iter().take(20) {
                eprintln!("  {diff}");
            }
            if diffs.len() > 20 {
                eprintln!("  ... and {} more", diffs.len() - 20);
            }
            failing.push(case.name());
        }
    }
    eprintln!("differential: {} of {} cases agree with zc.buildout", cases.len() - failing.len(), cases.len());
    assert!(failing.is_empty(), "{} cases differ from zc.buildout:\n  {}", failing.len(), failing.join("\n  "));
}

/// The case directories of `test_data/corpus`, sorted.
fn corpus_cases() -> Vec<Case> {
    let corpus = manifest_dir().join("test_data/corpus");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|error| panic!("{}: {error}", corpus.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs.iter().map(|dir| Case::read(dir)).collect()
}

/// Writes the [`TREES`] with `generate_tree.py` under `root`.
fn generated_trees(python: &Path, root: &Path) -> Vec<Case> {
    let script = manifest_dir().join("test_data/generate_tree.py");
    let mut cases = Vec::new();
    for &(files, sections, options, seed) in TREES {
        let dir = root.join(format!("tree-{files}-files-seed-{seed}"));
        let status = Command::new(python)
            .arg(&script)
            .args(["--files", &files.to_string(), "--sections", &sections.to_string()])
            .args(["--options", &options.to_string(), "--seed", &seed.to_string(), "--out"])
            .arg(&dir)
            .stdout(Stdio::null())
            .status()
            .expect("run generate_tree.py");
        assert!(status.success(), "generate_tree.py failed for seed {seed}");
        std::fs::write(dir.join("case.json"), r#"{"file": "software/generated/software.cfg"}"#).expect("write case.json");
        let root_file = dir.join("software/generated/software.cfg");
        cases.push(Case { dir, root: root_file, overrides: Vec::new() });
    }
    cases
}

#[test]
fn corpus_and_generated_trees_match_zc_buildout() {
    let Some(python) = super::venv::python("the differential test") else { return };
    let env = probe(&python);
    let trees = tempfile::tempdir().expect("temp dir");
    let mut cases = corpus_cases();
    assert!(cases.len() >= 300, "the corpus shrank to {} cases", cases.len());
    cases.extend(generated_trees(&python, trees.path()));
    let references = run_harness(&python, &cases);
    check_all(&cases, &references, &env, &|case| format!("  {}", case.root.display()));
}

#[test]
fn random_profiles_match_zc_buildout() {
    let Some(python) = super::venv::python("the differential test") else { return };
    let env = probe(&python);
    let temporary = tempfile::tempdir().expect("temp dir");
    // SLAPOS_DIFFERENTIAL_KEEP=DIR writes the cases there, to inspect them.
    let root = std::env::var_os("SLAPOS_DIFFERENTIAL_KEEP").map_or_else(|| temporary.path().to_path_buf(), PathBuf::from);
    let (seed, cases) = random::write_cases(&root);
    eprintln!("random profiles: {} cases from seed {seed} (SLAPOS_DIFFERENTIAL_SEED replays)", cases.len());
    let references = run_harness(&python, &cases);
    check_all(&cases, &references, &env, &random::describe);
}

/// Replaces `@CASE@` by the case directory in every string of `value`.
fn with_case_dir(value: &Value, dir: &str) -> Value {
    match value {
        Value::String(text) => Value::String(text.replace("@CASE@", dir)),
        Value::Array(items) => Value::Array(items.iter().map(|item| with_case_dir(item, dir)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(key, item)| (key.clone(), with_case_dir(item, dir))).collect()),
        other => other.clone(),
    }
}

/// Checks one SlapOS-fork case against its `expected.json`: `resolved`
/// lists sections (each resolved on its own, as a reference to it would)
/// and options that must have exactly these values (`null`: must be
/// absent); `error`, text the error of loading or of resolving the first
/// listed section must contain.
fn check_slapos_case(dir: &Path, python: &PythonEnv) -> Vec<String> {
    let case = Case::read(dir);
    let text = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
    let expected = with_case_dir(&serde_json::from_str(&text).expect("expected.json is JSON"), &dir.to_string_lossy());
    let wanted_sections = expected.get("resolved").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut options = case.options(python);
    options.slapos = true;
    let resolved = profile::load_file(&case.root, &options).and_then(|profile| {
        let mut resolver = profile.resolver(&profile::NoRecipes)?;
        let mut sections = Sections::new();
        for name in wanted_sections.keys() {
            sections.insert(name.clone(), resolver.options(name)?);
        }
        Ok(sections)
    });
    let mut diffs = Vec::new();
    match (resolved, expected.get("error").and_then(Value::as_str)) {
        (Err(error), Some(message)) if normalise(&error.buildout_message()).contains(&normalise(message)) => {}
        (Err(error), _) => diffs.push(format!("failed: {}", error.buildout_message())),
        (Ok(_), Some(message)) => diffs.push(format!("succeeded, expected the error {message:?}")),
        (Ok(sections), None) => {
            for (name, wanted) in &wanted_sections {
                for (option, value) in wanted.as_object().expect("a section is an object") {
                    let ours = sections.get(name).and_then(|section| section.get(option)).map(String::as_str);
                    if ours != value.as_str() {
                        diffs.push(format!("[{name}] {option}\n      ours:     {ours:?}\n      expected: {:?}", value.as_str()));
                    }
                }
            }
        }
    }
    diffs
}

#[test]
fn slapos_fork_cases_match_expected() {
    let python = PythonEnv::new((3, 11, 2));
    let root = manifest_dir().join("test_data/slapos");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("test_data/slapos")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no SlapOS-fork cases in {}", root.display());
    let mut failing = Vec::new();
    for dir in &dirs {
        let diffs = check_slapos_case(dir, &python);
        if !diffs.is_empty() {
            let name = dir.file_name().expect("case dir has a name").to_string_lossy().into_owned();
            eprintln!("\n=== {name}\n  {}", diffs.join("\n  "));
            failing.push(name);
        }
    }
    assert!(failing.is_empty(), "SlapOS-fork cases differ from expected.json:\n  {}", failing.join("\n  "));
}
