//! llama.cpp for Quire: the embedding and chat models in one supervised worker process.
//!
//! llama.cpp aborts the process on a failed assertion and cannot be unwound, so it never runs in the app's
//! process. [`engine::worker_main`] is the model worker (the app and the `quire` binary start themselves again
//! as `__worker model`), with one thread and one llama.cpp context per lane (embeddings, chat);
//! [`LlamaEmbedder`] is the core's [`quire_core::Embedder`] and [`LlamaGenerator`] its
//! [`quire_core::Generator`] on top of it.
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

pub mod chat;
pub mod embedder;
pub mod engine;
pub mod generator;
pub mod protocol;
pub mod remote;
pub mod rerank;

pub use embedder::{LlamaEmbedder, embedding_loaded, model_worker};
pub use engine::{model_id, worker_main};
pub use generator::{LlamaGenerator, LlamaReranker};
pub use protocol::{ChatOptions, EmbedOptions, GpuLayers, KvType};
pub use remote::{RemoteEmbedder, RemoteGenerator, RemoteOptions, remote_model_id};
