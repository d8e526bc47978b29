//! `quire bench watch`: watched folders, in this process, on the real store and embedding model.
//!
//! - **Comparison of an unchanged tree**: a tree of `--tree-files` one-line files is indexed, then compared with
//!   the library as a watch run does at start and every ten minutes (`quire_app::watch::sync_folder`), timed
//!   against a plain walk + stat of the same tree in the same run; the embedder's calls are counted to show that
//!   nothing is embedded.
//! - **Idle cost**: CPU time of an idle watch of that tree over `--idle-secs`, natively and by polling, for this
//!   process and for its workers.
//! - **Latency**: files written one at a time into the watched tree while the watch runs; for each, the time from
//!   the write to the moment a full-text search finds it (the watch's stability wait included).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use serde::Serialize;

use quire_app::OpenOptions;
use quire_app::watch::{WatchReport, WatchRunOptions, run_watch, sync_folder};
use quire_core::library::{IngestOptions, Library};
use quire_core::watched::{FolderRules, WatchedFolders};
use quire_core::{Embedder, EmbedderInfo, Embeddings, SearchFilter, SearchMode};

use crate::bench::{DataDir, percentile};

/// Figures of one `bench watch` run.
#[derive(Debug, Serialize)]
pub struct WatchBench {
    pub tree_files: usize,
    pub tree_folders: usize,
    /// Indexing the tree (in slices of one folder, with the store's upkeep after every few), seconds.
    pub setup_s: f64,
    pub setup_chunks: u64,
    pub setup_tokens: u64,
    /// A plain recursive walk + stat of the tree, each run, milliseconds.
    pub walk_ms: Vec<f64>,
    /// Comparisons of the unchanged tree with the library, each run, milliseconds.
    pub reconcile_ms: Vec<f64>,
    pub walk_median_ms: f64,
    pub reconcile_median_ms: f64,
    pub reconcile_over_walk: f64,
    /// What the comparisons found (over all runs): unchanged files, and anything else.
    pub reconcile_unchanged: usize,
    pub reconcile_changed: usize,
    /// Embedder use during the comparisons: embedding calls, texts and tokens, token-count calls.
    pub reconcile_embed_calls: u64,
    pub reconcile_embedded_texts: u64,
    pub reconcile_embedded_tokens: u64,
    pub reconcile_token_count_calls: u64,
    pub idle_s: f64,
    /// CPU time of an idle watch as a percentage of one core: this process, and this process with its workers.
    pub idle_native_cpu_pct: f64,
    pub idle_native_cpu_pct_tree: f64,
    pub idle_poll_cpu_pct: f64,
    pub idle_poll_cpu_pct_tree: f64,
    pub poll_interval_ms: u64,
    pub native_mode: String,
    /// Write-to-searchable latency of single files, milliseconds.
    pub latency_files: usize,
    pub stable_for_ms: u64,
    pub latency_ms: Vec<f64>,
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    pub latency_min_ms: f64,
    pub latency_max_ms: f64,
    pub threads: usize,
    pub embedding_model: String,
    pub build: &'static str,
}

/// The real embedder, counting what it is asked.
struct Counting {
    inner: Arc<dyn Embedder>,
    embed_calls: AtomicU64,
    texts: AtomicU64,
    tokens: AtomicU64,
    count_calls: AtomicU64,
}

impl Counting {
    fn snapshot(&self) -> [u64; 4] {
        [&self.embed_calls, &self.texts, &self.tokens, &self.count_calls].map(|a| a.load(Ordering::SeqCst))
    }
}

#[async_trait]
impl Embedder for Counting {
    fn info(&self) -> &EmbedderInfo {
        self.inner.info()
    }
    async fn count_tokens(&self, texts: Vec<String>) -> quire_core::Result<Vec<u32>> {
        self.count_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.count_tokens(texts).await
    }
    async fn embed(&self, texts: Vec<String>) -> quire_core::Result<Embeddings> {
        self.embed_calls.fetch_add(1, Ordering::SeqCst);
        self.texts.fetch_add(texts.len() as u64, Ordering::SeqCst);
        let embedded = self.inner.embed(texts).await?;
        self.tokens.fetch_add(embedded.tokens.iter().map(|&t| u64::from(t)).sum(), Ordering::SeqCst);
        Ok(embedded)
    }
}

