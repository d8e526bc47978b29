#!/usr/bin/env bash
# Builds llama_gen (llama_gen.cpp: chat-model pp/tg/ttft straight on llama.cpp's C API) against the llama.cpp
# vendored by llama-cpp-sys-2, with the ggml options of Quire's own Rust build, and prints the binary's path
# as its last line. Idempotent: nothing is rebuilt while the binary is newer than llama_gen.cpp,
# CMakeLists.txt and this script, and the cmake options are unchanged. First build: a few minutes on 2 cores.
#
#   bash bench/llama_gen/build.sh            -> builds; last line: .../llama-gen-build/llama_gen
#   bash bench/llama_gen/build.sh --prompt   -> writes the prompt text (if missing); last line: its path
#
# The prompt text is the "text" fields of $CORPUS (default ../shared/data/faq-eval-en/corpus.jsonl), in
# file order, separated by blank lines; llama_gen repeats/cuts it to --prompt-tokens.
#
# ggml options, as llama-cpp-sys-2 0.1.161's build.rs configures the same sources for Quire (see its
# CMakeCache under $CARGO_TARGET_DIR/release/build/llama-cpp-sys-2-*/out/build):
#   Release, static libs, GGML_NATIVE=OFF (so AVX/AVX2/BMI2/FMA/F16C/SSE4.2 default ON), GGML_OPENMP=ON,
#   the AVX-512 family derived from /proc/cpuinfo exactly as scripts/env.sh does (it exports them as GGML_*
#   env vars, which the crate forwards to cmake), and on x86_64 the C/C++ flags cmake-rs adds
#   (-ffunction-sections -fdata-sections -fPIC -m64 -march=x86-64 -w).
# Env: QUIRE_BENCH_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/quire-bench), LLAMA_SYS_VERSION (0.1.161),
#      LLAMA_SRC (a llama.cpp source dir, overrides the lookup), JOBS (2), CORPUS. Needs cmake, g++, make.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${QUIRE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quire-bench}"
BUILD="$CACHE/llama-gen-build"
BIN="$BUILD/llama_gen"
VER="${LLAMA_SYS_VERSION:-0.1.161}"
JOBS="${JOBS:-2}"

if [[ "${1:-}" == "--prompt" ]]; then
  CORPUS="${CORPUS:-$(cd "$HERE/../../.." && pwd)/shared/data/faq-eval-en/corpus.jsonl}"
  OUT="$CACHE/llama-gen-prompt.txt"
  if [[ ! -s "$OUT" || "$CORPUS" -nt "$OUT" ]]; then
    mkdir -p "$CACHE"
    python3 -c 'import json,sys; print("\n\n".join(json.loads(l)["text"].strip() for l in open(sys.argv[1]) if l.strip()))' \
      "$CORPUS" > "$OUT.tmp"
    mv "$OUT.tmp" "$OUT"
  fi
  echo "$OUT"
  exit 0
fi

for c in cmake g++ make; do
  command -v "$c" >/dev/null || { echo "build.sh: $c missing" >&2; exit 1; }
done

# llama.cpp sources: the crate's vendored copy in the cargo registry, else the copy llama_embed/build.sh made.
SRC="${LLAMA_SRC:-}"
if [[ -z "$SRC" ]]; then
  SRC="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/llama-cpp-sys-2-"$VER"/llama.cpp 2>/dev/null | head -n1 || true)"
  [[ -n "$SRC" ]] || SRC="$CACHE/llama.cpp-src-$VER"
fi
[[ -f "$SRC/CMakeLists.txt" ]] || { echo "build.sh: no llama.cpp sources (llama-cpp-sys-2 $VER) found; set LLAMA_SRC" >&2; exit 1; }

# The AVX-512 family, derived exactly as scripts/env.sh derives it for the Rust build.
AVX=()
if [ "$(uname -m)" = x86_64 ] && [ -r /proc/cpuinfo ]; then
  _flags=" $(grep -m1 '^flags' /proc/cpuinfo) "
  _has() { case "$_flags" in *" $1 "*) return 0;; esac; return 1; }
  if _has avx512f && _has avx512bw && _has avx512vl && _has avx512dq; then AVX+=(-DGGML_AVX512=ON); fi
  _has avx512_vnni && AVX+=(-DGGML_AVX512_VNNI=ON)
  _has avx512_bf16 && AVX+=(-DGGML_AVX512_BF16=ON)
  _has avx512vbmi && AVX+=(-DGGML_AVX512_VBMI=ON)
fi
CFLAGS_RS=""
[ "$(uname -m)" = x86_64 ] && CFLAGS_RS="-ffunction-sections -fdata-sections -fPIC -m64 -march=x86-64 -w"

ARGS=(-DLLAMA_SRC="$SRC" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF
      -DGGML_NATIVE=OFF "${AVX[@]}" -DGGML_OPENMP=ON
      -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF
      -DLLAMA_CURL=OFF
      "-DCMAKE_C_FLAGS=$CFLAGS_RS" "-DCMAKE_CXX_FLAGS=$CFLAGS_RS")
STAMP="$BUILD/.cmake-args"
WANT="$(printf '%s\n' "${ARGS[@]}")"

up_to_date() {
  [[ -x "$BIN" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]] || return 1
  local f
  for f in "$HERE/llama_gen.cpp" "$HERE/CMakeLists.txt" "$HERE/build.sh"; do
    [[ "$BIN" -nt "$f" ]] || return 1
  done
}

if ! up_to_date; then
  mkdir -p "$BUILD"
  echo "build: llama.cpp sources $SRC" >&2
  echo "build: cmake ${ARGS[*]}" >&2
  rm -f "$STAMP"
  nice -n 19 cmake -S "$HERE" -B "$BUILD" "${ARGS[@]}" >"$BUILD/cmake.log" 2>&1 \
    || { tail -30 "$BUILD/cmake.log" >&2; exit 1; }
  nice -n 19 cmake --build "$BUILD" --target llama_gen -j "$JOBS" >"$BUILD/build.log" 2>&1 \
    || { tail -30 "$BUILD/build.log" >&2; exit 1; }
  touch "$BIN"   # also when only build.sh changed and make had nothing to do
  echo "$WANT" > "$STAMP"
fi
echo "$BIN"
