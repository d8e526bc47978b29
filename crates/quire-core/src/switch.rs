//! Switching the library to another embedding model with no gap in search.
//!
//! Each embedding model has its own chunks table (vectors of different models never mix). A switch fills the
//! new model's table beside the current one: every indexed document's stored chunks are embedded again with the
//! new model (same chunks, same pages and headings; the context line is rebuilt from the title and heading
//! path), while searches and imports go on with the current model. Documents imported or changed meanwhile are
//! caught up in further rounds. When every document is done, the new table is sealed (compacted, full-text
//! index) and the plan marked committed, which is the moment of the switch: from then on the library opens
//! with the new model, and [`EmbeddingSwitch::adopt`] moves the document records over and removes the old table.
//!
//! The plan lives in `<data_dir>/embedding-switch.json`, saved every few seconds, so a crash or a restart
//! resumes where it was (a document embedded after the last save is embedded again; its rows are replaced).
//! Until the plan is committed the library opens with the current model and its index is never touched;
//! [`EmbeddingSwitch::abandon`] removes the new table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::chunk::context_line;
use crate::error::{Error, Result};
use crate::gate::Gate;
use crate::settings::EmbeddingChoice;
use crate::traits::{ChunkRow, Embedder, EmbedderInfo, Store};
use crate::types::{DocStatus, DocumentRecord};

const FILE_NAME: &str = "embedding-switch.json";
/// How often the plan is written while documents are being embedded.
const SAVE_EVERY: Duration = Duration::from_secs(2);
/// Rounds in a row that find documents to do but can embed none of them (their chunks are being rewritten)
/// before the switch goes ahead without them; they are embedded again after it, like any document of another
/// model.
const STUCK_ROUNDS: u32 = 5;
const STUCK_WAIT: Duration = Duration::from_secs(1);

/// What a switch is doing, saved in the data folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwitchPlan {
    /// The embedding model the library is indexed with now.
    pub source: EmbeddingChoice,
    /// The embedding model the library switches to.
    pub target: EmbeddingChoice,
    /// The id of the current model (its chunks table is the one searched until the switch).
    pub from: String,
    /// The id of the new model, once it was loaded.
    #[serde(default)]
    pub to: Option<String>,
    /// The new model's vector dimension, once it was loaded.
    #[serde(default)]
    pub dim: usize,
    /// Documents whose chunks are in the new model's table: document id → content hash of the version embedded.
    #[serde(default)]
    pub done: BTreeMap<String, String>,
    /// Every document is embedded and the new table sealed: the library now opens with the new model.
    #[serde(default)]
    pub committed: bool,
    /// When the switch began, milliseconds since the Unix epoch.
    pub started_ms: i64,
}

/// How far a switch is: documents of the current model embedded with the new one, of all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SwitchProgress {
    pub done: usize,
    pub total: usize,
}

/// How [`EmbeddingSwitch::fill`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filled {
    /// Every document is embedded with the new model: ready to [`commit`](EmbeddingSwitch::commit).
    Ready,
    /// The cancel flag was raised; the plan is saved and can be resumed or abandoned.
    Cancelled,
}

/// What [`EmbeddingSwitch::adopt`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Adopted {
    /// Documents now indexed with the new model.
    pub documents: usize,
    /// Documents that changed after they were embedded for the switch (or were never embedded): they are left
    /// with the old model's id, so that they are indexed again.
    pub left: usize,
}

/// A switch of embedding model and its plan file.
#[derive(Debug)]
pub struct EmbeddingSwitch {
    file: PathBuf,
    pub plan: SwitchPlan,
}

