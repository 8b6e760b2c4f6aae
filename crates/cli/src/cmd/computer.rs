//! `slapos computer list` and `slapos computer info REFERENCE`: the compute
//! nodes of the master through its HATEOAS API, printed as
//! `slapos.cli.computer_list` and `computer_info` print them:
//! `List of Computers:` then `REFERENCE TITLE` lines (or
//! `No existing computer.`); `Computer Reference: R` and
//! `Computer Title    : T`. An unknown reference prints
//! `Computer REF does not exist.` and exits 2.

use anyhow::Context;
use client::ClientError;
use serde::Serialize;

use crate::cmd::client_config::{self, ConfigArgs, EXIT_NOT_READY};
use crate::output::Output;

/// `slapos computer` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// List all available compute nodes.
    List(ListArgs),
    /// Get information of a compute node.
    Info(InfoArgs),
}

/// Options of `slapos computer list`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

/// Options of `slapos computer info`.
#[derive(Debug, clap::Args)]
pub(crate) struct InfoArgs {
    /// Your computer reference.
    reference: String,
    #[command(flatten)]
    config: ConfigArgs,
}

/// One compute node, for `--json`.
#[derive(Debug, Serialize)]
struct ComputerReport {
    reference: String,
    title: String,
}

/// What `info --json` prints for an unknown reference.
#[derive(Debug, Serialize)]
struct Missing {
    reference: String,
    error: String,
}

/// Runs one `slapos computer` subcommand.
pub(crate) async fn run(command: Command) -> anyhow::Result<Output> {
    match command {
        Command::List(args) => list(args).await,
        Command::Info(args) => info(args).await,
    }
}

async fn list(args: ListArgs) -> anyhow::Result<Output> {
    let client = client_config::client(&args.config)?;
    let computers = client.computer_list().await.context("cannot list the compute nodes")?;
    let human = if computers.is_empty() {
        "No existing computer.\n".to_owned()
    } else {
        let mut text = "List of Computers:\n".to_owned();
        for computer in &computers {
            text.push_str(&format!("{} {}\n", computer.reference, computer.title));
        }
        text
    };
    let report: Vec<ComputerReport> = computers
        .into_iter()
        .map(|computer| ComputerReport { reference: computer.reference, title: computer.title })
        .collect();
    Ok(Output::new(&report, human))
}

async fn info(args: InfoArgs) -> anyhow::Result<Output> {
    let client = client_config::client(&args.config)?;
    let missing = |message: String| -> Output {
        let report = Missing { reference: args.reference.clone(), error: message.clone() };
        Output::new(&report, message).with_exit_code(EXIT_NOT_READY)
    };
    let computer = match client.computer_info(&args.reference).await {
        Ok(Some(computer)) => computer,
        Ok(None) | Err(ClientError::NotFound { .. }) => return Ok(missing(format!("Computer {} does not exist.", args.reference))),
        Err(ClientError::ResourceNotReady { .. }) => return Ok(missing("Computer does not exist or is not ready yet.".to_owned())),
        Err(error) => return Err(error).with_context(|| format!("cannot get the information of {:?}", args.reference)),
    };
    let human = format!("Computer Reference: {}\nComputer Title    : {}\n", computer.reference, computer.title);
    Ok(Output::new(&ComputerReport { reference: computer.reference, title: computer.title }, human))
}
