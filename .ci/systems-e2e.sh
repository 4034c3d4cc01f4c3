#!/usr/bin/env bash
# End-to-end check of faultline against real PostgreSQL, Redis Sentinel and
# Patroni on this host: a 3-node local cluster (network
# namespaces + sshd, as root) on its own subnet and directory, each workload
# through the CLI with its expected exit code, then `cluster down` and a check
# that nothing (namespace, bridge, process) is left behind. The cluster is
# torn down on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "systems-e2e: needs root (network namespaces, iptables)" >&2
  exit 1
fi
for tool in ip iptables sshd setpriv /usr/lib/postgresql/15/bin/postgres redis-server redis-sentinel redis-cli patroni etcd python3; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    echo "systems-e2e: $tool missing: apt-get install -y iproute2 iptables openssh-server util-linux postgresql-15 redis-server redis-sentinel patroni etcd-server python3" >&2
    exit 1
  fi
done

# Distinct from .ci/etcd-e2e.sh (10.78.0.0/24) and the cargo tests (10.2xx).
SUBNET=10.79.0.0/24
TAG=0a4f00 # the subnet's first three octets in hex: names are fl${TAG}-n1, fl${TAG}br
DIR=$(mktemp -d /var/tmp/faultline-systems-e2e.XXXXXX)
export FAULTLINE_CLUSTER_DIR="$DIR"
export FAULTLINE_NODES_FILE="$DIR/nodes.toml"
BIN=${FAULTLINE_BIN:-target/release/faultline}
RUNS="$DIR/runs"

teardown() {
  local rc=$?
  if [ -f "$DIR/state.json" ]; then
    echo "== teardown: cluster down"
    "$BIN" cluster down --dir "$DIR" || echo "systems-e2e: cluster down failed" >&2
  fi
  exit "$rc"
}
trap teardown EXIT INT TERM

echo "== cargo build --release"
cargo build --release --quiet

echo "== cluster up (3 nodes, $SUBNET, $DIR)"
"$BIN" cluster up --nodes 3 --subnet "$SUBNET" --dir "$DIR"

passed=0
failures=0
check_exit() {
  local want=$1 got=$2 what=$3
  if [ "$got" != "$want" ]; then
    echo "systems-e2e: FAIL: $what exited $got, expected $want" >&2
    failures=$((failures + 1))
  else
    echo "systems-e2e: ok: $what exited $got"
    passed=$((passed + 1))
  fi
}
expect() {
  local want=$1 workload=$2 got=0
  echo "== faultline test $workload (expect exit $want)"
  "$BIN" test "$workload" --runs-dir "$RUNS" || got=$?
  check_exit "$want" "$got" "$workload"
}
# The newest run's history of a workload.
history_of() {
  local d
  d=$(ls -d "$RUNS/$(basename "$1" .toml)"/*/ | tail -n 1)
  echo "${d%/}/history.jsonl"
}

expect 0 workloads/pg-append-serializable.toml
expect 1 workloads/pg-append-repeatable-read.toml
# Snapshot isolation allows the write skew (G2-item) repeatable read shows,
# and nothing stronger may be found: valid under snapshot-isolation.
got=0
h=$(history_of workloads/pg-append-repeatable-read.toml)
"$BIN" check --workload list-append --consistency-model snapshot-isolation "$h" || got=$?
check_exit 0 "$got" "check --consistency-model snapshot-isolation (repeatable read)"
if ! grep -q '"G2-item"' "$(dirname "$h")/results.json" || grep -q '"G-single"' "$(dirname "$h")/results.json"; then
  echo "systems-e2e: FAIL: repeatable read must show G2-item and no G-single" >&2
  failures=$((failures + 1))
else
  passed=$((passed + 1))
fi
expect 1 workloads/pg-append-read-committed.toml
expect 0 workloads/pg-rw-register-serializable.toml
# Redis Sentinel: writes acknowledged by an isolated primary are lost at
# failover; an isolation too short for a failover answers unknown.
expect 1 workloads/redis-sentinel-failover.toml
if ! grep -q '"lost"' "$(dirname "$(history_of workloads/redis-sentinel-failover.toml)")/results.json"; then
  echo "systems-e2e: FAIL: redis-sentinel-failover must name lost writes" >&2
  failures=$((failures + 1))
else
  passed=$((passed + 1))
fi
expect 2 workloads/redis-sentinel-no-failover.toml
# Patroni: with asynchronous replication, writes the isolated primary
# acknowledged are lost at failover; with synchronous_mode_strict none is;
# reads from replicas are stale. Each run must also have failed over.
# The verdict of one checker in a run's results.json.
verdict_of() {
  python3 -c 'import json,sys; print(next((r["verdict"] for r in json.load(open(sys.argv[1]))["results"] if r["checker"] == sys.argv[2]), "absent"))' "$1" "$2"
}
check_verdict() {
  local workload=$1 checker=$2 want=$3 got
  got=$(verdict_of "$(dirname "$(history_of "$workload")")/results.json" "$checker")
  if [ "$got" != "$want" ]; then
    echo "systems-e2e: FAIL: $workload: $checker is $got, expected $want" >&2
    failures=$((failures + 1))
  else
    echo "systems-e2e: ok: $workload: $checker $got"
    passed=$((passed + 1))
  fi
}
# The primary was killed, not only isolated: a kill-primary event that names
# the node it killed.
check_killed() {
  if ! grep '"f":"kill-primary"' "$(history_of "$1")" | grep -q '"killed":\['; then
    echo "systems-e2e: FAIL: $1: no kill-primary event killed a node" >&2
    failures=$((failures + 1))
  else
    echo "systems-e2e: ok: $1: the primary was killed"
    passed=$((passed + 1))
  fi
}
expect 1 workloads/pg-failover-async.toml
check_verdict workloads/pg-failover-async.toml lost-write invalid
check_verdict workloads/pg-failover-async.toml provoked valid
check_killed workloads/pg-failover-async.toml
expect 0 workloads/pg-failover-sync.toml
check_verdict workloads/pg-failover-sync.toml provoked valid
check_killed workloads/pg-failover-sync.toml
expect 1 workloads/pg-failover-replica-reads.toml
check_verdict workloads/pg-failover-replica-reads.toml stale-read invalid
check_verdict workloads/pg-failover-replica-reads.toml provoked valid
expect 2 workloads/pg-failover-no-failover.toml
check_verdict workloads/pg-failover-no-failover.toml provoked unknown

echo "== cluster down"
"$BIN" cluster down --dir "$DIR"

leftover=0
if ip netns list | grep -q "^fl${TAG}-"; then
  echo "systems-e2e: namespaces left behind:" >&2
  ip netns list | grep "^fl${TAG}-" >&2
  leftover=1
fi
if [ -e "/sys/class/net/fl${TAG}br" ]; then
  echo "systems-e2e: bridge fl${TAG}br left behind" >&2
  leftover=1
fi
# Every process we started mentions the cluster directory (sshd config,
# data directories).
if pgrep -f -- "$DIR" >/dev/null; then
  echo "systems-e2e: processes left behind:" >&2
  pgrep -af -- "$DIR" >&2
  leftover=1
fi

if [ "$failures" != 0 ] || [ "$leftover" != 0 ]; then
  echo "systems-e2e: FAILED ($failures check(s) wrong, leftovers: $leftover)" >&2
  echo "systems-e2e: $passed passed, $((failures + leftover)) failed"
  exit 1
fi
rm -rf "$DIR"
echo "systems-e2e: every workload gave its expected verdict; nothing left behind"
echo "systems-e2e: $passed passed, 0 failed"
