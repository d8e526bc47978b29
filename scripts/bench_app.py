#!/usr/bin/env python3
"""Footprint of the desktop app (stdlib only): binary size, cold start to an interactive window, and memory
with no model loaded and with the starter models loaded. Run by `scripts/bench.sh` (stage `app`) on a display
(Xvfb when there is none); prints one JSON object.

    bench_app.py APP_BINARY --embed-model GGUF --chat-model GGUF [--runs 5] [--idle 5]

Start-up: the time from starting the process to its log line "window interactive" (the UI mounts while its
page loads). Memory of the app: its process and WebKit's web and network processes, summed; RSS counts shared
libraries in each process, PSS shares them out, so PSS is the better total. "No model": the app idle on an empty
library before any model is loaded, every process it has running counted (its model worker starts on the first
embedding or answer, so none should be running; `idle_workers` counts any that are). "Starter models": the same
idle app plus its model worker (`<app> __worker model`) with the embedding model and the starter chat model loaded, as after a
first question. Baselines, in the same run: WebKitGTK's own MiniBrowser showing the same built UI (ui/dist,
which without the app behind it shows its "not in the app" state), as it comes and without WebKit's DMA-BUF
renderer, as the app runs (WEBKIT_DISABLE_DMABUF_RENDERER=1); and with --floor, the smallest WebKitGTK app
(bench/webkit_floor: one window, one web view) showing about:blank and the same page, without the renderer: the
memory floor of any app on this webview.

    bench_app.py APP --embed-model GGUF --chat-model GGUF --page ui/dist/index.html \
        --browser /usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser --floor "$(bash bench/webkit_floor/build.sh)"
"""
import argparse
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(entry))
        except OSError:
            continue
    return out


def tree(pid):
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo.extend(children(p))
    return pids


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def memory_kb(pid):
    """(rss, pss) in kB of one process, from smaps_rollup."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def total_mb(pids):
    rss = pss = 0
    each = {}
    for p in pids:
        r, s = memory_kb(p)
        rss += r
        pss += s
        name = os.path.basename(cmdline(p).split(" ")[0]) or str(p)
        each[name] = round(each.get(name, 0) + s / 1024, 1)
    return {"rss_mb": round(rss / 1024, 1), "pss_mb": round(pss / 1024, 1), "processes": len(pids), "pss_mb_by_process": each}


def start_app(app, data_dir):
    env = dict(os.environ, QUIRE_DATA_DIR=data_dir, QUIRE_LOG="info")
    started = time.monotonic()
    proc = subprocess.Popen([app], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            start_new_session=True)
    buf = b""
    deadline = started + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        if not ready:
            if proc.poll() is not None:
                raise SystemExit(f"the app exited with {proc.returncode} before its window was interactive")
            continue
        chunk = os.read(proc.stderr.fileno(), 65536)
        if not chunk:
            continue
        buf += chunk
        if b"window interactive" in buf:
            elapsed = time.monotonic() - started
            line = next(l for l in buf.decode(errors="replace").splitlines() if "window interactive" in l)
            m = re.search(r"ms=(\d+)", re.sub(r"\x1b\[[0-9;]*m", "", line))
            return proc, elapsed, int(m.group(1)) if m else None
    proc.kill()
    raise SystemExit("the app's window did not become interactive within 60 s:\n" + buf.decode(errors="replace")[-2000:])


def drain(proc):
    """Keeps reading the app's log so that it never blocks on a full pipe."""
    while select.select([proc.stderr], [], [], 0)[0]:
        if not os.read(proc.stderr.fileno(), 65536):
            break


def stop(proc):
    try:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass


def worker_with_models(app, embed_model, chat_model):
    """The app's model worker with both starter models loaded; returns the process."""
    proc = subprocess.Popen([app, "__worker", "model", "--model", embed_model], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    chat = {"model": chat_model, "gpu_layers": "none", "n_ctx": 4096, "threads": 0, "batch": 256, "ubatch": 256,
            "flash_attention": True, "kv_type": "f16", "chat_template": None}
    for id_, req in enumerate([{"type": "info"}, {"type": "chat_info", "chat": chat}], start=1):
        proc.stdin.write((json.dumps({"id": id_, "req": req}) + "\n").encode())
        proc.stdin.flush()
        while True:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit("the model worker exited before loading the models")
            # The worker marks its protocol lines with RS + "quire:" (anything else on stdout is a library's
            # stray output).
            marker = b"\x1equire:"
            if not line.startswith(marker):
                continue
            reply = json.loads(line[len(marker):])
            if reply.get("id") == id_ and ("done" in reply or "error" in reply):
                if "error" in reply:
                    raise SystemExit(f"the model worker failed: {reply['error']}")
                break
    return proc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("app")
    ap.add_argument("--embed-model", required=True)
    ap.add_argument("--chat-model", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle", type=float, default=5.0)
    ap.add_argument("--browser", help="WebKitGTK's MiniBrowser, for the baseline")
    ap.add_argument("--page", help="the page the baseline browser shows (ui/dist/index.html)")
    ap.add_argument("--floor", help="bench/webkit_floor's binary (the smallest WebKitGTK app), for the floor")
    args = ap.parse_args()

    size = os.path.getsize(args.app)
    stripped = None
    if shutil.which("strip"):
        with tempfile.TemporaryDirectory() as d:
            copy = os.path.join(d, "app")
            subprocess.run(["strip", "-o", copy, args.app], check=True)
            stripped = os.path.getsize(copy)

    starts, memory_idle = [], []
    worker_mb = None
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as data:
            proc, elapsed, ms_logged = start_app(args.app, data)
            starts.append({"seconds": round(elapsed, 3), "logged_ms": ms_logged})
            deadline = time.monotonic() + args.idle
            while time.monotonic() < deadline:
                drain(proc)
                time.sleep(0.2)
            pids = tree(proc.pid)
            idle = total_mb(pids)
            idle["workers"] = sum("__worker" in cmdline(p) for p in pids)
            memory_idle.append(idle)
            if run == args.runs - 1:
                worker = worker_with_models(args.app, args.embed_model, args.chat_model)
                time.sleep(1)
                worker_mb = total_mb([worker.pid])
                stop(worker)
            stop(proc)

    # The browser as it comes (frames handed over as DMA-BUFs, software GL under Xvfb), and without the DMA-BUF
    # renderer, as the app runs unless told otherwise (src-tauri/main.rs).
    baseline, baseline_lean = [], []
    if args.browser and args.page:
        for _ in range(args.runs):
            for out, extra in ((baseline, {}), (baseline_lean, {"WEBKIT_DISABLE_DMABUF_RENDERER": "1"})):
                env = {k: v for k, v in os.environ.items() if k != "WEBKIT_DISABLE_DMABUF_RENDERER"}
                browser = subprocess.Popen([args.browser, "file://" + os.path.abspath(args.page)], env={**env, **extra},
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                time.sleep(args.idle + 2)
                out.append(total_mb(tree(browser.pid)))
                stop(browser)

    # The floor of any app on this webview: one window, one web view, about:blank (and the same page, when
    # given), no DMA-BUF renderer, as the app runs.
    floor_blank, floor_page = [], []
    if args.floor:
        env = dict(os.environ, WEBKIT_DISABLE_DMABUF_RENDERER="1")
        pages = [(floor_blank, "about:blank")]
        if args.page:
            pages.append((floor_page, "file://" + os.path.abspath(args.page)))
        for _ in range(args.runs):
            for out, uri in pages:
                floor = subprocess.Popen([args.floor, uri], env=env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
                time.sleep(args.idle + 2)
                out.append(total_mb(tree(floor.pid)))
                stop(floor)

    def median(values):
        values = sorted(values)
        return values[len(values) // 2]

    idle_pss = median([m["pss_mb"] for m in memory_idle])
    idle_rss = median([m["rss_mb"] for m in memory_idle])
    print(json.dumps({
        "binary_bytes": size,
        "binary_stripped_bytes": stripped,
        "starts": starts,
        "start_median_s": median([s["seconds"] for s in starts]),
        "idle": memory_idle,
        "idle_median_pss_mb": idle_pss,
        "idle_median_rss_mb": idle_rss,
        "idle_workers": max(m["workers"] for m in memory_idle),
        "worker_with_starter_models": worker_mb,
        "with_models_pss_mb": round(idle_pss + worker_mb["pss_mb"], 1) if worker_mb else None,
        "with_models_rss_mb": round(idle_rss + worker_mb["rss_mb"], 1) if worker_mb else None,
        "baseline_browser": baseline,
        "baseline_median_pss_mb": median([m["pss_mb"] for m in baseline]) if baseline else None,
        "baseline_browser_no_dmabuf": baseline_lean,
        "baseline_no_dmabuf_median_pss_mb": median([m["pss_mb"] for m in baseline_lean]) if baseline_lean else None,
        "floor_blank": floor_blank,
        "floor_blank_median_pss_mb": median([m["pss_mb"] for m in floor_blank]) if floor_blank else None,
        "floor_page": floor_page,
        "floor_page_median_pss_mb": median([m["pss_mb"] for m in floor_page]) if floor_page else None,
    }, indent=2))


if __name__ == "__main__":
    sys.exit(main())