/// File `i` of the tree: `folders` folders of about equal size, one short line each.
fn tree_file(root: &Path, i: usize, folders: usize) -> PathBuf {
    root.join(format!("f{:03}", i % folders)).join(format!("note{i:05}.txt"))
}

/// A recursive walk with a stat of every entry: the least any comparison has to do.
fn walk(dir: &Path) -> Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry?;
        let meta = std::fs::metadata(entry.path())?;
        n += if meta.is_dir() { walk(&entry.path())? } else { usize::from(meta.len() > 0) };
    }
    Ok(n)
}

/// CPU seconds (user + system) of a process, from /proc (Linux; 0 elsewhere). Clock ticks of 1/100 s.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // The command name may hold spaces: fields are counted after its closing parenthesis.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    let ticks: u64 = [11, 12].iter().filter_map(|&k| fields.get(k)?.parse::<u64>().ok()).sum();
    ticks as f64 / 100.0
}

fn descendants(pid: u32, out: &mut Vec<u32>) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return };
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()) {
            out.push(child);
            descendants(child, out);
        }
    }
}

/// CPU seconds of this process, and of this process with its workers.
fn cpu_now() -> (f64, f64) {
    let me = std::process::id();
    let mut pids = Vec::new();
    descendants(me, &mut pids);
    let own = cpu_seconds(me);
    (own, own + pids.iter().map(|&p| cpu_seconds(p)).sum::<f64>())
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile(&sorted, 0.5)
}

type Reports = Arc<Mutex<Vec<WatchReport>>>;

