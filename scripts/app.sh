#!/usr/bin/env bash
# Sets up everything (idempotent), builds Quire and launches the desktop app.
#   scripts/app.sh             debug build (shared with the test suite: fast after tests have run)
#   scripts/app.sh --release   optimised build
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$QUIRE_ROOT"
profile=debug; flags=()
[ "${1:-}" = "--release" ] && { profile=release; flags=(--release); }
bash scripts/setup.sh
(cd ui && npm run build)
cargo build "${flags[@]}" -p quire-desktop -p quire-cli
echo "The command line: $CARGO_TARGET_DIR/$profile/quire --help"
exec "$CARGO_TARGET_DIR/$profile/quire-desktop"
