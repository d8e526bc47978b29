//! Text generation: the [`Generator`] trait the answer pipeline drives, and the types that cross it.
//!
//! The real generator runs llama.cpp in the model worker process (quire-llm); the answer pipeline only sees
//! this trait, so its logic is tested with [`crate::fake::ScriptedGenerator`].

use std::sync::atomic::AtomicBool;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a prompt, before the model's chat template is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> ChatMessage {
        ChatMessage { role, content: content.into() }
    }
}

/// How tokens are picked. `temperature` 0 means greedy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    pub temperature: f32,
    pub top_p: f32,
    pub top_k: i32,
    pub min_p: f32,
    /// 1.0 turns the penalty off.
    pub repeat_penalty: f32,
    /// Recent tokens the repeat penalty looks at.
    pub repeat_last_n: i32,
    /// The most tokens the answer may have.
    pub max_tokens: u32,
    pub seed: u32,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams {
            temperature: 0.2,
            top_p: 0.95,
            top_k: 40,
            min_p: 0.05,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            max_tokens: 512,
            seed: 42,
        }
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model ended its answer.
    End,
    /// `max_tokens` was reached.
    MaxTokens,
    /// The context window is full.
    ContextFull,
    /// The user asked to stop.
    Cancelled,
    /// The answer started repeating itself and was cut.
    Repetition,
}

impl StopReason {
    /// What the user is told, or None when the answer simply ended.
    pub fn notice(self) -> Option<&'static str> {
        match self {
            StopReason::End => None,
            StopReason::MaxTokens => Some("the answer reached the length limit"),
            StopReason::ContextFull => Some("the answer filled the model's context window"),
            StopReason::Cancelled => Some("stopped"),
            StopReason::Repetition => Some("the answer started repeating itself and was stopped"),
        }
    }
}

/// Token counts of one generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt, after the chat template.
    pub prompt_tokens: u32,
    /// Prompt tokens reused from the previous request's KV cache (not evaluated again).
    pub cached_tokens: u32,
    pub completion_tokens: u32,
}

/// Where the time of one generation went, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Loading the model (0 when it was already loaded).
    pub load_ms: f64,
    /// Evaluating the prompt tokens that were not cached.
    pub prompt_ms: f64,
    /// From the request to the first answer token.
    pub first_token_ms: f64,
    /// Generating the answer tokens after the first.
    pub generation_ms: f64,
}

impl Timings {
    /// Answer tokens per second, after the first token.
    pub fn tokens_per_second(&self, usage: &Usage) -> f64 {
        if self.generation_ms > 0.0 && usage.completion_tokens > 1 {
            f64::from(usage.completion_tokens - 1) * 1000.0 / self.generation_ms
        } else {
            0.0
        }
    }
}

/// A generation request: messages in order (system first), sampling, and an optional stop on repetition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    pub messages: Vec<ChatMessage>,
    pub sampling: SamplingParams,
    /// Stop when the answer loops (see `crate::repetition`).
    pub repetition_guard: bool,
}

/// What streams out of a generation, in order: one `Prompt`, then `Token`s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GenEvent {
    /// The prompt was read: its size and how much of it came from the cache.
    Prompt { tokens: u32, cached: u32 },
    /// The next piece of the answer (whole UTF-8 characters).
    Token { text: String },
}

/// A finished generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub text: String,
    pub stop: StopReason,
    pub usage: Usage,
    pub timings: Timings,
}

/// What a generator is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratorInfo {
    /// The model's id (its file name without the extension).
    pub model_id: String,
    /// Tokens the context window holds: prompt and answer together.
    pub n_ctx: u32,
}

/// A chat model.
#[async_trait]
pub trait Generator: Send + Sync {
    /// Loads the model if needed and describes it.
    async fn info(&self) -> Result<GeneratorInfo>;
    /// Tokens in each text, as plain content (no template, no special tokens).
    async fn count_tokens(&self, texts: Vec<String>) -> Result<Vec<u32>>;
    /// Tokens of the whole prompt the messages make once the chat template is applied (with the opening of
    /// the assistant's turn).
    async fn prompt_tokens(&self, messages: Vec<ChatMessage>) -> Result<u32>;
    /// Generates an answer, streaming events to `on_event`. Setting `cancel` stops it at the next token (or
    /// the next slice of prompt evaluation) with [`StopReason::Cancelled`] and the text so far.
    async fn generate(
        &self,
        request: GenerateRequest,
        cancel: &AtomicBool,
        on_event: &mut (dyn FnMut(GenEvent) + Send),
    ) -> Result<Generation>;
}
