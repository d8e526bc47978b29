#!/usr/bin/env bash
# Benchmarks Quire beside the reference pipeline of ../shared/bench-peer, in one run on this machine, and prints
# the tables of BENCHMARKS.md with ratios from this run. Not part of the tests (timing is never asserted).
#   scripts/bench.sh                 # everything (about 30 minutes on 2 cores after the first set-up)
#   STAGES="ingest embed" scripts/bench.sh
# Stages: ingest (Quire vs LangChain, alternating, twice), embed (Quire vs llama.cpp's own benchmark on the
# same texts, alternating, twice), search (10k and 100k chunks), eval (faq-eval-en: Quire's three modes and the
# reference retrievers), ask (the chat model: time to first token and tokens/s vs a llama.cpp driver on the same
# model, prompt length and threads, alternating, four times; follow-up with the cached prefix; ROUGE-L of answers on
# tests/data/faq-answers-en.jsonl), app (the desktop app's binary size, cold start and memory, release build, under
# Xvfb when there is no display; scripts/bench_app.py), watch (watched folders: comparing an unchanged 10,000-file
# tree vs a plain walk of it, idle CPU natively and polling, write-to-searchable latency). Results: $QUIRE_CACHE/bench/<time>/ (JSON per run, summary.md).
# Env: THREADS (2), PEER (../shared/bench-peer), QUIRE_BENCH_CACHE (~/.cache/quire-bench).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$QUIRE_ROOT"
THREADS="${THREADS:-2}"
STAGES="${STAGES:-ingest embed search eval ask app watch}"
PEER="${PEER:-$QUIRE_ROOT/../shared/bench-peer}"
C="${QUIRE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quire-bench}"
OUT="$QUIRE_CACHE/bench/$(date -u +%Y%m%dT%H%M%SZ)"
EVAL_SET="${EVAL_SET:-$QUIRE_ROOT/../shared/data/faq-eval-en}"
mkdir -p "$OUT"
stamp() { echo "== $(date -u +%FT%TZ) $*  [loadavg $(cut -d' ' -f1-3 /proc/loadavg)]" | tee -a "$OUT/log.txt"; }
has() { case " $STAGES " in *" $1 "*) return 0;; esac; return 1; }

stamp "set-up"
bash scripts/setup.sh
[[ -d "$PEER" ]] || { echo "bench: the reference pipeline is not at $PEER (set PEER)" >&2; exit 1; }
bash "$PEER/setup.sh"
bash "$PEER/corpus.sh"
[[ -x "$C/llama-build/llama_embed_bench" ]] || bash "$PEER/llama_embed/build.sh"
cargo build --release --locked -p quire-cli
Q="$CARGO_TARGET_DIR/release/quire"
PY="$C/venv/bin/python"
MODEL="$QUIRE_MODELS_DIR/all-MiniLM-L6-v2.q8_0.gguf"
{
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
  echo "llama.cpp CPU flags of Quire's build: $(env | grep -E '^GGML_' | sort | tr '\n' ' ')"
  echo "threads: $THREADS"
  git log -1 --format='quire: %h %s'
} > "$OUT/machine.txt"
cat "$OUT/machine.txt"
sleep 5

if has ingest; then
  for run in 1 2; do
    stamp "ingest $run: LangChain reference"
    /usr/bin/time -v -o "$OUT/peer_ingest.$run.time.txt" "$PY" "$PEER/langchain_baseline.py" --out "$OUT" \
      --tag "run$run" --threads "$THREADS" --no-dump 2> "$OUT/peer_ingest.$run.stderr.txt"
    stamp "ingest $run: Quire"
    /usr/bin/time -v -o "$OUT/quire_ingest.$run.time.txt" "$Q" --threads "$THREADS" bench ingest --json \
      > "$OUT/quire_ingest.$run.json"
  done
fi

