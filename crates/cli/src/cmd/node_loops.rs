//! `slapos node format`, `slapos node software` and `slapos node
//! instance`: one run of the node's format step or of its software or
//! instance loop (`node::format`, `node::software`, `node::instance`) with
//! the configuration of `slapos.cfg`, as cron runs the real ones. Exit
//! status as the real node: 0 all went well, 1 a release or partition
//! failed (the others were still processed); format exits 2 when the
//! master did not take the description.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use client::{ClientConfig, MasterUrl, SlapClient};
use node::build::Engine;
use node::config::{NodeConfig, Sections};
use serde::Serialize;

use crate::cmd::profile::probe::probe_python;
use crate::fetch::{FetchArgs, HttpFetch};
use crate::ini::Ini;
use crate::output::Output;

/// Where `slapos.cfg` is looked for when `--cfg` is not given.
const CONFIG_DEFAULT: &str = "/etc/opt/slapos/slapos.cfg";

/// Options shared by the node's loops.
#[derive(Debug, clap::Args)]
pub(crate) struct LoopArgs {
    /// The node's configuration (default: $SLAPOS_CONFIGURATION, else /etc/opt/slapos/slapos.cfg).
    #[arg(long)]
    cfg: Option<PathBuf>,
    /// Process everything, even what is up to date.
    #[arg(long)]
    force: bool,
    /// Only these releases (URL or directory name) or partitions; repeat or separate with commas.
    #[arg(long, alias = "only-sr", alias = "only-cp", value_delimiter = ',')]
    only: Vec<String>,
    /// The Python interpreter profiles' conditions test.
    #[arg(long, env = "SLAPOS_PYTHON", default_value = "python3")]
    python: String,
    #[command(flatten)]
    fetch: FetchArgs,
}

/// Options of `slapos node format`.
#[derive(Debug, clap::Args)]
pub(crate) struct FormatArgs {
    /// The node's configuration (default: $SLAPOS_CONFIGURATION, else /etc/opt/slapos/slapos.cfg).
    #[arg(long)]
    cfg: Option<PathBuf>,
    /// Show what would be done; change nothing, tell the master nothing.
    #[arg(short = 'n', long, alias = "dry_run")]
    dry_run: bool,
    /// Accepted for compatibility: this node never waits before formatting.
    #[arg(long)]
    now: bool,
}

/// `slapos node format`.
pub(crate) async fn format(args: FormatArgs) -> anyhow::Result<Output> {
    let (path, sections) = read_config(args.cfg.clone())?;
    let (config, client) = node_and_client(&sections, &path)?;
    let format = node::config::FormatConfig::from_sections(&sections).with_context(|| format!("in {}", path.display()))?;
    let mut options = node::format::FormatOptions { dry_run: args.dry_run, ..node::format::FormatOptions::default() };
    if let Some(user) = sections.get("slapformat").and_then(|keys| keys.get("software_user")).filter(|u| !u.trim().is_empty()) {
        options.software_user = user.trim().to_owned();
    }
    match node::format::format(&format, &config, &client, &options).await {
        Ok(report) => {
            let human = format!(
                "{}: {} partition(s), {} created, {} file(s) written{}",
                report.computer.reference,
                format.partition_amount,
                report.created_partitions.len(),
                report.written_files.len(),
                if report.posted { ", declared to the master" } else { " (dry run: nothing sent)" }
            );
            Ok(Output::new(&report, human))
        }
        Err(error @ node::format::FormatError::Post { .. }) => {
            eprintln!("slapos: error: {error}");
            Ok(Output::new(&serde_json::json!({ "error": error.to_string() }), String::new()).with_exit_code(2))
        }
        Err(error) => Err(anyhow::Error::new(error).context("slapos failed to prepare the computer.")),
    }
}

/// Options of `slapos node software`.
#[derive(Debug, clap::Args)]
pub(crate) struct SoftwareArgs {
    #[command(flatten)]
    common: LoopArgs,
    /// Also delete the builds of releases this node no longer supplies.
    #[arg(long)]
    garbage_collect: bool,
}

/// Options of `slapos node run`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    common: LoopArgs,
    /// Seconds between two software rounds.
    #[arg(long, default_value_t = 60)]
    software_period: u64,
    /// Seconds between two instance rounds.
    #[arg(long, default_value_t = 60)]
    instance_period: u64,
    /// Seconds between two report rounds.
    #[arg(long, default_value_t = 3600)]
    report_period: u64,
}

