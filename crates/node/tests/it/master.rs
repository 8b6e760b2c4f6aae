//! A master in the test process for the node's tests: its SQLite store in
//! the test's directory, serving on loopback, stopped when the returned
//! guard is dropped.

use std::path::Path;

use client::{ClientConfig, MasterUrl, SlapClient};

/// Stops the master when dropped.
pub(crate) struct MasterGuard(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for MasterGuard {
    fn drop(&mut self) {
        if let Some(shutdown) = self.0.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Starts a master whose default compute node is `computer`, its database
/// under `directory`; returns a client of it and its guard.
pub(crate) async fn start(directory: &Path, computer: &str) -> (SlapClient, MasterGuard) {
    let store = master::Store::open(&directory.join("master.db").display().to_string()).await.expect("store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let address = listener.local_addr().expect("bound address");
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let state = master::AppState::new(store, master::MasterConfig::new(computer));
    tokio::spawn(master::serve(listener, state, async {
        let _ = stop.await;
    }));
    let url = MasterUrl::parse(&format!("http://{address}/")).expect("url");
    (SlapClient::new(ClientConfig::new(url)).expect("client"), MasterGuard(Some(shutdown)))
}
