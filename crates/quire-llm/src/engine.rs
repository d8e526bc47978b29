//! The worker side: llama.cpp, its model and context, owned by the worker process's main thread.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;

use quire_core::EmbedderInfo;
use quire_core::worker::{LaneFactory, Responder};

use crate::chat::ChatLane;
use crate::rerank::RerankLane;

use crate::protocol::{EmbedOptions, ModelReply, ModelRequest};

/// A loaded embedding model. The backend and model live as long as the worker process, so they are leaked
/// to give the context a `'static` borrow.
pub struct EmbedEngine {
    model: &'static LlamaModel,
    ctx: LlamaContext<'static>,
    info: EmbedderInfo,
    options: EmbedOptions,
    /// Encoder-only architectures (BERT family) run through `llama_encode`, others through `llama_decode`.
    encoder: bool,
    sep: Option<LlamaToken>,
}

/// The model id stored with every chunk: the file name without its extension.
pub fn model_id(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "embedding-model".into())
}

/// The llama.cpp backend, started once per process (a second start fails) and shared by every lane.
pub(crate) fn backend() -> Result<&'static LlamaBackend, String> {
    static BACKEND: std::sync::OnceLock<Result<LlamaBackend, String>> = std::sync::OnceLock::new();
    BACKEND
        .get_or_init(|| LlamaBackend::init().map_err(|e| format!("llama.cpp did not start: {e}")))
        .as_ref()
        .map_err(Clone::clone)
}

pub(crate) fn threads(n: usize) -> i32 {
    let n = if n == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { n };
    i32::try_from(n).unwrap_or(1)
}

impl EmbedEngine {
    pub fn load(path: &Path, options: EmbedOptions) -> Result<EmbedEngine, String> {
        if !path.is_file() {
            return Err(format!("the embedding model {} does not exist", path.display()));
        }
        let backend = backend()?;
        let params = LlamaModelParams::default().with_n_gpu_layers(options.gpu_layers);
        let model = LlamaModel::load_from_file(backend, path, &params)
            .map_err(|e| format!("cannot load the embedding model {}: {e}", path.display()))?;
        let model: &'static LlamaModel = Box::leak(Box::new(model));
        let batch = options.batch_tokens.clamp(32, 1 << 16) as u32;
        let window = (model.n_ctx_train()).min(batch).max(8) as usize;
        let arch = model.meta_val_str("general.architecture").unwrap_or_default();
        let encoder = arch.contains("bert") || arch.contains("t5");
        let flash = if options.flash_attention {
            llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED
        } else {
            llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED
        };
        let ctx_params = LlamaContextParams::default()
            .with_embeddings(true)
            .with_n_ctx(NonZeroU32::new(batch))
            .with_n_batch(batch)
            .with_n_ubatch(batch)
            .with_n_seq_max(options.max_sequences.clamp(1, 256) as u32)
            .with_kv_unified(true)
            .with_n_threads(threads(options.threads))
            .with_n_threads_batch(threads(options.threads))
            .with_flash_attention_policy(flash);
        let ctx = model.new_context(backend, ctx_params).map_err(|e| format!("cannot create a context: {e}"))?;
        let vocab = model.vocab();
        let with = vocab.tokenize(b"a", true, false).len();
        let without = vocab.tokenize(b"a", false, false).len();
        let special_tokens = with.saturating_sub(without);
        let sep = if vocab.should_add_eos() || vocab.should_add_sep() {
            vocab.tokenize(b"a", true, false).last().copied()
        } else {
            None
        };
        let info = EmbedderInfo {
            model_id: model_id(path),
            dim: usize::try_from(model.n_embd_out()).unwrap_or(0),
            max_tokens: window,
            special_tokens,
        };
        tracing::info!(model = %info.model_id, dim = info.dim, window, encoder, arch, "embedding model loaded");
        Ok(EmbedEngine { model, ctx, info, options, encoder, sep })
    }

    pub fn info(&self) -> &EmbedderInfo {
        &self.info
    }

    pub fn handle(&mut self, req: ModelRequest) -> ModelReply {
        match req {
            ModelRequest::Info => ModelReply::Info(self.info.clone()),
            ModelRequest::CountTokens { texts } => {
                let vocab = self.model.vocab();
                let counts = texts.iter().map(|t| vocab.tokenize(t.as_bytes(), false, false).len() as u32).collect();
                ModelReply::Counts { counts }
            }
            ModelRequest::Embed { texts } => match self.embed(&texts) {
                Ok((vectors, tokens, truncated)) => {
                    let mut bytes = Vec::with_capacity(vectors.len() * 4);
                    for v in &vectors {
                        bytes.extend_from_slice(&v.to_le_bytes());
                    }
                    ModelReply::Embeddings {
                        dim: self.info.dim,
                        data: base64::engine::general_purpose::STANDARD.encode(bytes),
                        tokens,
                        truncated,
                    }
                }
                Err(message) => ModelReply::Error { message },
            },
            _ => ModelReply::Error { message: "the embedding lane serves only embedding requests".into() },
        }
    }

