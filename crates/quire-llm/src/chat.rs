//! The worker side of chat: the chat model, its context and the generation loop, owned by the worker's chat
//! lane (one thread).
//!
//! The context keeps the tokens it holds between requests. A new prompt that starts like the previous one
//! (the same instructions, the same earlier turns) evaluates only what follows the shared prefix.

use std::num::NonZeroU32;
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{KvCacheType, LlamaContextParams};
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token_type::LlamaTokenAttr;

use quire_core::repetition::RepetitionGuard;
use quire_core::worker::Responder;
use quire_core::{ChatMessage, GenEvent, GenerateRequest, Generation, GeneratorInfo, StopReason, Timings, Usage};

use crate::engine::{backend, model_id, threads};
use crate::protocol::{ChatOptions, KvType, ModelReply, ModelRequest};

/// The longest a generated piece waits before it is streamed (about 30 updates a second).
const STREAM_INTERVAL: std::time::Duration = std::time::Duration::from_millis(33);

/// The chat lane: loads the model on first use and again when the options change.
#[derive(Default)]
pub struct ChatLane {
    engine: Option<ChatEngine>,
}

impl ChatLane {
    pub fn handle(&mut self, req: ModelRequest, responder: &Responder) -> ModelReply {
        let result = match req {
            ModelRequest::ChatInfo { chat } => self.engine(&chat).map(|(e, _)| ModelReply::ChatInfo(e.info.clone())),
            ModelRequest::ChatCount { chat, texts } => self.engine(&chat).map(|(e, _)| ModelReply::Counts {
                counts: texts.iter().map(|t| e.tokenize_content(t).len() as u32).collect(),
            }),
            ModelRequest::ChatPromptTokens { chat, messages } => self.engine(&chat).and_then(|(e, _)| {
                let tokens = e.prompt(&messages)?;
                let control = tokens.iter().filter(|t| e.is_control(**t)).count();
                Ok(ModelReply::PromptTokens { tokens: tokens.len() as u32, control_tokens: control as u32 })
            }),
            ModelRequest::Generate { chat, request } => {
                let started = Instant::now();
                self.engine(&chat).and_then(|(e, load_ms)| {
                    e.generate(&request, responder, started, load_ms).map(ModelReply::Generated)
                })
            }
            ModelRequest::ChatUnload => Ok(ModelReply::ChatUnloaded { unloaded: self.engine.take().is_some() }),
            _ => Err("the chat lane serves only chat requests".into()),
        };
        result.unwrap_or_else(|message| ModelReply::Error { message })
    }

    /// The engine for these options, loading it if needed; also the milliseconds the load took.
    fn engine(&mut self, options: &ChatOptions) -> Result<(&mut ChatEngine, f64), String> {
        let mut load_ms = 0.0;
        if self.engine.as_ref().is_none_or(|e| &e.options != options) {
            // Free the old model before loading the new one: both may not fit together.
            self.engine = None;
            let t = Instant::now();
            self.engine = Some(ChatEngine::load(options.clone())?);
            load_ms = t.elapsed().as_secs_f64() * 1000.0;
        }
        match self.engine.as_mut() {
            Some(e) => Ok((e, load_ms)),
            None => Err("the chat model is not loaded".into()),
        }
    }
}

self_cell::self_cell!(
    /// A model and the context that borrows it, owned together so that loading another model frees both.
    struct Loaded {
        owner: LlamaModel,
        #[not_covariant]
        dependent: LlamaContext,
    }
);

/// A loaded chat model with its context.
pub struct ChatEngine {
    options: ChatOptions,
    info: GeneratorInfo,
    loaded: Loaded,
    template: LlamaChatTemplate,
    /// Texts of the vocabulary's control tokens (template markers such as `<|im_start|>`).
    control_texts: Vec<String>,
    /// The tokens the context holds, from position 0.
    cached: Vec<LlamaToken>,
}

