//! `quire ask`, `quire conversations` and `quire eval --answers`: answers from the local chat model over the
//! library, the conversations they are kept in, and answer quality (ROUGE-L) against references.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use quire_app::{OpenOptions, Opened};
use quire_core::answer::{Answer, AnswerEvent, Question, RerankStatus};
use quire_core::conversation::{ConversationStore, Scope};
use quire_core::eval::{load_answer_cases, rouge_l};
use quire_core::{Citation, SearchFilter};
use quire_llm::{GpuLayers, KvType};

/// How the chat model loads and samples (shared by `ask`, `eval --answers` and `bench ask`).
#[derive(Args, Debug, Clone)]
pub struct ChatArgs {
    /// Chat model (GGUF). Default: the starter SmolLM2-135M-Instruct from the model cache.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Context window in tokens (0: the model's own, at most 8192).
    #[arg(long, default_value_t = 4096)]
    pub ctx: u32,
    /// Model layers on the GPU: all, none or a number (GPU builds only).
    #[arg(long, default_value = "none", value_parser = parse_gpu_layers)]
    pub gpu_layers: GpuLayers,
    /// Tokens per llama.cpp call while reading the prompt.
    #[arg(long, default_value_t = 256)]
    pub batch: u32,
    #[arg(long, default_value_t = 256)]
    pub ubatch: u32,
    #[arg(long)]
    pub no_flash_attention: bool,
    /// KV cache type: f16, q8_0, q4_0, bf16, f32.
    #[arg(long, default_value = "f16", value_parser = parse_kv_type)]
    pub kv_type: KvType,
    /// A built-in chat template by name (chatml, llama3, gemma, …) for models without one.
    #[arg(long)]
    pub chat_template: Option<String>,
    /// Sampling temperature (0: greedy).
    #[arg(long)]
    pub temperature: Option<f32>,
    #[arg(long)]
    pub top_p: Option<f32>,
    #[arg(long)]
    pub top_k: Option<i32>,
    #[arg(long)]
    pub min_p: Option<f32>,
    /// 1.0 turns the repeat penalty off.
    #[arg(long)]
    pub repeat_penalty: Option<f32>,
    /// The most tokens in an answer.
    #[arg(long)]
    pub max_tokens: Option<u32>,
    #[arg(long)]
    pub seed: Option<u32>,
    /// Let a looping answer run on (the guard stops repeated n-grams by default).
    #[arg(long)]
    pub no_repetition_guard: bool,
    /// Below this cosine similarity of the best match the library is taken not to contain the answer.
    #[arg(long)]
    pub min_similarity: Option<f32>,
    /// A cross-encoder reranker (GGUF). Default: the first *rerank*.gguf in the model cache, if any.
    #[arg(long)]
    pub rerank_model: Option<PathBuf>,
}

fn parse_gpu_layers(s: &str) -> Result<GpuLayers, String> {
    GpuLayers::parse(s).ok_or_else(|| format!("{s:?}: use all, none or a number"))
}

fn parse_kv_type(s: &str) -> Result<KvType, String> {
    KvType::parse(s).ok_or_else(|| format!("{s:?}: use f16, q8_0, q4_0, bf16 or f32"))
}

impl ChatArgs {
    /// Applies the flags to the options the library opens with.
    pub fn apply(&self, options: &mut OpenOptions, threads: usize) {
        let chat = &mut options.chat;
        if let Some(m) = &self.model {
            chat.model = m.clone();
        }
        chat.n_ctx = self.ctx;
        chat.gpu_layers = self.gpu_layers;
        chat.threads = threads;
        chat.batch = self.batch;
        chat.ubatch = self.ubatch;
        chat.flash_attention = !self.no_flash_attention;
        chat.kv_type = self.kv_type;
        chat.chat_template = self.chat_template.clone();
        let a = &mut options.answer;
        let s = &mut a.sampling;
        if let Some(v) = self.temperature {
            s.temperature = v;
        }
        if let Some(v) = self.top_p {
            s.top_p = v;
        }
        if let Some(v) = self.top_k {
            s.top_k = v;
        }
        if let Some(v) = self.min_p {
            s.min_p = v;
        }
        if let Some(v) = self.repeat_penalty {
            s.repeat_penalty = v;
        }
        if let Some(v) = self.max_tokens {
            s.max_tokens = v;
        }
        if let Some(v) = self.seed {
            s.seed = v;
        }
        a.repetition_guard = !self.no_repetition_guard;
        if let Some(v) = self.min_similarity {
            a.min_similarity = v;
        }
        if let Some(m) = &self.rerank_model {
            options.rerank_model = Some(m.clone());
        }
    }
}

