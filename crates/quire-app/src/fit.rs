//! Memory fit of the models as this build and these options would load them (`quire_models`'s estimate and
//! verdicts, planned with the options' contexts, batches, KV types and GPU layers). Shared by `quire models`
//! and the desktop app's models screen, so both say the same.

use std::path::{Path, PathBuf};

use quire_models::{Budget, ContextPlan, KvType, Machine, ModelRole, ModelShape, PlannedModel, Verdict};
use serde::Serialize;

use crate::OpenOptions;

/// Whether this build's llama.cpp can use a GPU (the `cuda`, `vulkan` or `metal` feature).
pub const GPU_BACKEND: bool = cfg!(any(feature = "cuda", feature = "vulkan", feature = "metal"));

/// The fit planner's KV type for the runtime's.
pub fn kv_of(kv: quire_llm::KvType) -> KvType {
    match kv {
        quire_llm::KvType::F32 => KvType::F32,
        quire_llm::KvType::F16 => KvType::F16,
        quire_llm::KvType::Bf16 => KvType::Bf16,
        quire_llm::KvType::Q8_0 => KvType::Q8_0,
        quire_llm::KvType::Q4_0 => KvType::Q4_0,
    }
}

/// The contexts a model of `shape` gets with `options`, as its lane creates them.
pub fn plan_for(shape: &ModelShape, options: &OpenOptions) -> ContextPlan {
    match shape.role {
        ModelRole::Chat => {
            let chat = &options.chat;
            let trained = shape.context_length.unwrap_or(4096).min(u64::from(u32::MAX)) as u32;
            let n_ctx = if chat.n_ctx == 0 { trained.min(8192) } else { chat.n_ctx };
            let n_batch = chat.batch.clamp(8, n_ctx.max(8));
            ContextPlan {
                n_ctx,
                n_batch,
                n_ubatch: chat.ubatch.clamp(8, n_batch),
                n_seq_max: 1,
                kv_type: kv_of(chat.kv_type),
                flash_attention: chat.flash_attention,
                gpu_layers: chat.gpu_layers.count(),
                embeddings: false,
            }
        }
        ModelRole::Embedding => {
            let e = &options.embed;
            ContextPlan {
                flash_attention: e.flash_attention,
                gpu_layers: e.gpu_layers,
                ..ContextPlan::embedding(e.batch_tokens.clamp(32, 1 << 16) as u32, e.max_sequences as u32)
            }
        }
        // The rerank lane loads with llama.cpp's default: every layer on the GPU of a GPU build.
        ModelRole::Reranker => ContextPlan { gpu_layers: 999, ..ContextPlan::reranker(shape.context_length) },
    }
}

/// Does the model at `path` fit this machine with `options`? Err: its GGUF header cannot be read.
pub fn assess(path: &Path, options: &OpenOptions, machine: &Machine) -> Result<Verdict, quire_models::ModelsError> {
    let shape = ModelShape::read(path)?;
    Ok(quire_models::assess(&shape, &plan_for(&shape, options), machine, GPU_BACKEND, None))
}

/// The models Quire would load together with `options`: each with its path, and their sum against the machine.
#[derive(Debug, Clone, Serialize)]
pub struct Together {
    pub paths: Vec<PathBuf>,
    #[serde(flatten)]
    pub budget: Budget,
}

/// The chat, embedding and (when one is installed) reranker models of `options`, each with its context and the
/// GPU layers of the settings, summed against the machine; a role served by a remote server loads nothing here.
/// Err: a model is missing or unreadable.
pub fn together(options: &OpenOptions, machine: &Machine) -> quire_core::Result<Together> {
    let mut models = Vec::new();
    if options.remote.chat.is_none() {
        models.push(("chat", options.chat_options()?.model));
    }
    if options.remote.embedding.is_none() {
        models.push(("embedding", options.embed_model_path()?));
    }
    models.extend(options.rerank_model_path().map(|p| ("reranker", p)));
    let mut planned = Vec::new();
    for (label, path) in &models {
        let shape =
            ModelShape::read(path).map_err(|e| quire_core::Error::InvalidInput(format!("{}: {e}", path.display())))?;
        let plan = plan_for(&shape, options);
        planned.push(PlannedModel { label: label.to_string(), shape, plan, fixed_gpu_layers: Some(plan.gpu_layers) });
    }
    let budget = quire_models::budget(&planned, machine, GPU_BACKEND);
    Ok(Together { paths: models.into_iter().map(|(_, p)| p).collect(), budget })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quire_llm::GpuLayers;

    #[test]
    fn plans_follow_quire_settings() {
        let mut options = OpenOptions::new(Some(PathBuf::from("/tmp/none"))).expect("options");
        options.chat.n_ctx = 2048;
        options.chat.kv_type = quire_llm::KvType::Q8_0;
        options.chat.gpu_layers = GpuLayers::All;
        let mut shape = ModelShape {
            architecture: "llama".into(),
            role: ModelRole::Chat,
            quantization: None,
            parameters: 0,
            weight_bytes: 0,
            n_layer: 2,
            n_embd: 64,
            n_head: 1,
            n_head_kv: 1,
            head_dim_k: 64,
            head_dim_v: 64,
            n_ff: 128,
            n_vocab: 100,
            context_length: Some(8192),
            sliding_window: None,
            encoder_only: false,
            gated_ffn: true,
            experts: None,
            recurrent: false,
            kv_width: vec![(64, 64); 2],
            layer_bytes: vec![0; 2],
            input_bytes: 0,
            output_bytes: 0,
            tied_output_bytes: 0,
        };
        let p = plan_for(&shape, &options);
        assert_eq!((p.n_ctx, p.n_batch, p.n_ubatch, p.kv_type, p.gpu_layers), (2048, 256, 256, KvType::Q8_0, 999));
        options.chat.n_ctx = 0;
        assert_eq!(plan_for(&shape, &options).n_ctx, 8192);
        shape.role = ModelRole::Embedding;
        let p = plan_for(&shape, &options);
        assert_eq!((p.n_ctx, p.n_batch, p.n_seq_max, p.embeddings), (512, 512, 64, true));
        shape.role = ModelRole::Reranker;
        assert_eq!(plan_for(&shape, &options).n_ctx, 1024);
    }
}
