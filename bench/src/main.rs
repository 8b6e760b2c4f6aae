//! `bench`: the load benchmark of our master against the Python slapproxy
//! of slapos.core, side by side in one run (see `bench/README.md`).
//!
//! It starts each server itself (`PROGRAM proxy start --cfg CFG` on a free
//! 127.0.0.1 port, fresh temporary directory and database per scenario),
//! measures instance requests per second with allocation and idempotent
//! re-requests at several concurrencies, `getFullComputerInformation`
//! latency on a computer with many allocated slots, and the servers'
//! resident memory, then prints one table with ratios and whether the
//! issue's targets are met. Targets are never enforced: the exit status is
//! 0 when every measurement ran, 1 when one could not (a server did not
//! start, died, or refused the format), 2 on usage errors.
//!
//! Every loop is bounded by a request count and a duration; servers are
//! killed by pid when their scenario ends, fails, or on Ctrl-C / SIGTERM.
//! The load generator is in Rust because a Python one would saturate
//! before our server does.

mod http1;
mod load;
mod report;
mod scenario;
mod server;
mod slap;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;

use crate::load::{Bounds, Driver};
use crate::report::ServerResults;
use crate::scenario::Settings;
use crate::server::{Kind, Launcher};

/// Which servers a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Servers {
    /// Both, side by side (the comparison).
    Both,
    /// Only the Python slapproxy.
    Slapproxy,
    /// Only ours.
    SlaposRs,
}

/// Side-by-side load benchmark: slapos-rs master vs the Python slapproxy.
#[derive(Debug, Parser)]
#[command(name = "bench", version)]
struct Args {
    /// Our `slapos` binary (run as `BIN proxy start --cfg CFG`).
    #[arg(
        long,
        value_name = "BIN",
        env = "SLAPOS_BENCH_SLAPOS",
        default_value = "/var/cache/slapos-rs/target/release/slapos"
    )]
    slapos: PathBuf,
    /// The reference venv holding slapos.core (its `bin/slapos` runs the Python slapproxy).
    #[arg(long, value_name = "DIR", env = "SLAPOS_VENV", default_value = "/var/cache/slapos-rs/venv")]
    venv: PathBuf,
    /// Which servers to measure.
    #[arg(long, value_enum, default_value_t = Servers::Both)]
    servers: Servers,
    /// Concurrent clients of the request measurements, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    clients: Vec<usize>,
    /// Requests started at most per request measurement.
    #[arg(long, default_value_t = 3000)]
    requests_max: usize,
    /// Seconds at most per request measurement (no request starts later).
    #[arg(long, default_value_t = 8.0)]
    seconds_max: f64,
    /// Slots formatted before the request measurements (new requests stop when they are all allocated).
    #[arg(long, default_value_t = 3000)]
    partitions: usize,
    /// Slots formatted and allocated before timing getFullComputerInformation.
    #[arg(long, default_value_t = 1000)]
    computer_partitions: usize,
    /// Concurrent clients allocating those slots.
    /// (1 by default: the Python slapproxy gives one slot to two concurrent
    /// new requests, which would leave slots free.)
    #[arg(long, default_value_t = 1)]
    setup_clients: usize,
    /// Seconds at most to allocate them.
    #[arg(long, default_value_t = 120.0)]
    setup_seconds_max: f64,
    /// getFullComputerInformation calls at most.
    #[arg(long, default_value_t = 1000)]
    latency_requests_max: usize,
    /// Seconds at most of getFullComputerInformation calls.
    #[arg(long, default_value_t = 20.0)]
    latency_seconds_max: f64,
    /// Longest wait for one answer, in seconds.
    #[arg(long, default_value_t = 60.0)]
    request_timeout: f64,
    /// Seconds a fresh server idles before its memory is read.
    #[arg(long, default_value_t = 1.0)]
    idle_seconds: f64,
    /// Longest wait for a server to answer after start, in seconds.
    #[arg(long, default_value_t = 60.0)]
    startup_timeout: f64,
    /// Keep every server's log in this directory (created if missing).
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// Also write the numbers to this JSON file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// The validated run: what to start and what to measure.
struct Plan {
    launchers: Vec<Launcher>,
    settings: Settings,
    json: Option<PathBuf>,
}

fn seconds(name: &str, value: f64) -> anyhow::Result<Duration> {
    if !(value.is_finite() && value > 0.0 && value <= 3600.0) {
        bail!("--{name} must be a number of seconds in (0, 3600], got {value}");
    }
    Ok(Duration::from_secs_f64(value))
}

