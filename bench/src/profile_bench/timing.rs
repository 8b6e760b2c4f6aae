//! The three ways a workload is timed: our engine in process (the library
//! call `slapos profile resolve` makes: `profile::load_file`, then
//! `Profile::resolve_all`), our CLI as a process per case, and zc.buildout
//! in a Python process running `bench/profile_timing.py`. Every run is
//! bounded: the Python process is killed when one repetition outlasts the
//! cap, and reported as cut.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use profile::python::PythonEnv;
use profile::LoadOptions;

use crate::workload::{Case, Workload};

/// `$HOME` on every side, so `~` expands to the same (nonexistent) place.
pub(crate) const HOME: &str = "/nonexistent/slapos-profile-bench-home";

/// The outcome of timing one implementation on one workload.
#[derive(Debug, Clone)]
pub(crate) enum Timing {
    /// Seconds of each repetition, and sections resolved per repetition.
    Done { seconds: Vec<f64>, sections: usize },
    /// A repetition outlasted the cap and was killed.
    Cut { cap_seconds: f64 },
    /// Not measured (not applicable, or skipped).
    Skipped,
}

impl Timing {
    /// The median repetition, when measured.
    pub(crate) fn median_seconds(&self) -> Option<f64> {
        match self {
            Timing::Done { seconds, .. } if !seconds.is_empty() => {
                let mut sorted = seconds.clone();
                sorted.sort_by(f64::total_cmp);
                Some(sorted[sorted.len() / 2])
            }
            _ => None,
        }
    }
}

/// Load options for `case` matching the Python side: same interpreter
/// facts, home, working directory (the root's), assignments; upstream
/// rules (zc.buildout has no SlapOS fork rules).
fn options(case: &Case, python: &PythonEnv) -> LoadOptions {
    let mut options = LoadOptions::new(python.clone());
    options.overrides = case.overrides.clone();
    options.home = Some(PathBuf::from(HOME));
    options.cwd = case.root.parent().map(Path::to_path_buf);
    options.slapos = false;
    options
}

/// Times the engine in process: `repeat` repetitions of loading and
/// resolving every case (a failing case counts as loaded, as on the
/// Python side).
pub(crate) fn engine(workload: &Workload, python: &PythonEnv, repeat: usize) -> Timing {
    let mut seconds = Vec::with_capacity(repeat);
    let mut sections = 0;
    for _ in 0..repeat {
        let started = Instant::now();
        sections = 0;
        for case in &workload.cases {
            let resolved = profile::load_file(&case.root, &options(case, python)).and_then(|profile| profile.resolve_all());
            sections += resolved.map_or(0, |resolved| resolved.len());
        }
        seconds.push(started.elapsed().as_secs_f64());
    }
    Timing::Done { seconds, sections }
}

/// Times `slapos --json profile resolve ROOT --python PY ASSIGNMENTS...`
/// run in the root's directory, `repeat` times per case.
///
/// # Errors
/// The command failing or printing something other than a JSON object.
pub(crate) fn cli(workload: &Workload, slapos: &Path, python: &Path, repeat: usize) -> anyhow::Result<Timing> {
    let mut seconds = Vec::with_capacity(repeat);
    let mut sections = 0;
    for _ in 0..repeat {
        let started = Instant::now();
        sections = 0;
        for case in &workload.cases {
            let output = Command::new(slapos)
                .args(["--json", "-q", "profile", "resolve"])
                .arg(&case.root)
                .arg("--python")
                .arg(python)
                .args(&case.overrides)
                .current_dir(case.root.parent().unwrap_or(Path::new("/")))
                .env("HOME", HOME)
                .stdin(Stdio::null())
                .output()
                .with_context(|| format!("cannot run {}", slapos.display()))?;
            if !output.status.success() {
                bail!("{} profile resolve {} failed ({}): {}", slapos.display(), case.root.display(), output.status, String::from_utf8_lossy(&output.stderr).trim());
            }
            let document: serde_json::Value = serde_json::from_slice(&output.stdout).context("slapos profile resolve --json printed no JSON")?;
            sections += document.as_object().map_or(0, serde_json::Map::len);
        }
        seconds.push(started.elapsed().as_secs_f64());
    }
    Ok(Timing::Done { seconds, sections })
}

/// One line of `profile_timing.py`.
struct Repetition {
    seconds: f64,
    sections: usize,
}

fn parse_line(line: &str) -> anyhow::Result<Repetition> {
    let value: serde_json::Value = serde_json::from_str(line).with_context(|| format!("profile_timing.py printed {line:?}"))?;
    let seconds = value.get("seconds").and_then(serde_json::Value::as_f64).context("no seconds")?;
    let sections = value.get("sections").and_then(serde_json::Value::as_u64).context("no sections")?;
    Ok(Repetition { seconds, sections: usize::try_from(sections).unwrap_or(usize::MAX) })
}

/// Times zc.buildout of `venv` with `profile_timing.py`: at most `repeat`
/// repetitions, each cut at `cap` (the process is then killed and the
/// workload reported as cut, whatever the earlier repetitions gave).
///
/// # Errors
/// The interpreter not starting, or the script failing (its stderr is in
/// the message).
pub(crate) fn zc_buildout(workload: &Workload, venv: &Path, script: &Path, repeat: usize, cap: Duration) -> anyhow::Result<Timing> {
    let python = venv.join("bin/python");
    let stderr_file = tempfile::tempfile().context("cannot create a temporary file")?;
    let mut child = Command::new(&python)
        .arg(script)
        .args(["--repeat", &repeat.to_string(), "--budget-seconds", &cap.as_secs_f64().to_string(), "--home", HOME])
        .args(workload.cases.iter().map(|case| &case.dir))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr_file.try_clone().context("cannot share the temporary file")?)
        .spawn()
        .with_context(|| format!("cannot run {}", python.display()))?;
    let stdout = child.stdout.take().context("piped stdout")?;
    let (sender, receiver) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut seconds = Vec::new();
    let mut sections = 0;
    let mut cut = false;
    loop {
        match receiver.recv_timeout(cap) {
            Ok(line) => {
                let repetition = parse_line(&line.context("reading profile_timing.py")?)?;
                seconds.push(repetition.seconds);
                sections = repetition.sections;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                cut = true;
                // Our own child, by its handle: nothing else is touched.
                let _ = child.kill();
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child.wait().context("waiting for profile_timing.py")?;
    let _ = reader.join();
    if cut || seconds.iter().any(|&s| s > cap.as_secs_f64()) {
        return Ok(Timing::Cut { cap_seconds: cap.as_secs_f64() });
    }
    if !status.success() || seconds.is_empty() {
        let mut stderr_file = stderr_file;
        let mut text = String::new();
        std::io::Seek::rewind(&mut stderr_file).ok();
        std::io::Read::read_to_string(&mut stderr_file, &mut text).ok();
        let tail: String = text.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        bail!("{} {} failed ({status}):\n{tail}", python.display(), script.display());
    }
    Ok(Timing::Done { seconds, sections })
}