impl ChatEngine {
    pub fn load(options: ChatOptions) -> Result<ChatEngine, String> {
        let path = &options.model;
        if !path.is_file() {
            return Err(format!("the chat model {} does not exist", path.display()));
        }
        let backend = backend()?;
        if options.gpu_layers.count() == 0 {
            check_weights_fit(path)?;
        }
        let params = LlamaModelParams::default().with_n_gpu_layers(options.gpu_layers.count());
        let model = LlamaModel::load_from_file(backend, path, &params).map_err(|e| {
            format!(
                "cannot load the chat model {}: {e}. If the machine is short of memory, choose a smaller model or \
                 quantization, or offload fewer layers to the GPU",
                path.display()
            )
        })?;
        let n_ctx = if options.n_ctx == 0 { model.n_ctx_train().min(8192) } else { options.n_ctx };
        if options.gpu_layers.count() == 0 {
            check_kv_fits(&model, n_ctx, options.kv_type)?;
        }
        let template = match &options.chat_template {
            Some(name) => {
                let t = LlamaChatTemplate::new(name).map_err(|_| format!("invalid chat template name {name:?}"))?;
                let probe = [LlamaChatMessage::new("user".into(), "hi".into()).map_err(|e| e.to_string())?];
                model.apply_chat_template(&t, &probe, true).map_err(|_| {
                    format!(
                        "unknown chat template {name:?}: use a llama.cpp template name such as chatml, llama3 or gemma"
                    )
                })?;
                t
            }
            None => model.chat_template(None).map_err(|_| {
                format!(
                    "the model {} has no chat template: choose one by name (for example chatml, llama3 or gemma)",
                    path.display()
                )
            })?,
        };
        let flash = if options.flash_attention {
            llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED
        } else {
            llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED
        };
        let kv = kv_cache_type(options.kv_type);
        let batch = options.batch.clamp(8, n_ctx);
        let ctx_params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(batch)
            .with_n_ubatch(options.ubatch.clamp(8, batch))
            .with_n_threads(threads(options.threads))
            .with_n_threads_batch(threads(options.threads))
            .with_flash_attention_policy(flash)
            .with_type_k(kv)
            .with_type_v(kv);
        let vocab = model.vocab();
        let control_texts = vocab
            .tokens()
            .filter(|t| vocab.attr(*t).0.contains(LlamaTokenAttr::Control))
            .map(|t| String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned())
            .filter(|s| s.chars().count() >= 2)
            .collect();
        let loaded = Loaded::try_new(model, |model| model.new_context(backend, ctx_params)).map_err(|e| {
            format!(
                "cannot create a context of {n_ctx} tokens for {}: {e}. Lower the context size or use a \
                 quantized KV cache (q8_0)",
                path.display()
            )
        })?;
        let n_ctx = loaded.with_dependent(|_, ctx| ctx.n_ctx());
        let info = GeneratorInfo { model_id: model_id(path), n_ctx };
        tracing::info!(model = %info.model_id, n_ctx = info.n_ctx, "chat model loaded");
        Ok(ChatEngine { options, info, loaded, template, control_texts, cached: Vec::new() })
    }

    fn model(&self) -> &LlamaModel {
        self.loaded.borrow_owner()
    }

    fn is_control(&self, token: LlamaToken) -> bool {
        self.model().vocab().attr(token).0.contains(LlamaTokenAttr::Control)
    }

    /// Tokens of plain content: special-token text in it stays text.
    fn tokenize_content(&self, text: &str) -> Vec<LlamaToken> {
        self.model().vocab().tokenize(text.as_bytes(), false, false)
    }

    /// Content with every control-token text broken by a zero-width space, so that text in a message can
    /// never become a template marker when the prompt is tokenized.
    fn neutralize(&self, content: &str) -> String {
        let mut out = content.to_string();
        for marker in &self.control_texts {
            if out.contains(marker.as_str()) {
                let mut chars = marker.chars();
                let first = chars.next().map(String::from).unwrap_or_default();
                out = out.replace(marker.as_str(), &format!("{first}\u{200b}{}", chars.as_str()));
            }
        }
        out
    }

    /// The prompt's tokens: the chat template applied to the messages, with the assistant's turn opened.
    fn prompt(&self, messages: &[ChatMessage]) -> Result<Vec<LlamaToken>, String> {
        let chat = messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.as_str().to_string(), self.neutralize(&m.content)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("a message cannot be passed to llama.cpp: {e}"))?;
        let text = self
            .model()
            .apply_chat_template(&self.template, &chat, true)
            .map_err(|e| format!("the chat template could not be applied: {e}"))?;
        Ok(self.model().vocab().tokenize(text.as_bytes(), true, true))
    }

    fn generate(
        &mut self,
        request: &GenerateRequest,
        responder: &Responder,
        started: Instant,
        load_ms: f64,
    ) -> Result<Generation, String> {
        let prompt = self.prompt(&request.messages)?;
        let cached = &mut self.cached;
        self.loaded.with_dependent_mut(|model, ctx| {
            run(model, ctx, cached, &prompt, request, responder, Clock { started, load_ms })
        })
    }
}

/// When the request started, and how long loading the model took.
struct Clock {
    started: Instant,
    load_ms: f64,
}

