#!/usr/bin/env bash
# End-to-end tests of the real Quire app: WebdriverIO -> tauri-driver -> WebKitWebDriver -> the app binary,
# on an Xvfb display when there is no DISPLAY, with a throwaway data folder.
#
#   scripts/e2e.sh
#
# The tests import real documents from the fixtures (scripts/fixtures.sh) and ask the starter models.
# Expects the debug app at $CARGO_TARGET_DIR/debug/quire-desktop (or $QUIRE_APP), built after the UI and with tauri's
# custom-protocol feature, so that it serves ui/dist instead of loading devUrl
# (`(cd ui && npm run build) && cargo build -p quire-desktop`; scripts/test.sh does both). Installs tauri-driver
# and the test packages when missing. Screenshots of every screen, of the whole display and the driver's log
# go to $QUIRE_CACHE/artifacts/e2e/. Every process it starts is stopped when it ends, however it ends.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$QUIRE_ROOT"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { echo "e2e: $*" >&2; exit 1; }

app="${QUIRE_APP:-$CARGO_TARGET_DIR/debug/quire-desktop}"
artifacts="${QUIRE_E2E_ARTIFACTS:-$QUIRE_CACHE/artifacts/e2e}"
port="${TAURI_DRIVER_PORT:-4444}"
native_driver="$(command -v WebKitWebDriver || true)"

[ -x "$app" ] || die "no app binary at $app; build it first: (cd ui && npm run build) && cargo build -p quire-desktop"
[ -n "$native_driver" ] || die "WebKitWebDriver not found (Debian package webkit2gtk-driver; scripts/setup.sh --test)"
if ! command -v tauri-driver >/dev/null 2>&1; then
  say "installing tauri-driver"
  CARGO_TARGET_DIR="$QUIRE_CACHE/tauri-driver-build" cargo install tauri-driver --locked --version '^2'
fi
if [ ! -d tests/e2e/node_modules ]; then
  say "installing the end-to-end test packages"
  (cd tests/e2e && npm ci --no-audit --no-fund)
fi
say "type-checking the end-to-end tests"
(cd tests/e2e && npm run --silent check)

work="$(mktemp -d "${TMPDIR:-/tmp}/quire-e2e.XXXXXX")"
groups=()  # process groups started here, stopped in reverse order
cleanup() {
  local status=$? i
  trap - EXIT INT TERM
  for (( i=${#groups[@]}-1; i>=0; i-- )); do
    kill -TERM -- "-${groups[i]}" 2>/dev/null || true
  done
  for pgid in "${groups[@]}"; do
    for _ in $(seq 50); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pgid" 2>/dev/null || true
  done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts a command in its own process group (so its children stop with it); its pid is the group id.
start() { setsid "$@" & groups+=("$!"); }

rm -rf "$artifacts" && mkdir -p "$artifacts"

if [ -z "${DISPLAY:-}" ]; then
  command -v Xvfb >/dev/null 2>&1 || die "no DISPLAY and no Xvfb (Debian package xvfb)"
  n=99
  while [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ]; do n=$((n + 1)); done
  say "starting Xvfb :$n"
  start Xvfb ":$n" -screen 0 1280x860x24 -nolisten tcp -nolisten unix-abstract >"$artifacts/xvfb.log" 2>&1
  export DISPLAY=":$n"
  for _ in $(seq 100); do [ -S "/tmp/.X11-unix/X$n" ] && break; sleep 0.1; done
  [ -S "/tmp/.X11-unix/X$n" ] || die "Xvfb did not start (see $artifacts/xvfb.log)"
fi

# The app inherits this environment through tauri-driver and WebKitWebDriver.
export QUIRE_DATA_DIR="$work/data"
export QUIRE_E2E_ARTIFACTS="$artifacts"
export QUIRE_E2E_FIXTURES="${QUIRE_E2E_FIXTURES:-$QUIRE_CACHE/fixtures}"
export QUIRE_APP="$app"
export TAURI_DRIVER_PORT="$port"
mkdir -p "$QUIRE_DATA_DIR"
# A throwaway models folder holding the two starter models (links into the model cache, with their .verified
# stamps), so that a download made by the tests never lands in the cache. Hugging Face is a loopback port that
# the models test serves (nothing listens there otherwise): the app never reaches the internet.
export QUIRE_E2E_MODELS_CACHE="$QUIRE_MODELS_DIR"
export QUIRE_MODELS_DIR="$work/models"
mkdir -p "$QUIRE_MODELS_DIR"
for f in SmolLM2-135M-Instruct.Q4_1.gguf all-MiniLM-L6-v2.q8_0.gguf; do
  [ -f "$QUIRE_E2E_MODELS_CACHE/$f" ] || die "no starter model $QUIRE_E2E_MODELS_CACHE/$f (scripts/models.sh)"
  ln "$QUIRE_E2E_MODELS_CACHE/$f" "$QUIRE_MODELS_DIR/$f" 2>/dev/null || ln -s "$QUIRE_E2E_MODELS_CACHE/$f" "$QUIRE_MODELS_DIR/$f"
  [ ! -f "$QUIRE_E2E_MODELS_CACHE/$f.verified" ] || cp -p "$QUIRE_E2E_MODELS_CACHE/$f.verified" "$QUIRE_MODELS_DIR/"
done
hf_port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
export HF_ENDPOINT="http://127.0.0.1:$hf_port"

say "starting tauri-driver on 127.0.0.1:$port (app: $app)"
start tauri-driver --port "$port" --native-driver "$native_driver" >"$artifacts/tauri-driver.log" 2>&1
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || die "tauri-driver did not start (see $artifacts/tauri-driver.log)"

say "running the end-to-end tests"
status=0
(cd tests/e2e && npx --no-install wdio run ./wdio.conf.ts) || status=$?

echo "screenshots and logs: $artifacts"
ls -1 "$artifacts"
exit "$status"
