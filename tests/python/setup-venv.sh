#!/usr/bin/env bash
# Create (or update) the Python reference virtualenv used by the conformance
# tests: slapos.core 1.26.1 (client + `slapos proxy start`) and what its test
# suites import.  Idempotent: a marker file inside the venv records the exact
# requirement list (requirements.txt + constraints.txt) that was installed;
# when it is unchanged nothing is done.
#
#   SLAPOS_VENV   venv location (default /var/cache/slapos-rs/venv)
#   PYTHON        interpreter used to create it (default python3)
#   FORCE=1       reinstall even if the marker matches
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${SLAPOS_VENV:-/var/cache/slapos-rs/venv}"
python="${PYTHON:-python3}"
requirements="$here/requirements.txt"
constraints="$here/constraints.txt"
marker="$venv/.slapos-rs-requirements"

# The requirement list proper: no comments, no blank lines, sorted.
clean() { sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$1" | LC_ALL=C sort; }
wanted="$(clean "$requirements")"
pinned="$(clean "$constraints")"
# What the marker records: requirements, then the constraints they used.
state="$(printf '%s\n--- constraints\n%s\n' "$wanted" "$pinned")"

if [ "${FORCE:-0}" != 1 ] && [ -x "$venv/bin/python" ] && [ -f "$marker" ] \
   && [ "$(cat "$marker")" = "$state" ]; then
  echo "setup-venv: $venv is up to date ($(echo "$wanted" | tr '\n' ' '))"
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "setup-venv: creating venv $venv with $("$python" --version 2>&1)"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
  echo "setup-venv: upgrading pip"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
else
  echo "setup-venv: reusing existing venv $venv"
fi

echo "setup-venv: installing (constrained by $constraints):"
echo "$wanted" | sed 's/^/  /'
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
echo "$wanted" > "$tmp"
"$venv/bin/python" -m pip install --disable-pip-version-check \
  -r "$tmp" -c "$constraints"

echo "setup-venv: checking imports"
"$venv/bin/python" - <<'PY'
import importlib
for name in ("slapos.slap", "slapos.proxy", "slapos.cli.proxy_start",
             "slapos.tests.test_slapproxy", "slapos.tests.test_slapproxy_json_rpc"):
    importlib.import_module(name)
    print("  import %s: ok" % name)
PY

echo "$state" > "$marker"
echo "setup-venv: done; marker written to $marker"
