//! Does a model fit this machine, and how: all on the GPU, partly offloaded, CPU only, or not at all — with the
//! number of GPU layers and the context size to use; and one budget for the models Quire loads together (chat,
//! embedding, reranker), saying what to change when they do not fit.
//!
//! Headroom: 10% of the available RAM is left to the rest of the system, and 512 MiB of each GPU to its driver
//! (the CUDA context alone takes a few hundred MiB).

use serde::Serialize;

use crate::fit::{ContextPlan, Estimate, KvType, ModelShape, Split, estimate, kv_bytes_per_token};
use crate::machine::{Machine, human};

/// Memory kept free on each GPU for its driver and runtime.
pub const GPU_RESERVE: u64 = 512 << 20;
/// Share of the available RAM the models may use.
pub const RAM_SHARE: f64 = 0.9;

/// What the models may use on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Resources {
    /// RAM the models may use; None when unknown (then nothing is refused for RAM).
    pub ram: Option<u64>,
    /// GPU memory the models may use; None without a usable GPU.
    pub vram: Option<u64>,
    /// GPU memory is the same RAM (Apple silicon): GPU use counts against RAM too.
    pub unified: bool,
}

impl Resources {
    /// `gpu_backend`: whether this build of llama.cpp can use a GPU at all (Quire's `cuda`, `vulkan` or `metal`
    /// feature).
    pub fn of(machine: &Machine, gpu_backend: bool) -> Resources {
        let ram = machine
            .ram_available
            .map(|a| (a as f64 * RAM_SHARE) as u64)
            .or(machine.ram_total.map(|t| (t as f64 * 0.8) as u64));
        let unified = machine.gpus.iter().any(|g| g.unified);
        let vram = if gpu_backend && !machine.gpus.is_empty() {
            Some(
                machine
                    .gpus
                    .iter()
                    .map(|g| {
                        g.vram_free.unwrap_or(g.vram_total).saturating_sub(if g.unified { 0 } else { GPU_RESERVE })
                    })
                    .sum(),
            )
        } else {
            None
        };
        Resources { ram, vram, unified }
    }

    /// Whether an estimate fits these resources.
    pub fn fits(&self, e: &Estimate) -> bool {
        self.fits_split(e.total)
    }

    fn fits_split(&self, s: Split) -> bool {
        let ram_need = s.cpu + if self.unified { s.gpu } else { 0 };
        let ram_ok = self.ram.is_none_or(|ram| ram_need <= ram);
        let vram_ok = s.gpu == 0 || self.vram.is_some_and(|v| s.gpu <= v);
        ram_ok && vram_ok
    }
}

/// Where a model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Every layer and the output head on the GPU.
    Gpu,
    /// Some layers on the GPU, the rest on the CPU.
    Partial,
    /// Everything on the CPU.
    Cpu,
    /// Not with the settings asked for.
    DoesNotFit,
}

impl Placement {
    fn of(layers: u32, shape: &ModelShape) -> Placement {
        if layers == 0 {
            Placement::Cpu
        } else if layers >= shape.offloadable_layers() {
            Placement::Gpu
        } else {
            Placement::Partial
        }
    }
}

/// The answer for one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// At the context asked for.
    pub placement: Placement,
    /// The `n_gpu_layers` to use (the output head counts as one layer, so all = `n_layer + 1`).
    pub gpu_layers: u32,
    /// The context to use: the one asked for when it fits, else the largest that does; None when none does.
    pub context: Option<u32>,
    /// The largest context that fits with `gpu_layers`, up to the model's trained context.
    pub max_context: Option<u32>,
    /// At the context asked for, with `gpu_layers`.
    pub estimate: Estimate,
    pub resources: Resources,
    /// One line: the verdict in words.
    pub summary: String,
    /// What to change, one sentence each.
    pub advice: Vec<String>,
}

/// The most layers (llama.cpp count) that fit with `plan`, trying all of them down to none; None when even the
/// CPU alone is short.
fn place(shape: &ModelShape, plan: &ContextPlan, r: &Resources) -> Option<(u32, Estimate)> {
    let tries: Vec<u32> = if r.vram.is_some() { (0..=shape.offloadable_layers()).rev().collect() } else { vec![0] };
    tries.into_iter().find_map(|n| {
        let e = estimate(shape, &ContextPlan { gpu_layers: n, ..*plan });
        r.fits(&e).then_some((n, e))
    })
}

