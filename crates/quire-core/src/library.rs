//! The library: ingest files into the store and search them. The desktop app and the `quire` command line
//! both drive this type; it reaches parsers, the embedding model and the store only through their traits.
//!
//! Ingest runs as a pipeline: files are hashed and extracted ahead of the embedder (extraction of the next
//! documents overlaps the embedding of the current one), chunked by the model's tokens, embedded, and written
//! by one writer task. Each document is written in three steps, so that a crash at any moment leaves a
//! consistent library: its record is marked `Indexing` (its chunks stop being searchable), its chunks are
//! replaced in one commit, and the record is marked `Indexed`. A document left `Indexing` is redone by the next
//! ingest, and the replacement removes whatever chunks a crash left behind.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::analyze;
use crate::chunk::{self, ChunkParams, PlannedChunk, Prepared, UnitCounts};
use crate::error::{Error, ExtractError, Result};
use crate::fusion::{Fusion, fuse};
use crate::gate::Gate;
use crate::traits::{ChunkRow, Embedder, Extractor, PathFilter, SearchFilter, Store};
use crate::types::now_ms;
use crate::types::{Chunk, DocStatus, DocumentRecord, ExtractedDoc, Format, Hit, LibraryStats, SearchMode};

/// How the library ingests and searches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LibraryConfig {
    pub chunk: ChunkParams,
    pub fusion: Fusion,
    /// Candidates each retriever returns before fusion.
    pub candidates: usize,
    /// Files larger than this fail with "too large" without being read.
    pub max_file_bytes: u64,
    /// Documents extracted ahead of the embedder, in parallel.
    pub extract_ahead: usize,
    /// Texts per call to the embedding model.
    pub embed_batch: usize,
}

impl Default for LibraryConfig {
    fn default() -> Self {
        LibraryConfig {
            chunk: ChunkParams::default(),
            fusion: Fusion::default(),
            candidates: 50,
            max_file_bytes: 200 * 1024 * 1024,
            extract_ahead: 2,
            embed_batch: 64,
        }
    }
}

/// What happened to one document in an ingest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum DocOutcome {
    Indexed {
        chunks: u32,
        tokens: u64,
        pages: Option<u32>,
    },
    Unchanged,
    Failed {
        reason: String,
    },
    Removed,
    /// The file of a removed document reappeared here (renamed or moved) unchanged: its chunks moved with it,
    /// with no embedding.
    Moved {
        from: String,
        chunks: u32,
    },
}

/// Progress of an ingest, reported as it happens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum IngestEvent {
    /// The files to look at are known.
    Scanned { files: usize, bytes: u64 },
    /// A document entered a stage of its ingest.
    Stage { path: String, stage: IngestStage },
    /// A document is done (indexed, unchanged, failed or removed) and, when indexed, written to the store.
    Document { path: String, bytes: u64, outcome: DocOutcome },
}

/// Where a document is inside an ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IngestStage {
    /// Being read and parsed (or hashed, to learn whether it changed).
    Extracting,
    /// Being chunked and embedded.
    Embedding,
}

/// Seconds spent per stage (stages overlap, so they do not add up to the total).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestTimings {
    pub extract_s: f64,
    pub embed_s: f64,
    pub write_s: f64,
    pub total_s: f64,
}

/// The result of an ingest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestReport {
    pub documents: Vec<(String, DocOutcome)>,
    pub indexed: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub removed: usize,
    pub moved: usize,
    pub pages: u64,
    pub chunks: u64,
    /// Tokens embedded, special tokens included.
    pub tokens: u64,
    /// Inputs the embedder had to cut (the chunker keeps this at zero).
    pub truncated: u64,
    pub timings: IngestTimings,
}

impl IngestReport {
    fn record(&mut self, path: &str, outcome: &DocOutcome) {
        match outcome {
            DocOutcome::Indexed { chunks, tokens, pages } => {
                self.indexed += 1;
                self.chunks += u64::from(*chunks);
                self.tokens += tokens;
                self.pages += u64::from(pages.unwrap_or(0));
            }
            DocOutcome::Unchanged => self.unchanged += 1,
            DocOutcome::Failed { .. } => self.failed += 1,
            DocOutcome::Removed => self.removed += 1,
            DocOutcome::Moved { .. } => self.moved += 1,
        }
        self.documents.push((path.to_string(), outcome.clone()));
    }
}

/// Options of one ingest.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Remove documents under an ingested folder whose files are gone.
    pub prune_missing: bool,
    /// Re-index even unchanged files.
    pub force: bool,
}

/// How one run of the pipeline treats its paths (see [`Library::ingest`] and [`Library::sync`]).
#[derive(Clone, Copy)]
struct RunMode<'a> {
    prune_missing: bool,
    force: bool,
    /// A path that does not exist stands for the documents at or under it (removed), not a failure.
    missing_ok: bool,
    filter: Option<&'a dyn PathFilter>,
}

/// What a scan found.
struct Scan {
    files: Vec<SourceFile>,
    /// The paths given, canonical: existing folders and files, and (with `missing_ok`) paths now missing.
    covered: Vec<PathBuf>,
    failures: Vec<(String, String)>,
}

/// The absolute form of a path that may no longer exist: its parent canonical when the parent exists.
fn absolute_missing(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    match (absolute.parent().and_then(|p| std::fs::canonicalize(p).ok()), absolute.file_name()) {
        (Some(parent), Some(name)) => Some(parent.join(name)),
        _ => Some(absolute),
    }
}

/// A file found by the scan.
#[derive(Debug, Clone)]
struct SourceFile {
    path: PathBuf,
    key: String,
    format: Format,
    size: u64,
    mtime_ms: i64,
}

/// What the extraction stage found for one file.
enum Stage1 {
    /// Same size and time, or same content, as what is indexed. Carries the content hash when it was computed.
    Unchanged {
        hash: Option<String>,
    },
    Extracted {
        hash: String,
        doc: ExtractedDoc,
    },
    /// Same content and format as a document whose file is gone: its chunks can move here.
    Moved {
        hash: String,
        from: DocumentRecord,
    },
    Failed(ExtractError),
}

/// Documents whose files are gone, by content hash: a new file with the same content takes over its chunks.
type GoneByHash = Mutex<HashMap<String, Vec<DocumentRecord>>>;

struct Extracted {
    file: SourceFile,
    existing: Option<DocumentRecord>,
    stage: Stage1,
}

/// A document ready for the writer.
struct WriteJob {
    record: DocumentRecord,
    rows: Vec<ChunkRow>,
    outcome: DocOutcome,
    bytes: u64,
    /// The id of a document this one replaces (a move), removed once this one is written.
    replaces: Option<String>,
}