/// `slapos node run`: the agent, until SIGTERM or Ctrl-C (the services
/// keep running in the supervisor).
pub(crate) async fn run(args: RunArgs) -> anyhow::Result<Output> {
    let (path, sections) = read_config(args.common.cfg.clone())?;
    let (config, client) = node_and_client(&sections, &path)?;
    let engine = engine(&args.common).await?;
    let services = crate::cmd::node_supervisor::connect(&path, &config.instance_root).await?;
    let periods = node::agent::Periods {
        software: std::time::Duration::from_secs(args.software_period),
        instance: std::time::Duration::from_secs(args.instance_period),
        report: std::time::Duration::from_secs(args.report_period),
    };
    let mut report = AgentReport { config: &config, client: &client, services: &services };
    tracing::info!(computer = %config.computer_id, master = %config.master_url, "node agent running");
    node::agent::run(&config, &client, &engine, &services, &mut report, periods, crate::cmd::proxy::shutdown_signal()).await;
    Ok(Output::new(&serde_json::json!({ "stopped": true }), "node agent stopped; services keep running".to_owned()))
}

/// The node of `slapos standalone`: formatted, then the agent until
/// SIGTERM or Ctrl-C.
pub(crate) async fn run_standalone_node(cfg: &std::path::Path, python: &str, software_period: u64, instance_period: u64) -> anyhow::Result<()> {
    let formatted = format(FormatArgs { cfg: Some(cfg.to_path_buf()), dry_run: false, now: true }).await?;
    crate::output::line(&formatted.human);
    anyhow::ensure!(formatted.exit_code == 0, "the local node could not be declared to the master");
    let common = LoopArgs { cfg: Some(cfg.to_path_buf()), force: false, only: Vec::new(), python: python.to_owned(), fetch: FetchArgs::default() };
    run(RunArgs { common, software_period, instance_period, report_period: 3600 }).await.map(drop)
}

/// The agent's report round.
struct AgentReport<'a> {
    config: &'a NodeConfig,
    client: &'a SlapClient,
    services: &'a crate::cmd::node_supervisor::Services,
}

impl node::agent::ReportRound for AgentReport<'_> {
    async fn report(&mut self) -> Result<(), String> {
        let outcome = report_once(self.config, self.client, self.services).await.map_err(|e| e.to_string())?;
        match outcome.exit_code() {
            0 => Ok(()),
            _ => Err(report_lines(&outcome).into_iter().filter_map(|line| line.error).collect::<Vec<_>>().join("; ")),
        }
    }
}

/// One report round: usage (measured with the supervisor's pids) and
/// destruction of partitions the master asks to destroy.
async fn report_once(
    config: &NodeConfig,
    client: &SlapClient,
    services: &crate::cmd::node_supervisor::Services,
) -> anyhow::Result<node::report::ReportOutcome> {
    let pids = services.pids().await.unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot list the supervised processes; usage counts none");
        std::collections::BTreeMap::new()
    });
    let mut options = node::report::ReportOptions { pids, ..node::report::ReportOptions::default() };
    if let Some(seconds) = config.partition_timeout {
        options.script_timeout = std::time::Duration::from_secs(seconds);
    }
    Ok(node::report::run(config, client, services, &options, std::time::SystemTime::now()).await?)
}

/// A report's lines: each partition's destruction and errors, then the usage post.
fn report_lines(outcome: &node::report::ReportOutcome) -> Vec<Line> {
    use node::report::{Destruction, UsagePost};
    let mut lines: Vec<Line> = outcome
        .partitions
        .iter()
        .map(|partition| {
            let (state, mut errors) = match &partition.destruction {
                Destruction::NotRequested => (format!("{} movement(s)", partition.movements), Vec::new()),
                Destruction::Destroyed { .. } => ("destroyed".to_owned(), Vec::new()),
                Destruction::RetentionLocked { until_unix_seconds } => (format!("kept until {until_unix_seconds:.0} (retention lock)"), Vec::new()),
                Destruction::Skipped(why) => (format!("not destroyed yet: {why}"), Vec::new()),
                Destruction::Failed(error) => ("destruction failed".to_owned(), vec![error.clone()]),
            };
            errors.extend(partition.errors.iter().cloned());
            Line { name: partition.partition.clone(), outcome: state, error: (!errors.is_empty()).then(|| errors.join("\n")) }
        })
        .collect();
    let (usage, error) = match &outcome.usage {
        UsagePost::Nothing => ("nothing to send".to_owned(), None),
        UsagePost::Posted { movements, files } => (format!("{movements} movement(s) sent ({files} file(s))"), None),
        UsagePost::Failed(error) => ("not sent".to_owned(), Some(error.clone())),
    };
    lines.push(Line { name: "usage".to_owned(), outcome: usage, error });
    lines
}

