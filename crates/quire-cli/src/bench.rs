//! `quire eval` and `quire bench`: retrieval quality on BEIR sets, ingest throughput and search latency (the
//! chat model's speed in `bench_ask`, watched folders in `bench_watch`).
//! Benchmarks run on a fresh library in a temporary folder unless `--data-dir` is given.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde::Serialize;

use quire_app::OpenOptions;
use quire_core::eval::{Metrics, evaluate, load_beir};
use quire_core::library::{IngestOptions, Library, document_id};
use quire_core::{Block, BlockKind, ExtractedDoc, Format, SearchFilter, SearchMode};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Ingest throughput on a folder of documents (default: the benchmark PDFs of shared/bench-peer).
    Ingest {
        /// Files or folders (default: $QUIRE_BENCH_CACHE/corpus/pdf).
        paths: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Embedding throughput alone: the chunks an ingest of the documents would embed, in ingest-sized batches.
    Embed {
        /// Files or folders (default: $QUIRE_BENCH_CACHE/corpus/pdf).
        paths: Vec<PathBuf>,
        /// Also write the embedding inputs, NUL-separated, for llama.cpp's own benchmark
        /// (../shared/bench-peer/llama_embed), so both embed exactly the same texts.
        #[arg(long)]
        dump: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Chat model speed: time to first token and tokens/s for a prompt of --prompt-tokens and --gen-tokens
    /// generated (as llama-bench's pp/tg), and the saving of the cached prefix on a follow-up question.
    Ask {
        #[command(flatten)]
        chat: crate::ask::ChatArgs,
        #[arg(long, default_value_t = 512)]
        prompt_tokens: u32,
        #[arg(long, default_value_t = 128)]
        gen_tokens: u32,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Text the prompt is made of (default: a paragraph about Debian, repeated).
        #[arg(long)]
        prompt_file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Hybrid search latency (query embedding included) at a given library size.
    Search {
        /// Chunks in the library; the benchmark PDFs' chunks are replicated with perturbed vectors to reach it.
        #[arg(long, default_value_t = 10_000)]
        chunks: usize,
        /// BEIR set whose queries are timed.
        #[arg(long)]
        queries: Option<PathBuf>,
        /// Documents whose chunks seed the library (default: the benchmark PDFs).
        #[arg(long)]
        seed: Vec<PathBuf>,
        #[arg(short, default_value_t = 10)]
        k: usize,
        /// The ANN index built past the threshold: ivf-hnsw-sq (the app's) or ivf-pq (the former one).
        #[arg(long, default_value = "ivf-hnsw-sq", value_parser = ["ivf-hnsw-sq", "ivf-pq"])]
        ann: String,
        /// IVF partitions searched (default: the app's).
        #[arg(long, default_value_t = quire_store::NPROBES)]
        nprobes: usize,
        /// Candidates re-ranked by exact distance, per result (default: the app's).
        #[arg(long, default_value_t = quire_store::REFINE_FACTOR)]
        refine: u32,
        /// Keep the library in DIR and reuse it in later runs with the same DIR and --chunks (its build takes
        /// minutes at 100k chunks); without it, the library is built in a temporary folder and removed.
        #[arg(long, value_name = "DIR")]
        library: Option<PathBuf>,
        /// Times every question this many times (more samples for the percentiles, or for a profiler).
        #[arg(long, default_value_t = 1)]
        rounds: usize,
        /// Candidates an HNSW search keeps while walking the graph (ivf-hnsw-sq only).
        #[arg(long, default_value_t = quire_store::EF)]
        ef: usize,
        /// Read the library with plain reads rather than through io_uring (the app's where the kernel allows it).
        #[arg(long)]
        plain_reads: bool,
        #[arg(long)]
        json: bool,
    },
    /// Watched folders: the comparison of an unchanged tree (against a plain walk of it), the CPU of an idle
    /// watch (native and polling), and the time from a file's write to its being searchable.
    Watch {
        /// One-line files in the watched tree.
        #[arg(long, default_value_t = 10_000)]
        tree_files: usize,
        /// Files written one at a time for the latency.
        #[arg(long, default_value_t = 30)]
        latency_files: usize,
        /// Seconds each idle watch is measured.
        #[arg(long, default_value_t = 30.0)]
        idle_secs: f64,
        /// Comparisons of the unchanged tree (and walks of it) timed.
        #[arg(long, default_value_t = 5)]
        reconcile_runs: usize,
        #[arg(long)]
        json: bool,
    },
}

/// A temporary data folder, removed when dropped, unless the user gave one.
pub(crate) struct DataDir {
    pub(crate) path: PathBuf,
    temporary: bool,
}

impl DataDir {
    pub(crate) fn new(options: &OpenOptions, user_given: bool, label: &str) -> Result<DataDir> {
        if user_given {
            return Ok(DataDir { path: options.data_dir.clone(), temporary: false });
        }
        let path = std::env::temp_dir().join(format!("quire-{label}-{}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).with_context(|| format!("cannot clear {}", path.display()))?;
        }
        std::fs::create_dir_all(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(DataDir { path, temporary: true })
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[derive(Debug, Serialize)]
pub struct EvalReport {
    pub set: String,
    pub mode: String,
    pub fusion: Option<String>,
    pub documents: usize,
    pub chunks: u64,
    pub embedding_model: String,
    pub metrics: Metrics,
    /// Rank (from 1) of the first relevant document per query; None when it is not in the top k.
    pub ranks: Vec<(String, Option<usize>)>,
    pub index_s: f64,
    pub search_s: f64,
}

fn mode_name(mode: SearchMode) -> &'static str {
    match mode {
        SearchMode::Vector => "vector",
        SearchMode::Fulltext => "fulltext",
        SearchMode::Hybrid => "hybrid",
    }
}

/// Indexes a BEIR corpus (each corpus entry a document, its title a heading) and scores the queries.
/// Indexes the documents of a BEIR corpus (title as heading, text as body). Returns document id → corpus id,
/// and the chunks written.
pub async fn ingest_beir_corpus(
    library: &Library,
    set: &quire_core::eval::BeirSet,
) -> Result<(HashMap<String, String>, u64)> {
    let mut corpus_of: HashMap<String, String> = HashMap::new();
    let mut chunks = 0u64;
    for doc in &set.corpus {
        let key = format!("beir:{}", doc.id);
        corpus_of.insert(document_id(&key), doc.id.clone());
        let mut blocks = Vec::new();
        if !doc.title.trim().is_empty() {
            blocks.push(Block { kind: BlockKind::Heading { level: 1 }, text: doc.title.clone(), page: None });
        }
        blocks.push(Block { kind: BlockKind::Text, text: doc.text.clone(), page: None });
        let extracted = ExtractedDoc { format: Format::Text, title: None, pages: None, blocks };
        if let quire_core::library::DocOutcome::Indexed { chunks: n, .. } =
            library.ingest_extracted(&key, &extracted).await?
        {
            chunks += u64::from(n);
        }
    }
    library.store().maintain().await?;
    Ok((corpus_of, chunks))
}

/// `quire eval --answers FILE --beir DIR`: answers over the BEIR corpus, indexed in a temporary library.
pub async fn eval_answers_on_corpus(
    mut options: OpenOptions,
    user_data_dir: bool,
    dir: &Path,
    answers: &Path,
    limit: Option<usize>,
    json: bool,
) -> Result<f64> {
    let set = load_beir(dir)?;
    let data = DataDir::new(&options, user_data_dir, "answers")?;
    options.data_dir = data.path.clone();
    let opened = quire_app::open(&options).await?;
    ingest_beir_corpus(&opened.library, &set).await?;
    crate::ask::eval_answers(&opened, answers, limit, json).await
}

pub async fn eval_beir(
    mut options: OpenOptions,
    user_data_dir: bool,
    dir: &Path,
    k: usize,
    mode: SearchMode,
) -> Result<EvalReport> {
    let set = load_beir(dir)?;
    let data = DataDir::new(&options, user_data_dir, "eval")?;
    options.data_dir = data.path.clone();
    options.library.candidates = options.library.candidates.max(100);
    let library = quire_app::open_library(&options).await?;

    let started = Instant::now();
    let (corpus_of, chunks) = ingest_beir_corpus(&library, &set).await?;
    let index_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let depth = (k * 10).max(100);
    let mut runs = Vec::with_capacity(set.queries.len());
    let mut ranks = Vec::with_capacity(set.queries.len());
    for q in &set.queries {
        let hits = library.search(&q.text, depth, mode, &SearchFilter::default()).await?;
        let mut ranked: Vec<String> = Vec::new();
        for h in hits {
            if let Some(id) = corpus_of.get(&h.chunk.doc_id)
                && !ranked.contains(id)
            {
                ranked.push(id.clone());
            }
        }
        let relevant = set.qrels.get(&q.id);
        let rank = ranked
            .iter()
            .take(k)
            .position(|id| relevant.is_some_and(|r| r.get(id).is_some_and(|&v| v > 0)))
            .map(|p| p + 1);
        ranks.push((q.id.clone(), rank));
        runs.push((q.id.clone(), ranked));
    }
    let search_s = started.elapsed().as_secs_f64();
    let metrics = evaluate(&runs, &set.qrels, k);
    Ok(EvalReport {
        set: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string()),
        mode: mode_name(mode).into(),
        fusion: (mode == SearchMode::Hybrid).then(|| format!("{:?}", library.config().fusion)),
        documents: set.corpus.len(),
        chunks,
        embedding_model: library.embedder().info().model_id.clone(),
        metrics,
        ranks,
        index_s,
        search_s,
    })
}

/// The shared benchmark cache of ../shared/bench-peer.
fn bench_cache() -> PathBuf {
    if let Some(dir) = std::env::var_os("QUIRE_BENCH_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("quire-bench")
}

fn default_corpus() -> Result<PathBuf> {
    let dir = bench_cache().join("corpus").join("pdf");
    if !dir.is_dir() {
        bail!("no benchmark corpus at {} — run ../shared/bench-peer/corpus.sh first", dir.display());
    }
    Ok(dir)
}

/// Samples the resident memory of this process and all its descendants (the workers), keeping the peak of
/// their sum. Linux only (reads /proc); elsewhere it reports nothing.
struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start() -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p) = (Arc::clone(&stop), Arc::clone(&peak));
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(tree_rss_bytes(std::process::id()), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        RssSampler { stop, peak, handle: Some(handle) }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

fn rss_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// RSS of a process and its descendants.
fn tree_rss_bytes(root: u32) -> u64 {
    let mut total = rss_bytes(root);
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{root}/task")) else { return total };
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()) {
            total += tree_rss_bytes(child);
        }
    }
    total
}

#[derive(Debug, Serialize)]
struct IngestBench {
    corpus: Vec<String>,
    documents: usize,
    failed: usize,
    pages: u64,
    chunks: u64,
    tokens: u64,
    truncated_inputs: u64,
    extract_s: f64,
    embed_s: f64,
    write_s: f64,
    total_s: f64,
    pages_per_s_extract: f64,
    chunks_per_s_embed: f64,
    tokens_per_s_embed: f64,
    pages_per_s_end_to_end: f64,
    peak_rss_mb: f64,
    threads: usize,
    embedding_model: String,
}

#[derive(Debug, Serialize)]
struct EmbedBench {
    documents: usize,
    chunks: usize,
    tokens: u64,
    truncated_inputs: u64,
    embed_s: f64,
    chunks_per_s: f64,
    tokens_per_s: f64,
    peak_rss_mb: f64,
    threads: usize,
    batch_tokens: usize,
    embedding_model: String,
}

#[derive(Debug, Serialize)]
struct SearchBench {
    chunks: u64,
    queries: usize,
    k: usize,
    p50_ms: f64,
    p95_ms: f64,
    mean_ms: f64,
    embed_p50_ms: f64,
    /// The two searches that a hybrid query runs side by side, each timed alone (the query already embedded).
    vector_p50_ms: f64,
    fulltext_p50_ms: f64,
    /// Reading the k chunks that fusion kept, after both searches.
    read_p50_ms: f64,
    candidates: usize,
    /// Of each question's exact nearest `candidates` chunks, the share the vector search returned.
    vector_recall: f64,
    ann: String,
    /// Seconds to build the library (0 when an earlier run's library was reused).
    build_s: f64,
    /// The library came from an earlier run (`--library`).
    reused: bool,
    embedding_model: String,
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub async fn run(command: &BenchCommand, mut options: OpenOptions, threads: usize) -> Result<()> {
    match command {
        BenchCommand::Ask { chat, prompt_tokens, gen_tokens, runs, prompt_file, json } => {
            chat.apply(&mut options, threads);
            let r = crate::bench_ask::bench_ask(options, prompt_file.as_deref(), *prompt_tokens, *gen_tokens, *runs)
                .await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!("model        {} (n_ctx {}, {} threads)", r.model, r.n_ctx, r.threads);
                println!("prompt       {} tokens: {:.0} tokens/s", r.prompt_tokens, r.prompt_tokens_per_s);
                println!("first token  {:.1} ms", r.first_token_ms);
                println!("generation   {:.1} tokens/s ({:?} tokens)", r.generation_tokens_per_s, r.generated_tokens);
                println!(
                    "follow-up    first token {:.1} ms with {} tokens cached, {:.1} ms cold ({:.2}x)",
                    r.followup_first_token_ms_cached,
                    r.followup_cached_tokens,
                    r.followup_first_token_ms_cold,
                    r.followup_first_token_ms_cold / r.followup_first_token_ms_cached.max(1e-9)
                );
            }
        }
        BenchCommand::Ingest { paths, json } => {
            let paths = if paths.is_empty() { vec![default_corpus()?] } else { paths.clone() };
            let report = bench_ingest(options, &paths).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let r = &report;
                println!(
                    "documents   {} indexed, {} failed ({} pages, {} chunks)",
                    r.documents, r.failed, r.pages, r.chunks
                );
                println!("extract     {:.2} s  ({:.1} pages/s)", r.extract_s, r.pages_per_s_extract);
                println!(
                    "embed       {:.2} s  ({:.1} chunks/s, {:.0} tokens/s, {} truncated)",
                    r.embed_s, r.chunks_per_s_embed, r.tokens_per_s_embed, r.truncated_inputs
                );
                println!("write       {:.2} s", r.write_s);
                println!("total       {:.2} s  ({:.1} pages/s end to end)", r.total_s, r.pages_per_s_end_to_end);
                println!("peak RSS    {:.0} MB (process tree)", r.peak_rss_mb);
                println!("threads     {}  model {}", r.threads, r.embedding_model);
            }
        }
        BenchCommand::Embed { paths, dump, json } => {
            let paths = if paths.is_empty() { vec![default_corpus()?] } else { paths.clone() };
            let report = bench_embed(options, &paths, dump.as_deref()).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let r = &report;
                println!(
                    "documents   {} ({} chunks, {} tokens, {} truncated)",
                    r.documents, r.chunks, r.tokens, r.truncated_inputs
                );
                println!(
                    "embed       {:.2} s  ({:.1} chunks/s, {:.0} tokens/s)",
                    r.embed_s, r.chunks_per_s, r.tokens_per_s
                );
                println!("peak RSS    {:.0} MB (process tree)", r.peak_rss_mb);
                println!("threads     {}  batch {} tokens  model {}", r.threads, r.batch_tokens, r.embedding_model);
            }
        }
        BenchCommand::Watch { tree_files, latency_files, idle_secs, reconcile_runs, json } => {
            let report =
                crate::bench_watch::bench_watch(options, *tree_files, *latency_files, *idle_secs, *reconcile_runs)
                    .await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                crate::bench_watch::print(&report);
            }
        }
        BenchCommand::Search {
            chunks,
            queries,
            seed,
            k,
            ann,
            nprobes,
            refine,
            ef,
            plain_reads,
            library,
            rounds,
            json,
        } => {
            options.store.io_uring = !plain_reads;
            options.store.ann_kind =
                if ann == "ivf-pq" { quire_store::AnnKind::IvfPq } else { quire_store::AnnKind::IvfHnswSq };
            (options.store.nprobes, options.store.refine_factor, options.store.ef) = (*nprobes, *refine, *ef);
            let seed = if seed.is_empty() { vec![default_corpus()?] } else { seed.clone() };
            let queries = match queries {
                Some(q) => q.clone(),
                None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/faq-eval-en"),
            };
            let report = bench_search(options, &seed, &queries, *chunks, *k, library.as_deref(), *rounds).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let r = &report;
                if r.reused {
                    println!("library     {} chunks (reused)", r.chunks);
                } else {
                    println!("library     {} chunks (built in {:.1} s)", r.chunks, r.build_s);
                }
                println!("queries     {} (k = {})", r.queries, r.k);
                println!("latency     p50 {:.1} ms, p95 {:.1} ms, mean {:.1} ms", r.p50_ms, r.p95_ms, r.mean_ms);
                println!("embedding   p50 {:.1} ms of each query", r.embed_p50_ms);
                println!(
                    "alone       vector search p50 {:.1} ms, full-text search p50 {:.1} ms ({} candidates each), \
                     reading the {} kept p50 {:.1} ms",
                    r.vector_p50_ms, r.fulltext_p50_ms, r.candidates, r.k, r.read_p50_ms
                );
                println!(
                    "recall      {:.3} of the exact nearest {} chunks found by the vector search",
                    r.vector_recall, r.candidates
                );
                println!("model       {}", r.embedding_model);
                println!("store       {}", r.ann);
            }
        }
    }
    Ok(())
}

