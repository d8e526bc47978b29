#!/usr/bin/env bash
# Runs every test of Quire on real parts, after setting up what they need (idempotent):
# formatting and lints, Rust unit and integration tests (real LanceDB, real llama.cpp with the starter models,
# real documents), UI type checks and unit tests, and end-to-end tests of the real app under Xvfb.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$QUIRE_ROOT"
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
started=$(date +%s)
step() { say "$* [$(( $(date +%s) - started ))s]"; }

step "setup"
bash scripts/setup.sh --test

step "UI: type check, unit tests, build"
(cd ui && npm run check && npm test && npm run build)

step "Rust: format"
cargo fmt --all --check

step "Rust: build (debug, all targets)"
cargo build --workspace --all-targets --locked

step "Rust: clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust: tests"
cargo test --workspace --locked -- --test-threads=2

step "end-to-end: the real app under Xvfb"
bash scripts/e2e.sh

step "all tests passed"
