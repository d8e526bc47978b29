//! Messages between the core and the model worker process.

use serde::{Deserialize, Serialize};

use quire_core::{ChatMessage, EmbedderInfo, GenerateRequest, Generation, GeneratorInfo};

/// How the embedding model runs. Passed to the worker as command-line flags, so a restarted worker loads the
/// same model the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedOptions {
    /// CPU threads (0: all cores).
    pub threads: usize,
    /// Tokens per llama.cpp call; several inputs are packed into one call. Also the longest input.
    pub batch_tokens: usize,
    /// Most inputs packed into one call.
    pub max_sequences: usize,
    pub flash_attention: bool,
    /// Layers offloaded to the GPU (0: CPU only). Ignored by CPU-only builds.
    pub gpu_layers: u32,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions { threads: 0, batch_tokens: 512, max_sequences: 64, flash_attention: true, gpu_layers: 0 }
    }
}

impl EmbedOptions {
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--threads".to_string(),
            self.threads.to_string(),
            "--batch-tokens".to_string(),
            self.batch_tokens.to_string(),
            "--max-sequences".to_string(),
            self.max_sequences.to_string(),
            "--gpu-layers".to_string(),
            self.gpu_layers.to_string(),
        ];
        if !self.flash_attention {
            args.push("--no-flash-attention".to_string());
        }
        args
    }

    /// Reads the flags written by [`EmbedOptions::to_args`]; unknown flags are errors.
    pub fn from_args(args: &[String]) -> Result<(std::path::PathBuf, EmbedOptions), String> {
        let mut o = EmbedOptions::default();
        let mut model = None;
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
            let number = |v: String| v.parse::<usize>().map_err(|_| format!("{flag}: not a number: {v}"));
            match flag.as_str() {
                "--model" => model = Some(std::path::PathBuf::from(value()?)),
                "--threads" => o.threads = number(value()?)?,
                "--batch-tokens" => o.batch_tokens = number(value()?)?,
                "--max-sequences" => o.max_sequences = number(value()?)?,
                "--gpu-layers" => o.gpu_layers = number(value()?)? as u32,
                "--no-flash-attention" => o.flash_attention = false,
                other => return Err(format!("unknown flag {other}")),
            }
        }
        let model = model.ok_or("--model is required")?;
        Ok((model, o))
    }
}

/// How many model layers run on the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum GpuLayers {
    /// Every layer (the fastest when the model fits the GPU's memory).
    All,
    /// CPU only.
    #[default]
    None,
    /// The first n layers.
    #[serde(untagged)]
    Count(u32),
}

impl GpuLayers {
    /// "all", "none" or a number.
    pub fn parse(s: &str) -> Option<GpuLayers> {
        match s {
            "all" => Some(GpuLayers::All),
            "none" | "0" => Some(GpuLayers::None),
            n => n.parse().ok().map(GpuLayers::Count),
        }
    }

    /// The value llama.cpp takes (a count larger than the model's layers means all).
    pub fn count(self) -> u32 {
        match self {
            GpuLayers::All => 999,
            GpuLayers::None => 0,
            GpuLayers::Count(n) => n,
        }
    }
}

/// Element type of the KV cache: smaller types fit longer contexts in the same memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KvType {
    F32,
    #[default]
    F16,
    Bf16,
    Q8_0,
    Q4_0,
}

impl KvType {
    pub fn parse(s: &str) -> Option<KvType> {
        Some(match s {
            "f32" => KvType::F32,
            "f16" => KvType::F16,
            "bf16" => KvType::Bf16,
            "q8_0" => KvType::Q8_0,
            "q4_0" => KvType::Q4_0,
            _ => return None,
        })
    }

    /// Bytes per element (block formats averaged).
    pub fn bytes(self) -> f64 {
        match self {
            KvType::F32 => 4.0,
            KvType::F16 | KvType::Bf16 => 2.0,
            KvType::Q8_0 => 34.0 / 32.0,
            KvType::Q4_0 => 18.0 / 32.0,
        }
    }
}