/// `slapos node report`.
pub(crate) async fn report(args: LoopArgs) -> anyhow::Result<Output> {
    let (path, sections) = read_config(args.cfg.clone())?;
    let (config, client) = node_and_client(&sections, &path)?;
    let _lock = lock(&config, node::lock::Loop::Report)?;
    let services = crate::cmd::node_supervisor::connect(&path, &config.instance_root).await?;
    let outcome = report_once(&config, &client, &services).await?;
    let code = u8::try_from(outcome.exit_code()).unwrap_or(1);
    Ok(output(report_lines(&outcome)).with_exit_code(code))
}

/// Takes `which` loop's lock. Another run holding it is an error `main`
/// turns into the real node's answer: its message and exit status 10.
fn lock(config: &NodeConfig, which: node::lock::Loop) -> anyhow::Result<node::lock::LoopLock> {
    Ok(node::lock::LoopLock::acquire(&which.path(config))?)
}

/// The parsed configuration file.
pub(crate) fn read_config(cfg: Option<PathBuf>) -> anyhow::Result<(PathBuf, Sections)> {
    let path = cfg
        .or_else(|| std::env::var_os("SLAPOS_CONFIGURATION").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(CONFIG_DEFAULT));
    let ini = Ini::read(&path)?;
    Ok((path, ini.to_sections()))
}

/// The node's configuration and its master.
pub(crate) fn node_and_client(sections: &Sections, path: &std::path::Path) -> anyhow::Result<(NodeConfig, SlapClient)> {
    let config = NodeConfig::from_sections(sections).with_context(|| format!("in {}", path.display()))?;
    let url = MasterUrl::parse(&config.master_url).with_context(|| format!("[slapos] master_url in {}", path.display()))?;
    let client = SlapClient::new(ClientConfig::new(url))?;
    Ok((config, client))
}

/// The profile engine as the loops use it. Probing Python and building the
/// fetcher block, so this runs on a blocking thread. A root node runs
/// partition profiles as their users through `slapos node buildout`.
async fn engine(args: &LoopArgs) -> anyhow::Result<Engine> {
    let handle = tokio::runtime::Handle::current();
    let (python, fetch) = (args.python.clone(), args.fetch.clone());
    let slap_handle = handle.clone();
    let program = std::env::current_exe().context("cannot find the slapos binary")?;
    let buildout_command = ["node", "buildout", "--python", &python].into_iter().map(OsString::from);
    let buildout_command = std::iter::once(program.into_os_string()).chain(buildout_command).collect();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Engine> {
        Ok(Engine {
            fetch: Arc::new(HttpFetch::new(&fetch, handle)?),
            python: probe_python(&python)?,
            slap: Arc::new(node::slap::NodeSlap::new(slap_handle)),
            buildout_command: Some(buildout_command),
        })
    })
    .await
    .context("probing the Python interpreter stopped")?
}

/// `slapos node promise`: the test-mode promises of started partitions,
/// nothing reported; exit 2 when one fails.
pub(crate) async fn promise(args: LoopArgs) -> anyhow::Result<Output> {
    use node::instance::PartitionOutcome;
    let (path, sections) = read_config(args.cfg.clone())?;
    let (config, client) = node_and_client(&sections, &path)?;
    let _lock = lock(&config, node::lock::Loop::Instance)?;
    let engine = engine(&args).await?;
    let results = node::instance::check_promises_only(&config, &client, &engine, &args.only).await?;
    let failed = results.iter().any(|r| matches!(r.outcome, PartitionOutcome::PromiseFailed(_)));
    let lines = results
        .into_iter()
        .filter(|result| result.outcome != PartitionOutcome::Skipped)
        .map(|result| match result.outcome {
            PartitionOutcome::PromiseFailed(message) => Line { name: result.partition, outcome: "promise failed".into(), error: Some(message) },
            _ => Line { name: result.partition, outcome: "promises pass".into(), error: None },
        })
        .collect();
    Ok(output(lines).with_exit_code(if failed { 2 } else { 0 }))
}

