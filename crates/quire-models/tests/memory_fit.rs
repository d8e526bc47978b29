//! The memory-fit estimate on the real starter models, against the buffer sizes llama.cpp (the version pinned in
//! Cargo.lock) logs when Quire's worker loads them with Quire's defaults, CPU only. Those figures (MiB) were read
//! from `QUIRE_LOG=info quire __worker model …` and are re-measured by `quire models fit --measure` (see
//! crates/quire-cli/tests/models.rs and BENCHMARKS.md). Each test passes with a note when the model is not installed.

use quire_models::{
    ContextPlan, KvType, Machine, ModelRole, ModelShape, Placement, PlannedModel, Role, assess, budget, estimate,
    find_starter,
};

const MIB: f64 = 1024.0 * 1024.0;

fn shape(role: Role) -> Option<ModelShape> {
    match find_starter(role) {
        Ok(path) => Some(ModelShape::read(&path).expect("the starter model's metadata")),
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            None
        }
    }
}

fn close(what: &str, estimate: u64, actual_mib: f64, tolerance: f64) {
    let est = estimate as f64 / MIB;
    let ratio = est / actual_mib;
    println!("{what}: estimate {est:.2} MiB, llama.cpp {actual_mib:.2} MiB, ratio {ratio:.3}");
    assert!((ratio - 1.0).abs() <= tolerance, "{what}: {est:.2} MiB estimated, llama.cpp allocates {actual_mib:.2}");
}

#[test]
fn smollm2_shape_and_estimate_match_llama_cpp() {
    let Some(s) = shape(Role::Chat) else { return };
    assert_eq!(s.architecture, "llama");
    assert_eq!(s.role, ModelRole::Chat);
    assert_eq!((s.n_layer, s.n_embd, s.n_head, s.n_head_kv), (30, 576, 9, 3));
    assert_eq!((s.head_dim_k, s.head_dim_v, s.n_ff, s.n_vocab), (64, 64, 1536, 49152));
    assert_eq!(s.context_length, Some(8192));
    assert!(s.gated_ffn && !s.encoder_only);
    assert!(s.tied_output_bytes > 0, "SmolLM2 ties its output head to the token embeddings");
    assert_eq!(s.output_bytes, 576 * 4, "only the final norm");
    // the tensors' exact bytes: llama.cpp's model buffer is 92.10 MiB
    close("SmolLM2 weights", s.weight_bytes, 92.10, 0.001);

    // Quire's chat lane: 4096 tokens, batch/ubatch 256, f16 KV, flash attention
    let e = estimate(&s, &ContextPlan::chat(4096));
    close("SmolLM2 KV cache", e.kv_cache.cpu, 90.00, 0.0);
    close("SmolLM2 compute buffer", e.compute.cpu, 53.38, 0.03);
    close("SmolLM2 output buffer", e.output_at_load, 0.19, 0.05);
    close("SmolLM2 total", e.total.cpu, 92.10 + 90.00 + 53.38 + 0.19, 0.01);
    assert_eq!(e.total.gpu, 0);

    let q8 = estimate(&s, &ContextPlan { kv_type: KvType::Q8_0, ..ContextPlan::chat(4096) });
    close("SmolLM2 KV cache q8_0", q8.kv_cache.cpu, 47.81, 0.001);
    let long = estimate(&s, &ContextPlan { flash_attention: false, ..ContextPlan::chat(8192) });
    close("SmolLM2 compute buffer, 8192 tokens without flash attention", long.compute.cpu, 83.76, 0.03);
}

#[test]
fn minilm_shape_and_estimate_match_llama_cpp() {
    let Some(s) = shape(Role::Embedding) else { return };
    assert_eq!(s.architecture, "bert");
    assert_eq!(s.role, ModelRole::Embedding);
    assert!(s.encoder_only && !s.gated_ffn);
    assert_eq!((s.n_layer, s.n_embd, s.n_head, s.n_vocab), (6, 384, 12, 30522));
    assert_eq!(s.tied_output_bytes, 0);
    close("MiniLM weights", s.weight_bytes, 23.50, 0.002);

    // Quire's embedding lane: window = batch = ubatch = 512, 64 sequences, flash attention
    let e = estimate(&s, &ContextPlan::embedding(512, 64));
    assert_eq!(e.kv_cache.total(), 0, "llama.cpp creates no KV cache for BERT");
    close("MiniLM compute buffer", e.compute.cpu, 7.39, 0.03);
    close("MiniLM output buffer at load", e.output_at_load, 7.55, 0.01);
    // after the first full batch the output buffer holds logits + embeddings for all 512 tokens (measured as the
    // worker's anonymous memory growing by ~58 MB after a 480-token batch)
    close("MiniLM output buffer in use", e.output.cpu, (30522.0 + 384.0) * 512.0 * 4.0 / MIB, 0.0);
    let no_fa = estimate(&s, &ContextPlan { flash_attention: false, ..ContextPlan::embedding(512, 64) });
    close("MiniLM compute buffer without flash attention", no_fa.compute.cpu, 18.39, 0.03);
}

#[test]
fn starter_models_fit_this_machine_together() {
    let (Some(chat), Some(embed)) = (shape(Role::Chat), shape(Role::Embedding)) else { return };
    let machine = Machine::detect();
    println!("machine: RAM {}, GPU {}", machine.ram_summary(), machine.gpu_summary());
    let v = assess(&chat, &ContextPlan::chat(4096), &machine, false, None);
    println!("chat: {} (advice {:?})", v.summary, v.advice);
    if machine.ram_available.is_some_and(|a| a > 2 << 30) {
        assert_eq!(v.placement, Placement::Cpu);
        assert_eq!(v.context, Some(4096));
        assert_eq!(v.max_context, Some(8192));
    }
    let models = vec![
        PlannedModel { label: "chat".into(), shape: chat, plan: ContextPlan::chat(4096), fixed_gpu_layers: None },
        PlannedModel {
            label: "embedding".into(),
            shape: embed,
            plan: ContextPlan::embedding(512, 64),
            fixed_gpu_layers: Some(0),
        },
    ];
    let b = budget(&models, &machine, false);
    println!("{}", b.summary);
    let total = b.total.total() as f64 / MIB;
    // 235.7 MiB for the chat model + 23.5 + 7.4 + 60.4 for the embedding model
    assert!((320.0..340.0).contains(&total), "{total:.1} MiB");
    if machine.ram_available.is_some_and(|a| a > 2 << 30) {
        assert!(b.fits);
    }
}
