//! In-memory stand-ins for the adapters, for unit tests of the core's logic. The real adapters are tested on
//! real parts in their own crates and in the integration tests.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::error::{Error, ExtractError, Result};
use crate::traits::{ChunkRow, Embedder, EmbedderInfo, Embeddings, Extractor, SearchFilter, Store};
use crate::types::{Block, BlockKind, Candidate, DocStatus, DocumentRecord, ExtractedDoc, Format, Hit, LibraryStats};

/// A store in memory. It can be told to fail the next chunk write, as a crash mid-document would.
#[derive(Default)]
pub struct MemoryStore {
    /// Full-text searches run so far.
    pub fulltext_searches: AtomicUsize,
    docs: Mutex<BTreeMap<String, DocumentRecord>>,
    chunks: Mutex<HashMap<String, Vec<ChunkRow>>>,
    /// Chunks of other embedding models, by model then document.
    staged: Mutex<HashMap<String, HashMap<String, Vec<ChunkRow>>>>,
    fail_next_chunk_write: Mutex<bool>,
}

impl MemoryStore {
    pub fn fail_next_chunk_write(&self) {
        if let Ok(mut f) = self.fail_next_chunk_write.lock() {
            *f = true;
        }
    }

    /// The chunks staged for another embedding model, by document.
    pub fn staged(&self, model: &str) -> HashMap<String, Vec<ChunkRow>> {
        self.staged.lock().map(|s| s.get(model).cloned().unwrap_or_default()).unwrap_or_default()
    }

    pub fn chunk_count(&self) -> usize {
        self.chunks.lock().map(|c| c.values().map(Vec::len).sum()).unwrap_or(0)
    }

    fn searchable(&self, filter: &SearchFilter) -> Vec<ChunkRow> {
        let docs = self.docs.lock().map(|d| d.clone()).unwrap_or_default();
        let indexed: HashSet<&str> =
            docs.values().filter(|d| d.status == DocStatus::Indexed).map(|d| d.id.as_str()).collect();
        let chunks = self.chunks.lock().map(|c| c.clone()).unwrap_or_default();
        chunks
            .into_iter()
            .filter(|(id, _)| indexed.contains(id.as_str()))
            .filter(|(id, _)| filter.doc_ids.as_ref().is_none_or(|ids| ids.contains(id)))
            .flat_map(|(_, rows)| rows)
            .filter(|r| filter.path_prefix.as_ref().is_none_or(|p| r.chunk.path.starts_with(p.as_str())))
            .collect()
    }
}

fn lock_err<T>(_: T) -> Error {
    Error::Store("lock poisoned".into())
}

#[async_trait]
impl Store for MemoryStore {
    async fn document_by_path(&self, path: &str) -> Result<Option<DocumentRecord>> {
        Ok(self.docs.lock().map_err(lock_err)?.values().find(|d| d.path == path).cloned())
    }

    async fn documents(&self) -> Result<Vec<DocumentRecord>> {
        let mut docs: Vec<DocumentRecord> = self.docs.lock().map_err(lock_err)?.values().cloned().collect();
        docs.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(docs)
    }

    async fn upsert_document(&self, doc: &DocumentRecord) -> Result<()> {
        self.docs.lock().map_err(lock_err)?.insert(doc.id.clone(), doc.clone());
        Ok(())
    }

    async fn replace_chunks(&self, doc_id: &str, rows: Vec<ChunkRow>) -> Result<()> {
        let mut fail = self.fail_next_chunk_write.lock().map_err(lock_err)?;
        if *fail {
            *fail = false;
            return Err(Error::Store("simulated crash while writing chunks".into()));
        }
        self.chunks.lock().map_err(lock_err)?.insert(doc_id.to_string(), rows);
        Ok(())
    }

    async fn remove_document(&self, doc_id: &str) -> Result<()> {
        self.docs.lock().map_err(lock_err)?.remove(doc_id);
        self.chunks.lock().map_err(lock_err)?.remove(doc_id);
        Ok(())
    }

    async fn chunk_rows(&self, doc_id: &str) -> Result<Vec<ChunkRow>> {
        Ok(self.chunks.lock().map_err(lock_err)?.get(doc_id).cloned().unwrap_or_default())
    }

    async fn vector_search(&self, vector: &[f32], k: usize, filter: &SearchFilter) -> Result<Vec<Hit>> {
        let mut hits: Vec<Hit> = self
            .searchable(filter)
            .into_iter()
            .map(|r| Hit { score: r.vector.iter().zip(vector).map(|(a, b)| a * b).sum(), chunk: r.chunk })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(k);
        Ok(hits)
    }