if has embed; then
  for run in 1 2; do
    stamp "embed $run: Quire"
    "$Q" --threads "$THREADS" bench embed --dump "$OUT/quire_inputs.nul" --json > "$OUT/quire_embed.$run.json"
    stamp "embed $run: llama.cpp's own benchmark on the same texts"
    /usr/bin/time -v -o "$OUT/llama_embed.$run.time.txt" "$C/llama-build/llama_embed_bench" "$MODEL" \
      "$OUT/quire_inputs.nul" --threads "$THREADS" --batch 512 --seqs 64 --max-seq 512 --fa on --reps 1 \
      > "$OUT/llama_embed.$run.json" 2> "$OUT/llama_embed.$run.stderr.txt"
  done
fi

if has search; then
  for n in 10000 100000; do
    stamp "search at $n chunks"
    "$Q" --threads "$THREADS" bench search --chunks "$n" --queries "$EVAL_SET" --json > "$OUT/quire_search.$n.json"
  done
fi

if has watch; then
  stamp "watched folders"
  "$Q" --threads "$THREADS" bench watch --json > "$OUT/quire_watch.json"
fi

if has eval; then
  for mode in vector fulltext hybrid; do
    stamp "eval $mode"
    "$Q" --threads "$THREADS" eval --beir "$EVAL_SET" --mode "$mode" --json > "$OUT/quire_eval.$mode.json"
  done
  stamp "eval: reference retrievers"
  "$PY" "$PEER/beir_eval.py" --sets "en=$EVAL_SET" --out "$OUT" --threads "$THREADS" > "$OUT/peer_beir.txt" \
    2> "$OUT/peer_beir.stderr.txt"
fi

if has ask; then
  GEN="$(bash bench/llama_gen/build.sh | tail -1)"
  PROMPT="$(bash bench/llama_gen/build.sh --prompt | tail -1)"
  CHAT="$QUIRE_MODELS_DIR/SmolLM2-135M-Instruct.Q4_1.gguf"
  for run in 1 2 3 4; do
    stamp "ask $run: Quire"
    "$Q" --threads "$THREADS" bench ask --prompt-file "$PROMPT" --prompt-tokens 512 --gen-tokens 128 --runs 5 \
      --json > "$OUT/quire_ask.$run.json"
    stamp "ask $run: llama.cpp's C API (bench/llama_gen) on the same model, prompt text, length and threads"
    "$GEN" --model "$CHAT" --prompt-file "$PROMPT" --prompt-tokens 512 --gen-tokens 128 --threads "$THREADS" \
      --ctx 4096 --batch 256 --ubatch 256 --flash-attn 1 --reps 5 \
      > "$OUT/llama_gen.$run.json" 2> "$OUT/llama_gen.$run.stderr.txt"
  done
  stamp "ask: ROUGE-L of answers on faq-answers-en"
  "$Q" --threads "$THREADS" eval --answers tests/data/faq-answers-en.jsonl --beir "$EVAL_SET" --json \
    > "$OUT/quire_answers.json"
fi

if has app; then
  stamp "app: release build of the desktop app"
  (cd ui && npm run build)
  cargo build --release --locked -p quire-desktop
  display=()
  [[ -n "${DISPLAY:-}" ]] || display=(xvfb-run -a -s "-screen 0 1280x860x24")
  stamp "app: binary size, cold start, memory"
  "${display[@]}" python3 scripts/bench_app.py "$CARGO_TARGET_DIR/release/quire-desktop" --runs 5 \
    --embed-model "$MODEL" --chat-model "$QUIRE_MODELS_DIR/SmolLM2-135M-Instruct.Q4_1.gguf" \
    --browser /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser --page ui/dist/index.html \
    --floor "$(bash bench/webkit_floor/build.sh | tail -n1)" > "$OUT/quire_app.json"
fi

stamp "summary"
python3 scripts/bench_summary.py "$OUT" | tee "$OUT/summary.md"
stamp "done: $OUT"