pub(crate) fn model_threads(options: &OpenOptions) -> usize {
    if options.embed.threads == 0 {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    } else {
        options.embed.threads
    }
}

/// The documents under `path` (recursively), in name order.
fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            collect_files(&e, out)?;
        }
    } else if Format::from_path(path).is_some() {
        out.push(path.to_path_buf());
    }
    Ok(())
}

async fn bench_embed(mut options: OpenOptions, paths: &[PathBuf], dump: Option<&Path>) -> Result<EmbedBench> {
    let data = DataDir::new(&options, false, "bench-embed")?;
    options.data_dir = data.path.clone();
    let threads = model_threads(&options);
    let library = quire_app::open_library(&options).await?;
    let mut files = Vec::new();
    for p in paths {
        collect_files(p, &mut files)?;
    }
    let mut inputs: Vec<String> = Vec::new();
    let mut documents = 0;
    for file in &files {
        let Some(format) = Format::from_path(file) else { continue };
        match library.extractor().extract(file, format).await {
            Ok(doc) => {
                inputs.extend(library.embedding_inputs(&doc).await?);
                documents += 1;
            }
            Err(e) => eprintln!("skipped {}: {e}", file.display()),
        }
    }
    if inputs.is_empty() {
        bail!("the documents gave no chunks to embed");
    }
    if let Some(dump) = dump {
        std::fs::write(dump, inputs.join("\0")).with_context(|| format!("cannot write {}", dump.display()))?;
    }
    library.embedder().embed(vec!["warm-up".into()]).await?;
    let sampler = RssSampler::start();
    let started = Instant::now();
    let (mut tokens, mut truncated) = (0u64, 0u64);
    for batch in inputs.chunks(library.config().embed_batch.max(1)) {
        let embedded = library.embedder().embed(batch.to_vec()).await?;
        tokens += embedded.tokens.iter().map(|&t| u64::from(t)).sum::<u64>();
        truncated += u64::from(embedded.truncated);
    }
    let embed_s = started.elapsed().as_secs_f64();
    let peak = sampler.finish();
    Ok(EmbedBench {
        documents,
        chunks: inputs.len(),
        tokens,
        truncated_inputs: truncated,
        embed_s,
        chunks_per_s: inputs.len() as f64 / embed_s.max(1e-9),
        tokens_per_s: tokens as f64 / embed_s.max(1e-9),
        peak_rss_mb: peak as f64 / 1e6,
        threads,
        batch_tokens: options.embed.batch_tokens,
        embedding_model: library.embedder().info().model_id.clone(),
    })
}

