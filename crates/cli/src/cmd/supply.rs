//! `slapos supply SOFTWARE_URL NODE`: asks compute node NODE to install a
//! software release (`supplySupply` with state `available`), as
//! `slapos.cli.supply` does; `product.NAME` URLs are resolved first. Prints
//! what the Python CLI logs: `Requesting software installation of URL...`
//! then `Done.`.

use anyhow::Context;
use client::{ClientError, SlapClient, SupplyState};
use serde::Serialize;

use crate::cmd::client_config::{self, ConfigArgs};
use crate::output::Output;
use crate::Ctx;

/// Options of `slapos supply`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Your software url (or product.NAME).
    software_url: String,
    /// Target node.
    node: String,
    #[command(flatten)]
    config: ConfigArgs,
}

/// What `--json` prints for `supply` and `remove`.
#[derive(Debug, Serialize)]
pub(crate) struct SupplyReport {
    /// The software release URL sent.
    pub(crate) software_url: String,
    /// The compute node.
    pub(crate) node: String,
    /// `available` or `destroyed`.
    pub(crate) state: &'static str,
    /// The master's acknowledgement.
    pub(crate) answer: String,
}

/// Supplies the software release to the node.
pub(crate) async fn run(args: Args, _ctx: &Ctx) -> anyhow::Result<Output> {
    let client = client_config::client(&args.config)?;
    let software_url = crate::cmd::request::resolve_product(&client, &args.software_url).await?;
    let report = send(&client, software_url, args.node, SupplyState::Available).await?;
    let human = format!("Requesting software installation of {}...\nDone.\n", args.software_url);
    Ok(Output::new(&report, human))
}

/// Posts `supplySupply`; a 404 says the node is unknown, as Python does.
///
/// # Errors
/// Transport and status errors, with the node and URL named.
pub(crate) async fn send(
    client: &SlapClient,
    software_url: String,
    node: String,
    state: SupplyState,
) -> anyhow::Result<SupplyReport> {
    let answer = match client.supply(&software_url, &node, state).await {
        Ok(answer) => answer,
        Err(error @ ClientError::NotFound { .. }) => {
            return Err(error).context(format!("compute node {node} has not been found by the SlapOS master"));
        }
        Err(error) => {
            return Err(error).with_context(|| format!("cannot supply {software_url} to {node} as {}", state.as_str()));
        }
    };
    Ok(SupplyReport { software_url, node, state: state.as_str(), answer })
}
