#!/usr/bin/env bash
# tests/load/ab_credit.sh [ROUNDS] [SECONDS] - PARLEY_WORKER_CREDIT 32 against
# 128, alternating, on a fresh tests/load/system.sh system per run: rpc flat
# out (64 clients x window 4) then rpc at a fixed 10k req/s (window 16).
# Prints one line per run: credit, acks/s flat, p99 ms at 10k/s. Loopback
# only; each run is bounded by SECONDS (default 8) plus its drain.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rounds=${1:-2} secs=${2:-8}
load=$root/build/release/tests/load/parley-load
secret=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
tmp=$(mktemp -d /tmp/pl-abc.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
field() { python3 -c "import json,sys; print(json.loads(sys.stdin.readlines()[-1])['$1'])"; }
for round in $(seq "$rounds"); do
  for credit in 32 128; do
    PARLEY_JWT_SECRET=$secret PARLEY_WORKER_CREDIT=$credit \
      "$root/tests/load/system.sh" -p 18183 > "$tmp/sys" 2>&1 &
    sys=$!
    ready=
    for _ in $(seq 150); do
      if grep -q '^ready' "$tmp/sys"; then ready=1; break; fi
      sleep 0.2
    done
    [ -n "$ready" ] || { echo "ab_credit: the system did not start" >&2; kill "$sys"; exit 1; }
    gw=$(grep -o 'gateway_pid=[0-9]*' "$tmp/sys" | cut -d= -f2)
    flat=$("$load" rpc --port 18183 --secret "$secret" --gateway-pid "$gw" --clients 64 \
           --window 4 --rate 0 --duration "$secs" --drain 2 2>/dev/null | field rate)
    p99=$("$load" rpc --port 18183 --secret "$secret" --gateway-pid "$gw" --clients 64 \
          --window 16 --rate 10000 --duration "$secs" --drain 2 2>/dev/null | field p99_ms)
    echo "round $round credit $credit: rpc-flat $flat acks/s, rpc-fixed 10k p99 $p99 ms"
    kill "$sys"
    wait "$sys" 2>/dev/null || true
  done
done