    async fn fulltext_search(&self, query_terms: &str, k: usize, filter: &SearchFilter) -> Result<Vec<Hit>> {
        self.fulltext_searches.fetch_add(1, Ordering::Relaxed);
        let terms: HashSet<&str> = query_terms.split(' ').collect();
        let mut hits: Vec<Hit> = self
            .searchable(filter)
            .into_iter()
            .map(|r| {
                let score = r.terms.split(' ').filter(|t| terms.contains(t)).count() as f32;
                Hit { score, chunk: r.chunk }
            })
            .filter(|h| h.score > 0.0)
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(k);
        Ok(hits)
    }

    async fn read_hits(&self, candidates: &[Candidate]) -> Result<Vec<Hit>> {
        let rows: HashMap<String, ChunkRow> =
            self.searchable(&SearchFilter::default()).into_iter().map(|r| (r.chunk.id(), r)).collect();
        Ok(candidates
            .iter()
            .filter_map(|c| rows.get(&c.id()).map(|r| Hit { chunk: r.chunk.clone(), score: c.score }))
            .collect())
    }

    async fn stats(&self) -> Result<LibraryStats> {
        let docs = self.docs.lock().map_err(lock_err)?;
        Ok(LibraryStats {
            documents: docs.len() as u64,
            indexed: docs.values().filter(|d| d.status == DocStatus::Indexed).count() as u64,
            failed: docs.values().filter(|d| d.status == DocStatus::Failed).count() as u64,
            chunks: self.chunk_count() as u64,
            disk_bytes: 0,
            embedding_model: None,
        })
    }

    async fn maintain(&self) -> Result<()> {
        Ok(())
    }

    async fn upsert_documents(&self, docs: &[DocumentRecord]) -> Result<()> {
        let mut stored = self.docs.lock().map_err(lock_err)?;
        for doc in docs {
            stored.insert(doc.id.clone(), doc.clone());
        }
        Ok(())
    }

    async fn stage_chunks(&self, model: &str, dim: usize, doc_id: &str, rows: Vec<ChunkRow>) -> Result<()> {
        if let Some(bad) = rows.iter().find(|r| r.chunk.embedding_model != model || r.vector.len() != dim) {
            return Err(Error::InvalidInput(format!("chunk {} is not of model {model}", bad.chunk.index)));
        }
        let mut staged = self.staged.lock().map_err(lock_err)?;
        staged.entry(model.to_string()).or_default().insert(doc_id.to_string(), rows);
        Ok(())
    }

    async fn seal_staged(&self, _model: &str, _dim: usize) -> Result<()> {
        Ok(())
    }

    async fn drop_model(&self, model: &str) -> Result<()> {
        self.staged.lock().map_err(lock_err)?.remove(model);
        Ok(())
    }
}

/// Bag-of-words vectors from hashed lowercase words: texts sharing words are close. One token per word.
pub struct HashEmbedder {
    info: EmbedderInfo,
    pub embed_calls: AtomicUsize,
    pub texts_embedded: AtomicUsize,
}

impl HashEmbedder {
    pub fn new(max_tokens: usize) -> HashEmbedder {
        HashEmbedder {
            info: EmbedderInfo { model_id: "hash-64".into(), dim: 64, max_tokens, special_tokens: 2 },
            embed_calls: AtomicUsize::new(0),
            texts_embedded: AtomicUsize::new(0),
        }
    }

    /// The same embedder under another model id (as another embedding model would be).
    pub fn with_id(mut self, model_id: &str) -> HashEmbedder {
        self.info.model_id = model_id.to_string();
        self
    }

    fn vector(text: &str) -> Vec<f32> {
        let mut v = vec![0f32; 64];
        for w in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            let h = w
                .to_lowercase()
                .bytes()
                .fold(1469598103934665603u64, |h, b| (h ^ u64::from(b)).wrapping_mul(1099511628211));
            v[(h % 64) as usize] += 1.0;
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
        v.iter().map(|x| x / norm).collect()
    }
}

#[async_trait]
impl Embedder for HashEmbedder {
    fn info(&self) -> &EmbedderInfo {
        &self.info
    }

