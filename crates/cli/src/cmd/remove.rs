//! `slapos remove SOFTWARE_URL NODE`: asks compute node NODE to remove a
//! software release (`supplySupply` with state `destroyed`), as
//! `slapos.cli.remove` does (no `product.NAME` resolution there). Prints
//! `Requesting deletion of URL Software Release...` then `Done.`.

use client::SupplyState;

use crate::cmd::client_config::{self, ConfigArgs};
use crate::output::Output;
use crate::Ctx;

/// Options of `slapos remove`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Your software url.
    software_url: String,
    /// Target node.
    node: String,
    #[command(flatten)]
    config: ConfigArgs,
}

/// Asks the node to remove the software release.
pub(crate) async fn run(args: Args, _ctx: &Ctx) -> anyhow::Result<Output> {
    let client = client_config::client(&args.config)?;
    let human = format!("Requesting deletion of {} Software Release...\nDone.\n", args.software_url);
    let report = crate::cmd::supply::send(&client, args.software_url, args.node, SupplyState::Destroyed).await?;
    Ok(Output::new(&report, human))
}
