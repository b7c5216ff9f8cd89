#!/usr/bin/env bash
# Run the Autobahn|Testsuite in fuzzingserver mode (wstest acts as the server)
# and test a WebSocket *client*: start wstest on 127.0.0.1:PORT, wait for the
# port, run the client command, collect the reports, print a summary.
# Companion of fuzzingclient.sh (vendored from shared/autobahn, see
# shared/autobahn/README.md "Fuzzingserver mode"); same options and exit codes
# where they make sense.
#
# Usage:
#   fuzzingserver.sh [options] [--] CLIENT_CMD [ARGS...]
#   fuzzingserver.sh [options] -C "SHELL COMMAND"
#
#   The client must implement the usual fuzzingserver protocol against
#   $AUTOBAHN_URL: GET /getCaseCount, then for i in 1..=N
#   /runCase?case=i&agent=AGENT (echo every text/binary message until close),
#   then /updateReports?agent=AGENT. The client command gets these in its
#   environment:
#     AUTOBAHN_URL         ws://127.0.0.1:PORT
#     AUTOBAHN_AGENT       the agent name (-a)
#     AUTOBAHN_CASE_COUNT  number of cases the server will offer
#   Example:
#     fuzzingserver.sh -a ws-client -p 9002 -c "1.*,2.*" -o target/autobahn/ws-client \
#       -- target/release/examples/autobahn_client ws://127.0.0.1:9002 ws-client
#
# Options:
#   -p, --port PORT          fuzzing server port on 127.0.0.1 (default 9002)
#   -o, --out DIR            output directory: spec.json, wstest.log, client.log,
#                            summary.json, reports/clients/ (default
#                            ./autobahn-report-client); old reports in it are replaced
#   -c, --cases LIST         cases to offer ("1.*,2.*,7.1.1", default "*")
#   -x, --exclude LIST       cases to skip ("9.*,12.*,13.*")
#       --fast               shorthand for --exclude "9.*,12.*,13.*"
#   -a, --agent NAME         agent name the client reports under (default "testee");
#                            the summary is restricted to this agent
#   -A, --allow LIST         cases whose FAILED result does not fail the run
#       --lenient-close      ignore the closing-handshake verdict
#   -q, --quiet              print only the table and the verdict
#       --by section|subsection
#                            grouping of the summary table (default section)
#       --options JSON       wstest protocol options for the spec, e.g. '{"failByDrop": false}'
#   -C, --client-cmd STR     client command as one shell string (run with bash -c)
#   -t, --timeout SECS       kill the client after SECS (default 1800)
#   -w, --wait SECS          wait up to SECS for wstest's port (default 60; it
#                            took up to ~15 s to start on a loaded machine)
#       --no-update-reports  do not request /updateReports after the client exits
#                            (by default the script requests it itself, so a client
#                            that died part-way still leaves a report, which then
#                            fails the case-count check)
#
# Environment: AUTOBAHN_PREFIX (default /opt/autobahn), WSTEST (path to wstest).
#
# Exit status: 0 = every case OK/NON-STRICT/INFORMATIONAL/UNIMPLEMENTED,
#   1 = at least one case FAILED, 2 = could not run (no wstest, port busy,
#   wstest did not start or died, client exited non-zero or timed out,
#   report missing or incomplete).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="${AUTOBAHN_PREFIX:-/opt/autobahn}"
WSTEST="${WSTEST:-$PREFIX/bin/wstest}"

