//! [`LanceStore`]: the library's documents, chunks, vectors and full-text index in one LanceDB directory.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use async_trait::async_trait;
use std::panic::AssertUnwindSafe;

use futures::{FutureExt, TryStreamExt};
use lancedb::arrow::arrow_array::{Array, RecordBatch, RecordBatchIterator, RecordBatchReader};
use lancedb::arrow::arrow_schema::SchemaRef;
use lancedb::index::scalar::{FtsIndexBuilder, FullTextSearchQuery};
use lancedb::index::vector::{IvfHnswSqIndexBuilder, IvfPqIndexBuilder};
use lancedb::index::{Index, IndexType};
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use lancedb::table::{CompactionOptions, OptimizeAction, OptimizeOptions};
use lancedb::{Connection, DistanceType, Table, connect};
use quire_core::{
    Candidate, Chunk, ChunkRow, DocStatus, DocumentRecord, Error, Hit, LibraryStats, Result, SearchFilter, Store,
};
use tracing::{debug, info, warn};

use crate::error::{Context, store_error};
use crate::files::{self, WriterLock};
use crate::schema::{self, DOCUMENTS_TABLE, HIT_COLUMNS, col};
use crate::sql;
use crate::uring;

/// From this many chunks, [`Store::maintain`] builds an ANN index ([`AnnKind`]); below it, search is exact.
pub const ANN_INDEX_THRESHOLD: usize = 50_000;
/// Vector search with an ANN index re-ranks `k * REFINE_FACTOR` candidates by their exact distance. At 100k
/// chunks, 5 finds 99.9 % of the exact 50 nearest and 10 all of them, in 1.3× the time (BENCHMARKS.md).
pub const REFINE_FACTOR: u32 = 5;
/// IVF partitions probed per ANN query (an HNSW index over 100k chunks has one partition).
pub const NPROBES: usize = 32;
/// Candidates an HNSW search keeps while walking the graph (at least the `k * REFINE_FACTOR` re-ranked).
pub const EF: usize = 200;
/// Versions younger than this survive [`Store::maintain`], so that recovery has a recent good version to return to.
pub const KEEP_VERSIONS_FOR: Duration = Duration::from_secs(5 * 60);
/// How many versions [`LanceStore::open`] steps back, at most, from an unreadable newest version.
const MAX_RECOVERY_STEPS: usize = 8;

/// The columns a search reads back, with its score column named (LanceDB adds it either way, and warns on every
/// query when it is not asked for).
fn hit_columns_with(score: &'static str) -> Vec<&'static str> {
    HIT_COLUMNS.iter().copied().chain([score]).collect()
}

/// The columns a search reads when it returns candidates ([`quire_core::Candidate`]) rather than chunks.
const CANDIDATE_COLUMNS: &[&str] = &[col::DOC_ID, col::IDX];

/// Which columns a search reads back: whole chunks, or only what identifies them (and their row ids).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    Chunks,
    Candidates,
}

impl Read {
    fn columns(self, score: &'static str) -> Vec<&'static str> {
        match self {
            Read::Chunks => hit_columns_with(score),
            Read::Candidates => CANDIDATE_COLUMNS.iter().copied().chain([score]).collect(),
        }
    }
}

/// After this many commits to a table since its last compaction, the next write compacts it first. Every commit
/// adds a fragment, and each write reads every fragment (a merge on the id, a delete by predicate): without this,
/// one import of many small files slows down as it goes (see BENCHMARKS.md, "Watched folders").
const COMPACT_EVERY: u32 = 64;
/// How long opening waits for a store of the same directory that this process still holds (see
/// [`LanceStore::open`]).
const SAME_PROCESS_WAIT: Duration = Duration::from_secs(30);

const FTS_INDEX: &str = "terms_fts";
const ANN_INDEX: &str = "vector_ann";

/// Tuning of a [`LanceStore`]; [`StoreOptions::default`] is what the app uses.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Versions younger than this are kept by `maintain` (see [`KEEP_VERSIONS_FOR`]).
    pub keep_versions_for: Duration,
    /// Chunks from which `maintain` builds the ANN index (see [`ANN_INDEX_THRESHOLD`]).
    pub ann_index_threshold: usize,
    /// How long opening waits for a store of the same directory that this process still holds.
    pub same_process_wait: Duration,
    /// The kind of ANN index `maintain` builds.
    pub ann_kind: AnnKind,
    /// How a search uses the ANN index (see [`LanceStore::tune_ann`] and [`LanceStore::tune_ef`]).
    pub nprobes: usize,
    pub refine_factor: u32,
    pub ef: usize,
    /// Read the library's files through io_uring where the kernel allows it (see the `uring` module); plain
    /// reads otherwise.
    pub io_uring: bool,
}

/// The kinds of ANN index the store can build over the vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnnKind {
    /// Inverted file over k-means partitions, vectors product-quantised (searched `nprobes` partitions wide).
    IvfPq,
    /// A graph (HNSW) per partition over vectors quantised to 8 bits per value (searched `ef` candidates
    /// wide). The app's: at 100k chunks it found the exact nearest candidates as well as IVF-PQ with five times
    /// fewer re-ranked, in half the time (BENCHMARKS.md).
    #[default]
    IvfHnswSq,
}

impl AnnKind {
    fn index_type(self) -> IndexType {
        match self {
            AnnKind::IvfPq => IndexType::IvfPq,
            AnnKind::IvfHnswSq => IndexType::IvfHnswSq,
        }
    }
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            keep_versions_for: KEEP_VERSIONS_FOR,
            ann_index_threshold: ANN_INDEX_THRESHOLD,
            same_process_wait: SAME_PROCESS_WAIT,
            ann_kind: AnnKind::default(),
            nprobes: NPROBES,
            refine_factor: REFINE_FACTOR,
            ef: EF,
            io_uring: true,
        }
    }
}

/// Which documents' chunks searches must not return: those that have chunks but whose record is not `Indexed`.
#[derive(Default)]
struct Visibility {
    /// Documents whose stored record says `Indexed`.
    indexed: HashSet<String>,
    /// Documents that have (or may have) chunks in this model's table.
    with_chunks: HashSet<String>,
    /// `with_chunks - indexed`, kept up to date by [`Visibility::refresh`].
    hidden: HashSet<String>,
}

impl Visibility {
    fn refresh(&mut self, id: &str) {
        if self.with_chunks.contains(id) && !self.indexed.contains(id) {
            self.hidden.insert(id.to_string());
        } else {
            self.hidden.remove(id);
        }
    }
}

