#!/usr/bin/env python3
"""Markdown tables, with ratios, from one scripts/bench.sh run: python3 scripts/bench_summary.py OUT_DIR."""
import json
import re
import sys
from pathlib import Path


def load(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def peak_rss_mb(time_file):
    """Maximum resident set size from `/usr/bin/time -v`, in MB."""
    try:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", Path(time_file).read_text())
    except OSError:
        return None
    return int(m.group(1)) * 1024 / 1e6 if m else None


def fmt(x, digits=1):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}"


def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b else "–"


def ingest(out):
    rows = []
    for run in (1, 2):
        peer = load(out / f"langchain_ingest.run{run}.json")
        quire = load(out / f"quire_ingest.{run}.json")
        if not peer or not quire:
            continue
        peer_rss = peak_rss_mb(out / f"peer_ingest.{run}.time.txt")
        rows.append((run, peer, peer_rss, quire))
    if not rows:
        return
    print("### Ingest: the 7 benchmark PDFs (906 pages), Quire vs the LangChain reference, alternating\n")
    print("| run | metric | reference | Quire | Quire / reference |")
    print("|---|---|---|---|---|")
    for run, p, p_rss, q in rows:
        lines = [
            ("pages/s extracted", p["load"]["pages_per_s"], q["pages_per_s_extract"]),
            ("chunks", p["split"]["chunks"], q["chunks"]),
            ("tokens embedded", p["embed"]["tokens_effective_total"], q["tokens"]),
            ("tokens dropped by truncation", p["embed"]["tokens_raw_total"] - p["embed"]["tokens_effective_total"],
             None if q["truncated_inputs"] else 0),
            ("chunks/s embedded", p["embed"]["chunks_per_s"], q["chunks_per_s_embed"]),
            ("tokens/s embedded", p["embed"]["tokens_per_s"], q["tokens_per_s_embed"]),
            ("ingest seconds (end to end)", p["ingest"]["seconds"], q["total_s"]),
            ("pages/s end to end", p["ingest"]["pages_per_s"], q["pages_per_s_end_to_end"]),
            ("peak RSS, MB", p_rss, q["peak_rss_mb"]),
        ]
        for name, a, b in lines:
            print(f"| {run} | {name} | {fmt(a)} | {fmt(b)} | {ratio(b, a)} |")
    print()
    for run, _, _, q in rows:
        print(f"- Quire run {run}: extract {q['extract_s']:.1f} s, embed {q['embed_s']:.1f} s, write {q['write_s']:.1f} s, "
              f"total {q['total_s']:.1f} s (extraction overlaps embedding), {q['truncated_inputs']} inputs truncated, "
              f"peak RSS of the process tree {q['peak_rss_mb']:.0f} MB.")
    print()


def embed(out):
    rows = []
    for run in (1, 2):
        q = load(out / f"quire_embed.{run}.json")
        try:
            lines = (out / f"llama_embed.{run}.json").read_text().strip().splitlines()
            a = json.loads(lines[-1]) if lines else None
        except (OSError, ValueError):
            a = None
        if q and a:
            rows.append((run, q, a, peak_rss_mb(out / f"llama_embed.{run}.time.txt")))
    if not rows:
        return
    print("### Embedding runtime: Quire vs llama.cpp's own benchmark, the same texts, alternating\n")
    print("Both embed Quire's chunk inputs of the 7 PDFs with the same GGUF (all-MiniLM-L6-v2 q8_0), the same")
    print("threads, 512-token batches, up to 64 sequences per call, flash attention on.\n")
    print("| run | chunks | tokens (Quire / llama.cpp) | llama.cpp tokens/s | Quire tokens/s | Quire / llama.cpp |")
    print("|---|---|---|---|---|---|")
    for run, q, a, _ in rows:
        print(f"| {run} | {q['chunks']:,} | {q['tokens']:,} / {a['tokens']:,} | {a['tokens_per_s']:,.0f} | "
              f"{q['tokens_per_s']:,.0f} | {q['tokens_per_s'] / a['tokens_per_s']:.2f} |")
    print()
    for run, q, a, rss in rows:
        print(f"- run {run}: peak RSS Quire {q['peak_rss_mb']:.0f} MB (CLI + embedding worker), "
              f"llama.cpp benchmark {fmt(rss, 0)} MB; {q['truncated_inputs']} Quire inputs truncated.")
    print()