    async fn count_tokens(&self, texts: Vec<String>) -> Result<Vec<u32>> {
        Ok(texts.iter().map(|t| t.split_whitespace().count() as u32).collect())
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Embeddings> {
        self.embed_calls.fetch_add(1, Ordering::Relaxed);
        self.texts_embedded.fetch_add(texts.len(), Ordering::Relaxed);
        let tokens: Vec<u32> = texts.iter().map(|t| t.split_whitespace().count() as u32 + 2).collect();
        let truncated = tokens.iter().filter(|&&n| n as usize > self.info.max_tokens).count() as u32;
        Ok(Embeddings { vectors: texts.iter().map(|t| Self::vector(t)).collect(), tokens, truncated })
    }
}

/// Reads files as plain text, one block per paragraph; files whose name contains "broken" fail as damaged.
pub struct TextExtractor;

#[async_trait]
impl Extractor for TextExtractor {
    async fn extract(&self, path: &Path, format: Format) -> std::result::Result<ExtractedDoc, ExtractError> {
        if path.to_string_lossy().contains("broken") {
            return Err(ExtractError::Damaged("not a valid file".into()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| ExtractError::Io(e.to_string()))?;
        let blocks =
            text.split("\n\n").map(|p| Block { kind: BlockKind::Text, text: p.to_string(), page: None }).collect();
        Ok(ExtractedDoc { format, title: None, pages: None, blocks })
    }
}

/// A chat model that answers with a scripted text, streamed word by word, and records every request. One
/// token per whitespace-separated word; the template adds 4 tokens per message.
pub struct ScriptedGenerator {
    pub n_ctx: u32,
    answers: Mutex<Vec<String>>,
    pub requests: Mutex<Vec<crate::generate::GenerateRequest>>,
}

impl ScriptedGenerator {
    /// Answers with `answers` in turn (the last one again once they run out).
    pub fn new(n_ctx: u32, answers: &[&str]) -> ScriptedGenerator {
        ScriptedGenerator {
            n_ctx,
            answers: Mutex::new(answers.iter().rev().map(|s| s.to_string()).collect()),
            requests: Mutex::new(Vec::new()),
        }
    }

    fn words(text: &str) -> u32 {
        text.split_whitespace().count() as u32
    }

    /// The requests seen so far.
    pub fn seen(&self) -> Vec<crate::generate::GenerateRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl crate::generate::Generator for ScriptedGenerator {
    async fn info(&self) -> Result<crate::generate::GeneratorInfo> {
        Ok(crate::generate::GeneratorInfo { model_id: "scripted".into(), n_ctx: self.n_ctx })
    }

    async fn count_tokens(&self, texts: Vec<String>) -> Result<Vec<u32>> {
        Ok(texts.iter().map(|t| Self::words(t)).collect())
    }

    async fn prompt_tokens(&self, messages: Vec<crate::generate::ChatMessage>) -> Result<u32> {
        Ok(messages.iter().map(|m| Self::words(&m.content) + 4).sum::<u32>() + 1)
    }

    async fn generate(
        &self,
        request: crate::generate::GenerateRequest,
        cancel: &std::sync::atomic::AtomicBool,
        on_event: &mut (dyn FnMut(crate::generate::GenEvent) + Send),
    ) -> Result<crate::generate::Generation> {
        use crate::generate::{GenEvent, Generation, StopReason, Timings, Usage};
        let prompt_tokens = self.prompt_tokens(request.messages.clone()).await?;
        if prompt_tokens + request.sampling.max_tokens > self.n_ctx {
            return Err(Error::Model(format!("prompt of {prompt_tokens} tokens overflows n_ctx {}", self.n_ctx)));
        }
        if let Ok(mut r) = self.requests.lock() {
            r.push(request.clone());
        }
        let answer = {
            let mut a = self.answers.lock().map_err(|_| Error::Model("poisoned".into()))?;
            if a.len() > 1 { a.pop().unwrap_or_default() } else { a.last().cloned().unwrap_or_default() }
        };
        on_event(GenEvent::Prompt { tokens: prompt_tokens, cached: 0 });
        let mut text = String::new();
        let mut stop = StopReason::End;
        for (i, word) in answer.split_inclusive(' ').enumerate() {
            if cancel.load(Ordering::Relaxed) {
                stop = StopReason::Cancelled;
                break;
            }
            if i as u32 >= request.sampling.max_tokens {
                stop = StopReason::MaxTokens;
                break;
            }
            text.push_str(word);
            on_event(GenEvent::Token { text: word.to_string() });
        }
        let usage = Usage { prompt_tokens, cached_tokens: 0, completion_tokens: Self::words(&text) };
        Ok(Generation { text, stop, usage, timings: Timings::default() })
    }
}
