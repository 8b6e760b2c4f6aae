//! `slapos proxy start --cfg slapos.cfg` and `slapos master serve`: the
//! master with its embedded store, configured as the Python slapproxy is
//! (`[slapos] computer_id`, `[slapproxy] host port database_uri
//! software_product_list`, `[multimaster/<url>] key cert computer partition
//! software_release_list`), stopped cleanly by SIGTERM or Ctrl-C.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context};
use master::{AppState, MasterConfig, Multimaster, Store};

use crate::ini::Ini;
use crate::output::{self, Output};
use crate::Ctx;

/// Options of `slapos proxy start` / `slapos master serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration file with [slapos] and [slapproxy] sections.
    #[arg(long, env = "SLAPOS_CONFIGURATION")]
    cfg: Option<PathBuf>,
    /// Address to listen on, overriding [slapproxy] host and port (port 0 picks a free one).
    #[arg(long)]
    listen: Option<String>,
    /// Database: a SQLite file path or postgresql://…, overriding [slapproxy] database_uri.
    #[arg(long)]
    database_uri: Option<String>,
    /// Default computer, overriding [slapos] computer_id.
    #[arg(long)]
    computer_id: Option<String>,
    /// Largest accepted request body, in bytes.
    #[arg(long, default_value_t = master::config::BODY_LIMIT_BYTES_DEFAULT)]
    body_limit_bytes: usize,
}

/// The validated server settings.
struct Settings {
    listen: String,
    database_uri: String,
    config: MasterConfig,
    /// Local software release URLs are relative to it (slapproxy's
    /// `local_software_release_root`, default `/`).
    local_software_release_root: String,
}

fn settings(args: &Args) -> anyhow::Result<Settings> {
    let ini = args.cfg.as_deref().map(Ini::read).transpose()?.unwrap_or_default();
    let from_file = |section: &str, key: &str| ini.get(section, key).filter(|v| !v.is_empty()).map(str::to_owned);
    let computer_id = args
        .computer_id
        .clone()
        .or_else(|| from_file("slapos", "computer_id"))
        .unwrap_or_else(|| "computer".to_owned());
    let database_uri = args
        .database_uri
        .clone()
        .or_else(|| from_file("slapproxy", "database_uri"))
        .or_else(|| from_file("slapos", "database_uri"))
        .context("no database: set [slapproxy] database_uri in the configuration or pass --database-uri")?;
    let listen = match &args.listen {
        Some(listen) => listen.clone(),
        None => {
            let host = from_file("slapproxy", "host").unwrap_or_else(|| "127.0.0.1".to_owned());
            let port = from_file("slapproxy", "port").unwrap_or_else(|| "8080".to_owned());
            if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            }
        }
    };
    let mut software_products = BTreeMap::new();
    for (number, line) in from_file("slapproxy", "software_product_list").unwrap_or_default().lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((name, url)) = line.split_once(char::is_whitespace) else {
            bail!(
                "{}: [slapproxy] software_product_list line {}: expected `NAME URL`, got {line:?}",
                ini.path.display(),
                number + 1
            );
        };
        software_products.insert(name.to_owned(), url.trim().to_owned());
    }
    let mut config = MasterConfig::new(computer_id);
    config.software_products = software_products;
    config.multimasters = multimasters(&ini)?;
    config.body_limit_bytes = args.body_limit_bytes;
    let local_software_release_root = from_file("slapproxy", "local_software_release_root")
        .or_else(|| from_file("slapos", "local_software_release_root"))
        .unwrap_or_else(|| "/".to_owned());
    Ok(Settings { listen, database_uri, config, local_software_release_root })
}

/// The `[multimaster/<url>]` sections: other masters requests may be
/// forwarded to, keyed by the URL as written. A software release listed in
/// several sections goes to the first by URL (the proxy: by file order).
fn multimasters(ini: &Ini) -> anyhow::Result<BTreeMap<String, Multimaster>> {
    let mut found: BTreeMap<String, Multimaster> = BTreeMap::new();
    for section in ini.sections().filter(|name| name.starts_with("multimaster/")) {
        let url = &section["multimaster/".len()..];
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("http" | "https")) {
            bail!("{}: [{section}]: the master URL must start with http:// or https://", ini.path.display());
        }
        let value = |key: &str| ini.get(section, key).filter(|v| !v.is_empty()).map(str::to_owned);
        let software_releases: Vec<String> = value("software_release_list")
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        for release in &software_releases {
            if let Some((other, _)) = found.iter().find(|(_, m)| m.software_releases.contains(release)) {
                tracing::warn!(
                    software_url = %release,
                    first = %other,
                    second = %url,
                    "software release listed by two multimaster sections, the first is used"
                );
            }
        }
        let multimaster = Multimaster {
            key_file: value("key").map(PathBuf::from),
            cert_file: value("cert").map(PathBuf::from),
            computer_id: value("computer"),
            partition_id: value("partition"),
            software_releases,
        };
        found.insert(url.to_owned(), multimaster);
    }
    Ok(found)
}