def search(out):
    files = sorted(out.glob("quire_search.*.json"), key=lambda p: int(p.name.split(".")[1]))
    results = [load(p) for p in files]
    results = [r for r in results if r]
    if not results:
        return
    peer = [load(out / f"langchain_ingest.run{r}.json") for r in (1, 2)]
    peer = [p for p in peer if p]
    print("### Hybrid search latency (query embedding included)\n")
    print("| library | queries | p50 ms | p95 ms | mean ms | query embedding p50 ms |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| Quire, {r['chunks']:,} chunks | {r['queries']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
              f"{r['mean_ms']:.1f} | {r['embed_p50_ms']:.1f} |")
    for i, p in enumerate(peer, 1):
        q = p["query"]
        print(f"| reference run {i}: FAISS flat, {p['split']['chunks']:,} chunks, k={q['k']} | {q['n']} | "
              f"{q['retriever_ms']['p50']:.1f} | {q['retriever_ms']['p95']:.1f} | {q['retriever_ms']['mean']:.1f} | "
              f"{q['embed_query_ms']['p50']:.1f} |")
    print()


def evaluation(out):
    modes = [(m, load(out / f"quire_eval.{m}.json")) for m in ("vector", "fulltext", "hybrid")]
    modes = [(m, r) for m, r in modes if r]
    peer = next((load(p) for p in sorted(out.glob("beir_*.json"))), None)
    if not modes and not peer:
        return
    print("### Retrieval quality: faq-eval-en (146 sections, 119 questions)\n")
    print("| system | Hit@1 | Hit@10 | Recall@10 | MRR@10 | nDCG@10 |")
    print("|---|---|---|---|---|---|")
    for m, r in modes:
        x = r["metrics"]
        fusion = re.sub(r"[{}]", "", str(r.get("fusion") or "")).replace("  ", " ").strip().lower()
        name = f"Quire {m}" + (f" ({fusion})" if fusion else "")
        print(f"| {name} | {x['hit_at_1']:.3f} | {x['hit_at_k']:.3f} | {x['recall_at_k']:.3f} | {x['mrr_at_k']:.3f} | "
              f"**{x['ndcg_at_k']:.3f}** |")
    if peer:
        for name, x in peer["methods"].items():
            print(f"| reference {name} | {x['hit@1']:.3f} | {x['hit@10']:.3f} | {x['recall@10']:.3f} | "
                  f"{x['mrr@10']:.3f} | {x['ndcg@10']:.3f} |")
    print()