impl EmbeddingSwitch {
    /// The switch under way in `data_dir`, if any.
    pub fn load(data_dir: &Path) -> Result<Option<EmbeddingSwitch>> {
        let file = data_dir.join(FILE_NAME);
        match std::fs::read(&file) {
            Ok(bytes) => {
                let plan = serde_json::from_slice::<SwitchPlan>(&bytes)
                    .map_err(|e| Error::InvalidInput(format!("{} is damaged: {e}", file.display())))?;
                Ok(Some(EmbeddingSwitch { file, plan }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&file, e)),
        }
    }

    /// Begins a switch from the library's current model (`source`, whose id is `from`) to `target`, and saves
    /// its plan. Fails if one is under way.
    pub fn begin(
        data_dir: &Path,
        source: EmbeddingChoice,
        from: &str,
        target: EmbeddingChoice,
        now_ms: i64,
    ) -> Result<EmbeddingSwitch> {
        if let Some(existing) = EmbeddingSwitch::load(data_dir)? {
            return Err(Error::InvalidInput(format!(
                "the library is already switching to {}; cancel that first",
                existing.plan.target.label()
            )));
        }
        let plan = SwitchPlan {
            source,
            target,
            from: from.to_string(),
            to: None,
            dim: 0,
            done: BTreeMap::new(),
            committed: false,
            started_ms: now_ms,
        };
        let switch = EmbeddingSwitch { file: data_dir.join(FILE_NAME), plan };
        switch.save()?;
        Ok(switch)
    }

    /// Writes the plan atomically.
    pub fn save(&self) -> Result<()> {
        let text = serde_json::to_vec_pretty(&self.plan).map_err(|e| Error::InvalidInput(e.to_string()))?;
        crate::paths::write_atomic(&self.file, &text)
    }

    /// Records the new model once loaded. A model other than the one the plan was started with (the file was
    /// replaced) starts over: returns the id whose table must be removed first.
    pub fn set_target_model(&mut self, info: &EmbedderInfo) -> Result<Option<String>> {
        if info.model_id == self.plan.from {
            return Err(Error::InvalidInput(format!(
                "{} is the model the library is already indexed with",
                self.plan.target.label()
            )));
        }
        let previous = match &self.plan.to {
            Some(to) if *to == info.model_id && self.plan.dim == info.dim => return Ok(None),
            Some(to) => Some(to.clone()),
            None => None,
        };
        self.plan.to = Some(info.model_id.clone());
        self.plan.dim = info.dim;
        self.plan.done.clear();
        self.save()?;
        Ok(previous)
    }

    /// Documents of the current model done, of all of them.
    pub fn progress(&self, documents: &[DocumentRecord]) -> SwitchProgress {
        let mine: Vec<&DocumentRecord> = documents.iter().filter(|d| self.of_source(d)).collect();
        let done = mine.iter().filter(|d| self.is_done(d)).count();
        SwitchProgress { done, total: mine.len() }
    }

    fn of_source(&self, doc: &DocumentRecord) -> bool {
        doc.status == DocStatus::Indexed && doc.embedding_model == self.plan.from
    }

    fn is_done(&self, doc: &DocumentRecord) -> bool {
        self.plan.done.get(&doc.id) == Some(&doc.content_hash)
    }

    fn target(&self) -> Result<(String, usize)> {
        match &self.plan.to {
            Some(to) if self.plan.dim > 0 => Ok((to.clone(), self.plan.dim)),
            _ => Err(Error::InvalidInput("the new embedding model was not loaded yet".into())),
        }
    }

    /// Embeds with `embedder` (the new model) every indexed document of the current model that is not done,
    /// round after round until none is left, passing `gate` before each document (paused indexing and answers
    /// being written hold it). `on_progress` hears after each document.
    pub async fn fill(
        &mut self,
        store: &dyn Store,
        embedder: &dyn Embedder,
        gate: &Gate,
        cancel: &AtomicBool,
        batch: usize,
        on_progress: &mut (dyn FnMut(SwitchProgress) + Send),
    ) -> Result<Filled> {
        let (to, dim) = self.target()?;
        if embedder.info().model_id != to {
            return Err(Error::InvalidInput(format!(
                "the switch embeds with `{to}`, not with `{}`",
                embedder.info().model_id
            )));
        }
        let mut saved = Instant::now();
        let mut stuck = 0u32;
        loop {
            let documents = store.documents().await?;
            let mut progress = self.progress(&documents);
            on_progress(progress);
            let todo: Vec<&DocumentRecord> =
                documents.iter().filter(|d| self.of_source(d) && !self.is_done(d)).collect();
            if todo.is_empty() {
                self.save()?;
                return Ok(Filled::Ready);
            }
            let mut embedded = 0usize;
            for doc in todo {
                gate.pass(Some(cancel)).await;
                if cancel.load(Ordering::Relaxed) {
                    self.save()?;
                    return Ok(Filled::Cancelled);
                }
                let rows = store.chunk_rows(&doc.id).await?;
                if rows.len() != doc.chunk_count as usize {
                    // Being written by an import now: the next round sees its new record.
                    continue;
                }
                let rows = self.embed_rows(doc, rows, embedder, &to, batch).await?;
                store.stage_chunks(&to, dim, &doc.id, rows).await?;
                self.plan.done.insert(doc.id.clone(), doc.content_hash.clone());
                embedded += 1;
                progress.done += 1;
                on_progress(progress);
                if saved.elapsed() >= SAVE_EVERY {
                    self.save()?;
                    saved = Instant::now();
                }
            }
            if embedded == 0 {
                stuck += 1;
                if stuck >= STUCK_ROUNDS {
                    tracing::warn!("documents being rewritten are left to be indexed again after the switch");
                    self.save()?;
                    return Ok(Filled::Ready);
                }
                tokio::time::sleep(STUCK_WAIT).await;
            } else {
                stuck = 0;
            }
        }
    }

    /// The document's stored chunks with vectors of the new model.
    async fn embed_rows(
        &self,
        doc: &DocumentRecord,
        rows: Vec<ChunkRow>,
        embedder: &dyn Embedder,
        to: &str,
        batch: usize,
    ) -> Result<Vec<ChunkRow>> {
        let mut out = Vec::with_capacity(rows.len());
        for group in rows.chunks(batch.max(1)) {
            let inputs: Vec<String> = group
                .iter()
                .map(|r| {
                    let context = context_line(doc.title.as_deref(), &r.chunk.heading_path);
                    if context.is_empty() { r.chunk.text.clone() } else { format!("{context}\n{}", r.chunk.text) }
                })
                .collect();
            let embedded = embedder.embed(inputs).await?;
            if embedded.vectors.len() != group.len() || embedded.tokens.len() != group.len() {
                return Err(Error::Model(format!(
                    "the new embedding model returned {} vectors for {} chunks of {}",
                    embedded.vectors.len(),
                    group.len(),
                    doc.path
                )));
            }
            for ((row, vector), tokens) in group.iter().zip(embedded.vectors).zip(embedded.tokens) {
                let mut chunk = row.chunk.clone();
                chunk.embedding_model = to.to_string();
                chunk.tokens = tokens;
                out.push(ChunkRow { chunk, vector, terms: row.terms.clone() });
            }
        }
        Ok(out)
    }

    /// Seals the new model's table and marks the plan committed: from now on the library opens with the new
    /// model (the caller reopens it, and [`EmbeddingSwitch::adopt`] finishes the switch).
    pub async fn commit(&mut self, store: &dyn Store) -> Result<()> {
        let (to, dim) = self.target()?;
        store.seal_staged(&to, dim).await?;
        self.plan.committed = true;
        self.save()
    }

    /// Finishes a committed switch in a library opened with the new model (`store`, whose model id is
    /// `current`): the records of the documents embedded for it move to the new model, the chunks of those
    /// that changed since are removed (they are indexed again), the old model's table is removed, and so is
    /// the plan. Safe to run again after a crash midway.
    pub async fn adopt(self, store: &dyn Store, current: &str) -> Result<Adopted> {
        let (to, _) = self.target()?;
        if !self.plan.committed || to != current {
            return Err(Error::InvalidInput(format!(
                "the library is open with `{current}`, not with the model it switched to (`{to}`)"
            )));
        }
        let mut adopted = Adopted::default();
        let mut moved = Vec::new();
        for doc in store.documents().await? {
            if doc.embedding_model != self.plan.from {
                continue;
            }
            if doc.status == DocStatus::Indexed && self.is_done(&doc) {
                moved.push(DocumentRecord { embedding_model: to.clone(), ..doc });
                continue;
            }
            if self.plan.done.contains_key(&doc.id) {
                // Its chunks in the new table are of an older version.
                store.replace_chunks(&doc.id, Vec::new()).await?;
            }
            if doc.status == DocStatus::Indexed {
                adopted.left += 1;
            }
        }
        adopted.documents = moved.len();
        store.upsert_documents(&moved).await?;
        store.drop_model(&self.plan.from).await?;
        self.remove()?;
        tracing::info!(documents = adopted.documents, left = adopted.left, model = %to, "switched the embedding model");
        Ok(adopted)
    }

    /// Gives the switch up: the new model's table and the plan are removed; the current index is untouched.
    pub async fn abandon(self, store: &dyn Store) -> Result<()> {
        if self.plan.committed {
            return Err(Error::InvalidInput("the switch is already done; it cannot be given up".into()));
        }
        if let Some(to) = &self.plan.to {
            store.drop_model(to).await?;
        }
        self.remove()
    }

    fn remove(self) -> Result<()> {
        match std::fs::remove_file(&self.file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&self.file, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::SearchFilter;
    use crate::fake::{HashEmbedder, MemoryStore, TextExtractor};
    use crate::library::{IngestOptions, Library, LibraryConfig};
    use crate::types::SearchMode;

    struct Fixture {
        docs: tempfile::TempDir,
        data: tempfile::TempDir,
        store: Arc<MemoryStore>,
        library: Library,
        target: HashEmbedder,
    }

    fn fixture() -> Fixture {
        let store = Arc::new(MemoryStore::default());
        let library = Library::new(
            store.clone(),
            Arc::new(HashEmbedder::new(64)),
            Arc::new(TextExtractor),
            LibraryConfig::default(),
        );
        Fixture {
            docs: tempfile::tempdir().expect("tempdir"),
            data: tempfile::tempdir().expect("tempdir"),
            store,
            library,
            target: HashEmbedder::new(64).with_id("hash-new"),
        }
    }

    fn local(name: &str) -> EmbeddingChoice {
        EmbeddingChoice { local: Some(PathBuf::from(name)), remote: None }
    }

    async fn ingest(f: &Fixture, files: &[(&str, &str)]) {
        for (name, text) in files {
            std::fs::write(f.docs.path().join(name), text).expect("write");
        }
        let options = IngestOptions { prune_missing: true, force: false };
        let report = f.library.ingest(&[f.docs.path().to_path_buf()], &options, &|_| {}, None).await.expect("ingest");
        assert_eq!(report.failed, 0, "{report:?}");
    }

    fn begin(f: &Fixture) -> EmbeddingSwitch {
        let mut switch =
            EmbeddingSwitch::begin(f.data.path(), local("old.gguf"), "hash-64", local("new.gguf"), 1).expect("begin");
        assert_eq!(switch.set_target_model(f.target.info()).expect("target"), None);
        switch
    }

    async fn fill(f: &Fixture, switch: &mut EmbeddingSwitch, cancel: &AtomicBool) -> (Filled, Vec<SwitchProgress>) {
        let mut seen = Vec::new();
        let gate = Gate::default();
        let filled =
            switch.fill(f.store.as_ref(), &f.target, &gate, cancel, 8, &mut |p| seen.push(p)).await.expect("fill");
        (filled, seen)
    }

    const FILES: [(&str, &str); 3] = [
        ("kettle.txt", "The kettle boils water for tea in three minutes."),
        ("garden.txt", "Tomatoes in the garden need water every morning."),
        ("bikes.txt", "A bicycle chain wants oil after rain."),
    ];

    #[tokio::test]
    async fn fills_the_new_models_table_beside_the_current_one() {
        let f = fixture();
        ingest(&f, &FILES).await;
        let current_before = f.store.chunk_count();
        let mut switch = begin(&f);
        let (filled, seen) = fill(&f, &mut switch, &AtomicBool::new(false)).await;
        assert_eq!(filled, Filled::Ready);
        assert_eq!(seen.last(), Some(&SwitchProgress { done: 3, total: 3 }), "{seen:?}");
        let staged = f.store.staged("hash-new");
        assert_eq!(staged.len(), 3);
        for doc in f.library.documents().await.expect("documents") {
            let current = f.store.chunk_rows(&doc.id).await.expect("rows");
            let new = &staged[&doc.id];
            assert_eq!(new.len(), current.len());
            for (n, c) in new.iter().zip(&current) {
                assert_eq!(n.chunk.embedding_model, "hash-new");
                assert_eq!(
                    (n.chunk.index, &n.chunk.text, n.chunk.page_start),
                    (c.chunk.index, &c.chunk.text, c.chunk.page_start)
                );
                assert_eq!(c.chunk.embedding_model, "hash-64", "the current chunks were changed");
            }
            assert_eq!(switch.plan.done.get(&doc.id), Some(&doc.content_hash));
        }
        assert_eq!(f.store.chunk_count(), current_before);
        let hits =
            f.library.search("kettle tea", 3, SearchMode::Hybrid, &SearchFilter::default()).await.expect("search");
        assert!(hits.first().is_some_and(|h| h.chunk.path.ends_with("kettle.txt")), "{hits:?}");
        let saved = EmbeddingSwitch::load(f.data.path()).expect("load").expect("a plan");
        assert_eq!(saved.plan, switch.plan);
    }

    #[tokio::test]
    async fn documents_changed_or_added_meanwhile_are_caught_up() {
        let f = fixture();
        ingest(&f, &FILES).await;
        let mut switch = begin(&f);
        assert_eq!(fill(&f, &mut switch, &AtomicBool::new(false)).await.0, Filled::Ready);
        ingest(&f, &[("kettle.txt", "The kettle now whistles when the water boils."), ("new.txt", "A new note.")])
            .await;
        let calls = f.target.embed_calls.load(Ordering::Relaxed);
        let (filled, seen) = fill(&f, &mut switch, &AtomicBool::new(false)).await;
        assert_eq!(filled, Filled::Ready);
        assert_eq!(seen.first(), Some(&SwitchProgress { done: 2, total: 4 }));
        assert_eq!(seen.last(), Some(&SwitchProgress { done: 4, total: 4 }));
        assert_eq!(f.target.embed_calls.load(Ordering::Relaxed), calls + 2, "only the two new versions are embedded");
        let kettle = f.library.documents().await.expect("docs").into_iter().find(|d| d.path.ends_with("kettle.txt"));
        let kettle = kettle.expect("kettle");
        assert!(f.store.staged("hash-new")[&kettle.id][0].chunk.text.contains("whistles"));
    }

    #[tokio::test]
    async fn a_cancelled_switch_resumes_without_embedding_twice() {
        let f = fixture();
        ingest(&f, &FILES).await;
        let mut switch = begin(&f);
        let cancel = AtomicBool::new(false);
        let count = AtomicUsize::new(0);
        let gate = Gate::default();
        let filled = switch
            .fill(f.store.as_ref(), &f.target, &gate, &cancel, 8, &mut |p| {
                if p.done > 0 && count.fetch_add(1, Ordering::Relaxed) == 0 {
                    cancel.store(true, Ordering::Relaxed);
                }
            })
            .await
            .expect("fill");
        assert_eq!(filled, Filled::Cancelled);
        let mut resumed = EmbeddingSwitch::load(f.data.path()).expect("load").expect("a plan");
        assert_eq!(resumed.plan.done.len(), 1, "the plan is saved when cancelled");
        let calls = f.target.embed_calls.load(Ordering::Relaxed);
        assert_eq!(fill(&f, &mut resumed, &AtomicBool::new(false)).await.0, Filled::Ready);
        assert_eq!(f.target.embed_calls.load(Ordering::Relaxed), calls + 2);
    }

    #[tokio::test]
    async fn adopting_moves_the_records_and_leaves_changed_documents_to_index_again() {
        let f = fixture();
        ingest(&f, &FILES).await;
        let mut switch = begin(&f);
        assert_eq!(fill(&f, &mut switch, &AtomicBool::new(false)).await.0, Filled::Ready);
        switch.commit(f.store.as_ref()).await.expect("commit");
        assert!(EmbeddingSwitch::load(f.data.path()).expect("load").expect("plan").plan.committed);
        ingest(&f, &[("garden.txt", "Peppers in the garden.")]).await;
        let wrong = EmbeddingSwitch::load(f.data.path()).expect("load").expect("plan");
        assert!(wrong.adopt(f.store.as_ref(), "hash-64").await.is_err(), "adopted into the old model's library");
        let switch = EmbeddingSwitch::load(f.data.path()).expect("load").expect("plan");
        let adopted = switch.adopt(f.store.as_ref(), "hash-new").await.expect("adopt");
        assert_eq!(adopted, Adopted { documents: 2, left: 1 });
        let models: Vec<(String, String)> = f
            .library
            .documents()
            .await
            .expect("docs")
            .into_iter()
            .map(|d| (d.path.rsplit('/').next().unwrap_or_default().to_string(), d.embedding_model))
            .collect();
        assert!(models.contains(&("kettle.txt".into(), "hash-new".into())), "{models:?}");
        assert!(models.contains(&("garden.txt".into(), "hash-64".into())), "{models:?}");
        assert!(EmbeddingSwitch::load(f.data.path()).expect("load").is_none(), "the plan is removed");
    }

    #[tokio::test]
    async fn abandoning_removes_the_new_table_and_the_plan_only() {
        let f = fixture();
        ingest(&f, &FILES).await;
        let mut switch = begin(&f);
        assert_eq!(fill(&f, &mut switch, &AtomicBool::new(false)).await.0, Filled::Ready);
        let before = f.store.chunk_count();
        switch.abandon(f.store.as_ref()).await.expect("abandon");
        assert!(f.store.staged("hash-new").is_empty());
        assert_eq!(f.store.chunk_count(), before);
        assert!(EmbeddingSwitch::load(f.data.path()).expect("load").is_none());
        assert!(f.library.documents().await.expect("docs").iter().all(|d| d.embedding_model == "hash-64"));
    }

    #[tokio::test]
    async fn a_switch_to_the_same_model_or_a_second_switch_is_refused() {
        let f = fixture();
        let mut switch =
            EmbeddingSwitch::begin(f.data.path(), local("a.gguf"), "hash-64", local("b.gguf"), 1).expect("begin");
        let same = switch.set_target_model(HashEmbedder::new(64).info()).expect_err("same model");
        assert!(same.to_string().contains("already indexed with"), "{same}");
        let again = EmbeddingSwitch::begin(f.data.path(), local("a.gguf"), "hash-64", local("c.gguf"), 2);
        assert!(again.expect_err("second").to_string().contains("already switching to b.gguf"));
    }
}
