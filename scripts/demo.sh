#!/usr/bin/env bash
# The main job, on one machine: an embedded master (SQLite) and a local
# node; a "hello" web service is supplied, ordered, built, deployed and run
# by the node's supervisor, and its connection parameters (its URL) are
# shown, then fetched.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/slapos-rs/target}"
cargo build --locked -q -p cli
slapos="$CARGO_TARGET_DIR/debug/slapos"
software="$PWD/scripts/demo/software.cfg"

work="$(mktemp -d)"
chmod 755 "$work"  # partitions run as other users must reach their directory
master_pid=""
cleanup() {
  [ -f "$work/node.cfg" ] && "$slapos" node supervisord --cfg "$work/node.cfg" --shutdown > /dev/null 2>&1 || true
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

# The local node: its partitions are directories of the current user (no
# users or addresses are created, even as root).
cat > "$work/node.cfg" <<CFG
[slapos]
computer_id = COMP-DEMO
master_url = $url
software_root = $work/soft
instance_root = $work/srv
[slapformat]
partition_amount = 3
alter_user = false
alter_network = false
interface_name = lo
computer_xml = $work/slapos.xml
CFG
if [ "$(id -u)" = 0 ]; then
  # Root nodes run services as partition users; a demo node run by root
  # gives its partitions to `nobody` instead of creating users.
  node_user=nobody
else
  node_user=""
fi

echo "== format the compute node COMP-DEMO (3 partitions)"
"$slapos" node format --cfg "$work/node.cfg"
[ -n "$node_user" ] && chown "$node_user:nogroup" "$work"/srv/slappart*

echo "== supply $software to COMP-DEMO"
"$slapos" supply "$software" COMP-DEMO

echo "== request an instance of it"
"$slapos" request my-hello "$software" --parameters name=world

echo "== the node builds the software release"
"$slapos" node software --cfg "$work/node.cfg"

echo "== the node deploys the instance and starts its service"
"$slapos" node instance --cfg "$work/node.cfg"
"$slapos" node status --cfg "$work/node.cfg"

echo "== the connection parameters, as the requester sees them"
"$slapos" request my-hello "$software" --parameters name=world --timeout 30 --poll-interval 1
hello_url="$("$slapos" request my-hello "$software" --parameters name=world --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["connection_parameters"]["url"])')"

echo "== the service answers at $hello_url"
for _ in $(seq 50); do
  curl -fsS "$hello_url" && break
  sleep 0.2
done
