//! The reference Python venv the tests compare against or run recipes
//! with (`$SLAPOS_VENV`, default `/var/cache/slapos-rs/venv`, built by
//! `tests/python/setup-venv.sh`).

use std::path::PathBuf;

/// The venv's interpreter, or `None` with the reason printed, so that
/// `what` is skipped outside CI; under CI (`CI` set) a missing venv fails,
/// because `tests/run.sh` always builds it.
pub fn python(what: &str) -> Option<PathBuf> {
    let venv = std::env::var_os("SLAPOS_VENV")
        .filter(|value| !value.is_empty())
        .map_or_else(|| PathBuf::from("/var/cache/slapos-rs/venv"), PathBuf::from);
    let python = venv.join("bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(std::env::var_os("CI").is_none(), "{} is missing under CI: run tests/python/setup-venv.sh", python.display());
    eprintln!("skipping {what}: {} is missing (tests/python/setup-venv.sh builds it)", python.display());
    None
}
