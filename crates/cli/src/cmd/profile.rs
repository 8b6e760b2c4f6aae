//! `slapos profile resolve FILE [--raw] [section:option=value...]`: loads a
//! buildout profile with the profile engine and prints every section,
//! resolved as zc.buildout 6.0.1 would resolve it with no recipe run (or,
//! with `--raw`, merged but not substituted). `--json` prints one object
//! section -> {option -> value}. Remote `extends` are fetched over http://
//! here; https:// is refused until the TLS work lands.
//!
//! `slapos profile install FILE [section:option=value...] [--directory DIR]`
//! runs `buildout install` (spec §8) with the built-in recipes in the
//! directory of FILE (or DIR): `Installing a.` / `Updating a.` /
//! `Uninstalling a.` lines on stderr (a spinner per part on a terminal), a
//! summary on stdout, or with `--json` one object listing the parts
//! installed, updated, uninstalled and recovered, plus `error` and `part`
//! when it failed (exit 1).

use anyhow::Context;
use profile::python::PythonEnv;
use profile::{Fetch, LoadOptions, Sections};

use crate::output::Output;
use crate::Ctx;

mod install;

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
    /// The profile: a path or an http:// URL.
    file: String,
    /// Print the merged data before substitution (macros expanded).
    #[arg(long)]
    raw: bool,
    /// The Python interpreter whose version and platform conditional
    /// sections test, and which `buildout:executable` names.
    #[arg(long, env = "SLAPOS_PYTHON", default_value = "python3")]
    python: String,
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
        let mut options = LoadOptions::new(probe_python(&args.python)?);
        options.overrides = args.assignments;
        options.home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let fetch = HttpFetch { handle, http: reqwest::Client::new() };
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

/// The interpreter facts, from running the probe script on `python`.
pub(crate) fn probe_python(python: &str) -> anyhow::Result<PythonEnv> {
    let output = std::process::Command::new(python)
        .arg("-c")
        .arg(PythonEnv::PROBE_SCRIPT)
        .output()
        .with_context(|| format!("cannot run {python} to learn its version (set --python)"))?;
    if !output.status.success() {
        anyhow::bail!("{python} failed probing its version: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    PythonEnv::from_probe_json(&String::from_utf8_lossy(&output.stdout)).with_context(|| format!("unexpected answer from {python}"))
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

/// `extends` URLs over http:// with the CLI's runtime.
pub(crate) struct HttpFetch {
    pub(crate) handle: tokio::runtime::Handle,
    pub(crate) http: reqwest::Client,
}

impl Fetch for HttpFetch {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        if url.starts_with("https://") {
            return Err("https is not supported yet (no TLS in this build); use http:// or a local copy".to_owned());
        }
        if !url.starts_with("http://") {
            return Err(format!("unsupported URL scheme in {url}"));
        }
        self.handle.block_on(async {
            let response = self.http.get(url).send().await.map_err(|error| error.to_string())?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!("HTTP Error {}: {}", status.as_u16(), status.canonical_reason().unwrap_or("")));
            }
            response.bytes().await.map(|body| body.to_vec()).map_err(|error| error.to_string())
        })
    }
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
