//! What every client subcommand (`request`, `supply`, `remove`, `service`,
//! `computer`) shares: the client configuration file, found as
//! `slapos.cli.config.ClientConfigCommand` finds it (`--cfg`, else
//! `$SLAPOS_CLIENT_CONFIGURATION`, else `~/.slapos/slapos-client.cfg`) and
//! read as `slapos.client.ClientConfig` reads it (`[slapos] master_url`
//! required, `master_rest_url` optional); the connection built from it;
//! `key=value` option lists; and leaving with exit code 2 as the Python CLI
//! does when something is not there (yet).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use client::{ClientConfig, MasterUrl, SlapClient};

use crate::ini::Ini;

/// Where the client configuration is looked for last.
const DEFAULT_CONFIG_PATH: &str = "~/.slapos/slapos-client.cfg";

/// Exit code of the Python CLI for "not there (yet)": an instance still
/// being provisioned, an unknown service or compute node.
pub(crate) const EXIT_NOT_READY: u8 = 2;

/// The `--cfg` option of client subcommands.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConfigArgs {
    /// SlapOS client configuration file (default: $SLAPOS_CLIENT_CONFIGURATION or ~/.slapos/slapos-client.cfg).
    #[arg(long, env = "SLAPOS_CLIENT_CONFIGURATION")]
    pub(crate) cfg: Option<PathBuf>,
}

/// The validated client configuration.
#[derive(Debug, Clone)]
pub(crate) struct ClientSettings {
    /// The file it came from.
    pub(crate) path: PathBuf,
    /// `[slapos] master_url`.
    pub(crate) master_url: MasterUrl,
    /// `[slapos] master_rest_url`, if set.
    pub(crate) rest_url: Option<String>,
}

/// `~/x` → `$HOME/x`, as `os.path.expanduser`.
pub(crate) fn expand_user(path: &Path) -> PathBuf {
    let Ok(rest) = path.strip_prefix("~") else {
        return path.to_owned();
    };
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(rest),
        None => path.to_owned(),
    }
}

/// Finds, reads and validates the client configuration.
///
/// # Errors
/// Missing or unreadable file, syntax error, no `[slapos] master_url`, or
/// an unusable URL; each names the file.
pub(crate) fn load(args: &ConfigArgs) -> anyhow::Result<ClientSettings> {
    let path = expand_user(args.cfg.as_deref().unwrap_or(Path::new(DEFAULT_CONFIG_PATH)));
    if !path.exists() {
        bail!("configuration file does not exist: {}", path.display());
    }
    let ini = Ini::read(&path)?;
    let value = |key: &str| ini.get("slapos", key).map(str::trim).filter(|value| !value.is_empty());
    let Some(master_url) = value("master_url") else {
        bail!("{}: no option 'master_url' in section [slapos]", path.display());
    };
    let master_url =
        MasterUrl::parse(master_url).with_context(|| format!("{}: [slapos] master_url", path.display()))?;
    let rest_url = value("master_rest_url").map(str::to_owned);
    Ok(ClientSettings { path, master_url, rest_url })
}

/// A client for the configured master.
///
/// # Errors
/// The HTTP client cannot be built.
pub(crate) fn connect(settings: &ClientSettings) -> anyhow::Result<SlapClient> {
    let mut config = ClientConfig::new(settings.master_url.clone());
    config.rest_url = settings.rest_url.clone();
    SlapClient::new(config).with_context(|| format!("{}: cannot set up the connection", settings.path.display()))
}

/// Reads the configuration and connects, for commands that need nothing
/// else from the file.
///
/// # Errors
/// As [`load`] and [`connect`].
pub(crate) fn client(args: &ConfigArgs) -> anyhow::Result<SlapClient> {
    connect(&load(args)?)
}

/// `slapos.cli.request.parse_option_dict`: `key=value` items (split at the
/// first `=`) into pairs; a repeated key is an error, as is an item
/// without `=`.
///
/// # Errors
/// Names the option and the offending item.
pub(crate) fn parse_option_dict(option: &str, items: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(items.len());
    for item in items {
        let Some((key, value)) = item.split_once('=') else {
            bail!("{option} {item:?}: expected key=value");
        };
        if pairs.iter().any(|(existing, _)| existing == key) {
            bail!("{option}: multiple values provided for the same key '{key}'");
        }
        pairs.push((key.to_owned(), value.to_owned()));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_dicts_split_at_the_first_equal_sign() {
        let items = vec!["computer_guid=COMP-1".to_owned(), "x=a=b".to_owned(), "empty=".to_owned()];
        let pairs = parse_option_dict("--node", &items).expect("valid");
        assert_eq!(pairs[1], ("x".to_owned(), "a=b".to_owned()));
        assert_eq!(pairs[2], ("empty".to_owned(), String::new()));
        let error = parse_option_dict("--node", &["a=1".to_owned(), "a=2".to_owned()]).expect_err("repeated");
        assert_eq!(error.to_string(), "--node: multiple values provided for the same key 'a'");
        let error = parse_option_dict("--parameters", &["novalue".to_owned()]).expect_err("no =");
        assert_eq!(error.to_string(), "--parameters \"novalue\": expected key=value");
    }

    #[test]
    fn configuration_requires_master_url_and_names_the_file() {
        let dir = std::env::temp_dir().join(format!("slapos-rs-client-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("slapos-client.cfg");
        std::fs::write(&path, "[slapos]\nmaster_rest_url = http://m/hateoas\n").expect("write");
        let args = ConfigArgs { cfg: Some(path.clone()) };
        let error = load(&args).expect_err("no master_url");
        assert_eq!(error.to_string(), format!("{}: no option 'master_url' in section [slapos]", path.display()));
        std::fs::write(&path, "[slapos]\nmaster_url = http://m:8080\nmaster_rest_url = http://m:8080/hateoas\n")
            .expect("write");
        let settings = load(&args).expect("valid");
        assert_eq!(settings.master_url.as_str(), "http://m:8080/");
        assert_eq!(settings.rest_url.as_deref(), Some("http://m:8080/hateoas"));
        let missing = ConfigArgs { cfg: Some(dir.join("absent.cfg")) };
        assert!(load(&missing).expect_err("absent").to_string().starts_with("configuration file does not exist: "));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