PORT=9002 OUT="./autobahn-report-client" CASES="*" EXCLUDE="" AGENT="testee" ALLOW=""
LENIENT="" QUIET="" BY="section" OPTIONS="{}" TIMEOUT=1800 WAIT=60 CLIENT_SH="" UPDATE=1
CLIENT=()
while [ $# -gt 0 ]; do
  case "$1" in
    -p|--port) PORT="$2"; shift ;;
    -o|--out) OUT="$2"; shift ;;
    -c|--cases) CASES="$2"; shift ;;
    -x|--exclude) EXCLUDE="$2"; shift ;;
    --fast) EXCLUDE="9.*,12.*,13.*" ;;
    -a|--agent) AGENT="$2"; shift ;;
    -A|--allow) ALLOW="$2"; shift ;;
    --lenient-close) LENIENT="--lenient-close" ;;
    -q|--quiet) QUIET="--quiet" ;;
    --by) BY="$2"; shift ;;
    --options) OPTIONS="$2"; shift ;;
    -C|--client-cmd) CLIENT_SH="$2"; shift ;;
    -t|--timeout) TIMEOUT="$2"; shift ;;
    -w|--wait) WAIT="$2"; shift ;;
    --no-update-reports) UPDATE=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    --) shift; CLIENT+=("$@"); break ;;
    -*) echo "fuzzingserver.sh: unknown option $1" >&2; exit 2 ;;
    *) CLIENT+=("$@"); break ;;
  esac
  shift
done

fail() { echo "fuzzingserver.sh: $*" >&2; exit 2; }

if [ -n "$CLIENT_SH" ]; then
  [ ${#CLIENT[@]} -eq 0 ] || fail "give the client either with -C or as arguments, not both"
  CLIENT=(bash -c "$CLIENT_SH")
fi
[ ${#CLIENT[@]} -gt 0 ] || fail "no client command given (see --help)"
[ -x "$WSTEST" ] || fail "wstest not found at $WSTEST (run install.sh from this folder first)"
command -v python3 >/dev/null || fail "python3 is needed for the spec and the summary"
case "$PORT" in ''|*[!0-9]*) fail "bad port '$PORT'" ;; esac
case "$TIMEOUT$WAIT" in *[!0-9]*) fail "--timeout and --wait take whole seconds" ;; esac

HOST=127.0.0.1
URL="ws://$HOST:$PORT"

port_open() {
  python3 -c "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()" "$HOST" "$PORT" 2>/dev/null
}

# A minimal stdlib-only WebSocket client for wstest's control URLs
# (/getCaseCount, /updateReports): prints every text message it receives,
# answers the server's Close and exits 0, or exits 1 on any error/timeout.
ws_control() {  # $1: path with query, e.g. "/getCaseCount"
  python3 - "$HOST" "$PORT" "$1" <<'EOF'
import base64, os, socket, struct, sys
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    s = socket.create_connection((host, port), 10)
    s.settimeout(60)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, host, port, key)).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise EOFError("connection closed during the handshake")
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise ValueError("handshake refused: %r" % head.split(b"\r\n", 1)[0])

    def need(n):
        global buf
        while len(buf) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("connection closed mid-frame")
            buf += chunk
        out, buf = buf[:n], buf[n:]
        return out

    while True:
        b0, b1 = need(2)
        opcode, n = b0 & 0x0F, b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", need(8))[0]
        mask = need(4) if b1 & 0x80 else None
        payload = need(n)
        if mask:
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        if opcode == 1:
            print(payload.decode())
        elif opcode == 8:
            s.sendall(b"\x88\x80" + os.urandom(4))  # masked empty Close
            s.close()
            sys.exit(0)
except Exception as e:  # noqa: BLE001
    print("ws_control %s: %s" % (path, e), file=sys.stderr)
    sys.exit(1)
EOF
}

# Refuse to start when the port is taken: the client would talk to whatever
# is listening there, not to this wstest.
port_open && fail "$HOST:$PORT is already in use; pick another port with -p"

mkdir -p "$OUT" || fail "cannot create $OUT"
OUT="$(cd "$OUT" && pwd)"
REPORT="$OUT/reports/clients"
rm -rf "$REPORT" "$OUT/summary.json" "$OUT/client.log" "$OUT/wstest.log"

# ---- write spec.json
python3 - "$OUT/spec.json" "$URL" "$CASES" "$EXCLUDE" "$REPORT" "$OPTIONS" <<'EOF' || fail "could not write spec.json"
import json, re, sys
path, url, cases, exclude, outdir, options = sys.argv[1:]
split = lambda s: [c for c in re.split(r"[,\s]+", s) if c]
spec = {
    "url": url,
    "outdir": outdir,
    "cases": split(cases) or ["*"],
    "exclude-cases": split(exclude),
    "exclude-agent-cases": {},
}
opts = json.loads(options)
if opts:
    spec["options"] = opts
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
EOF

