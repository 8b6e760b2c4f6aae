//! The template recipes (slapos.recipe.template, its `:jinja2` entry point,
//! collective.recipe.template) against goldens recorded from the real
//! Python recipes in a real zc.buildout run
//! (`test_data/template/render.py`): each case profile is installed in a
//! fresh directory holding a copy of `test_data/template/files/`, and the
//! files under `out/` (text byte for byte, mode when the umask is 022) and
//! the error, if any, are compared.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use profile::recipe::{Environment, InstallContext, NoProgress, RecipeRun, Recipes};
use profile::{LoadOptions, NoFetch};
use serde_json::Value;

fn golden_dir() -> PathBuf {
    crate::crate_dir().join("test_data/template")
}

fn recipes() -> Recipes {
    let mut recipes = Recipes::new();
    profile::recipe::template::register(&mut recipes);
    profile::recipe::jinja2::register(&mut recipes);
    profile::recipe::collective_template::register(&mut recipes);
    recipes
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy directory");
    for entry in std::fs::read_dir(from).expect("read files/") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Installs the profile in `directory`; the first error's text.
fn install(directory: &Path) -> Result<(), String> {
    let mut options = LoadOptions::new(profile::python::PythonEnv::new((3, 11, 2)));
    options.cwd = Some(directory.to_path_buf());
    options.overrides = vec!["buildout:offline=true".to_owned()];
    let loaded = profile::load_file(&directory.join("buildout.cfg"), &options).map_err(|error| error.to_string())?;
    let recipes = recipes();
    let environment = Environment { fetch: &NoFetch, progress: &NoProgress };
    let run = RecipeRun::new(&recipes, &environment);
    let mut resolver = loaded.resolver(&run).map_err(|error| error.to_string())?;
    profile::select_parts(&mut resolver).map_err(|error| error.to_string())?;
    let mut parts = run.take_parts();
    for name in resolver.parts().to_vec() {
        let part_options: BTreeMap<String, String> = resolver
            .options(&name)
            .map_err(|error| error.to_string())?
            .into_iter()
            .map(|(key, value)| (key, profile::final_read(&value)))
            .collect();
        let Some(part) = parts.get_mut(&name) else { continue };
        let mut context = InstallContext::new(&name, &part_options, directory, &environment);
        part.part.install(&mut context).map_err(|error| format!("{name}: {error}"))?;
    }
    Ok(())
}

fn collect(directory: &Path, at: &Path, files: &mut BTreeMap<String, (String, u32)>) {
    let Ok(entries) = std::fs::read_dir(at) else { return };
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect(directory, &path, files);
            continue;
        }
        use std::os::unix::fs::PermissionsExt;
        let text = std::fs::read_to_string(&path).expect("outputs are UTF-8");
        let mode = std::fs::metadata(&path).expect("metadata").permissions().mode() & 0o7777;
        let relative = path.strip_prefix(directory).expect("under directory").to_string_lossy().into_owned();
        files.insert(relative, (text.replace(&directory.to_string_lossy().into_owned(), "@DIR@"), mode));
    }
}

fn umask_is_022() -> bool {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = tempfile::tempdir().expect("temp dir");
    let probe = dir.path().join("probe");
    let file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o777).open(&probe).expect("probe");
    file.metadata().expect("metadata").permissions().mode() & 0o777 == 0o755
}

/// Compares one case; the differences, in words.
fn check_case(cfg: &Path, expected: &Value, compare_modes: bool) -> Vec<String> {
    let temp = tempfile::tempdir().expect("temp dir");
    let directory = temp.path().canonicalize().expect("canonical temp dir");
    std::fs::copy(cfg, directory.join("buildout.cfg")).expect("copy profile");
    copy_tree(&golden_dir().join("files"), &directory.join("files"));
    let result = install(&directory).map_err(|error| error.replace(&directory.to_string_lossy().into_owned(), "@DIR@"));
    let mut problems = Vec::new();
    match (&result, &expected["error"]) {
        (Ok(()), Value::Null) => {}
        (Ok(()), error) => problems.push(format!("expected error {}, got success", error["message"])),
        (Err(error), Value::Null) => problems.push(format!("unexpected error: {error}")),
        (Err(error), expected_error) => {
            let message = expected_error["message"].as_str().unwrap_or_default();
            if expected_error["checked"] == Value::Bool(true) && !error.contains(message) {
                problems.push(format!("error {error:?} does not contain {message:?}"));
            }
        }
    }
    let mut files = BTreeMap::new();
    collect(&directory, &directory.join("out"), &mut files);
    let expected_files = expected["files"].as_object().cloned().unwrap_or_default();
    for (name, file) in &expected_files {
        let Some((text, mode)) = files.get(name) else {
            problems.push(format!("missing output {name}"));
            continue;
        };
        if Some(text.as_str()) != file["text"].as_str() {
            problems.push(format!("{name}: text {text:?}, expected {:?}", file["text"]));
        }
        if compare_modes && Some(format!("{mode:04o}").as_str()) != file["mode"].as_str() {
            problems.push(format!("{name}: mode {mode:04o}, expected {}", file["mode"]));
        }
    }
    for name in files.keys().filter(|name| !expected_files.contains_key(*name)) {
        problems.push(format!("unexpected output {name}"));
    }
    problems
}

#[test]
fn template_recipes_match_the_python_goldens() {
    let compare_modes = umask_is_022();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(golden_dir().join("cases"))
        .expect("cases/ is committed")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "cfg"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 80, "the corpus has its cases");
    let mut failures = Vec::new();
    for cfg in &cases {
        let golden = cfg.with_extension("json");
        let expected: Value = serde_json::from_str(&std::fs::read_to_string(&golden).expect("golden recorded by render.py"))
            .expect("golden is JSON");
        let problems = check_case(cfg, &expected, compare_modes);
        if !problems.is_empty() {
            let name = cfg.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
            failures.push(format!("{name}:\n  {}", problems.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
