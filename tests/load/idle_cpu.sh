#!/usr/bin/env bash
# idle_cpu.sh SECONDS PID... - CPU time each process used over SECONDS, from
# /proc/<pid>/stat (utime + stime, in clock ticks), as ms and % of one core.
# Used to check that an idle Parley burns no CPU (docs/BENCHMARKS.md).
set -euo pipefail
secs=$1; shift
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A before
for pid in "$@"; do before[$pid]=$(ticks "$pid"); done
sleep "$secs"
for pid in "$@"; do
  used=$(( $(ticks "$pid") - ${before[$pid]} ))
  name=$(tr '\0' ' ' < "/proc/$pid/cmdline" | awk '{print $1}')
  awk -v n="$(basename "$name")" -v t="$used" -v hz="$hz" -v s="$secs" \
    'BEGIN { ms = t * 1000 / hz; printf "%-16s %6.0f ms CPU in %ss = %.2f%% of a core\n", n, ms, s, ms / (s * 10) }'
done
