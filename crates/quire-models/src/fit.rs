//! Memory fit: what a model needs in memory under a given context, from its GGUF metadata alone, modelled on how
//! llama.cpp sizes its buffers (the version pinned in Cargo.lock; see BENCHMARKS.md "Memory fit" for the check
//! against the sizes it logs).
//!
//! llama.cpp allocates four things for a model and one context:
//! - **weights** (the model buffers): the tensors' bytes, exactly. Token embeddings stay on the CPU; with
//!   `n_gpu_layers = N` the last `N` of the `n_layer + 1` "layers" go to the GPU, the extra one being the output
//!   head (so N = 1 offloads only the head, and a tied head is copied to the GPU while the CPU keeps the
//!   embeddings).
//! - **KV cache**: per layer, `(n_head_kv·head_dim_k + n_head_kv·head_dim_v)` elements per cell in the KV type, for
//!   `n_ctx` rounded up to 256 cells (sliding-window layers too: llama.cpp's default `swa_full`). Each layer's
//!   cache sits on that layer's device. Encoder-only models (BERT and kin) have no KV cache: llama.cpp creates no
//!   memory for them and each call attends within its own batch.
//! - **compute buffer**: the worst-case graph for one micro-batch of `T = min(n_ctx, n_ubatch)` tokens, reserved
//!   at context creation. Tensors are freed when no longer needed, so the size is the largest set alive at once:
//!   the graph inputs (the attention masks, `n_kv × T`, f16 with flash attention, f32 without) plus the largest of
//!   the attention step (Q, K, V and, without flash attention, the `n_kv × T × n_head` f32 scores), the
//!   feed-forward step (`T × n_ff` activations), and the output step (`T × n_vocab` f32 logits — usually the largest
//!   for small models with big vocabularies). The allocator's layout adds a few hidden-size-wide tensors to each
//!   step; those terms were fitted to the sizes llama.cpp reports (see `estimate`).
//! - **output buffer** (host memory): logits (always, even for embeddings) and embeddings for `n_seq_max` rows at
//!   creation; it grows to the rows of the largest call, which for embedding contexts is every token of a batch:
//!   `(n_vocab + n_embd) × n_batch × 4` bytes.
//!
//! Not modelled: the CPU backend's repacked copies of some quantized weights (the mapped originals become
//! reclaimable page cache), recurrent state (Mamba/RWKV layers), LoRA adapters and the GPU driver's own context
//! (kept as headroom in [`crate::verdict`]).

use serde::Serialize;

use crate::gguf::ggml_block;
use crate::{GgufInfo, GgufValue, ModelRole, ModelsError};

const MIB: f64 = 1024.0 * 1024.0;

/// Architectures for which llama.cpp creates no KV cache (encoders and diffusion models: every call attends
/// within its own batch). From `llama_model::create_memory`.
const NO_KV_CACHE_ARCHITECTURES: &[&str] = &[
    "bert",
    "modern-bert",
    "nomic-bert",
    "nomic-bert-moe",
    "neo-bert",
    "jina-bert-v2",
    "jina-bert-v3",
    "eurobert",
    "gemma-embedding",
    "wavtokenizer-dec",
    "dream",
    "llada",
    "llada-moe",
    "rnd1",
];

/// Architectures with recurrent layers, whose state this estimate does not model.
const RECURRENT_MARKERS: &[&str] = &["mamba", "rwkv", "ssm", "lfm2", "jamba", "granitehybrid", "plamo2", "qwen3next"];

/// Element type of the KV cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
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
    /// "f32", "f16", "bf16", "q8_0" or "q4_0".
    pub fn parse(s: &str) -> Option<KvType> {
        Some(match s.to_ascii_lowercase().as_str() {
            "f32" => KvType::F32,
            "f16" => KvType::F16,
            "bf16" => KvType::Bf16,
            "q8_0" => KvType::Q8_0,
            "q4_0" => KvType::Q4_0,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            KvType::F32 => "f32",
            KvType::F16 => "f16",
            KvType::Bf16 => "bf16",
            KvType::Q8_0 => "q8_0",
            KvType::Q4_0 => "q4_0",
        }
    }

    fn ggml_type(self) -> u32 {
        match self {
            KvType::F32 => 0,
            KvType::F16 => 1,
            KvType::Q4_0 => 2,
            KvType::Q8_0 => 8,
            KvType::Bf16 => 30,
        }
    }

    pub fn is_quantized(self) -> bool {
        matches!(self, KvType::Q8_0 | KvType::Q4_0)
    }

    /// Bytes of a row of `elements` values (block formats round up to whole blocks).
    pub fn row_bytes(self, elements: u64) -> u64 {
        let (block, bytes) = ggml_block(self.ggml_type()).unwrap_or((1, 2));
        elements.div_ceil(block) * bytes
    }
}