/// How the chat model is loaded. Sent with every chat request: the worker loads the model on first use,
/// again after a restart, and again when these options change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatOptions {
    pub model: std::path::PathBuf,
    pub gpu_layers: GpuLayers,
    /// Tokens in the context window (prompt and answer); 0: the model's training context, at most 8192.
    pub n_ctx: u32,
    /// CPU threads (0: all cores).
    pub threads: usize,
    /// Tokens per llama.cpp call while reading the prompt (also how often a cancel is noticed).
    pub batch: u32,
    pub ubatch: u32,
    pub flash_attention: bool,
    pub kv_type: KvType,
    /// A built-in llama.cpp template by name (chatml, llama3, gemma, phi3, mistral-v7, …), for models that
    /// have none in their GGUF; None uses the model's own.
    pub chat_template: Option<String>,
}

impl ChatOptions {
    pub fn new(model: std::path::PathBuf) -> ChatOptions {
        ChatOptions {
            model,
            gpu_layers: GpuLayers::default(),
            n_ctx: 4096,
            threads: 0,
            batch: 256,
            ubatch: 256,
            flash_attention: true,
            kv_type: KvType::default(),
            chat_template: None,
        }
    }
}

/// A request to the model worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ModelRequest {
    /// What the loaded embedding model is.
    Info,
    /// Whether the embedding model is in memory (it is not loaded for this question).
    EmbedLoaded,
    /// Tokens per text, without special tokens.
    CountTokens { texts: Vec<String> },
    /// Embeds texts; inputs longer than the window are cut (and counted).
    Embed { texts: Vec<String> },
    /// Loads the chat model (if needed) and describes it.
    ChatInfo { chat: ChatOptions },
    /// Tokens per text under the chat model's tokenizer, as plain content.
    ChatCount { chat: ChatOptions, texts: Vec<String> },
    /// Tokens of the prompt the messages make under the chat template.
    ChatPromptTokens { chat: ChatOptions, messages: Vec<ChatMessage> },
    /// Generates an answer, streaming `GenEvent`s.
    Generate { chat: ChatOptions, request: GenerateRequest },
    /// Frees the chat model and its context (the next chat request loads it again).
    ChatUnload,
    /// Scores each text against the query with a cross-encoder (reranker) model.
    Rerank { model: std::path::PathBuf, threads: usize, query: String, texts: Vec<String> },
}

impl ModelRequest {
    /// The worker thread (lane) that serves the request: 0 embeddings, 1 chat, 2 reranking.
    pub fn lane(&self) -> usize {
        match self {
            ModelRequest::Info
            | ModelRequest::EmbedLoaded
            | ModelRequest::CountTokens { .. }
            | ModelRequest::Embed { .. } => 0,
            ModelRequest::ChatInfo { .. }
            | ModelRequest::ChatCount { .. }
            | ModelRequest::ChatPromptTokens { .. }
            | ModelRequest::Generate { .. }
            | ModelRequest::ChatUnload => 1,
            ModelRequest::Rerank { .. } => 2,
        }
    }
}

/// The worker's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ModelReply {
    Info(EmbedderInfo),
    EmbedLoaded {
        loaded: bool,
    },
    Counts {
        counts: Vec<u32>,
    },
    /// `data`: base64 of the little-endian f32 values, `dim` per input, L2-normalised.
    Embeddings {
        dim: usize,
        data: String,
        tokens: Vec<u32>,
        truncated: u32,
    },
    ChatInfo(GeneratorInfo),
    /// The chat model was freed (`unloaded`: false when none was loaded).
    ChatUnloaded {
        unloaded: bool,
    },
    PromptTokens {
        tokens: u32,
        /// Control tokens (template markers) in the prompt: only the template adds them, never content.
        control_tokens: u32,
    },
    Generated(Generation),
    Scores {
        scores: Vec<f32>,
    },
    Error {
        message: String,
    },
}