/// Options of `slapos node bang`.
#[derive(Debug, clap::Args)]
pub(crate) struct BangArgs {
    /// The node's configuration (default: $SLAPOS_CONFIGURATION, else /etc/opt/slapos/slapos.cfg).
    #[arg(long)]
    cfg: Option<PathBuf>,
    /// What happened to the compute node.
    #[arg(short, long)]
    message: String,
}

/// `slapos node bang -m MSG`: tells the master something happened to the
/// whole node (every instance on it is processed again).
pub(crate) async fn bang(args: BangArgs) -> anyhow::Result<Output> {
    let (path, sections) = read_config(args.cfg.clone())?;
    let (config, client) = node_and_client(&sections, &path)?;
    tracing::info!("Banging to '{}'", config.master_url);
    client.computer_bang(&config.computer_id, &args.message).await?;
    Ok(Output::new(&serde_json::json!({ "banged": config.master_url, "message": args.message }), format!("Bang with message '{}'", args.message)))
}

/// `slapos node boot` (spec §9): after a reboot, format the node again,
/// tell the master (`Reboot`), and forget every partition's timestamp so
/// the next instance run restarts everything.
pub(crate) async fn boot(args: FormatArgs) -> anyhow::Result<Output> {
    let (path, sections) = read_config(args.cfg.clone())?;
    let (config, client) = node_and_client(&sections, &path)?;
    let formatted = format(FormatArgs { cfg: args.cfg.clone(), dry_run: false, now: true }).await?;
    anyhow::ensure!(formatted.exit_code == 0, "[BOOT] the node could not be formatted");
    client.computer_bang(&config.computer_id, "Reboot").await.context("[BOOT] cannot tell the master about the reboot")?;
    let base = node::config::FormatConfig::from_sections(&sections)?.partition_base_name;
    let mut forgotten = 0;
    for entry in std::fs::read_dir(&config.instance_root).with_context(|| format!("cannot read {}", config.instance_root.display()))?.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&base) && std::fs::remove_file(entry.path().join(".timestamp")).is_ok() {
            forgotten += 1;
        }
    }
    Ok(Output::new(
        &serde_json::json!({ "rebooted": true, "timestamps_removed": forgotten }),
        format!("[BOOT] node formatted, master told, {forgotten} partition(s) will be processed again"),
    ))
}

/// Options of `slapos node buildout` (what a root node runs, as the
/// partition user, to deploy one partition).
#[derive(Debug, clap::Args)]
pub(crate) struct BuildoutArgs {
    /// The Python interpreter profiles' conditions test.
    #[arg(long, env = "SLAPOS_PYTHON", default_value = "python3")]
    python: String,
    /// The directory holding the `buildout.cfg` to run (a partition, or a
    /// release being built).
    directory: PathBuf,
    /// Assignments `section:option=value`, applied last.
    assignments: Vec<String>,
}

/// `slapos node buildout DIR`: runs `DIR/buildout.cfg` in `DIR` with the
/// SlapOS recipes; the log on stdout, the error on stderr, exit 1 on
/// failure.
pub(crate) async fn buildout(args: BuildoutArgs) -> anyhow::Result<Output> {
    let common = LoopArgs { cfg: None, force: false, only: Vec::new(), python: args.python, fetch: FetchArgs::default() };
    let mut engine = engine(&common).await?;
    engine.buildout_command = None;
    // A partition's run: its requests are recorded under the instance root.
    if let Some(root) = std::env::var_os("SLAPGRID_INSTANCE_ROOT").filter(|root| !root.is_empty()) {
        engine.slap = Arc::new(node::slap::NodeSlap::new(tokio::runtime::Handle::current()).with_instance_root(root.into()));
    }
    let directory = args.directory;
    let profile = directory.join("buildout.cfg");
    let assignments = args.assignments;
    let ran = tokio::task::spawn_blocking(move || node::build::run_profile(&engine, &profile, &directory, &assignments))
        .await
        .context("the profile run stopped")?;
    match ran {
        Ok(log) => Ok(Output::new(&serde_json::json!({ "log": log }), log.clone())),
        Err(failure) => {
            crate::output::line(failure.log.trim_end());
            eprintln!("{}", failure.message);
            Ok(Output::empty().with_exit_code(1))
        }
    }
}

