//! The worker side of reranking: a cross-encoder GGUF (a model with a classification head, run with llama.cpp's
//! rank pooling) scores how well each text answers a query. Owned by the worker's rerank lane (one thread).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::token::LlamaToken;

use crate::engine::{backend, threads};
use crate::protocol::{ModelReply, ModelRequest};

self_cell::self_cell!(
    /// A reranker model and the context that borrows it.
    struct Loaded {
        owner: LlamaModel,
        #[not_covariant]
        dependent: LlamaContext,
    }
);

/// Tokens of one query + text pair, and of one llama.cpp call.
const WINDOW: u32 = 1024;
/// Pairs scored per llama.cpp call.
const MAX_SEQUENCES: usize = 16;

/// The rerank lane: loads the reranker named by the request on first use and when it changes.
#[derive(Default)]
pub struct RerankLane {
    engine: Option<RerankEngine>,
}

impl RerankLane {
    pub fn handle(&mut self, req: ModelRequest) -> ModelReply {
        let ModelRequest::Rerank { model, threads, query, texts } = req else {
            return ModelReply::Error { message: "the rerank lane serves only rerank requests".into() };
        };
        if self.engine.as_ref().is_none_or(|e| e.path != model) {
            self.engine = None;
            match RerankEngine::load(&model, threads) {
                Ok(e) => self.engine = Some(e),
                Err(message) => return ModelReply::Error { message },
            }
        }
        match self.engine.as_mut().map(|e| e.score(&query, &texts)) {
            Some(Ok(scores)) => ModelReply::Scores { scores },
            Some(Err(message)) => ModelReply::Error { message },
            None => ModelReply::Error { message: "the reranker is not loaded".into() },
        }
    }
}

pub struct RerankEngine {
    path: PathBuf,
    loaded: Loaded,
}

impl RerankEngine {
    pub fn load(path: &Path, n_threads: usize) -> Result<RerankEngine, String> {
        if !path.is_file() {
            return Err(format!("the reranker model {} does not exist", path.display()));
        }
        let backend = backend()?;
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|e| format!("cannot load the reranker {}: {e}", path.display()))?;
        // A cross-encoder's GGUF declares rank pooling; run with rank pooling, any other model would give
        // meaningless scores.
        let arch = model.meta_val_str("general.architecture").unwrap_or_default();
        let pooling = model.meta_val_str(&format!("{arch}.pooling_type")).unwrap_or_default();
        if pooling.trim() != "4" {
            return Err(format!(
                "{} is not a reranker: its GGUF does not declare rank pooling (a cross-encoder such as bge-reranker \
                 is needed)",
                path.display()
            ));
        }
        let window = model.n_ctx_train().clamp(64, WINDOW);
        let params = LlamaContextParams::default()
            .with_embeddings(true)
            .with_pooling_type(LlamaPoolingType::Rank)
            .with_n_ctx(NonZeroU32::new(window))
            .with_n_batch(window)
            .with_n_ubatch(window)
            .with_n_seq_max(MAX_SEQUENCES as u32)
            .with_kv_unified(true)
            .with_n_threads(threads(n_threads))
            .with_n_threads_batch(threads(n_threads));
        let loaded = Loaded::try_new(model, |m| m.new_context(backend, params))
            .map_err(|e| format!("cannot create a context for the reranker {}: {e}", path.display()))?;
        tracing::info!(model = %path.display(), window, "reranker loaded");
        Ok(RerankEngine { path: path.to_path_buf(), loaded })
    }

    /// One score per text (higher: more relevant to the query).
    fn score(&mut self, query: &str, texts: &[String]) -> Result<Vec<f32>, String> {
        self.loaded.with_dependent_mut(|model, ctx| {
            let vocab = model.vocab();
            let window = ctx.n_batch() as usize;
            let q = vocab.tokenize(query.as_bytes(), false, false);
            // [BOS] query [EOS] [SEP] text [EOS], the pair layout of BERT-family cross-encoders.
            let pairs: Vec<Vec<LlamaToken>> = texts
                .iter()
                .map(|t| {
                    let mut toks = vec![vocab.bos()];
                    toks.extend(q.iter().take(window / 2));
                    toks.push(vocab.eos());
                    toks.push(vocab.sep());
                    let room = window.saturating_sub(toks.len() + 1);
                    toks.extend(vocab.tokenize(t.as_bytes(), false, false).into_iter().take(room));
                    toks.push(vocab.eos());
                    toks
                })
                .collect();
            let mut scores = vec![0f32; texts.len()];
            let mut batch = LlamaBatch::new(window, MAX_SEQUENCES as i32);
            let mut i = 0;
            while i < pairs.len() {
                batch.clear();
                let first = i;
                let mut used = 0;
                while i < pairs.len() && i - first < MAX_SEQUENCES && used + pairs[i].len() <= window {
                    for (pos, tok) in pairs[i].iter().enumerate() {
                        batch.add(*tok, pos as i32, &[(i - first) as i32], true).map_err(|e| format!("batch: {e}"))?;
                    }
                    used += pairs[i].len();
                    i += 1;
                }
                if i == first {
                    return Err("a query and text pair does not fit the reranker's window".into());
                }
                ctx.clear_kv_cache();
                ctx.encode(&mut batch).map_err(|e| format!("llama.cpp could not score: {e}"))?;
                for k in 0..(i - first) {
                    let e = ctx.embeddings_seq_ith(k as i32).map_err(|e| format!("no score: {e}"))?;
                    scores[first + k] = e.first().copied().unwrap_or(f32::NEG_INFINITY);
                }
            }
            Ok(scores)
        })
    }
}
