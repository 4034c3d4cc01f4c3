#!/usr/bin/env bash
# End-to-end check of faultline against a real etcd cluster on this host:
# builds the release binary, brings up a 5-node local cluster (network
# namespaces + sshd, as root), runs the four etcd workloads through the CLI,
# checks their exit codes, brings the cluster down and verifies that nothing
# (namespace, bridge, process) is left behind. The cluster is torn down on
# every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "etcd-e2e: needs root (network namespaces, iptables)" >&2
  exit 1
fi
for tool in ip iptables sshd etcd; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    echo "etcd-e2e: $tool missing: apt-get install -y iproute2 iptables openssh-server etcd-server" >&2
    exit 1
  fi
done

SUBNET=10.78.0.0/24
TAG=0a4e00 # the subnet's first three octets in hex: names are fl${TAG}-n1, fl${TAG}br
DIR=$(mktemp -d /var/tmp/faultline-e2e.XXXXXX)
export FAULTLINE_CLUSTER_DIR="$DIR"
export FAULTLINE_NODES_FILE="$DIR/nodes.toml"
BIN=${FAULTLINE_BIN:-target/release/faultline}

teardown() {
  local rc=$?
  if [ -f "$DIR/state.json" ]; then
    echo "== teardown: cluster down"
    "$BIN" cluster down --dir "$DIR" || echo "etcd-e2e: cluster down failed" >&2
  fi
  exit "$rc"
}
trap teardown EXIT INT TERM

echo "== cargo build --release"
cargo build --release --quiet

echo "== cluster up (5 nodes, $SUBNET, $DIR)"
"$BIN" cluster up --nodes 5 --subnet "$SUBNET" --dir "$DIR"
"$BIN" cluster status --dir "$DIR"

failures=0
expect() {
  local want=$1 workload=$2 got=0
  echo "== faultline test $workload (expect exit $want)"
  "$BIN" test "$workload" || got=$?
  if [ "$got" != "$want" ]; then
    echo "etcd-e2e: FAIL: $workload exited $got, expected $want" >&2
    failures=$((failures + 1))
  else
    echo "etcd-e2e: ok: $workload exited $got"
  fi
}

expect 0 workloads/etcd-register.toml
expect 1 workloads/etcd-serializable-reads.toml
expect 0 workloads/etcd-set.toml
expect 0 workloads/etcd-append.toml

echo "== cluster down"
"$BIN" cluster down --dir "$DIR"

leftover=0
if ip netns list | grep -q "^fl${TAG}-"; then
  echo "etcd-e2e: namespaces left behind:" >&2
  ip netns list | grep "^fl${TAG}-" >&2
  leftover=1
fi
if [ -e "/sys/class/net/fl${TAG}br" ]; then
  echo "etcd-e2e: bridge fl${TAG}br left behind" >&2
  leftover=1
fi
# Every process we started mentions the cluster directory (sshd config,
# etcd data dir).
if pgrep -f -- "$DIR" >/dev/null; then
  echo "etcd-e2e: processes left behind:" >&2
  pgrep -af -- "$DIR" >&2
  leftover=1
fi

if [ "$failures" != 0 ] || [ "$leftover" != 0 ]; then
  echo "etcd-e2e: FAILED ($failures workload(s) with the wrong exit code, leftovers: $leftover)" >&2
  echo "etcd-e2e: $((4 - failures)) passed, $((failures + leftover)) failed"
  exit 1
fi
rm -rf "$DIR"
echo "etcd-e2e: all four etcd workloads gave the expected verdicts; nothing left behind"
echo "etcd-e2e: 4 passed, 0 failed"
