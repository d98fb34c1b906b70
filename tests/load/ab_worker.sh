#!/usr/bin/env bash
# tests/load/ab_worker.sh [ROUNDS] [DURATION] - the worker runtime, one
# request at a time (PARLEY_WORKER_BATCH=0) against the coroutine runtime
# (the default), alternating in one run: the box is noisy, so only numbers
# from the same run compare. Per round, per mix (MIXES, default
# "create read90"), per runtime: tests/load/bench_worker.sh on this
# checkout's release parley-actors, a fresh Redis each time, DURATION s
# (default 6), --users 1000 (USERS). ROUNDS defaults to 3.
#
#   create  100% actor:create (one EVALSHA)
#   read90  45% actor:get, 45% actor:list (ZRANGE, then MGET), 10% create
#   update  100% actor:update (WATCH/GET/SMEMBERS/MULTI/SET/EXEC)
#
# One JSON line per run on stdout (also in /tmp/ab_worker.last.jsonl), then
# the medians per mix and runtime: replies/s, worker and Redis CPU (µs) per
# reply, the worker's voluntary switches per reply, p50 and p99 (ms). Used
# for docs/BENCHMARKS.md, "The batched worker runtime".
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rounds=${1:-3} duration=${2:-6}
bin=${WORKER_BIN:-$root/build/release/workers/actors/parley-actors}
out=/tmp/ab_worker.last.jsonl
: >"$out"
for r in $(seq "$rounds"); do
  for mix in ${MIXES:-create read90}; do
    args=(--duration "$duration" --users "${USERS:-1000}")
    case $mix in
      read90) args+=(--reads 90) ;;
      update) args+=(--writes 100) ;;
    esac
    for batch in 0 1; do
      PARLEY_WORKER_BATCH=$batch "$root/tests/load/bench_worker.sh" "$bin" \
        "$mix-batch$batch" "${args[@]}" | tee -a "$out"
    done
  done
done
echo "medians ($rounds rounds, ${duration} s each):"
jq -rs 'group_by(.label)[] |
  def med: sort | .[length / 2 | floor];
  "\(.[0].label)\t\(map(.rate) | med) replies/s\tworker \(map(.worker_cpu_us_per_req) | med) µs\tredis \(map(.redis_cpu_us_per_req) | med) µs\tvcsw \(map(.worker_vcsw_per_req) | med)\tp50 \(map(.p50_ms) | med) ms\tp99 \(map(.p99_ms) | med) ms\tfailed \(map(.failed) | add)"' "$out"
