#!/usr/bin/env bash
# The benchmark in one command: build the release `slapos` and the load
# generator, make sure the reference venv (slapos.core 1.26.1) exists, then
# run both servers side by side and print the table (see bench/README.md).
# Arguments go to the bench binary, e.g. `bench/run.sh --json results.json`.
#
#   CARGO_TARGET_DIR  build directory (default /var/cache/slapos-rs/target)
#   SLAPOS_VENV       reference venv (default /var/cache/slapos-rs/venv)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/slapos-rs/target}"
export SLAPOS_VENV="${SLAPOS_VENV:-/var/cache/slapos-rs/venv}"

cd "$root"
cargo build --release -p cli -p bench
bash tests/python/setup-venv.sh
exec "$CARGO_TARGET_DIR/release/bench" --slapos "$CARGO_TARGET_DIR/release/slapos" --venv "$SLAPOS_VENV" "$@"
