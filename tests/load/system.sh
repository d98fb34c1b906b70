#!/usr/bin/env bash
# tests/load/system.sh - a private Parley system for load runs, in the
# foreground (the same steps as tests/e2e/lib/system.mjs).
#
#   tests/load/system.sh [-p PORT] [-w WORKERS] [-b BUILD_DIR] [-n]
#     -p  gateway port (default 18080)
#     -w  actors workers (default 1; 0 for none)
#     -b  build dir with the binaries (default build/release)
#     -n  no gateway (for parley-load broker/worker)
#
# Everything lives in a fresh /tmp/pl-load.XXXXXX: a private redis-server on
# a unix socket (AOF on, like script/server), parley-broker, the workers and
# parley-gateway on 127.0.0.1:PORT with PARLEY_ACTORS_PER_USER=1000000 (load
# runs create many actors per user). When /healthz answers 200 it prints
#   ready dir=<dir> port=<port> gateway_pid=<pid> broker_pid=<pid> ...
# and the env file <dir>/env to source for the endpoints. Ctrl-C / SIGTERM
# stops everything (children also get SIGTERM if this script dies) and
# removes the dir. Extra PARLEY_* variables in the environment are passed on.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
port=18080 workers=1 build=$root/build/release gateway=1
while getopts "p:w:b:n" opt; do
  case $opt in
    p) port=$OPTARG ;;
    w) workers=$OPTARG ;;
    b) build=$OPTARG ;;
    n) gateway=0 ;;
    *) sed -n 2,20p "$0" >&2; exit 2 ;;
  esac
done
services=$("$build/proto/parley-proto-doc" --services 2>/dev/null) || services=actors
for bin in broker/parley-broker gateway/parley-gateway $(for s in $services; do echo "workers/$s/parley-$s"; done); do
  [ -x "$build/$bin" ] || { echo "system.sh: no $build/$bin; build first" >&2; exit 1; }
done

dir=$(mktemp -d /tmp/pl-load.XXXXXX)
mkdir -p "$dir/data" "$dir/run"
chmod 700 "$dir/run"
export PARLEY_BIND=127.0.0.1
export PARLEY_DATA_DIR=$dir/data PARLEY_RUN_DIR=$dir/run
export PARLEY_REDIS_URL=unix://$dir/redis.sock
export PARLEY_PORT=$port
export PARLEY_ACTORS_PER_USER=${PARLEY_ACTORS_PER_USER:-1000000}
export PARLEY_LOG_LEVEL=${PARLEY_LOG_LEVEL:-warn}

pids=()
stop() {
  trap '' INT TERM
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

start() {   # start NAME COMMAND...
  local name=$1; shift
  setpriv --pdeathsig TERM -- "$@" >>"$dir/$name.log" 2>&1 &
  pids+=("$!")
  eval "${name//-/_}_pid=$!"
}

start redis redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 \
  --daemonize no --dir "$dir/data" --appendonly yes --save "" --logfile ""
for _ in $(seq 100); do
  redis-cli -s "$dir/redis.sock" ping >/dev/null 2>&1 && break
  sleep 0.1
done
start broker "$build/broker/parley-broker"
# -w counts actors workers (what the RPC benchmarks load); one of each other service
for i in $(seq 1 "$workers"); do start "actors-$i" "$build/workers/actors/parley-actors"; done
for s in $services; do
  [ "$s" = actors ] || start "$s" "$build/workers/$s/parley-$s"
done
{
  echo "PARLEY_RUN_DIR=$dir/run"
  echo "PARLEY_REDIS_URL=$PARLEY_REDIS_URL"
  echo "FRONTEND=ipc://$dir/run/broker-frontend.ipc"
  echo "BACKEND=ipc://$dir/run/broker-backend.ipc"
} > "$dir/env"
line="ready dir=$dir broker_pid=$broker_pid redis_pid=$redis_pid"
if [ "$gateway" = 1 ]; then
  start gateway "$build/gateway/parley-gateway"
  ok=0
  for _ in $(seq 200); do
    if curl -fsS "http://127.0.0.1:$port/healthz" 2>/dev/null | grep -q "\"workers\":$workers"; then ok=1; break; fi
    sleep 0.1
  done
  [ "$ok" = 1 ] || [ "$workers" = 0 ] || { echo "system.sh: /healthz not ready; logs in $dir" >&2; tail -n 5 "$dir"/*.log >&2; exit 1; }
  line="$line port=$port gateway_pid=$gateway_pid"
fi
echo "$line"
wait -n "${pids[@]}" || true
echo "system.sh: a process exited on its own; stopping" >&2
tail -n 5 "$dir"/*.log >&2
