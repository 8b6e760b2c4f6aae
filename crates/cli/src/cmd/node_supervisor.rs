//! The node's supervisor on the command line: `slapos node supervisord`
//! runs the daemon (`node::supervisor`) in the foreground, with a watchdog
//! that bangs the master as the failing partition; `slapos node
//! status|start|stop|restart|tail` talk to it as supervisorctl does; and
//! the instance loop reaches it through [`connect`], which launches it
//! (detached, as `slapos node supervisord`) when none answers.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use client::{PartitionAuth, SlapClient};
use node::supervisor::{Bang, Client, DaemonOptions, LaunchOptions, Watchdog};
use serde::Serialize;

use crate::cmd::node_loops::{node_and_client, read_config};
use crate::output::Output;

/// Options of `slapos node supervisord`.
#[derive(Debug, clap::Args)]
pub(crate) struct SupervisordArgs {
    /// The node's configuration (default: $SLAPOS_CONFIGURATION, else /etc/opt/slapos/slapos.cfg).
    #[arg(long)]
    cfg: Option<PathBuf>,
    /// Stop the running daemon and every service it runs, then exit.
    #[arg(long)]
    shutdown: bool,
}

/// Options of `slapos node status|start|stop|restart`.
#[derive(Debug, clap::Args)]
pub(crate) struct ControlArgs {
    /// The node's configuration (default: $SLAPOS_CONFIGURATION, else /etc/opt/slapos/slapos.cfg).
    #[arg(long)]
    cfg: Option<PathBuf>,
    /// Processes: `P:name`, `P:*` or `all` (status: all when none).
    targets: Vec<String>,
}

/// Options of `slapos node tail`.
#[derive(Debug, clap::Args)]
pub(crate) struct TailArgs {
    /// The node's configuration (default: $SLAPOS_CONFIGURATION, else /etc/opt/slapos/slapos.cfg).
    #[arg(long)]
    cfg: Option<PathBuf>,
    /// Bytes of the end of the log to show.
    #[arg(long, default_value_t = 1600)]
    bytes: u64,
    /// The process, `P:name`.
    process: String,
}

/// Which supervisorctl verb.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Verb {
    Status,
    Start,
    Stop,
    Restart,
}

/// Bangs the master for a failing `-on-watch` service, as the partition.
struct MasterWatchdog {
    client: SlapClient,
    computer_id: String,
    runtime: tokio::runtime::Handle,
}

impl Watchdog for MasterWatchdog {
    fn bang(&self, bang: &Bang) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let partition = PartitionAuth { computer_id: self.computer_id.clone(), partition_id: bang.partition.clone() };
        self.runtime.block_on(self.client.bang(&partition, &bang.message))?;
        Ok(())
    }
}

/// `slapos node supervisord`.
pub(crate) async fn supervisord(args: SupervisordArgs) -> anyhow::Result<Output> {
    let (path, sections) = read_config(args.cfg)?;
    let (config, client) = node_and_client(&sections, &path)?;
    if args.shutdown {
        return match Client::connect(&config.instance_root).await {
            Ok(mut daemon) => {
                daemon.shutdown_daemon(true).await?;
                Ok(Output::new(&serde_json::json!({ "stopped": true }), "supervisor stopped".to_owned()))
            }
            Err(_) => Ok(Output::new(&serde_json::json!({ "stopped": false }), "no supervisor was running".to_owned())),
        };
    }
    let watchdog = MasterWatchdog { client, computer_id: config.computer_id.clone(), runtime: tokio::runtime::Handle::current() };
    let options = DaemonOptions { watchdog: Some(std::sync::Arc::new(watchdog)), ..DaemonOptions::default() };
    node::supervisor::run(&config.instance_root, options)
        .await
        .with_context(|| format!("supervisor of {}", config.instance_root.display()))?;
    Ok(Output::new(&serde_json::json!({ "stopped": true }), String::new()))
}

/// A client of the node's supervisor, launched as `slapos node supervisord
/// --cfg CFG` when none answers; the instance loop's [`node::instance::Services`].
pub(crate) struct Services {
    client: tokio::sync::Mutex<Client>,
}

/// Connects to (launching if needed) the supervisor of `instance_root`.
pub(crate) async fn connect(cfg: &Path, instance_root: &Path) -> anyhow::Result<Services> {
    let program = std::env::current_exe().context("cannot find the slapos binary to launch the supervisor")?;
    let mut options = LaunchOptions::new(vec![
        program.into_os_string(),
        OsString::from("node"),
        OsString::from("supervisord"),
        OsString::from("--cfg"),
        std::fs::canonicalize(cfg).unwrap_or_else(|_| cfg.to_path_buf()).into_os_string(),
    ]);
    options.log_file = Some(instance_root.join("supervisord.log"));
    options.environment = std::env::vars_os()
        .filter(|(name, _)| ["PATH", "HOME", "SLAPOS_LOG", "LANG"].iter().any(|keep| name == keep))
        .chain([(OsString::from("NO_COLOR"), OsString::from("1"))])
        .collect();
    let client = node::supervisor::launch(instance_root, &options).await?;
    Ok(Services { client: tokio::sync::Mutex::new(client) })
}

