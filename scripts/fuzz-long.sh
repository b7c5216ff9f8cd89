#!/usr/bin/env bash
# Fuzzes one target for a long time (default: one hour), single worker.
#
#   scripts/fuzz-long.sh TARGET [SECONDS]
#
# Reads the committed corpus (fuzz/corpus/TARGET) and writes what it finds
# to fuzz/work/TARGET (ignored by git); crashes go to fuzz/artifacts/TARGET.
# Afterwards, merge the new inputs into the committed corpus, minimised:
#
#   cd fuzz && cargo +nightly fuzz cmin TARGET work/TARGET
#
# then replay them with `cargo test -p ws-proto --test fuzz_corpus`.
# Extra libFuzzer flags can follow a `--`, e.g. `-- -jobs=2 -workers=2`.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 TARGET [SECONDS] [-- LIBFUZZER_FLAGS...]" >&2
  exit 2
fi
target=$1
seconds=${2:-3600}
shift $(( $# >= 2 ? 2 : 1 ))
[ "${1:-}" = "--" ] && shift

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
  sanitizer=()
else
  fuzz=(cargo fuzz)
  sanitizer=(-s none)
fi
case $target in
  handshake_*|extension_offers) dict=-dict=dict/handshake.dict ;;
  *) dict=-dict=dict/frames.dict ;;
esac
mkdir -p "work/$target"
exec "${fuzz[@]}" run -O "${sanitizer[@]}" "$target" "work/$target" "corpus/$target" -- \
  -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 "$dict" "$@"