async fn bench_ingest(mut options: OpenOptions, paths: &[PathBuf]) -> Result<IngestBench> {
    let data = DataDir::new(&options, false, "bench-ingest")?;
    options.data_dir = data.path.clone();
    let threads = model_threads(&options);
    let library = quire_app::open_library(&options).await?;
    // Warm the model up (excluded, as the reference excludes its warm-up).
    library.embedder().embed(vec!["warm-up".into()]).await?;
    let sampler = RssSampler::start();
    let report = library.ingest(paths, &IngestOptions::default(), &|_| {}, None).await?;
    let peak = sampler.finish();
    let t = &report.timings;
    Ok(IngestBench {
        corpus: paths.iter().map(|p| p.display().to_string()).collect(),
        documents: report.indexed,
        failed: report.failed,
        pages: report.pages,
        chunks: report.chunks,
        tokens: report.tokens,
        truncated_inputs: report.truncated,
        extract_s: t.extract_s,
        embed_s: t.embed_s,
        write_s: t.write_s,
        total_s: t.total_s,
        pages_per_s_extract: report.pages as f64 / t.extract_s.max(1e-9),
        chunks_per_s_embed: report.chunks as f64 / t.embed_s.max(1e-9),
        tokens_per_s_embed: report.tokens as f64 / t.embed_s.max(1e-9),
        pages_per_s_end_to_end: report.pages as f64 / t.total_s.max(1e-9),
        peak_rss_mb: peak as f64 / 1e6,
        threads,
        embedding_model: library.embedder().info().model_id.clone(),
    })
}

