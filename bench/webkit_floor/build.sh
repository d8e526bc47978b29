#!/usr/bin/env bash
# Builds floor (floor.c: the smallest WebKitGTK 4.1 app) with the system's C compiler and prints the binary's
# path as its last line. Idempotent: nothing is rebuilt while the binary is newer than floor.c and this script.
# Needs cc and libwebkit2gtk-4.1-dev (scripts/setup.sh installs both).
#   Env: QUIRE_BENCH_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/quire-bench).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${QUIRE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quire-bench}"
BIN="$CACHE/webkit-floor/floor"
if [[ ! -x "$BIN" || "$HERE/floor.c" -nt "$BIN" || "$HERE/build.sh" -nt "$BIN" ]]; then
  mkdir -p "$(dirname "$BIN")"
  # shellcheck disable=SC2046  # pkg-config prints several flags
  cc -O2 -o "$BIN.tmp" "$HERE/floor.c" $(pkg-config --cflags --libs webkit2gtk-4.1 gtk+-3.0)
  mv "$BIN.tmp" "$BIN"
fi
echo "$BIN"
