#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script):
# installs what the tests need (PostgreSQL, a Python venv with the real
# SlapOS peers), builds, runs every Rust test, then the conformance suites
# with the real Python clients against our binary.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/slapos-rs/target}"
export SLAPOS_VENV="${SLAPOS_VENV:-/var/cache/slapos-rs/venv}"
mkdir -p "$CARGO_TARGET_DIR"

echo "== services and peers"
SLAPOS_TEST_POSTGRES_URI="$(tests/postgres.sh)"
export SLAPOS_TEST_POSTGRES_URI
bash tests/python/setup-venv.sh

echo "== build"
build_log="$(mktemp)"
cargo build --locked --workspace --all-targets 2>&1 | tee "$build_log"
if grep -qE '^(warning|error)' "$build_log"; then
  echo "the build printed warnings: fix them" >&2
  exit 1
fi

echo "== rust tests"
cargo test --locked --workspace 2>&1

# The conformance runs use a private copy: a build elsewhere may replace the
# shared target directory's binary while they run.
slapos_binary="$(mktemp -d)/slapos"
cp "$CARGO_TARGET_DIR/debug/slapos" "$slapos_binary"

echo "== conformance: the real slapos CLI against our master"
"$SLAPOS_VENV/bin/python" tests/conformance/real_cli.py --server rust --binary "$slapos_binary"

echo "== conformance: slapos.core 1.26.1's proxy test suites against our master"
"$SLAPOS_VENV/bin/python" tests/conformance/slapproxy_suite.py \
  --server rust --binary "$slapos_binary" \
  --known-failures tests/conformance/slapproxy-known-failures.txt
