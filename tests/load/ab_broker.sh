#!/usr/bin/env bash
# tests/load/ab_broker.sh BASE_BUILD_DIR [ROUNDS] - the broker's CPU and
# context switches per acknowledged request under the rpc load, and the
# echo ceiling of `parley-load broker`, for two builds, alternating ROUNDS
# times (default 3) in one run: the box is noisy, so only ratios from the
# same run mean anything. A is BASE_BUILD_DIR (e.g. a copy of build/release
# made before the change), B is this checkout's build/release (or
# $NEW_BUILD_DIR).
#
# Per round and build:
#   rpc:  tests/load/system.sh (gateway, broker, one worker per service),
#         parley-load rpc --clients 64 --window 4 --duration 10 (or
#         RPC_CLIENTS, RPC_WINDOW, RPC_RATE); the broker's utime+stime
#         (/proc/PID/stat, and per thread from /proc/PID/task/*/stat) and
#         voluntary+nonvoluntary switches (/proc/PID/task/*/status) right
#         before and after, per ack; with PERF_STAT=1 also its system calls
#         per ack, in all and per thread (perf stat, which adds a little
#         CPU of its own);
#   echo: tests/load/system.sh -n, parley-load broker --workers 2
#         --clients 16 --window 16 --duration 5: replies/s, and the
#         broker's CPU and switches per reply.
# KINDS=rpc or KINDS=echo runs one of the two. One JSON line per run on
# stdout (also kept in /tmp/ab_broker.last.jsonl); medians at the end.
# Used for docs/BENCHMARKS.md, "The broker's CPU per request".
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
base=${1:?usage: tests/load/ab_broker.sh BASE_BUILD_DIR [ROUNDS]}
rounds=${2:-3}
new=${NEW_BUILD_DIR:-$root/build/release}
kinds=${KINDS:-rpc echo}     # which runs, e.g. KINDS=rpc
rpc_rate=${RPC_RATE:-0}      # 0: flat out; else an open-loop rate (req/s)
rpc_clients=${RPC_CLIENTS:-64}
rpc_window=${RPC_WINDOW:-4}
perf_stat=${PERF_STAT:-0}    # 1: also count the broker's system calls (perf stat)
load=$root/build/release/tests/load/parley-load
secret=benchsecret0123456789abcdef
tck=$(getconf CLK_TCK)
out=$(mktemp /tmp/ab_broker.XXXXXX); : > "$out"

