//! The llama.cpp embedder in its worker process, with the real MiniLM GGUF.

use std::time::Duration;

use quire_core::{Embedder, Error};
use quire_llm::{EmbedOptions, LlamaEmbedder};

use crate::support::{EMBED_MODEL, model, worker_program};

async fn embedder() -> LlamaEmbedder {
    LlamaEmbedder::start(&worker_program(), &model(EMBED_MODEL), &EmbedOptions::default())
        .await
        .expect("embedder starts")
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[tokio::test]
async fn matches_the_reference_implementation() {
    // Vectors computed from the original safetensors weights by scripts/convert_minilm_gguf.py's numpy forward pass.
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(model("all-MiniLM-L6-v2.reference.json")).expect("reference file"),
    )
    .expect("reference json");
    let sentences: Vec<String> = serde_json::from_value(reference["sentences"].clone()).expect("sentences");
    let expected: Vec<Vec<f32>> = serde_json::from_value(reference["embeddings"].clone()).expect("embeddings");
    let e = embedder().await;
    assert_eq!(e.info().dim, 384);
    assert_eq!(e.info().special_tokens, 2);
    let got = e.embed(sentences.clone()).await.expect("embed");
    assert_eq!(got.vectors.len(), sentences.len());
    for (i, (g, x)) in got.vectors.iter().zip(&expected).enumerate() {
        let c = cosine(g, x);
        assert!(c >= 0.99, "sentence {i} {:?}: cosine {c} against the reference", sentences[i]);
        let norm = g.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3);
    }
}

#[tokio::test]
async fn packing_several_inputs_per_call_changes_nothing() {
    let e = embedder().await;
    let texts: Vec<String> = (0..20).map(|i| format!("Sentence number {i} about Debian packages and apt.")).collect();
    let together = e.embed(texts.clone()).await.expect("batch");
    for (i, t) in texts.iter().enumerate() {
        let alone = e.embed(vec![t.clone()]).await.expect("single");
        let c = cosine(&alone.vectors[0], &together.vectors[i]);
        // ggml picks different kernels for different batch shapes, so vectors agree to ~1e-4, not bit for bit;
        // attention leaking between packed sequences would pull the cosine far lower (below 0.99).
        assert!(c > 0.999, "input {i}: cosine {c}");
    }
}

#[tokio::test]
async fn token_counts_agree_and_long_inputs_are_cut_and_reported() {
    let e = embedder().await;
    let counts = e.count_tokens(vec!["hello world".into(), String::new()]).await.expect("count");
    assert_eq!(counts, vec![2, 0]);
    // WordPiece counts add up over words: what the chunker relies on.
    let words = ["dpkg-reconfigure", "unattended-upgrades", "Ünïcödé", "软件包", "apt"];
    let each = e.count_tokens(words.iter().map(|w| w.to_string()).collect()).await.expect("count");
    let joined = e.count_tokens(vec![words.join(" ")]).await.expect("count");
    assert_eq!(joined[0], each.iter().sum::<u32>());
    let long = "word ".repeat(2000);
    let out = e.embed(vec!["short".into(), long]).await.expect("embed");
    assert_eq!(out.truncated, 1);
    assert_eq!(out.tokens[1] as usize, e.info().max_tokens);
    assert_eq!(out.tokens[0], 3);
}

#[tokio::test]
async fn a_killed_worker_fails_the_call_and_the_next_call_works() {
    let e = embedder().await;
    let pid = e.worker().pid().await.expect("worker running");
    let texts: Vec<String> =
        (0..2000).map(|i| format!("a long batch of text number {i} {}", "filler ".repeat(40))).collect();
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        std::process::Command::new("kill").args(["-ABRT", &pid.to_string()]).status().expect("kill");
    });
    let err = e.embed(texts).await.expect_err("the worker died mid-call");
    killer.await.expect("killer");
    assert!(matches!(err, Error::WorkerCrashed { .. }), "{err}");
    assert!(err.to_string().contains("signal 6"), "{err}");
    let again = e.embed(vec!["still works".into()]).await.expect("a new worker answers");
    assert_eq!(again.vectors.len(), 1);
    assert_eq!(e.worker().starts(), 2);
}

#[tokio::test]
async fn an_opened_library_starts_no_model_worker_until_a_model_is_used() {
    let data = tempfile::tempdir().expect("tempdir");
    let options = crate::support::open_options(data.path());

    // A model file not seen before is asked about once, and its worker stopped again.
    let first = quire_app::open(&options).await.expect("open");
    let info = first.library.embedder().info().clone();
    assert_eq!((info.dim, info.special_tokens), (384, 2));
    assert_eq!(first.models.starts(), 1);
    assert_eq!(first.models.pid().await, None, "the model worker still runs after the library opened");
    assert!(data.path().join(quire_app::KNOWN_EMBEDDING_MODELS).is_file());
    drop(first);

    // The same file again: known, so nothing starts until the model is needed.
    let second = quire_app::open(&options).await.expect("open again");
    assert_eq!(second.library.embedder().info(), &info);
    assert_eq!(second.models.starts(), 0, "the model worker started although nothing used the model");
    assert!(!quire_llm::embedding_loaded(&second.models).await.expect("ask"));
    assert_eq!(second.models.starts(), 0, "asking whether the model is loaded started the worker");
    let vectors = second.library.embedder().embed(vec!["apt-get install".into()]).await.expect("embed");
    assert_eq!(vectors.vectors[0].len(), 384);
    assert_eq!(second.models.starts(), 1);
    assert!(second.models.pid().await.is_some());
    assert!(quire_llm::embedding_loaded(&second.models).await.expect("ask"));
}
