#!/usr/bin/env bash
# tests/load/bench_worker.sh - one `parley-load worker` run against one
# actors worker binary, with the CPU both the worker and Redis used.
# To compare worker runtimes in one session (PARLEY_WORKER_BATCH=0 and 1).
#
#   tests/load/bench_worker.sh WORKER_BIN LABEL [parley-load worker options...]
#   LOAD_MODE=roll tests/load/bench_worker.sh build/release/workers/rules/parley-rules roll
#       the same with `parley-load roll` (rolls/s of one rules worker)
#
# A fresh private redis-server (unix socket, AOF on as system.sh) per run,
# so runs do not see each other's data. Environment PARLEY_* is passed on
# to the worker (e.g. PARLEY_WORKER_CREDIT=64). Prints one JSON line: the
# load tool's summary plus worker_cpu_us_per_req, redis_cpu_us_per_req,
# and the worker's voluntary/involuntary context switches per request.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=$1 label=$2; shift 2
load=${LOAD_BIN:-$root/build/release/tests/load/parley-load}
. "$root/tests/load/bench_lib.sh"
bench_dir pl-bench
csw() { awk '/^voluntary_ctxt_switches/{v=$2} /^nonvoluntary_ctxt_switches/{n=$2} END{print v, n}' "/proc/$1/status"; }

bench_redis

ep="ipc://$dir/wk.ipc"
PARLEY_BROKER_BACKEND=$ep PARLEY_EVENTS_XSUB="ipc://$dir/events.ipc" \
PARLEY_REDIS_URL="unix://$dir/redis.sock" PARLEY_RUN_DIR=$dir PARLEY_LOG_LEVEL=${PARLEY_LOG_LEVEL:-warn} \
PARLEY_ACTORS_PER_USER=1000000 "$bin" 2>"$dir/worker.log" &
pids+=($!); wpid=$!
sleep 0.2
w0=$(cpu $wpid) r0=$(cpu $rpid) s0=$(csw $wpid)
la0=$(cut -d' ' -f1 /proc/loadavg)
out=$(/usr/bin/time -f '%U %S' -o "$dir/time" "$load" "${LOAD_MODE:-worker}" --bind "$ep" --progress 0 "$@" 2>"$dir/load.log") || true
w1=$(cpu $wpid) r1=$(cpu $rpid) s1=$(csw $wpid)
la1=$(cut -d' ' -f1 /proc/loadavg)
tool=$(awk '{print ($1 + $2) * 1e6}' "$dir/time")
hz=$(getconf CLK_TCK)
echo "$out" | jq -c --arg lbl "$label" --argjson w "$((w1 - w0))" --argjson r "$((r1 - r0))" \
  --argjson hz "$hz" --arg s0 "$s0" --arg s1 "$s1" --argjson tool "$tool" --arg la "$la0/$la1" '
  ($s0 | split(" ") | map(tonumber)) as $a | ($s1 | split(" ") | map(tonumber)) as $b |
  (.acked + .failed) as $n |
  {"label": $lbl, rate, rate_unit, acked, failed, unanswered, p50_ms, p99_ms, credit, reads_pct, errors,
   worker_cpu_us_per_req: (if $n > 0 then ($w / $hz * 1e6 / $n | . * 10 | round / 10) else null end),
   redis_cpu_us_per_req:  (if $n > 0 then ($r / $hz * 1e6 / $n | . * 10 | round / 10) else null end),
   tool_cpu_us_per_req: (if $n > 0 then ($tool / $n | . * 10 | round / 10) else null end),
   loadavg: $la,
   worker_cpu_pct: ($w / $hz / .duration_s * 100 | round),
   redis_cpu_pct: ($r / $hz / .duration_s * 100 | round),
   worker_vcsw_per_req: (if $n > 0 then (($b[0] - $a[0]) / $n * 1000 | round / 1000) else null end),
   worker_ivcsw_per_req: (if $n > 0 then (($b[1] - $a[1]) / $n * 1000 | round / 1000) else null end)}'
if [ -n "${BENCH_VERBOSE:-}" ]; then
  kill -TERM $wpid 2>/dev/null; wait $wpid 2>/dev/null || true
  grep -E "coroutine runtime|one request at a time" "$dir/worker.log" | cut -c1-400 >&2 || true
fi
if [ -s "$dir/worker.log" ] && grep -qiE "error|assert" "$dir/worker.log"; then
  echo "worker log:" >&2; tail -n 5 "$dir/worker.log" >&2
fi