/// The LanceDB implementation of [`Store`].
///
/// One directory holds a `documents` table (one row per [`DocumentRecord`]) and one chunks table per embedding
/// model (`chunks_<slug>_<hash>`, see [`schema::chunks_table_name`]), so vectors of different models never mix.
/// The process that opens the directory holds an exclusive lock on `writer.lock` until the store is dropped, and
/// writes inside the process are serialised.
pub struct LanceStore {
    dir: PathBuf,
    model: String,
    dim: usize,
    options: StoreOptions,
    _db: Connection,
    documents: Table,
    chunks: Table,
    chunks_name: String,
    /// Serialises writes (LanceDB commits, index builds, compaction).
    writer: tokio::sync::Mutex<()>,
    visibility: RwLock<Visibility>,
    fts_ready: AtomicBool,
    ann_ready: AtomicBool,
    /// ANN search parameters (see [`LanceStore::tune_ann`]).
    nprobes: AtomicUsize,
    refine_factor: AtomicU32,
    ef: AtomicUsize,
    /// Commits to the documents and the chunks table since each was last compacted (see [`COMPACT_EVERY`]).
    commits: [AtomicU32; 2],
    /// What opening had to repair, in words (see [`Store::recovered`]).
    recovered: Vec<String>,
    /// Chunks tables of other embedding models being filled (see [`Store::stage_chunks`]), opened on first use,
    /// with their commits since the last compaction. Used under the writer lock.
    staged: std::sync::Mutex<HashMap<String, (Table, u32)>>,
    _lock: WriterLock,
}

impl std::fmt::Debug for LanceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LanceStore")
            .field("dir", &self.dir)
            .field("model", &self.model)
            .field("dim", &self.dim)
            .field("chunks_table", &self.chunks_name)
            .finish_non_exhaustive()
    }
}

async fn collect(query: impl ExecutableQuery) -> lancedb::Result<Vec<RecordBatch>> {
    query.execute().await?.try_collect::<Vec<_>>().await
}

fn reader(batch: RecordBatch) -> Box<dyn RecordBatchReader + Send> {
    let schema = batch.schema();
    Box::new(RecordBatchIterator::new(vec![Ok(batch)], schema))
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// Reads one column of every row: what a damaged data file or manifest fails on.
async fn probe(table: &Table, column: &str) -> lancedb::Result<()> {
    let read = async {
        table.count_rows(None).await?;
        let mut stream = table.query().select(Select::columns(&[column])).execute().await?;
        while stream.try_next().await?.is_some() {}
        Ok(())
    };
    // Lance can panic on damaged files rather than fail; a damaged file must not take the app down.
    AssertUnwindSafe(read).catch_unwind().await.unwrap_or_else(|panic| {
        Err(lancedb::Error::Runtime { message: format!("LanceDB panicked: {}", panic_message(&panic)) })
    })
}

/// Opens a table, or creates it empty; steps back to the newest readable version when the latest is not.
/// `recovered` gets a sentence for the user when the table had to step back to an older version.
async fn open_table(
    db: &Connection,
    dir: &Path,
    name: &str,
    schema: SchemaRef,
    probe_column: &str,
    recovered: &mut Vec<String>,
) -> Result<Table> {
    let tdir = files::table_dir(dir, name);
    if files::manifests(&tdir)?.is_empty() {
        if tdir.exists() {
            // A table whose creation never committed: nothing in it was ever readable.
            let aside = files::set_aside(dir, name, &tdir)?;
            warn!(table = name, "the table had no committed version; moved its files to {}", aside.display());
        }
        return db
            .create_empty_table(name, schema)
            .execute()
            .await
            .with_context(|| format!("could not create the table `{name}` in {}", dir.display()));
    }
    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut first_error: Option<Error> = None;
    // Newest manifests that are not whole (a crash mid-commit: LanceDB does not fsync) are set aside first, so that
    // the previous version becomes the latest.
    loop {
        let manifests = files::manifests(&tdir)?;
        let Some((version, newest)) = manifests.last() else { break };
        if manifests.len() <= 1 || moved.len() >= MAX_RECOVERY_STEPS || files::manifest_is_whole(newest) {
            break;
        }
        let aside = files::set_aside(dir, name, newest)?;
        warn!(table = name, version, "the newest manifest is incomplete; set it aside: {}", aside.display());
        first_error.get_or_insert_with(|| Error::Store(format!("version {version} of `{name}` was incomplete")));
        moved.push((newest.clone(), aside));
    }
    loop {
        let opened = AssertUnwindSafe(db.open_table(name).execute()).catch_unwind().await.unwrap_or_else(|panic| {
            Err(lancedb::Error::Runtime { message: format!("LanceDB panicked: {}", panic_message(&panic)) })
        });
        match opened {
            Ok(table) => match probe(&table, probe_column).await {
                Ok(()) => {
                    if !moved.is_empty() {
                        recovered.push(format!(
                            "The library's {} could not be read at its newest version (a crash while writing); it \
                             was brought back to version {}, the newest one that reads. Changes of the last moments \
                             before the crash may be missing: they are indexed again at the next sync.",
                            table_label(name),
                            table.version().await.unwrap_or(0)
                        ));
                        warn!(
                            table = name,
                            "recovered: the newest version could not be read ({}); now at version {}; \
                             the unreadable manifests were moved to {}",
                            first_error.as_ref().map(ToString::to_string).unwrap_or_default(),
                            table.version().await.unwrap_or(0),
                            dir.join(files::RECOVERED_DIR).display()
                        );
                    }
                    return Ok(table);
                }
                Err(e) => {
                    warn!(table = name, "the newest version of the table cannot be read: {e}");
                    let err = store_error(format!("the table `{name}` cannot be read"), e);
                    if roll_back(&table, name, probe_column, recovered).await? {
                        return Ok(table);
                    }
                    files::put_back(&moved);
                    return Err(first_error.unwrap_or(err));
                }
            },
            Err(e) => {
                warn!(table = name, "the table cannot be opened: {e}");
                let err = store_error(format!("could not open the table `{name}` in {}", dir.display()), e);
                let manifests = files::manifests(&tdir)?;
                let first = first_error.get_or_insert(err);
                if manifests.len() <= 1 || moved.len() >= MAX_RECOVERY_STEPS {
                    files::put_back(&moved);
                    return Err(Error::Store(first.to_string()));
                }
                // The newest manifest cannot be read (a crash mid-commit: LanceDB does not fsync). Move it out of
                // the table, so that the previous version becomes the latest, and try again.
                if let Some((version, path)) = manifests.last() {
                    let aside = files::set_aside(dir, name, path)?;
                    warn!(table = name, version, "set the unreadable manifest aside: {}", aside.display());
                    moved.push((path.clone(), aside));
                }
            }
        }
    }
}

/// Checks rows before they are written to the chunks table of `model`: one document, unique positions, that
/// model's id, vectors of dimension `dim` with finite values.
fn validate_rows(doc_id: &str, rows: &[ChunkRow], model: &str, dim: usize) -> Result<()> {
    let mut seen = HashSet::new();
    for r in rows {
        let c = &r.chunk;
        if c.doc_id != doc_id {
            return Err(Error::InvalidInput(format!(
                "chunk {} belongs to document {}, not to {doc_id}",
                c.index, c.doc_id
            )));
        }
        if !seen.insert(c.index) {
            return Err(Error::InvalidInput(format!("document {doc_id} has two chunks with index {}", c.index)));
        }
        if c.embedding_model != model {
            return Err(Error::InvalidInput(format!(
                "chunk {} of {doc_id} was embedded by `{}`, but this table holds `{model}`",
                c.index, c.embedding_model
            )));
        }
        if r.vector.len() != dim {
            return Err(Error::InvalidInput(format!(
                "chunk {} of {doc_id} has a vector of dimension {}, expected {dim}",
                c.index,
                r.vector.len(),
            )));
        }
        if !r.vector.iter().all(|x| x.is_finite()) {
            return Err(Error::InvalidInput(format!("chunk {} of {doc_id} has a non-finite vector", c.index)));
        }
    }
    Ok(())
}

/// Merges the table's small fragments after a run of commits. A failure is not fatal (the commit before it
/// is done; `maintain` compacts again).
async fn compact_in_line(name: &str, table: &Table) {
    let compact = OptimizeAction::Compact { options: CompactionOptions::default(), remap_options: None };
    match table.optimize(compact).await {
        Ok(stats) => {
            if let Some(c) = stats.compaction {
                debug!(table = name, removed = c.fragments_removed, added = c.fragments_added, "compacted in line");
            }
        }
        Err(e) => warn!(table = name, "could not compact the table in line: {e}"),
    }
}

fn lock_staged<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The table's name for people.
fn table_label(name: &str) -> &'static str {
    if name == DOCUMENTS_TABLE { "list of documents" } else { "index of passages" }
}

