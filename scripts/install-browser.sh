#!/usr/bin/env bash
# Installs Debian's chromium for the browser test (tests/tests/browser_chat.rs)
# and prints its version. Idempotent: does nothing but print the version when
# chromium is already installed. Needs root (CI runs as root).
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1 || [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends chromium; then
        apt-get update -qq
        apt-get install -y --no-install-recommends chromium
    fi
fi

# (Debian's /usr/bin/chromium wrapper may print shell noise on stderr.)
/usr/bin/chromium --version 2>/dev/null