/// Layers fixed by the person, or the best that fit.
fn place_with(shape: &ModelShape, plan: &ContextPlan, r: &Resources, fixed: Option<u32>) -> Option<(u32, Estimate)> {
    match fixed {
        Some(n) => {
            let n = if r.vram.is_some() { n } else { 0 };
            let e = estimate(shape, &ContextPlan { gpu_layers: n, ..*plan });
            r.fits(&e).then_some((n, e))
        }
        None => place(shape, plan, r),
    }
}

/// The largest context for which `ok` holds: `lo` (where it holds) or a multiple of 256 up to `hi`. Memory grows
/// with the context, so a binary search finds it.
fn largest_context(lo: u32, hi: u32, ok: impl Fn(u32) -> bool) -> u32 {
    let mut good = lo;
    let (mut a, mut b) = (lo / 256 + 1, hi / 256);
    while a <= b {
        let mid = a + (b - a) / 2;
        if ok(mid * 256) {
            good = mid * 256;
            a = mid + 1;
        } else {
            b = mid - 1;
        }
    }
    good
}

fn trained_context(shape: &ModelShape) -> u32 {
    shape.context_length.unwrap_or(4096).clamp(256, 1 << 20) as u32
}

/// Does `shape` fit this machine with the context of `plan`? `fixed_gpu_layers`: the person's choice of GPU
/// layers (None: the most that fit). `gpu_backend`: whether this build can use a GPU.
pub fn assess(
    shape: &ModelShape,
    plan: &ContextPlan,
    machine: &Machine,
    gpu_backend: bool,
    fixed_gpu_layers: Option<u32>,
) -> Verdict {
    let r = Resources::of(machine, gpu_backend);
    let plan = plan.normalized();
    let requested = plan.n_ctx;
    let trained = trained_context(shape).max(requested);
    let mut advice = Vec::new();
    if !machine.gpus.is_empty() && !gpu_backend {
        advice.push(
            "this build of Quire runs llama.cpp on the CPU only: build it with the cuda, vulkan or metal feature to \
             use the GPU"
                .to_string(),
        );
    }
    if fixed_gpu_layers.is_some_and(|n| n > 0) && r.vram.is_none() {
        advice.push("no usable GPU: the layers asked for run on the CPU".to_string());
    }

    if let Some((layers, e)) = place_with(shape, &plan, &r, fixed_gpu_layers) {
        let placement = Placement::of(layers, shape);
        let fits_at = |c: u32| r.fits(&estimate(shape, &ContextPlan { gpu_layers: layers, ..plan.with_context(c) }));
        let max_context = largest_context(requested, trained, fits_at);
        let summary = match placement {
            Placement::Gpu => format!(
                "fits on the GPU: all {} layers and the output head ({} of {} usable GPU memory)",
                shape.n_layer,
                human(e.total.gpu),
                human(r.vram.unwrap_or(0))
            ),
            Placement::Partial => format!(
                "fits with partial offload: {layers} of {} layers on the GPU ({} GPU, {} RAM)",
                shape.offloadable_layers(),
                human(e.total.gpu),
                human(e.total.cpu)
            ),
            _ => format!(
                "CPU only: fits in RAM ({} of {} usable){}",
                human(e.total.cpu),
                r.ram.map_or("unknown".into(), human),
                if r.vram.is_some() && fixed_gpu_layers.is_none() { "; the GPU has no room for a layer" } else { "" }
            ),
        };
        if placement == Placement::Partial && plan.kv_type == KvType::F16 && !shape.encoder_only {
            let q8 = ContextPlan { kv_type: KvType::Q8_0, ..plan };
            if let Some((n, _)) = place(shape, &q8, &r).filter(|(n, _)| *n > layers) {
                advice.push(format!("a q8_0 KV cache would leave room for {n} GPU layers instead of {layers}"));
            }
        }
        advice.extend(e.notes.iter().cloned());
        return Verdict {
            placement,
            gpu_layers: layers,
            context: Some(requested),
            max_context: Some(max_context),
            estimate: e,
            resources: r,
            summary,
            advice,
        };
    }

    // Does not fit as asked: what would.
    let layers_hint = fixed_gpu_layers.filter(|_| r.vram.is_some());
    let cpu_estimate = estimate(shape, &ContextPlan { gpu_layers: layers_hint.unwrap_or(0), ..plan });
    let floor = 256.min(requested);
    let smallest = plan.with_context(floor);
    let mut context = None;
    let mut gpu_layers = layers_hint.unwrap_or(0);
    if let Some((layers, _)) = place_with(shape, &smallest, &r, fixed_gpu_layers) {
        let c = largest_context(floor, requested, |c| {
            place_with(shape, &plan.with_context(c), &r, fixed_gpu_layers).is_some()
        });
        gpu_layers = place_with(shape, &plan.with_context(c), &r, fixed_gpu_layers).map_or(layers, |(n, _)| n);
        context = Some(c);
        advice.push(format!(
            "lower the {} to {c} tokens{}",
            if plan.embeddings { "batch (and window)" } else { "context" },
            if gpu_layers > 0 { format!(" with {gpu_layers} GPU layers") } else { String::new() }
        ));
    }
    if !shape.encoder_only && plan.kv_type != KvType::Q4_0 {
        let smaller = if plan.kv_type == KvType::Q8_0 { KvType::Q4_0 } else { KvType::Q8_0 };
        let q = ContextPlan { kv_type: smaller, flash_attention: true, ..plan };
        if let Some((n, _)) = place_with(shape, &q, &r, fixed_gpu_layers) {
            advice.push(format!(
                "or keep {requested} tokens with a {} KV cache{}",
                smaller.name(),
                if n > 0 { format!(" and {n} GPU layers") } else { String::new() }
            ));
        }
    }
    if let (Some(n), None) = (fixed_gpu_layers, context)
        && n > 0
        && let Some((best, _)) = place(shape, &plan, &r)
    {
        advice.push(format!("offload {best} layers instead of {n}: the GPU has room for no more"));
    }
    if context.is_none() {
        let weights = shape.weight_bytes;
        advice.push(format!(
            "the weights alone take {}: choose a smaller model or a smaller quantization{}",
            human(weights),
            if r.vram.is_none() && machine.gpus.is_empty() { "" } else { ", or offload layers to a GPU" }
        ));
    }
    let summary = format!(
        "does not fit: {} needed, {} of RAM usable{}",
        human(cpu_estimate.total.total()),
        r.ram.map_or("unknown".into(), human),
        r.vram.map_or(String::new(), |v| format!(" and {} of GPU memory", human(v)))
    );
    Verdict {
        placement: Placement::DoesNotFit,
        gpu_layers,
        context,
        max_context: context,
        estimate: cpu_estimate,
        resources: r,
        summary,
        advice,
    }
}