# ---- start wstest (backstop timeout: client timeout + startup + reports)
WPID="" CPID=""
cleanup() {
  [ -n "$CPID" ] && kill "$CPID" 2>/dev/null
  if [ -n "$WPID" ]; then
    kill "$WPID" 2>/dev/null
    wait "$WPID" 2>/dev/null
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
(cd "$OUT" && PYTHONUNBUFFERED=1 AUTOBAHN_BIND="$HOST" exec timeout --kill-after=10 "$((TIMEOUT + WAIT + 300))" \
  "$WSTEST" -m fuzzingserver -s "$OUT/spec.json" -u 0) > "$OUT/wstest.log" 2>&1 &
WPID=$!

deadline=$((SECONDS + WAIT))
until port_open; do
  if ! kill -0 "$WPID" 2>/dev/null; then
    tail -n 20 "$OUT/wstest.log" >&2
    WPID=""
    fail "wstest exited before listening on $HOST:$PORT"
  fi
  [ $SECONDS -ge $deadline ] && { tail -n 20 "$OUT/wstest.log" >&2; fail "wstest is not listening on $HOST:$PORT after ${WAIT}s"; }
  sleep 0.5
done

EXPECT=$(ws_control "/getCaseCount" | head -n1)
case "$EXPECT" in ''|*[!0-9]*) tail -n 20 "$OUT/wstest.log" >&2; fail "could not get the case count from wstest (got '$EXPECT')" ;; esac
[ "$EXPECT" -gt 0 ] || fail "the case selection matched no case (cases=[$CASES] exclude=[$EXCLUDE])"

# ---- run the client
echo "fuzzingserver: $URL  agent=$AGENT  cases=[$CASES]  exclude=[$EXCLUDE]  ($EXPECT cases)  out=$OUT"
echo "client: ${CLIENT[*]}"
T0=$(date +%s.%N)
AUTOBAHN_URL="$URL" AUTOBAHN_AGENT="$AGENT" AUTOBAHN_CASE_COUNT="$EXPECT" \
  timeout --kill-after=10 "$TIMEOUT" "${CLIENT[@]}" > "$OUT/client.log" 2>&1 < /dev/null &
CPID=$!
wait "$CPID"
CRC=$?
CPID=""
SECS=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "client exit status $CRC after ${SECS}s (log: $OUT/client.log)"
if [ $CRC -ne 0 ]; then
  tail -n 20 "$OUT/client.log" >&2
  if [ $CRC -eq 124 ] || [ $CRC -eq 137 ]; then
    echo "fuzzingserver.sh: the client timed out after ${TIMEOUT}s" >&2
  fi
fi
if ! kill -0 "$WPID" 2>/dev/null; then
  tail -n 20 "$OUT/wstest.log" >&2
  fail "wstest died while the client was running"
fi

# ---- make sure the reports are written (harmless if the client already did it)
if [ $UPDATE = 1 ]; then
  ws_control "/updateReports?agent=$AGENT" >/dev/null || echo "fuzzingserver.sh: warning: /updateReports failed" >&2
fi
for _ in $(seq 1 40); do
  [ -s "$REPORT/index.json" ] && break
  sleep 0.25
done
cleanup
WPID=""
trap - EXIT

# ---- summary
SUMARGS=(--agent "$AGENT" --by "$BY" --expect-min-cases "$EXPECT" --json "$OUT/summary.json")
[ -n "$ALLOW" ] && SUMARGS+=(--allow "$ALLOW")
[ -n "$LENIENT" ] && SUMARGS+=("$LENIENT")
[ -n "$QUIET" ] && SUMARGS+=("$QUIET")
python3 "$HERE/summarize.py" "$REPORT/index.json" "${SUMARGS[@]}"
SRC=$?
echo "planned cases: $EXPECT   client time: ${SECS}s   HTML report: $REPORT/index.html"
if [ $CRC -ne 0 ]; then
  echo "fuzzingserver.sh: the client exited with status $CRC" >&2
  exit 2
fi
exit $SRC
