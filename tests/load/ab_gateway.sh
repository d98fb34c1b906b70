#!/usr/bin/env bash
# tests/load/ab_gateway.sh BASE_BUILD_DIR [ROUNDS] - the gateway's CPU per
# acknowledged request (parley-load rpc, 64 clients, window 4, flat out, 8 s)
# and per delivery (parley-load fanout, 5,000 receivers in 20 rooms, 1,000
# updates/s, 8 s: past the box's ceiling, so it measures the most the
# gateway delivers), for two builds alternating ROUNDS times (default 3) on
# fresh systems (tests/load/system.sh). A is BASE_BUILD_DIR, B this
# checkout's build/release. One JSON line per run. Used for
# docs/BENCHMARKS.md, "Gateway metrics (issue 13)".
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
base=${1:?usage: tests/load/ab_gateway.sh BASE_BUILD_DIR [ROUNDS]}
rounds=${2:-3}
load=$root/build/release/tests/load/parley-load
secret=benchsecret0123456789abcdef
for round in $(seq 1 $rounds); do
  for which in base new; do
    b=$([ $which = base ] && echo "$base" || echo "$root/build/release")
    off=0; [ $which = new ] && off=1; port=$((19300 + round * 10 + off))
    log=$(mktemp /tmp/ab_gateway.XXXXXX)
    PARLEY_JWT_SECRET=$secret setsid $root/tests/load/system.sh -p $port -b $b > $log 2>&1 &
    spid=$!
    for i in $(seq 1 150); do grep -q "^ready" $log && break; sleep 0.2; done
    gpid=$(grep -o "gateway_pid=[0-9]*" $log | cut -d= -f2)
    r=$($load rpc --port $port --secret $secret --gateway-pid $gpid --clients 64 --window 4 --rate 0 --duration 8 --drain 3 --progress 0 2>/dev/null | tail -1)
    f=$($load fanout --port $port --secret $secret --gateway-pid $gpid --conns 5000 --rooms 20 --rate 1000 --duration 8 --drain 3 --progress 0 2>/dev/null | tail -1)
    jq -cn --arg which $which --argjson round $round --argjson r "$r" --argjson f "$f" '{which:$which, round:$round,
      rpc_rate:$r.rate, rpc_acked:$r.acked, rpc_p99_ms:$r.p99_ms, rpc_gw_us_per_ack:(($r.gateway_cpu_s*1e6/$r.acked)*10|round/10),
      fan_deliveries:$f.received, fan_rate:$f.rate, fan_p99_ms:$f.p99_ms, fan_lost:$f.lost,
      fan_gw_us_per_delivery:(if $f.received>0 then ($f.gateway_cpu_s*1e6/$f.received*100|round/100) else null end)}'
    kill -TERM $spid; wait $spid 2>/dev/null; rm -f $log; sleep 1
  done
done