def ask(out):
    rows = []
    for run in range(1, 10):
        q, g = load(out / f"quire_ask.{run}.json"), load(out / f"llama_gen.{run}.json")
        if q and g:
            rows.append((run, q, g))
    if rows:
        print("### Chat model: Quire (`quire bench ask`) vs llama.cpp's C API on the same model, alternating\n")
        q0 = rows[0][1]
        print(f"{q0['model']}, {q0['threads']} threads, a {q0['prompt_tokens']}-token prompt then 128 tokens, greedy, "
              "256-token batches, flash attention on, f16 KV cache. Quire's figures include the model worker "
              "round trip (JSON over a pipe, answer pieces streamed every 33 ms); its first token also includes "
              "applying the chat template and tokenizing.\n")
        print("| run | first token ms (llama.cpp / Quire) | prompt tokens/s (llama.cpp / Quire) | "
              "generation tokens/s (llama.cpp / Quire) | generation Quire / llama.cpp |")
        print("|---|---|---|---|---|")
        for run, q, g in rows:
            print(f"| {run} | {g['ttft_ms']:.1f} / {q['first_token_ms']:.1f} | {g['pp_tokens_per_s']:,.0f} / "
                  f"{q['prompt_tokens_per_s']:,.0f} | {g['tg_tokens_per_s']:.1f} / {q['generation_tokens_per_s']:.1f} | "
                  f"{ratio(q['generation_tokens_per_s'], g['tg_tokens_per_s'])} |")
        tg = sorted(q['generation_tokens_per_s'] / g['tg_tokens_per_s'] for _, q, g in rows)
        pp = sorted(q['prompt_tokens_per_s'] / g['pp_tokens_per_s'] for _, q, g in rows)
        print(f"\nMedian of the runs: generation {tg[len(tg) // 2]:.2f}×, prompt {pp[len(pp) // 2]:.2f}× llama.cpp's rate.\n")
        for run, q, _ in rows:
            print(f"- run {run}, follow-up question: first token {q['followup_first_token_ms_cached']:.1f} ms with "
                  f"{q['followup_cached_tokens']} prompt tokens reused from the cache, "
                  f"{q['followup_first_token_ms_cold']:.1f} ms with an empty cache "
                  f"({ratio(q['followup_first_token_ms_cold'], q['followup_first_token_ms_cached'])} faster)")
        print()
    a = load(out / "quire_answers.json")
    if a:
        print(f"- ROUGE-L F1 of answers on faq-answers-en ({a['questions']} questions, references from the Debian FAQ): "
              f"{a['rouge_l_f1']:.4f} with {Path(str(a['model'])).name}")
        print()


def app(out):
    a = load(out / "quire_app.json")
    if not a:
        return
    print("### Desktop app footprint (release build, under Xvfb)\n")
    mb = 1024 * 1024
    stripped = f", {a['binary_stripped_bytes'] / mb:.1f} MB stripped" if a.get("binary_stripped_bytes") else ""
    print(f"- Binary: {a['binary_bytes'] / mb:.1f} MB{stripped} (the model and parser workers are the same binary).")
    starts = ", ".join(f"{s['seconds']:.2f}" for s in a["starts"])
    print(f"- Cold start to an interactive window (process start to the UI mounted): median {a['start_median_s']:.2f} s "
          f"(runs: {starts} s).")
    base = a.get("baseline_median_pss_mb")
    vs = f"; WebKitGTK's MiniBrowser showing the same page: {base:.0f} MB PSS ({ratio(a['idle_median_pss_mb'], base)})" \
        if base else ""
    lean = a.get("baseline_no_dmabuf_median_pss_mb")
    if lean:
        vs += f", {lean:.0f} MB PSS without the DMA-BUF renderer, as the app runs ({ratio(a['idle_median_pss_mb'], lean)})"
    print(f"- Idle, no model loaded (app + WebKit processes): {a['idle_median_pss_mb']:.0f} MB PSS, "
          f"{a['idle_median_rss_mb']:.0f} MB RSS summed{vs}.")
    blank, page = a.get("floor_blank_median_pss_mb"), a.get("floor_page_median_pss_mb")
    if blank:
        shown = f", {page:.0f} MB showing the same page" if page else ""
        print(f"- The floor of any app on this webview (bench/webkit_floor: one GTK window, one web view, no app "
              f"code): {blank:.0f} MB PSS on about:blank{shown}; the app idles at "
              f"{ratio(a['idle_median_pss_mb'], page or blank)} the floor.")
    w = a.get("worker_with_starter_models")
    if w:
        print(f"- With the starter models loaded (plus the model worker holding MiniLM and SmolLM2-135M, "
              f"{w['pss_mb']:.0f} MB PSS): {a['with_models_pss_mb']:.0f} MB PSS, {a['with_models_rss_mb']:.0f} MB RSS.")
    print()


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    machine = out / "machine.txt"
    print(f"## Run {out.name}\n")
    if machine.exists():
        for line in machine.read_text().splitlines():
            print(f"- {line}")
        print()
    ingest(out)
    embed(out)
    search(out)
    evaluation(out)
    ask(out)
    app(out)


if __name__ == "__main__":
    main()