/// Unit token counts shared across documents: each distinct word is counted by the model once.
#[derive(Default)]
struct CountCache {
    map: HashMap<String, u32>,
}

impl UnitCounts for CountCache {
    fn count(&self, unit: &str) -> u32 {
        self.map.count(unit)
    }
}

/// Most distinct units kept between documents.
const COUNT_CACHE_LIMIT: usize = 1_000_000;

/// The library of one user: a store, an embedding model and an extractor.
pub struct Library {
    store: Arc<dyn Store>,
    embedder: Arc<dyn Embedder>,
    extractor: Arc<dyn Extractor>,
    config: LibraryConfig,
    counts: tokio::sync::Mutex<CountCache>,
    /// Passed before each document of an ingest (pause, answers being written).
    gate: Arc<Gate>,
}

/// The id of the document stored for a path (or any other source key).
pub fn document_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn hash_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn is_hidden(entry: &walkdir::DirEntry) -> bool {
    entry.depth() > 0 && entry.file_name().to_str().is_some_and(|s| s.starts_with('.'))
}

impl Library {
    pub fn new(
        store: Arc<dyn Store>,
        embedder: Arc<dyn Embedder>,
        extractor: Arc<dyn Extractor>,
        mut config: LibraryConfig,
    ) -> Library {
        config.chunk.max_tokens = config.chunk.max_tokens.min(embedder.info().max_tokens).max(16);
        config.chunk.special_tokens = embedder.info().special_tokens;
        Library {
            store,
            embedder,
            extractor,
            config,
            counts: tokio::sync::Mutex::new(CountCache::default()),
            gate: Arc::new(Gate::default()),
        }
    }