#[derive(Debug, Serialize)]
struct Line {
    name: String,
    outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn output(lines: Vec<Line>) -> Output {
    let failed = lines.iter().any(|line| line.error.is_some());
    let human = lines
        .iter()
        .map(|line| match &line.error {
            Some(error) => format!("{}: {}\n  {}", line.name, line.outcome, error.trim_end().replace('\n', "\n  ")),
            None => format!("{}: {}", line.name, line.outcome),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let output = Output::new(&lines, human);
    if failed {
        output.with_exit_code(1)
    } else {
        output
    }
}

/// `slapos node software`.
pub(crate) async fn software(args: SoftwareArgs) -> anyhow::Result<Output> {
    use node::software::SoftwareOutcome;
    let (path, sections) = read_config(args.common.cfg.clone())?;
    let (config, client) = node_and_client(&sections, &path)?;
    let _lock = lock(&config, node::lock::Loop::Software)?;
    let engine = engine(&args.common).await?;
    let options = node::software::SoftwareOptions { force: args.common.force, only: args.common.only.clone(), garbage_collect: args.garbage_collect };
    let results = node::software::run(&config, &client, &engine, &options, None).await?;
    let lines = results
        .into_iter()
        .map(|result| {
            let (outcome, error) = match result.outcome {
                SoftwareOutcome::Built => ("built", None),
                SoftwareOutcome::Completed => ("already built", None),
                SoftwareOutcome::Destroyed => ("destroyed", None),
                SoftwareOutcome::Skipped => ("skipped", None),
                SoftwareOutcome::Failed(message) => ("failed", Some(message)),
            };
            Line { name: result.url, outcome: outcome.to_owned(), error }
        })
        .collect();
    Ok(output(lines))
}

/// `slapos node instance`.
pub(crate) async fn instance(args: LoopArgs) -> anyhow::Result<Output> {
    use node::instance::PartitionOutcome;
    let (path, sections) = read_config(args.cfg.clone())?;
    let (config, client) = node_and_client(&sections, &path)?;
    let _lock = lock(&config, node::lock::Loop::Instance)?;
    let engine = engine(&args).await?;
    let services = crate::cmd::node_supervisor::connect(&path, &config.instance_root).await?;
    let options = node::instance::InstanceOptions { force: args.force, only: args.only.clone() };
    let results = match node::instance::run(&config, &client, &engine, &services, &options).await {
        Ok(results) => results,
        // Offline (spec §5.1): the services keep running as they are.
        Err(node::instance::InstanceError::Master(error @ client::ClientError::Connection { .. })) => {
            eprintln!("slapos: the master is unreachable, services are kept as they are: {error}");
            return Ok(Output::new(&serde_json::json!({ "offline": error.to_string() }), String::new()).with_exit_code(3));
        }
        Err(error) => return Err(error.into()),
    };
    // The real node's exit status: 1 when a partition failed, else 2 when
    // only promises failed.
    let code = if results.iter().any(|r| matches!(r.outcome, PartitionOutcome::Failed(_))) {
        1
    } else if results.iter().any(|r| matches!(r.outcome, PartitionOutcome::PromiseFailed(_))) {
        2
    } else {
        0
    };
    let lines = results
        .into_iter()
        .map(|result| {
            let (outcome, error) = match result.outcome {
                PartitionOutcome::Free => ("free", None),
                PartitionOutcome::UpToDate => ("up to date", None),
                PartitionOutcome::Started => ("started", None),
                PartitionOutcome::Stopped => ("stopped", None),
                PartitionOutcome::Skipped => ("skipped", None),
                PartitionOutcome::Failed(message) => ("failed", Some(message)),
                PartitionOutcome::PromiseFailed(message) => ("promise failed", Some(message)),
            };
            Line { name: result.partition, outcome: outcome.to_owned(), error }
        })
        .collect();
    Ok(output(lines).with_exit_code(code))
}
