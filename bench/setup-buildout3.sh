#!/usr/bin/env bash
# Create (or update) the second reference venv of the profile benchmark
# (bench/profile.sh): zc.buildout 3.0.1, the version SlapOS builds on (its
# fork 3.0.1+slapos010 is not on PyPI; the merge code the benchmark times is
# upstream's). The main venv (tests/python/setup-venv.sh) holds 6.0.1.
# Idempotent: a marker file records what was installed.
#
#   SLAPOS_BUILDOUT3_VENV  venv location (default /var/cache/slapos-rs/venv-buildout3)
#   PYTHON                 interpreter used to create it (default python3)
#   FORCE=1                reinstall even if the marker matches
set -euo pipefail

venv="${SLAPOS_BUILDOUT3_VENV:-/var/cache/slapos-rs/venv-buildout3}"
python="${PYTHON:-python3}"
marker="$venv/.slapos-rs-requirements"
# zc.buildout 3.0.1 imports pkg_resources and setuptools.package_index,
# which later setuptools dropped: a setuptools of its time.
wanted="zc.buildout==3.0.1 setuptools==69.5.1"

if [ "${FORCE:-0}" != 1 ] && [ -x "$venv/bin/python" ] && [ -f "$marker" ] \
   && [ "$(cat "$marker")" = "$wanted" ]; then
  echo "setup-buildout3: $venv is up to date ($wanted)"
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "setup-buildout3: creating venv $venv with $("$python" --version 2>&1)"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
fi

echo "setup-buildout3: installing $wanted"
# shellcheck disable=SC2086  # the list is meant to split
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet $wanted
"$venv/bin/python" -c 'import zc.buildout.buildout, pkg_resources; print("setup-buildout3: zc.buildout", pkg_resources.get_distribution("zc.buildout").version)'
echo "$wanted" > "$marker"