fn plan(args: Args) -> anyhow::Result<Plan> {
    if args.clients.is_empty() || args.clients.iter().any(|&c| c == 0 || c > 1024) {
        bail!("--clients must list concurrencies in 1..=1024, got {:?}", args.clients);
    }
    for (name, value) in [
        ("requests-max", args.requests_max),
        ("partitions", args.partitions),
        ("computer-partitions", args.computer_partitions),
        ("setup-clients", args.setup_clients),
        ("latency-requests-max", args.latency_requests_max),
    ] {
        if value == 0 || value > 1_000_000 {
            bail!("--{name} must be in 1..=1000000, got {value}");
        }
    }
    let startup_timeout = seconds("startup-timeout", args.startup_timeout)?;
    if let Some(dir) = &args.log_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let log_dir = args.log_dir.clone();
    let python = Launcher {
        kind: Kind::Slapproxy,
        program: args.venv.join("bin").join("slapos"),
        startup_timeout,
        log_dir: log_dir.clone(),
    };
    let ours = Launcher {
        kind: Kind::SlaposRs,
        program: args.slapos.clone(),
        startup_timeout,
        log_dir,
    };
    let launchers = match args.servers {
        Servers::Both => vec![python, ours],
        Servers::Slapproxy => vec![python],
        Servers::SlaposRs => vec![ours],
    };
    for launcher in &launchers {
        if !launcher.program.is_file() {
            bail!(
                "{} program {} does not exist (build it, or run tests/python/setup-venv.sh for the venv)",
                launcher.kind.label(),
                launcher.program.display()
            );
        }
    }
    let settings = Settings {
        clients: args.clients,
        request_bounds: Bounds {
            requests_max: args.requests_max,
            duration_max: seconds("seconds-max", args.seconds_max)?,
        },
        partitions: args.partitions,
        computer_partitions: args.computer_partitions,
        setup_clients: args.setup_clients,
        setup_duration_max: seconds("setup-seconds-max", args.setup_seconds_max)?,
        latency_bounds: Bounds {
            requests_max: args.latency_requests_max,
            duration_max: seconds("latency-seconds-max", args.latency_seconds_max)?,
        },
        idle_settle: seconds("idle-seconds", args.idle_seconds)?,
        driver: Driver {
            request_timeout: seconds("request-timeout", args.request_timeout)?,
        },
    };
    Ok(Plan {
        launchers,
        settings,
        json: args.json,
    })
}

/// Runs every scenario, interleaving the servers scenario by scenario so
/// that both see the machine in the same state.
async fn run_all(plan: &Plan) -> anyhow::Result<Vec<ServerResults>> {
    let mut results: Vec<ServerResults> = plan
        .launchers
        .iter()
        .map(|launcher| ServerResults {
            kind: launcher.kind,
            program: launcher.program.display().to_string(),
            requests: Vec::new(),
            computer: None,
        })
        .collect();
    let settings = &plan.settings;
    for &clients in &settings.clients {
        for (launcher, result) in plan.launchers.iter().zip(&mut results) {
            eprintln!("bench: {}: requests at {clients} clients", launcher.kind.label());
            let run = scenario::requests(launcher, settings, clients)
                .await
                .with_context(|| format!("{}: request scenario at {clients} clients", launcher.kind.label()))?;
            eprintln!(
                "bench: {}: {} new ({:.1}/s), {} re-requests ({:.1}/s), {} failed",
                launcher.kind.label(),
                run.new.ok(),
                run.new.rate_per_s(),
                run.again.ok(),
                run.again.rate_per_s(),
                run.new.failed() + run.again.failed()
            );
            result.requests.push(run);
        }
    }
    for (launcher, result) in plan.launchers.iter().zip(&mut results) {
        eprintln!(
            "bench: {}: getFullComputerInformation with {} allocated",
            launcher.kind.label(),
            settings.computer_partitions
        );
        let run = scenario::computer(launcher, settings)
            .await
            .with_context(|| format!("{}: computer scenario", launcher.kind.label()))?;
        eprintln!(
            "bench: {}: {}/{} allocated, {} polls, p50 {:.1} ms",
            launcher.kind.label(),
            run.allocated,
            run.partitions,
            run.latency.ok(),
            run.latency.latency_ms(0.5).unwrap_or(f64::NAN)
        );
        result.computer = Some(run);
    }
    Ok(results)
}

/// CPU model, core count and kernel, for the report.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
        .unwrap_or_else(|| "unknown cpu".to_owned());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{model}, {cores} cores available, Linux {}", kernel.trim())
}

/// The 1, 5 and 15 minute load averages: other work on the machine skews
/// every wall-clock number, so the report shows them.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let averages: Vec<&str> = text.split_whitespace().take(3).collect();
    if averages.len() == 3 {
        averages.join(" ")
    } else {
        "unknown".to_owned()
    }
}

/// Resolves on SIGTERM or SIGINT, so that the servers' guards run.
async fn interrupted() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

async fn run(plan: Plan) -> anyhow::Result<()> {
    let load_before = load_average();
    let results = tokio::select! {
        results = run_all(&plan) => results?,
        signal = interrupted() => {
            signal?;
            bail!("interrupted");
        }
    };
    let machine = format!("{}; load average before {load_before}, after {}", machine(), load_average());
    let mut stdout = std::io::stdout().lock();
    report::write_table(&mut stdout, &machine, &plan.settings, &results).context("cannot write the report")?;
    stdout.flush().context("cannot write the report")?;
    if let Some(path) = &plan.json {
        let document = report::to_json(&machine, &plan.settings, &results);
        let text = serde_json::to_string_pretty(&document).context("cannot serialize the report")?;
        std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let plan = match plan(args) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("bench: {error:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("bench: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(plan)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
