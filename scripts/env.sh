# Shared environment for Quire's scripts (sourced, not run).
#   QUIRE_CACHE        downloads, starter models, test documents, the cargo target dir (outside the clone)
#   CARGO_TARGET_DIR   one build shared by the app, the CLI, tests and benchmarks
#   GGML_*             llama.cpp's CPU vector units for this machine (llama-cpp-sys-2 passes GGML_* to cmake)
QUIRE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export QUIRE_ROOT
export QUIRE_CACHE="${QUIRE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quire}"
export QUIRE_MODELS_DIR="${QUIRE_MODELS_DIR:-$QUIRE_CACHE/models}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$QUIRE_CACHE/target}"
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

# A local build runs where it is built: enable the AVX-512 family when this CPU has it (AVX2/FMA/F16C are on by
# default in llama.cpp's non-native x86-64 build). Release builds for other machines use the `cpu-variants` feature.
if [ "$(uname -m)" = x86_64 ] && [ -r /proc/cpuinfo ]; then
  _flags=" $(grep -m1 '^flags' /proc/cpuinfo) "
  _has() { case "$_flags" in *" $1 "*) return 0;; esac; return 1; }
  if _has avx512f && _has avx512bw && _has avx512vl && _has avx512dq; then export GGML_AVX512=ON; fi
  _has avx512_vnni && export GGML_AVX512_VNNI=ON
  _has avx512_bf16 && export GGML_AVX512_BF16=ON
  _has avx512vbmi && export GGML_AVX512_VBMI=ON
  unset _flags; unset -f _has
fi
