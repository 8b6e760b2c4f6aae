//! What the profile benchmark loads: the differential corpus and trees
//! written by `crates/profile/test_data/generate_tree.py`, each a list of
//! case directories (`buildout.cfg`, or `case.json` naming the root file
//! and command-line assignments, as `tests/python/buildout_dump.py` reads
//! them), so that every implementation loads exactly the same inputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

/// Command-line assignments every generated tree is loaded with: no
/// implementation may touch the network.
pub(crate) const TREE_OVERRIDES: &[&str] = &["buildout:offline=true"];

/// One case: its directory, root profile and assignments.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) dir: PathBuf,
    pub(crate) root: PathBuf,
    pub(crate) overrides: Vec<String>,
}

impl Case {
    /// Reads `dir/case.json` (`file`, `overrides`) if present.
    fn read(dir: &Path) -> anyhow::Result<Case> {
        let settings_path = dir.join("case.json");
        let settings: serde_json::Value = match std::fs::read_to_string(&settings_path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| format!("{}", settings_path.display()))?,
            Err(_) => serde_json::Value::Object(serde_json::Map::new()),
        };
        let file = settings.get("file").and_then(serde_json::Value::as_str).unwrap_or("buildout.cfg");
        let overrides = settings
            .get("overrides")
            .and_then(serde_json::Value::as_array)
            .map(|list| list.iter().filter_map(|item| item.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Ok(Case { dir: dir.to_path_buf(), root: dir.join(file), overrides })
    }
}

/// A named set of cases, loaded together as one repetition.
#[derive(Debug, Clone)]
pub(crate) struct Workload {
    /// Short name for the table.
    pub(crate) name: String,
    /// What it is, in words (files, sections, options).
    pub(crate) shape: String,
    pub(crate) cases: Vec<Case>,
    /// Whether the CLI is timed on it too (one process per case: only for
    /// single-profile workloads).
    pub(crate) time_cli: bool,
    /// Whether the tree targets apply (< 100 ms, ≥ 100× 3.0.1).
    pub(crate) release_shaped: bool,
}

/// The corpus of the differential test, every case directory sorted.
///
/// # Errors
/// An unreadable corpus directory or `case.json`.
pub(crate) fn corpus(corpus_dir: &Path) -> anyhow::Result<Workload> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus_dir)
        .with_context(|| format!("cannot list {}", corpus_dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    let cases = dirs.iter().map(|dir| Case::read(dir)).collect::<anyhow::Result<Vec<Case>>>()?;
    Ok(Workload {
        name: "corpus".to_owned(),
        shape: format!("{} small profiles, loaded one after the other", cases.len()),
        cases,
        time_cli: false,
        release_shaped: false,
    })
}

/// How to call `generate_tree.py`.
#[derive(Debug, Clone)]
pub(crate) struct TreeShape {
    pub(crate) files: u32,
    pub(crate) sections: u32,
    pub(crate) options: u32,
    pub(crate) layers: u32,
    pub(crate) seed: u32,
}

/// Writes a tree under `out` with `generate_tree.py` run by `python`, and a
/// `case.json` naming its root and [`TREE_OVERRIDES`].
///
/// # Errors
/// The generator failing, or the case file not written.
pub(crate) fn tree(python: &Path, script: &Path, out: &Path, name: &str, shape: &TreeShape, release_shaped: bool) -> anyhow::Result<Workload> {
    let dir = out.join(name);
    let status = Command::new(python)
        .arg(script)
        .args(["--files", &shape.files.to_string(), "--sections", &shape.sections.to_string()])
        .args(["--options", &shape.options.to_string(), "--layers", &shape.layers.to_string()])
        .args(["--seed", &shape.seed.to_string(), "--out"])
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", script.display()))?;
    if !status.success() {
        bail!("{} failed ({status}) for {name}", script.display());
    }
    let root = "software/generated/software.cfg";
    let case = serde_json::json!({ "file": root, "overrides": TREE_OVERRIDES });
    std::fs::write(dir.join("case.json"), case.to_string()).with_context(|| format!("cannot write {}/case.json", dir.display()))?;
    let (options, bytes) = count_options(&dir)?;
    Ok(Workload {
        name: name.to_owned(),
        shape: format!(
            "{} files ({} KiB), {} sections, {} option lines, {} extends layers",
            shape.files,
            bytes / 1024,
            shape.sections,
            options,
            shape.layers
        ),
        cases: vec![Case::read(&dir)?],
        time_cli: true,
        release_shaped,
    })
}

/// Option lines (`name =`, `name +=`, `name -=`, `<=`) and bytes of the
/// `.cfg` files under `dir`, to describe a tree.
fn count_options(dir: &Path) -> anyhow::Result<(usize, u64)> {
    let mut options = 0;
    let mut bytes = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).with_context(|| format!("cannot list {}", current.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "cfg") {
                let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
                bytes += text.len() as u64;
                options += text
                    .lines()
                    .filter(|line| !line.starts_with([' ', '\t', '#', '[']) && line.contains('='))
                    .count();
            }
        }
    }
    Ok((options, bytes))
}