# snap PID: "cpu_ticks switches {thread: [ticks, switches], ...}"
snap() {
  local pid=$1 cpu sw=0 t n s threads=""
  cpu=$(awk '{print $14 + $15}' /proc/$pid/stat)
  for t in /proc/$pid/task/*; do
    n=$(awk '/^(voluntary|nonvoluntary)_ctxt_switches/ {s += $2} END {print s}' $t/status)
    sw=$((sw + n))
    s=$(sed 's/.*) //' $t/stat | awk '{print $12 + $13}')
    threads="$threads\"$(tr -d '\n' < $t/comm)\":[$s,$n],"
  done
  echo "$cpu $sw {${threads%,}}"
}

# perf_start PID / perf_stop: the broker's system calls over the run, in
# all and per thread (perf stat --per-thread; its name without the tid)
perf_start() {
  syscalls=null thread_syscalls='{}'
  [ "$perf_stat" = 1 ] || return 0
  pstat=$(mktemp /tmp/ab_broker_perf.XXXXXX)
  perf stat --per-thread -x, -e raw_syscalls:sys_enter -p "$1" -o "$pstat" 2>/dev/null &
  ppid_=$!
  sleep 0.2
}
perf_stop() {
  [ "$perf_stat" = 1 ] || return 0
  kill -INT $ppid_; wait $ppid_ 2>/dev/null
  syscalls=$(awk -F, '/raw_syscalls/ {s += $2} END {print s + 0}' "$pstat")
  thread_syscalls=$(awk -F, '/raw_syscalls/ && $2 > 0 {n = $1; sub(/-[0-9]+$/, "", n);
      printf "%s\"%s\":%d", (k++ ? "," : "{"), n, $2} END {print (k ? "}" : "{}")}' "$pstat")
  rm -f "$pstat"
}

# report WHICH ROUND KIND PID BEFORE AFTER RESULT_JSON
report() {
  local which=$1 round=$2 kind=$3 before=$4 after=$5 r=$6
  jq -cn --arg which "$which" --argjson round "$round" --arg kind "$kind" \
     --argjson sc "$syscalls" --argjson tsc "$thread_syscalls" \
     --argjson tck "$tck" --argjson r "$r" \
     --argjson c0 "${before%% *}" --argjson c1 "${after%% *}" \
     --argjson s0 "$(echo "$before" | cut -d' ' -f2)" --argjson s1 "$(echo "$after" | cut -d' ' -f2)" \
     --argjson t0 "$(echo "$before" | cut -d' ' -f3-)" --argjson t1 "$(echo "$after" | cut -d' ' -f3-)" '
    ($r.acked) as $n |
    {which: $which, round: $round, kind: $kind, acked: $n, rate: $r.rate,
     p50_ms: $r.p50_ms, p99_ms: $r.p99_ms, failed: $r.failed, unanswered: $r.unanswered,
     broker_us_per_ack: (if $n > 0 then (($c1 - $c0) / $tck * 1e6 / $n * 10 | round / 10) else null end),
     switches_per_ack: (if $n > 0 then (($s1 - $s0) / $n * 100 | round / 100) else null end),
     syscalls_per_ack: (if $sc != null and $n > 0 then ($sc / $n * 100 | round / 100) else null end),
     thread_syscalls_per_ack: ($tsc | map_values(if $n > 0 then (. / $n * 100 | round / 100) else null end)),
     threads: ($t1 | with_entries(.value = (if $n > 0 then
        {us_per_ack: ((.value[0] - ($t0[.key][0] // 0)) / $tck * 1e6 / $n * 10 | round / 10),
         switches_per_ack: ((.value[1] - ($t0[.key][1] // 0)) / $n * 100 | round / 100)} else null end)))}' >> "$out"
  tail -1 "$out"
}

# start_system BUILD PORT [-n]: sets spid, log
start_system() {
  log=$(mktemp /tmp/ab_broker_sys.XXXXXX)
  PARLEY_JWT_SECRET=$secret setsid "$root/tests/load/system.sh" -p "$2" -b "$1" ${3:-} > "$log" 2>&1 &
  spid=$!
  for _ in $(seq 1 150); do grep -q "^ready" "$log" && break; sleep 0.2; done
  grep -q "^ready" "$log" || { echo "ab_broker: system did not start" >&2; cat "$log" >&2; exit 1; }
}

stop_system() {
  kill -TERM $spid; wait $spid 2>/dev/null
  rm -f "$log"
  sleep 1
}

for round in $(seq 1 "$rounds"); do
  for which in base new; do
    b=$([ $which = base ] && echo "$base" || echo "$new")
    off=0; [ $which = new ] && off=1; port=$((19100 + round * 10 + off))

    if [[ " $kinds " == *" rpc "* ]]; then
    start_system "$b" "$port"
    bpid=$(grep -o "broker_pid=[0-9]*" "$log" | cut -d= -f2)
    perf_start "$bpid"
    before=$(snap "$bpid")
    r=$("$load" rpc --port "$port" --secret $secret --clients "$rpc_clients" --window "$rpc_window" --rate "$rpc_rate" \
          --duration 10 --drain 5 --progress 0 2>/dev/null | tail -1)
    after=$(snap "$bpid")
    perf_stop
    report $which "$round" rpc "$before" "$after" "$r"
    stop_system
    fi

    [[ " $kinds " == *" echo "* ]] || continue
    start_system "$b" "$port" -n
    bpid=$(grep -o "broker_pid=[0-9]*" "$log" | cut -d= -f2)
    dir=$(grep -o "dir=[^ ]*" "$log" | cut -d= -f2)
    perf_start "$bpid"
    before=$(snap "$bpid")
    r=$("$load" broker --frontend "ipc://$dir/run/broker-frontend.ipc" \
          --backend "ipc://$dir/run/broker-backend.ipc" --workers 2 --clients 16 --window 16 \
          --duration 5 --drain 5 --progress 0 2>/dev/null | tail -1)
    after=$(snap "$bpid")
    perf_stop
    report $which "$round" echo "$before" "$after" "$r"
    stop_system
  done
done

echo "--- medians over $rounds rounds"
jq -s -r 'group_by(.kind + .which)[] | . as $g |
  def med(f): (map(f) | sort | .[(length - 1) / 2 | floor]);
  "\($g[0].kind) \($g[0].which): rate \(med(.rate)), broker µs/ack \(med(.broker_us_per_ack)), switches/ack \(med(.switches_per_ack)), syscalls/ack \(med(.syscalls_per_ack)), p99 \(med(.p99_ms)) ms"' "$out"
cp "$out" /tmp/ab_broker.last.jsonl; rm -f "$out"
