//! Quire's core: the domain types, the ingest and search pipelines, and the traits their adapters implement.
//!
//! The core knows nothing of Tauri, LanceDB, llama.cpp, notify or keyring. It talks to them through the traits
//! in [`traits`]: an [`Extractor`] turns files into text, an [`Embedder`] turns text into vectors, a [`Store`]
//! keeps documents and chunks. The desktop shell and the `quire` command line both drive the same
//! [`Library`](library::Library).

pub mod analyze;
pub mod answer;
pub mod attribution;
pub mod chunk;
pub mod citations;
pub mod clean;
pub mod collections;
pub mod conversation;
pub mod error;
pub mod eval;
pub mod fake;
pub mod fusion;
pub mod gate;
pub mod generate;
pub mod jobs;
pub mod library;
pub mod paths;
pub mod repetition;
pub mod select;
pub mod settings;
pub mod switch;
pub mod traits;
pub mod types;
pub mod watched;
pub mod worker;

pub use error::{Error, ExtractError, Result};
pub use generate::{
    ChatMessage, GenEvent, GenerateRequest, Generation, Generator, GeneratorInfo, Role, SamplingParams, StopReason,
    Timings, Usage,
};
pub use traits::{ChunkRow, Embedder, EmbedderInfo, Embeddings, Extractor, PathFilter, SearchFilter, Store};
pub use types::*;
