//! `slapos`: the one binary of slapos-rs. Parses the command line, installs
//! logging, runs one subcommand and prints its result (human or `--json`).
//!
//! Exit codes: 0 success, 1 failure (the error and its causes are printed to
//! stderr), 2 usage error (from clap).

// A binary exports nothing: `pub` marks what a module offers the others.
#![allow(unreachable_pub)]

mod cmd;
mod fetch;
mod ini;
mod output;

use clap::{Parser, Subcommand};

/// Options every subcommand accepts.
#[derive(Debug, clap::Args)]
struct GlobalArgs {
    /// More logging (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr, no progress.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Print results as one JSON document.
    #[arg(long, global = true)]
    json: bool,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// SlapOS: order, build, run and supervise services on machines you do not fully control.
#[derive(Debug, Parser)]
#[command(name = "slapos", version)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The master as the Python slapproxy runs it.
    #[command(subcommand)]
    Proxy(ProxyCommand),
    /// The master.
    #[command(subcommand)]
    Master(MasterCommand),
    /// Request an instance and get status and parameters of instance.
    Request(cmd::request::Args),
    /// Supply a Software to a node.
    Supply(cmd::supply::Args),
    /// Remove a Software from a node.
    Remove(cmd::remove::Args),
    /// Your services (instance trees): list, info.
    #[command(subcommand)]
    Service(cmd::service::Command),
    /// Compute nodes: list, info.
    #[command(subcommand)]
    Computer(cmd::computer::Command),
    /// Compute node administration: register.
    #[command(subcommand)]
    Node(cmd::node::Command),
    /// Buildout profiles: resolve.
    #[command(subcommand)]
    Profile(cmd::profile::Command),
    /// A whole SlapOS on this machine: embedded master and local node, until Ctrl-C.
    Standalone(cmd::standalone::Args),
}

#[derive(Debug, Subcommand)]
enum ProxyCommand {
    /// Start the master with its embedded store (same configuration as slapproxy).
    Start(cmd::proxy::Args),
}

#[derive(Debug, Subcommand)]
enum MasterCommand {
    /// Serve the master's HTTP API.
    Serve(cmd::proxy::Args),
}

/// What every command may look at besides its own arguments.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// `--json`: results as JSON, no progress bars.
    pub json: bool,
    /// Show progress bars (stderr is a terminal, not `--json`, not `-q`).
    pub progress: bool,
}

fn install_logging(global: &GlobalArgs) {
    use tracing_subscriber::EnvFilter;
    let default = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("SLAPOS_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Text => builder.with_ansi(std::env::var_os("NO_COLOR").is_none()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn run(command: Command, ctx: &Ctx) -> anyhow::Result<output::Output> {
    match command {
        Command::Proxy(ProxyCommand::Start(args)) | Command::Master(MasterCommand::Serve(args)) => {
            cmd::proxy::run(args, ctx).await
        }
        Command::Request(args) => cmd::request::run(args, ctx).await,
        Command::Supply(args) => cmd::supply::run(args, ctx).await,
        Command::Remove(args) => cmd::remove::run(args, ctx).await,
        Command::Service(command) => cmd::service::run(command).await,
        Command::Computer(command) => cmd::computer::run(command).await,
        Command::Node(command) => cmd::node::run(command, ctx).await,
        Command::Profile(command) => cmd::profile::run(command, ctx).await,
        Command::Standalone(args) => cmd::standalone::run(args, ctx).await,
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    install_logging(&cli.global);
    let ctx = Ctx {
        json: cli.global.json,
        progress: !cli.global.json && !cli.global.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("slapos: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, &ctx)) {
        Ok(result) => {
            output::print(&result, ctx.json);
            std::process::ExitCode::from(result.exit_code)
        }
        Err(error) => match error.downcast_ref::<node::lock::LockError>() {
            // Another run of the same node loop: the real node's words and status.
            Some(busy @ node::lock::LockError::Busy { .. }) => {
                eprintln!("slapos: {busy}");
                std::process::ExitCode::from(10)
            }
            _ => {
                eprintln!("slapos: error: {error:#}");
                std::process::ExitCode::FAILURE
            }
        },
    }
}
