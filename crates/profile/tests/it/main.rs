//! Integration tests of the profile engine: one binary, one module per
//! concern.
#![allow(unreachable_pub)]

mod build_fixture;
mod cases;
mod lifecycle;
mod lifecycle_record;
mod differential;
mod never_panics;
mod python_golden;
mod recipe_cookbook;
mod recipe_switch;
mod recipe_template;
mod recipe_build;
mod recipe_cmmi;
mod recipe_download;
mod recipe_egg;
mod recipe_gitclone;
mod venv;

/// This crate's directory, as `cargo test` names it when it runs the tests.
/// Not `env!`: a test binary built in another checkout sharing the target
/// directory (CI's clone) is reused here while its sources are unchanged,
/// and would carry that checkout's path.
fn crate_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
