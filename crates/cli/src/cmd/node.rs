//! `slapos node register COMPUTER_ID --master-url URL`: ours, not the
//! ERP5 token flow of the Python CLI. Creates the compute node on the master
//! with `loadComputerConfigurationFromXML` (`--partition-number` partitions
//! `slappart0…`, no addresses yet: `node format` assigns them) **only** when
//! `getFullComputerInformation` says it is unknown (404) or has no
//! partition: formatting a known node with fewer slots would drop its
//! partitions and their instances. Then writes the node's `slapos.cfg`
//! (`[slapos] master_url, computer_id, software_root, instance_root`),
//! refusing to replace a different existing file without `--overwrite`.
//!
//! The Python slapproxy answers 500 (not 404) for an unknown compute node;
//! that is reported as an error rather than guessed to mean "unknown".

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context};
use client::{ClientConfig, ClientError, MasterUrl, SlapClient};
use proto::Value;
use serde::Serialize;

use super::node_supervisor::Verb;
use crate::output::Output;
use crate::Ctx;

/// `slapos node` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Register a compute node on the master and write its slapos.cfg.
    Register(RegisterArgs),
    /// Create this node's partitions and declare them to the master.
    Format(super::node_loops::FormatArgs),
    /// Build the software releases the master asks this node to supply.
    Software(super::node_loops::SoftwareArgs),
    /// Deploy this node's partitions and start or stop their services.
    Instance(super::node_loops::LoopArgs),
    /// Run the promises of started partitions (nothing reported).
    Promise(super::node_loops::LoopArgs),
    /// Tell the master something happened to this whole compute node.
    Bang(super::node_loops::BangArgs),
    /// After a reboot: format again, tell the master, reprocess every partition.
    Boot(super::node_loops::FormatArgs),
    /// Report usage and destroy the partitions the master asks to destroy.
    Report(super::node_loops::LoopArgs),
    /// Run the node agent: software, instance and report rounds, until stopped.
    Run(super::node_loops::RunArgs),
    /// Run one partition's profile (a root node runs it as the partition user).
    #[command(hide = true)]
    Buildout(super::node_loops::BuildoutArgs),
    /// Run the node's supervisor (launched on demand by the other commands).
    Supervisord(super::node_supervisor::SupervisordArgs),
    /// Show the state of the partitions' processes.
    Status(super::node_supervisor::ControlArgs),
    /// Start processes (P:name, P:* or all).
    Start(super::node_supervisor::ControlArgs),
    /// Stop processes (P:name, P:* or all).
    Stop(super::node_supervisor::ControlArgs),
    /// Restart processes (P:name, P:* or all).
    Restart(super::node_supervisor::ControlArgs),
    /// Show the end of a process's log.
    Tail(super::node_supervisor::TailArgs),
}

