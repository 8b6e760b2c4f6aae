#!/usr/bin/env bash
# Makes a PostgreSQL server available to the tests on 127.0.0.1:5432 and
# prints the URI of a fresh, empty test database on stdout.
# Installs Debian's postgresql when missing (CI runs as root on a fresh machine).
set -euo pipefail

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  echo "installing postgresql" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
cluster=$(pg_lsclusters --no-header | head -n 1)
if [ -z "$cluster" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  pg_createcluster "$version" main >&2
  cluster=$(pg_lsclusters --no-header | head -n 1)
fi
read -r version name port status _ <<<"$cluster"
if [ "$status" != "online" ]; then
  pg_ctlcluster "$version" "$name" start >&2
fi
runuser -u postgres -- psql -q -p "$port" -v ON_ERROR_STOP=1 >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'slapos_test') THEN
    CREATE ROLE slapos_test LOGIN PASSWORD 'slapos_test' CREATEDB;
  END IF;
END \$\$;
SQL
# Sweep what earlier runs left (a test killed before its cleanup).
runuser -u postgres -- psql -q -p "$port" -Atc \
  "SELECT datname FROM pg_database WHERE datname LIKE 'slapos\_test\_%' OR datname LIKE 'slapos\_e2e\_%'" |
  while read -r stale; do
    runuser -u postgres -- psql -q -p "$port" -c "DROP DATABASE IF EXISTS \"$stale\" WITH (FORCE)" >&2
  done
echo "postgresql://slapos_test:slapos_test@127.0.0.1:${port}/postgres"