/// Evaluates the prompt after the prefix the context already holds, then samples the answer.
fn run(
    model: &LlamaModel,
    ctx: &mut LlamaContext<'_>,
    cached: &mut Vec<LlamaToken>,
    prompt: &[LlamaToken],
    request: &GenerateRequest,
    responder: &Responder,
    clock: Clock,
) -> Result<Generation, String> {
    let n_ctx = ctx.n_ctx() as usize;
    if prompt.is_empty() {
        return Err("the prompt is empty".into());
    }
    if prompt.len() >= n_ctx {
        return Err(format!(
            "the prompt has {} tokens and the context window holds {n_ctx}: shorten the question or load the \
             model with a larger context",
            prompt.len()
        ));
    }
    // Reuse the shared prefix; at least one token is evaluated to get the next token's logits.
    let common = cached.iter().zip(prompt).take_while(|(a, b)| a == b).count().min(prompt.len() - 1);
    ctx.clear_kv_cache_seq(Some(0), Some(common as u32), None)
        .map_err(|e| format!("the KV cache could not be trimmed: {e}"))?;
    cached.truncate(common);
    responder.event(&GenEvent::Prompt { tokens: prompt.len() as u32, cached: common as u32 });
    let mut usage = Usage { prompt_tokens: prompt.len() as u32, cached_tokens: common as u32, completion_tokens: 0 };
    let mut timings = Timings { load_ms: clock.load_ms, ..Timings::default() };

    let batch_size = ctx.n_batch() as usize;
    let mut batch = LlamaBatch::new(batch_size.max(1), 1);
    let t_prompt = Instant::now();
    let rest = &prompt[common..];
    for (k, slice) in rest.chunks(batch_size).enumerate() {
        if responder.is_cancelled() {
            timings.prompt_ms = t_prompt.elapsed().as_secs_f64() * 1000.0;
            return Ok(Generation { text: String::new(), stop: StopReason::Cancelled, usage, timings });
        }
        batch.clear();
        let base = common + k * batch_size;
        for (i, tok) in slice.iter().enumerate() {
            let last = base + i == prompt.len() - 1;
            batch.add(*tok, (base + i) as i32, &[0], last).map_err(|e| format!("batch: {e}"))?;
        }
        if let Err(e) = ctx.decode(&mut batch) {
            reset(ctx, cached);
            return Err(format!("llama.cpp could not read the prompt: {e}"));
        }
        cached.extend_from_slice(slice);
    }
    timings.prompt_ms = t_prompt.elapsed().as_secs_f64() * 1000.0;

    let s = &request.sampling;
    let vocab = model.vocab();
    let mut samplers = vec![LlamaSampler::penalties(model.n_vocab(), s.repeat_last_n, s.repeat_penalty, 0.0, 0.0)];
    if s.temperature <= 0.0 {
        samplers.push(LlamaSampler::greedy());
    } else {
        samplers.extend([
            LlamaSampler::top_k(s.top_k),
            LlamaSampler::top_p(s.top_p, 1),
            LlamaSampler::min_p(s.min_p, 1),
            LlamaSampler::temp(s.temperature),
            LlamaSampler::dist(s.seed),
        ]);
    }
    let mut sampler = LlamaSampler::chain_simple(samplers);
    let mut guard = RepetitionGuard::default();
    let mut text = String::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut logits_at = batch.n_tokens() - 1;
    let mut first_token_at: Option<Instant> = None;
    // Text not yet sent: pieces are sent together at most every STREAM_INTERVAL (the first one at once), so
    // the parent is not woken for every token while llama.cpp's threads want every core.
    let mut unsent = String::new();
    let mut sent_at = Instant::now();
    let stop = loop {
        if usage.completion_tokens >= s.max_tokens {
            break StopReason::MaxTokens;
        }
        if cached.len() >= n_ctx {
            break StopReason::ContextFull;
        }
        let token = sampler.sample(ctx, logits_at);
        sampler.accept(token);
        if vocab.is_eog(token) {
            break StopReason::End;
        }
        usage.completion_tokens += 1;
        pending.extend(vocab.token_to_piece(token, false, None));
        let piece = take_utf8(&mut pending);
        if first_token_at.is_none() {
            first_token_at = Some(Instant::now());
            timings.first_token_ms = clock.started.elapsed().as_secs_f64() * 1000.0;
        }
        if !piece.is_empty() {
            text.push_str(&piece);
            unsent.push_str(&piece);
            if usage.completion_tokens == 1 || sent_at.elapsed() >= STREAM_INTERVAL {
                responder.event(&GenEvent::Token { text: std::mem::take(&mut unsent) });
                sent_at = Instant::now();
            }
        }
        if request.repetition_guard && guard.push(token.0) {
            break StopReason::Repetition;
        }
        if responder.is_cancelled() {
            break StopReason::Cancelled;
        }
        batch.clear();
        batch.add(token, cached.len() as i32, &[0], true).map_err(|e| format!("batch: {e}"))?;
        if let Err(e) = ctx.decode(&mut batch) {
            reset(ctx, cached);
            return Err(format!("llama.cpp could not continue the answer: {e}"));
        }
        cached.push(token);
        logits_at = 0;
    };
    if !pending.is_empty() {
        let tail = String::from_utf8_lossy(&pending).into_owned();
        text.push_str(&tail);
        unsent.push_str(&tail);
    }
    if !unsent.is_empty() {
        responder.event(&GenEvent::Token { text: unsent });
    }
    if let Some(t) = first_token_at {
        timings.generation_ms = t.elapsed().as_secs_f64() * 1000.0;
    }
    Ok(Generation { text, stop, usage, timings })
}

