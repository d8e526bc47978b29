//! What the command line prints: for people on a terminal, or JSON for scripts.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use quire_core::library::{DocOutcome, IngestEvent, IngestReport, IngestStage};
use quire_core::{DocumentRecord, Hit, LibraryStats};

use crate::bench::EvalReport;

/// Shows ingest progress: a bar with an ETA on a terminal, a line per document otherwise, or JSON lines.
pub struct IngestProgress {
    json: bool,
    bar: Option<ProgressBar>,
    done_bytes: Mutex<u64>,
}

impl IngestProgress {
    pub fn new(json: bool) -> IngestProgress {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta}) {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        IngestProgress { json, bar, done_bytes: Mutex::new(0) }
    }

    pub fn event(&self, event: &IngestEvent) {
        if self.json {
            println_json(&serde_json::to_value(event).unwrap_or_default());
            return;
        }
        match event {
            IngestEvent::Scanned { files, bytes } => {
                if let Some(bar) = &self.bar {
                    bar.set_length(*bytes);
                    bar.set_message(format!("{files} files"));
                } else {
                    eprintln!("{files} files ({:.1} MB)", *bytes as f64 / 1e6);
                }
            }
            // The bar names the document being embedded (extraction runs ahead of it).
            IngestEvent::Stage { path, stage: IngestStage::Embedding } => {
                if let Some(bar) = &self.bar {
                    let name = std::path::Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned());
                    bar.set_message(name.unwrap_or_else(|| path.clone()));
                }
            }
            IngestEvent::Stage { .. } => {}
            IngestEvent::Document { path, bytes, outcome } => {
                let line = match outcome {
                    DocOutcome::Indexed { chunks, pages, .. } => match pages {
                        Some(p) => format!("indexed    {path} ({p} pages, {chunks} chunks)"),
                        None => format!("indexed    {path} ({chunks} chunks)"),
                    },
                    DocOutcome::Unchanged => format!("unchanged  {path}"),
                    DocOutcome::Failed { reason } => format!("failed     {path}: {reason}"),
                    DocOutcome::Removed => format!("removed    {path}"),
                    DocOutcome::Moved { from, .. } => format!("moved      {from} -> {path}"),
                };
                if let Ok(mut done) = self.done_bytes.lock() {
                    *done += bytes;
                    if let Some(bar) = &self.bar {
                        bar.set_position(*done);
                    }
                }
                match &self.bar {
                    Some(bar) => bar.println(line),
                    None => println!("{line}"),
                }
            }
        }
    }

    pub fn finish(&self, report: &IngestReport) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.json {
            let mut value = serde_json::to_value(report).unwrap_or_default();
            if let Some(obj) = value.as_object_mut() {
                obj.insert("event".into(), json!("report"));
                obj.remove("documents");
            }
            println_json(&value);
            return;
        }
        println!(
            "{} indexed, {} unchanged, {} failed, {} removed, {} moved — {} chunks, {} tokens in {:.1} s",
            report.indexed,
            report.unchanged,
            report.failed,
            report.removed,
            report.moved,
            report.chunks,
            report.tokens,
            report.timings.total_s
        );
    }
}

fn println_json(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
}

fn pages(hit: &Hit) -> String {
    match (hit.chunk.page_start, hit.chunk.page_end) {
        (Some(a), Some(b)) if a == b => format!("p. {a}"),
        (Some(a), Some(b)) => format!("pp. {a}–{b}"),
        _ => String::new(),
    }
}