impl Services {
    /// The pids of each partition's running processes, for the usage report.
    pub(crate) async fn pids(&self) -> Result<std::collections::BTreeMap<String, Vec<u32>>, String> {
        let statuses = self.client.lock().await.status().await.map_err(|e| e.to_string())?;
        let mut pids: std::collections::BTreeMap<String, Vec<u32>> = std::collections::BTreeMap::new();
        for status in statuses {
            if let (Some(pid), Some((partition, _))) = (status.pid, status.name.split_once(':')) {
                pids.entry(partition.to_owned()).or_default().push(pid);
            }
        }
        Ok(pids)
    }
}

impl node::instance::Services for Services {
    async fn start(&self, partition: &str, directory: &Path) -> Result<(), String> {
        let mut client = self.client.lock().await;
        client.update_group(partition, directory).await.map_err(|e| e.to_string())?;
        refused(client.start_group(partition).await.map_err(|e| e.to_string())?)
    }

    /// Stopping a partition the supervisor does not know (never started,
    /// or already stopped) is done already, as the real node's stop.
    async fn stop(&self, partition: &str) -> Result<(), String> {
        let mut client = self.client.lock().await;
        match client.stop_group(partition).await {
            Err(node::supervisor::SupervisorError::Refused(_)) => return Ok(()),
            Err(error) => return Err(error.to_string()),
            Ok(_) => {}
        }
        client.remove_group(partition).await.map(drop).map_err(|e| e.to_string())
    }
}

/// The first `ERROR (…)` of a verb's results, as an error.
fn refused(results: Vec<node::supervisor::ActionResult>) -> Result<(), String> {
    match results.iter().find(|result| result.outcome.starts_with("ERROR") && !result.outcome.contains("already")) {
        Some(result) => Err(format!("{}: {}", result.process, result.outcome)),
        None => Ok(()),
    }
}

#[derive(Debug, Serialize)]
struct Results {
    results: Vec<node::supervisor::ActionResult>,
}

/// `slapos node status|start|stop|restart`.
pub(crate) async fn control(verb: Verb, args: ControlArgs) -> anyhow::Result<Output> {
    let (path, sections) = read_config(args.cfg.clone())?;
    let (config, _) = node_and_client(&sections, &path)?;
    let mut daemon = connect(&path, &config.instance_root).await?.client.into_inner();
    if let Verb::Status = verb {
        let statuses = daemon.status().await?;
        let wanted = |name: &str| {
            args.targets.is_empty()
                || args.targets.iter().any(|t| t == "all" || t == name || t.strip_suffix(":*").is_some_and(|p| name.starts_with(&format!("{p}:"))))
        };
        let statuses: Vec<_> = statuses.into_iter().filter(|status| wanted(&status.name)).collect();
        let human = statuses.iter().map(node::supervisor::ProcessStatus::line).collect::<Vec<_>>().join("\n");
        return Ok(Output::new(&statuses, human));
    }
    anyhow::ensure!(!args.targets.is_empty(), "name a process (P:name), a partition (P:*) or all");
    let mut results = Vec::new();
    for target in &args.targets {
        results.extend(match verb {
            Verb::Start => daemon.start(target).await?,
            Verb::Stop => daemon.stop(target).await?,
            Verb::Restart => daemon.restart(target).await?,
            Verb::Status => Vec::new(),
        });
    }
    let human = results.iter().map(|r| format!("{}: {}", r.process, r.outcome)).collect::<Vec<_>>().join("\n");
    let failed = results.iter().any(|r| r.outcome.starts_with("ERROR"));
    let output = Output::new(&Results { results }, human);
    Ok(if failed { output.with_exit_code(1) } else { output })
}

/// `slapos node tail`.
pub(crate) async fn tail(args: TailArgs) -> anyhow::Result<Output> {
    let (path, sections) = read_config(args.cfg.clone())?;
    let (config, _) = node_and_client(&sections, &path)?;
    let mut daemon = connect(&path, &config.instance_root).await?.client.into_inner();
    let text = daemon.tail(&args.process, args.bytes).await?;
    Ok(Output::new(&serde_json::json!({ "process": args.process, "log": text }), text.trim_end().to_owned()))
}
