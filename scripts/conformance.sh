#!/usr/bin/env bash
# Autobahn|Testsuite conformance runs for the project's WebSocket peers.
#
# Usage: scripts/conformance.sh [SUITE...]      (default: every suite below)
#
# Each suite is one line at the bottom of this file:
#   run_server_suite NAME BIN ARGS CASES   test a server: start `BIN ARGS...` (ARGS is
#                                          word-split; its first word must be the
#                                          listen address host:port), run wstest's
#                                          fuzzingclient against ws://host:port
#   run_client_suite NAME CMD CASES [PORT] test a client: run wstest's fuzzingserver
#                                          on 127.0.0.1:PORT (default 9002) and the
#                                          shell command CMD against it; CMD gets
#                                          $AUTOBAHN_URL, $AUTOBAHN_AGENT and
#                                          $AUTOBAHN_CASE_COUNT in its environment
# NAME is also the Autobahn agent name; everything goes to target/autobahn/NAME/
# (spec.json, wstest.log, server.log or client.log, summary.json, reports/,
# table.md). Binaries are built by build_all (edit it together with the suites).
#
# Acceptance bar (strict): every selected case must be OK or INFORMATIONAL.
# FAILED, NON-STRICT and UNIMPLEMENTED all fail the suite
# (scripts/autobahn/strict_check.py reads summary.json and the report).
#
# The per-section summary table of summarize.py is printed for each suite,
# followed by a markdown table (also written to target/autobahn/NAME/table.md;
# all suites together in target/autobahn/summary.md).
#
# Exit status: 0 = every suite passed strictly, 1 = some case was not OK /
# INFORMATIONAL, 2 = a suite could not be run (build failed, wstest missing,
# port busy, server died, report incomplete).
#
# Environment: CONFORMANCE_SKIP_BUILD=1 (reuse binaries already built),
#   CONFORMANCE_BUILD_ONLY=1 (build the peers, run nothing), AUTOBAHN_PREFIX (wstest install prefix, default /opt/autobahn; installed
#   with scripts/autobahn/install.sh when missing), AUTOBAHN_SUITE_TIMEOUT (seconds
#   per suite, default 1200).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
AB="$ROOT/scripts/autobahn"
OUTROOT="target/autobahn"
PREFIX="${AUTOBAHN_PREFIX:-/opt/autobahn}"
SUITE_TIMEOUT="${AUTOBAHN_SUITE_TIMEOUT:-1200}"
# RFC 6455 sections: everything except 8 (empty) and 11 (none).
RFC6455_CASES="1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*"
# Sections 12 and 13: permessage-deflate (RFC 7692), for peers that negotiate it.
DEFLATE_CASES="12.*,13.*"
ALL_CASES="$RFC6455_CASES,$DEFLATE_CASES"

SELECTED=("$@")
STATUS=0
RESULTS=()

log() { printf '[conformance] %s\n' "$*"; }
max_status() { [ "$1" -gt "$STATUS" ] && STATUS=$1; return 0; }
selected() {
  [ ${#SELECTED[@]} -eq 0 ] && return 0
  local s
  for s in "${SELECTED[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}
addr_in_use() {  # $1 host, $2 port
  python3 -c "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()" "$1" "$2" 2>/dev/null
}

# Strict verdict + markdown table for one finished run; sets the suite result.
finish_suite() {  # NAME KIND DIR RUN_STATUS SECONDS CASES
  local name=$1 kind=$2 dir=$3 rc=$4 secs=$5 cases=$6 strict verdict
  python3 "$AB/strict_check.py" "$dir" --agent "$name" --md "$dir/table.md" \
    --title "Autobahn $kind: $name (cases $cases)"
  strict=$?
  # The run's own status (FAILED cases, incomplete report, dead server, ...)
  # and the strict check both count.
  [ "$strict" -gt "$rc" ] && rc=$strict
  case $rc in 0) verdict=PASS ;; 1) verdict=FAIL ;; *) verdict=ERROR ;; esac
  RESULTS+=("$name|$kind|$verdict|$secs")
  max_status "$rc"
  log "suite $name: $verdict (status $rc, ${secs}s)"
}

