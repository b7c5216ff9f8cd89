#!/usr/bin/env bash
# no_std link check for ws-proto.
#
# Builds ci/nostd-check (a `#![no_std]` staticlib with its own
# `#[panic_handler]` and panic = "abort") against ws-proto with
# `default-features = false`, once without and once with `--features alloc`.
# If anything in ws-proto's dependency graph links `std`, the build fails with
#
#   error[E0152]: found duplicate lang item `panic_impl`
#     = note: the lang item is first defined in crate `std` (which `ws_proto` depends on)
#
# (verified 2026-11 with rustc 1.95.0 by temporarily depending on ws-proto with
# its default `std` feature: both `cargo build` and `cargo check` failed with
# exactly that error, exit status 101).
#
# If the `thumbv7em-none-eabihf` target happens to be installed (CI does not
# install it), the crate is also built for it; otherwise that is skipped with
# a message.
#
# Usage: scripts/nostd-check.sh        (from anywhere; works on the repo it lives in)
# Output goes to target/nostd-check (CARGO_TARGET_DIR).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MANIFEST=ci/nostd-check/Cargo.toml
export CARGO_TARGET_DIR="$ROOT/target/nostd-check"
EMBEDDED_TARGET=thumbv7em-none-eabihf

run() {
  echo "+ $*"
  "$@"
}

# Formatting of the check crate itself (it is outside the workspace, so
# `cargo fmt --all` does not see it).
run cargo fmt --manifest-path "$MANIFEST" -- --check

echo "== host ($(rustc -vV | sed -n 's/^host: //p')): ws-proto, no default features"
run cargo build --manifest-path "$MANIFEST"
echo "== host: ws-proto + alloc"
run cargo build --manifest-path "$MANIFEST" --features alloc
echo "== host: ws-proto + alloc + deflate (miniz_oxide)"
run cargo build --manifest-path "$MANIFEST" --features deflate

# Lints for the check crate too (cheap: ws-proto is already built).
run cargo clippy --manifest-path "$MANIFEST" --features alloc -- -D warnings

if command -v rustup >/dev/null 2>&1 &&
   rustup target list --installed 2>/dev/null | grep -qx "$EMBEDDED_TARGET"; then
  echo "== $EMBEDDED_TARGET: ws-proto, no default features"
  run cargo build --manifest-path "$MANIFEST" --target "$EMBEDDED_TARGET"
  echo "== $EMBEDDED_TARGET: ws-proto + alloc"
  run cargo build --manifest-path "$MANIFEST" --target "$EMBEDDED_TARGET" --features alloc
else
  echo "== $EMBEDDED_TARGET: skipped (target not installed; 'rustup target add $EMBEDDED_TARGET' to enable this bonus check locally)"
fi

echo "nostd-check: OK (ws-proto links without std: bare, with alloc, with deflate)"
