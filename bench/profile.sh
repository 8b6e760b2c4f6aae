#!/usr/bin/env bash
# The profile benchmark in one command: build the release `slapos` and
# `profile-bench`, make sure both reference venvs exist (zc.buildout 6.0.1:
# tests/python/setup-venv.sh; zc.buildout 3.0.1: bench/setup-buildout3.sh),
# then time profile resolution side by side and print the table (see
# bench/README.md). Arguments go to profile-bench, e.g.
# `bench/profile.sh --python-seconds-max 60`.
#
#   CARGO_TARGET_DIR        build directory (default /var/cache/slapos-rs/target)
#   SLAPOS_VENV             zc.buildout 6.0.1 venv (default /var/cache/slapos-rs/venv)
#   SLAPOS_BUILDOUT3_VENV   zc.buildout 3.0.1 venv (default /var/cache/slapos-rs/venv-buildout3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/slapos-rs/target}"
export SLAPOS_VENV="${SLAPOS_VENV:-/var/cache/slapos-rs/venv}"
export SLAPOS_BUILDOUT3_VENV="${SLAPOS_BUILDOUT3_VENV:-/var/cache/slapos-rs/venv-buildout3}"

cd "$root"
cargo build --release -p cli -p bench
bash tests/python/setup-venv.sh
bash bench/setup-buildout3.sh
exec "$CARGO_TARGET_DIR/release/profile-bench" --slapos "$CARGO_TARGET_DIR/release/slapos" \
  --venv "$SLAPOS_VENV" --venv-buildout3 "$SLAPOS_BUILDOUT3_VENV" "$@"
