//! `slapos.cookbook:wrapper` (spec §11.8): a script that `exec`s a
//! command line with an environment.
//!
//! The simple case (only `command-line`, `environment`, `sig-ign`) is
//! written byte for byte as librecipe's `createWrapper` writes it. The
//! real recipe turns the launcher options (`wait-for-files`, `pidfile`,
//! `private-tmpfs`, `reserve-cpu`, `redirect-*`) into a Python script
//! calling `generic_exec`; this engine writes a POSIX shell script doing
//! the same steps in the same order instead:
//! * signals in `sig-ign` (`USR1` when redirecting without it) are
//!   ignored with `trap '' SIG` until the command starts;
//! * `pidfile`: if the file names a live process whose `/proc/PID/cmdline`
//!   contains the command's arguments in order, prints `Already running
//!   with pid N.` and exits 0; else writes the shell's pid (kept by
//!   `exec`) to it;
//! * `reserve-cpu`: appends the pid to `~/.slapos-cpu-exclusive`;
//! * `wait-for-files`: polls every 0.1 s until each file exists (links
//!   count, as `os.path.lexists`);
//! * `private-tmpfs`: runs the command through `unshare --user
//!   --map-current-user --mount` (util-linux 2.38+) which mounts each
//!   `<size> <path>` tmpfs first;
//! * `redirect-stdout`/`redirect-stderr`: appends the output to those
//!   files. Deliberately simpler than `generic_exec`: the files are not
//!   reopened on the signal and `redirect-signal` is not forwarded, so log
//!   rotation must use copy-truncate.

use std::path::{Path, PathBuf};

use super::shell::{quote, split};
use super::values::{is_true, option_text};
use crate::recipe::{InitContext, InstallContext, Options, Part, Recipe, RecipeError};

/// The `wrapper` entry point.
#[derive(Debug, Default)]
pub(super) struct Wrapper;

/// The launcher options of a wrapper (those `generic_exec` handles).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Launcher {
    /// `wait-for-files`.
    pub(super) wait_for_files: Vec<String>,
    /// `pidfile`.
    pub(super) pidfile: Option<String>,
    /// `private-tmpfs`: (size, path) pairs.
    pub(super) private_tmpfs: Vec<(String, String)>,
    /// `reserve-cpu`.
    pub(super) reserve_cpu: bool,
    /// `redirect-signal`, `redirect-stdout`, `redirect-stderr`.
    pub(super) redirect: Option<(Option<String>, Option<String>, Option<String>)>,
}

impl Launcher {
    fn is_needed(&self) -> bool {
        !self.wait_for_files.is_empty()
            || self.pidfile.is_some()
            || !self.private_tmpfs.is_empty()
            || self.reserve_cpu
            || self.redirect.is_some()
    }
}

struct WrapperPart {
    wrapper_path: String,
    hash_files: Vec<String>,
    existing: Vec<String>,
    sig_ign: Option<String>,
    redirect: Option<(Option<String>, Option<String>, Option<String>)>,
}

impl Recipe for Wrapper {
    fn version(&self) -> &'static str {
        "1.0.499"
    }

    fn init(&self, context: &mut InitContext<'_, '_>) -> Result<Box<dyn Part>, RecipeError> {
        let develop = context.lookup("buildout", "develop-eggs-directory")?.unwrap_or_default();
        let eggs = context.lookup("buildout", "eggs-directory")?.unwrap_or_default();
        context.set("_d", develop)?;
        context.set("_e", eggs)?;
        let mut hash_files = Vec::new();
        let mut existing = Vec::new();
        if let Some(listed) = context.value("hash-files")?.map(|v| option_text(&v)).filter(|v| !v.is_empty()) {
            hash_files = listed.split_whitespace().map(str::to_owned).collect();
            let directory = context.lookup("buildout", "directory")?.unwrap_or_default();
            let prefix = format!("{}/", super::sys::realpath(Path::new(&directory)).display());
            existing = hash_files
                .iter()
                .filter(|file| {
                    super::sys::exists(Path::new(file))
                        && !super::sys::realpath(Path::new(file)).to_string_lossy().starts_with(&prefix)
                })
                .cloned()
                .collect();
        }
        if let Some(listed) = context.value("hash-existing-files")?.map(|v| option_text(&v)).filter(|v| !v.is_empty()) {
            let files: Vec<String> = listed.split_whitespace().map(str::to_owned).collect();
            context.set("__hash_files__", hash_of_files(&files)?)?;
            hash_files.extend(files);
        }
        let sig_ign = context.value("sig-ign")?.map(|v| option_text(&v)).filter(|v| !v.is_empty());
        if let Some(signal) = &sig_ign {
            check_signal(signal)?;
        }
        let mut redirect_values = Vec::new();
        for which in ["signal", "stdout", "stderr"] {
            redirect_values.push(context.value(&format!("redirect-{which}"))?.map(|v| option_text(&v)).filter(|v| !v.is_empty()));
        }
        let redirect = if redirect_values.iter().any(Option::is_some) {
            if let Some(signal) = &redirect_values[0] {
                check_signal(signal)?;
                if redirect_values[1].is_none() && redirect_values[2].is_none() {
                    return Err(RecipeError::Failed("redirect-signal without redirecting any output makes no sense".to_owned()));
                }
            }
            let stderr = redirect_values.pop().flatten();
            let stdout = redirect_values.pop().flatten();
            let signal = redirect_values.pop().flatten();
            Some((signal, stdout, stderr))
        } else {
            None
        };
        let wrapper_path = context.require("wrapper-path").map(|v| option_text(&v))?;
        Ok(Box::new(WrapperPart { wrapper_path, hash_files, existing, sig_ign, redirect }))
    }
}

