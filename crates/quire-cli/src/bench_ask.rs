//! `quire bench ask`: time to first token and tokens per second of the chat model, measured the way
//! llama.cpp's `llama-bench` measures pp/tg (a prompt of a given length, then a fixed number of tokens), and the
//! time saved on a follow-up question by reusing the cached instruction prefix.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use quire_app::OpenOptions;
use quire_core::answer::INSTRUCTIONS;
use quire_core::{ChatMessage, GenerateRequest, Generation, Generator, Role, SamplingParams};
use quire_llm::{EmbedOptions, LlamaGenerator};

/// Figures of one `bench ask` run.
#[derive(Debug, Serialize)]
pub struct AskBench {
    pub model: String,
    pub threads: usize,
    pub n_ctx: u32,
    pub prompt_tokens: u32,
    pub generated_tokens: Vec<u32>,
    /// Median over runs, milliseconds from request to first token (prompt evaluation included).
    pub first_token_ms: f64,
    /// Median prompt evaluation rate, tokens per second.
    pub prompt_tokens_per_s: f64,
    /// Median generation rate after the first token, tokens per second.
    pub generation_tokens_per_s: f64,
    /// Follow-up question: first-token time with the instruction prefix cached, and with an empty cache.
    pub followup_cached_tokens: u32,
    pub followup_first_token_ms_cached: f64,
    pub followup_first_token_ms_cold: f64,
}

/// Text to fill prompts with (plain prose, tokenized like document text).
const FILLER: &str = "Debian is a free operating system developed by volunteers. Packages are installed with apt, \
which resolves dependencies and downloads archives from mirrors. Configuration files live under /etc and are \
preserved across upgrades. The stable release receives security updates for several years.";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

/// A user message whose prompt (with `system`) is `target` tokens long, give or take a few, made of `text`.
async fn prompt_of(g: &LlamaGenerator, text: &str, system: &str, target: u32, tail: &str) -> Result<Vec<ChatMessage>> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let build = |n: usize| {
        let body: Vec<&str> = words.iter().cycle().take(n).copied().collect();
        vec![
            ChatMessage::new(Role::System, system),
            ChatMessage::new(Role::User, format!("{}\n\n{tail}", body.join(" "))),
        ]
    };
    let (mut lo, mut hi) = (0usize, (target as usize) * 2 + 16);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if g.prompt_tokens(build(mid)).await? <= target {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(build(lo))
}

async fn generate(g: &LlamaGenerator, messages: Vec<ChatMessage>, max_tokens: u32) -> Result<Generation> {
    let request = GenerateRequest {
        messages,
        // Greedy, no penalties and no repetition guard: the same work llama-bench does per token.
        sampling: SamplingParams { temperature: 0.0, repeat_penalty: 1.0, max_tokens, ..SamplingParams::default() },
        repetition_guard: false,
    };
    Ok(g.generate(request, &AtomicBool::new(false), &mut |_| ()).await?)
}

pub async fn bench_ask(
    options: OpenOptions,
    prompt_file: Option<&std::path::Path>,
    prompt_tokens: u32,
    gen_tokens: u32,
    runs: usize,
) -> Result<AskBench> {
    let text = match prompt_file {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => FILLER.to_string(),
    };
    if text.split_whitespace().next().is_none() {
        bail!("the prompt text is empty");
    }
    let chat = options.chat_options()?;
    let worker = quire_llm::model_worker(&options.worker_program, None, &EmbedOptions::default());
    let g = LlamaGenerator::new(Arc::clone(&worker), chat.clone());
    let info = g.info().await?;
    if prompt_tokens + gen_tokens >= info.n_ctx {
        bail!("{prompt_tokens} prompt + {gen_tokens} generated tokens do not fit the context of {}", info.n_ctx);
    }
    let tail = "Write a long, detailed essay about the text above.";
    let mut ttft = Vec::new();
    let mut pp = Vec::new();
    let mut tg = Vec::new();
    let mut generated = Vec::new();
    let mut exact_prompt = 0;
    for run in 0..runs.max(1) + 1 {
        // A different first line per run: nothing is reused from the previous run's cache.
        let system = format!("Run {run}. You are a helpful writer.");
        let messages = prompt_of(&g, &text, &system, prompt_tokens, tail).await?;
        let out = generate(&g, messages, gen_tokens).await?;
        if run == 0 {
            continue; // warm-up: page the weights in
        }
        exact_prompt = out.usage.prompt_tokens;
        let fresh = f64::from(out.usage.prompt_tokens - out.usage.cached_tokens);
        ttft.push(out.timings.first_token_ms);
        pp.push(fresh * 1000.0 / out.timings.prompt_ms.max(1e-9));
        tg.push(out.timings.tokens_per_second(&out.usage));
        generated.push(out.usage.completion_tokens);
    }

    // A follow-up as the answer pipeline builds it: the first prompt is [instructions, sources + question];
    // the follow-up is [instructions, first question, first answer, new sources + new question]. Only the
    // instructions are shared, and only they can come from the cache.
    let q1 = "Question: What does the text say about upgrades?";
    let first = prompt_of(&g, &text, INSTRUCTIONS, prompt_tokens, q1).await?;
    let first_answer = generate(&g, first, 64).await?;
    let rotated: String = {
        let words: Vec<&str> = text.split_whitespace().collect();
        let half = words.len() / 2;
        words[half..].iter().chain(&words[..half]).copied().collect::<Vec<_>>().join(" ")
    };
    let second =
        prompt_of(&g, &rotated, INSTRUCTIONS, prompt_tokens, "Question: And where do configuration files live?")
            .await?;
    let mut followup = vec![
        ChatMessage::new(Role::System, INSTRUCTIONS),
        ChatMessage::new(Role::User, q1),
        ChatMessage::new(Role::Assistant, first_answer.text.trim()),
    ];
    followup.extend(second.into_iter().skip(1));
    let cached = generate(&g, followup.clone(), 1).await?;
    // Cold: evaluate an unrelated prompt first so nothing of the follow-up is cached.
    generate(&g, vec![ChatMessage::new(Role::User, "Hello.")], 1).await?;
    let cold = generate(&g, followup, 1).await?;
    worker.stop().await;
    Ok(AskBench {
        model: info.model_id,
        threads: if chat.threads == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            chat.threads
        },
        n_ctx: info.n_ctx,
        prompt_tokens: exact_prompt,
        generated_tokens: generated,
        first_token_ms: median(ttft),
        prompt_tokens_per_s: median(pp),
        generation_tokens_per_s: median(tg),
        followup_cached_tokens: cached.usage.cached_tokens,
        followup_first_token_ms_cached: cached.timings.first_token_ms,
        followup_first_token_ms_cold: cold.timings.first_token_ms,
    })
}
