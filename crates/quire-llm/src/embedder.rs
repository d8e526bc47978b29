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
///
/// [`LlamaEmbedder::open`] knows the model without starting the worker when it has seen the same file before,
/// so an idle app holds no embedding model in memory.
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

    /// Uses the embedding model `model` of an existing model worker. What the model is (its dimension, window
    /// and special tokens) is read from `known`, a small file of models asked before, when it holds this file
    /// with the same size and modification time; the worker then starts on the first call. Otherwise the worker
    /// is asked, the answer recorded in `known`, and the worker stopped until something needs it.
    pub async fn open(worker: Arc<Worker>, model: &Path, known: &Path) -> Result<LlamaEmbedder> {
        let key = ModelKey::of(model)?;
        let mut entries = KnownModels::read(known);
        if let Some(info) = entries.find(&key) {
            tracing::debug!(model = %info.model_id, "embedding model known; its worker starts on first use");
            return Ok(LlamaEmbedder { worker, info: info.clone() });
        }
        let embedder = LlamaEmbedder::connect(Arc::clone(&worker)).await?;
        worker.stop().await;
        entries.insert(key, embedder.info.clone());
        if let Err(error) = entries.write(known) {
            tracing::warn!(%error, file = %known.display(), "could not record the embedding model; it is asked again next time");
        }
        Ok(embedder)
    }

    /// The worker process, for supervision and tests.
    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }
}

/// Whether the model worker holds its embedding model in memory now. A worker that is not running is not
/// started to answer.
pub async fn embedding_loaded(worker: &Worker) -> Result<bool> {
    if worker.pid().await.is_none() {
        return Ok(false);
    }
    match worker.call(&ModelRequest::EmbedLoaded, CALL_TIMEOUT).await? {
        ModelReply::EmbedLoaded { loaded } => Ok(loaded),
        other => Err(unexpected(other)),
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
            ModelReply::Embeddings { dim, .. } if dim != self.info.dim => Err(Error::Model(format!(
                "the embedding model gives vectors of {dim} values where {} were expected; it changed since the \
                 library opened, so open the library again",
                self.info.dim
            ))),
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

/// A model file as it is on disk: a changed file is a different model.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct ModelKey {
    path: std::path::PathBuf,
    len: u64,
    modified_ns: u64,
}

impl ModelKey {
    fn of(model: &Path) -> Result<ModelKey> {
        let meta = std::fs::metadata(model)
            .map_err(|e| Error::Model(format!("the embedding model {} cannot be read: {e}", model.display())))?;
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let path = std::fs::canonicalize(model).unwrap_or_else(|_| model.to_path_buf());
        Ok(ModelKey { path, len: meta.len(), modified_ns })
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct KnownModel {
    key: ModelKey,
    info: EmbedderInfo,
}

/// The embedding models asked before, in a JSON file (at most [`KnownModels::KEEP`], newest last).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct KnownModels {
    models: Vec<KnownModel>,
}

impl KnownModels {
    const KEEP: usize = 16;

    /// The recorded models; none when the file is missing or unreadable (it is only a record of answers).
    fn read(file: &Path) -> KnownModels {
        match std::fs::read(file) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                tracing::warn!(%error, file = %file.display(), "the record of embedding models is unreadable; it is rewritten");
                KnownModels::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => KnownModels::default(),
            Err(error) => {
                tracing::warn!(%error, file = %file.display(), "the record of embedding models cannot be read");
                KnownModels::default()
            }
        }
    }

    fn find(&self, key: &ModelKey) -> Option<&EmbedderInfo> {
        self.models.iter().find(|m| &m.key == key).map(|m| &m.info)
    }

    fn insert(&mut self, key: ModelKey, info: EmbedderInfo) {
        self.models.retain(|m| m.key.path != key.path);
        self.models.push(KnownModel { key, info });
        let excess = self.models.len().saturating_sub(Self::KEEP);
        self.models.drain(..excess);
    }

    fn write(&self, file: &Path) -> Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::Model(e.to_string()))?;
        quire_core::paths::write_atomic(file, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(model: &Path) -> ModelKey {
        ModelKey::of(model).expect("model file")
    }

    fn info(dim: usize) -> EmbedderInfo {
        EmbedderInfo { model_id: "m".into(), dim, max_tokens: 256, special_tokens: 2 }
    }

    #[test]
    fn a_model_is_known_only_while_its_file_is_unchanged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let model = dir.path().join("m.gguf");
        let known = dir.path().join("known.json");
        std::fs::write(&model, b"first").expect("write");
        let mut entries = KnownModels::read(&known);
        entries.insert(key(&model), info(384));
        entries.write(&known).expect("record");
        assert_eq!(KnownModels::read(&known).find(&key(&model)), Some(&info(384)));

        std::fs::write(&model, b"second, longer").expect("write");
        assert_eq!(KnownModels::read(&known).find(&key(&model)), None);
    }

    #[test]
    fn a_damaged_record_is_no_record_and_a_model_is_recorded_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let known = dir.path().join("known.json");
        std::fs::write(&known, b"{ not json").expect("write");
        let mut entries = KnownModels::read(&known);
        assert!(entries.models.is_empty());
        let model = dir.path().join("m.gguf");
        std::fs::write(&model, b"x").expect("write");
        entries.insert(key(&model), info(8));
        entries.insert(key(&model), info(16));
        assert_eq!(entries.models.len(), 1);
        assert_eq!(entries.find(&key(&model)), Some(&info(16)));
    }

    #[test]
    fn only_the_newest_models_are_kept() {
        let mut entries = KnownModels::default();
        for i in 0..KnownModels::KEEP + 3 {
            let key = ModelKey { path: format!("/m{i}.gguf").into(), len: 1, modified_ns: 1 };
            entries.insert(key, info(i + 1));
        }
        assert_eq!(entries.models.len(), KnownModels::KEEP);
        assert_eq!(entries.models.last().map(|m| m.info.dim), Some(KnownModels::KEEP + 3));
    }
}