/// What the estimate needs to know about a model, read from its GGUF metadata and tensor infos.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelShape {
    pub architecture: String,
    pub role: ModelRole,
    /// `general.file_type` as a name ("Q4_1", ...).
    pub quantization: Option<String>,
    pub parameters: u64,
    /// Bytes of all tensors: what llama.cpp's model buffers hold.
    pub weight_bytes: u64,
    /// Repeating layers (`block_count`).
    pub n_layer: u32,
    /// Hidden size.
    pub n_embd: u64,
    /// Attention heads (the largest, when they differ by layer).
    pub n_head: u64,
    /// KV heads of the largest layer (fewer than `n_head`: grouped-query attention).
    pub n_head_kv: u64,
    pub head_dim_k: u64,
    pub head_dim_v: u64,
    /// Feed-forward width (the largest; per expert for mixture-of-experts models).
    pub n_ff: u64,
    pub n_vocab: u64,
    /// The context the model was trained for.
    pub context_length: Option<u64>,
    /// Sliding-window attention: the window of the local layers.
    pub sliding_window: Option<u64>,
    /// No KV cache: an encoder (BERT family), attending only within each call.
    pub encoder_only: bool,
    /// Feed-forward with a gate (SwiGLU/GeGLU: three matrices), as opposed to up/down only.
    pub gated_ffn: bool,
    /// Mixture of experts: (experts, experts used per token).
    pub experts: Option<(u64, u64)>,
    /// Layers with recurrent state, which is not estimated.
    pub recurrent: bool,
    /// K and V elements per KV cell, per repeating layer (0 for a layer without attention).
    #[serde(skip)]
    pub kv_width: Vec<(u64, u64)>,
    /// Weight bytes per repeating layer (`blk.N.*`).
    #[serde(skip)]
    pub layer_bytes: Vec<u64>,
    /// Weight bytes llama.cpp always keeps on the CPU: token (and position, token type) embeddings.
    pub input_bytes: u64,
    /// Weight bytes of the output head and final norm (on the output layer's device).
    pub output_bytes: u64,
    /// Bytes of the token embeddings when they double as the output head (no `output.weight`): llama.cpp copies
    /// them to the GPU when the head is offloaded.
    pub tied_output_bytes: u64,
}

fn value_u64(v: &GgufValue) -> Option<u64> {
    v.as_u64()
}

/// A per-layer metadata value: a scalar for every layer, or an array with one value per layer.
/// `None` when missing or when the array was too long to keep (see `KEEP_ARRAY_ELEMENTS`).
fn per_layer(info: &GgufInfo, key: &str, scalar: Option<u64>, n_layer: usize) -> Option<Vec<u64>> {
    if let Some(v) = scalar {
        return Some(vec![v; n_layer]);
    }
    match info.arch_value(key)? {
        GgufValue::Array { values, len, .. } if !values.is_empty() && *len as usize == values.len() => {
            let vals: Vec<u64> = values.iter().map(|v| value_u64(v).unwrap_or(0)).collect();
            Some((0..n_layer).map(|i| vals.get(i).copied().unwrap_or(0)).collect())
        }
        other => other.as_u64().map(|v| vec![v; n_layer]),
    }
}

fn layer_of(name: &str) -> Option<usize> {
    let rest = name.strip_prefix("blk.")?;
    rest.split('.').next()?.parse().ok()
}

