#!/usr/bin/env bash
# Vendored copy of shared/autobahn/install.sh (the project's shared Autobahn|Testsuite
# scripts, shared/autobahn/README.md); copied into the repo so CI is self-contained.
# Keep in sync with the shared original; local changes: none.
#
# Install the Autobahn|Testsuite (`wstest`, RFC 6455 / RFC 7692 conformance suite)
# into a private prefix on Debian 12 (bookworm) x86_64, without Docker.
#
# wstest is Python 2.7 only and bookworm has no Python 2.7, so this script:
#   1. downloads CPython 2.7 (+ libssl1.1, libffi7) as .deb files from Debian
#      bullseye with apt-get, using a throw-away apt configuration in a temp dir
#      (the system's apt sources, lists and dpkg database are NOT touched),
#   2. unpacks them with `dpkg-deb -x` into $PREFIX/py27 (nothing is registered
#      with dpkg),
#   3. bootstraps pip 20.3.4 for that interpreter (wheels fetched by the host's
#      python3 pip),
#   4. builds a wheelhouse of autobahntestsuite 25.10.1 and its dependencies,
#      pinned to Python 2.7-compatible versions (only wsaccel is compiled, with
#      gcc), installs it into $PREFIX/site, and writes the wrappers
#      $PREFIX/bin/wstest and $PREFIX/bin/python2.7.
#
# Usage:  install.sh [--force] [--prefix DIR] [--cache DIR]
#   --force        wipe an existing installation in DIR and reinstall
#   --prefix DIR   install location (default: $AUTOBAHN_PREFIX or /opt/autobahn)
#   --cache DIR    keep the downloaded .debs, bootstrap wheels and the built
#                  wheelhouse in DIR (default: $AUTOBAHN_CACHE_DIR; none = temp
#                  dir).  With a complete cache the install needs no network.
# Environment:
#   AUTOBAHN_PREFIX            default prefix (/opt/autobahn)
#   AUTOBAHN_CACHE_DIR         default for --cache
#   AUTOBAHN_DEBIAN_MIRROR     bullseye mirror (default: the Debian mirror this
#                              machine's own apt sources already use)
#   AUTOBAHN_DEBIAN_SECURITY   bullseye security mirror (default: the security
#                              mirror of this machine's apt sources); "none" skips it
#
# Idempotent: when a complete installation of the same recipe is found, it only
# verifies it and exits 0.  Needs root (or write access to the prefix), Debian's
# archive and PyPI (unless the cache is complete), gcc and python3 with pip.
set -euo pipefail

RECIPE="autobahn-install-v1 autobahntestsuite==25.10.1 py27=bullseye"
AUTOBAHNTESTSUITE_VERSION="25.10.1"
PREFIX="${AUTOBAHN_PREFIX:-/opt/autobahn}"
CACHE="${AUTOBAHN_CACHE_DIR:-}"
FORCE=0
# The mirrors default to the ones this machine's apt sources already name.
system_uri() {  # $1: regex the URI must match; prints the first matching URI
  { { cat /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } | sed -n 's/^URIs:[[:space:]]*//p' | tr ' ' '\n'
    { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } | awk '$1=="deb"{for(i=2;i<=NF;i++) if($i ~ /^[a-z]+:\/\//){print $i; break}}'
  } | grep -E "$1" | head -n 1 || true
}
MIRROR="${AUTOBAHN_DEBIAN_MIRROR:-$(system_uri '/debian/?$')}"
SECURITY="${AUTOBAHN_DEBIAN_SECURITY:-$(system_uri '/debian-security/?$')}"
[ -n "$MIRROR" ] || { echo "install.sh: no Debian mirror found in the apt sources; set AUTOBAHN_DEBIAN_MIRROR" >&2; exit 2; }
[ -n "$SECURITY" ] || SECURITY=none
DEBS="python2.7-minimal libpython2.7-minimal libpython2.7-stdlib libpython2.7-dev libssl1.1 libffi7"
BOOT_WHEELS="pip-20.3.4-py2.py3-none-any.whl setuptools-44.0.0-py2.py3-none-any.whl wheel-0.37.1-py2.py3-none-any.whl"

