#!/usr/bin/env bash
# tests/load/ab_connect.sh BASE_BUILD_DIR - connects/s, gateway CPU and RSS per
# connection of two gateway builds, alternating three times in one run (the
# box is noisy: only ratios from the same run mean anything). A is
# BASE_BUILD_DIR (e.g. a worktree of an older commit built with script/build),
# B is this checkout's build/release. 10,000 connections each, loopback only.
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
base=${1:?usage: tests/load/ab_connect.sh BASE_BUILD_DIR}
load=$root/build/release/tests/load/parley-load
secret=benchsecret0123456789abcdef
out=$(mktemp /tmp/ab_connect.XXXXXX); : > $out
for round in 1 2 3; do
  for which in base new; do
    b=$([ $which = base ] && echo "$base" || echo "$root/build/release")
    off=0; [ $which = new ] && off=1; port=$((19000 + round * 10 + off))
    PARLEY_JWT_SECRET=$secret setsid $root/tests/load/system.sh -p $port -b $b > $out.$which.log 2>&1 &
    spid=$!
    for i in $(seq 1 100); do grep -q "^ready" $out.$which.log && break; sleep 0.2; done
    gpid=$(grep -o "gateway_pid=[0-9]*" $out.$which.log | cut -d= -f2)
    r=$($load connect --port $port --secret $secret --gateway-pid $gpid --conns 10000 --hold 1 2>/dev/null | tail -1)
    echo "{\"which\":\"$which\",\"round\":$round,\"r\":$r}" >> $out
    kill -TERM $spid; wait $spid 2>/dev/null
    sleep 1
  done
done
jq -c '{which, round, rate: .r.rate, cpu_s: .r.gateway_cpu_s, rss_per_conn: .r.rss_per_conn_bytes, p99_ms: .r.handshake_p99_ms}' $out
rm -f "$out" "$out".*.log
