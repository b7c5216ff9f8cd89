#!/usr/bin/env bash
# Side-by-side loopback benchmarks (issue 8): every echo server in
# bench/src/bin against the same load, interleaved, several rounds.
#
#   bench/run.sh                     # everything, 5 rounds
#   ROUNDS=3 TESTS="echo16 latency" SERVERS="ws-tokio raw-tcp" bench/run.sh
#
# Each server runs pinned to core 0 (taskset -c 0), the load tool on core 1
# (taskset -c 1). Within a round every test runs against every server in
# turn, starting from a different server each round, each on a fresh server
# process. Raw RESULT lines go to $OUT/results.txt; bench/report.py turns
# them into $OUT/results.md (median, min–max, ratios, targets) and SVG
# plots. Every load run is bounded in time (timeout) and count, and talks to
# 127.0.0.1 only.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
IDLE_CONNS=${IDLE_CONNS:-10000}
BCAST_CONNS=${BCAST_CONNS:-10000}
BCAST_ROUNDS=${BCAST_ROUNDS:-10}
SERVERS=${SERVERS:-"ws-tokio ws-tokio-ref ws-smol ws-app tokio-tungstenite fastwebsockets ws-floor raw-tcp"}
TESTS=${TESTS:-"echo16 echo1k echo64k echo1m latency handshake idle broadcast"}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/docs/bench}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
# On a machine shared with other work, NICE=-10 (as root) runs the whole
# benchmark in a session of its own (setsid) whose scheduler autogroup gets
# that nice value: with sched_autogroup on, plain `nice` only ranks
# processes within one session, so this is what gives the server and the
# load tool the CPU time other sessions would take. Both get the same
# priority; other work slows down while it runs. 0 leaves priorities alone.
NICE=${NICE:-0}
if [ "$NICE" != 0 ] && [ -z "${WS_BENCH_SESSION:-}" ]; then
    export WS_BENCH_SESSION=1
    exec setsid -w "$0" "$@"
fi
if [ "$NICE" != 0 ]; then
    if [ -w /proc/self/autogroup ]; then
        echo "$NICE" >/proc/self/autogroup
    else
        echo "run.sh: cannot set the autogroup nice value; NICE only applies within this session" >&2
    fi
fi

cd "$ROOT"
cargo build --release -p ws-bench --bins
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release

# Each side holds up to IDLE_CONNS sockets.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((IDLE_CONNS + BCAST_CONNS / 10 + 200)) ]; then
    echo "run.sh: ulimit -Hn is $hard; lowering IDLE_CONNS and BCAST_CONNS to fit" >&2
    IDLE_CONNS=$((hard - 200))
    BCAST_CONNS=$((hard - 200))
fi
if [ "$hard" = unlimited ] || [ "$hard" -ge 65536 ]; then ulimit -n 65536; else ulimit -n "$hard"; fi

mkdir -p "$OUT"
RESULTS=$OUT/results.txt
: >"$RESULTS"
{
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "# $(uname -srm); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "# ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP IDLE_CONNS=$IDLE_CONNS BCAST_CONNS=$BCAST_CONNS NICE=$NICE"
    echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); autogroup: $(cat /proc/self/autogroup 2>/dev/null || echo -)"
} >>"$RESULTS"

port=9200
server_pid=

start_server() { # name
    port=$((port + 1))
    [ "$port" -gt 9700 ] && port=9201
    nice -n "$NICE" taskset -c "$SERVER_CPU" "$BIN/echo-$1" "127.0.0.1:$port" >/dev/null 2>&1 &
    server_pid=$!
    "$BIN/wsload" wait --addr "127.0.0.1:$port" --timeout 10
}

stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}
trap stop_server EXIT

load() { # round name args...
    local round=$1 name=$2
    shift 2
    local line
    if line=$(timeout 120 nice -n "$NICE" taskset -c "$LOAD_CPU" "$BIN/wsload" "$@" --addr "127.0.0.1:$port" \
        --server-pid "$server_pid" --label "$name"); then
        echo "$line round=$round" | tee -a "$RESULTS"
    else
        echo "# FAILED round=$round $name $*" | tee -a "$RESULTS"
    fi
}

run_test() { # round test name
    local round=$1 test=$2 name=$3 raw=()
    [ "$name" = raw-tcp ] && raw=(--raw)
    local timing=(--warmup "$WARMUP" --duration "$DURATION")
    case $test in
    echo16) load "$round" "$name" echo "${raw[@]}" "${timing[@]}" --conns 64 --inflight 16 --size 16 ;;
    echo1k) load "$round" "$name" echo "${raw[@]}" "${timing[@]}" --conns 64 --inflight 16 --size 1024 --binary ;;
    echo64k) load "$round" "$name" echo "${raw[@]}" "${timing[@]}" --conns 16 --inflight 4 --size 65536 --binary ;;
    echo1m) load "$round" "$name" echo "${raw[@]}" "${timing[@]}" --conns 8 --inflight 2 --size 1048576 --binary ;;
    latency) load "$round" "$name" latency "${raw[@]}" --duration "$DURATION" --size 16 ;;
    handshake) [ "$name" = raw-tcp ] || load "$round" "$name" handshake "${timing[@]}" --conns 32 ;;
    idle) load "$round" "$name" idle "${raw[@]}" --conns "$IDLE_CONNS" --settle 1 ;;
    broadcast)
        case $name in
        ws-app | tokio-tungstenite) load "$round" "$name" broadcast --conns "$BCAST_CONNS" --rounds "$BCAST_ROUNDS" ;;
        esac
        ;;
    esac
}

servers=($SERVERS)
for round in $(seq 1 "$ROUNDS"); do
    for test in $TESTS; do
        n=${#servers[@]}
        for i in $(seq 0 $((n - 1))); do
            name=${servers[$(((i + round - 1) % n))]}
            if [ "$test" = broadcast ] && [ "$name" != ws-app ] && [ "$name" != tokio-tungstenite ]; then
                continue
            fi
            if [ "$test" = handshake ] && [ "$name" = raw-tcp ]; then
                continue
            fi
            # ws-floor is not a server, only the floor under the echo tests
            # (frames up to 64 KiB).
            if [ "$name" = ws-floor ] && { [ "$test" != echo16 ] && [ "$test" != echo1k ] && [ "$test" != echo64k ]; }; then
                continue
            fi
            # ws-tokio-ref differs from ws-tokio only in its receive loop.
            if [ "$name" = ws-tokio-ref ] && { [ "$test" = handshake ] || [ "$test" = idle ]; }; then
                continue
            fi
            start_server "$name"
            run_test "$round" "$test" "$name"
            stop_server
        done
    done
done

python3 "$ROOT/bench/report.py" "$RESULTS" "$OUT"
