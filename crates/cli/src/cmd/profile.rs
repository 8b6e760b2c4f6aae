//! `slapos profile resolve FILE [--raw] [section:option=value...]`: loads a
//! buildout profile with the profile engine and prints every section,
//! resolved as zc.buildout 6.0.1 would resolve it with no recipe run (or,
//! with `--raw`, merged but not substituted). `--json` prints one object
//! section -> {option -> value}. Remote `extends` are fetched over http://
//! or https:// (`crate::fetch`, `--ca-cert` for a private CA).
//!
//! Both run the interpreter named by `--python` once to learn the facts
//! conditional sections test, and cache them (`probe`).
//!
//! `slapos profile install FILE [section:option=value...] [--directory DIR]`
//! runs `buildout install` (spec §8) with the built-in recipes in the
//! directory of FILE (or DIR): `Installing a.` / `Updating a.` /
//! `Uninstalling a.` lines on stderr (a spinner per part on a terminal), a
//! summary on stdout, or with `--json` one object listing the parts
//! installed, updated, uninstalled and recovered, plus `error` and `part`
//! when it failed (exit 1).

use anyhow::Context;
use profile::{LoadOptions, Sections};

use crate::fetch::{FetchArgs, HttpFetch};
use crate::output::Output;
use crate::Ctx;

mod install;
pub(crate) mod probe;

/// `slapos profile ...`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Print a profile's sections, resolved as buildout resolves them.
    Resolve(ResolveArgs),
    /// Install a profile's parts as `buildout install` does.
    Install(install::InstallArgs),
}

/// Options of `slapos profile resolve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ResolveArgs {
    /// The profile: a path or an http:// or https:// URL.
    file: String,
    /// Print the merged data before substitution (macros expanded).
    #[arg(long)]
    raw: bool,
    /// The Python interpreter whose version and platform conditional
    /// sections test, and which `buildout:executable` names.
    #[arg(long, env = "SLAPOS_PYTHON", default_value = "python3")]
    python: String,
    #[command(flatten)]
    fetch: FetchArgs,
    /// Assignments `section:option=value` (`option+=value`, `option-=value`;
    /// the section defaults to `buildout`), applied last.
    assignments: Vec<String>,
}

/// Runs `slapos profile ...`.
pub(crate) async fn run(command: Command, ctx: &Ctx) -> anyhow::Result<Output> {
    match command {
        Command::Resolve(args) => resolve(args).await,
        Command::Install(args) => install::run(args, ctx).await,
    }
}

async fn resolve(args: ResolveArgs) -> anyhow::Result<Output> {
    let handle = tokio::runtime::Handle::current();
    let file = args.file.clone();
    let sections = tokio::task::spawn_blocking(move || -> anyhow::Result<Sections> {
        let fetch = HttpFetch::new(&args.fetch, handle)?;
        let mut options = LoadOptions::new(probe::probe_python(&args.python)?);
        options.overrides = args.assignments;
        options.home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let profile = profile::load(&args.file, &options, &fetch)?;
        for warning in profile.warnings() {
            tracing::warn!("{warning}");
        }
        Ok(if args.raw { profile.raw()? } else { profile.resolve_all()? })
    })
    .await
    .context("profile resolution stopped")?
    .with_context(|| format!("cannot resolve {file}"))?;
    let human = render(&sections);
    Ok(Output::new(&sections, human))
}

/// The profile in buildout syntax: sections and options sorted, multi-line
/// values indented on the lines after `=`.
fn render(sections: &Sections) -> String {
    let mut text = String::new();
    for (name, options) in sections {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("[{name}]\n"));
        for (option, value) in options {
            if value.contains('\n') {
                text.push_str(&format!("{option} =\n"));
                for line in value.split('\n') {
                    text.push_str(&format!("    {line}\n"));
                }
            } else if value.is_empty() {
                text.push_str(&format!("{option} =\n"));
            } else {
                text.push_str(&format!("{option} = {value}\n"));
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_writes_buildout_syntax() {
        let mut sections = Sections::new();
        let options = [("a", "1"), ("b", "x\n  y"), ("c", "")];
        sections.insert("s".to_owned(), options.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        assert_eq!(render(&sections), "[s]\na = 1\nb =\n    x\n      y\nc =\n");
    }
}