/// Options of `slapos node register`.
#[derive(Debug, clap::Args)]
pub(crate) struct RegisterArgs {
    /// The compute node's id (wire: computer_id), e.g. COMP-1234.
    computer_id: String,
    /// URL of the master (classic API).
    #[arg(long, env = "SLAPOS_MASTER_URL")]
    master_url: String,
    /// Number of partitions to create.
    #[arg(long, default_value_t = 10)]
    partition_number: usize,
    /// Network the node belongs to, for SLAs with `network_guid` or `mode=unique_by_network`.
    #[arg(long)]
    network: Option<String>,
    /// Network interface the partitions' addresses will live on.
    #[arg(long, default_value = "lo")]
    interface_name: String,
    /// Where software releases are built.
    #[arg(long, default_value = "/opt/slapgrid")]
    software_root: PathBuf,
    /// Where partitions live.
    #[arg(long, default_value = "/srv/slapgrid")]
    instance_root: PathBuf,
    /// The node configuration file to write.
    #[arg(long, default_value = "/etc/opt/slapos/slapos.cfg")]
    cfg_output: PathBuf,
    /// Replace an existing, different configuration file.
    #[arg(long)]
    overwrite: bool,
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
struct RegisterReport {
    computer_id: String,
    master_url: String,
    /// Whether this run created the partitions (false: already there).
    created: bool,
    partition_count: usize,
    config_path: PathBuf,
}

/// The partition count bounds we accept.
const PARTITION_NUMBER_MAX: usize = 10_000;

/// Runs one `slapos node` subcommand.
pub(crate) async fn run(command: Command, ctx: &Ctx) -> anyhow::Result<Output> {
    match command {
        Command::Register(args) => register(args, ctx).await,
        Command::Format(args) => super::node_loops::format(args).await,
        Command::Software(args) => super::node_loops::software(args).await,
        Command::Instance(args) => super::node_loops::instance(args).await,
        Command::Report(args) => super::node_loops::report(args).await,
        Command::Promise(args) => super::node_loops::promise(args).await,
        Command::Bang(args) => super::node_loops::bang(args).await,
        Command::Boot(args) => super::node_loops::boot(args).await,
        Command::Buildout(args) => super::node_loops::buildout(args).await,
        Command::Run(args) => super::node_loops::run(args).await,
        Command::Supervisord(args) => super::node_supervisor::supervisord(args).await,
        Command::Status(args) => super::node_supervisor::control(Verb::Status, args).await,
        Command::Start(args) => super::node_supervisor::control(Verb::Start, args).await,
        Command::Stop(args) => super::node_supervisor::control(Verb::Stop, args).await,
        Command::Restart(args) => super::node_supervisor::control(Verb::Restart, args).await,
        Command::Tail(args) => super::node_supervisor::tail(args).await,
    }
}

async fn register(args: RegisterArgs, _ctx: &Ctx) -> anyhow::Result<Output> {
    ensure!(!args.computer_id.trim().is_empty(), "the compute node id must not be empty");
    ensure!(
        (1..=PARTITION_NUMBER_MAX).contains(&args.partition_number),
        "--partition-number {}: expected 1 to {PARTITION_NUMBER_MAX}",
        args.partition_number
    );
    let master_url = MasterUrl::parse(&args.master_url).context("--master-url")?;
    let client = SlapClient::new(ClientConfig::new(master_url.clone()))?;
    let known_partitions = known_partition_count(&client, &args.computer_id).await?;
    let created = known_partitions == 0;
    let partition_count = if created {
        let answer = client
            .load_computer_configuration(&description(&args))
            .await
            .with_context(|| format!("cannot create compute node {} on {master_url}", args.computer_id))?;
        tracing::info!(computer = %args.computer_id, answer = %answer.trim(), "compute node formatted");
        let count = known_partition_count(&client, &args.computer_id).await?;
        ensure!(
            count == args.partition_number,
            "{master_url}: compute node {} has {count} partitions after registration, expected {}",
            args.computer_id,
            args.partition_number
        );
        count
    } else {
        known_partitions
    };
    write_config(&args, &master_url)?;
    let human = if created {
        format!("Compute node {} registered on {master_url} with {partition_count} partitions.\n", args.computer_id)
    } else {
        format!(
            "Compute node {} already exists on {master_url} with {partition_count} partitions: left as it is.\n",
            args.computer_id
        )
    } + &format!("Configuration written to {}.\n", args.cfg_output.display());
    let report = RegisterReport {
        computer_id: args.computer_id,
        master_url: master_url.to_string(),
        created,
        partition_count,
        config_path: args.cfg_output,
    };
    Ok(Output::new(&report, human))
}

/// How many partitions the master knows for `computer_id`; 0 when it does
/// not know the node (404).
async fn known_partition_count(client: &SlapClient, computer_id: &str) -> anyhow::Result<usize> {
    match client.full_computer_information(computer_id).await {
        Ok(computer) => Ok(computer.partitions.len()),
        Err(ClientError::NotFound { .. }) => Ok(0),
        Err(error) => Err(error).with_context(|| {
            format!("cannot tell whether compute node {computer_id} exists (refusing to format it blindly)")
        }),
    }
}

/// The `loadComputerConfigurationFromXML` description: partitions without
/// addresses on `--interface-name`.
fn description(args: &RegisterArgs) -> Value {
    let partitions = (0..args.partition_number)
        .map(|index| {
            Value::dict_from([
                ("reference", Value::str(format!("slappart{index}"))),
                ("address_list", Value::List(Vec::new())),
                ("tap", Value::dict_from([("name", Value::str(&args.interface_name))])),
            ])
        })
        .collect();
    let mut description = vec![
        ("reference", Value::str(&args.computer_id)),
        ("address", Value::str("")),
        ("netmask", Value::str("")),
        ("partition_list", Value::List(partitions)),
    ];
    if let Some(network) = &args.network {
        description.push(("network", Value::str(network)));
    }
    Value::dict_from(description)
}

fn config_text(args: &RegisterArgs, master_url: &MasterUrl) -> String {
    format!(
        "[slapos]\nmaster_url = {master_url}\ncomputer_id = {}\nsoftware_root = {}\ninstance_root = {}\n",
        args.computer_id,
        args.software_root.display(),
        args.instance_root.display()
    )
}

fn write_config(args: &RegisterArgs, master_url: &MasterUrl) -> anyhow::Result<()> {
    let path: &Path = &args.cfg_output;
    let text = config_text(args, master_url);
    match std::fs::read_to_string(path) {
        Ok(existing) if existing == text => return Ok(()),
        Ok(_) if !args.overwrite => {
            bail!("{} already exists with another configuration: pass --overwrite to replace it", path.display())
        }
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
