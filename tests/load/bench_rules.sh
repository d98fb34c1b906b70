#!/usr/bin/env bash
# tests/load/bench_rules.sh - one `parley-load rules` run against one
# parley-rules: rule runs/s (and rule evaluations/s) of one worker on a bus
# of its own, with the CPU the worker and Redis used.
#
#   tests/load/bench_rules.sh [WORKER_BIN] [parley-load rules options...]
#   tests/load/bench_rules.sh build/release/workers/rules/parley-rules --duration 5 --rules 10
#
# A fresh private redis-server (unix socket, AOF on as system.sh). The
# tool binds the bus and writes the campaign, rules and actors first; the
# worker starts after it (no broker: the bus works without one). Prints
# one JSON line: the tool's summary plus worker_cpu_us_per_run,
# redis_cpu_us_per_run (the CPU from the worker's start to the tool's end
# over every run in that time, warm-up and drain included) and the CPU
# shares over the measured window.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${1:-$root/build/release/workers/rules/parley-rules}
shift || true
load=${LOAD_BIN:-$root/build/release/tests/load/parley-load}
. "$root/tests/load/bench_lib.sh"
bench_dir pl-bench-rules
bench_redis

"$load" rules --events-in "ipc://$dir/in.ipc" --events-out "ipc://$dir/out.ipc" \
  --redis "unix://$dir/redis.sock" --progress 0 "$@" >"$dir/out.json" 2>"$dir/load.log" &
lpid=$!
for _ in $(seq 100); do [ -S "$dir/out.ipc" ] && break; sleep 0.05; done
PARLEY_BROKER_BACKEND="ipc://$dir/no-broker.ipc" PARLEY_EVENTS_XSUB="ipc://$dir/in.ipc" \
PARLEY_EVENTS_XPUB="ipc://$dir/out.ipc" PARLEY_REDIS_URL="unix://$dir/redis.sock" \
PARLEY_RUN_DIR=$dir PARLEY_LOG_LEVEL=${PARLEY_LOG_LEVEL:-warn} "$bin" 2>"$dir/worker.log" &
pids+=($!); wpid=$!
w0=$(cpu $wpid) r0=$(cpu $rpid)
wait $lpid || true
w1=$(cpu $wpid) r1=$(cpu $rpid)
hz=$(getconf CLK_TCK)
jq -c --argjson w "$((w1 - w0))" --argjson r "$((r1 - r0))" --argjson hz "$hz" '
  .runs_total as $n |
  {rate, rate_unit, rule_evaluations_per_s, rules, actors, runs, unanswered, rekicks, p50_ms, p99_ms,
   worker_cpu_us_per_run: (if $n > 0 then ($w / $hz * 1e6 / $n | . * 10 | round / 10) else null end),
   redis_cpu_us_per_run:  (if $n > 0 then ($r / $hz * 1e6 / $n | . * 10 | round / 10) else null end),
   worker_cpu_pct: ($w / $hz / .duration_s * 100 | round),
   redis_cpu_pct: ($r / $hz / .duration_s * 100 | round), ok, error}' "$dir/out.json"
if grep -qiE "error|assert" "$dir/worker.log" "$dir/load.log"; then
  echo "logs:" >&2; tail -n 5 "$dir/worker.log" "$dir/load.log" >&2
fi