impl ModelShape {
    /// The shape of the model a GGUF file describes. Fails only when the metadata lacks what any estimate needs
    /// (layers and hidden size).
    pub fn from_gguf(info: &GgufInfo) -> Result<ModelShape, ModelsError> {
        let invalid = |reason: String| ModelsError::InvalidGguf { source_name: info.architecture.clone(), reason };
        let arch = info.architecture.as_str();
        let n_embd = info
            .embedding_length
            .or_else(|| info.tensor("token_embd.weight").map(|t| t.shape[0]))
            .filter(|&n| n > 0)
            .ok_or_else(|| invalid(format!("{arch}.embedding_length is missing: the memory it needs is unknown")))?;
        let max_blk = info.tensors.iter().filter_map(|t| layer_of(&t.name)).max().map(|m| m as u64 + 1);
        let n_layer = info
            .block_count
            .or(max_blk)
            .ok_or_else(|| invalid(format!("{arch}.block_count is missing: the memory it needs is unknown")))?;
        let n_layer = u32::try_from(n_layer.min(1 << 16)).unwrap_or(1 << 16);
        let layers = n_layer as usize;

        let heads = per_layer(info, "attention.head_count", info.head_count, layers).unwrap_or_else(|| vec![1; layers]);
        let n_head = heads.iter().copied().max().unwrap_or(1).max(1);
        let head_dim_k = info.arch_value("attention.key_length").and_then(value_u64).unwrap_or(n_embd / n_head).max(1);
        let head_dim_v = info.arch_value("attention.value_length").and_then(value_u64).unwrap_or(head_dim_k).max(1);
        let kv_heads = per_layer(info, "attention.head_count_kv", info.head_count_kv, layers);
        let encoder_only = NO_KV_CACHE_ARCHITECTURES.contains(&arch);
        let recurrent = RECURRENT_MARKERS.iter().any(|m| arch.contains(m));
        let kv_lora_rank = info.arch_value("attention.kv_lora_rank").and_then(value_u64);
        let kv_width: Vec<(u64, u64)> = (0..layers)
            .map(|il| {
                if let Some(rank) = kv_lora_rank {
                    // multi-head latent attention: one compressed K row (latent + rope part), no V
                    let rope = info.arch_value("rope.dimension_count").and_then(value_u64).unwrap_or(64);
                    return (rank + rope, 0);
                }
                let from_meta = kv_heads.as_ref().map(|h| h[il]);
                let from_tensors = || {
                    let k = info.tensor(&format!("blk.{il}.attn_k.weight")).map(|t| t.shape[1])?;
                    let v = info.tensor(&format!("blk.{il}.attn_v.weight")).map(|t| t.shape[1]).unwrap_or(k);
                    Some((k, v))
                };
                match from_meta {
                    Some(h) => (h * head_dim_k, h * head_dim_v),
                    None => from_tensors().unwrap_or((heads[il] * head_dim_k, heads[il] * head_dim_v)),
                }
            })
            .collect();
        let n_head_kv = kv_width.iter().map(|&(k, _)| k / head_dim_k).max().unwrap_or(n_head);

        let experts = match (
            info.arch_value("expert_count").and_then(value_u64),
            info.arch_value("expert_used_count").and_then(value_u64),
        ) {
            (Some(n), Some(used)) if n > 0 && used > 0 => Some((n, used)),
            _ => None,
        };
        let ff_key = if experts.is_some() { "expert_feed_forward_length" } else { "feed_forward_length" };
        let n_ff = per_layer(info, ff_key, None, layers)
            .or_else(|| per_layer(info, "feed_forward_length", None, layers))
            .and_then(|v| v.into_iter().max())
            .or_else(|| info.tensor("blk.0.ffn_up.weight").map(|t| t.shape[1]))
            .unwrap_or(4 * n_embd);
        let gated_ffn = info.tensors.iter().any(|t| {
            t.name.starts_with("blk.") && (t.name.contains(".ffn_gate.") || t.name.contains(".ffn_gate_exps."))
        });
        let n_vocab = info
            .vocab_size()
            .or_else(|| info.arch_value("vocab_size").and_then(value_u64))
            .or_else(|| info.tensor("token_embd.weight").map(|t| t.shape[1]))
            .unwrap_or(0);

        let mut layer_bytes = vec![0u64; layers];
        let (mut input_bytes, mut output_bytes) = (0u64, 0u64);
        for t in &info.tensors {
            match layer_of(&t.name) {
                Some(il) if il < layers => layer_bytes[il] += t.bytes,
                Some(_) => output_bytes += t.bytes, // extra blocks (e.g. next-token prediction heads) sit with the head
                None if t.name.starts_with("output") || t.name.starts_with("cls") => output_bytes += t.bytes,
                None => input_bytes += t.bytes,
            }
        }
        let tied_output_bytes = if encoder_only || info.tensor("output.weight").is_some() {
            0
        } else {
            info.tensor("token_embd.weight").map_or(0, |t| t.bytes)
        };

        Ok(ModelShape {
            architecture: info.architecture.clone(),
            role: ModelRole::of(info),
            quantization: info.file_type_name().map(str::to_owned),
            parameters: info.parameter_count,
            weight_bytes: info.tensor_bytes(),
            n_layer,
            n_embd,
            n_head,
            n_head_kv,
            head_dim_k,
            head_dim_v,
            n_ff,
            n_vocab,
            context_length: info.context_length,
            sliding_window: info.arch_value("attention.sliding_window").and_then(value_u64).filter(|&w| w > 0),
            encoder_only,
            gated_ffn,
            experts,
            recurrent,
            kv_width,
            layer_bytes,
            input_bytes,
            output_bytes,
            tied_output_bytes,
        })
    }