/// Where a question looks.
#[derive(Args, Debug, Clone, Default)]
pub struct ScopeArgs {
    /// Only documents under this path (a file or a folder).
    #[arg(long = "in")]
    pub within: Option<PathBuf>,
    /// Only documents of this collection (see `quire collections`).
    #[arg(long)]
    pub collection: Option<String>,
}

impl ScopeArgs {
    /// The scope these flags give, if any (one of `--in` and `--collection`).
    pub fn scope(&self) -> Result<Option<Scope>> {
        match (&self.within, &self.collection) {
            (Some(_), Some(_)) => bail!("give --in or --collection, not both"),
            (Some(p), None) => {
                let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
                Ok(Some(Scope::Path { path: p.display().to_string() }))
            }
            (None, Some(name)) => Ok(Some(Scope::Collection { name: name.clone() })),
            (None, None) => Ok(None),
        }
    }
}

#[derive(Subcommand)]
pub enum ConversationsCommand {
    /// The conversations, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One conversation, as Markdown.
    Show {
        id: String,
    },
    Rename {
        id: String,
        title: String,
    },
    Delete {
        id: String,
    },
    /// Write a conversation as Markdown or JSON (to standard output, or a file).
    Export {
        id: String,
        #[arg(long, value_enum, default_value = "markdown")]
        format: ExportFormat,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Markdown,
    Json,
}

/// `quire ask`.
pub async fn ask(
    opened: &Opened,
    question: &str,
    conversation: Option<&str>,
    scope: &ScopeArgs,
    json: bool,
) -> Result<()> {
    let store = opened.conversations()?;
    let scope = scope.scope()?;
    let convo = match (conversation, scope) {
        (Some(id), Some(scope)) => store.set_scope(id, scope)?,
        (Some(id), None) => store.get(id)?,
        (None, scope) => store.create_in(question, scope.unwrap_or_default())?,
    };
    // Ctrl-C: the answer stops at the next token.
    let cancel = crate::output::cancel_on_ctrl_c(None);
    let mut on_event = |e: AnswerEvent| {
        let mut out = std::io::stdout().lock();
        if json {
            let _ = writeln!(out, "{}", serde_json::to_string(&e).unwrap_or_default());
            return;
        }
        match e {
            AnswerEvent::Rewritten { query } => eprintln!("(searching for: {query})"),
            AnswerEvent::Rerank(RerankStatus::Skipped { reason }) => {
                if reason.starts_with("no reranker") {
                    tracing::info!("rerank skipped: {reason}");
                } else {
                    eprintln!("(rerank skipped: {reason})");
                }
            }
            AnswerEvent::Sources { sources, dropped_sources, dropped_history, .. }
                if dropped_sources > 0 || dropped_history > 0 =>
            {
                eprintln!(
                    "({} sources; {dropped_sources} sources and {dropped_history} earlier messages did not fit the \
                     context window)",
                    sources.len()
                );
            }
            AnswerEvent::Progress { message } => eprintln!("({message})"),
            AnswerEvent::Token { text } => {
                let _ = write!(out, "{text}");
                let _ = out.flush();
            }
            _ => {}
        }
    };
    let result = opened.ask_in(&convo.id, question, false, &cancel, &mut on_event).await;
    let (convo, answer) = match result {
        Ok(a) => a,
        Err(e) => {
            if json {
                println!("{}", json!({"type": "error", "kind": e.kind(), "message": e.to_string()}));
            }
            return Err(e.into());
        }
    };
    if json {
        println!("{}", json!({"type": "done", "conversation": convo.id, "answer": answer}));
    } else {
        println!();
        if let Some(notice) = &answer.notice {
            eprintln!("({notice})");
        }
        print_sources(&answer);
        if answer.not_in_library {
            eprintln!("conversation {}", convo.id);
            return Ok(());
        }
        let tps = answer.timings.tokens_per_second(&answer.usage);
        eprintln!(
            "\n{} · {} prompt tokens ({} cached) · first token {:.0} ms · {:.1} tokens/s · conversation {}",
            answer.model,
            answer.usage.prompt_tokens,
            answer.usage.cached_tokens,
            answer.timings.first_token_ms,
            tps,
            convo.id
        );
    }
    Ok(())
}

/// The sources the answer cites, or, when it cites none, the sources it was given.
fn print_sources(answer: &Answer) {
    if answer.citations.is_empty() {
        if !answer.sources.is_empty() {
            println!("\nThe answer cites no source; it was given:");
            let given: Vec<Citation> = answer.sources.iter().map(Citation::of).collect();
            print_citation_list(&given);
        }
        return;
    }
    if answer.attributed {
        println!("\nSources (matched to the answer by Quire; the model cited none):");
    } else {
        println!("\nSources:");
    }
    print_citation_list(&answer.citations);
}

fn print_citation_list(citations: &[Citation]) {
    for c in citations {
        println!("  {}", c.line());
    }
}

/// `quire conversations …`.
pub fn conversations(store: &ConversationStore, command: &ConversationsCommand) -> Result<()> {
    match command {
        ConversationsCommand::List { json } => {
            let list = store.list()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("No conversations yet: ask a question with `quire ask`.");
            } else {
                for c in list {
                    println!("{}  {:>3} messages  {}", c.id, c.messages, c.title);
                }
            }
        }
        ConversationsCommand::Show { id } => print!("{}", ConversationStore::export_markdown(&store.get(id)?)),
        ConversationsCommand::Rename { id, title } => {
            let c = store.rename(id, title)?;
            println!("renamed {} to {:?}", c.id, c.title);
        }
        ConversationsCommand::Delete { id } => {
            store.delete(id)?;
            println!("deleted {id}");
        }
        ConversationsCommand::Export { id, format, output } => {
            let c = store.get(id)?;
            let text = match format {
                ExportFormat::Markdown => ConversationStore::export_markdown(&c),
                ExportFormat::Json => ConversationStore::export_json(&c)?,
            };
            match output {
                Some(path) => {
                    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
                    println!("exported {} to {}", c.id, path.display());
                }
                None => print!("{text}"),
            }
        }
    }
    Ok(())
}

