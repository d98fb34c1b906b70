#!/usr/bin/env bash
# tests/load/system.sh - a private Parley system for load runs, in the
# foreground (the same steps as tests/e2e/lib/system.mjs).
#
#   tests/load/system.sh [-p PORT] [-w WORKERS] [-w SERVICE=N ...] [-b BUILD_DIR] [-n]
#     -p  gateway port (default 18080)
#     -w  actors workers (default 1; 0 for none); -w SERVICE=N sets another
#         service's count (default 1), e.g. -w 4 -w gamestate=2
#     -b  build dir with the binaries (default build/release)
#     -n  no gateway (for parley-load broker/worker)
#
# Everything lives in a fresh /tmp/pl-load.XXXXXX: a private redis-server on
# a unix socket (AOF on, like script/server), parley-broker, the workers and
# parley-gateway on 127.0.0.1:PORT with PARLEY_ACTORS_PER_USER=1000000 (load
# runs create many actors per user). Logs are <dir>/<service>.log, then
# <service>-2.log, ... for more workers of one service (as script/server).
# When /healthz shows every worker registered it prints
#   ready dir=<dir> port=<port> gateway_pid=<pid> broker_pid=<pid> ...
# and the env file <dir>/env to source for the endpoints. Ctrl-C / SIGTERM
# stops everything (children also get SIGTERM if this script dies) and
# removes the dir. Extra PARLEY_* variables in the environment are passed on.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
port=18080 build=$root/build/release gateway=1
declare -A count=([actors]=1)     # service -> workers; the rest default to 1
while getopts "p:w:b:n" opt; do
  case $opt in
    p) port=$OPTARG ;;
    w) case $OPTARG in
         =*)  echo "system.sh: -w $OPTARG: no service named" >&2; exit 2 ;;
         *=*) count[${OPTARG%%=*}]=${OPTARG#*=} ;;
         *)   count[actors]=$OPTARG ;;
       esac ;;
    b) build=$OPTARG ;;
    n) gateway=0 ;;
    *) sed -n '2,/^set -euo/{/^#/p}' "$0" >&2; exit 2 ;;
  esac
done
services=$("$build/proto/parley-proto-doc" --services 2>/dev/null | tr '\n' ' ') || services=actors
services=${services% }
for svc in "${!count[@]}"; do
  [[ " $services " == *" $svc "* ]] || { echo "system.sh: -w $svc=...: no such service (the services are: $services)" >&2; exit 2; }
  [[ ${count[$svc]} =~ ^[0-9]{1,4}$ ]] || { echo "system.sh: -w $svc=${count[$svc]}: the count must be a whole number" >&2; exit 2; }
  count[$svc]=$((10#${count[$svc]}))
done
for svc in $services; do count[$svc]=${count[$svc]:-1}; done
want=$(for svc in $services; do echo "\"$svc\": ${count[$svc]}"; done | paste -sd, | sed 's/.*/{&}/')
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
# count[s] workers of each service (-w: actors, what the RPC benchmarks load)
for s in $services; do
  for i in $(seq 1 "${count[$s]}"); do
    if [ "$i" = 1 ]; then name=$s; else name=$s-$i; fi
    start "$name" "$build/workers/$s/parley-$s"
  done
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
  # every service at its count (0 included: /healthz answers 503 then, with
  # the counts in the body all the same)
  for _ in $(seq 200); do
    if curl -sS "http://127.0.0.1:$port/healthz" 2>/dev/null | jq -e --argjson want "$want" \
         '.broker and (. as $h | $want | to_entries | all(.value <= ($h.services[.key].workers // 0)))' \
         >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.1
  done
  [ "$ok" = 1 ] || { echo "system.sh: /healthz not ready; logs in $dir" >&2; tail -n 5 "$dir"/*.log >&2; exit 1; }
  line="$line port=$port gateway_pid=$gateway_pid"
fi
echo "$line"
wait -n "${pids[@]}" || true
echo "system.sh: a process exited on its own; stopping" >&2
tail -n 5 "$dir"/*.log >&2