    /// Embeds `texts`, packing several into each llama.cpp call. Returns the vectors (flattened), the tokens
    /// of each input and how many inputs were cut at the window.
    fn embed(&mut self, texts: &[String]) -> Result<(Vec<f32>, Vec<u32>, u32), String> {
        let window = self.info.max_tokens;
        let dim = self.info.dim;
        let vocab = self.model.vocab();
        let mut truncated = 0u32;
        let tokenized: Vec<Vec<LlamaToken>> = texts
            .iter()
            .map(|t| {
                let mut toks = vocab.tokenize(t.as_bytes(), true, false);
                if toks.len() > window {
                    // Keep the start and end with the separator, as the model's own tokenizer would.
                    truncated += 1;
                    toks.truncate(window - usize::from(self.sep.is_some()));
                    if let Some(sep) = self.sep {
                        toks.push(sep);
                    }
                }
                toks
            })
            .collect();
        let batch_tokens = self.options.batch_tokens.max(window);
        let max_seqs = self.options.max_sequences.clamp(1, 256);
        let mut out = vec![0f32; texts.len() * dim];
        let mut batch = LlamaBatch::new(batch_tokens, max_seqs as i32);
        let mut i = 0;
        while i < tokenized.len() {
            batch.clear();
            let first = i;
            let mut used = 0usize;
            while i < tokenized.len() && i - first < max_seqs && used + tokenized[i].len() <= batch_tokens {
                let seq = (i - first) as i32;
                for (pos, tok) in tokenized[i].iter().enumerate() {
                    batch.add(*tok, pos as i32, &[seq], true).map_err(|e| format!("batch: {e}"))?;
                }
                used += tokenized[i].len();
                i += 1;
            }
            if i == first {
                return Err("an input does not fit the batch".into());
            }
            self.ctx.clear_kv_cache();
            if self.encoder {
                self.ctx.encode(&mut batch).map_err(|e| format!("llama.cpp could not encode: {e}"))?;
            } else {
                self.ctx.decode(&mut batch).map_err(|e| format!("llama.cpp could not decode: {e}"))?;
            }
            for k in 0..(i - first) {
                let e = self.ctx.embeddings_seq_ith(k as i32).map_err(|e| format!("no embedding: {e}"))?;
                let norm = e.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>().sqrt();
                let norm = if norm > 0.0 { norm } else { 1.0 };
                let o = &mut out[(first + k) * dim..(first + k + 1) * dim];
                for (d, x) in o.iter_mut().zip(e.iter()) {
                    *d = (f64::from(*x) / norm) as f32;
                }
            }
        }
        let tokens = tokenized.iter().map(|t| t.len() as u32).collect();
        Ok((out, tokens, truncated))
    }
}

/// The model worker: `<exe> __worker model [--model PATH embedding flags]`. Serves three lanes, each on its own
/// thread with its own llama.cpp context: embeddings (the model given by the flags, loaded on first use), chat
/// and reranking (the models named by each request, loaded on first use and when they change). An embedding
/// batch and an answer run side by side.
pub fn worker_main(args: &[String]) -> std::process::ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("QUIRE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
    llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
    let embed: Option<(PathBuf, EmbedOptions)> = if args.is_empty() {
        None
    } else {
        match EmbedOptions::from_args(args) {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                eprintln!("error: {e}");
                return std::process::ExitCode::from(2);
            }
        }
    };
    let embed_lane: LaneFactory<ModelRequest, ModelReply> = Box::new(move || {
        let mut engine: Option<Result<EmbedEngine, String>> = None;
        Box::new(move |req: ModelRequest, _responder: &Responder| {
            if matches!(req, ModelRequest::EmbedLoaded) {
                return ModelReply::EmbedLoaded { loaded: matches!(engine, Some(Ok(_))) };
            }
            let Some((model, options)) = &embed else {
                return ModelReply::Error { message: "no embedding model was given to the model worker".into() };
            };
            let loaded = engine.get_or_insert_with(|| EmbedEngine::load(model, options.clone()));
            match loaded {
                Ok(engine) => engine.handle(req),
                Err(message) => ModelReply::Error { message: message.clone() },
            }
        })
    });
    let chat_lane: LaneFactory<ModelRequest, ModelReply> = Box::new(|| {
        let mut lane = ChatLane::default();
        Box::new(move |req: ModelRequest, responder: &Responder| lane.handle(req, responder))
    });
    let rerank_lane: LaneFactory<ModelRequest, ModelReply> = Box::new(|| {
        let mut lane = RerankLane::default();
        Box::new(move |req: ModelRequest, _responder: &Responder| lane.handle(req))
    });
    let served =
        quire_core::worker::serve_lanes(|req: &ModelRequest| req.lane(), vec![embed_lane, chat_lane, rerank_lane]);
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