/// `quire eval --answers FILE`: each question answered on its own, ROUGE-L F1 against its reference.
pub async fn eval_answers(opened: &Opened, file: &Path, limit: Option<usize>, json: bool) -> Result<f64> {
    let mut cases = load_answer_cases(file)?;
    if let Some(n) = limit {
        cases.truncate(n);
    }
    if cases.is_empty() {
        bail!("{} holds no questions", file.display());
    }
    let answerer = opened.answerer()?;
    let cancel = AtomicBool::new(false);
    let mut total = 0.0;
    let mut rows = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let filter = SearchFilter { path_prefix: case.scope.clone(), doc_ids: None };
        let q = Question { text: case.question.clone(), history: Vec::new(), filter };
        let answer = answerer.ask(&q, &cancel, &mut |_| ()).await?;
        let score = rouge_l(&answer.text, &case.reference);
        total += score.f1;
        if !json {
            eprintln!("[{}/{}] ROUGE-L F1 {:.3}  {}", i + 1, cases.len(), score.f1, case.question);
        }
        rows.push(json!({
            "question": case.question,
            "reference": case.reference,
            "answer": answer.text,
            "rouge_l": {"precision": score.precision, "recall": score.recall, "f1": score.f1},
            "citations": answer.citations.len(),
            "not_in_library": answer.not_in_library,
        }));
    }
    let mean = total / cases.len() as f64;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"questions": cases.len(), "rouge_l_f1": mean, "model": opened.options.chat_options()?.model, "cases": rows})
            )?
        );
    } else {
        println!("{} questions · mean ROUGE-L F1 {:.4}", cases.len(), mean);
    }
    Ok(mean)
}