    /// The shape of the GGUF file at `path`.
    pub fn read(path: &std::path::Path) -> Result<ModelShape, ModelsError> {
        ModelShape::from_gguf(&GgufInfo::read(path)?)
    }

    /// What llama.cpp calls "all layers": the repeating layers and the output head.
    pub fn offloadable_layers(&self) -> u32 {
        self.n_layer + 1
    }
}

/// How a llama.cpp context is created: the parameters that decide its memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ContextPlan {
    /// Tokens in the context window (llama.cpp rounds it up to a multiple of 256).
    pub n_ctx: u32,
    /// Most tokens per llama.cpp call.
    pub n_batch: u32,
    /// Tokens per micro-batch: the compute buffer is sized for one.
    pub n_ubatch: u32,
    /// Sequences decoded together (embedding contexts pack several inputs per call).
    pub n_seq_max: u32,
    /// Type of both the K and the V cache.
    pub kv_type: KvType,
    pub flash_attention: bool,
    /// llama.cpp's `n_gpu_layers`: the last N of the `n_layer + 1` layers (the output head counts as one) go to the
    /// GPU. 0: CPU only; anything above `n_layer` offloads everything.
    pub gpu_layers: u32,
    /// A context that returns pooled embeddings (the embedding and rerank lanes): every token of a call is an
    /// output row, and the window grows with the batch.
    pub embeddings: bool,
}

impl ContextPlan {
    /// Quire's chat lane with its defaults (`quire_llm::ChatOptions::new`): batch and micro-batch 256, one
    /// sequence, f16 KV cache, flash attention, CPU only.
    pub fn chat(n_ctx: u32) -> ContextPlan {
        ContextPlan {
            n_ctx,
            n_batch: 256,
            n_ubatch: 256,
            n_seq_max: 1,
            kv_type: KvType::F16,
            flash_attention: true,
            gpu_layers: 0,
            embeddings: false,
        }
        .normalized()
    }

    /// Quire's embedding lane (`quire_llm::EmbedOptions`): the window, batch and micro-batch are all
    /// `batch_tokens` (512 by default), up to 64 inputs per call, flash attention.
    pub fn embedding(batch_tokens: u32, max_sequences: u32) -> ContextPlan {
        ContextPlan {
            n_ctx: batch_tokens,
            n_batch: batch_tokens,
            n_ubatch: batch_tokens,
            n_seq_max: max_sequences.clamp(1, 256),
            kv_type: KvType::F16,
            flash_attention: true,
            gpu_layers: 0,
            embeddings: true,
        }
        .normalized()
    }

    /// Quire's rerank lane: a window of the model's training context, at most 1024 tokens, 16 pairs per call.
    pub fn reranker(context_length: Option<u64>) -> ContextPlan {
        let window = context_length.unwrap_or(512).clamp(64, 1024) as u32;
        ContextPlan { n_seq_max: 16, ..ContextPlan::embedding(window, 16) }
    }

    /// Quire's default context for a model of this role.
    pub fn for_role(shape: &ModelShape) -> ContextPlan {
        match shape.role {
            ModelRole::Chat => ContextPlan::chat(shape.context_length.map_or(4096, |c| c.min(4096)).max(256) as u32),
            ModelRole::Embedding => ContextPlan::embedding(512, 64),
            ModelRole::Reranker => ContextPlan::reranker(shape.context_length),
        }
    }

    /// The same plan with another window. For embedding contexts the batch follows the window (Quire packs
    /// inputs up to it); for chat the batch is capped by it, as llama.cpp does.
    pub fn with_context(self, n_ctx: u32) -> ContextPlan {
        let n_ctx = n_ctx.max(8);
        if self.embeddings {
            ContextPlan { n_ctx, n_batch: n_ctx, n_ubatch: n_ctx, ..self }
        } else {
            ContextPlan { n_ctx, ..self }.normalized()
        }
    }

    /// Batch sizes as llama.cpp applies them: the batch at most the window (causal models), the micro-batch at
    /// most the batch.
    pub fn normalized(self) -> ContextPlan {
        let n_ctx = self.n_ctx.max(8);
        let n_batch = if self.embeddings { self.n_batch.max(1) } else { self.n_batch.clamp(1, n_ctx) };
        let n_ubatch = self.n_ubatch.clamp(1, n_batch);
        ContextPlan { n_ctx, n_batch, n_ubatch, n_seq_max: self.n_seq_max.max(1), ..self }
    }
}

