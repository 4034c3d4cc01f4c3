#!/usr/bin/env bash
# Installs what faultline's tests need on Debian (as root) and runs them all.
# This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: the report tests load pages in headless Chromium.
need=(etcd-server openssh-server iptables iproute2 redis-server python3 procps chromium postgresql-15 redis-sentinel patroni)
missing=()
for p in "${need[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "faultline tests need these Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "== installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Packages must not start their own services: the tests start what they need.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  others=()
  for p in "${missing[@]}"; do [ "$p" = chromium ] || others+=("$p"); done
  if [ ${#others[@]} -gt 0 ]; then
    apt-get install -y -qq --no-install-recommends "${others[@]}" >/dev/null
  fi
  # Chromium with its recommended packages (fonts), so pages render as a person sees them.
  if [[ " ${missing[*]} " == *" chromium "* ]]; then
    apt-get install -y -qq chromium >/dev/null
  fi
  rm -f /usr/sbin/policy-rc.d
fi

echo "== cargo test --release"
cargo test --release -- --test-threads=2

# End to end against a real etcd: a local 5-node cluster (namespaces + sshd),
# the four etcd workloads through the CLI with their expected verdicts, and
# a teardown that must leave nothing behind.
echo "== etcd end to end"
./.ci/etcd-e2e.sh

# End to end against real PostgreSQL (isolation levels), Redis Sentinel
# (failover) and Patroni (failover) on a 3-node local cluster of its own, with the same teardown and leftover checks.
echo "== systems end to end"
./.ci/systems-e2e.sh
