//! `slapos profile install`: the profile engine's lifecycle
//! (`profile::lifecycle::install`) run with the built-in recipes, its
//! events drawn as buildout's `Installing a.` lines on stderr (with a
//! spinner per part on a terminal, a progress bar while a download of known
//! size streams), its report printed on stdout.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use profile::lifecycle::{Action, Event, Events, InstallReport};
use profile::recipe::{Environment, Progress};
use profile::LoadOptions;

use super::probe::probe_python;
use crate::fetch::{FetchArgs, HttpFetch};
use crate::output::Output;
use crate::Ctx;

/// Options of `slapos profile install`.
#[derive(Debug, clap::Args)]
pub(crate) struct InstallArgs {
    /// The profile: a path (or an http:// or https:// URL, with --directory).
    file: String,
    /// The buildout directory (`buildout:directory`); default: the
    /// directory of FILE.
    #[arg(long)]
    directory: Option<PathBuf>,
    /// The Python interpreter conditional sections test, and which
    /// `buildout:executable` names.
    #[arg(long, env = "SLAPOS_PYTHON", default_value = "python3")]
    python: String,
    #[command(flatten)]
    fetch: FetchArgs,
    /// Assignments `section:option=value` (`option+=value`, `option-=value`;
    /// the section defaults to `buildout`), applied last.
    assignments: Vec<String>,
}

/// The `--json` document.
#[derive(Debug, serde::Serialize)]
struct Report {
    installed: Vec<String>,
    updated: Vec<String>,
    uninstalled: Vec<String>,
    recovered: Vec<String>,
    record: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    part: Option<String>,
}

impl Report {
    fn new(report: InstallReport) -> Report {
        Report {
            installed: report.installed,
            updated: report.updated,
            uninstalled: report.uninstalled,
            recovered: report.recovered,
            record: report.record,
            error: None,
            part: None,
        }
    }

    fn summary(&self) -> String {
        format!(
            "{} installed, {} updated, {} uninstalled",
            self.installed.len(),
            self.updated.len(),
            self.uninstalled.len()
        )
    }
}

/// Runs `slapos profile install`.
pub(crate) async fn run(args: InstallArgs, ctx: &Ctx) -> anyhow::Result<Output> {
    let handle = tokio::runtime::Handle::current();
    let show = Show { spinners: ctx.progress, lines: !ctx.json, bar: RefCell::new(None) };
    let file = args.file.clone();
    let outcome = tokio::task::spawn_blocking(move || install(args, handle, &show)).await.context("the install stopped")?;
    let outcome = outcome.with_context(|| format!("cannot install {file}"))?;
    match outcome {
        Ok(report) => {
            let report = Report::new(report);
            let human = report.summary();
            Ok(Output::new(&report, human))
        }
        Err(failure) => {
            if !ctx.json {
                return Err(anyhow::Error::new(failure.error).context(format!("cannot install {file}")));
            }
            eprintln!("slapos: error: {}", failure.error);
            let mut report = Report::new(failure.report);
            report.error = Some(failure.error.to_string());
            report.part = failure.error.part().map(str::to_owned);
            Ok(Output::new(&report, String::new()).with_exit_code(1))
        }
    }
}

/// Loads the profile and runs the lifecycle; the outer error is a load
/// failure, the inner one the lifecycle's.
fn install(
    args: InstallArgs,
    handle: tokio::runtime::Handle,
    show: &Show,
) -> anyhow::Result<Result<InstallReport, profile::lifecycle::InstallFailure>> {
    let fetch = HttpFetch::new(&args.fetch, handle)?;
    let mut options = LoadOptions::new(probe_python(&args.python)?);
    options.home = std::env::var_os("HOME").map(PathBuf::from);
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    options.cwd = Some(cwd.clone());
    let is_url = args.file.contains("://");
    let file = if is_url { args.file.clone() } else { cwd.join(&args.file).to_string_lossy().into_owned() };
    if let Some(directory) = &args.directory {
        let directory = absolute_directory(&cwd, directory)?;
        options.overrides.push(format!("buildout:directory={}", directory.display()));
    }
    options.overrides.extend(args.assignments);
    let profile = profile::load(&file, &options, &fetch)?;
    for warning in profile.warnings() {
        tracing::warn!("{warning}");
    }
    let recipes = profile::recipe::builtin();
    let environment = Environment { fetch: &fetch, progress: show };
    let result = profile::lifecycle::install(&profile, &recipes, &environment, show);
    show.clear();
    Ok(result)
}

/// `--directory` made absolute (and created if missing).
fn absolute_directory(cwd: &Path, directory: &Path) -> anyhow::Result<PathBuf> {
    let directory = cwd.join(directory);
    std::fs::create_dir_all(&directory).with_context(|| format!("cannot create {}", directory.display()))?;
    directory.canonicalize().with_context(|| format!("cannot resolve {}", directory.display()))
}

/// Draws lifecycle events and recipe progress on stderr.
struct Show {
    /// A spinner per part (stderr is a terminal, no `--json`, no `-q`).
    spinners: bool,
    /// `Installing a.` lines (no `--json`).
    lines: bool,
    bar: RefCell<Option<indicatif::ProgressBar>>,
}

impl Show {
    fn line(&self, text: &str) {
        match self.bar.borrow().as_ref() {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn clear(&self) {
        if let Some(bar) = self.bar.borrow_mut().take() {
            bar.finish_and_clear();
        }
    }
}

fn started_line(part: &str, action: Action) -> String {
    match action {
        Action::Install => format!("Installing {part}."),
        Action::Update => format!("Updating {part}."),
        Action::Uninstall => format!("Uninstalling {part}."),
    }
}

impl Events for Show {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::Started { part, action } => {
                self.clear();
                if self.lines {
                    eprintln!("{}", started_line(part, *action));
                }
                if self.spinners {
                    *self.bar.borrow_mut() = Some(spinner(format!("{part}: {}", action.as_str())));
                }
            }
            Event::Finished { .. } => self.clear(),
            Event::Recovering { part, action } if self.lines => {
                self.line(&format!("Cleaning up {part}: a previous run was killed during its {action}."));
            }
            Event::Warning { part, message } => {
                tracing::warn!(part = %part, "{message}");
            }
            Event::Recovering { .. } => {}
        }
    }
}

/// A spinner showing `message`, redrawn on its own.
fn spinner(message: String) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message(message);
    bar
}

/// The look of a download of known size: bar, bytes, rate, then the
/// message (`part: downloading URL`) cut to the terminal's width.
fn download_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(
        "{spinner} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {wide_msg}",
    )
    .expect("the template is valid")
    .progress_chars("=> ")
}

impl Progress for Show {
    fn step(&self, part: &str, message: &str) {
        let first_line = message.lines().next().unwrap_or_default();
        let mut bar = self.bar.borrow_mut();
        match bar.as_ref() {
            // After a download the bar turns back into a spinner.
            Some(current) if current.length().is_some() => {
                current.finish_and_clear();
                *bar = Some(spinner(format!("{part}: {first_line}")));
            }
            Some(current) => current.set_message(format!("{part}: {first_line}")),
            None => {}
        }
    }

    fn bytes(&self, part: &str, done: u64, total: Option<u64>) {
        let bar = self.bar.borrow();
        let Some(bar) = bar.as_ref() else { return };
        match total {
            Some(total) => {
                if bar.length() != Some(total) {
                    bar.set_style(download_style());
                    bar.set_length(total);
                }
                bar.set_position(done);
            }
            None => bar.set_message(format!("{part}: {} downloaded", indicatif::HumanBytes(done))),
        }
    }
}