/// Checks out the newest older version that reads, and restores it as the latest. False if none does.
async fn roll_back(table: &Table, name: &str, probe_column: &str, recovered: &mut Vec<String>) -> Result<bool> {
    let current = table.version().await.context("could not read the table's version")?;
    let mut candidates: Vec<u64> = match table.list_versions().await {
        Ok(versions) => versions.into_iter().map(|v| v.version).filter(|v| *v < current).collect(),
        Err(_) => (1..current).collect(),
    };
    candidates.sort_unstable_by(|a, b| b.cmp(a));
    for version in candidates.into_iter().take(MAX_RECOVERY_STEPS) {
        if table.checkout(version).await.is_err() {
            continue;
        }
        if probe(table, probe_column).await.is_ok() {
            table
                .restore()
                .await
                .with_context(|| format!("could not restore version {version} of the table `{name}`"))?;
            warn!(table = name, "recovered: restored version {version}, the newest readable one (was {current})");
            recovered.push(format!(
                "The library's {} could not be read at its newest version ({current}); it was brought back to \
                 version {version}, the newest one that reads. Changes of the last moments before the damage may be \
                 missing: they are indexed again at the next sync.",
                table_label(name)
            ));
            return Ok(true);
        }
    }
    let _ = table.checkout_latest().await;
    Ok(false)
}

/// IVF_PQ, cosine. Sub-vectors of 8 dimensions (LanceDB's default is 16), for more exact PQ distances: the refine
/// step can only re-rank candidates that PQ put in the first `k * REFINE_FACTOR`.
fn ann_params(dim: usize) -> IvfPqIndexBuilder {
    let builder = IvfPqIndexBuilder::default().distance_type(DistanceType::Cosine);
    match u32::try_from(dim / 8) {
        Ok(n) if dim.is_multiple_of(8) && n > 0 => builder.num_sub_vectors(n),
        _ => builder,
    }
}

fn fts_params() -> FtsIndexBuilder {
    // The core has already analysed the text (lowercase, stems, CJK bigrams): the index only splits on spaces.
    FtsIndexBuilder::default()
        .base_tokenizer("whitespace".to_string())
        .lower_case(false)
        .stem(false)
        .remove_stop_words(false)
        .ascii_folding(false)
        .max_token_length(None)
        .with_position(false)
}

impl LanceStore {
    /// Opens (or creates) the library store in `dir` for writing, with the chunks table of `embedding_model`.
    ///
    /// Fails with a readable message when another process has the directory open; a store of the same
    /// directory still held in this process (the library being opened again while a task finishes with the
    /// previous one) is waited for, up to 30 s. A table whose newest version
    /// cannot be read (a crash mid-commit) is brought back to its newest readable version, with a warning.
    pub async fn open(dir: &Path, embedding_model: &str, dim: usize) -> Result<LanceStore> {
        LanceStore::open_with(dir, embedding_model, dim, StoreOptions::default()).await
    }

