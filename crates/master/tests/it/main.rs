//! Integration tests of the master: the classic SLAP API driven in-process
//! through the router, on SQLite and (when configured) PostgreSQL.
#![allow(unreachable_pub)]

mod bad_input;
mod computer_reads;
mod concurrency;
mod forward;
mod hateoas;
mod jsonrpc;
mod lifecycle;
mod local_root;
mod request;
mod shared;
mod support;

/// Defines one test per engine from an `async fn(Master)` body.
#[macro_export]
macro_rules! on_both_engines {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $body($crate::support::Master::sqlite().await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(master) = $crate::support::Master::on($crate::support::Engine::Postgres).await {
                    $body(master).await;
                }
            }
        }
    };
}