/// Waits until a report satisfies `check` (the watch is running beside this).
async fn wait_report(
    reports: &Reports,
    what: &str,
    limit: Duration,
    check: impl Fn(&WatchReport) -> bool,
) -> Result<()> {
    let started = Instant::now();
    loop {
        {
            let all = reports.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(WatchReport::Error { message }) = all.iter().find(|r| matches!(r, WatchReport::Error { .. })) {
                bail!("the watch reported an error: {message}");
            }
            if all.iter().any(&check) {
                return Ok(());
            }
        }
        if started.elapsed() > limit {
            bail!("no {what} after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs the watch of the data folder's watched folders while `body` runs.
async fn with_watch<T>(
    library: &Library,
    data_dir: &Path,
    options: &WatchRunOptions,
    body: impl AsyncFnOnce(&Reports) -> Result<T>,
) -> Result<T> {
    let reports: Reports = Arc::default();
    let sink = Arc::clone(&reports);
    let report = move |r: WatchReport| sink.lock().unwrap_or_else(|p| p.into_inner()).push(r);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = run_watch(library, data_dir, options, &report, async {
        let _ = stop_rx.await;
    });
    let body = async {
        let out = body(&reports).await;
        let _ = stop_tx.send(());
        out
    };
    let (ran, out) = tokio::join!(run, body);
    ran?;
    out
}

/// CPU used over `idle` by a watch that has nothing to do: (this process, with its workers), % of one core.
async fn idle_cpu(reports: &Reports, idle: Duration) -> Result<(f64, f64, String)> {
    wait_report(reports, "comparison at start", Duration::from_secs(3600), |r| {
        matches!(r, WatchReport::Reconciled { .. })
    })
    .await?;
    // Let the comparison's last work settle before measuring.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (own, tree) = cpu_now();
    let started = Instant::now();
    tokio::time::sleep(idle).await;
    let wall = started.elapsed().as_secs_f64();
    let (own2, tree2) = cpu_now();
    let mode = reports
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find_map(|r| match r {
            WatchReport::Watching { mode, reason, .. } => Some(match reason {
                Some(why) => format!("{mode} ({why})"),
                None => mode.to_string(),
            }),
            _ => None,
        })
        .unwrap_or_default();
    Ok(((own2 - own) / wall * 100.0, (tree2 - tree) / wall * 100.0, mode))
}

pub async fn bench_watch(
    mut options: OpenOptions,
    tree_files: usize,
    latency_files: usize,
    idle_secs: f64,
    runs: usize,
) -> Result<WatchBench> {
    if tree_files == 0 || runs == 0 || !(idle_secs.is_finite() && idle_secs > 0.0) {
        bail!("--tree-files, --reconcile-runs and --idle-secs must be positive");
    }
    let scratch = DataDir::new(&options, false, "bench-watch")?;
    options.data_dir = scratch.path.join("data");
    let root = scratch.path.join("tree");
    std::fs::create_dir_all(&options.data_dir)?;
    let threads = crate::bench::model_threads(&options);

    let real = quire_app::open_library(&options).await?;
    let counting = Arc::new(Counting {
        inner: Arc::clone(real.embedder()),
        embed_calls: AtomicU64::new(0),
        texts: AtomicU64::new(0),
        tokens: AtomicU64::new(0),
        count_calls: AtomicU64::new(0),
    });
    let library =
        Library::new(Arc::clone(real.store()), counting.clone(), Arc::clone(real.extractor()), real.config().clone());
    drop(real);

    // The tree, about a hundred files per folder.
    let folders = tree_files.div_ceil(100).max(1);
    for i in 0..tree_files {
        let path = tree_file(&root, i, folders);
        std::fs::create_dir_all(path.parent().context("a parent")?)?;
        std::fs::write(&path, format!("Note {i} of the watched tree mentions the word w{i}q.\n"))?;
    }
    let mut watched = WatchedFolders::load(&options.data_dir)?;
    let folder = watched.add_with_rules(&root, None, FolderRules::default(), 0)?;
    watched.save()?;

    // Index it a folder at a time, with the store's upkeep every ten folders: one ingest of many small files
    // without upkeep slows down as the store's fragments pile up (see BENCHMARKS.md).
    eprintln!("indexing {tree_files} files in {folders} folders…");
    let started = Instant::now();
    let (mut chunks, mut tokens) = (0u64, 0u64);
    for f in 0..folders {
        let dir = root.join(format!("f{f:03}"));
        let report = library.ingest(&[dir], &IngestOptions::default(), &|_| {}, None).await?;
        if report.failed > 0 {
            bail!("{} files of the tree failed to index", report.failed);
        }
        chunks += report.chunks;
        tokens += report.tokens;
        if f % 10 == 9 || f + 1 == folders {
            library.store().maintain().await?;
        }
    }
    let setup_s = started.elapsed().as_secs_f64();
    eprintln!("indexed in {setup_s:.1} s");

    // The comparison of the unchanged tree, alternating with a plain walk of it.
    let before = counting.snapshot();
    let (mut walk_ms, mut reconcile_ms) = (Vec::new(), Vec::new());
    let (mut unchanged, mut changed) = (0, 0);
    for _ in 0..runs {
        let t = Instant::now();
        let seen = walk(&root)?;
        walk_ms.push(t.elapsed().as_secs_f64() * 1e3);
        if seen != tree_files {
            bail!("the walk saw {seen} files, not {tree_files}");
        }
        let t = Instant::now();
        let report = sync_folder(&library, &options.data_dir, &folder, &|_| {}).await?;
        reconcile_ms.push(t.elapsed().as_secs_f64() * 1e3);
        unchanged += report.unchanged;
        changed += report.indexed + report.moved + report.removed + report.failed;
    }
    let after = counting.snapshot();
    let [embed_calls, texts, embedded_tokens, count_calls] = [0, 1, 2, 3].map(|k| after[k] - before[k]);

    let idle = Duration::from_secs_f64(idle_secs);
    let native = WatchRunOptions::default();
    let stable_for = native.watch.stable_for;
    let live = root.join("live");
    std::fs::create_dir_all(&live)?;
    let (native_cpu, latency_ms) = with_watch(&library, &options.data_dir, &native, async |reports: &Reports| {
        let cpu = idle_cpu(reports, idle).await?;
        eprintln!("idle (native) measured; timing {latency_files} single files…");
        let mut latency = Vec::with_capacity(latency_files);
        for n in 0..latency_files {
            let path = live.join(format!("live{n:03}.txt"));
            let marker = format!("zlive{n}q");
            let filter = SearchFilter { path_prefix: Some(path.display().to_string()), doc_ids: None };
            let t = Instant::now();
            std::fs::write(&path, format!("A note written while watched, with the word {marker}.\n"))?;
            loop {
                let hits = library.search(&marker, 1, SearchMode::Fulltext, &filter).await?;
                if hits.first().is_some_and(|h| h.chunk.path == path.display().to_string()) {
                    break;
                }
                if t.elapsed() > Duration::from_secs(600) {
                    bail!("{} was not searchable after 10 minutes", path.display());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            latency.push(t.elapsed().as_secs_f64() * 1e3);
            // The next file is written once this one is searchable, not before the next poll.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok((cpu, latency))
    })
    .await?;

    let mut poll = WatchRunOptions::default();
    poll.watch.force_poll = true;
    let poll_interval = poll.watch.poll_interval;
    let (poll_cpu, poll_tree_cpu, _) =
        with_watch(&library, &options.data_dir, &poll, async |reports: &Reports| idle_cpu(reports, idle).await).await?;

    let mut sorted = latency_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let walk_median_ms = median(&walk_ms);
    let reconcile_median_ms = median(&reconcile_ms);
    Ok(WatchBench {
        tree_files,
        tree_folders: folders,
        setup_s,
        setup_chunks: chunks,
        setup_tokens: tokens,
        walk_median_ms,
        reconcile_median_ms,
        reconcile_over_walk: reconcile_median_ms / walk_median_ms.max(1e-9),
        walk_ms,
        reconcile_ms,
        reconcile_unchanged: unchanged,
        reconcile_changed: changed,
        reconcile_embed_calls: embed_calls,
        reconcile_embedded_texts: texts,
        reconcile_embedded_tokens: embedded_tokens,
        reconcile_token_count_calls: count_calls,
        idle_s: idle_secs,
        idle_native_cpu_pct: native_cpu.0,
        idle_native_cpu_pct_tree: native_cpu.1,
        native_mode: native_cpu.2,
        idle_poll_cpu_pct: poll_cpu,
        idle_poll_cpu_pct_tree: poll_tree_cpu,
        poll_interval_ms: poll_interval.as_millis() as u64,
        latency_files,
        stable_for_ms: stable_for.as_millis() as u64,
        latency_p50_ms: percentile(&sorted, 0.5),
        latency_p95_ms: percentile(&sorted, 0.95),
        latency_min_ms: sorted.first().copied().unwrap_or(0.0),
        latency_max_ms: sorted.last().copied().unwrap_or(0.0),
        latency_ms,
        threads,
        embedding_model: library.embedder().info().model_id.clone(),
        build: if cfg!(debug_assertions) { "debug" } else { "release" },
    })
}

/// Prints the figures for people.
pub fn print(r: &WatchBench) {
    println!(
        "tree          {} one-line files in {} folders, indexed in {:.1} s ({} chunks, {} tokens)",
        r.tree_files, r.tree_folders, r.setup_s, r.setup_chunks, r.setup_tokens
    );
    println!(
        "comparison    median {:.0} ms of the unchanged tree ({} runs) vs {:.0} ms for a walk + stat ({:.1}x)",
        r.reconcile_median_ms,
        r.reconcile_ms.len(),
        r.walk_median_ms,
        r.reconcile_over_walk
    );
    println!(
        "              {} unchanged, {} changed; embedder: {} embed calls, {} texts, {} tokens, {} token counts",
        r.reconcile_unchanged,
        r.reconcile_changed,
        r.reconcile_embed_calls,
        r.reconcile_embedded_texts,
        r.reconcile_embedded_tokens,
        r.reconcile_token_count_calls
    );
    println!(
        "idle watch    {:.2} % of a core ({:.2} % with workers), {} over {:.0} s",
        r.idle_native_cpu_pct, r.idle_native_cpu_pct_tree, r.native_mode, r.idle_s
    );
    println!(
        "              polling every {} ms: {:.2} % of a core ({:.2} % with workers)",
        r.poll_interval_ms, r.idle_poll_cpu_pct, r.idle_poll_cpu_pct_tree
    );
    println!(
        "latency       write to searchable, {} files: p50 {:.0} ms, p95 {:.0} ms (min {:.0}, max {:.0}; stable for {} ms)",
        r.latency_files, r.latency_p50_ms, r.latency_p95_ms, r.latency_min_ms, r.latency_max_ms, r.stable_for_ms
    );
    println!("model         {} ({} threads, {} build)", r.embedding_model, r.threads, r.build);
}
