//! The one integration test binary of `proto`: checks against data recorded
//! from the real Python libraries (`test_data/generate.py`).

mod golden;

/// This crate's directory, as `cargo test` names it when it runs the tests.
/// Not `env!`: a test binary built in another checkout sharing the target
/// directory (CI's clone) is reused here while its sources are unchanged,
/// and would carry that checkout's path.
fn crate_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