pub fn print_hits(hits: &[Hit], json: bool) -> Result<()> {
    if json {
        let items: Vec<serde_json::Value> = hits
            .iter()
            .enumerate()
            .map(|(i, h)| {
                json!({
                    "rank": i + 1,
                    "score": h.score,
                    "path": h.chunk.path,
                    "doc_id": h.chunk.doc_id,
                    "chunk": h.chunk.index,
                    "page_start": h.chunk.page_start,
                    "page_end": h.chunk.page_end,
                    "heading_path": h.chunk.heading_path,
                    "char_start": h.chunk.char_start,
                    "char_end": h.chunk.char_end,
                    "text": h.chunk.text,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(());
    }
    if hits.is_empty() {
        println!("No matches.");
    }
    for (i, h) in hits.iter().enumerate() {
        let mut place = vec![h.chunk.path.clone()];
        let p = pages(h);
        if !p.is_empty() {
            place.push(p);
        }
        println!("{}. {}  (score {:.3})", i + 1, place.join(", "), h.score);
        if !h.chunk.heading_path.is_empty() {
            println!("   § {}", h.chunk.heading_path.join(" › "));
        }
        for line in h.chunk.text.lines() {
            println!("   {line}");
        }
        println!();
    }
    Ok(())
}

pub fn print_eval(report: &EvalReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    let m = &report.metrics;
    println!(
        "{} — {} documents ({} chunks), {} queries, mode {}",
        report.set, report.documents, report.chunks, m.queries, report.mode
    );
    if let Some(f) = &report.fusion {
        println!("fusion: {f}");
    }
    println!("Hit@1     {:.3}", m.hit_at_1);
    println!("Hit@{:<5} {:.3}", m.k, m.hit_at_k);
    println!("Recall@{:<2} {:.3}", m.k, m.recall_at_k);
    println!("MRR@{:<5} {:.3}", m.k, m.mrr_at_k);
    println!("nDCG@{:<4} {:.3}", m.k, m.ndcg_at_k);
    Ok(())
}

/// `recovered`: what opening the library had to repair after a crash, in words.
pub fn print_status(
    data_dir: &Path,
    stats: &LibraryStats,
    docs: &[DocumentRecord],
    recovered: &[String],
    json: bool,
) -> Result<()> {
    if json {
        let out = json!({ "data_dir": data_dir, "stats": stats, "documents": docs, "recovered": recovered });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("Library:   {}", data_dir.display());
    for note in recovered {
        println!("Recovered: {note}");
    }
    println!(
        "Documents: {} ({} indexed, {} failed), {} chunks, {:.1} MB on disk",
        stats.documents,
        stats.indexed,
        stats.failed,
        stats.chunks,
        stats.disk_bytes as f64 / 1e6
    );
    if let Some(model) = &stats.embedding_model {
        println!("Embedding: {model}");
    }
    let failed: Vec<&DocumentRecord> = docs.iter().filter(|d| d.error.is_some()).collect();
    if !failed.is_empty() {
        println!("\nFailed:");
        for d in failed {
            println!("  {}: {}", d.path, d.error.as_deref().unwrap_or_default());
        }
    }
    let pending: Vec<&DocumentRecord> = docs.iter().filter(|d| d.status == quire_core::DocStatus::Indexing).collect();
    if !pending.is_empty() {
        println!("\nInterrupted (re-indexed by the next ingest):");
        for d in pending {
            println!("  {}", d.path);
        }
    }
    Ok(())
}

pub fn print_removed(removed: &[String], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&json!({ "removed": removed }))?);
    } else {
        for path in removed {
            println!("removed    {path}");
        }
    }
    Ok(())
}

/// One watched folder, with its collection and rules, for `quire watch list`.
pub fn watched_line(folder: &quire_core::watched::WatchedFolder) -> String {
    let mut line = folder.path.clone();
    if let Some(c) = &folder.collection {
        line.push_str(&format!("  collection {c}"));
    }
    let rules = &folder.rules;
    if !rules.include.is_empty() {
        line.push_str(&format!("  include {}", rules.include.join(" ")));
    }
    if !rules.exclude.is_empty() {
        line.push_str(&format!("  exclude {}", rules.exclude.join(" ")));
    }
    if let Some(max) = rules.max_bytes {
        line.push_str(&format!("  max {:.1} MB", max as f64 / 1e6));
    }
    line
}

/// One step of `quire watch run`: a line for people, or one JSON object per line.
pub fn print_watch(event: &quire_app::watch::WatchReport, json: bool) {
    use quire_app::watch::WatchReport;
    if json {
        println_json(&serde_json::to_value(event).unwrap_or_default());
        return;
    }
    let line = match event {
        WatchReport::Watching { folder, reason: None, .. } => format!("watching   {folder}"),
        WatchReport::Watching { folder, reason: Some(reason), .. } => {
            format!("watching   {folder} by polling: {reason}")
        }
        WatchReport::Unavailable { folder, reason } => format!("unavailable {folder}: {reason}"),
        WatchReport::Reconciling { folder, reason } => format!("comparing  {folder} with the library ({reason})"),
        WatchReport::Reconciled { folder, indexed, unchanged, moved, removed, failed } => format!(
            "compared   {folder}: {indexed} indexed, {unchanged} unchanged, {moved} moved, {removed} removed, {failed} failed"
        ),
        WatchReport::Document { path, outcome } => match outcome {
            DocOutcome::Indexed { chunks, .. } => format!("indexed    {path} ({chunks} chunks)"),
            DocOutcome::Unchanged => format!("unchanged  {path}"),
            DocOutcome::Failed { reason } => format!("failed     {path}: {reason}"),
            DocOutcome::Removed => format!("removed    {path}"),
            DocOutcome::Moved { from, .. } => format!("moved      {from} -> {path}"),
        },
        WatchReport::Error { message } => format!("error      {message}"),
    };
    println!("{line}");
}

/// A flag raised by Ctrl-C (saying `note` on stderr when given), for work that stops at its next step.
pub fn cancel_on_ctrl_c(note: Option<&'static str>) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&cancel);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            if let Some(note) = note {
                eprintln!("{note}");
            }
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    cancel
}