/// Forgets the context's contents after a failed call (its state is unknown).
fn reset(ctx: &mut LlamaContext<'_>, cached: &mut Vec<LlamaToken>) {
    ctx.clear_kv_cache();
    cached.clear();
}

/// Takes the longest valid UTF-8 prefix out of `bytes`, keeping an unfinished character for the next piece.
/// Bytes that can never be valid are replaced.
fn take_utf8(bytes: &mut Vec<u8>) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            let s = s.to_string();
            bytes.clear();
            s
        }
        Err(e) if e.error_len().is_none() => {
            let valid = e.valid_up_to();
            let s = String::from_utf8_lossy(&bytes[..valid]).into_owned();
            bytes.drain(..valid);
            s
        }
        Err(_) => {
            let s = String::from_utf8_lossy(bytes).into_owned();
            bytes.clear();
            s
        }
    }
}

fn kv_cache_type(kv: KvType) -> KvCacheType {
    match kv {
        KvType::F32 => KvCacheType::F32,
        KvType::F16 => KvCacheType::F16,
        KvType::Bf16 => KvCacheType::BF16,
        KvType::Q8_0 => KvCacheType::Q8_0,
        KvType::Q4_0 => KvCacheType::Q4_0,
    }
}

/// Bytes the KV cache of `n_ctx` tokens takes for this model.
pub fn kv_cache_bytes(model: &LlamaModel, n_ctx: u32, kv: KvType) -> f64 {
    let head_dim = f64::from(model.n_embd()) / f64::from(model.n_head().max(1));
    let per_token_layer = 2.0 * f64::from(model.n_head_kv()) * head_dim * kv.bytes();
    per_token_layer * f64::from(model.n_layer()) * f64::from(n_ctx)
}

/// Fails, saying what to change, when the KV cache for `n_ctx` tokens cannot fit the memory available now.
fn check_kv_fits(model: &LlamaModel, n_ctx: u32, kv: KvType) -> Result<(), String> {
    let Some(available) = available_memory() else { return Ok(()) };
    let need = kv_cache_bytes(model, n_ctx, kv);
    if need <= available as f64 * 0.9 {
        return Ok(());
    }
    let per_token = need / f64::from(n_ctx.max(1));
    let fits = ((available as f64 * 0.9) / per_token) as u64;
    Err(format!(
        "a context of {n_ctx} tokens needs about {:.0} MB for its KV cache and {:.0} MB of memory is available: \
         lower the context size to {fits} tokens or less, or use a quantized KV cache (q8_0)",
        need / 1e6,
        available as f64 / 1e6
    ))
}

/// Fails, saying what to change, when the model's weights cannot fit the memory available now (CPU only:
/// llama.cpp maps the file and every weight is read for each token).
fn check_weights_fit(path: &std::path::Path) -> Result<(), String> {
    let (Some(available), Ok(meta)) = (available_memory(), std::fs::metadata(path)) else { return Ok(()) };
    // MemAvailable counts the reclaimable page cache, so a model file already cached is not counted twice.
    if meta.len() as f64 <= available as f64 * 0.95 {
        return Ok(());
    }
    Err(format!(
        "the model {} needs about {:.1} GB of memory and {:.1} GB is available: choose a smaller model or quantization, \
         or offload layers to a GPU",
        path.display(),
        meta.len() as f64 / 1e9,
        available as f64 / 1e9
    ))
}

/// Memory available to new allocations, in bytes (Linux: MemAvailable), or None when unknown.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::take_utf8;

    #[test]
    fn utf8_pieces_wait_for_whole_characters() {
        let mut b = "é".as_bytes()[..1].to_vec();
        assert_eq!(take_utf8(&mut b), "");
        b.extend_from_slice(&"é".as_bytes()[1..]);
        b.extend_from_slice(b"x");
        assert_eq!(take_utf8(&mut b), "éx");
        assert!(b.is_empty());
        let mut bad = vec![0xff, b'a'];
        assert_eq!(take_utf8(&mut bad), "\u{fffd}a");
    }
}
