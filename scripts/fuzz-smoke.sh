#!/usr/bin/env bash
# Smoke-fuzzes every cargo-fuzz target in fuzz/ for a short, fixed time and
# fails on any crash (the crashing input is left in fuzz/artifacts/<target>/).
#
#   scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]     (default 20, or $FUZZ_SMOKE_SECONDS)
#
# Installs cargo-fuzz if it is missing. Uses the nightly toolchain (with
# AddressSanitizer) when one is installed, otherwise stable without a
# sanitizer (`-s none`). The committed corpora are copied to a scratch
# directory first, so a smoke run never adds files to the repository.
set -euo pipefail

seconds=${1:-${FUZZ_SMOKE_SECONDS:-20}}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
  sanitizer=()
  echo "fuzz-smoke: nightly toolchain, AddressSanitizer"
else
  fuzz=(cargo fuzz)
  sanitizer=(-s none)
  echo "fuzz-smoke: stable toolchain, no sanitizer"
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

start=$(date +%s)
"${fuzz[@]}" build -O "${sanitizer[@]}"
targets=$("${fuzz[@]}" list)
failed=()
for target in $targets; do
  case $target in
    handshake_*|extension_offers) dict=(-dict=dict/handshake.dict) ;;
    *) dict=(-dict=dict/frames.dict) ;;
  esac
  mkdir -p "$scratch/$target"
  if [ -d "corpus/$target" ]; then
    cp -R "corpus/$target/." "$scratch/$target/"
  fi
  echo "fuzz-smoke: $target for ${seconds}s"
  log="$scratch/$target.log"
  if "${fuzz[@]}" run -O "${sanitizer[@]}" "$target" "$scratch/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=4096 "${dict[@]}" >"$log" 2>&1; then
    grep -E '^Done|^#[0-9]+ +DONE' "$log" | tail -n 1 || true
    grep -E 'cov: [0-9]+' "$log" | tail -n 1 | sed 's/^/  /' || true
  else
    echo "fuzz-smoke: $target FAILED; last lines of its log:"
    tail -n 40 "$log"
    failed+=("$target")
  fi
done
echo "fuzz-smoke: $(( $(date +%s) - start ))s in total"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz-smoke: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
echo "fuzz-smoke: all targets ran without a crash"