/// A master whose store is open and whose socket listens, not serving yet.
pub(crate) struct Bound {
    /// Where it listens.
    pub(crate) address: std::net::SocketAddr,
    store: Store,
    state: AppState,
    listener: tokio::net::TcpListener,
}

impl Args {
    /// The options of a master listening on `listen`, the rest read from
    /// the configuration file `cfg`.
    pub(crate) fn from_file(cfg: PathBuf, listen: String) -> Args {
        Args {
            cfg: Some(cfg),
            listen: Some(listen),
            database_uri: None,
            computer_id: None,
            body_limit_bytes: master::config::BODY_LIMIT_BYTES_DEFAULT,
        }
    }
}

/// Opens the store and binds the socket of the master `args` describe.
pub(crate) async fn bind(args: &Args) -> anyhow::Result<Bound> {
    let settings = settings(args)?;
    let store = Store::open(&settings.database_uri)
        .await
        .with_context(|| format!("cannot open the database {}", settings.database_uri))?;
    store
        .rebase_local_software_root(&settings.local_software_release_root)
        .await
        .context("cannot rebase local software release URLs")?;
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener.local_addr().context("listener has no address")?;
    tracing::info!(%address, computer = %settings.config.computer_id, "master listening");
    let state = AppState::new(store.clone(), settings.config);
    Ok(Bound { address, store, state, listener })
}

impl Bound {
    /// Serves until `shutdown` resolves, then lets requests in flight finish.
    pub(crate) async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        master::serve(self.listener, self.state, shutdown).await.context("server failed")?;
        self.store.close().await;
        tracing::info!("master stopped");
        Ok(())
    }
}

/// Runs the master until SIGTERM or Ctrl-C.
pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<Output> {
    let bound = bind(&args).await?;
    let address = bound.address;
    if ctx.json {
        output::line(&serde_json::json!({ "listening": format!("http://{address}/") }).to_string());
    } else {
        output::line(&format!("slapos master listening on http://{address}/"));
    }
    bound.serve(shutdown_signal()).await?;
    Ok(Output::empty())
}

/// Resolves on SIGTERM or SIGINT.
pub(crate) async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multimaster_sections_are_read_as_the_proxy_reads_them() {
        let text = "[slapos]\ncomputer_id = computer\n\
                    [multimaster/https://slap.example.com]\nkey = /k\ncert = /c\ncomputer = COMP-12345\npartition = slappart1\n\
                    software_release_list =\n  https://example.com/software.cfg\n  /some/local/path\n\
                    [multimaster/http://127.0.0.1:8281/]\nsoftware_release_list = http://sr/x.cfg\n";
        let ini = Ini::parse(std::path::Path::new("slapos.cfg"), text).expect("valid");
        let found = multimasters(&ini).expect("valid sections");
        let https = &found["https://slap.example.com"];
        assert_eq!(https.software_releases, ["https://example.com/software.cfg", "/some/local/path"]);
        assert_eq!((https.computer_id.as_deref(), https.partition_id.as_deref()), (Some("COMP-12345"), Some("slappart1")));
        assert_eq!(https.key_file.as_deref(), Some(std::path::Path::new("/k")));
        let http = &found["http://127.0.0.1:8281/"];
        assert_eq!(http.software_releases, ["http://sr/x.cfg"]);
        assert_eq!((http.key_file.as_ref(), http.computer_id.as_ref()), (None, None));

        let bad = Ini::parse(std::path::Path::new("slapos.cfg"), "[multimaster/ftp://x]\n").expect("valid syntax");
        let error = multimasters(&bad).expect_err("not http");
        assert!(error.to_string().contains("[multimaster/ftp://x]"), "{error}");
    }
}
