#!/usr/bin/env bash
# The main job, on one machine: an embedded master (SQLite), a compute node
# registered on it, a software release supplied and an instance ordered;
# shows what the master answers.
#
# Today the node agent (issue #5) does not exist yet: the instance is
# allocated and its parameters are shown, but nothing builds or runs it, so
# its connection parameters stay empty until a node publishes them.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/slapos-rs/target}"
cargo build --locked -q -p cli
slapos="$CARGO_TARGET_DIR/debug/slapos"

work="$(mktemp -d)"
master_pid=""
cleanup() {
  [ -n "$master_pid" ] && kill "$master_pid" 2>/dev/null && wait "$master_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/slapos.cfg" <<CFG
[slapos]
computer_id = COMP-DEMO
[slapproxy]
host = 127.0.0.1
port = 0
database_uri = $work/master.db
CFG

"$slapos" proxy start --cfg "$work/slapos.cfg" > "$work/master.out" 2> "$work/master.log" &
master_pid=$!
for _ in $(seq 100); do
  url="$(sed -n 's/^slapos master listening on //p' "$work/master.out")"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/master.log" >&2; exit 1; }
echo "== master listening on $url"

cat > "$work/slapos-client.cfg" <<CFG
[slapos]
master_url = $url
master_rest_url = ${url}hateoas
CFG
export SLAPOS_CLIENT_CONFIGURATION="$work/slapos-client.cfg"

echo "== register the compute node COMP-DEMO with 3 partitions"
"$slapos" node register COMP-DEMO --master-url "$url" --partition-number 3 \
  --software-root "$work/soft" --instance-root "$work/srv" --cfg-output "$work/node.cfg"

software="https://lab.nexedi.com/nexedi/slapos/raw/1.0.330/software/helloworld/software.cfg"
echo "== supply $software to COMP-DEMO"
"$slapos" supply "$software" COMP-DEMO

echo "== request an instance of it"
"$slapos" request my-hello "$software" --parameters name=world

echo "== the service as its owner sees it"
"$slapos" service info my-hello

echo "== the compute node"
"$slapos" computer info COMP-DEMO
