//! `slapos standalone`: a whole SlapOS on one machine, in one process, as
//! slapos.core's `StandaloneSlapOS` gives one to tests and laptops: an
//! embedded master (SQLite under the root directory) and a local node
//! (formatted on start, then the agent's software, instance and report
//! rounds) whose services run in the node's supervisor. It writes the
//! configuration files a user needs next to them (`slapos-client.cfg` for
//! `slapos request|supply`, `slapos.cfg` for `slapos node status|tail`),
//! and runs until SIGTERM or Ctrl-C; the services keep running in the
//! supervisor afterwards, and the next start picks everything up again.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::output::{self, Output};
use crate::Ctx;

/// The compute node of a standalone SlapOS.
const COMPUTER_ID: &str = "local";

/// Options of `slapos standalone`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where everything lives (master database, software, partitions, configuration files).
    #[arg(long, default_value = "slapos-standalone")]
    root: PathBuf,
    /// The master's address.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Partitions of the local node.
    #[arg(long, default_value_t = 10)]
    partitions: usize,
    /// As root: partition N runs as the unix user `<this>N` (created).
    #[arg(long, default_value = "slapuser")]
    user_base_name: String,
    /// As root: the unix user owning the software releases (created).
    #[arg(long, default_value = "slapsoft")]
    software_user: String,
    /// Seconds between two software rounds of the node.
    #[arg(long, default_value_t = 10)]
    software_period: u64,
    /// Seconds between two instance rounds of the node.
    #[arg(long, default_value_t = 10)]
    instance_period: u64,
    /// The Python interpreter profiles' conditions test.
    #[arg(long, env = "SLAPOS_PYTHON", default_value = "python3")]
    python: String,
}

/// What a user needs to talk to it (printed first, also as JSON).
#[derive(Debug, Serialize)]
struct Started {
    master_url: String,
    client_configuration: PathBuf,
    node_configuration: PathBuf,
}

/// Runs `slapos standalone`.
pub(crate) async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<Output> {
    std::fs::create_dir_all(&args.root).with_context(|| format!("cannot create {}", args.root.display()))?;
    let root = args.root.canonicalize().with_context(|| format!("cannot resolve {}", args.root.display()))?;
    let master_cfg = root.join("master.cfg");
    write(
        &master_cfg,
        &format!(
            "[slapos]\ncomputer_id = {COMPUTER_ID}\n\n[slapproxy]\ndatabase_uri = {}\n",
            root.join("master.db").display()
        ),
    )?;
    let master_args = crate::cmd::proxy::Args::from_file(master_cfg, args.listen.clone());
    let master = crate::cmd::proxy::bind(&master_args).await?;
    let master_url = format!("http://{}/", master.address);
    let (stop_master, master_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(master.serve(async {
        let _ = master_stopped.await;
    }));

    let node_cfg = root.join("slapos.cfg");
    write(&node_cfg, &node_configuration(&root, &master_url, &args))?;
    let client_cfg = root.join("slapos-client.cfg");
    write(&client_cfg, &format!("[slapos]\nmaster_url = {master_url}\nmaster_rest_url = {master_url}hateoas\n"))?;
    let started = Started { master_url: master_url.clone(), client_configuration: client_cfg.clone(), node_configuration: node_cfg.clone() };
    if ctx.json {
        output::line(&serde_json::to_string(&started).context("cannot show where it listens")?);
    } else {
        output::line(&format!(
            "slapos standalone: master on {master_url}\n  export SLAPOS_CLIENT_CONFIGURATION={}\n  slapos node status --cfg {}",
            client_cfg.display(),
            node_cfg.display()
        ));
    }

    let node = crate::cmd::node_loops::run_standalone_node(&node_cfg, &args.python, args.software_period, args.instance_period).await;
    let _ = stop_master.send(());
    server.await.context("the master stopped abnormally")??;
    node?;
    Ok(Output::new(&started, "slapos standalone stopped; services keep running in the supervisor".to_owned()))
}

/// The local node's `slapos.cfg`: plain directories of the current user,
/// or one unix user per partition when run as root (services never run as
/// root).
fn node_configuration(root: &Path, master_url: &str, args: &Args) -> String {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let as_root = unsafe { libc::geteuid() } == 0;
    format!(
        "[slapos]\ncomputer_id = {COMPUTER_ID}\nmaster_url = {master_url}\nsoftware_root = {root}/software\n\
         instance_root = {root}/instance\n\n[slapformat]\npartition_amount = {}\nalter_user = {as_root}\n\
         user_base_name = {}\nsoftware_user = {}\n\
         alter_network = false\ninterface_name = lo\ncomputer_xml = {root}/computer.xml\n",
        args.partitions,
        args.user_base_name,
        args.software_user,
        root = root.display()
    )
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