impl WrapperPart {
    fn path(&self) -> Result<String, RecipeError> {
        if self.hash_files.is_empty() {
            Ok(self.wrapper_path.clone())
        } else {
            Ok(format!("{}-{}", self.wrapper_path, hash_of_files(&self.hash_files)?))
        }
    }
}

impl Part for WrapperPart {
    fn install(&mut self, context: &mut InstallContext<'_>) -> Result<Vec<PathBuf>, RecipeError> {
        if !self.existing.is_empty() {
            return Err(RecipeError::Failed(format!(
                "hash-files must only list files that are generated by buildout:\n  {}",
                self.existing.join("\n  ")
            )));
        }
        let options = context.options;
        let args = split(&option_text(context.require("command-line")?)).map_err(RecipeError::Failed)?;
        if args.is_empty() {
            return Err(RecipeError::Failed("command-line is empty".to_owned()));
        }
        let environment = parse_environment(&text(options, "environment"))?;
        let launcher = Launcher {
            wait_for_files: text(options, "wait-for-files").split_whitespace().map(str::to_owned).collect(),
            pidfile: Some(text(options, "pidfile")).filter(|v| !v.is_empty()),
            private_tmpfs: parse_private_tmpfs(&text(options, "private-tmpfs"))?,
            reserve_cpu: is_true(&text(options, "reserve-cpu")),
            redirect: self.redirect.clone(),
        };
        let script = render(&args, &environment, self.sig_ign.as_deref(), &launcher);
        let path = self.path()?;
        context.created(&path);
        let written = super::sys::create_file(Path::new(&path), script.as_bytes(), 0o700)?;
        Ok(vec![written])
    }

    fn update(&mut self, _context: &mut InstallContext<'_>) -> Result<Option<Vec<PathBuf>>, RecipeError> {
        let path = self.path()?;
        if !super::sys::is_file(Path::new(&path)) {
            return Err(RecipeError::Failed(format!("unstable wrapper path ({})", crate::python::str_repr(&path))));
        }
        Ok(None)
    }
}

/// An option as text, empty when absent.
fn text(options: &Options, key: &str) -> String {
    options.get(key).map(|value| option_text(value)).unwrap_or_default()
}

/// `environment`: `K=V` lines, spaces around `=` dropped, sorted by key.
///
/// # Errors
/// A non-empty line without `=`.
pub(super) fn parse_environment(text: &str) -> Result<Vec<(String, String)>, RecipeError> {
    let mut environment = std::collections::BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let Some((key, value)) = line.split_once('=') else {
            return Err(RecipeError::Failed(format!("not enough values to unpack (expected 2, got 1) in environment line {line:?}")));
        };
        environment.insert(key.trim_end().to_owned(), value.trim_start().to_owned());
    }
    Ok(environment.into_iter().collect())
}

/// `private-tmpfs`: `<size> <path>` lines.
fn parse_private_tmpfs(text: &str) -> Result<Vec<(String, String)>, RecipeError> {
    let mut pairs = Vec::new();
    for line in text.lines().filter(|line| !line.is_empty()) {
        let trimmed = line.trim_start();
        match trimmed.split_once(char::is_whitespace) {
            Some((size, path)) if !path.trim().is_empty() => pairs.push((size.to_owned(), path.trim().to_owned())),
            _ => {
                return Err(RecipeError::Failed(format!(
                    "failed to split {} into size and path",
                    crate::python::str_repr(line)
                )))
            }
        }
    }
    Ok(pairs)
}

/// `parse_signal`: `NAME` or `NAME+N` with a signal Python's `signal`
/// module knows.
fn check_signal(signal: &str) -> Result<(), RecipeError> {
    const NAMES: &[&str] = &[
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM",
        "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF",
        "WINCH", "IO", "POLL", "PWR", "SYS", "RTMIN", "RTMAX",
    ];
    let (name, offset) = match signal.split_once('+') {
        Some((name, offset)) => (name, Some(offset)),
        None => (signal, None),
    };
    let offset_ok = offset.is_none_or(|offset| offset.trim().parse::<i64>().is_ok());
    if name.starts_with('_') || (NAMES.contains(&name) && offset_ok) {
        Ok(())
    } else {
        Err(RecipeError::Failed(format!("invalid signal value: {signal}")))
    }
}