/// One model of a set loaded together.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedModel {
    /// "chat", "embedding", "reranker", or a file name.
    pub label: String,
    pub shape: ModelShape,
    pub plan: ContextPlan,
    /// GPU layers fixed by the person; None: as many as the GPU memory left over allows (in the order given).
    pub fixed_gpu_layers: Option<u32>,
}

/// One line of a [`Budget`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetLine {
    pub label: String,
    pub gpu_layers: u32,
    pub estimate: Estimate,
}

/// Several models loaded at once, against one machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Budget {
    pub models: Vec<BudgetLine>,
    pub total: Split,
    pub resources: Resources,
    pub fits: bool,
    pub summary: String,
    /// What to change when they do not fit (or could fit better), one sentence each.
    pub advice: Vec<String>,
}

/// Sums `models` (each with its own context) against the machine. GPU memory goes to the models in the order
/// given (put the chat model first: it gains most from the GPU).
pub fn budget(models: &[PlannedModel], machine: &Machine, gpu_backend: bool) -> Budget {
    let r = Resources::of(machine, gpu_backend);
    let mut vram_left = r.vram;
    let mut lines = Vec::new();
    for m in models {
        let layers = match (m.fixed_gpu_layers, vram_left) {
            (_, None) => 0,
            (Some(n), Some(_)) => n,
            (None, Some(left)) => (0..=m.shape.offloadable_layers())
                .rev()
                .find(|&n| estimate(&m.shape, &ContextPlan { gpu_layers: n, ..m.plan }).total.gpu <= left)
                .unwrap_or(0),
        };
        let e = estimate(&m.shape, &ContextPlan { gpu_layers: layers, ..m.plan });
        vram_left = vram_left.map(|v| v.saturating_sub(e.total.gpu));
        lines.push(BudgetLine { label: m.label.clone(), gpu_layers: layers, estimate: e });
    }
    let total: Split = lines.iter().map(|l| l.estimate.total).sum();
    let fits = r.fits_split(total);
    let mut advice = Vec::new();
    let ram_need = total.cpu + if r.unified { total.gpu } else { 0 };
    if let Some(ram) = r.ram
        && ram_need > ram
    {
        let deficit = ram_need - ram;
        advice.push(format!("{} more RAM is needed than the {} usable", human(deficit), human(ram)));
        for (m, line) in models.iter().zip(&lines) {
            advice.extend(savings(m, line, deficit));
        }
    }
    if let Some(vram) = r.vram
        && total.gpu > vram
    {
        advice.push(format!(
            "the GPU layers asked for need {} of GPU memory and {} is usable",
            human(total.gpu),
            human(vram)
        ));
        for (m, line) in models.iter().zip(&lines).filter(|(_, l)| l.estimate.total.gpu > 0) {
            let others = total.gpu - line.estimate.total.gpu;
            let room = vram.saturating_sub(others);
            let n = (0..line.gpu_layers)
                .rev()
                .find(|&n| estimate(&m.shape, &ContextPlan { gpu_layers: n, ..m.plan }).total.gpu <= room)
                .unwrap_or(0);
            advice.push(format!("offload {n} layers of the {} model instead of {}", m.label, line.gpu_layers));
        }
    }
    let summary = format!(
        "{} together: {} of RAM{} needed, {} usable{}",
        if fits { "fit" } else { "do not fit" },
        human(ram_need),
        if total.gpu > 0 { format!(" and {} of GPU memory", human(total.gpu)) } else { String::new() },
        r.ram.map_or("unknown".into(), human),
        r.vram.map_or(String::new(), |v| format!(" (GPU: {})", human(v)))
    );
    Budget { models: lines, total, resources: r, fits, summary, advice }
}

