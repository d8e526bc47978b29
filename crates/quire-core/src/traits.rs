//! The seams between the core and its adapters. Each trait has a real implementation in its own crate
//! (quire-extract, quire-llm, quire-store) and, where logic needs testing, an in-memory fake in `crate::fake`.

use std::path::Path;

use async_trait::async_trait;

use crate::error::{ExtractError, Result};
use crate::types::{Candidate, Chunk, DocumentRecord, ExtractedDoc, Format, Hit, LibraryStats};

/// Turns a file into structured text. Implementations isolate parsers from the caller.
#[async_trait]
pub trait Extractor: Send + Sync {
    async fn extract(&self, path: &Path, format: Format) -> std::result::Result<ExtractedDoc, ExtractError>;
}

/// What an embedding model is.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EmbedderInfo {
    /// Stable id of the model, stored with every chunk (e.g. "all-MiniLM-L6-v2.q8_0").
    pub model_id: String,
    pub dim: usize,
    /// The most tokens one input may have, special tokens included.
    pub max_tokens: usize,
    /// Special tokens the model adds to every input (e.g. [CLS] and [SEP] for BERT).
    pub special_tokens: usize,
}

/// Vectors for a batch of texts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Embeddings {
    /// One L2-normalised vector per input.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens embedded per input, special tokens included.
    pub tokens: Vec<u32>,
    /// How many inputs were cut at `max_tokens` (the chunker keeps this at zero).
    pub truncated: u32,
}

/// A local or remote embedding model.
#[async_trait]
pub trait Embedder: Send + Sync {
    fn info(&self) -> &EmbedderInfo;
    /// Tokens in each text, without special tokens.
    async fn count_tokens(&self, texts: Vec<String>) -> Result<Vec<u32>>;
    async fn embed(&self, texts: Vec<String>) -> Result<Embeddings>;
}

/// One chunk as written to the store: the chunk, its vector and its analysed full-text terms.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkRow {
    pub chunk: Chunk,
    pub vector: Vec<f32>,
    /// Space-separated search terms from `crate::analyze` (what the full-text index sees).
    pub terms: String,
}

/// Which files under the paths of a sync belong to the library (a watched folder's rules). Folders it refuses
/// are not entered; files it refuses are left out, and their documents removed.
pub trait PathFilter: Send + Sync {
    fn accepts_dir(&self, path: &Path) -> bool;
    fn accepts_file(&self, path: &Path, size: u64) -> bool;
}

/// Restricts a search to part of the library.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilter {
    /// Only documents whose path starts with this prefix.
    pub path_prefix: Option<String>,
    /// Only these documents.
    pub doc_ids: Option<Vec<String>>,
}

/// The library's storage: documents, chunks, vectors and the full-text index. One writer per library.
#[async_trait]
pub trait Store: Send + Sync {
    async fn document_by_path(&self, path: &str) -> Result<Option<DocumentRecord>>;
    async fn documents(&self) -> Result<Vec<DocumentRecord>>;
    /// Inserts or replaces the record with the same id.
    async fn upsert_document(&self, doc: &DocumentRecord) -> Result<()>;
    /// Replaces every chunk of the document with `rows`, in one commit.
    async fn replace_chunks(&self, doc_id: &str, rows: Vec<ChunkRow>) -> Result<()>;
    /// Removes the document record and its chunks.
    async fn remove_document(&self, doc_id: &str) -> Result<()>;
    /// Every stored chunk of a document, in order.
    async fn chunk_rows(&self, doc_id: &str) -> Result<Vec<ChunkRow>>;
    /// Nearest chunks by cosine similarity (score = similarity, higher is better).
    async fn vector_search(&self, vector: &[f32], k: usize, filter: &SearchFilter) -> Result<Vec<Hit>>;
    /// The exact nearest chunks, by brute force even where `vector_search` uses an approximate index: the
    /// ground truth that an index's recall is measured against. Stores without an index search exactly anyway.
    async fn exact_vector_search(&self, vector: &[f32], k: usize, filter: &SearchFilter) -> Result<Vec<Hit>> {
        self.vector_search(vector, k, filter).await
    }
    /// Best chunks by BM25 over the analysed terms (`query_terms` comes from `crate::analyze`).
    async fn fulltext_search(&self, query_terms: &str, k: usize, filter: &SearchFilter) -> Result<Vec<Hit>>;
    /// What `vector_search` finds, without reading the chunks (hybrid search reads only the ones it keeps).
    async fn vector_candidates(&self, vector: &[f32], k: usize, filter: &SearchFilter) -> Result<Vec<Candidate>> {
        Ok(self.vector_search(vector, k, filter).await?.iter().map(Candidate::of).collect())
    }
    /// What `fulltext_search` finds, without reading the chunks.
    async fn fulltext_candidates(&self, query_terms: &str, k: usize, filter: &SearchFilter) -> Result<Vec<Candidate>> {
        Ok(self.fulltext_search(query_terms, k, filter).await?.iter().map(Candidate::of).collect())
    }
    /// The chunks of `candidates`, in their order and with their scores. A candidate whose chunk is no longer
    /// searchable (its document removed or hidden since the search) is left out.
    async fn read_hits(&self, candidates: &[Candidate]) -> Result<Vec<Hit>>;
    async fn stats(&self) -> Result<LibraryStats>;
    /// Background upkeep: index new rows, compact small fragments, remove old versions.
    async fn maintain(&self) -> Result<()>;

    /// Inserts or replaces many records (by id) in one commit.
    async fn upsert_documents(&self, docs: &[DocumentRecord]) -> Result<()>;

    /// Replaces every chunk of the document in the table of another embedding model (`model`, vectors of
    /// dimension `dim`), not in the current one: while the library switches embedding model, that table is
    /// filled beside the current one, which searches keep reading.
    async fn stage_chunks(&self, model: &str, dim: usize, doc_id: &str, rows: Vec<ChunkRow>) -> Result<()>;
    /// Gets the table of another embedding model ready to be searched (compacted, full-text index built).
    async fn seal_staged(&self, model: &str, dim: usize) -> Result<()>;
    /// Removes the chunks table of another embedding model (one switched away from, or a switch given up).
    /// Nothing to remove is not an error; the current model's table cannot be removed.
    async fn drop_model(&self, model: &str) -> Result<()>;

    /// What opening the store had to repair (a version stepped back after a crash), one sentence each for the
    /// user; empty when nothing was.
    fn recovered(&self) -> Vec<String> {
        Vec::new()
    }
}