    pub async fn open_with(
        dir: &Path,
        embedding_model: &str,
        dim: usize,
        mut options: StoreOptions,
    ) -> Result<LanceStore> {
        let (nprobes, refine_factor, ef) = (options.nprobes, options.refine_factor, options.ef);
        if dim == 0 || i32::try_from(dim).is_err() {
            return Err(Error::InvalidInput(format!("invalid embedding dimension {dim}")));
        }
        if embedding_model.is_empty() {
            return Err(Error::InvalidInput("the embedding model id is empty".into()));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let lock = WriterLock::acquire(dir, options.same_process_wait).await?;
        let uri = dir
            .to_str()
            .ok_or_else(|| Error::Store(format!("the library path {} is not valid UTF-8", dir.display())))?;
        let mut connection = connect(uri);
        options.io_uring = options.io_uring && uring::available(&dir.join(files::LOCK_FILE));
        if options.io_uring {
            connection = connection.session(uring::session());
        }
        let db = connection.execute().await.with_context(|| format!("could not open the library at {uri}"))?;
        let mut recovered = Vec::new();
        let documents = open_table(&db, dir, DOCUMENTS_TABLE, schema::documents_schema(), "id", &mut recovered).await?;
        let chunks_name = schema::chunks_table_name(embedding_model);
        let chunks =
            open_table(&db, dir, &chunks_name, schema::chunks_schema(dim), col::DOC_ID, &mut recovered).await?;
        let chunks_schema = chunks.schema().await.context("could not read the chunks table's schema")?;
        match schema::vector_dim(&chunks_schema) {
            Some(d) if d == dim => {}
            found => {
                return Err(Error::Store(format!(
                    "the chunks table of model `{embedding_model}` holds vectors of dimension {}, not {dim}",
                    found.map_or_else(|| "unknown".to_string(), |d| d.to_string())
                )));
            }
        }
        let store = LanceStore {
            dir: dir.to_path_buf(),
            model: embedding_model.to_string(),
            dim,
            options,
            _db: db,
            documents,
            chunks,
            chunks_name,
            writer: tokio::sync::Mutex::new(()),
            visibility: RwLock::new(Visibility::default()),
            fts_ready: AtomicBool::new(false),
            ann_ready: AtomicBool::new(false),
            commits: [AtomicU32::new(0), AtomicU32::new(0)],
            nprobes: AtomicUsize::new(nprobes.max(1)),
            refine_factor: AtomicU32::new(refine_factor.max(1)),
            ef: AtomicUsize::new(ef.max(1)),
            recovered,
            staged: std::sync::Mutex::new(HashMap::new()),
            _lock: lock,
        };
        store.reconcile().await?;
        store.detect_indexes().await?;
        info!(dir = %dir.display(), table = %store.chunks_name, io_uring = store.options.io_uring, "library store open");
        Ok(store)
    }

    /// Whether the library's files are read through io_uring (asked for, and the kernel allows it).
    pub fn reads_through_io_uring(&self) -> bool {
        self.options.io_uring
    }

    /// The directory of the store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The embedding model whose chunks this store reads and writes.
    pub fn embedding_model(&self) -> &str {
        &self.model
    }

    /// The name of this model's chunks table.
    pub fn chunks_table(&self) -> &str {
        &self.chunks_name
    }

    /// How many versions the documents and the chunks table keep on disk (`maintain` prunes them).
    pub async fn version_counts(&self) -> Result<(usize, usize)> {
        let d = self.documents.list_versions().await.context("could not list the documents table's versions")?;
        let c = self.chunks.list_versions().await.context("could not list the chunks table's versions")?;
        Ok((d.len(), c.len()))
    }

    /// How many data fragments the documents and the chunks table have now (each commit adds one; compaction
    /// merges them).
    pub async fn fragment_counts(&self) -> Result<(usize, usize)> {
        let d = self.documents.stats().await.context("could not read the documents table's statistics")?;
        let c = self.chunks.stats().await.context("could not read the chunks table's statistics")?;
        Ok((d.fragment_stats.num_fragments, c.fragment_stats.num_fragments))
    }

    /// Whether the chunks table has its full-text index and its ANN index.
    pub fn has_indexes(&self) -> (bool, bool) {
        (self.fts_ready.load(Ordering::Acquire), self.ann_ready.load(Ordering::Acquire))
    }

    /// Sets how an ANN search trades speed for recall: IVF partitions probed, and the candidates re-ranked
    /// exactly (`k * refine_factor`). Defaults: [`NPROBES`], [`REFINE_FACTOR`]. No effect without an ANN index.
    pub fn tune_ann(&self, nprobes: usize, refine_factor: u32) {
        self.nprobes.store(nprobes.max(1), Ordering::Relaxed);
        self.refine_factor.store(refine_factor.max(1), Ordering::Relaxed);
    }

    /// How many candidates an HNSW search keeps while walking the graph (default [`EF`]).
    pub fn tune_ef(&self, ef: usize) {
        self.ef.store(ef.max(1), Ordering::Relaxed);
    }

    fn vis_read(&self) -> RwLockReadGuard<'_, Visibility> {
        self.visibility.read().unwrap_or_else(|e| e.into_inner())
    }

