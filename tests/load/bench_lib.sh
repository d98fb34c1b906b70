# tests/load/bench_lib.sh - sourced by bench_worker.sh and bench_rules.sh
# (not run): the run's private dir, stopping what the run started, CPU
# ticks of a process, and a private redis-server.
#
#   bench_dir NAME    dir=$(mktemp -d /tmp/NAME.XXXXXX); at exit every pid
#                     in pids gets SIGTERM and is waited for, then dir goes
#   cpu PID           user + system clock ticks of PID so far
#   bench_redis       a fresh redis-server in $dir (unix socket
#                     $dir/redis.sock, AOF on as system.sh), answering PING;
#                     rpid = its pid (in pids too)

bench_dir() {
  dir=$(mktemp -d "/tmp/$1.XXXXXX")
  pids=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }       # clock ticks

bench_redis() {
  redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 --daemonize no \
    --dir "$dir" --appendonly yes --save "" --logfile "$dir/redis.log" &
  pids+=($!); rpid=$!
  for _ in $(seq 100); do redis-cli -s "$dir/redis.sock" ping >/dev/null 2>&1 && break; sleep 0.05; done
}