/// Bytes on the CPU (system RAM) and on the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Split {
    pub cpu: u64,
    pub gpu: u64,
}

impl Split {
    pub fn total(self) -> u64 {
        self.cpu + self.gpu
    }

    fn cpu(bytes: u64) -> Split {
        Split { cpu: bytes, gpu: 0 }
    }
}

impl std::ops::Add for Split {
    type Output = Split;
    fn add(self, o: Split) -> Split {
        Split { cpu: self.cpu + o.cpu, gpu: self.gpu + o.gpu }
    }
}

impl std::iter::Sum for Split {
    fn sum<I: Iterator<Item = Split>>(iter: I) -> Split {
        iter.fold(Split::default(), |a, b| a + b)
    }
}

/// What one model with one context needs, by component and device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The plan as llama.cpp applies it (window rounded up to 256, batches capped).
    pub plan: ContextPlan,
    /// KV cells (0 without a KV cache).
    pub kv_cells: u32,
    /// Tokens of the micro-batch the compute buffer is sized for.
    pub ubatch_tokens: u32,
    /// Repeating layers on the GPU.
    pub gpu_repeating_layers: u32,
    /// Whether the output head is on the GPU.
    pub output_on_gpu: bool,
    pub weights: Split,
    pub kv_cache: Split,
    pub compute: Split,
    /// Host memory for the results (logits and embeddings), at its largest during use.
    pub output: Split,
    /// The output buffer when the context is created (what llama.cpp logs then).
    pub output_at_load: u64,
    pub total: Split,
    /// What the estimate leaves out or warns about, in sentences.
    pub notes: Vec<String>,
}

impl Estimate {
    /// Bytes of the context alone (everything but the weights).
    pub fn context_bytes(&self) -> u64 {
        self.total.total() - self.weights.total()
    }
}