# Test a server binary with wstest's fuzzingclient.
run_server_suite() {  # NAME BIN ARGS CASES
  local name=$1 bin=$2 args=$3 cases=$4 dir="$OUTROOT/$1" argv addr host port spid rc t0
  selected "$name" || return 0
  echo "::group::autobahn server suite: $name"
  read -r -a argv <<< "$args"
  addr=${argv[0]:-}
  host=${addr%:*} port=${addr##*:}
  host=${host#[} host=${host%]}
  mkdir -p "$dir"
  t0=$SECONDS
  if [ -z "$addr" ] || [ "$port" = "$addr" ]; then
    log "$name: the first word of ARGS must be the listen address host:port (got '$args')"
    RESULTS+=("$name|server|ERROR|0"); max_status 2; echo "::endgroup::"; return 0
  fi
  if [ ! -x "$bin" ]; then
    log "$name: server binary $bin not found (did build_all build it?)"
    RESULTS+=("$name|server|ERROR|0"); max_status 2; echo "::endgroup::"; return 0
  fi
  if addr_in_use "$host" "$port"; then
    log "$name: $addr is already in use; refusing to test whatever listens there"
    RESULTS+=("$name|server|ERROR|0"); max_status 2; echo "::endgroup::"; return 0
  fi
  log "$name: starting $bin ${argv[*]} (log: $dir/server.log)"
  "$bin" "${argv[@]}" > "$dir/server.log" 2>&1 < /dev/null &
  spid=$!
  "$AB/fuzzingclient.sh" -a "$name" -q -c "$cases" -t "$SUITE_TIMEOUT" "ws://$addr" "$dir"
  rc=$?
  if ! kill -0 "$spid" 2>/dev/null; then
    wait "$spid"
    log "$name: the server exited during the run (status $?); last lines of $dir/server.log:"
    tail -n 20 "$dir/server.log"
    [ "$rc" -lt 2 ] && rc=2
  else
    kill "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
  fi
  finish_suite "$name" server "$dir" "$rc" "$((SECONDS - t0))" "$cases"
  echo "::endgroup::"
}

# Test a client command with wstest's fuzzingserver.
run_client_suite() {  # NAME CMD CASES [PORT]
  local name=$1 cmd=$2 cases=$3 port=${4:-9002} dir="$OUTROOT/$1" rc t0
  selected "$name" || return 0
  echo "::group::autobahn client suite: $name"
  mkdir -p "$dir"
  t0=$SECONDS
  "$AB/fuzzingserver.sh" -a "$name" -q -c "$cases" -p "$port" -t "$SUITE_TIMEOUT" -o "$dir" -C "$cmd"
  rc=$?
  finish_suite "$name" client "$dir" "$rc" "$((SECONDS - t0))" "$cases"
  echo "::endgroup::"
}

build_all() {
  echo "::group::build conformance peers"
  local ok=0
  # The runtime crates' examples share names with ws-proto's (echo_server),
  # so they are built first and copied aside; ws-proto's is built last and
  # stays at target/release/examples/echo_server.
  local rt bin=target/conformance-bin
  mkdir -p "$bin"
  for rt in ws-runtime-tokio ws-runtime-async-std; do
    { cargo build --release -p "$rt" --example echo_server --example autobahn_client &&
      cp target/release/examples/echo_server "$bin/$rt-echo_server" &&
      cp target/release/examples/autobahn_client "$bin/$rt-autobahn_client"; } || ok=2
  done
  cargo build --release -p ws-proto --example echo_server || ok=2
  echo "::endgroup::"
  return $ok
}

# ------------------------------------------------------------------ setup
if [ ! -x "$PREFIX/bin/wstest" ]; then
  log "wstest not found in $PREFIX; installing it with scripts/autobahn/install.sh"
  "$AB/install.sh" --prefix "$PREFIX" || { log "autobahn install failed"; exit 2; }
fi
export AUTOBAHN_PREFIX="$PREFIX"
mkdir -p "$OUTROOT"
if [ "${CONFORMANCE_SKIP_BUILD:-0}" = 1 ]; then
  log "CONFORMANCE_SKIP_BUILD=1: using the binaries already built"
elif ! build_all; then
  log "build failed"
  exit 2
fi
if [ "${CONFORMANCE_BUILD_ONLY:-0}" = 1 ]; then
  log "CONFORMANCE_BUILD_ONLY=1: peers built, no suite run"
  exit 0
fi

# ------------------------------------------------------------------ suites
# One line per peer. Servers take their listen address as the first argument.
run_server_suite ws-proto target/release/examples/echo_server "127.0.0.1:9001" "$ALL_CASES"
# The runtime crates (ws-runtime-tokio, ws-runtime-async-std): echo servers
# and wstest fuzzingserver clients.
run_server_suite ws-runtime-tokio target/conformance-bin/ws-runtime-tokio-echo_server "127.0.0.1:9002" "$ALL_CASES"
run_server_suite ws-runtime-async-std target/conformance-bin/ws-runtime-async-std-echo_server "127.0.0.1:9003" "$ALL_CASES"
run_client_suite ws-runtime-tokio-client 'target/conformance-bin/ws-runtime-tokio-autobahn_client "$AUTOBAHN_URL" "$AUTOBAHN_AGENT"' "$ALL_CASES" 9012
run_client_suite ws-runtime-async-std-client 'target/conformance-bin/ws-runtime-async-std-autobahn_client "$AUTOBAHN_URL" "$AUTOBAHN_AGENT"' "$ALL_CASES" 9013
# Examples for later peers:
# run_server_suite ws-runtime-tokio target/release/examples/tokio_echo_server "127.0.0.1:9003" "$RFC6455_CASES"
# run_client_suite ws-client 'target/release/examples/autobahn_client "$AUTOBAHN_URL" "$AUTOBAHN_AGENT"' "$RFC6455_CASES" 9002

# ------------------------------------------------------------------ report
if [ ${#RESULTS[@]} -eq 0 ]; then
  log "no suite matched: ${SELECTED[*]}"
  exit 2
fi
{
  echo "## Autobahn conformance"
  echo
  echo "| suite | peer | result | seconds |"
  echo "| --- | --- | --- | --- |"
  for r in "${RESULTS[@]}"; do
    IFS='|' read -r n k v s <<< "$r"
    echo "| $n | $k | $v | $s |"
  done
  echo
  for r in "${RESULTS[@]}"; do
    n=${r%%|*}
    [ -f "$OUTROOT/$n/table.md" ] && { cat "$OUTROOT/$n/table.md"; echo; }
  done
} > "$OUTROOT/summary.md"
echo
sed -n '1,/^$/p' "$OUTROOT/summary.md"
sed -n '/^| suite/,/^$/p' "$OUTROOT/summary.md"
for r in "${RESULTS[@]}"; do
  IFS='|' read -r n k v s <<< "$r"
  log "$n ($k): $v in ${s}s"
done
log "overall: $([ "$STATUS" -eq 0 ] && echo PASS || echo "FAIL (status $STATUS)")  (markdown: $OUTROOT/summary.md)"
exit "$STATUS"
