//! The core side: an [`Embedder`] backed by a supervised model worker process.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;

use quire_core::worker::{Worker, WorkerSpec};
use quire_core::{Embedder, EmbedderInfo, Embeddings, Error, Result};

use crate::protocol::{EmbedOptions, ModelReply, ModelRequest};

/// Longest wait for one answer of the worker (a batch of inputs, or the model load on first use).
const CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// Embeddings from a GGUF model run by llama.cpp in a worker process. A crash of llama.cpp fails the call that
/// was running; the next call starts a new worker, which loads the model again.
pub struct LlamaEmbedder {
    worker: Arc<Worker>,
    info: EmbedderInfo,
}

/// The model worker (`program __worker model [--model … flags]`): one process for the embedding model (given
/// here) and the chat model (given by each chat request). Not started until the first call.
pub fn model_worker(program: &Path, embed_model: Option<&Path>, options: &EmbedOptions) -> Arc<Worker> {
    let mut args = Vec::new();
    if let Some(model) = embed_model {
        args.extend(["--model".to_string(), model.display().to_string()]);
        args.extend(options.to_args());
    }
    Arc::new(Worker::new(WorkerSpec::with_program(program.to_path_buf(), "model", args)))
}

impl LlamaEmbedder {
    /// Starts a model worker for `model` and loads it.
    pub async fn start(program: &Path, model: &Path, options: &EmbedOptions) -> Result<LlamaEmbedder> {
        LlamaEmbedder::connect(model_worker(program, Some(model), options)).await
    }

    /// Uses the embedding model of an existing model worker, loading it.
    pub async fn connect(worker: Arc<Worker>) -> Result<LlamaEmbedder> {
        let info = match worker.call(&ModelRequest::Info, CALL_TIMEOUT).await? {
            ModelReply::Info(info) => info,
            other => return Err(unexpected(other)),
        };
        Ok(LlamaEmbedder { worker, info })
    }

    /// The worker process, for supervision and tests.
    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }
}

pub(crate) fn unexpected(reply: ModelReply) -> Error {
    match reply {
        ModelReply::Error { message } => Error::Model(message),
        other => Error::Model(format!("unexpected answer from the model worker: {other:?}")),
    }
}

#[async_trait]
impl Embedder for LlamaEmbedder {
    fn info(&self) -> &EmbedderInfo {
        &self.info
    }

    async fn count_tokens(&self, texts: Vec<String>) -> Result<Vec<u32>> {
        let n = texts.len();
        match self.worker.call(&ModelRequest::CountTokens { texts }, CALL_TIMEOUT).await? {
            ModelReply::Counts { counts } if counts.len() == n => Ok(counts),
            other => Err(unexpected(other)),
        }
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Embeddings> {
        let n = texts.len();
        match self.worker.call(&ModelRequest::Embed { texts }, CALL_TIMEOUT).await? {
            ModelReply::Embeddings { dim, data, tokens, truncated } => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|e| Error::Model(format!("unreadable embeddings: {e}")))?;
                if dim == 0 || bytes.len() != n * dim * 4 || tokens.len() != n {
                    return Err(Error::Model("the model worker returned the wrong number of values".into()));
                }
                let values: Vec<f32> =
                    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                let vectors = values.chunks_exact(dim).map(<[f32]>::to_vec).collect();
                Ok(Embeddings { vectors, tokens, truncated })
            }
            other => Err(unexpected(other)),
        }
    }
}
