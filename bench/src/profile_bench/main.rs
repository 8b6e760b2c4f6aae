//! `profile-bench`: the profile benchmark of issue #4 (see
//! `bench/README.md`): resolve time of our profile engine against
//! zc.buildout 3.0.1 (the version SlapOS builds on) and 6.0.1, side by
//! side in one run, on the differential corpus, on a generated tree shaped
//! like a real SlapOS software release and on a large generated profile.
//!
//! Each workload is timed in process (the library call), through the
//! `slapos` binary (`slapos --json profile resolve`, one process per
//! profile) and by each zc.buildout in its own venv
//! (`bench/profile_timing.py`, which reuses the differential harness's
//! loading code). Repetitions are bounded, medians reported; a zc.buildout
//! repetition over the cap is killed and shown as "> N s". Targets are
//! printed as met / NOT met and never enforced: the exit status is 0 when
//! everything ran, 1 when something could not run, 2 on usage errors.

mod report;
mod timing;
mod workload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use profile::python::PythonEnv;

use crate::report::Row;
use crate::timing::Timing;
use crate::workload::{TreeShape, Workload};

/// Profile resolve benchmark: slapos-rs vs zc.buildout 3.0.1 and 6.0.1.
#[derive(Debug, Parser)]
#[command(name = "profile-bench", version)]
struct Args {
    /// Our `slapos` binary (run as `BIN --json profile resolve ROOT`).
    #[arg(long, value_name = "BIN", env = "SLAPOS_BENCH_SLAPOS", default_value = "/var/cache/slapos-rs/target/release/slapos")]
    slapos: PathBuf,
    /// The venv holding zc.buildout 6.0.1 (tests/python/setup-venv.sh).
    #[arg(long, value_name = "DIR", env = "SLAPOS_VENV", default_value = "/var/cache/slapos-rs/venv")]
    venv: PathBuf,
    /// The venv holding zc.buildout 3.0.1 (bench/setup-buildout3.sh).
    #[arg(long, value_name = "DIR", env = "SLAPOS_BUILDOUT3_VENV", default_value = "/var/cache/slapos-rs/venv-buildout3")]
    venv_buildout3: PathBuf,
    /// Repetitions of our engine and CLI per workload (median reported).
    #[arg(long, default_value_t = 7)]
    repeat: usize,
    /// Repetitions of each zc.buildout per workload, at most.
    #[arg(long, default_value_t = 3)]
    python_repeat: usize,
    /// Seconds one zc.buildout repetition may take before it is cut.
    #[arg(long, default_value_t = 120.0)]
    python_seconds_max: f64,
    /// Skip zc.buildout (our numbers only, no ratios).
    #[arg(long)]
    no_python: bool,
    /// Seed of the generated trees.
    #[arg(long, default_value_t = 14)]
    seed: u32,
    /// Keep the generated trees in this directory (must not exist yet).
    #[arg(long, value_name = "DIR")]
    keep_trees: Option<PathBuf>,
}

/// The release-shaped tree: the public helloworld release's shape.
const RELEASE_TREE: TreeShape = TreeShape { files: 150, sections: 170, options: 1300, layers: 4, seed: 0 };
/// The large tree: 1000 sections, deep extends chains.
const LARGE_TREE: TreeShape = TreeShape { files: 300, sections: 1000, options: 8000, layers: 16, seed: 0 };

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn check_args(args: &Args) -> anyhow::Result<Duration> {
    if !(1..=1000).contains(&args.repeat) || !(1..=100).contains(&args.python_repeat) {
        bail!("--repeat must be in 1..=1000 and --python-repeat in 1..=100");
    }
    if !(args.python_seconds_max.is_finite() && args.python_seconds_max > 0.0 && args.python_seconds_max <= 3600.0) {
        bail!("--python-seconds-max must be in (0, 3600], got {}", args.python_seconds_max);
    }
    if !args.slapos.is_file() {
        bail!("{} does not exist: build it (cargo build --release -p cli) or pass --slapos", args.slapos.display());
    }
    let interpreters = [&args.venv, &args.venv_buildout3].map(|venv| venv.join("bin/python"));
    for python in interpreters.iter().take(if args.no_python { 1 } else { 2 }) {
        if !python.is_file() {
            bail!("{} does not exist: run tests/python/setup-venv.sh and bench/setup-buildout3.sh", python.display());
        }
    }
    Ok(Duration::from_secs_f64(args.python_seconds_max))
}

/// The interpreter facts of `python`, from its own probe run.
fn probe(python: &Path) -> anyhow::Result<PythonEnv> {
    let output = std::process::Command::new(python)
        .args(["-c", PythonEnv::PROBE_SCRIPT])
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !output.status.success() {
        bail!("{} failed probing its version", python.display());
    }
    PythonEnv::from_probe_json(String::from_utf8_lossy(&output.stdout).trim()).context("unexpected probe answer")
}

fn workloads(args: &Args, python: &Path, trees: &Path) -> anyhow::Result<Vec<Workload>> {
    let root = repo_root();
    let script = root.join("crates/profile/test_data/generate_tree.py");
    let release = TreeShape { seed: args.seed, ..RELEASE_TREE };
    let large = TreeShape { seed: args.seed, ..LARGE_TREE };
    Ok(vec![
        workload::corpus(&root.join("crates/profile/test_data/corpus"))?,
        workload::tree(python, &script, trees, "release-shaped", &release, true)?,
        workload::tree(python, &script, trees, "large", &large, false)?,
    ])
}

fn run(args: &Args) -> anyhow::Result<()> {
    let cap = check_args(args)?;
    let python = args.venv.join("bin/python");
    let temporary = tempfile::tempdir().context("cannot create a temporary directory")?;
    let trees = args.keep_trees.clone().unwrap_or_else(|| temporary.path().to_path_buf());
    let env = probe(&python)?;
    let script = repo_root().join("bench/profile_timing.py");
    let load_before = report::load_average();
    let mut rows = Vec::new();
    for workload in workloads(args, &python, &trees)? {
        eprintln!("profile-bench: {}: {}", workload.name, workload.shape);
        let ours = timing::engine(&workload, &env, args.repeat);
        let cli = if workload.time_cli { timing::cli(&workload, &args.slapos, &python, args.repeat)? } else { Timing::Skipped };
        let mut reference = Vec::new();
        for venv in [&args.venv_buildout3, &args.venv] {
            let timed = if args.no_python {
                Timing::Skipped
            } else {
                eprintln!("profile-bench: {}: zc.buildout of {}", workload.name, venv.display());
                timing::zc_buildout(&workload, venv, &script, args.python_repeat, cap)?
            };
            reference.push(timed);
        }
        let [buildout3, buildout6] = <[Timing; 2]>::try_from(reference).map_err(|_| anyhow::anyhow!("two references"))?;
        rows.push(Row { workload, ours, cli, buildout3, buildout6 });
    }
    let text = report::render(&rows, load_before, report::load_average(), args.repeat, args.python_repeat);
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (e.g. `| head`) is no failure of the benchmark.
    let _ = std::io::Write::write_all(&mut stdout, text.as_bytes());
    Ok(())
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("profile-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}