/// Replicates the seed library's chunks with perturbed vectors until the library holds `target` chunks.
async fn grow(library: &Library, target: usize) -> Result<u64> {
    let store = library.store();
    let seed: Vec<_> = store.documents().await?;
    let mut rows_by_doc = Vec::new();
    for d in &seed {
        rows_by_doc.push((d.clone(), store.chunk_rows(&d.id).await?));
    }
    let base: usize = rows_by_doc.iter().map(|(_, r)| r.len()).sum();
    if base == 0 {
        bail!("the seed documents gave no chunks");
    }
    let mut total = base as u64;
    let mut copy = 0u64;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut noise = || {
        // xorshift: deterministic perturbation, roughly uniform in [-1, 1].
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
    };
    while (total as usize) < target {
        copy += 1;
        for (doc, rows) in &rows_by_doc {
            if total as usize >= target {
                break;
            }
            let take = rows.len().min(target - total as usize);
            let key = format!("{}#copy{copy}", doc.path);
            let id = document_id(&key);
            let mut record = doc.clone();
            record.id = id.clone();
            record.path = key.clone();
            record.chunk_count = take as u32;
            let copies = rows[..take]
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    r.chunk.doc_id = id.clone();
                    r.chunk.path = key.clone();
                    let mut v: Vec<f32> = r.vector.iter().map(|x| x + 0.05 * noise()).collect();
                    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                    v.iter_mut().for_each(|x| *x /= n);
                    r.vector = v;
                    r
                })
                .collect();
            store.upsert_document(&record).await?;
            store.replace_chunks(&id, copies).await?;
            total += take as u64;
        }
    }
    Ok(total)
}

