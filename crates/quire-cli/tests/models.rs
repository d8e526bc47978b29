//! `quire models fit` and `quire models list` through the real `quire` binary, on the real starter models; `fit
//! --measure` loads each in the real model worker (llama.cpp) and its estimate must be within 15% of what
//! llama.cpp allocates, per component. Each test passes with a note when the starter models are not installed
//! (`scripts/models.sh` installs them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const CHAT_MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
const EMBED_MODEL: &str = "all-MiniLM-L6-v2.q8_0.gguf";
const MIB: f64 = 1024.0 * 1024.0;

fn quire_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_quire"))
}

/// `$QUIRE_MODELS_DIR` (scripts/env.sh), else the default model cache.
fn models_dir() -> PathBuf {
    std::env::var_os("QUIRE_MODELS_DIR").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("QUIRE_CACHE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/quire"));
        cache.join("models")
    })
}

fn starter(file: &str) -> Option<PathBuf> {
    let path = models_dir().join(file);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("SKIPPED: {} is not installed (run scripts/models.sh)", path.display());
        None
    }
}

/// `quire` with its own empty data folder (no settings: Quire's defaults).
fn quire(data: &Path, args: &[&str]) -> Output {
    Command::new(quire_bin())
        .args(args)
        .env("QUIRE_DATA_DIR", data)
        .env_remove("QUIRE_LOG")
        .output()
        .expect("quire runs")
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "quire failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn num(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer).and_then(Value::as_f64).unwrap_or_else(|| panic!("{pointer} missing in {v:#}"))
}

fn cpu_only_machine(v: &Value) -> bool {
    v["gpu_backend"] == false || v["machine"]["gpus"].as_array().is_some_and(|g| g.is_empty())
}

#[test]
fn fit_of_the_chat_model_with_quire_defaults() {
    let Some(model) = starter(CHAT_MODEL) else { return };
    let data = tempfile::tempdir().expect("tempdir");
    let v = json_of(&quire(data.path(), &["models", "fit", model.to_str().expect("utf-8"), "--json"]));
    assert_eq!(v["model"]["architecture"], "llama");
    assert_eq!(v["model"]["role"], "chat");
    assert_eq!(v["quantization"], "Q4_1");
    let verdict = &v["verdict"];
    assert_eq!(num(verdict, "/estimate/plan/n_ctx"), 4096.0);
    assert_eq!(num(verdict, "/estimate/kv_cells"), 4096.0);
    // 30 layers × 2 × 3 KV heads × 64 × 2 bytes × 4096 cells
    assert_eq!(num(verdict, "/estimate/kv_cache/cpu") + num(verdict, "/estimate/kv_cache/gpu"), 90.0 * MIB);
    assert_eq!(
        num(verdict, "/estimate/weights/cpu") + num(verdict, "/estimate/weights/gpu"),
        num(&v, "/model/weight_bytes")
    );
    if cpu_only_machine(&v) {
        assert_eq!(verdict["placement"], "cpu");
        assert_eq!(verdict["gpu_layers"], 0);
        assert_eq!(num(verdict, "/estimate/total/gpu"), 0.0);
    }
    if num(&v, "/machine/ram_available") > 2.0 * 1024.0 * MIB {
        assert_eq!(verdict["context"], 4096);
        assert_eq!(verdict["max_context"], 8192, "the trained context fits");
    }

    // a shorter, quantized KV cache
    let q8 = json_of(&quire(
        data.path(),
        &["models", "fit", model.to_str().expect("utf-8"), "--context", "2048", "--kv-type", "q8_0", "--json"],
    ));
    // q8_0: 34 bytes per 32 values; 192 values per head row set
    let kv = num(&q8["verdict"], "/estimate/kv_cache/cpu") + num(&q8["verdict"], "/estimate/kv_cache/gpu");
    assert_eq!(kv, (30 * 2 * (192 / 32 * 34) * 2048) as f64);
    assert_eq!(q8["verdict"]["estimate"]["plan"]["kv_type"], "q8_0");

    // for people: the table, the machine and the verdict
    let out = quire(data.path(), &["models", "fit", model.to_str().expect("utf-8"), "--gpu-layers", "8"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in
        ["weights", "KV cache", "compute buffer", "output buffer", "total", "Machine: RAM", "Verdict:", "Use:"]
    {
        assert!(text.contains(needle), "{needle:?} missing in:\n{text}");
    }
    if cpu_only_machine(&v) {
        assert!(text.contains("Verdict: CPU only"), "{text}");
        if v["machine"]["gpus"].as_array().is_some_and(|g| g.is_empty()) {
            assert!(text.contains("GPU: none found"), "{text}");
            assert!(text.contains("no usable GPU"), "8 GPU layers asked for on a machine without one:\n{text}");
        }
    }
}

/// `quire models fit FILE --measure --json`: estimate / llama.cpp for each component.
fn measured_ratios(model: &Path) -> Value {
    let data = tempfile::tempdir().expect("tempdir");
    let v = json_of(&quire(data.path(), &["models", "fit", model.to_str().expect("utf-8"), "--measure", "--json"]));
    println!(
        "{}: measured {:#}\nestimate / measured {:#}",
        model.display(),
        v["measured"],
        v["estimate_over_measured"]
    );
    v
}

fn within(v: &Value, component: &str) {
    let r = num(v, &format!("/estimate_over_measured/{component}"));
    assert!((0.85..=1.15).contains(&r), "{component}: estimate / llama.cpp = {r:.3}, off by more than 15%");
}

#[test]
fn the_chat_estimate_is_within_15_percent_of_llama_cpp() {
    let Some(model) = starter(CHAT_MODEL) else { return };
    let v = measured_ratios(&model);
    for c in ["weights", "kv_cache", "compute", "output_at_load", "total_at_load"] {
        within(&v, c);
    }
    // the measurement is of the same plan as the estimate
    assert_eq!(num(&v, "/measured/kv_cache/cpu") + num(&v, "/measured/kv_cache/gpu"), 90.0 * MIB);
    let lines = v["measured"]["lines"].as_array().expect("llama.cpp's lines");
    assert!(lines.iter().any(|l| l.as_str().is_some_and(|l| l.contains("compute buffer size"))), "{lines:?}");
}

#[test]
fn the_embedding_estimate_is_within_15_percent_of_llama_cpp() {
    let Some(model) = starter(EMBED_MODEL) else { return };
    let v = measured_ratios(&model);
    for c in ["weights", "compute", "output_at_load", "total_at_load"] {
        within(&v, c);
    }
    // BERT: no KV cache in the estimate, none allocated by llama.cpp
    assert_eq!(v["model"]["encoder_only"], true);
    assert_eq!(num(&v, "/verdict/estimate/kv_cells"), 0.0);
    assert_eq!(num(&v, "/measured/kv_cache/cpu") + num(&v, "/measured/kv_cache/gpu"), 0.0);
    assert!(v["estimate_over_measured"]["kv_cache"].is_null());
}

#[test]
fn fit_refuses_what_is_not_a_model() {
    let data = tempfile::tempdir().expect("tempdir");
    let bad = data.path().join("notes.gguf");
    std::fs::write(&bad, b"not a model at all").expect("write");
    let out = quire(data.path(), &["models", "fit", bad.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("notes.gguf") && err.contains("GGUF"), "{err}");

    let out = quire(data.path(), &["models", "fit", bad.to_str().expect("utf-8"), "--kv-type", "q5_1"]);
    assert!(!out.status.success(), "an unknown KV type is refused");
}

#[cfg(unix)]
#[test]
fn list_shows_the_catalog_the_folder_and_the_budget() {
    let (Some(chat), Some(embed)) = (starter(CHAT_MODEL), starter(EMBED_MODEL)) else { return };
    // a model folder of its own: links to the starter models, and a broken file
    let dir = tempfile::tempdir().expect("tempdir");
    let models = dir.path().join("models");
    std::fs::create_dir(&models).expect("mkdir");
    std::os::unix::fs::symlink(&chat, models.join(CHAT_MODEL)).expect("link");
    std::os::unix::fs::symlink(&embed, models.join(EMBED_MODEL)).expect("link");
    std::fs::write(models.join("half-download.gguf"), b"GGUF\x03\x00\x00\x00").expect("write");
    let data = dir.path().join("data");
    let list = |json: bool| {
        let mut cmd = Command::new(quire_bin());
        cmd.args(["models", "list"]).env("QUIRE_DATA_DIR", &data).env("QUIRE_MODELS_DIR", &models);
        if json {
            cmd.arg("--json");
        }
        cmd.output().expect("quire runs")
    };

    let v = json_of(&list(true));
    let rows = v["models"].as_array().expect("models");
    assert_eq!(rows.len(), 3, "{rows:#?}");
    for (row, id, role) in
        [(&rows[0], "smollm2-135m-instruct-q4_1", "chat"), (&rows[1], "all-minilm-l6-v2-q8_0", "embedding")]
    {
        assert_eq!(row["id"], id);
        assert_eq!(row["role"], role);
        assert_eq!(row["starter"], true);
        assert_eq!(row["sha256_status"], "verified", "{row:#}");
        assert_eq!(row["sha256"].as_str().map(str::len), Some(64));
        assert!(row["size_bytes"].as_u64().is_some_and(|s| s > 1_000_000));
        assert!(row["quantization"].is_string() && row["architecture"].is_string());
        assert!(row["context_length"].as_u64().is_some());
        assert!(row["fit"]["placement"].is_string(), "{row:#}");
    }
    assert_eq!(rows[0]["context_length"], 8192);
    assert_eq!(rows[1]["quantization"], "Q8_0");
    // the verification was stamped next to the link, not re-hashed next time
    assert!(models.join(format!("{CHAT_MODEL}.verified")).is_file());
    let broken = &rows[2];
    assert_eq!(broken["file_name"], "half-download.gguf");
    assert!(broken["error"].as_str().is_some_and(|e| e.contains("GGUF")), "{broken:#}");
    assert!(broken["fit"].is_null());

    let together = &v["together"];
    let labels: Vec<&str> =
        together["models"].as_array().expect("models").iter().filter_map(|m| m["label"].as_str()).collect();
    assert_eq!(labels, ["chat", "embedding"]);
    let total = num(together, "/total/cpu") + num(together, "/total/gpu");
    let sum: f64 =
        together["models"].as_array().expect("models").iter().map(|m| m["total"].as_f64().unwrap_or(0.0)).sum();
    assert_eq!(total, sum);
    if num(&v, "/machine/ram_available") > 2.0 * 1024.0 * MIB {
        assert_eq!(together["fits"], true, "{together:#}");
    }

    let out = list(false);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "smollm2-135m-instruct-q4_1 (chat, starter)",
        "(verified)",
        "fit: ",
        "half-download.gguf",
        "Machine: RAM",
        "Loaded together",
    ] {
        assert!(text.contains(needle), "{needle:?} missing in:\n{text}");
    }
    if v["machine"]["gpus"].as_array().is_some_and(|g| g.is_empty()) {
        assert!(text.contains("GPU: none found"), "{text}");
    }
}