    /// The gate the library's ingests pass before each document: pause indexing, or hold it while answering.
    pub fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }

    pub fn config(&self) -> &LibraryConfig {
        &self.config
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    pub fn extractor(&self) -> &Arc<dyn Extractor> {
        &self.extractor
    }

    /// The exact texts the embedding model receives for a document, one per chunk (context line, then the
    /// chunk), as an ingest would plan them.
    pub async fn embedding_inputs(&self, doc: &ExtractedDoc) -> Result<Vec<String>> {
        let prepared = chunk::prepare(doc);
        let planned = self.plan(&prepared, doc.title.as_deref()).await?;
        Ok(planned.iter().map(PlannedChunk::embedding_input).collect())
    }

    pub async fn stats(&self) -> Result<LibraryStats> {
        self.store.stats().await
    }

    pub async fn documents(&self) -> Result<Vec<DocumentRecord>> {
        self.store.documents().await
    }

    /// Finds the files to ingest under `paths` (files and folders, recursively; hidden entries and what the
    /// mode's filter refuses skipped). Paths that do not exist or cannot be read are returned as failures,
    /// unless the mode takes a missing path as the documents it held.
    fn scan(&self, paths: &[PathBuf], mode: RunMode<'_>) -> Scan {
        let mut files = Vec::new();
        let mut covered = Vec::new();
        let mut failures = Vec::new();
        let mut seen = HashSet::new();
        let dir_ok = |e: &walkdir::DirEntry| {
            !is_hidden(e) && (!e.file_type().is_dir() || mode.filter.is_none_or(|f| f.accepts_dir(e.path())))
        };
        for arg in paths {
            let root = match std::fs::canonicalize(arg) {
                Ok(p) => p,
                Err(e) if mode.missing_ok && e.kind() == std::io::ErrorKind::NotFound => {
                    match absolute_missing(arg) {
                        Some(gone) => covered.push(gone),
                        None => failures.push((arg.display().to_string(), format!("cannot open: {e}"))),
                    }
                    continue;
                }
                Err(e) => {
                    failures.push((arg.display().to_string(), format!("cannot open: {e}")));
                    continue;
                }
            };
            covered.push(root.clone());
            for entry in walkdir::WalkDir::new(&root).follow_links(false).into_iter().filter_entry(dir_ok) {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        let at =
                            e.path().map(|p| p.display().to_string()).unwrap_or_else(|| root.display().to_string());
                        failures.push((at, format!("cannot read: {e}")));
                        continue;
                    }
                };
                if !entry.file_type().is_file() {
                    continue;
                }
                let path = entry.path().to_path_buf();
                let Some(format) = Format::from_path(&path) else {
                    if entry.depth() == 0 && mode.filter.is_none() {
                        failures.push((path.display().to_string(), "unsupported file type".to_string()));
                    }
                    continue;
                };
                let key = path.display().to_string();
                if !seen.insert(key.clone()) {
                    continue;
                }
                match entry.metadata() {
                    Ok(meta) => {
                        if mode.filter.is_some_and(|f| !f.accepts_file(&path, meta.len())) {
                            continue;
                        }
                        let mtime_ms = meta
                            .modified()
                            .ok()
                            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                            .map(|d| d.as_millis() as i64)
                            .unwrap_or(0);
                        files.push(SourceFile { path, key, format, size: meta.len(), mtime_ms });
                    }
                    Err(e) => failures.push((key, format!("cannot read: {e}"))),
                }
            }
        }
        Scan { files, covered, failures }
    }

    /// The documents under the covered paths whose files are gone (or, with a filter, no longer included).
    /// A file that exists but was not scanned for another reason (it could not be read) keeps its document.
    async fn gone_documents(&self, scan: &Scan, mode: RunMode<'_>) -> Result<Vec<DocumentRecord>> {
        let present: HashSet<&str> = scan.files.iter().map(|f| f.key.as_str()).collect();
        let mut gone = Vec::new();
        for doc in self.store.documents().await? {
            let path = Path::new(&doc.path);
            if present.contains(doc.path.as_str()) || !scan.covered.iter().any(|c| path.starts_with(c)) {
                continue;
            }
            let wanted = match std::fs::metadata(path) {
                Ok(meta) => mode.filter.is_none_or(|f| f.accepts_file(path, meta.len())),
                Err(_) => false,
            };
            if !wanted {
                gone.push(doc);
            }
        }
        Ok(gone)
    }

    /// Ingests files and folders. Unchanged files (same size and time, or same content) cost no embedding;
    /// changed files are replaced; with `prune_missing`, documents under an ingested path whose files are
    /// gone are removed, and a new file with the same content and format as one of them takes over its chunks
    /// (a rename or move costs no embedding). Every document gets an outcome; one failing document never
    /// stops the others.
    pub async fn ingest(
        &self,
        paths: &[PathBuf],
        options: &IngestOptions,
        progress: &(dyn Fn(IngestEvent) + Send + Sync),
        cancel: Option<&AtomicBool>,
    ) -> Result<IngestReport> {
        let mode =
            RunMode { prune_missing: options.prune_missing, force: options.force, missing_ok: false, filter: None };
        self.run(paths, mode, progress, cancel).await
    }

    /// Brings the library in step with `paths` (watched folders, or paths under them that changed) as
    /// `filter` defines them: new and changed files are ingested, unchanged ones cost nothing, documents
    /// whose files are gone or no longer included are removed, and renamed or moved files keep their chunks.
    /// A path that no longer exists stands for the documents that were at or under it.
    pub async fn sync(
        &self,
        paths: &[PathBuf],
        filter: &dyn PathFilter,
        progress: &(dyn Fn(IngestEvent) + Send + Sync),
        cancel: Option<&AtomicBool>,
    ) -> Result<IngestReport> {
        let mode = RunMode { prune_missing: true, force: false, missing_ok: true, filter: Some(filter) };
        self.run(paths, mode, progress, cancel).await
    }

    async fn run(
        &self,
        paths: &[PathBuf],
        mode: RunMode<'_>,
        progress: &(dyn Fn(IngestEvent) + Send + Sync),
        cancel: Option<&AtomicBool>,
    ) -> Result<IngestReport> {
        let started = Instant::now();
        let mut report = IngestReport::default();
        let scan = self.scan(paths, mode);
        let gone = if mode.prune_missing { self.gone_documents(&scan, mode).await? } else { Vec::new() };
        let Scan { files, failures, .. } = scan;
        let total_bytes = files.iter().map(|f| f.size).sum();
        progress(IngestEvent::Scanned { files: files.len(), bytes: total_bytes });
        for (path, reason) in failures {
            let outcome = DocOutcome::Failed { reason };
            progress(IngestEvent::Document { path: path.clone(), bytes: 0, outcome: outcome.clone() });
            report.record(&path, &outcome);
        }

        // Documents whose files are gone: each may be taken over by a new file with the same content (a move);
        // the others are removed once the new files are written.
        let model_id = self.embedder.info().model_id.clone();
        let mut by_hash: HashMap<String, Vec<DocumentRecord>> = HashMap::new();
        let mut unmovable = Vec::new();
        for doc in gone {
            if doc.status == DocStatus::Indexed && doc.embedding_model == model_id && !doc.content_hash.is_empty() {
                by_hash.entry(doc.content_hash.clone()).or_default().push(doc);
            } else {
                unmovable.push(doc);
            }
        }
        let gone_by_hash: Arc<GoneByHash> = Arc::new(Mutex::new(by_hash));

        let existing: HashMap<String, DocumentRecord> =
            self.store.documents().await?.into_iter().map(|d| (d.path.clone(), d)).collect();
        let extract_time = Arc::new(Mutex::new(Duration::ZERO));
        let shared = Arc::new(ExtractShared {
            model: model_id,
            max_bytes: self.config.max_file_bytes,
            force: mode.force,
            extractor: Arc::clone(&self.extractor),
            extract_time: Arc::clone(&extract_time),
            gone_by_hash: Arc::clone(&gone_by_hash),
        });

        // Stage 1: hash and extract, ahead of the embedder (extraction of the next documents runs while the
        // embedder works: the parser is a child process and hashing runs on the blocking pool).
        let (extract_tx, extract_rx) = tokio::sync::mpsc::channel::<Extracted>(self.config.extract_ahead.max(1));
        let ahead = self.config.extract_ahead.max(1);
        let extract_stage = {
            async move {
                let mut stream = futures::stream::iter(files)
                    .map(|file| {
                        let previous = existing.get(&file.key).cloned();
                        let shared = Arc::clone(&shared);
                        let gate = Arc::clone(&self.gate);
                        async move {
                            gate.pass(cancel).await;
                            progress(IngestEvent::Stage { path: file.key.clone(), stage: IngestStage::Extracting });
                            let stage = extract_one(&file, previous.as_ref(), &shared).await;
                            Extracted { file, existing: previous, stage }
                        }
                    })
                    .buffered(ahead);
                while let Some(item) = stream.next().await {
                    if extract_tx.send(item).await.is_err() {
                        break;
                    }
                }
            }
        };

        // Stage 3: the writer, fed through a small queue so writing overlaps embedding.
        let (write_tx, mut write_rx) = tokio::sync::mpsc::channel::<WriteJob>(2);
        let store = Arc::clone(&self.store);
        let writer = async move {
            let mut spent = Duration::ZERO;
            let mut done: Vec<(String, u64, DocOutcome)> = Vec::new();
            while let Some(job) = write_rx.recv().await {
                let t = Instant::now();
                write_document(store.as_ref(), job.record.clone(), job.rows).await?;
                if let Some(old) = &job.replaces {
                    store.remove_document(old).await?;
                }
                spent += t.elapsed();
                progress(IngestEvent::Document {
                    path: job.record.path.clone(),
                    bytes: job.bytes,
                    outcome: job.outcome.clone(),
                });
                done.push((job.record.path, job.bytes, job.outcome));
            }
            Ok::<_, Error>((done, spent))
        };

        // Stage 2: chunk and embed (this task), then hand over to the writer.
        let embed_loop = async {
            // Owned here, so that the extraction stage stops when this loop ends (e.g. on cancel).
            let mut extract_rx = extract_rx;
            let mut embed_time = Duration::ZERO;
            let mut truncated = 0u64;
            let mut immediate: Vec<(String, u64, DocOutcome)> = Vec::new();
            while let Some(item) = extract_rx.recv().await {
                self.gate.pass(cancel).await;
                if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                    break;
                }
                let Extracted { file, existing, stage } = item;
                let id = document_id(&file.key);
                let mut record = DocumentRecord {
                    id: id.clone(),
                    path: file.key.clone(),
                    format: file.format,
                    title: None,
                    content_hash: String::new(),
                    size: file.size,
                    mtime_ms: file.mtime_ms,
                    pages: None,
                    chunk_count: 0,
                    status: DocStatus::Failed,
                    error: None,
                    embedding_model: self.embedder.info().model_id.clone(),
                    updated_ms: now_ms(),
                };
                let prepared = match stage {
                    Stage1::Unchanged { hash } => {
                        if let (Some(mut known), Some(hash)) = (existing, hash) {
                            // Same content under a new time: remember the time so the next scan is cheap.
                            known.mtime_ms = file.mtime_ms;
                            known.content_hash = hash;
                            self.store.upsert_document(&known).await?;
                        }
                        let outcome = DocOutcome::Unchanged;
                        progress(IngestEvent::Document {
                            path: file.key.clone(),
                            bytes: file.size,
                            outcome: outcome.clone(),
                        });
                        immediate.push((file.key, file.size, outcome));
                        continue;
                    }
                    Stage1::Moved { hash, from } => {
                        let rows = self.store.chunk_rows(&from.id).await?;
                        let rows: Vec<ChunkRow> = rows
                            .into_iter()
                            .map(|mut row| {
                                row.chunk.doc_id = id.clone();
                                row.chunk.path = file.key.clone();
                                row
                            })
                            .collect();
                        let chunks = rows.len() as u32;
                        let moved = DocumentRecord {
                            id: id.clone(),
                            path: file.key.clone(),
                            content_hash: hash,
                            size: file.size,
                            mtime_ms: file.mtime_ms,
                            chunk_count: chunks,
                            status: DocStatus::Indexed,
                            error: None,
                            updated_ms: now_ms(),
                            ..from.clone()
                        };
                        let outcome = DocOutcome::Moved { from: from.path.clone(), chunks };
                        let job = WriteJob { record: moved, rows, outcome, bytes: file.size, replaces: Some(from.id) };
                        if write_tx.send(job).await.is_err() {
                            break;
                        }
                        continue;
                    }
                    Stage1::Extracted { hash, doc } => {
                        record.content_hash = hash;
                        record.title = doc.title.clone();
                        record.pages = doc.pages;
                        Ok(doc)
                    }
                    Stage1::Failed(e) => Err(e.to_string()),
                };
                if prepared.is_ok() {
                    progress(IngestEvent::Stage { path: file.key.clone(), stage: IngestStage::Embedding });
                }
                let t = Instant::now();
                let embedded = match prepared {
                    Ok(doc) => self.chunk_and_embed(&id, &file.key, &doc).await,
                    Err(reason) => Err(reason),
                };
                embed_time += t.elapsed();
                let job = match embedded {
                    Ok((rows, tokens, cut)) => {
                        truncated += cut;
                        record.status = DocStatus::Indexed;
                        record.chunk_count = rows.len() as u32;
                        let outcome = DocOutcome::Indexed { chunks: rows.len() as u32, tokens, pages: record.pages };
                        WriteJob { record, rows, outcome, bytes: file.size, replaces: None }
                    }
                    Err(reason) => {
                        record.error = Some(reason.clone());
                        WriteJob {
                            record,
                            rows: Vec::new(),
                            outcome: DocOutcome::Failed { reason },
                            bytes: file.size,
                            replaces: None,
                        }
                    }
                };
                if write_tx.send(job).await.is_err() {
                    break;
                }
            }
            drop(write_tx);
            Ok::<_, Error>((immediate, embed_time, truncated))
        };

        // The extraction stage ends on its own once every file is sent; it is dropped (stopping its current
        // extraction) if embedding and writing end first, on cancel or on an error.
        let work = async { tokio::join!(embed_loop, writer) };
        tokio::pin!(work);
        tokio::pin!(extract_stage);
        let mut extracting = true;
        let (embedded, written) = loop {
            tokio::select! {
                done = &mut work => break done,
                () = &mut extract_stage, if extracting => extracting = false,
            }
        };
        let (written, write_time) = written?;
        let (immediate, embed_time, truncated) = embedded?;
        for (path, _, outcome) in immediate.iter().chain(written.iter()) {
            report.record(path, outcome);
        }

        // Gone documents no new file took over. Skipped when cancelled: a file not reached yet may be one of them
        // moved, and the next run finds them again.
        if !cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            let left: Vec<DocumentRecord> = match gone_by_hash.lock() {
                Ok(mut map) => map.drain().flat_map(|(_, docs)| docs).collect(),
                Err(_) => return Err(Error::Store("a document list was poisoned".into())),
            };
            let mut left: Vec<DocumentRecord> = left.into_iter().chain(unmovable).collect();
            left.sort_by(|a, b| a.path.cmp(&b.path));
            for doc in left {
                self.store.remove_document(&doc.id).await?;
                progress(IngestEvent::Document { path: doc.path.clone(), bytes: 0, outcome: DocOutcome::Removed });
                report.record(&doc.path, &DocOutcome::Removed);
            }
        }
        report.truncated = truncated;
        report.timings = IngestTimings {
            extract_s: extract_time.lock().map(|d| d.as_secs_f64()).unwrap_or(0.0),
            embed_s: embed_time.as_secs_f64(),
            write_s: write_time.as_secs_f64(),
            total_s: started.elapsed().as_secs_f64(),
        };
        Ok(report)
    }

    /// Indexes a document that does not come from a file (e.g. a BEIR corpus entry), under `key`.
    pub async fn ingest_extracted(&self, key: &str, doc: &ExtractedDoc) -> Result<DocOutcome> {
        let id = document_id(key);
        let hash = {
            let mut h = Sha256::new();
            for b in &doc.blocks {
                h.update(b.text.as_bytes());
            }
            h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let mut record = DocumentRecord {
            id: id.clone(),
            path: key.to_string(),
            format: doc.format,
            title: doc.title.clone(),
            content_hash: hash,
            size: doc.blocks.iter().map(|b| b.text.len() as u64).sum(),
            mtime_ms: 0,
            pages: doc.pages,
            chunk_count: 0,
            status: DocStatus::Indexed,
            error: None,
            embedding_model: self.embedder.info().model_id.clone(),
            updated_ms: now_ms(),
        };
        match self.chunk_and_embed(&id, key, doc).await {
            Ok((rows, tokens, _)) => {
                record.chunk_count = rows.len() as u32;
                let outcome = DocOutcome::Indexed { chunks: rows.len() as u32, tokens, pages: doc.pages };
                write_document(self.store.as_ref(), record, rows).await?;
                Ok(outcome)
            }
            Err(reason) => Err(Error::Model(reason)),
        }
    }

    /// Cleans, chunks and embeds one document. Errors are returned as a reason for the user.
    async fn chunk_and_embed(
        &self,
        doc_id: &str,
        path: &str,
        doc: &ExtractedDoc,
    ) -> std::result::Result<(Vec<ChunkRow>, u64, u64), String> {
        let prepared = chunk::prepare(doc);
        if prepared.text.trim().is_empty() {
            return Err(ExtractError::NoText("the document has no text".into()).to_string());
        }
        let t = Instant::now();
        let planned = self.plan(&prepared, doc.title.as_deref()).await.map_err(|e| e.to_string())?;
        tracing::debug!(path, chunks = planned.len(), secs = t.elapsed().as_secs_f64(), "planned");
        let t = Instant::now();
        let info = self.embedder.info().clone();
        let mut rows = Vec::with_capacity(planned.len());
        let mut tokens_total = 0u64;
        let mut truncated = 0u64;
        for batch in planned.chunks(self.config.embed_batch.max(1)) {
            let inputs: Vec<String> = batch.iter().map(PlannedChunk::embedding_input).collect();
            let embedded = self.embedder.embed(inputs.clone()).await.map_err(|e| e.to_string())?;
            if embedded.vectors.len() != batch.len() {
                return Err(format!(
                    "the embedding model returned {} vectors for {} chunks",
                    embedded.vectors.len(),
                    batch.len()
                ));
            }
            truncated += u64::from(embedded.truncated);
            for ((planned, vector), (input, tokens)) in
                batch.iter().zip(embedded.vectors).zip(inputs.iter().zip(embedded.tokens))
            {
                tokens_total += u64::from(tokens);
                let index = rows.len() as u32;
                rows.push(ChunkRow {
                    chunk: Chunk {
                        doc_id: doc_id.to_string(),
                        index,
                        path: path.to_string(),
                        text: planned.text.clone(),
                        page_start: planned.page_start,
                        page_end: planned.page_end,
                        heading_path: planned.heading_path.clone(),
                        char_start: planned.char_start,
                        char_end: planned.char_end,
                        tokens,
                        embedding_model: info.model_id.clone(),
                    },
                    vector,
                    terms: analyze::terms(input),
                });
            }
        }
        tracing::debug!(path, tokens = tokens_total, secs = t.elapsed().as_secs_f64(), "embedded");
        Ok((rows, tokens_total, truncated))
    }

    /// Plans chunks with exact token counts: units are counted by the model (cached across documents), the
    /// plan is checked against the model's own count of every input, and re-planned tighter if any input
    /// would not fit.
    async fn plan(&self, prepared: &Prepared, title: Option<&str>) -> Result<Vec<PlannedChunk>> {
        let mut counts = self.counts.lock().await;
        if counts.map.len() > COUNT_CACHE_LIMIT {
            counts.map.clear();
        }
        let mut texts: Vec<String> = vec![prepared.text.clone()];
        texts.extend(prepared.sections.iter().map(|s| chunk::context_line(title, &s.heading_path)));
        let mut missing: Vec<String> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for text in &texts {
            for r in chunk::units(text) {
                let unit = &text[r];
                if !counts.map.contains_key(unit) && seen.insert(unit) {
                    missing.push(unit.to_string());
                }
            }
        }
        for batch in missing.chunks(4096) {
            let n = self.embedder.count_tokens(batch.to_vec()).await?;
            for (u, c) in batch.iter().zip(n) {
                counts.map.insert(u.clone(), c);
            }
        }

        let max = self.config.chunk.max_tokens;
        let special = self.config.chunk.special_tokens;
        let mut params = self.config.chunk;
        for _ in 0..4 {
            let mut planned = chunk::plan_chunks(prepared, title, &*counts, &params);
            let inputs: Vec<String> = planned.iter().map(PlannedChunk::embedding_input).collect();
            let mut exact = Vec::with_capacity(inputs.len());
            for batch in inputs.chunks(1024) {
                exact.extend(self.embedder.count_tokens(batch.to_vec()).await?);
            }
            let worst = exact.iter().map(|&n| n as usize + special).max().unwrap_or(0);
            for (p, n) in planned.iter_mut().zip(&exact) {
                p.tokens = *n + special as u32;
            }
            if worst <= max {
                return Ok(planned);
            }
            tracing::debug!(worst, max, "a chunk came out over the window; planning tighter");
            let scaled = params.max_tokens * max / worst;
            params.max_tokens = scaled.saturating_sub(2).max(special + 8);
        }
        // Still over after re-planning: the embedder truncates and reports it.
        Ok(chunk::plan_chunks(prepared, title, &*counts, &params))
    }

    /// The document stored for `path` and its chunks in reading order (neighbouring chunks overlap).
    pub async fn document_chunks(&self, path: &str) -> Result<(DocumentRecord, Vec<Chunk>)> {
        let Some(doc) = self.store.document_by_path(path).await? else {
            return Err(Error::InvalidInput(format!("{path} is not in the library")));
        };
        let chunks = self.store.chunk_rows(&doc.id).await?.into_iter().map(|row| row.chunk).collect();
        Ok((doc, chunks))
    }

    /// Removes the documents at `path` (a file, or every document under a folder). Returns how many.
    pub async fn remove(&self, path: &Path) -> Result<Vec<String>> {
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let mut removed = Vec::new();
        for doc in self.store.documents().await? {
            let p = Path::new(&doc.path);
            if p == target || p.starts_with(&target) {
                self.store.remove_document(&doc.id).await?;
                removed.push(doc.path);
            }
        }
        Ok(removed)
    }

    /// Searches the library: vector, full text, or both fused. Returns at most `k` chunks, best first.
    pub async fn search(&self, query: &str, k: usize, mode: SearchMode, filter: &SearchFilter) -> Result<Vec<Hit>> {
        Ok(self.retrieve(query, k, mode, filter).await?.hits)
    }

    /// Like [`Library::search`], and also reports the best cosine similarity the vector search found (how
    /// close the library comes to the query at all, whatever the fusion made of it).
    pub async fn retrieve(&self, query: &str, k: usize, mode: SearchMode, filter: &SearchFilter) -> Result<Retrieval> {
        let query = query.trim();
        if query.is_empty() {
            return Err(Error::InvalidInput("the search is empty".into()));
        }
        let n = self.config.candidates.max(k);
        // The question is embedded before either search starts: the model's threads wait for one another at
        // every layer, so a search running beside them on the same cores slows the embedding by half or more.
        let query_vector = if mode == SearchMode::Fulltext {
            None
        } else {
            let embedded = self.embedder.embed(vec![query.to_string()]).await?;
            Some(embedded.vectors.into_iter().next().ok_or_else(|| Error::Model("no query vector".into()))?)
        };
        let vector = async {
            match &query_vector {
                Some(v) => self.store.vector_candidates(v, n, filter).await,
                None => Ok(Vec::new()),
            }
        };
        let fulltext = async {
            if mode == SearchMode::Vector {
                return Ok(Vec::new());
            }
            let terms = analyze::terms(query);
            if terms.is_empty() {
                return Ok(Vec::new());
            }
            self.store.fulltext_candidates(&terms, n, filter).await
        };
        let (vector, fulltext) = tokio::join!(vector, fulltext);
        let (vector, fulltext) = (vector?, fulltext?);
        let best_similarity = vector.iter().map(|c| c.score).reduce(f32::max);
        let mut picked = match mode {
            SearchMode::Vector => vector,
            SearchMode::Fulltext => fulltext,
            SearchMode::Hybrid => fuse(&vector, &fulltext, self.config.fusion),
        };
        picked.truncate(k);
        // Only the chunks that made the list are read (their text is most of what a search reads).
        let hits = self.store.read_hits(&picked).await?;
        Ok(Retrieval { hits, best_similarity })
    }
}