async fn bench_search(
    mut options: OpenOptions,
    seed: &[PathBuf],
    queries: &Path,
    target: usize,
    k: usize,
    keep: Option<&Path>,
    rounds: usize,
) -> Result<SearchBench> {
    let data = match keep {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            DataDir { path: dir.to_path_buf(), temporary: false }
        }
        None => DataDir::new(&options, false, "bench-search")?,
    };
    options.data_dir = data.path.clone();
    let library = quire_app::open_library(&options).await?;
    let started = Instant::now();
    let held = library.store().stats().await?.chunks;
    let reused = held > 0;
    let chunks = if !reused {
        library.ingest(seed, &IngestOptions::default(), &|_| {}, None).await?;
        grow(&library, target).await?
    } else if held as usize == target {
        held
    } else {
        bail!(
            "{} holds a library of {held} chunks, not {target}: give --chunks {held} or another folder",
            data.path.display()
        );
    };
    let mut build_s = started.elapsed().as_secs_f64();

    // Each question's exact nearest chunks (brute force, whatever index exists): what the index's candidates
    // are compared with.
    let set = load_beir(queries)?;
    let n = library.config().candidates.max(k);
    let filter = SearchFilter::default();
    let mut vectors = Vec::with_capacity(set.queries.len());
    let mut exact = Vec::with_capacity(set.queries.len());
    for q in &set.queries {
        let embedded = library.embedder().embed(vec![q.text.clone()]).await?;
        let vector = embedded.vectors.into_iter().next().context("no query vector")?;
        let hits = library.store().exact_vector_search(&vector, n, &filter).await?;
        exact.push(hits.iter().map(|h| h.chunk.id()).collect::<std::collections::HashSet<_>>());
        vectors.push(vector);
    }
    let started = Instant::now();
    library.store().maintain().await?;
    build_s += started.elapsed().as_secs_f64();

    // Warm-up: a few untimed queries.
    for q in set.queries.iter().take(5) {
        library.search(&q.text, k, SearchMode::Hybrid, &SearchFilter::default()).await?;
    }
    let ms = |t: Instant| t.elapsed().as_secs_f64() * 1e3;
    let (mut found, mut wanted) = (0usize, 0usize);
    let mut times = Vec::with_capacity(set.queries.len());
    let mut embed_times = Vec::with_capacity(set.queries.len());
    let mut vector_times = Vec::with_capacity(set.queries.len());
    let mut fulltext_times = Vec::with_capacity(set.queries.len());
    let mut read_times = Vec::with_capacity(set.queries.len());
    let timed = (0..rounds.max(1)).flat_map(|_| set.queries.iter().zip(&vectors).zip(&exact));
    for ((q, vector), exact) in timed {
        let t = Instant::now();
        library.embedder().embed(vec![q.text.clone()]).await?;
        embed_times.push(ms(t));
        let t = Instant::now();
        let found_now = library.store().vector_candidates(vector, n, &filter).await?;
        vector_times.push(ms(t));
        found += found_now.iter().filter(|c| exact.contains(&c.id())).count();
        wanted += exact.len();
        let t = Instant::now();
        let found_text = library.store().fulltext_candidates(&quire_core::analyze::terms(&q.text), n, &filter).await?;
        fulltext_times.push(ms(t));
        let mut kept = quire_core::fusion::fuse(&found_now, &found_text, library.config().fusion);
        kept.truncate(k);
        let t = Instant::now();
        library.store().read_hits(&kept).await?;
        read_times.push(ms(t));
        let t = Instant::now();
        library.search(&q.text, k, SearchMode::Hybrid, &filter).await?;
        times.push(ms(t));
    }
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    for t in [&mut times, &mut embed_times, &mut vector_times, &mut fulltext_times, &mut read_times] {
        t.sort_by(f64::total_cmp);
    }
    Ok(SearchBench {
        chunks,
        queries: times.len(),
        k,
        p50_ms: percentile(&times, 0.5),
        p95_ms: percentile(&times, 0.95),
        mean_ms: mean,
        embed_p50_ms: percentile(&embed_times, 0.5),
        vector_p50_ms: percentile(&vector_times, 0.5),
        fulltext_p50_ms: percentile(&fulltext_times, 0.5),
        read_p50_ms: percentile(&read_times, 0.5),
        candidates: n,
        vector_recall: found as f64 / wanted.max(1) as f64,
        ann: format!("{:?}", options.store),
        build_s,
        reused,
        embedding_model: library.embedder().info().model_id.clone(),
    })
}
