#!/usr/bin/env bash
# Installs everything Quire needs on a Debian/Ubuntu machine. Idempotent: run it as often as you like.
#
#   scripts/setup.sh           system packages, Rust check, npm packages, starter models
#   scripts/setup.sh --test    the above + tauri-driver, end-to-end test packages, test documents
#
# Downloads go to $QUIRE_CACHE (default ~/.cache/quire), never into the clone.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$QUIRE_ROOT"

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# ---- system packages (only the missing ones)
packages=(build-essential pkg-config cmake clang libclang-dev protobuf-compiler libprotobuf-dev libssl-dev curl ca-certificates
          libwebkit2gtk-4.1-dev librsvg2-dev libayatana-appindicator3-dev
          python3 python3-venv python3-pip poppler-utils xauth)
if (( want_test )); then
  packages+=(xvfb x11-utils webkit2gtk-driver imagemagick gnome-keyring dbus-x11 libsecret-tools)
fi
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  say "installing system packages: ${missing[*]}"
  SUDO=(); [ "$(id -u)" = 0 ] || SUDO=(sudo)
  if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null || [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
    "${SUDO[@]}" apt-get update -q
  fi
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# ---- Rust
if ! command -v cargo >/dev/null 2>&1; then
  say "installing Rust (rustup)"
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
  . "$HOME/.cargo/env"
fi
need_rust="1.94"
have_rust="$(rustc --version | awk '{print $2}')"
if [ "$(printf '%s\n%s\n' "$need_rust" "$have_rust" | sort -V | head -n1)" != "$need_rust" ]; then
  echo "setup: Rust $have_rust is too old; Quire needs $need_rust or newer (rustup update)" >&2
  exit 1
fi

# ---- npm packages for the UI (and the end-to-end tests)
npm_install() {  # dir: install when package-lock.json changed since the last install
  local dir="$1" stamp="$1/node_modules/.quire-lock.sha256" want
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    say "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund)
    echo "$want" > "$stamp"
  fi
}
npm_install ui
(( want_test )) && npm_install tests/e2e

# ---- tauri-driver (WebDriver for the real app)
if (( want_test )) && ! command -v tauri-driver >/dev/null 2>&1; then
  say "installing tauri-driver"
  CARGO_TARGET_DIR="$QUIRE_CACHE/tauri-driver-build" cargo install tauri-driver --locked --version '^2'
fi

# ---- starter models (SmolLM2-135M-Instruct, all-MiniLM-L6-v2 as GGUF), verified by sha256
bash scripts/models.sh

# ---- real documents and bad inputs for the tests
(( want_test )) && bash scripts/fixtures.sh

say "setup done"
