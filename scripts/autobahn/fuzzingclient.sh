#!/usr/bin/env bash
# Vendored copy of shared/autobahn/fuzzingclient.sh (the project's shared Autobahn|Testsuite
# scripts, shared/autobahn/README.md); copied into the repo so CI is self-contained.
# Keep in sync with the shared original; local changes: none.
#
# Run the Autobahn|Testsuite in fuzzingclient mode (wstest acts as the client)
# against a WebSocket *server* you have already started, then print a summary.
#
# Usage:
#   fuzzingclient.sh [options] [URL [OUTDIR [CASES [EXCLUDE]]]]
#
#   URL       target, default ws://127.0.0.1:9001 (loopback hosts only)
#   OUTDIR    where spec.json, wstest.log, summary.json and reports/servers/ go
#             (default ./autobahn-report); the old reports/ in it are replaced
#   CASES     comma/space-separated case ids or patterns, default "*"
#   EXCLUDE   comma/space-separated case ids or patterns to skip, default none
#
# Options (override the positional arguments):
#   -u, --url URL            target URL
#   -o, --out DIR            output directory
#   -c, --cases LIST         cases to run ("1.*,2.*,7.1.1")
#   -x, --exclude LIST       cases to skip ("9.*,12.*,13.*")
#       --fast               shorthand for --exclude "9.*,12.*,13.*" (no limits/perf,
#                            no permessage-deflate)
#   -a, --agent NAME         agent name in the report (default: testee)
#   -A, --allow LIST         case patterns whose FAILED result does not fail the run
#       --lenient-close      judge cases by behavior only (ignore close-handshake result)
#   -q, --quiet              summary table and verdict only (no per-case list)
#       --by section|subsection   grouping of the summary table (default section)
#       --options JSON       extra wstest protocol options, e.g. '{"failByDrop": true}'
#   -t, --timeout SECS       kill wstest after SECS (default 1800)
#   -w, --wait SECS          wait up to SECS for the server port to accept (default 30)
#
# Environment: AUTOBAHN_PREFIX (default /opt/autobahn), WSTEST (path to wstest),
#   AUTOBAHN_ALLOW_NON_LOOPBACK=1 to allow a non-loopback target host.
#
# Exit status: 0 = every case OK/NON-STRICT/INFORMATIONAL/UNIMPLEMENTED,
#   1 = at least one case FAILED, 2 = could not run (no wstest, server not
#   reachable, wstest crashed or timed out, report missing or incomplete).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="${AUTOBAHN_PREFIX:-/opt/autobahn}"
WSTEST="${WSTEST:-$PREFIX/bin/wstest}"

URL="" OUT="" CASES="" EXCLUDE="" AGENT="testee" ALLOW="" LENIENT="" QUIET="" BY="section"
OPTIONS="{}" TIMEOUT=1800 WAIT=30
POS=()
while [ $# -gt 0 ]; do
  case "$1" in
    -u|--url) URL="$2"; shift ;;
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
    -t|--timeout) TIMEOUT="$2"; shift ;;
    -w|--wait) WAIT="$2"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    --) shift; POS+=("$@"); break ;;
    -*) echo "fuzzingclient.sh: unknown option $1" >&2; exit 2 ;;
    *) POS+=("$1") ;;
  esac
  shift
done
[ -z "$URL" ] && URL="${POS[0]:-ws://127.0.0.1:9001}"
[ -z "$OUT" ] && OUT="${POS[1]:-./autobahn-report}"
[ -z "$CASES" ] && CASES="${POS[2]:-*}"
[ -z "$EXCLUDE" ] && EXCLUDE="${POS[3]:-}"

fail() { echo "fuzzingclient.sh: $*" >&2; exit 2; }

[ -x "$WSTEST" ] || fail "wstest not found at $WSTEST (run install.sh from this folder first)"
command -v python3 >/dev/null || fail "python3 is needed for the spec and the summary"

# ---- parse the URL: ws://host:port/path (wss:// also accepted)
read -r HOST PORT < <(python3 - "$URL" <<'EOF'
import sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
if u.scheme not in ("ws", "wss") or not u.hostname:
    print("- -"); sys.exit(0)
print(u.hostname, u.port or (443 if u.scheme == "wss" else 80))
EOF
)
[ "$HOST" != "-" ] || fail "bad URL '$URL' (want ws://host:port/...)"
case "$HOST" in
  127.*|localhost|::1) ;;
  *) [ "${AUTOBAHN_ALLOW_NON_LOOPBACK:-0}" = 1 ] || fail "target host '$HOST' is not loopback (set AUTOBAHN_ALLOW_NON_LOOPBACK=1 to override)" ;;
