//! llama.cpp for Quire: the embedding model in a supervised worker process.
//!
//! llama.cpp aborts the process on a failed assertion and cannot be unwound, so it never runs in the app's
//! process. [`engine::worker_main`] is the worker (the app and the `quire` binary start themselves again as
//! `__worker embedding`); [`LlamaEmbedder`] is the core's [`quire_core::Embedder`] on top of it.
//!
//! ```no_run
//! # async fn demo() -> quire_core::Result<()> {
//! use quire_core::Embedder;
//! use quire_llm::{EmbedOptions, LlamaEmbedder};
//! let exe = std::env::current_exe().expect("exe");
//! let model = std::path::Path::new("all-MiniLM-L6-v2.q8_0.gguf");
//! let embedder = LlamaEmbedder::start(&exe, model, &EmbedOptions::default()).await?;
//! let vectors = embedder.embed(vec!["hello".into()]).await?;
//! # Ok(()) }
//! ```

pub mod embedder;
pub mod engine;
pub mod protocol;

pub use embedder::LlamaEmbedder;
pub use engine::worker_main;
pub use protocol::EmbedOptions;