/// Ways to free `deficit` bytes of RAM from one model, each with what it saves.
fn savings(m: &PlannedModel, line: &BudgetLine, deficit: u64) -> Vec<String> {
    let mut out = Vec::new();
    let plan = ContextPlan { gpu_layers: line.gpu_layers, ..m.plan };
    let cpu_now = line.estimate.total.cpu;
    let name = &m.label;
    if kv_bytes_per_token(&m.shape, plan.kv_type) > 0 && line.estimate.kv_cache.cpu > 0 {
        let target = cpu_now.saturating_sub(deficit);
        let ok = |c: u32| estimate(&m.shape, &plan.with_context(c)).total.cpu <= target;
        let floor = 512.min(plan.n_ctx);
        if ok(floor) {
            let c = largest_context(floor, plan.n_ctx, ok);
            if c < plan.n_ctx {
                out.push(format!("lower the {name} model's context from {} to {c} tokens", plan.n_ctx));
            }
        }
        if plan.kv_type == KvType::F16 {
            let q8 = estimate(&m.shape, &ContextPlan { kv_type: KvType::Q8_0, flash_attention: true, ..plan });
            out.push(format!(
                "a q8_0 KV cache for the {name} model saves {}",
                human(cpu_now.saturating_sub(q8.total.cpu))
            ));
        }
    }
    if plan.embeddings && plan.n_batch > 128 {
        let half = estimate(&m.shape, &plan.with_context(plan.n_batch / 2));
        out.push(format!(
            "a batch of {} tokens for the {name} model saves {}",
            plan.n_batch / 2,
            human(cpu_now.saturating_sub(half.total.cpu))
        ));
    }
    if m.label == "reranker" {
        out.push(format!("without the reranker, {} is freed", human(line.estimate.total.cpu)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::tests::{decoder, encoder};
    use crate::machine::Gpu;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn machine(ram_available: u64, gpu_free: Option<u64>) -> Machine {
        Machine {
            ram_total: Some(ram_available * 2),
            ram_available: Some(ram_available),
            gpus: gpu_free
                .map(|free| Gpu {
                    name: "Test GPU".into(),
                    vendor: "nvidia".into(),
                    vram_total: free,
                    vram_free: Some(free),
                    unified: false,
                })
                .into_iter()
                .collect(),
            notes: vec![],
        }
    }

    #[test]
    fn all_on_a_big_gpu() {
        let v = assess(&decoder(), &ContextPlan::chat(4096), &machine(16 * GIB, Some(8 * GIB)), true, None);
        assert_eq!(v.placement, Placement::Gpu);
        assert_eq!(v.gpu_layers, 31);
        assert_eq!(v.context, Some(4096));
        assert_eq!(v.max_context, Some(8192), "up to the trained context");
        assert!(v.summary.starts_with("fits on the GPU"), "{}", v.summary);
        assert_eq!(v.estimate.gpu_repeating_layers, 30);
    }

    #[test]
    fn partial_offload_when_the_gpu_is_small() {
        let s = decoder();
        let all = estimate(&s, &ContextPlan { gpu_layers: 31, ..ContextPlan::chat(4096) });
        // room for about half the model on the GPU (after the driver's reserve)
        let free = GPU_RESERVE + all.total.gpu / 2;
        let v = assess(&s, &ContextPlan::chat(4096), &machine(16 * GIB, Some(free)), true, None);
        assert_eq!(v.placement, Placement::Partial, "{}", v.summary);
        assert!((5..31).contains(&v.gpu_layers), "{}", v.gpu_layers);
        assert!(v.estimate.total.gpu <= free - GPU_RESERVE);
        // one more layer would not fit
        let more = estimate(&s, &ContextPlan { gpu_layers: v.gpu_layers + 1, ..ContextPlan::chat(4096) });
        assert!(more.total.gpu > free - GPU_RESERVE);
        assert!(v.summary.contains("partial offload"), "{}", v.summary);
        // a q8_0 KV cache makes room for more layers
        assert!(v.advice.iter().any(|a| a.contains("q8_0")), "{:?}", v.advice);
    }

    #[test]
    fn cpu_only_without_a_gpu_or_without_a_gpu_build() {
        let m = machine(16 * GIB, None);
        let v = assess(&decoder(), &ContextPlan::chat(4096), &m, true, None);
        assert_eq!(v.placement, Placement::Cpu);
        assert_eq!(v.gpu_layers, 0);
        assert!(v.summary.starts_with("CPU only"), "{}", v.summary);
        assert!(v.advice.is_empty(), "{:?}", v.advice);

        let v = assess(&decoder(), &ContextPlan::chat(4096), &machine(16 * GIB, Some(8 * GIB)), false, Some(31));
        assert_eq!(v.placement, Placement::Cpu);
        assert!(v.advice.iter().any(|a| a.contains("CPU only")), "{:?}", v.advice);
    }

    #[test]
    fn too_long_a_context_gets_a_shorter_one() {
        let s = decoder();
        // ~300 MiB usable: the weights (~95 MiB) and compute (~52) fit, 8192 tokens of f16 KV (180 MiB) do not
        let m = machine(330 * MIB, None);
        let v = assess(&s, &ContextPlan::chat(8192), &m, true, None);
        assert_eq!(v.placement, Placement::DoesNotFit);
        let c = v.context.expect("a shorter context fits");
        assert!((2048..8192).contains(&c) && c.is_multiple_of(256), "{c}");
        let e = estimate(&s, &ContextPlan::chat(c));
        assert!(Resources::of(&m, true).fits(&e));
        assert!(!Resources::of(&m, true).fits(&estimate(&s, &ContextPlan::chat(c + 256))));
        assert!(v.advice.iter().any(|a| a.contains(&format!("{c} tokens"))), "{:?}", v.advice);
        assert!(v.advice.iter().any(|a| a.contains("q8_0")), "{:?}", v.advice);
        assert!(v.summary.starts_with("does not fit"), "{}", v.summary);
    }

    #[test]
    fn nothing_fits_when_the_weights_do_not() {
        let v = assess(&decoder(), &ContextPlan::chat(4096), &machine(50 * MIB, None), true, None);
        assert_eq!(v.placement, Placement::DoesNotFit);
        assert_eq!(v.context, None);
        assert!(v.advice.iter().any(|a| a.contains("smaller model")), "{:?}", v.advice);
    }

    #[test]
    fn too_many_fixed_gpu_layers_are_refused_with_the_number_that_fits() {
        let s = decoder();
        let all = estimate(&s, &ContextPlan { gpu_layers: 31, ..ContextPlan::chat(4096) });
        let free = GPU_RESERVE + all.total.gpu / 2;
        let m = machine(16 * GIB, Some(free));
        let v = assess(&s, &ContextPlan::chat(4096), &m, true, Some(31));
        assert_eq!(v.placement, Placement::DoesNotFit);
        let fits = assess(&s, &ContextPlan::chat(4096), &m, true, Some(4));
        assert_eq!(fits.placement, Placement::Partial);
        assert_eq!(fits.gpu_layers, 4);
    }

    #[test]
    fn encoders_are_sized_by_their_batch() {
        let v = assess(&encoder(), &ContextPlan::embedding(512, 64), &machine(16 * GIB, None), true, None);
        assert_eq!(v.placement, Placement::Cpu);
        assert_eq!(v.estimate.kv_cache.total(), 0);
        assert_eq!(v.max_context, Some(512), "the trained window caps the batch");
    }

    fn trio() -> Vec<PlannedModel> {
        let mut reranker = encoder();
        reranker.role = crate::ModelRole::Reranker;
        vec![
            PlannedModel {
                label: "chat".into(),
                shape: decoder(),
                plan: ContextPlan::chat(8192),
                fixed_gpu_layers: None,
            },
            PlannedModel {
                label: "embedding".into(),
                shape: encoder(),
                plan: ContextPlan::embedding(512, 64),
                fixed_gpu_layers: Some(0),
            },
            PlannedModel {
                label: "reranker".into(),
                shape: reranker,
                plan: ContextPlan::reranker(Some(512)),
                fixed_gpu_layers: Some(0),
            },
        ]
    }

    #[test]
    fn a_budget_sums_the_models_and_their_contexts() {
        let models = trio();
        let b = budget(&models, &machine(16 * GIB, None), true);
        assert!(b.fits, "{}", b.summary);
        assert_eq!(b.models.len(), 3);
        let sum: u64 =
            models.iter().map(|m| estimate(&m.shape, &ContextPlan { gpu_layers: 0, ..m.plan }).total.total()).sum();
        assert_eq!(b.total.total(), sum);
        assert!(b.summary.starts_with("fit together"), "{}", b.summary);
        assert!(b.advice.is_empty());
    }

    #[test]
    fn a_budget_that_does_not_fit_says_what_to_change() {
        let models = trio();
        let need = budget(&models, &machine(16 * GIB, None), true).total.cpu;
        // 100 MiB short
        let ram = ((need - 100 * MIB) as f64 / RAM_SHARE) as u64 + 1;
        let b = budget(&models, &machine(ram, None), true);
        assert!(!b.fits);
        assert!(b.summary.starts_with("do not fit"), "{}", b.summary);
        let text = b.advice.join("\n");
        assert!(text.contains("more RAM is needed"), "{text}");
        assert!(text.contains("lower the chat model's context from 8192 to"), "{text}");
        assert!(text.contains("q8_0 KV cache for the chat model"), "{text}");
        assert!(text.contains("batch of 256 tokens for the embedding model"), "{text}");
        assert!(text.contains("without the reranker"), "{text}");
        // the suggested context really frees enough
        let c: u32 = text
            .split("from 8192 to ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .expect("a context");
        let mut fixed = trio();
        fixed[0].plan = fixed[0].plan.with_context(c);
        assert!(budget(&fixed, &machine(ram, None), true).fits);
    }

    #[test]
    fn a_budget_gives_the_gpu_to_the_first_model() {
        let models = trio();
        let b = budget(&models, &machine(16 * GIB, Some(4 * GIB)), true);
        assert!(b.fits);
        assert_eq!(b.models[0].gpu_layers, 31);
        assert_eq!(b.models[1].gpu_layers, 0, "fixed by the person");
        assert!(b.total.gpu > 0);
    }
}
