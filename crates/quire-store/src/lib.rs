//! quire-store: the LanceDB implementation of [`quire_core::Store`].
//!
//! A library is one directory:
//!
//! ```text
//! <dir>/writer.lock                     exclusive lock of the one writing process (holds its pid)
//! <dir>/documents.lance                 one row per DocumentRecord
//! <dir>/chunks_<model slug>_<hash>.lance one table per embedding model: chunk, source, terms, vector
//! <dir>/recovered/                      manifests set aside by crash recovery (never read again)
//! ```
//!
//! - **Atomic chunk replacement**: `replace_chunks` is one `merge_insert` commit (update matched `chunk_id`s,
//!   insert new ones, delete the document's rows not in the new set).
//! - **Only indexed documents are searched**: searches prefilter `doc_id NOT IN (...)` with the documents that
//!   have chunks but whose record is not `Indexed` (kept in memory, loaded at open).
//! - **Vector search**: cosine, score = similarity. Exact while the table is small; `maintain` builds an ANN
//!   index (IVF-HNSW-SQ, see [`AnnKind`]) from [`ANN_INDEX_THRESHOLD`] chunks, searched with a refine step
//!   ([`REFINE_FACTOR`]).
//! - **Full text**: BM25 over the `terms` column with LanceDB's inverted index, whitespace tokenizer, no
//!   stemming, stop words, lowercasing or folding (the core analyses text). Rows written after the index was built
//!   are searched too (LanceDB scans unindexed rows); `maintain` folds them into the index.
//! - **Crash safety**: LanceDB does not fsync. At open, a table whose newest version cannot be read is brought back
//!   to the newest one that can (an unreadable manifest is moved to `recovered/`; a version whose data cannot be
//!   read is replaced by restoring an older one), and the two tables are reconciled.

mod error;
mod files;
mod schema;
mod sql;
mod store;
mod uring;

pub use files::{LOCK_FILE, RECOVERED_DIR};
pub use schema::{DOCUMENTS_TABLE, chunks_table_name};
pub use store::{
    ANN_INDEX_THRESHOLD, AnnKind, EF, KEEP_VERSIONS_FOR, LanceStore, NPROBES, REFINE_FACTOR, StoreOptions,
};
pub use uring::{READER_ENVIRONMENT, configure_readers};