/// What a search found.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieval {
    /// Best first.
    pub hits: Vec<Hit>,
    /// The highest cosine similarity of the vector search (None when it did not run or found nothing).
    pub best_similarity: Option<f32>,
}

/// What every file's extraction shares within one run.
struct ExtractShared {
    /// The embedding model's id: a document indexed by another model is not current.
    model: String,
    max_bytes: u64,
    force: bool,
    extractor: Arc<dyn Extractor>,
    extract_time: Arc<Mutex<Duration>>,
    gone_by_hash: Arc<GoneByHash>,
}

/// Hashes and extracts one file, unless it is unchanged, too large, or a gone document's file moved here.
async fn extract_one(file: &SourceFile, previous: Option<&DocumentRecord>, shared: &ExtractShared) -> Stage1 {
    let ExtractShared { model, max_bytes, force, extractor, extract_time, gone_by_hash } = shared;
    let (max_bytes, force) = (*max_bytes, *force);
    let current = |d: &DocumentRecord| d.embedding_model == *model && d.status == DocStatus::Indexed;
    if !force && previous.is_some_and(|d| current(d) && d.size == file.size && d.mtime_ms == file.mtime_ms) {
        return Stage1::Unchanged { hash: None };
    }
    if file.size > max_bytes {
        return Stage1::Failed(ExtractError::TooLarge(format!(
            "{:.0} MB, the limit is {:.0} MB",
            file.size as f64 / 1e6,
            max_bytes as f64 / 1e6
        )));
    }
    let path = file.path.clone();
    let hash = match tokio::task::spawn_blocking(move || hash_file(&path)).await {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return Stage1::Failed(ExtractError::Io(e.to_string())),
        Err(e) => return Stage1::Failed(ExtractError::Io(e.to_string())),
    };
    if !force && previous.is_some_and(|d| current(d) && d.content_hash == hash) {
        return Stage1::Unchanged { hash: Some(hash) };
    }
    if !force
        && let Ok(mut gone) = gone_by_hash.lock()
        && let Some(docs) = gone.get_mut(&hash)
        && let Some(at) = docs.iter().position(|d| d.format == file.format && d.path != file.key)
    {
        return Stage1::Moved { hash, from: docs.swap_remove(at) };
    }
    let t = Instant::now();
    let result = extractor.extract(&file.path, file.format).await;
    if let Ok(mut total) = extract_time.lock() {
        *total += t.elapsed();
    }
    match result {
        Ok(doc) => Stage1::Extracted { hash, doc },
        Err(e) => Stage1::Failed(e),
    }
}