/// `generateHashFromFiles`: md5 over `"<len>\n" + content` of each file.
///
/// # Errors
/// A file cannot be read.
pub(super) fn hash_of_files(files: &[String]) -> Result<String, RecipeError> {
    let mut data = Vec::new();
    for file in files {
        let content = super::sys::read_bytes(Path::new(file))?;
        data.extend_from_slice(format!("{}\n", content.len()).as_bytes());
        data.extend_from_slice(&content);
    }
    Ok(crate::md5::md5_hex(&data))
}

/// The wrapper script for `args` (the command line, already split),
/// `environment` (sorted) and the launcher options.
pub(super) fn render(args: &[String], environment: &[(String, String)], sig_ign: Option<&str>, launcher: &Launcher) -> String {
    let mut lines = vec!["#!/bin/sh -e".to_owned()];
    let sig_ign = sig_ign.or(if launcher.redirect.is_some() { Some("USR1") } else { None });
    if let Some(signal) = sig_ign {
        lines.push(format!("trap '' {signal}"));
    }
    if launcher.is_needed() {
        launcher_lines(args, launcher, &mut lines);
    }
    for (key, value) in environment {
        lines.push(format!("export {key}={}", quote(value)));
    }
    let mut words: Vec<String> = Vec::new();
    if !launcher.private_tmpfs.is_empty() {
        words.extend(["unshare", "--user", "--map-current-user", "--mount", "/bin/sh", "-ec"].map(str::to_owned));
        words.push(tmpfs_script(&launcher.private_tmpfs));
        words.push("sh".to_owned());
    }
    words.extend(args.iter().cloned());
    let mut quoted: Vec<String> = words.iter().map(|word| quote(word)).collect();
    quoted.push("\"$@\"".to_owned());
    lines.push("exec".to_owned());
    for word in quoted {
        let last = lines.last_mut().expect("lines start with the shebang");
        if last.chars().count() < 40 {
            last.push(' ');
            last.push_str(&word);
        } else {
            last.push_str(" \\");
            lines.push(format!("\t{word}"));
        }
    }
    lines.push(String::new());
    lines.join("\n")
}

/// The steps `generic_exec` takes before `exec`, as shell lines.
fn launcher_lines(args: &[String], launcher: &Launcher, lines: &mut Vec<String>) {
    if let Some(pidfile) = &launcher.pidfile {
        let pidfile = quote(pidfile);
        let expected = quote(&args.join("\n"));
        lines.push(format!("if pid=$(cat {pidfile} 2>/dev/null) && [ -r \"/proc/$pid/cmdline\" ]; then"));
        lines.push(format!("  case \"$(tr '\\0' '\\n' < \"/proc/$pid/cmdline\")\" in *{expected}*)"));
        lines.push("    echo \"Already running with pid $pid.\"; exit 0;;".to_owned());
        lines.push("  esac".to_owned());
        lines.push("fi".to_owned());
        lines.push(format!("echo $$ > {pidfile}"));
    }
    if launcher.reserve_cpu {
        lines.push("echo $$ >> \"$HOME/.slapos-cpu-exclusive\"".to_owned());
    }
    for file in &launcher.wait_for_files {
        let file = quote(file);
        lines.push(format!("until [ -e {file} ] || [ -L {file} ]; do sleep 0.1; done"));
    }
    if let Some((_, stdout, stderr)) = &launcher.redirect {
        match (stdout, stderr) {
            (Some(out), Some(err)) if out == err => lines.push(format!("exec >>{} 2>&1", quote(out))),
            _ => {
                if let Some(out) = stdout {
                    lines.push(format!("exec >>{}", quote(out)));
                }
                if let Some(err) = stderr {
                    lines.push(format!("exec 2>>{}", quote(err)));
                }
            }
        }
    }
}

/// The script run inside the new namespaces: mount each tmpfs, then exec
/// the command (its arguments follow `sh` as `$@`).
fn tmpfs_script(tmpfs: &[(String, String)]) -> String {
    let mut script = String::new();
    for (size, path) in tmpfs {
        let path = quote(path);
        script.push_str(&format!("mkdir -p {path}; mount -t tmpfs -o size={} tmpfs {path}; ", quote(size)));
    }
    script.push_str("exec \"$@\"");
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        split(text).unwrap()
    }

    #[test]
    fn simple_wrapper_wraps_at_forty_characters() {
        let script = render(&words("/bin/prog --opt 'a b'"), &[("K".into(), "v".into())], None, &Launcher::default());
        assert_eq!(script, "#!/bin/sh -e\nexport K=v\nexec /bin/prog --opt 'a b' \"$@\"\n");
        let long = render(&words("/srv/slapgrid/slappart0/bin/some-long-binary-name --config /etc/x.cfg"), &[], Some("HUP"), &Launcher::default());
        assert_eq!(long, "#!/bin/sh -e\ntrap '' HUP\nexec /srv/slapgrid/slappart0/bin/some-long-binary-name \\\n\t--config /etc/x.cfg \"$@\"\n");
    }

    #[test]
    fn signals_are_checked() {
        assert!(check_signal("USR1").is_ok());
        assert!(check_signal("RTMIN+1").is_ok());
        assert!(check_signal("NOPE").is_err());
    }
}