    fn vis_write(&self) -> RwLockWriteGuard<'_, Visibility> {
        self.visibility.write().unwrap_or_else(|e| e.into_inner())
    }

    /// At open: makes the two tables agree after whatever a crash left behind, and loads what searches must hide.
    ///
    /// - chunks of a document that has no record are deleted;
    /// - a record that says `Indexed` but whose chunks are not all there (the chunk commit was lost while the
    ///   record's was not: neither is fsynced) goes back to `Indexing`, so that the next ingest redoes it.
    async fn reconcile(&self) -> Result<()> {
        let _w = self.writer.lock().await;
        let docs = self.all_documents().await?;
        let batches = collect(self.chunks.query().select(Select::columns(&[col::DOC_ID])))
            .await
            .context("could not read the chunks table")?;
        let mut counts: HashMap<String, u32> = HashMap::new();
        for b in &batches {
            for id in schema::strings(b, col::DOC_ID)?.iter().flatten() {
                *counts.entry(id.to_string()).or_default() += 1;
            }
        }
        let known: HashSet<&str> = docs.iter().map(|d| d.id.as_str()).collect();
        let mut orphans: Vec<&str> = counts.keys().map(String::as_str).filter(|id| !known.contains(id)).collect();
        orphans.sort_unstable();
        for group in orphans.chunks(256) {
            warn!("deleting the chunks of {} document(s) that have no record", group.len());
            self.chunks
                .delete(sql::in_list(col::DOC_ID, group.iter().copied()).as_str())
                .await
                .context("could not delete chunks without a document")?;
        }
        let mut stale: Vec<DocumentRecord> = docs
            .iter()
            .filter(|d| {
                d.status == DocStatus::Indexed
                    && d.embedding_model == self.model
                    && counts.get(&d.id).copied().unwrap_or(0) != d.chunk_count
            })
            .cloned()
            .collect();
        if !stale.is_empty() {
            warn!(
                "{} document(s) marked indexed do not have all their chunks (an interrupted write); \
                 they will be indexed again",
                stale.len()
            );
            for d in &mut stale {
                d.status = DocStatus::Indexing;
            }
            self.merge_documents(&stale).await?;
        }
        let stale_ids: HashSet<&str> = stale.iter().map(|d| d.id.as_str()).collect();
        let mut vis = self.vis_write();
        vis.indexed = docs
            .iter()
            .filter(|d| d.status == DocStatus::Indexed && !stale_ids.contains(d.id.as_str()))
            .map(|d| d.id.clone())
            .collect();
        vis.with_chunks = counts.into_keys().filter(|id| known.contains(id.as_str())).collect();
        vis.hidden = vis.with_chunks.difference(&vis.indexed).cloned().collect();
        debug!(hidden = vis.hidden.len(), "documents hidden from search");
        Ok(())
    }

    async fn detect_indexes(&self) -> Result<()> {
        let indices = self.chunks.list_indices().await.context("could not list the chunks table's indexes")?;
        let on = |i: &lancedb::index::IndexConfig, c: &str| i.columns.iter().any(|x| x == c);
        let fts = indices.iter().any(|i| on(i, col::TERMS) && i.index_type == IndexType::FTS);
        // An index of another kind (built before the kind changed) is not used: searches stay exact until
        // `maintain` replaces it.
        let kind = self.options.ann_kind.index_type();
        let ann = indices.iter().any(|i| on(i, col::VECTOR) && i.index_type == kind);
        self.fts_ready.store(fts, Ordering::Release);
        self.ann_ready.store(ann, Ordering::Release);
        Ok(())
    }

    async fn all_documents(&self) -> Result<Vec<DocumentRecord>> {
        let batches = collect(self.documents.query()).await.context("could not read the documents table")?;
        let mut out = Vec::new();
        for b in &batches {
            schema::read_documents(b, &mut out)?;
        }
        Ok(out)
    }

    /// Inserts or replaces records by id, in one commit. The caller holds the writer lock.
    async fn merge_documents(&self, docs: &[DocumentRecord]) -> Result<()> {
        let batch = schema::documents_batch(docs)?;
        let mut merge = self.documents.merge_insert(&["id"]);
        merge.when_matched_update_all(None).when_not_matched_insert_all();
        merge.execute(reader(batch)).await.context("could not write the document record")?;
        self.committed(0).await;
        Ok(())
    }

    /// Counts a commit to the documents (`0`) or the chunks (`1`) table; every [`COMPACT_EVERY`] commits, merges
    /// the table's small fragments. The caller holds the writer lock. A failed compaction is not fatal (the
    /// write it follows is committed; `maintain` compacts again).
    async fn committed(&self, which: usize) {
        if self.commits[which].fetch_add(1, Ordering::Relaxed) + 1 < COMPACT_EVERY {
            return;
        }
        self.commits[which].store(0, Ordering::Relaxed);
        let (name, table) =
            if which == 0 { (DOCUMENTS_TABLE, &self.documents) } else { (self.chunks_name.as_str(), &self.chunks) };
        compact_in_line(name, table).await;
    }

    /// The chunks table of another embedding model, opened (or created) on first use. The caller holds the
    /// writer lock.
    async fn staged_table(&self, model: &str, dim: usize) -> Result<Table> {
        if model == self.model {
            return Err(Error::InvalidInput(format!("`{model}` is the library's current embedding model")));
        }
        if dim == 0 || i32::try_from(dim).is_err() {
            return Err(Error::InvalidInput(format!("invalid embedding dimension {dim}")));
        }
        if let Some((table, _)) = lock_staged(&self.staged).get(model) {
            return Ok(table.clone());
        }
        let name = schema::chunks_table_name(model);
        let mut recovered = Vec::new();
        let table =
            open_table(&self._db, &self.dir, &name, schema::chunks_schema(dim), col::DOC_ID, &mut recovered).await?;
        let found_schema = table.schema().await.context("could not read the chunks table's schema")?;
        let found = schema::vector_dim(&found_schema);
        if found != Some(dim) {
            return Err(Error::Store(format!(
                "the chunks table of model `{model}` holds vectors of dimension {}, not {dim}",
                found.map_or_else(|| "unknown".to_string(), |d| d.to_string())
            )));
        }
        lock_staged(&self.staged).insert(model.to_string(), (table.clone(), 0));
        Ok(table)
    }

    /// Builds the full-text index if the chunks table has rows and no index yet. The caller holds the writer lock.
    async fn ensure_fts_index(&self) -> Result<()> {
        if self.fts_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        if self.chunks.count_rows(None).await.context("could not count the chunks")? == 0 {
            return Ok(());
        }
        self.chunks
            .create_index(&[col::TERMS], Index::FTS(fts_params()))
            .name(FTS_INDEX.to_string())
            .replace(true)
            .execute()
            .await
            .context("could not build the full-text index")?;
        self.fts_ready.store(true, Ordering::Release);
        info!(table = %self.chunks_name, "built the full-text index");
        Ok(())
    }

    fn validate_rows(&self, doc_id: &str, rows: &[ChunkRow]) -> Result<()> {
        validate_rows(doc_id, rows, &self.model, self.dim)
    }

    /// The predicate every search applies; `Err(())` when the filter can match nothing.
    fn search_predicate(&self, filter: &SearchFilter) -> std::result::Result<Option<String>, ()> {
        if filter.doc_ids.as_ref().is_some_and(Vec::is_empty) {
            return Err(());
        }
        Ok(sql::search_predicate(&self.vis_read().hidden, filter))
    }

    fn hits(batches: &[RecordBatch], score_column: &str, score: impl Fn(f32) -> f32) -> Result<Vec<Hit>> {
        let mut hits = Vec::new();
        for b in batches {
            let scores = schema::f32s(b, score_column)?;
            for (chunk, s) in schema::read_chunks(b)?.into_iter().zip(scores.iter()) {
                let Some(s) = s.map(&score).filter(|s| s.is_finite()) else { continue };
                hits.push(Hit { chunk, score: s });
            }
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(hits)
    }

    /// The batches of a vector search: `k` rows at most, best first by distance (in its `_distance` column).
    async fn vector_query(
        &self,
        vector: &[f32],
        k: usize,
        filter: &SearchFilter,
        exact: bool,
        read: Read,
    ) -> Result<Vec<RecordBatch>> {
        if vector.len() != self.dim {
            return Err(Error::InvalidInput(format!(
                "the query vector has dimension {}, expected {}",
                vector.len(),
                self.dim
            )));
        }
        if !vector.iter().all(|x| x.is_finite()) || vector.iter().all(|x| *x == 0.0) {
            return Err(Error::InvalidInput("the query vector is zero or not finite".into()));
        }
        let Ok(predicate) = self.search_predicate(filter) else { return Ok(Vec::new()) };
        if k == 0 {
            return Ok(Vec::new());
        }
        let mut query = self
            .chunks
            .query()
            .nearest_to(vector)
            .context("invalid query vector")?
            .column(col::VECTOR)
            .distance_type(DistanceType::Cosine)
            .limit(k)
            .select(Select::columns(&read.columns(col::DISTANCE)));
        if read == Read::Candidates {
            query = query.with_row_id();
        }
        if let Some(p) = predicate {
            query = query.only_if(p);
        }
        // Without a ready index of the configured kind the search is exact: LanceDB would otherwise use any
        // vector index it finds (one of another kind, searched without the refine step).
        if exact || !self.ann_ready.load(Ordering::Acquire) {
            query = query.bypass_vector_index();
        } else {
            query = query
                .refine_factor(self.refine_factor.load(Ordering::Relaxed))
                .nprobes(self.nprobes.load(Ordering::Relaxed))
                .context("invalid nprobes")?;
            if self.options.ann_kind == AnnKind::IvfHnswSq {
                // The graph walk must keep at least the candidates the refine step re-ranks.
                let refined = k.saturating_mul(self.refine_factor.load(Ordering::Relaxed) as usize);
                query = query.ef(self.ef.load(Ordering::Relaxed).max(refined));
            }
        }
        collect(query).await.context("vector search failed")
    }

    async fn vector_search_inner(
        &self,
        vector: &[f32],
        k: usize,
        filter: &SearchFilter,
        exact: bool,
    ) -> Result<Vec<Hit>> {
        let batches = self.vector_query(vector, k, filter, exact, Read::Chunks).await?;
        let mut hits = Self::hits(&batches, col::DISTANCE, |d| 1.0 - d)?;
        hits.truncate(k);
        Ok(hits)
    }

    /// The batches of a full-text search: `k` rows at most, best first by BM25 (in its `_score` column).
    async fn fulltext_query(
        &self,
        query_terms: &str,
        k: usize,
        filter: &SearchFilter,
        read: Read,
    ) -> Result<Vec<RecordBatch>> {
        let Ok(predicate) = self.search_predicate(filter) else { return Ok(Vec::new()) };
        if k == 0 || query_terms.trim().is_empty() {
            return Ok(Vec::new());
        }
        if !self.fts_ready.load(Ordering::Acquire) {
            let _w = self.writer.lock().await;
            self.ensure_fts_index().await?;
            if !self.fts_ready.load(Ordering::Acquire) {
                return Ok(Vec::new()); // no chunks at all
            }
        }
        let fts = FullTextSearchQuery::new(query_terms.to_string())
            .with_column(col::TERMS.to_string())
            .context("invalid full-text query")?;
        let mut query =
            self.chunks.query().full_text_search(fts).limit(k).select(Select::columns(&read.columns(col::SCORE)));
        if read == Read::Candidates {
            query = query.with_row_id();
        }
        if let Some(p) = predicate {
            query = query.only_if(p);
        }
        collect(query).await.context("full-text search failed")
    }

    /// Candidates from the batches of a search run with [`Read::Candidates`], best first.
    fn candidates(batches: &[RecordBatch], score_column: &str, score: impl Fn(f32) -> f32) -> Result<Vec<Candidate>> {
        let mut out = Vec::new();
        for b in batches {
            let scores = schema::f32s(b, score_column)?;
            let doc_ids = schema::strings(b, col::DOC_ID)?;
            let idx = schema::u32s(b, col::IDX)?;
            let rows = schema::u64s(b, col::ROW_ID)?;
            for i in 0..b.num_rows() {
                let Some(s) = scores.is_valid(i).then(|| score(scores.value(i))).filter(|s| s.is_finite()) else {
                    continue;
                };
                out.push(Candidate {
                    doc_id: doc_ids.value(i).to_string(),
                    index: idx.value(i),
                    score: s,
                    row: rows.is_valid(i).then(|| rows.value(i)),
                });
            }
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(out)
    }

    /// The rows with these Lance row ids, straight from the dataset (no query plan: a search's last step).
    async fn take_rows(&self, rows: &[u64]) -> std::result::Result<RecordBatch, String> {
        let dataset = self.chunks.dataset().ok_or("not a local table")?.get().await.map_err(|e| e.to_string())?;
        let projection = dataset.schema().project(HIT_COLUMNS).map_err(|e| e.to_string())?;
        // Row ids of fragments compacted away since the search are dropped here: Lance 14 panics on a take
        // that addresses no existing fragment. A panic all the same becomes an error (read by id instead).
        let fragments: HashSet<u64> = dataset.get_fragments().iter().map(|f| f.id() as u64).collect();
        let rows: Vec<u64> = rows.iter().copied().filter(|r| fragments.contains(&(r >> 32))).collect();
        if rows.is_empty() {
            return Err("the rows have moved".into());
        }
        match AssertUnwindSafe(dataset.take_rows(&rows, projection)).catch_unwind().await {
            Ok(taken) => taken.map_err(|e| e.to_string()),
            Err(panic) => Err(panic_message(&panic)),
        }
    }

    /// The chunks with these ids that are searchable now (the slow way: a filtered scan), by id.
    async fn chunks_by_id(&self, ids: &[String]) -> Result<HashMap<String, Chunk>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut predicate = sql::in_list(col::CHUNK_ID, ids.iter().map(String::as_str));
        if let Some(hidden) = sql::search_predicate(&self.vis_read().hidden, &SearchFilter::default()) {
            predicate = format!("({predicate}) AND ({hidden})");
        }
        let query = self.chunks.query().only_if(predicate).select(Select::columns(HIT_COLUMNS));
        let batches = collect(query).await.context("could not read the chunks found")?;
        let mut out = HashMap::new();
        for b in &batches {
            for chunk in schema::read_chunks(b)? {
                out.insert(chunk.id(), chunk);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Store for LanceStore {
    async fn document_by_path(&self, path: &str) -> Result<Option<DocumentRecord>> {
        let batches = collect(self.documents.query().only_if(sql::eq("path", path)))
            .await
            .context("could not read the documents table")?;
        let mut docs = Vec::new();
        for b in &batches {
            schema::read_documents(b, &mut docs)?;
        }
        Ok(docs.into_iter().max_by_key(|d| d.updated_ms))
    }

    async fn documents(&self) -> Result<Vec<DocumentRecord>> {
        let mut docs = self.all_documents().await?;
        docs.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.id.cmp(&b.id)));
        Ok(docs)
    }

    async fn upsert_document(&self, doc: &DocumentRecord) -> Result<()> {
        let _w = self.writer.lock().await;
        let indexed = doc.status == DocStatus::Indexed;
        if !indexed {
            // Hide first: from now on the record does not vouch for the chunks.
            let mut vis = self.vis_write();
            vis.indexed.remove(&doc.id);
            vis.refresh(&doc.id);
        }
        self.merge_documents(std::slice::from_ref(doc)).await?;
        if indexed {
            // Show last: only once the record that says so is committed.
            let mut vis = self.vis_write();
            vis.indexed.insert(doc.id.clone());
            vis.refresh(&doc.id);
        }
        Ok(())
    }

    async fn replace_chunks(&self, doc_id: &str, rows: Vec<ChunkRow>) -> Result<()> {
        self.validate_rows(doc_id, &rows)?;
        let _w = self.writer.lock().await;
        let predicate = sql::eq(col::DOC_ID, doc_id);
        if rows.is_empty() {
            self.chunks.delete(predicate.as_str()).await.context("could not delete the document's chunks")?;
            self.committed(1).await;
            let mut vis = self.vis_write();
            vis.with_chunks.remove(doc_id);
            vis.refresh(doc_id);
            return Ok(());
        }
        {
            let mut vis = self.vis_write();
            vis.with_chunks.insert(doc_id.to_string());
            vis.refresh(doc_id);
        }
        let batch = schema::chunks_batch(&rows, self.dim)?;
        // One commit: rows with a known chunk_id are updated, new ones inserted, and this document's rows that are
        // not in `rows` deleted.
        let mut merge = self.chunks.merge_insert(&[col::CHUNK_ID]);
        merge
            .when_matched_update_all(None)
            .when_not_matched_insert_all()
            .when_not_matched_by_source_delete(Some(predicate));
        let result = merge.execute(reader(batch)).await.context("could not write the document's chunks")?;
        self.committed(1).await;
        debug!(
            doc_id,
            inserted = result.num_inserted_rows,
            updated = result.num_updated_rows,
            deleted = result.num_deleted_rows,
            version = result.version,
            "replaced chunks"
        );
        if let Err(e) = self.ensure_fts_index().await {
            // Not fatal: the chunks are written; `maintain` or the next write builds the index.
            warn!("{e}");
        }
        Ok(())
    }

    async fn remove_document(&self, doc_id: &str) -> Result<()> {
        let _w = self.writer.lock().await;
        {
            let mut vis = self.vis_write();
            vis.indexed.remove(doc_id);
            vis.refresh(doc_id);
        }
        // Chunks first: a crash in between leaves a record without chunks, never chunks without a record.
        self.chunks
            .delete(sql::eq(col::DOC_ID, doc_id).as_str())
            .await
            .context("could not delete the document's chunks")?;
        self.committed(1).await;
        self.documents.delete(sql::eq("id", doc_id).as_str()).await.context("could not delete the document")?;
        self.committed(0).await;
        let mut vis = self.vis_write();
        vis.with_chunks.remove(doc_id);
        vis.refresh(doc_id);
        Ok(())
    }

    async fn chunk_rows(&self, doc_id: &str) -> Result<Vec<ChunkRow>> {
        let batches = collect(self.chunks.query().only_if(sql::eq(col::DOC_ID, doc_id)))
            .await
            .context("could not read the document's chunks")?;
        let mut rows = Vec::new();
        for b in &batches {
            rows.extend(schema::read_chunk_rows(b)?);
        }
        rows.sort_by_key(|r| r.chunk.index);
        Ok(rows)
    }

    async fn vector_search(&self, vector: &[f32], k: usize, filter: &SearchFilter) -> Result<Vec<Hit>> {
        self.vector_search_inner(vector, k, filter, false).await
    }

    async fn exact_vector_search(&self, vector: &[f32], k: usize, filter: &SearchFilter) -> Result<Vec<Hit>> {
        self.vector_search_inner(vector, k, filter, true).await
    }

    async fn fulltext_search(&self, query_terms: &str, k: usize, filter: &SearchFilter) -> Result<Vec<Hit>> {
        let batches = self.fulltext_query(query_terms, k, filter, Read::Chunks).await?;
        let mut hits = Self::hits(&batches, col::SCORE, |s| s)?;
        hits.truncate(k);
        Ok(hits)
    }

    async fn vector_candidates(&self, vector: &[f32], k: usize, filter: &SearchFilter) -> Result<Vec<Candidate>> {
        let batches = self.vector_query(vector, k, filter, false, Read::Candidates).await?;
        let mut found = Self::candidates(&batches, col::DISTANCE, |d| 1.0 - d)?;
        found.truncate(k);
        Ok(found)
    }

    async fn fulltext_candidates(&self, query_terms: &str, k: usize, filter: &SearchFilter) -> Result<Vec<Candidate>> {
        let batches = self.fulltext_query(query_terms, k, filter, Read::Candidates).await?;
        let mut found = Self::candidates(&batches, col::SCORE, |s| s)?;
        found.truncate(k);
        Ok(found)
    }

    async fn read_hits(&self, candidates: &[Candidate]) -> Result<Vec<Hit>> {
        // Read by row id (a take: only these rows are read); a row id can go stale when a write or compaction
        // lands between the search and this read, so each row read is checked against its candidate, and the
        // candidates not found that way are looked up by id.
        let rows: Vec<u64> = candidates.iter().filter_map(|c| c.row).collect();
        let mut found: HashMap<String, Chunk> = HashMap::new();
        if !rows.is_empty() {
            match self.take_rows(&rows).await {
                Ok(batch) => {
                    for chunk in schema::read_chunks(&batch)? {
                        found.insert(chunk.id(), chunk);
                    }
                }
                Err(e) => debug!(error = %e, "reading the chunks found by row id failed; reading them by id"),
            }
        }
        let hidden = self.vis_read().hidden.clone();
        found.retain(|_, chunk| !hidden.contains(&chunk.doc_id));
        let missing: Vec<String> = candidates.iter().map(Candidate::id).filter(|id| !found.contains_key(id)).collect();
        found.extend(self.chunks_by_id(&missing).await?);
        Ok(candidates
            .iter()
            .filter_map(|c| found.get(&c.id()).map(|chunk| Hit { chunk: chunk.clone(), score: c.score }))
            .collect())
    }

    async fn stats(&self) -> Result<LibraryStats> {
        let count = |filter: Option<String>| async move {
            self.documents.count_rows(filter).await.context("could not count the documents")
        };
        let documents = count(None).await? as u64;
        let indexed = count(Some(sql::eq("status", DocStatus::Indexed.as_str()))).await? as u64;
        let failed = count(Some(sql::eq("status", DocStatus::Failed.as_str()))).await? as u64;
        let chunks = self.chunks.count_rows(None).await.context("could not count the chunks")? as u64;
        let dir = self.dir.clone();
        let disk_bytes = tokio::task::spawn_blocking(move || files::disk_bytes(&dir)).await.unwrap_or(0);
        Ok(LibraryStats { documents, indexed, failed, chunks, disk_bytes, embedding_model: Some(self.model.clone()) })
    }

    fn recovered(&self) -> Vec<String> {
        self.recovered.clone()
    }

    async fn upsert_documents(&self, docs: &[DocumentRecord]) -> Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        let _w = self.writer.lock().await;
        {
            // As for one record: hide first, show once the records that say so are committed.
            let mut vis = self.vis_write();
            for d in docs.iter().filter(|d| d.status != DocStatus::Indexed) {
                vis.indexed.remove(&d.id);
                vis.refresh(&d.id);
            }
        }
        self.merge_documents(docs).await?;
        let mut vis = self.vis_write();
        for d in docs.iter().filter(|d| d.status == DocStatus::Indexed) {
            vis.indexed.insert(d.id.clone());
            vis.refresh(&d.id);
        }
        Ok(())
    }

    async fn stage_chunks(&self, model: &str, dim: usize, doc_id: &str, rows: Vec<ChunkRow>) -> Result<()> {
        validate_rows(doc_id, &rows, model, dim)?;
        let _w = self.writer.lock().await;
        let table = self.staged_table(model, dim).await?;
        let predicate = sql::eq(col::DOC_ID, doc_id);
        if rows.is_empty() {
            table
                .delete(predicate.as_str())
                .await
                .context("could not delete the document's chunks of the new model")?;
        } else {
            let batch = schema::chunks_batch(&rows, dim)?;
            let mut merge = table.merge_insert(&[col::CHUNK_ID]);
            merge
                .when_matched_update_all(None)
                .when_not_matched_insert_all()
                .when_not_matched_by_source_delete(Some(predicate));
            merge.execute(reader(batch)).await.context("could not write the document's chunks of the new model")?;
        }
        let due = lock_staged(&self.staged).get_mut(model).is_some_and(|(_, commits)| {
            *commits += 1;
            let due = *commits >= COMPACT_EVERY;
            if due {
                *commits = 0;
            }
            due
        });
        if due {
            compact_in_line(&schema::chunks_table_name(model), &table).await;
        }
        Ok(())
    }

    async fn seal_staged(&self, model: &str, dim: usize) -> Result<()> {
        let _w = self.writer.lock().await;
        let table = self.staged_table(model, dim).await?;
        let name = schema::chunks_table_name(model);
        let compact = OptimizeAction::Compact { options: CompactionOptions::default(), remap_options: None };
        table.optimize(compact).await.with_context(|| format!("could not compact `{name}`"))?;
        if table.count_rows(None).await.context("could not count the chunks of the new model")? > 0 {
            table
                .create_index(&[col::TERMS], Index::FTS(fts_params()))
                .name(FTS_INDEX.to_string())
                .replace(true)
                .execute()
                .await
                .context("could not build the full-text index of the new model's chunks")?;
        }
        info!(table = %name, "the chunks table of the new embedding model is ready");
        Ok(())
    }

    async fn drop_model(&self, model: &str) -> Result<()> {
        if model == self.model {
            return Err(Error::InvalidInput(format!(
                "`{model}` is the library's current embedding model; its chunks cannot be removed"
            )));
        }
        let _w = self.writer.lock().await;
        lock_staged(&self.staged).remove(model);
        let name = schema::chunks_table_name(model);
        match self._db.drop_table(&name, &[]).await {
            Ok(()) => {
                info!(table = %name, "removed the chunks table of another embedding model");
                Ok(())
            }
            Err(lancedb::Error::TableNotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(format!("could not remove the table `{name}`"), e)),
        }
    }

    async fn maintain(&self) -> Result<()> {
        let _w = self.writer.lock().await;
        self.ensure_fts_index().await?;
        let rows = self.chunks.count_rows(None).await.context("could not count the chunks")?;
        if !self.ann_ready.load(Ordering::Acquire) && rows >= self.options.ann_index_threshold {
            info!(rows, "building the ANN index of the chunks table");
            let index = match self.options.ann_kind {
                AnnKind::IvfPq => Index::IvfPq(ann_params(self.dim)),
                AnnKind::IvfHnswSq => {
                    Index::IvfHnswSq(IvfHnswSqIndexBuilder::default().distance_type(DistanceType::Cosine))
                }
            };
            self.chunks
                .create_index(&[col::VECTOR], index)
                .name(ANN_INDEX.to_string())
                .replace(true)
                .execute()
                .await
                .context("could not build the vector index")?;
            self.ann_ready.store(true, Ordering::Release);
        }
        let keep = lancedb::table::Duration::from_std(self.options.keep_versions_for)
            .unwrap_or_else(|_| lancedb::table::Duration::minutes(5));
        for (name, table) in [(DOCUMENTS_TABLE, &self.documents), (self.chunks_name.as_str(), &self.chunks)] {
            // Merge small fragments (each write makes one) and drop deleted rows.
            let compact = OptimizeAction::Compact { options: CompactionOptions::default(), remap_options: None };
            let stats = table.optimize(compact).await.with_context(|| format!("could not compact `{name}`"))?;
            if let Some(c) = stats.compaction {
                debug!(table = name, removed = c.fragments_removed, added = c.fragments_added, "compacted");
            }
            // Add rows written since the indexes were built to them (searches also scan unindexed rows, so
            // this is for speed, not correctness).
            if !table.list_indices().await.context("could not list indexes")?.is_empty() {
                table
                    .optimize(OptimizeAction::Index(OptimizeOptions::default()))
                    .await
                    .with_context(|| format!("could not update the indexes of `{name}`"))?;
            }
            // Remove old versions and the files only they use. The writer lock is held and this process is the
            // only writer, so no commit is in flight: files of unfinished commits can go too.
            let prune = OptimizeAction::Prune {
                older_than: Some(keep),
                delete_unverified: Some(true),
                error_if_tagged_old_versions: Some(false),
            };
            let stats = table.optimize(prune).await.with_context(|| format!("could not prune `{name}`"))?;
            if let Some(p) = stats.prune {
                debug!(table = name, versions = p.old_versions, bytes = p.bytes_removed, "pruned");
            }
        }
        Ok(())
    }
}