/// Writes one document in the three crash-safe steps described in the module docs.
async fn write_document(store: &dyn Store, mut record: DocumentRecord, rows: Vec<ChunkRow>) -> Result<()> {
    let final_status = record.status;
    record.updated_ms = now_ms();
    record.status = DocStatus::Indexing;
    store.upsert_document(&record).await?;
    store.replace_chunks(&record.id, rows).await?;
    record.status = final_status;
    store.upsert_document(&record).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{HashEmbedder, MemoryStore, TextExtractor};
    use std::sync::atomic::Ordering;

    struct Fixture {
        dir: tempfile::TempDir,
        store: Arc<MemoryStore>,
        embedder: Arc<HashEmbedder>,
        library: Library,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(MemoryStore::default());
        let embedder = Arc::new(HashEmbedder::new(64));
        let library = Library::new(store.clone(), embedder.clone(), Arc::new(TextExtractor), LibraryConfig::default());
        Fixture { dir, store, embedder, library }
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
        path
    }

    async fn ingest(f: &Fixture, prune: bool) -> IngestReport {
        let options = IngestOptions { prune_missing: prune, force: false };
        f.library.ingest(&[f.dir.path().to_path_buf()], &options, &|_| {}, None).await.expect("ingest")
    }

    fn long_text(topic: &str, words: usize) -> String {
        (0..words).map(|i| format!("{topic}{}", i % 17)).collect::<Vec<_>>().join(" ")
    }

    #[tokio::test]
    async fn ingests_searches_and_skips_unchanged_files() {
        let f = fixture();
        write(f.dir.path(), "a.txt", "Penguins live in Antarctica and eat fish.");
        write(f.dir.path(), "nested/b.md", "Camels cross the desert without water.");
        write(f.dir.path(), "ignored.bin", "not a document");
        write(f.dir.path(), ".hidden/c.txt", "hidden files are skipped");
        let report = ingest(&f, false).await;
        assert_eq!((report.indexed, report.failed, report.unchanged), (2, 0, 0));

        let hits = f
            .library
            .search("where do penguins live", 5, SearchMode::Hybrid, &SearchFilter::default())
            .await
            .expect("search");
        assert!(hits[0].chunk.path.ends_with("a.txt"), "{hits:?}");
        let hits =
            f.library.search("desert camels", 5, SearchMode::Fulltext, &SearchFilter::default()).await.expect("search");
        assert!(hits[0].chunk.path.ends_with("b.md"));

        let calls = f.embedder.embed_calls.load(Ordering::Relaxed);
        let again = ingest(&f, false).await;
        assert_eq!((again.indexed, again.unchanged), (0, 2));
        assert_eq!(f.embedder.embed_calls.load(Ordering::Relaxed), calls, "an unchanged file was embedded again");
    }

    /// Embeds as the hash embedder does, after letting other tasks run first; notes whether a full-text search
    /// ran meanwhile.
    struct YieldingEmbedder {
        inner: HashEmbedder,
        store: Arc<MemoryStore>,
        overlapped: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl Embedder for YieldingEmbedder {
        fn info(&self) -> &crate::traits::EmbedderInfo {
            self.inner.info()
        }

        async fn count_tokens(&self, texts: Vec<String>) -> Result<Vec<u32>> {
            self.inner.count_tokens(texts).await
        }

        async fn embed(&self, texts: Vec<String>) -> Result<crate::traits::Embeddings> {
            let before = self.store.fulltext_searches.load(Ordering::Relaxed);
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            if self.store.fulltext_searches.load(Ordering::Relaxed) != before {
                self.overlapped.store(true, Ordering::Relaxed);
            }
            self.inner.embed(texts).await
        }
    }

    #[tokio::test]
    async fn a_hybrid_search_embeds_the_question_before_the_full_text_search_starts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(MemoryStore::default());
        let embedder = Arc::new(YieldingEmbedder {
            inner: HashEmbedder::new(64),
            store: store.clone(),
            overlapped: std::sync::atomic::AtomicBool::new(false),
        });
        let library = Library::new(store.clone(), embedder.clone(), Arc::new(TextExtractor), LibraryConfig::default());
        write(dir.path(), "a.txt", "Penguins live in Antarctica and eat fish.");
        write(dir.path(), "b.txt", "Camels cross the desert without water.");
        let options = IngestOptions { prune_missing: false, force: false };
        library.ingest(&[dir.path().to_path_buf()], &options, &|_| {}, None).await.expect("ingest");

        let hits = library
            .search("where do penguins live", 5, SearchMode::Hybrid, &SearchFilter::default())
            .await
            .expect("search");
        assert!(hits[0].chunk.path.ends_with("a.txt"), "{hits:?}");
        assert_eq!(store.fulltext_searches.load(Ordering::Relaxed), 1, "the full-text search ran once");
        assert!(
            !embedder.overlapped.load(Ordering::Relaxed),
            "the full-text search ran while the question was embedded"
        );
    }

    #[tokio::test]
    async fn a_paused_library_indexes_nothing_until_resumed() {
        let f = fixture();
        write(f.dir.path(), "a.txt", "Penguins live in Antarctica.");
        write(f.dir.path(), "b.txt", "Camels cross the desert.");
        f.library.gate().set_paused(true);
        let resume = async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            assert_eq!(f.embedder.embed_calls.load(Ordering::Relaxed), 0, "embedded while paused");
            assert!(f.library.documents().await.expect("docs").is_empty(), "written while paused");
            f.library.gate().set_paused(false);
        };
        let (report, ()) = tokio::join!(ingest(&f, false), resume);
        assert_eq!(report.indexed, 2);
    }

    #[tokio::test]
    async fn same_content_with_a_new_time_is_unchanged() {
        let f = fixture();
        let a = write(f.dir.path(), "a.txt", "stable content");
        ingest(&f, false).await;
        let file = std::fs::File::options().write(true).open(&a).expect("open");
        file.set_modified(std::time::SystemTime::now() + Duration::from_secs(60)).expect("touch");
        let calls = f.embedder.embed_calls.load(Ordering::Relaxed);
        let report = ingest(&f, false).await;
        assert_eq!(report.unchanged, 1);
        assert_eq!(f.embedder.embed_calls.load(Ordering::Relaxed), calls);
    }

    #[tokio::test]
    async fn changed_files_are_replaced_and_missing_ones_removed() {
        let f = fixture();
        let a = write(f.dir.path(), "a.txt", &long_text("alpha", 300));
        let b = write(f.dir.path(), "b.txt", "bravo");
        ingest(&f, true).await;
        let id = document_id(&std::fs::canonicalize(&a).expect("canon").display().to_string());
        let before = f.store.chunk_rows(&id).await.expect("rows").len();
        assert!(before > 1);

        write(f.dir.path(), "a.txt", "alpha is short now");
        std::fs::remove_file(&b).expect("rm");
        let report = ingest(&f, true).await;
        assert_eq!((report.indexed, report.removed), (1, 1));
        let rows = f.store.chunk_rows(&id).await.expect("rows");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].chunk.text, "alpha is short now");
        assert_eq!(f.library.documents().await.expect("docs").len(), 1);
    }

    #[tokio::test]
    async fn a_failing_document_fails_alone_with_its_reason() {
        let f = fixture();
        write(f.dir.path(), "good.txt", "good text");
        write(f.dir.path(), "broken.txt", "whatever");
        write(f.dir.path(), "empty.txt", "   \n\n  ");
        let report = ingest(&f, false).await;
        assert_eq!((report.indexed, report.failed), (1, 2));
        let docs = f.library.documents().await.expect("docs");
        let broken = docs.iter().find(|d| d.path.ends_with("broken.txt")).expect("record");
        assert_eq!(broken.status, DocStatus::Failed);
        assert_eq!(broken.error.as_deref(), Some("the file is damaged: not a valid file"));
        let empty = docs.iter().find(|d| d.path.ends_with("empty.txt")).expect("record");
        assert!(empty.error.as_deref().is_some_and(|e| e.contains("no text")));
    }

    #[tokio::test]
    async fn an_interrupted_write_is_redone_without_duplicates() {
        let f = fixture();
        write(f.dir.path(), "a.txt", &long_text("alpha", 200));
        f.store.fail_next_chunk_write();
        let options = IngestOptions::default();
        let first = f.library.ingest(&[f.dir.path().to_path_buf()], &options, &|_| {}, None).await;
        assert!(first.is_err(), "a store failure stops the ingest");
        let docs = f.library.documents().await.expect("docs");
        assert_eq!(docs[0].status, DocStatus::Indexing, "the half-written document is not reported as indexed");
        let hits = f.library.search("alpha1", 5, SearchMode::Fulltext, &SearchFilter::default()).await.expect("search");
        assert!(hits.is_empty());

        let report = ingest(&f, false).await;
        assert_eq!(report.indexed, 1);
        let rows = f.store.chunk_rows(&docs[0].id).await.expect("rows");
        let indexes: Vec<u32> = rows.iter().map(|r| r.chunk.index).collect();
        assert_eq!(indexes, (0..rows.len() as u32).collect::<Vec<_>>());
        assert_eq!(f.store.chunk_count(), rows.len());
    }

    #[tokio::test]
    async fn every_token_fits_the_window() {
        let f = fixture();
        write(f.dir.path(), "long.txt", &long_text("word", 5000));
        let report = ingest(&f, false).await;
        assert_eq!(report.truncated, 0);
        let docs = f.library.documents().await.expect("docs");
        let rows = f.store.chunk_rows(&docs[0].id).await.expect("rows");
        assert!(rows.iter().all(|r| r.chunk.tokens as usize <= 64));
        let words: usize = rows.iter().map(|r| r.chunk.text.split_whitespace().count()).sum();
        assert!(words >= 5000, "every word is in some chunk");
    }

    #[tokio::test]
    async fn missing_paths_and_unsupported_files_are_reported() {
        let f = fixture();
        let bin = write(f.dir.path(), "x.bin", "data");
        let missing = f.dir.path().join("nope.txt");
        let report = f.library.ingest(&[missing, bin], &IngestOptions::default(), &|_| {}, None).await.expect("ingest");
        assert_eq!(report.failed, 2);
        assert!(
            report
                .documents
                .iter()
                .any(|(_, o)| matches!(o, DocOutcome::Failed { reason } if reason.contains("unsupported")))
        );
    }

    /// Leaves out files whose name contains `skip`, and files over `max` bytes.
    struct TestFilter {
        skip: &'static str,
        max: u64,
    }

    impl PathFilter for TestFilter {
        fn accepts_dir(&self, path: &Path) -> bool {
            !path.display().to_string().contains(self.skip)
        }
        fn accepts_file(&self, path: &Path, size: u64) -> bool {
            self.accepts_dir(path) && size <= self.max
        }
    }

    const FILTER: TestFilter = TestFilter { skip: "skip", max: 10_000 };

    async fn sync(f: &Fixture, paths: &[PathBuf]) -> IngestReport {
        f.library.sync(paths, &FILTER, &|_| {}, None).await.expect("sync")
    }

    fn paths(docs: &[DocumentRecord]) -> Vec<String> {
        let mut paths: Vec<String> = docs.iter().map(|d| d.path.clone()).collect();
        paths.sort();
        paths
    }

    #[tokio::test]
    async fn renamed_and_moved_files_keep_their_chunks_without_embedding() {
        let f = fixture();
        let root = std::fs::canonicalize(f.dir.path()).expect("canon");
        let a = write(&root, "one/a.txt", &long_text("alpha", 300));
        let b = write(&root, "one/b.md", "bravo is a short note");
        write(&root, "two/keep.txt", "charlie stays");
        sync(&f, std::slice::from_ref(&root)).await;
        let old_id = document_id(&a.display().to_string());
        let old_rows = f.store.chunk_rows(&old_id).await.expect("rows");
        let calls = f.embedder.embed_calls.load(Ordering::Relaxed);

        // A rename within a folder and a move into another folder, seen by a whole-tree sync.
        let renamed = root.join("one/a-renamed.txt");
        std::fs::rename(&a, &renamed).expect("rename");
        let moved = root.join("two/deeper/b.md");
        std::fs::create_dir_all(moved.parent().expect("parent")).expect("mkdir");
        std::fs::rename(&b, &moved).expect("move");
        let report = sync(&f, std::slice::from_ref(&root)).await;
        assert_eq!((report.moved, report.indexed, report.removed, report.unchanged), (2, 0, 0, 1), "{report:?}");
        assert_eq!(f.embedder.embed_calls.load(Ordering::Relaxed), calls, "a moved file was embedded");

        let docs = f.library.documents().await.expect("docs");
        let expected = [&renamed, &moved, &root.join("two/keep.txt")].map(|p| p.display().to_string());
        let mut expected = expected.to_vec();
        expected.sort();
        assert_eq!(paths(&docs), expected);
        let new_id = document_id(&renamed.display().to_string());
        let new_rows = f.store.chunk_rows(&new_id).await.expect("rows");
        assert_eq!(new_rows.len(), old_rows.len());
        for (new, old) in new_rows.iter().zip(&old_rows) {
            assert_eq!(
                (new.chunk.doc_id.as_str(), new.chunk.path.as_str()),
                (new_id.as_str(), expected_path(&renamed))
            );
            assert_eq!((&new.chunk.text, &new.vector), (&old.chunk.text, &old.vector));
        }
        assert!(f.store.chunk_rows(&old_id).await.expect("rows").is_empty(), "the old chunks are gone");
        assert_eq!(f.store.chunk_count(), docs.iter().map(|d| d.chunk_count as usize).sum::<usize>());
        let hits = f.library.search("bravo", 5, SearchMode::Fulltext, &SearchFilter::default()).await.expect("search");
        assert_eq!(hits[0].chunk.path, moved.display().to_string());
    }

    fn expected_path(p: &Path) -> &str {
        p.to_str().expect("utf-8 path")
    }

    #[tokio::test]
    async fn a_sync_of_changed_paths_removes_missing_ones_and_follows_the_filter() {
        let f = fixture();
        let root = std::fs::canonicalize(f.dir.path()).expect("canon");
        let a = write(&root, "a.txt", "alpha text");
        let b = write(&root, "sub/b.txt", "bravo text");
        write(&root, "sub/c.txt", "charlie text");
        write(&root, "skip-me.txt", "left out by the filter");
        write(&root, "big.txt", &"x ".repeat(6_000));
        let report = sync(&f, std::slice::from_ref(&root)).await;
        assert_eq!((report.indexed, report.failed), (3, 0), "{report:?}");

        // A deleted file and a deleted folder, given as the changed paths: removed, not failures.
        std::fs::remove_file(&a).expect("rm");
        std::fs::remove_dir_all(root.join("sub")).expect("rm -r");
        let report = sync(&f, &[a.clone(), b.parent().expect("parent").to_path_buf()]).await;
        assert_eq!((report.removed, report.failed), (3, 0), "{report:?}");
        assert!(f.library.documents().await.expect("docs").is_empty());

        // A path that never held anything: nothing to do, no failure.
        let report = sync(&f, &[root.join("never.txt")]).await;
        assert_eq!(report.documents, Vec::new());

        // A file that grows over the limit leaves the library.
        let d = write(&root, "d.txt", "delta");
        sync(&f, std::slice::from_ref(&d)).await;
        assert_eq!(f.library.documents().await.expect("docs").len(), 1);
        write(&root, "d.txt", &"delta ".repeat(3_000));
        let report = sync(&f, &[d]).await;
        assert_eq!(report.removed, 1, "{report:?}");
    }

    #[tokio::test]
    async fn remove_takes_a_file_or_a_folder() {
        let f = fixture();
        write(f.dir.path(), "keep.txt", "keep");
        write(f.dir.path(), "sub/one.txt", "one");
        write(f.dir.path(), "sub/two.txt", "two");
        ingest(&f, false).await;
        let removed = f.library.remove(&f.dir.path().join("sub")).await.expect("remove");
        assert_eq!(removed.len(), 2);
        assert_eq!(f.library.documents().await.expect("docs").len(), 1);
    }
}