esac

mkdir -p "$OUT" || fail "cannot create $OUT"
OUT="$(cd "$OUT" && pwd)"
REPORT="$OUT/reports/servers"
rm -rf "$REPORT" "$OUT/summary.json"

# ---- write spec.json
python3 - "$OUT/spec.json" "$URL" "$AGENT" "$CASES" "$EXCLUDE" "$REPORT" "$OPTIONS" <<'EOF' || fail "could not write spec.json"
import json, re, sys
path, url, agent, cases, exclude, outdir, options = sys.argv[1:]
split = lambda s: [c for c in re.split(r"[,\s]+", s) if c]
spec = {
    "outdir": outdir,
    "servers": [{"agent": agent, "url": url}],
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

# ---- wait for the server
HOSTC="$HOST"; case "$HOST" in *:*) HOSTC="[$HOST]" ;; esac
deadline=$((SECONDS + WAIT))
until python3 -c "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()" "$HOST" "$PORT" 2>/dev/null; do
  [ $SECONDS -ge $deadline ] && fail "nothing accepts connections on $HOSTC:$PORT after ${WAIT}s"
  sleep 0.5
done

# ---- run wstest
echo "fuzzingclient: $URL  cases=[$CASES]  exclude=[$EXCLUDE]  out=$OUT"
T0=$(date +%s.%N)
(cd "$OUT" && exec timeout --kill-after=10 "$TIMEOUT" "$WSTEST" -m fuzzingclient -s "$OUT/spec.json") > "$OUT/wstest.log" 2>&1 &
WPID=$!
trap 'kill $WPID 2>/dev/null' EXIT INT TERM
# wstest never exits when the selection matches no case: watch for its plan line.
EXPECT=""
for _ in $(seq 1 120); do
  EXPECT=$(sed -n 's/^Ok, will run \([0-9][0-9]*\) test cases.*/\1/p' "$OUT/wstest.log" | head -n1)
  [ -n "$EXPECT" ] && break
  kill -0 $WPID 2>/dev/null || break
  sleep 0.25
done
if [ "$EXPECT" = "0" ]; then
  kill $WPID 2>/dev/null; wait $WPID 2>/dev/null
  fail "the case selection matched no case (cases=[$CASES] exclude=[$EXCLUDE])"
fi
wait $WPID
RC=$?
trap - EXIT INT TERM
SECS=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "wstest exit status $RC after ${SECS}s (log: $OUT/wstest.log)"
if [ $RC -ne 0 ]; then
  tail -n 20 "$OUT/wstest.log" >&2
  [ $RC -eq 124 ] || [ $RC -eq 137 ] && fail "wstest timed out after ${TIMEOUT}s"
  fail "wstest failed (exit status $RC)"
fi
if grep -q "^Connection to .* failed" "$OUT/wstest.log"; then
  grep "^Connection to .* failed" "$OUT/wstest.log" | head -n 5 >&2
  echo "fuzzingclient.sh: warning: wstest reported connection failures (see above)" >&2
fi
[ -n "$EXPECT" ] || EXPECT=$(sed -n 's/^Ok, will run \([0-9][0-9]*\) test cases.*/\1/p' "$OUT/wstest.log" | head -n1)
[ -n "$EXPECT" ] || fail "could not find the number of planned cases in $OUT/wstest.log"

# ---- summary
SUMARGS=(--agent "$AGENT" --by "$BY" --expect-min-cases "$EXPECT" --json "$OUT/summary.json")
[ -n "$ALLOW" ] && SUMARGS+=(--allow "$ALLOW")
[ -n "$LENIENT" ] && SUMARGS+=("$LENIENT")
[ -n "$QUIET" ] && SUMARGS+=("$QUIET")
python3 "$HERE/summarize.py" "$REPORT/index.json" "${SUMARGS[@]}"
SRC=$?
echo "planned cases: $EXPECT   wstest time: ${SECS}s   HTML report: $REPORT/index.html"
exit $SRC