fn pad(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

/// The memory `shape` needs with a context created by `plan`, assuming a GPU is present when
/// `plan.gpu_layers > 0` (see [`crate::verdict`] for the machine).
pub fn estimate(shape: &ModelShape, plan: &ContextPlan) -> Estimate {
    let plan = plan.normalized();
    let mut notes = Vec::new();
    let n_layer = shape.n_layer as u64;
    let n_ctx = pad(u64::from(plan.n_ctx), 256);
    let has_kv = !shape.encoder_only;

    // Which layers are on the GPU: the last `gpu_layers` of n_layer + 1 (the head is the extra one).
    let n_gpu = u64::from(plan.gpu_layers).min(n_layer + 1);
    let gpu_start = n_layer + 1 - n_gpu; // first repeating layer on the GPU
    let on_gpu = |il: u64| il >= gpu_start;
    let output_on_gpu = n_gpu >= 1;
    let gpu_repeating = n_layer.saturating_sub(gpu_start) as u32;

    // Weights.
    let mut weights = Split::cpu(shape.input_bytes);
    for (il, &b) in shape.layer_bytes.iter().enumerate() {
        if on_gpu(il as u64) {
            weights.gpu += b;
        } else {
            weights.cpu += b;
        }
    }
    if output_on_gpu {
        weights.gpu += shape.output_bytes + shape.tied_output_bytes;
    } else {
        weights.cpu += shape.output_bytes;
    }

    // KV cache.
    let kv_cells = if has_kv { n_ctx } else { 0 };
    let mut kv_cache = Split::default();
    if has_kv {
        if shape.kv_width.iter().any(|&(_, v)| v > 0) && plan.kv_type.is_quantized() && !plan.flash_attention {
            notes.push(format!(
                "llama.cpp refuses a quantized V cache ({}) without flash attention: turn flash attention on or use f16",
                plan.kv_type.name()
            ));
        }
        for (il, &(k, v)) in shape.kv_width.iter().enumerate() {
            let bytes = (plan.kv_type.row_bytes(k) + plan.kv_type.row_bytes(v)) * kv_cells;
            if on_gpu(il as u64) {
                kv_cache.gpu += bytes;
            } else {
                kv_cache.cpu += bytes;
            }
        }
    }
    if shape.recurrent {
        notes.push("the recurrent layers' state is not included (small for one sequence)".into());
    }

    // Compute buffer: the largest set of tensors alive at once in the worst-case micro-batch graph.
    let t = u64::from(plan.n_ubatch).min(n_ctx);
    let t_out = t; // llama.cpp reserves the prompt graph with every token an output
    let e = shape.n_embd;
    let qd = shape.n_head * shape.head_dim_k;
    let (kd, vd) = shape.kv_width.iter().copied().max().unwrap_or((qd, qd));
    let (kd, vd) = if kd == 0 { (qd, qd) } else { (kd, vd) };
    let n_kv = if has_kv { n_ctx } else { t };
    let mask_bytes = if plan.flash_attention { 2 } else { 4 };
    let n_masks = if has_kv && shape.sliding_window.is_some() { 2 } else { 1 };
    let masks = n_masks * n_kv * t * mask_bytes;
    let pooling_inputs = if plan.embeddings { t * u64::from(plan.n_seq_max) * 4 } else { 0 };
    let inputs = t * 12 + masks + pooling_inputs;
    // The coefficients of the hidden size (the residual stream, norms, step outputs) were fitted to the compute
    // buffers llama.cpp reports for 38 settings of three models (SmolLM2, MiniLM, Gemma 3; n_ctx 512–32768,
    // ubatch 64–512, flash attention on and off, f16 and q8_0 KV): within 2% of each; the rest are the shapes of
    // the tensors themselves.
    let attention = 4 * t * (3 * e + qd + kd + vd)
        + if plan.flash_attention {
            4 * t * qd
        } else {
            4 * n_kv * t * shape.n_head + if has_kv { 0 } else { 4 * t * vd }
        };
    let ffn = match shape.experts {
        Some((n_expert, used)) => 4 * t * (2 * e + n_expert + used * (3 * shape.n_ff + e)),
        None if shape.gated_ffn => 4 * t * (2 * e + 3 * shape.n_ff),
        // up, activation and down without a gate: the allocator's layout costs 1.5 widths
        None => 2 * t * (6 * e + 3 * shape.n_ff),
    };
    let output_step = if has_kv { 4 * (2 * e * t + 3 * e * t_out + shape.n_vocab * t_out) } else { 4 * 2 * e * t };
    let layer_peak = attention.max(ffn);
    let full = inputs + layer_peak.max(output_step);
    let compute = if n_gpu == 0 {
        Split::cpu(full)
    } else {
        // The GPU runs the offloaded layers and (by llama.cpp's op offload) the large matrix products; the CPU keeps
        // the inputs, the token embeddings and the layers left to it.
        let cpu_layers = gpu_start.min(n_layer) > 0;
        Split { gpu: full, cpu: inputs + 4 * e * t + if cpu_layers { layer_peak } else { 0 } }
    };

    // Output buffer (host memory): logits always, embeddings for embedding contexts.
    let row = shape.n_vocab + if plan.embeddings { e } else { 0 };
    let seqs = u64::from(plan.n_seq_max);
    let output_at_load = row * seqs * 4;
    let peak_rows = if plan.embeddings { u64::from(plan.n_batch).max(seqs) } else { seqs };
    let output = Split::cpu(row * peak_rows * 4);
    if plan.embeddings && shape.n_vocab * peak_rows * 4 > 32 << 20 {
        notes.push(format!(
            "{:.0} MiB of the output buffer are logits llama.cpp allocates for every token of a batch even though \
             an embedding context never reads them: a smaller batch shrinks it",
            (shape.n_vocab * peak_rows * 4) as f64 / MIB
        ));
    }

    let total = weights + kv_cache + compute + output;
    Estimate {
        plan: ContextPlan { n_ctx: n_ctx as u32, ..plan },
        kv_cells: kv_cells as u32,
        ubatch_tokens: t as u32,
        gpu_repeating_layers: gpu_repeating,
        output_on_gpu,
        weights,
        kv_cache,
        compute,
        output,
        output_at_load,
        total,
        notes,
    }
}

/// Bytes of KV cache one token of context costs, over all layers.
pub fn kv_bytes_per_token(shape: &ModelShape, kv_type: KvType) -> u64 {
    if shape.encoder_only {
        return 0;
    }
    shape.kv_width.iter().map(|&(k, v)| kv_type.row_bytes(k) + kv_type.row_bytes(v)).sum()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A llama-like decoder: SmolLM2-135M's dimensions with made-up per-layer weight sizes.
    pub(crate) fn decoder() -> ModelShape {
        ModelShape {
            architecture: "llama".into(),
            role: ModelRole::Chat,
            quantization: Some("Q4_1".into()),
            parameters: 134_515_008,
            weight_bytes: 30 * 3_000_000 + 5_000_000 + 1_000,
            n_layer: 30,
            n_embd: 576,
            n_head: 9,
            n_head_kv: 3,
            head_dim_k: 64,
            head_dim_v: 64,
            n_ff: 1536,
            n_vocab: 49152,
            context_length: Some(8192),
            sliding_window: None,
            encoder_only: false,
            gated_ffn: true,
            experts: None,
            recurrent: false,
            kv_width: vec![(192, 192); 30],
            layer_bytes: vec![3_000_000; 30],
            input_bytes: 5_000_000,
            output_bytes: 1_000,
            tied_output_bytes: 5_000_000,
        }
    }

    /// A BERT-like encoder: all-MiniLM-L6-v2's dimensions.
    pub(crate) fn encoder() -> ModelShape {
        ModelShape {
            architecture: "bert".into(),
            role: ModelRole::Embedding,
            quantization: Some("Q8_0".into()),
            parameters: 22_565_376,
            weight_bytes: 6 * 3_000_000 + 6_000_000,
            n_layer: 6,
            n_embd: 384,
            n_head: 12,
            n_head_kv: 12,
            head_dim_k: 32,
            head_dim_v: 32,
            n_ff: 1536,
            n_vocab: 30522,
            context_length: Some(512),
            sliding_window: None,
            encoder_only: true,
            gated_ffn: false,
            experts: None,
            recurrent: false,
            kv_width: vec![(384, 384); 6],
            layer_bytes: vec![3_000_000; 6],
            input_bytes: 6_000_000,
            output_bytes: 0,
            tied_output_bytes: 0,
        }
    }

    const MB: u64 = 1 << 20;

    #[test]
    fn kv_cache_counts_gqa_heads_cells_and_type() {
        let s = decoder();
        // 30 layers × (192 + 192) × 2 bytes per cell
        assert_eq!(kv_bytes_per_token(&s, KvType::F16), 30 * 384 * 2);
        let e = estimate(&s, &ContextPlan::chat(4096));
        assert_eq!(e.kv_cells, 4096);
        assert_eq!(e.kv_cache, Split::cpu(90 * MB)); // llama.cpp logs 90.00 MiB
        // the window is rounded up to 256 cells
        let e = estimate(&s, &ContextPlan::chat(1000));
        assert_eq!(e.kv_cells, 1024);
        assert_eq!(e.plan.n_ctx, 1024);
        // q8_0: 34 bytes per 32 values; q4_0: 18
        let q8 = estimate(&s, &ContextPlan { kv_type: KvType::Q8_0, ..ContextPlan::chat(4096) });
        assert_eq!(q8.kv_cache.cpu, 30 * 2 * (192 / 32 * 34) * 4096);
        let q4 = estimate(&s, &ContextPlan { kv_type: KvType::Q4_0, ..ContextPlan::chat(4096) });
        assert_eq!(q4.kv_cache.cpu, 30 * 2 * (192 / 32 * 18) * 4096);
        assert!(q8.notes.is_empty());
        let no_fa = ContextPlan { kv_type: KvType::Q8_0, flash_attention: false, ..ContextPlan::chat(4096) };
        assert!(estimate(&s, &no_fa).notes.iter().any(|n| n.contains("flash attention")));
    }

    #[test]
    fn encoders_have_no_kv_cache() {
        let s = encoder();
        let e = estimate(&s, &ContextPlan::embedding(512, 64));
        assert_eq!(e.kv_cells, 0);
        assert_eq!(e.kv_cache, Split::default());
        assert_eq!(kv_bytes_per_token(&s, KvType::F16), 0);
        // logits + embeddings for 64 sequences at load (llama.cpp logs 7.55 MiB), for all 512 tokens at the first
        // full batch
        assert_eq!(e.output_at_load, (30522 + 384) * 64 * 4);
        assert_eq!(e.output.cpu, (30522 + 384) * 512 * 4);
        assert!(e.notes.iter().any(|n| n.contains("logits")), "{:?}", e.notes);
        // the compute buffer attends within the batch: T × T scores, not a cache
        let small = estimate(&s, &ContextPlan::embedding(128, 16));
        assert!(small.compute.cpu < e.compute.cpu / 3);
    }

    #[test]
    fn compute_buffer_follows_the_shapes_llama_cpp_reserves() {
        let s = decoder();
        // SmolLM2 figures logged by llama.cpp (MiB): ubatch 256 → 53.38 (FA, n_ctx 4096), 64 → 13.35, 512 → 106.77;
        // FA off at n_ctx 8192 → 83.76 (the attention scores, not the logits, are then the largest step)
        let cases = [
            (ContextPlan::chat(4096), 53.38),
            (ContextPlan { n_ubatch: 64, ..ContextPlan::chat(4096) }, 13.35),
            (ContextPlan { n_batch: 512, n_ubatch: 512, ..ContextPlan::chat(4096) }, 106.77),
            (ContextPlan { flash_attention: false, ..ContextPlan::chat(8192) }, 83.76),
            (ContextPlan { flash_attention: false, ..ContextPlan::chat(512) }, 52.26),
        ];
        for (plan, actual) in cases {
            let got = estimate(&s, &plan).compute.cpu as f64 / MIB;
            assert!((got / actual - 1.0).abs() < 0.03, "{plan:?}: {got:.2} MiB vs {actual}");
        }
        let s = encoder();
        for (plan, actual) in [
            (ContextPlan::embedding(512, 64), 7.39),
            (ContextPlan { flash_attention: false, ..ContextPlan::embedding(512, 64) }, 18.39),
            (ContextPlan::embedding(128, 16), 1.73),
            (ContextPlan::embedding(256, 64), 3.57),
        ] {
            let got = estimate(&s, &plan).compute.cpu as f64 / MIB;
            assert!((got / actual - 1.0).abs() < 0.03, "{plan:?}: {got:.2} MiB vs {actual}");
        }
    }

    #[test]
    fn gpu_layers_split_like_llama_cpp() {
        let s = decoder();
        let cpu = estimate(&s, &ContextPlan::chat(4096));
        assert_eq!(cpu.weights, Split::cpu(30 * 3_000_000 + 5_000_000 + 1_000));
        assert_eq!(cpu.gpu_repeating_layers, 0);
        assert!(!cpu.output_on_gpu);

        // one "layer" is the output head alone; a tied head is copied, the CPU keeps the embeddings
        let head = estimate(&s, &ContextPlan { gpu_layers: 1, ..ContextPlan::chat(4096) });
        assert_eq!(head.gpu_repeating_layers, 0);
        assert!(head.output_on_gpu);
        assert_eq!(head.weights.gpu, 1_000 + 5_000_000);
        assert_eq!(head.weights.cpu, 30 * 3_000_000 + 5_000_000);
        assert_eq!(head.kv_cache.gpu, 0);

        // 11 = the head and the last 10 layers, with their KV cache
        let part = estimate(&s, &ContextPlan { gpu_layers: 11, ..ContextPlan::chat(4096) });
        assert_eq!(part.gpu_repeating_layers, 10);
        assert_eq!(part.weights.gpu, 10 * 3_000_000 + 1_000 + 5_000_000);
        assert_eq!(part.kv_cache.gpu, 30 * MB);
        assert_eq!(part.kv_cache.cpu, 60 * MB);
        assert!(part.compute.gpu > 0 && part.compute.cpu > 0);

        // everything: 31 or any larger number (Quire's "all" is 999)
        for n in [31, 999] {
            let all = estimate(&s, &ContextPlan { gpu_layers: n, ..ContextPlan::chat(4096) });
            assert_eq!(all.gpu_repeating_layers, 30);
            assert_eq!(all.weights.cpu, 5_000_000, "only the token embeddings stay");
            assert_eq!(all.kv_cache, Split { cpu: 0, gpu: 90 * MB });
            assert!(all.compute.cpu < all.compute.gpu / 4, "{:?}", all.compute);
            assert_eq!(all.output.gpu, 0, "results land in host memory");
        }
    }

    #[test]
    fn plans_apply_batches_as_llama_cpp_does() {
        let p = ContextPlan::chat(128);
        assert_eq!((p.n_batch, p.n_ubatch), (128, 128));
        let p = ContextPlan::embedding(512, 64).with_context(256);
        assert_eq!((p.n_ctx, p.n_batch, p.n_ubatch), (256, 256, 256));
        let p = ContextPlan::chat(4096).with_context(8192);
        assert_eq!((p.n_ctx, p.n_batch), (8192, 256));
        let r = ContextPlan::reranker(Some(8192));
        assert_eq!((r.n_ctx, r.n_seq_max, r.embeddings), (1024, 16, true));
        assert_eq!(ContextPlan::for_role(&decoder()).n_ctx, 4096);
        assert_eq!(ContextPlan::for_role(&encoder()).n_batch, 512);
        assert_eq!(KvType::parse("Q8_0"), Some(KvType::Q8_0));
        assert_eq!(KvType::parse("q5_1"), None);
    }

    #[test]
    fn sliding_window_models_have_two_masks() {
        let mut s = decoder();
        let plain = estimate(&s, &ContextPlan::chat(32768));
        s.sliding_window = Some(512);
        let swa = estimate(&s, &ContextPlan::chat(32768));
        assert_eq!(swa.compute.cpu - plain.compute.cpu, 32768 * 256 * 2);
        assert_eq!(swa.kv_cache, plain.kv_cache, "full-size SWA cache, llama.cpp's default");
    }
}
