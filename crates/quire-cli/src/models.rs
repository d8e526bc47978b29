//! `quire models`: the starter catalog and the installed models, and whether each fits this machine's memory
//! (`list`); one model's memory by component and device, with the verdict (`fit`), optionally checked against
//! what llama.cpp really allocates in the model worker (`fit --measure`); the curated catalog, downloads, the
//! Hugging Face search and imports (`catalog`, `download`, `search`, `import`: `get.rs`).

mod get;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde::Serialize;
use serde_json::json;

use quire_app::OpenOptions;
use quire_app::fit::{GPU_BACKEND, plan_for};
use quire_llm::protocol::{ModelReply, ModelRequest};
use quire_llm::{ChatOptions, EmbedOptions, GpuLayers};
use quire_models::{
    ContextPlan, Estimate, GgufInfo, KvType, Machine, ModelRole, ModelShape, STARTER_MODELS, Split, Verdict, assess,
    human,
};

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// The starter models and the models in the model folder: size, quantization, architecture, trained context,
    /// sha256, and whether each fits this machine; then the configured models loaded together.
    List {
        #[arg(long)]
        json: bool,
    },
    /// The memory a GGUF model needs here — weights, KV cache, compute and output buffers, CPU/GPU split — and
    /// whether it fits: on the GPU, partly offloaded, CPU only, or not at all.
    Fit {
        file: PathBuf,
        /// Context window in tokens (embedding models: the batch). Default: Quire's setting for the model's role.
        #[arg(long, value_name = "N")]
        context: Option<u32>,
        /// Layers on the GPU: a number (the output head counts as one), `all` or `none`. Default: the most that fit.
        #[arg(long, value_name = "N")]
        gpu_layers: Option<String>,
        /// Element type of the KV cache.
        #[arg(long, value_name = "TYPE", default_value = "f16", value_parser = ["f16", "q8_0", "q4_0"])]
        kv_type: String,
        /// Also load the model in the model worker and compare with the buffers llama.cpp reports.
        #[arg(long)]
        measure: bool,
        #[arg(long)]
        json: bool,
    },
    /// The curated catalog of recommended models: chat, embedding and reranker, with size, licence, languages
    /// and whether each is installed.
    Catalog {
        #[arg(long, value_parser = ["chat", "embedding", "reranker"])]
        role: Option<String>,
        /// Only models for texts in this language (an ISO 639-1 code such as `de`).
        #[arg(long, value_name = "CODE")]
        language: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Downloads a model into the model folder: a catalog id, or a Hugging Face file as
    /// owner/repository/file.gguf. Resumes an interrupted download; the file is installed only once its sha256
    /// (when known) and GGUF header check out.
    Download {
        /// Catalog id (`quire models catalog`) or owner/repository/path.gguf (`quire models search`).
        model: String,
        /// Download the file from this URL instead (a mirror); the catalog's size and sha256 still apply.
        #[arg(long)]
        url: Option<String>,
        /// The Hugging Face endpoint (or a mirror of it).
        #[arg(long, env = "HF_ENDPOINT", default_value = quire_models::DEFAULT_ENDPOINT)]
        endpoint: String,
        /// Progress and the result as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Searches Hugging Face for GGUF models beyond the catalog, with each repository's GGUF files.
    Search {
        query: String,
        /// Repositories to show.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        #[arg(long, env = "HF_ENDPOINT", default_value = quire_models::DEFAULT_ENDPOINT)]
        endpoint: String,
        #[arg(long)]
        json: bool,
    },
    /// Switches the library to another embedding model (a GGUF file): every document is embedded with it into
    /// a table of its own while search keeps using the current model, then the library switches at once.
    /// Interrupted, it resumes when run again; until it is done the library stays with the current model.
    UseEmbedding {
        /// The new embedding model (omit with --cancel).
        #[arg(required_unless_present = "cancel")]
        file: Option<PathBuf>,
        /// Give up the switch under way: its table is removed and the library stays as it is.
        #[arg(long, conflicts_with = "file")]
        cancel: bool,
        /// Progress and the result as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Imports a GGUF file you already have: copied into the model folder, or registered where it is.
    Import {
        file: PathBuf,
        /// Leave the file where it is and register it (moving or deleting it later removes the model).
        #[arg(long)]
        in_place: bool,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: &ModelsCommand, options: &OpenOptions) -> Result<()> {
    match command {
        ModelsCommand::List { json } => list(options, *json),
        ModelsCommand::Fit { file, context, gpu_layers, kv_type, measure, json } => {
            let gpu_layers = match gpu_layers {
                Some(s) => Some(
                    GpuLayers::parse(s)
                        .with_context(|| format!("--gpu-layers {s:?}: give a number, `all` or `none`"))?
                        .count(),
                ),
                None => None,
            };
            let kv = KvType::parse(kv_type).context("--kv-type must be f16, q8_0 or q4_0")?;
            fit(file, options, *context, gpu_layers, kv, *measure, *json)
        }
        ModelsCommand::Catalog { role, language, json } => {
            get::show_catalog(role.as_deref(), language.as_deref(), *json)
        }
        ModelsCommand::Download { model, url, endpoint, json } => get::download(model, url.as_deref(), endpoint, *json),
        ModelsCommand::Search { query, limit, endpoint, json } => get::search(query, *limit, endpoint, *json),
        ModelsCommand::Import { file, in_place, json } => get::import(file, *in_place, *json),
        ModelsCommand::UseEmbedding { .. } => bail!("switching the embedding model runs on the async runtime"),
    }
}

fn llm_kv(kv: KvType) -> quire_llm::KvType {
    match kv {
        KvType::F32 => quire_llm::KvType::F32,
        KvType::F16 => quire_llm::KvType::F16,
        KvType::Bf16 => quire_llm::KvType::Bf16,
        KvType::Q8_0 => quire_llm::KvType::Q8_0,
        KvType::Q4_0 => quire_llm::KvType::Q4_0,
    }
}

fn role_name(role: ModelRole) -> &'static str {
    match role {
        ModelRole::Chat => "chat",
        ModelRole::Embedding => "embedding",
        ModelRole::Reranker => "reranker",
    }
}

/// What llama.cpp reported for one load.
#[derive(Debug, Clone, Default, Serialize)]
struct Measured {
    weights: Split,
    kv_cache: Split,
    compute: Split,
    output_at_load: u64,
    total: Split,
    /// The CPU backend repacked some quantized weights into a buffer of their own (x86 with AVX2, ARM): the
    /// mapped originals become reclaimable page cache, so the estimate counts those weights once.
    repacked: bool,
    /// llama.cpp's own lines.
    lines: Vec<String>,
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The buffer sizes in llama.cpp's load log: `<device> <model|KV|compute|output> buffer size = <x> MiB`.
fn parse_buffers(log: &str) -> Measured {
    let mut m = Measured::default();
    for line in log.lines().map(strip_ansi) {
        let Some(at) = line.find(" buffer size = ") else { continue };
        let mut words = line[..at].split_whitespace().rev();
        let (Some(kind), Some(device)) = (words.next(), words.next()) else { continue };
        let Some(mib) = line[at + 15..].split_whitespace().next().and_then(|v| v.parse::<f64>().ok()) else {
            continue;
        };
        let bytes = (mib * 1024.0 * 1024.0).round() as u64;
        let host = device.contains("CPU") || device.contains("Host");
        let add = |s: &mut Split| if host { s.cpu += bytes } else { s.gpu += bytes };
        match kind {
            "model" => add(&mut m.weights),
            "KV" => add(&mut m.kv_cache),
            "compute" => add(&mut m.compute),
            "output" => m.output_at_load += bytes,
            _ => continue,
        }
        let text = line[..at].rsplit(':').next().unwrap_or_default().trim();
        m.lines.push(format!("{text} buffer size = {mib:.2} MiB"));
        m.repacked |= device.contains("REPACK");
    }
    m.total = m.weights + m.kv_cache + m.compute + Split { cpu: m.output_at_load, gpu: 0 };
    m
}

/// Loads the model in the model worker (this program's `__worker model` mode) with `plan` and reads the buffer
/// sizes llama.cpp logs.
fn measure(path: &Path, info: &GgufInfo, shape: &ModelShape, plan: &ContextPlan) -> Result<Measured> {
    let exe = std::env::current_exe().context("the running program")?;
    let mut cmd = Command::new(exe);
    cmd.args(["__worker", "model"]);
    let request = match shape.role {
        ModelRole::Chat => {
            let mut chat = ChatOptions::new(path.to_path_buf());
            chat.n_ctx = plan.n_ctx;
            chat.batch = plan.n_batch;
            chat.ubatch = plan.n_ubatch;
            chat.kv_type = llm_kv(plan.kv_type);
            chat.flash_attention = plan.flash_attention;
            chat.gpu_layers = if plan.gpu_layers == 0 { GpuLayers::None } else { GpuLayers::Count(plan.gpu_layers) };
            // a model without a template of its own still loads with a built-in one
            chat.chat_template = info.chat_template.is_none().then(|| "chatml".to_string());
            ModelRequest::ChatInfo { chat }
        }
        ModelRole::Embedding => {
            let options = EmbedOptions {
                threads: 0,
                batch_tokens: plan.n_batch as usize,
                max_sequences: plan.n_seq_max as usize,
                flash_attention: plan.flash_attention,
                gpu_layers: plan.gpu_layers,
            };
            cmd.arg("--model").arg(path).args(options.to_args());
            ModelRequest::Info
        }
        ModelRole::Reranker => ModelRequest::Rerank {
            model: path.to_path_buf(),
            threads: 0,
            query: "memory".into(),
            texts: vec!["fit".into()],
        },
    };
    let mut child = cmd
        .env("QUIRE_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start the model worker")?;
    {
        let mut stdin = child.stdin.take().context("the model worker's input")?;
        writeln!(stdin, "{}", json!({"id": 1, "req": request})).context("cannot talk to the model worker")?;
    } // closing its input ends the worker once it has answered
    let out = child.wait_with_output().context("the model worker")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reply = stdout.lines().find_map(|l| l.split_once(quire_core::worker::MARKER).map(|(_, r)| r.to_owned()));
    let reply: Option<serde_json::Value> = reply.and_then(|r| serde_json::from_str(&r).ok());
    let error = reply.as_ref().and_then(|r| {
        r.get("error").and_then(|e| e.as_str()).map(str::to_owned).or_else(|| {
            let done = serde_json::from_value::<ModelReply>(r.get("done")?.clone()).ok()?;
            match done {
                ModelReply::Error { message } => Some(message),
                _ => None,
            }
        })
    });
    if let Some(message) = error {
        bail!("the model worker could not load {}: {message}", path.display());
    }
    if reply.is_none() {
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
        bail!("the model worker ended without an answer ({}): {}", out.status, strip_ansi(last));
    }
    let measured = parse_buffers(&stderr);
    if measured.weights.total() == 0 {
        bail!("llama.cpp reported no buffer sizes (is QUIRE_LOG overridden?)");
    }
    Ok(measured)
}

fn ratio(estimate: u64, actual: u64) -> Option<f64> {
    (actual > 0).then(|| estimate as f64 / actual as f64)
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn fit(
    file: &Path,
    options: &OpenOptions,
    context: Option<u32>,
    gpu_layers: Option<u32>,
    kv: KvType,
    want_measure: bool,
    as_json: bool,
) -> Result<()> {
    let info = GgufInfo::read(file)?;
    let shape = ModelShape::from_gguf(&info)?;
    let mut plan = plan_for(&shape, options);
    plan.kv_type = kv;
    if let Some(c) = context {
        if c == 0 {
            bail!("--context must be at least 1 token");
        }
        plan = plan.with_context(c);
    }
    let machine = Machine::detect();
    // without --gpu-layers: the most that fit (a CPU-only build has none)
    let verdict = assess(&shape, &plan, &machine, GPU_BACKEND, gpu_layers);
    let measured = if want_measure {
        let layers = verdict.gpu_layers;
        Some(measure(file, &info, &shape, &ContextPlan { gpu_layers: layers, ..verdict.estimate.plan })?)
    } else {
        None
    };
    let comparison = measured.as_ref().map(|m| {
        let e = &verdict.estimate;
        let est_total = e.weights + e.kv_cache + e.compute + Split { cpu: e.output_at_load, gpu: 0 };
        json!({
            "weights": ratio(e.weights.total(), m.weights.total()),
            "kv_cache": ratio(e.kv_cache.total(), m.kv_cache.total()),
            "compute": ratio(e.compute.total(), m.compute.total()),
            "output_at_load": ratio(e.output_at_load, m.output_at_load),
            "total_at_load": ratio(est_total.total(), m.total.total()),
        })
    });
    if as_json {
        let out = json!({
            "file": file,
            "model": shape,
            "quantization": info.file_type_name(),
            "name": info.name,
            "machine": machine,
            "gpu_backend": GPU_BACKEND,
            "verdict": verdict,
            "measured": measured,
            "estimate_over_measured": comparison,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    print_fit(file, &info, &shape, &machine, &verdict);
    if let Some(m) = measured {
        let e = &verdict.estimate;
        println!();
        println!("Measured: what llama.cpp allocated when the model worker loaded it with these settings");
        for l in &m.lines {
            println!("  {l}");
        }
        let row = |name: &str, est: u64, act: u64| {
            let r = ratio(est, act).map_or("—".to_string(), |r| format!("{r:.3}"));
            println!("  {name:<16} {:>12} {:>12} {r:>7}", mib(est), mib(act));
        };
        println!("  {:<16} {:>12} {:>12} {:>7}", "", "estimate", "llama.cpp", "ratio");
        row("weights", e.weights.total(), m.weights.total());
        row("KV cache", e.kv_cache.total(), m.kv_cache.total());
        row("compute buffer", e.compute.total(), m.compute.total());
        row("output buffer", e.output_at_load, m.output_at_load);
        let est_total = e.weights.total() + e.kv_cache.total() + e.compute.total() + e.output_at_load;
        row("total at load", est_total, m.total.total());
        if m.repacked {
            println!(
                "  (CPU_REPACK holds a repacked copy of some quantized weights; their mapped originals become \
                 reclaimable page cache, so the estimate counts them once)"
            );
        }
        if e.output.total() > e.output_at_load {
            println!(
                "  (the output buffer grows to {} at the first full batch; llama.cpp does not log that)",
                human(e.output.total())
            );
        }
    }
    Ok(())
}

fn split_cell(s: Split, gpu: bool) -> String {
    if gpu { format!("{:>11} {:>11}", human(s.cpu), human(s.gpu)) } else { format!("{:>11}", human(s.cpu)) }
}

fn print_fit(file: &Path, info: &GgufInfo, shape: &ModelShape, machine: &Machine, v: &Verdict) {
    let e = &v.estimate;
    let p = &e.plan;
    println!(
        "{} — {}, {}, {}, {:.1}M parameters",
        file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned()),
        shape.architecture,
        role_name(shape.role),
        info.file_type_name().unwrap_or("unknown type"),
        shape.parameters as f64 / 1e6
    );
    println!(
        "  {} layers, {} heads ({} KV heads), embedding {}, vocabulary {}, trained context {}",
        shape.n_layer,
        shape.n_head,
        shape.n_head_kv,
        shape.n_embd,
        shape.n_vocab,
        shape.context_length.map_or("unknown".into(), |c| c.to_string())
    );
    let kv =
        if shape.encoder_only { "no KV cache (encoder)".to_string() } else { format!("KV cache {}", p.kv_type.name()) };
    let window = if p.embeddings {
        format!("batch {} tokens (the window too), up to {} inputs per call", p.n_batch, p.n_seq_max)
    } else {
        format!("context {} tokens, batch {}, micro-batch {}", p.n_ctx, p.n_batch, p.n_ubatch)
    };
    println!(
        "  {window}, {kv}, flash attention {}, {} of {} layers on the GPU",
        if p.flash_attention { "on" } else { "off" },
        v.gpu_layers.min(shape.offloadable_layers()),
        shape.offloadable_layers()
    );
    println!();
    let gpu = e.total.gpu > 0;
    println!("  {:<16} {}", "", if gpu { format!("{:>11} {:>11}", "CPU", "GPU") } else { format!("{:>11}", "RAM") });
    println!("  {:<16} {}", "weights", split_cell(e.weights, gpu));
    if shape.encoder_only {
        println!("  {:<16} {:>11}", "KV cache", "none");
    } else {
        println!("  {:<16} {}", "KV cache", split_cell(e.kv_cache, gpu));
    }
    println!("  {:<16} {}", "compute buffer", split_cell(e.compute, gpu));
    println!("  {:<16} {}   ({} when created)", "output buffer", split_cell(e.output, gpu), human(e.output_at_load));
    println!("  {:<16} {}", "total", split_cell(e.total, gpu));
    println!();
    println!("Machine: RAM {}; GPU: {}", machine.ram_summary(), machine.gpu_summary());
    println!("Verdict: {}", v.summary);
    match v.context {
        Some(c) => println!(
            "Use: {} GPU layers, {} {c} tokens{}",
            v.gpu_layers,
            if p.embeddings { "batch" } else { "context" },
            match v.max_context {
                Some(m) if m > c => format!(" (up to {m} fits)"),
                _ => String::new(),
            }
        ),
        None => println!("Use: no setting of this model fits this machine"),
    }
    for a in &v.advice {
        println!("  - {a}");
    }
}

/// One model of the list.
#[derive(Debug, Serialize)]
struct Row {
    /// The catalog id for starter models.
    id: Option<&'static str>,
    file_name: String,
    path: PathBuf,
    starter: bool,
    installed: bool,
    role: Option<&'static str>,
    size_bytes: Option<u64>,
    quantization: Option<String>,
    architecture: Option<String>,
    context_length: Option<u64>,
    parameters: Option<u64>,
    sha256: Option<String>,
    /// "verified" (matches the catalog), "mismatch", "hashed" (no expected hash), or why it is unknown.
    sha256_status: String,
    fit: Option<Verdict>,
    /// Why the file cannot be used.
    error: Option<String>,
    /// Registered in place (`quire models import --in-place`), outside the model folder.
    external: bool,
}

fn row_for(path: &Path, options: &OpenOptions, machine: &Machine) -> Row {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut row = Row {
        id: None,
        file_name,
        path: path.to_path_buf(),
        starter: false,
        installed: path.is_file(),
        role: None,
        size_bytes: std::fs::metadata(path).ok().map(|m| m.len()),
        quantization: None,
        architecture: None,
        context_length: None,
        parameters: None,
        sha256: None,
        sha256_status: "not installed".into(),
        fit: None,
        error: None,
        external: false,
    };
    if !row.installed {
        return row;
    }
    match GgufInfo::read(path).map_err(anyhow::Error::from).and_then(|info| {
        let shape = ModelShape::from_gguf(&info)?;
        Ok((info, shape))
    }) {
        Ok((info, shape)) => {
            row.role = Some(role_name(shape.role));
            row.quantization = info.file_type_name().map(str::to_owned);
            row.architecture = Some(info.architecture.clone());
            row.context_length = info.context_length;
            row.parameters = Some(info.parameter_count);
            let plan = plan_for(&shape, options);
            row.fit = Some(assess(&shape, &plan, machine, GPU_BACKEND, None));
        }
        Err(e) => row.error = Some(e.to_string()),
    }
    row
}

fn list(options: &OpenOptions, as_json: bool) -> Result<()> {
    let dir = quire_models::models_dir();
    let machine = Machine::detect();
    let mut rows = Vec::new();
    for m in &STARTER_MODELS {
        let path = dir.join(m.file_name);
        let mut row = row_for(&path, options, &machine);
        row.id = Some(m.id);
        row.starter = true;
        row.role.get_or_insert(match m.role {
            quire_models::Role::Chat => "chat",
            quire_models::Role::Embedding => "embedding",
        });
        if row.installed {
            match quire_models::verify_in(&dir, m) {
                Ok(_) => {
                    row.sha256 = Some(m.sha256.to_string());
                    row.sha256_status = "verified".into();
                }
                Err(e) => {
                    row.sha256_status = "mismatch".into();
                    row.error.get_or_insert(e.to_string());
                }
            }
        } else {
            row.sha256 = Some(m.sha256.to_string());
            row.size_bytes = Some(m.size);
        }
        rows.push(row);
    }
    let (installed, broken) = quire_models::installed_in(&dir)?;
    let starter_names: Vec<&str> = STARTER_MODELS.iter().map(|m| m.file_name).collect();
    for m in installed.iter().filter(|m| m.external || !starter_names.contains(&m.file_name.as_str())) {
        let mut row = row_for(&m.path, options, &machine);
        row.external = m.external;
        // a file of the catalog is checked against the catalog's sha256 when it has one
        let entry = quire_models::catalog().models.iter().find(|e| !m.external && e.file_name() == m.file_name);
        row.id = entry.map(|e| e.id.as_str());
        match quire_models::sha256_stamped(&m.path) {
            Ok(sha) => {
                row.sha256_status = match entry.and_then(|e| e.sha256.as_deref()) {
                    Some(expected) if expected == sha => "verified".into(),
                    Some(_) => "mismatch".into(),
                    None => "hashed".into(),
                };
                row.sha256 = Some(sha);
            }
            Err(e) => row.sha256_status = format!("unreadable: {e}"),
        }
        rows.push(row);
    }
    for b in broken.iter().filter(|b| !STARTER_MODELS.iter().any(|s| dir.join(s.file_name) == b.path)) {
        let mut row = row_for(&b.path, options, &machine);
        row.error = Some(b.reason.clone());
        row.fit = None;
        rows.push(row);
    }

    let together = configured_budget(options, &machine);
    if as_json {
        let out = json!({
            "models_dir": dir,
            "machine": machine,
            "gpu_backend": GPU_BACKEND,
            "models": rows,
            "together": together,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("Models in {}", dir.display());
    for r in &rows {
        println!();
        let kind = match (r.starter, r.external) {
            (true, _) => "starter",
            (false, true) => "registered in place",
            (false, false) => "installed",
        };
        println!("{} ({}, {kind})", r.id.unwrap_or(&r.file_name), r.role.unwrap_or("unknown role"));
        let mut facts = vec![r.file_name.clone()];
        if let Some(s) = r.size_bytes {
            facts.push(human(s));
        }
        facts.extend(r.quantization.clone());
        facts.extend(r.architecture.clone());
        if let Some(c) = r.context_length {
            facts.push(format!("trained context {c}"));
        }
        if let Some(p) = r.parameters {
            facts.push(format!("{:.1}M parameters", p as f64 / 1e6));
        }
        println!("  {}", facts.join(", "));
        if !r.installed {
            println!("  not installed: run {}", quire_models::INSTALL_COMMAND);
        }
        if let Some(sha) = &r.sha256 {
            println!("  sha256 {sha} ({})", if r.installed { r.sha256_status.as_str() } else { "expected" });
        }
        if let Some(e) = &r.error {
            println!("  error: {e}");
        }
        if let Some(v) = &r.fit {
            let e = &v.estimate;
            let setting = match v.context {
                Some(c) => format!(
                    "; use {} {c} tokens{}, {} GPU layers",
                    if e.plan.embeddings { "a batch of" } else { "a context of" },
                    match v.max_context {
                        Some(m) if m > c => format!(" (up to {m} fit)"),
                        _ => String::new(),
                    },
                    v.gpu_layers
                ),
                None => String::new(),
            };
            println!("  fit: {}{setting}", v.summary);
            for a in &v.advice {
                println!("    - {a}");
            }
        }
    }
    println!();
    println!("Machine: RAM {}; GPU: {}", machine.ram_summary(), machine.gpu_summary());
    match &together {
        Some(t) => {
            let names: Vec<String> = t.models.iter().map(|m| format!("{} ({})", m.label, human(m.total))).collect();
            println!("Loaded together, {}: {}", names.join(" + "), t.summary);
            for a in &t.advice {
                println!("  - {a}");
            }
        }
        None => println!("Loaded together: the configured models are not all installed"),
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct TogetherModel {
    label: String,
    path: PathBuf,
    gpu_layers: u32,
    total: u64,
    estimate: Estimate,
}

#[derive(Debug, Serialize)]
struct Together {
    models: Vec<TogetherModel>,
    fits: bool,
    total: Split,
    summary: String,
    advice: Vec<String>,
}

/// The chat, embedding and (when one is found) reranker models Quire would load, each with its context (the
/// app's models screen sums the same). None: a configured model is missing or unreadable.
fn configured_budget(options: &OpenOptions, machine: &Machine) -> Option<Together> {
    let t = quire_app::fit::together(options, machine).ok()?;
    let b = t.budget;
    Some(Together {
        models: b
            .models
            .into_iter()
            .zip(t.paths)
            .map(|(l, path)| TogetherModel {
                label: l.label,
                path,
                gpu_layers: l.gpu_layers,
                total: l.estimate.total.total(),
                estimate: l.estimate,
            })
            .collect(),
        fits: b.fits,
        total: b.total,
        summary: b.summary,
        advice: b.advice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama_cpp_buffer_lines_are_read_per_device() {
        let log = "\u{1b}[2m2026\u{1b}[0m INFO load_from_file: llama-cpp-2:   CPU_Mapped model buffer size =    92.10 MiB module=\"x\"\n\
                   INFO llama-cpp-2:   CUDA0 model buffer size =   100.00 MiB\n\
                   INFO llama-cpp-2:   CPU_REPACK model buffer size =    12.66 MiB\n\
                   INFO llama-cpp-2:        CPU  output buffer size =     0.19 MiB module=\"llama.cpp::llama_context\"\n\
                   INFO llama-cpp-2:        CPU KV buffer size =    12.00 MiB\n\
                   INFO llama-cpp-2:      CUDA0 KV buffer size =    60.00 MiB\n\
                   INFO llama-cpp-2: size =   90.00 MiB (  4096 cells,  30 layers,  1/1 seqs)\n\
                   INFO llama-cpp-2:      CUDA0 compute buffer size =    53.38 MiB\n\
                   INFO llama-cpp-2:  CUDA_Host compute buffer size =     4.00 MiB\n";
        let m = parse_buffers(log);
        let mib = |x: f64| (x * 1024.0 * 1024.0).round() as u64;
        assert_eq!(m.weights, Split { cpu: mib(92.10) + mib(12.66), gpu: mib(100.0) });
        assert_eq!(m.kv_cache, Split { cpu: mib(12.0), gpu: mib(60.0) });
        assert_eq!(m.compute, Split { cpu: mib(4.0), gpu: mib(53.38) });
        assert_eq!(m.output_at_load, mib(0.19));
        assert_eq!(m.lines.len(), 8);
        assert_eq!(m.lines[0], "CPU_Mapped model buffer size = 92.10 MiB");
        assert_eq!(m.lines[3], "CPU  output buffer size = 0.19 MiB");
    }
}