while [ $# -gt 0 ]; do
  case "$1" in
    --force) FORCE=1 ;;
    --prefix) PREFIX="$2"; shift ;;
    --prefix=*) PREFIX="${1#--prefix=}" ;;
    --cache) CACHE="$2"; shift ;;
    --cache=*) CACHE="${1#--cache=}" ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '[autobahn-install %6ss] %s\n' "$(elapsed)" "$*"; }
die() { printf '[autobahn-install] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(uname -m)" = "x86_64" ] || die "only x86_64 is supported (got $(uname -m))"
case "$PREFIX" in /*) ;; *) die "--prefix must be an absolute path" ;; esac
PREFIX="${PREFIX%/}"
STAMP="$PREFIX/.install-stamp"
MARK="$PREFIX/.autobahn-prefix"

# One install per prefix at a time (e.g. parallel CI jobs on one machine).
LOCK="/tmp/autobahn-install-$(printf '%s' "$PREFIX" | md5sum | cut -c1-12).lock"
exec 9>"$LOCK"
flock -w 1200 9 || die "another install.sh holds $LOCK"

verify() {
  "$PREFIX/bin/wstest" --autobahnversion >/dev/null 2>&1 &&
  "$PREFIX/bin/python2.7" -c 'import wsaccel, OpenSSL, twisted.internet.epollreactor, autobahntestsuite.fuzzing' >/dev/null 2>&1
}

# ---------------------------------------------------------------- idempotency
if [ "$FORCE" = 0 ] && [ -f "$STAMP" ] && [ "$(head -n1 "$STAMP")" = "$RECIPE" ]; then
  if verify; then
    log "already installed in $PREFIX ($("$PREFIX/bin/wstest" --autobahnversion 2>/dev/null | tr -s '\n' ' '))"
    log "nothing to do; took $(elapsed) s"
    exit 0
  fi
  log "existing installation in $PREFIX failed verification; reinstalling"
fi
if [ -e "$PREFIX" ] && [ -n "$(ls -A "$PREFIX" 2>/dev/null)" ]; then
  [ -f "$MARK" ] || die "$PREFIX exists, is not empty and was not created by this script; refusing to wipe it"
  log "removing previous/partial installation in $PREFIX"
  rm -rf "$PREFIX"
fi
mkdir -p "$PREFIX"
echo "created by autobahn/install.sh" > "$MARK"

WORK=$(mktemp -d /tmp/autobahn-install.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
if [ -n "$CACHE" ]; then
  mkdir -p "$CACHE" && CACHE="$(cd "$CACHE" && pwd)" || die "cannot create cache dir $CACHE"
  DEBDIR="$CACHE/debs" BOOTDIR="$CACHE/boot" WHEELHOUSE="$CACHE/wheelhouse"
else
  DEBDIR="$WORK/debs" BOOTDIR="$WORK/boot" WHEELHOUSE="$WORK/wheelhouse"
fi
mkdir -p "$DEBDIR" "$BOOTDIR" "$WHEELHOUSE"

# ------------------------------------------------------- host prerequisites
# Runtime libraries that bullseye's libpython2.7-stdlib links against and that
# bookworm still ships under the same soname, plus gcc for wsaccel.
HOST_PKGS="gcc libc6-dev libbz2-1.0 libcrypt1 libdb5.3 libexpat1 libncursesw6 libnsl2
libreadline8 libsqlite3-0 libtinfo6 libtirpc3 zlib1g ca-certificates debian-archive-keyring"
missing=""
for p in $HOST_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if ! python3 -m pip --version >/dev/null 2>&1; then missing="$missing python3-pip"; fi
if [ -n "$missing" ]; then
  log "installing missing host packages from the system's apt sources:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null || die "apt-get install$missing failed"
fi
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"

# ------------------------------------- Python 2.7 from bullseye (private apt)
have_all_debs() {
  local p
  for p in $DEBS; do ls "$DEBDIR/${p}"_*_amd64.deb >/dev/null 2>&1 || return 1; done
}
if have_all_debs; then
  log "using cached .debs in $DEBDIR"
else
  APTDIR="$WORK/apt"
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
  key() { # keyring for a bullseye suite; fall back to the combined archive keyring
    if [ -f "/usr/share/keyrings/$1" ]; then echo "/usr/share/keyrings/$1"; else echo /usr/share/keyrings/debian-archive-keyring.gpg; fi
  }
  echo "deb [signed-by=$(key debian-archive-bullseye-stable.gpg)] $MIRROR bullseye main" > "$APTDIR/sources.list"
  if [ "$SECURITY" != none ]; then
    echo "deb [signed-by=$(key debian-archive-bullseye-security-automatic.gpg)] $SECURITY bullseye-security main" >> "$APTDIR/sources.list"
  fi
  APT_OPTS=(
    -o "Dir::Etc::SourceList=$APTDIR/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$APTDIR/lists"
    -o "Dir::Cache=$APTDIR/cache"
    -o "Dir::Cache::pkgcache="
    -o "Dir::Cache::srcpkgcache="
    -o "APT::Sandbox::User=root"
    -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
    -o "Acquire::Languages=none"
    -o "Acquire::Retries=3"
  )
  log "fetching bullseye package lists (private apt state in $APTDIR)"
  # apt-get update exits 0 even when a source fails; the check is the candidate below.
  apt-get "${APT_OPTS[@]}" update >"$APTDIR/update.log" 2>&1 || true
  if ! apt-cache "${APT_OPTS[@]}" show python2.7-minimal >/dev/null 2>&1; then
    cat "$APTDIR/update.log" >&2
    die "bullseye package lists unavailable from $MIRROR (set AUTOBAHN_DEBIAN_MIRROR, or use --cache with saved .debs)"
  fi
  grep -E '^(W|E):' "$APTDIR/update.log" | sed 's/^/    apt: /' || true
  log "downloading:" $DEBS
  rm -f "$DEBDIR"/*.deb
  # shellcheck disable=SC2086
  (cd "$DEBDIR" && apt-get "${APT_OPTS[@]}" -qq download $DEBS) >"$APTDIR/download.log" 2>&1 ||
    { cat "$APTDIR/download.log" >&2; die "apt-get download failed"; }
fi
PY27="$PREFIX/py27"
mkdir -p "$PY27"
: > "$PREFIX/debs.txt"
for p in $DEBS; do
  d=$(ls "$DEBDIR/${p}"_*_amd64.deb | sort -V | tail -n1)
  dpkg-deb -x "$d" "$PY27"
  dpkg-deb -W --showformat='${Package}=${Version}\n' "$d" >> "$PREFIX/debs.txt"
done
log "unpacked into $PY27: $(paste -sd' ' "$PREFIX/debs.txt")"

# Make $PREFIX/site a real site dir of this interpreter, so that .pth files in it
# (zope's namespace-package hook) are processed; PYTHONPATH would not do that.
SITE="$PREFIX/site"
mkdir -p "$SITE" "$PREFIX/bin" "$PREFIX/lib"
echo "import site; site.addsitedir('$SITE')" > "$PY27/usr/lib/python2.7/dist-packages/autobahn-site.pth"

cat > "$PREFIX/bin/python2.7" <<EOF
#!/bin/sh
# Private CPython 2.7 (Debian bullseye build) for the Autobahn testsuite.
export LD_LIBRARY_PATH="$PY27/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export PYTHONHOME="$PY27/usr"
export PYTHONNOUSERSITE=1
unset PYTHONPATH PYTHONSTARTUP
exec "$PY27/usr/bin/python2.7" "\$@"
EOF
chmod 755 "$PREFIX/bin/python2.7"
"$PREFIX/bin/python2.7" -c 'import ssl, ctypes, zlib, hashlib' || die "the unpacked python2.7 does not start"

# ------------------------------------------------------------------ pip
# Pins: autobahntestsuite 25.10.1's own pins plus every transitive dependency,
# each at the last release that supports Python 2.7 (Cython only builds wsaccel).
cat > "$PREFIX/constraints.txt" <<'EOF'
autobahntestsuite==25.10.1
autobahn==0.10.9
txaio==2.1.0
Twisted==19.10.0
zope.interface==4.6.0
incremental==16.10.1
pyOpenSSL==19.1.0
cryptography==3.3.2
service-identity==18.1.0
Jinja2==2.11.3
MarkupSafe==1.1.1
Werkzeug==1.0.1
klein==17.10.0
unittest2==1.1.0
six==1.16.0
setuptools==44.0.0
wheel==0.37.1
attrs==21.4.0
Automat==20.2.0
constantly==15.1.0
hyperlink==21.0.0
idna==2.10
PyHamcrest==1.10.1
cffi==1.15.1
pycparser==2.21
enum34==1.1.10
ipaddress==1.0.23
pyasn1==0.4.8
pyasn1-modules==0.2.8
traceback2==1.4.0
linecache2==1.0.0
argparse==1.4.0
typing==3.10.0.0
wsaccel==0.6.6
ujson==2.0.3
Cython==3.0.12
EOF

# Keep the host's pip settings that matter (index, cert), drop ones that would
# redirect this install.
unset PIP_FIND_LINKS PIP_REQUIRE_VIRTUALENV PIP_USER PIP_TARGET PIP_PREFIX PIP_NO_INDEX PIP_CONSTRAINT PIP_REQUIREMENT
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off
export PIP_CACHE_DIR="$WORK/pipcache"
PIP_CERT_ARGS=()
if [ -z "${PIP_CERT:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  PIP_CERT_ARGS=(--cert /etc/ssl/certs/ca-certificates.crt)
fi

have_boot=1
for w in $BOOT_WHEELS; do [ -f "$BOOTDIR/$w" ] || have_boot=0; done
if [ $have_boot = 1 ]; then
  log "using cached pip/setuptools/wheel wheels in $BOOTDIR"
else
  log "downloading pip/setuptools/wheel wheels for Python 2.7 with the host's pip"
  python3 -m pip download -q --no-deps --only-binary :all: --python-version 2.7 \
    --implementation cp --abi cp27mu --platform manylinux1_x86_64 \
    -d "$BOOTDIR" pip==20.3.4 setuptools==44.0.0 wheel==0.37.1 "${PIP_CERT_ARGS[@]}" ||
    die "pip download of the bootstrap wheels failed"
fi
BOOT_PATHS=()
for w in $BOOT_WHEELS; do BOOT_PATHS+=("$BOOTDIR/$w"); done
"$PREFIX/bin/python2.7" "$BOOTDIR/pip-20.3.4-py2.py3-none-any.whl/pip" install -q --no-index \
  --target "$SITE" "${BOOT_PATHS[@]}" >"$WORK/pip-boot.log" 2>&1 ||
  { cat "$WORK/pip-boot.log" >&2; die "pip bootstrap failed"; }
log "pip $("$PREFIX/bin/python2.7" -m pip --version 2>/dev/null | awk '{print $2}') ready for python2.7"

PIP_INSTALL=("$PREFIX/bin/python2.7" -m pip install --no-index --find-links "$WHEELHOUSE"
  --target "$SITE" --upgrade -c "$PREFIX/constraints.txt" --no-warn-script-location
  "autobahntestsuite==$AUTOBAHNTESTSUITE_VERSION")
if [ -n "$(ls -A "$WHEELHOUSE")" ] && "${PIP_INSTALL[@]}" >"$WORK/pip-install.log" 2>&1; then
  log "installed from the cached wheelhouse $WHEELHOUSE"
else
  log "building the wheelhouse: autobahntestsuite==$AUTOBAHNTESTSUITE_VERSION + Python 2.7 deps (compiles wsaccel)"
  # Headers come from the unpacked libpython2.7-dev; PIP_CONSTRAINT also reaches
  # pip's isolated build environment (wsaccel declares Cython as a build dependency).
  if ! env CC=gcc LDSHARED="gcc -pthread -shared" \
        CFLAGS="-I$PY27/usr/include/python2.7 -I$PY27/usr/include" \
        PIP_CONSTRAINT="$PREFIX/constraints.txt" \
        "$PREFIX/bin/python2.7" -m pip wheel -w "$WHEELHOUSE" --prefer-binary \
        --only-binary cryptography,cffi,Twisted,zope.interface,MarkupSafe,ujson \
        "${PIP_CERT_ARGS[@]}" "autobahntestsuite==$AUTOBAHNTESTSUITE_VERSION" >"$WORK/pip-wheel.log" 2>&1; then
    tail -n 60 "$WORK/pip-wheel.log" >&2
    die "pip wheel failed"
  fi
  log "wheelhouse ready ($(ls "$WHEELHOUSE" | wc -l) wheels); installing"
  "${PIP_INSTALL[@]}" >"$WORK/pip-install.log" 2>&1 || { tail -n 60 "$WORK/pip-install.log" >&2; die "pip install failed"; }
fi
grep '^Successfully installed' "$WORK/pip-install.log" | sed 's/^/    /' || true
"$PREFIX/bin/python2.7" -m pip freeze --path "$SITE" > "$PREFIX/freeze.txt" 2>/dev/null || true

# ------------------------------------------------------------------ wstest
# Entry point: same as the package's console script, but every listening socket
# that the suite opens (fuzzingserver, echoserver, the report web server, ...)
# binds to AUTOBAHN_BIND (default 127.0.0.1) instead of all interfaces.
cat > "$PREFIX/lib/wstest_main.py" <<'EOF'
import os
import sys

import autobahntestsuite  # noqa: F401  (installs the epoll reactor first)
from twisted.internet import reactor

BIND = os.environ.get("AUTOBAHN_BIND", "127.0.0.1")


def _bind_default(name, pos):
    orig = getattr(reactor, name)

    def listen(*args, **kwargs):
        args = list(args)
        if len(args) > pos:
            if not args[pos]:
                args[pos] = BIND
        elif not kwargs.get("interface"):
            kwargs["interface"] = BIND
        return orig(*args, **kwargs)

    setattr(reactor, name, listen)


# listenTCP(port, factory, backlog, interface) / listenSSL(port, factory, ctx, backlog, interface)
_bind_default("listenTCP", 3)
_bind_default("listenSSL", 4)

from autobahntestsuite.wstest import run  # noqa: E402

sys.argv[0] = "wstest"
sys.exit(run())
EOF
cat > "$PREFIX/bin/wstest" <<EOF
#!/bin/sh
# Autobahn|Testsuite wstest ($AUTOBAHNTESTSUITE_VERSION) on a private Python 2.7.
# Listening sockets bind to \${AUTOBAHN_BIND:-127.0.0.1}.
exec "$PREFIX/bin/python2.7" "$PREFIX/lib/wstest_main.py" "\$@"
EOF
chmod 755 "$PREFIX/bin/wstest"

verify || die "verification failed: $PREFIX/bin/wstest does not run"
{ echo "$RECIPE"; date -u +%Y-%m-%dT%H:%M:%SZ; } > "$STAMP"
log "installed: $("$PREFIX/bin/wstest" --autobahnversion 2>/dev/null | tr -s '\n' ' ')"
log "wstest: $PREFIX/bin/wstest   (size: $(du -sh "$PREFIX" | cut -f1))"
log "install took $(elapsed) s"
