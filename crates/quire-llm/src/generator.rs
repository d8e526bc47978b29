//! The core side of chat: a [`Generator`] backed by the model worker's chat lane.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Mutex;

use quire_core::answer::Reranker;
use quire_core::worker::Worker;
use quire_core::{ChatMessage, Error, GenEvent, GenerateRequest, Generation, Generator, GeneratorInfo, Result};

use crate::embedder::unexpected;
use crate::protocol::{ChatOptions, ModelReply, ModelRequest};

/// Longest silence of the worker during a chat call: the model load, or one slice of prompt evaluation.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// A chat model run by llama.cpp in the model worker. A crash of llama.cpp fails the request that was
/// running; the next request starts a new worker, which loads the model again.
pub struct LlamaGenerator {
    worker: Arc<Worker>,
    options: ChatOptions,
    info: Mutex<Option<GeneratorInfo>>,
}

impl LlamaGenerator {
    /// A generator on `worker` (see [`crate::model_worker`]). Nothing is loaded until the first call.
    pub fn new(worker: Arc<Worker>, options: ChatOptions) -> LlamaGenerator {
        LlamaGenerator { worker, options, info: Mutex::new(None) }
    }

    /// The model worker process, for supervision and tests.
    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }

    /// Tokens of the prompt the messages make, and how many of them are template markers.
    pub async fn prompt_tokens_detail(&self, messages: Vec<ChatMessage>) -> Result<(u32, u32)> {
        let req = ModelRequest::ChatPromptTokens { chat: self.options.clone(), messages };
        match self.worker.call(&req, IDLE_TIMEOUT).await? {
            ModelReply::PromptTokens { tokens, control_tokens } => Ok((tokens, control_tokens)),
            other => Err(unexpected(other)),
        }
    }

    /// Frees the chat model's memory in the worker; returns whether one was loaded. The next chat request
    /// loads it again.
    pub async fn unload(worker: &Worker) -> Result<bool> {
        match worker.call(&ModelRequest::ChatUnload, IDLE_TIMEOUT).await? {
            ModelReply::ChatUnloaded { unloaded } => Ok(unloaded),
            other => Err(unexpected(other)),
        }
    }
}

#[async_trait]
impl Generator for LlamaGenerator {
    async fn info(&self) -> Result<GeneratorInfo> {
        let mut cached = self.info.lock().await;
        if let Some(info) = cached.as_ref() {
            return Ok(info.clone());
        }
        match self.worker.call(&ModelRequest::ChatInfo { chat: self.options.clone() }, IDLE_TIMEOUT).await? {
            ModelReply::ChatInfo(info) => {
                *cached = Some(info.clone());
                Ok(info)
            }
            other => Err(unexpected(other)),
        }
    }

    async fn count_tokens(&self, texts: Vec<String>) -> Result<Vec<u32>> {
        let n = texts.len();
        match self.worker.call(&ModelRequest::ChatCount { chat: self.options.clone(), texts }, IDLE_TIMEOUT).await? {
            ModelReply::Counts { counts } if counts.len() == n => Ok(counts),
            other => Err(unexpected(other)),
        }
    }

    async fn prompt_tokens(&self, messages: Vec<ChatMessage>) -> Result<u32> {
        self.prompt_tokens_detail(messages).await.map(|(tokens, _)| tokens)
    }

    async fn generate(
        &self,
        request: GenerateRequest,
        cancel: &AtomicBool,
        on_event: &mut (dyn FnMut(GenEvent) + Send),
    ) -> Result<Generation> {
        let req = ModelRequest::Generate { chat: self.options.clone(), request };
        let reply = self.worker.call_streaming(&req, IDLE_TIMEOUT, Some(cancel), |e: GenEvent| on_event(e)).await;
        match reply {
            Ok(ModelReply::Generated(g)) => Ok(g),
            Ok(other) => Err(unexpected(other)),
            // Still a crash (the app offers Retry), said the way a person asking a question sees it.
            Err(Error::WorkerCrashed { name, detail }) => Err(Error::WorkerCrashed {
                name,
                detail: format!("{detail}, while answering; it starts again with the next question"),
            }),
            Err(e) => Err(e),
        }
    }
}

/// A cross-encoder reranker run by llama.cpp (rank pooling) in the model worker's rerank lane.
pub struct LlamaReranker {
    worker: Arc<Worker>,
    model: std::path::PathBuf,
    threads: usize,
    id: String,
}

impl LlamaReranker {
    pub fn new(worker: Arc<Worker>, model: std::path::PathBuf, threads: usize) -> LlamaReranker {
        let id = crate::engine::model_id(&model);
        LlamaReranker { worker, model, threads, id }
    }
}

#[async_trait]
impl Reranker for LlamaReranker {
    fn model_id(&self) -> &str {
        &self.id
    }

    async fn rerank(&self, query: &str, texts: Vec<String>) -> Result<Vec<f32>> {
        let n = texts.len();
        let req =
            ModelRequest::Rerank { model: self.model.clone(), threads: self.threads, query: query.to_string(), texts };
        match self.worker.call(&req, IDLE_TIMEOUT).await? {
            ModelReply::Scores { scores } if scores.len() == n => Ok(scores),
            other => Err(unexpected(other)),
        }
    }
}
