//! The master's HTTP server: the classic SLAP API (§3) on the root path,
//! the JSON-RPC API (§4, `jsonrpc`) and the HATEOAS API (§5, `hateoas`).
//! `app` builds the router (tests drive it in-process), `serve` runs it on
//! a bound listener until the shutdown future resolves.

mod classic;
mod error;
mod form;
mod forward;
mod hateoas;
mod jsonrpc;
mod render;
mod request;

pub use error::ApiError;

use std::future::Future;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use crate::config::MasterConfig;
use crate::store::Store;

/// What every handler shares: the store and the configuration. No other
/// state lives in the process, so any number of masters can share one
/// PostgreSQL store.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Validated configuration.
    pub config: Arc<MasterConfig>,
    /// Random id of this process (`getRunId`).
    pub run_id: Arc<str>,
}

impl AppState {
    /// A state with a fresh random run id.
    pub fn new(store: Store, config: MasterConfig) -> AppState {
        use rand::Rng;
        let run_id: String = rand::thread_rng()
            .sample_iter(rand::distributions::Alphanumeric)
            .take(32)
            .map(char::from)
            .collect();
        AppState { store, config: Arc::new(config), run_id: run_id.into() }
    }
}

/// Seconds since the epoch, as the protocol's timestamps count them.
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The router with every endpoint.
pub fn app(state: AppState) -> Router {
    let body_limit = state.config.body_limit_bytes;
    Router::new()
        .route("/getFullComputerInformation", get(classic::full_computer_information))
        .route("/getComputerInformation", get(classic::full_computer_information))
        .route("/registerComputerPartition", get(classic::register_partition))
        .route("/requestComputerPartition", post(request::request_partition))
        .route("/setComputerPartitionConnectionXml", post(classic::set_connection))
        .route("/supplySupply", post(classic::supply))
        .route("/buildingSoftwareRelease", post(classic::ignored))
        .route("/availableSoftwareRelease", post(classic::ignored))
        .route("/softwareReleaseError", post(classic::ignored))
        .route("/destroyedSoftwareRelease", post(classic::destroyed_software_release))
        .route("/startedComputerPartition", post(classic::ignored))
        .route("/stoppedComputerPartition", post(classic::ignored))
        .route("/destroyedComputerPartition", post(classic::destroyed_partition))
        .route("/softwareInstanceError", post(classic::ignored))
        .route("/softwareInstanceBang", post(classic::bang))
        .route("/softwareInstanceRename", post(classic::rename))
        .route("/loadComputerConfigurationFromXML", post(classic::load_computer_configuration))
        .route("/useComputer", post(classic::ignored))
        .route("/computerBang", post(classic::computer_bang))
        .route("/getComputerPartitionCertificate", get(classic::partition_certificate))
        .route("/getComputerPartitionStatus", get(classic::partition_status))
        .route("/getSoftwareReleaseListFromSoftwareProduct", get(classic::software_release_list_from_product))
        .route("/getRunId", get(classic::run_id))
        .merge(jsonrpc::routes())
        .merge(hateoas::routes())
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets
/// in-flight requests finish.
///
/// # Errors
/// The listener failed.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}
