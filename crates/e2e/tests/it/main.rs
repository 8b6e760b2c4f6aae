//! End-to-end and repository-wide checks.
#![allow(unreachable_pub)]

mod process;
mod proxy_lifecycle;
mod tidy;
mod two_masters;

/// This crate's directory, as `cargo test` names it when it runs the tests.
/// Not `env!`: a test binary built in another checkout sharing the target
/// directory (CI's clone) is reused here while its sources are unchanged,
/// and would carry that checkout's path.
fn crate_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
