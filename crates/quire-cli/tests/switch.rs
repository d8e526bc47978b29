//! Switching the embedding model of a real library (real LanceDB store, the starter embedding model in the
//! model worker): the new model's table is filled beside the current one while search keeps using the current
//! one, the switch happens when the library is next opened, and a switch given up midway leaves the current
//! index as it was. The "new" model is the starter model's file under another name (so another model id).

mod common;

use common::{embed_model, quire_bin};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use quire_app::switch::{EmbeddingSwitch, Filled, SwitchProgress};
use quire_app::{OpenOptions, Opened};
use quire_core::library::IngestOptions;
use quire_core::settings::EmbeddingChoice;
use quire_core::{DocStatus, SearchFilter, SearchMode};

struct Fixture {
    docs: tempfile::TempDir,
    data: tempfile::TempDir,
    /// The "new" model: the starter model's file under another name.
    other: PathBuf,
    _models: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let models = tempfile::tempdir().expect("tempdir");
    let other = models.path().join("minilm-renamed.gguf");
    if std::fs::hard_link(embed_model(), &other).is_err() {
        std::fs::copy(embed_model(), &other).expect("copy the model");
    }
    let docs = tempfile::tempdir().expect("tempdir");
    for (name, text) in [
        ("kettle.md", "# Kettle\n\nThe kettle boils water for tea in three minutes on the stove."),
        ("garden.md", "# Garden\n\nTomatoes in the garden need water every morning in summer."),
        ("bikes.md", "# Bicycles\n\nA bicycle chain wants a drop of oil after riding in the rain."),
    ] {
        std::fs::write(docs.path().join(name), text).expect("write");
    }
    Fixture { docs, data: tempfile::tempdir().expect("tempdir"), other, _models: models }
}

fn local(path: &Path) -> EmbeddingChoice {
    EmbeddingChoice { local: Some(path.to_path_buf()), remote: None }
}

fn options(data: &Path, model: &Path) -> OpenOptions {
    let mut options = OpenOptions::new(Some(data.to_path_buf())).expect("options");
    options.worker_program = quire_bin();
    options.embed_model = Some(model.to_path_buf());
    options
}

async fn ingest(opened: &Opened, docs: &Path) {
    let options = IngestOptions { prune_missing: true, force: false };
    let report = opened.library.ingest(&[docs.to_path_buf()], &options, &|_| {}, None).await.expect("ingest");
    assert_eq!(report.failed, 0, "{report:?}");
}

/// The path and embedding model of the best hit for `query`.
async fn best(opened: &Opened, query: &str) -> (String, String) {
    let hits = opened.library.search(query, 3, SearchMode::Hybrid, &SearchFilter::default()).await.expect("search");
    let hit = hits.first().unwrap_or_else(|| panic!("nothing found for {query:?}"));
    (hit.chunk.path.rsplit('/').next().unwrap_or_default().to_string(), hit.chunk.embedding_model.clone())
}

fn chunk_tables(data: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data.join("library"))
        .expect("library dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("chunks_"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_library_switches_model_at_once_and_search_works_throughout() {
    let f = fixture();
    let current = quire_app::open(&options(f.data.path(), &embed_model())).await.expect("open");
    ingest(&current, f.docs.path()).await;
    let from = current.library.embedder().info().model_id.clone();
    assert_eq!(best(&current, "when do tomatoes need water").await, ("garden.md".into(), from.clone()));

    let mut switch =
        EmbeddingSwitch::begin(f.data.path(), local(&embed_model()), &from, local(&f.other), 1).expect("begin");
    let mut seen: Vec<SwitchProgress> = Vec::new();
    let filled = quire_app::switch::run(&current, &mut switch, &AtomicBool::new(false), &mut |p| seen.push(p))
        .await
        .expect("switch");
    assert_eq!(filled, Filled::Ready);
    assert_eq!(seen.last(), Some(&SwitchProgress { done: 3, total: 3 }), "{seen:?}");
    assert_eq!(switch.plan.to.as_deref(), Some("minilm-renamed"));
    assert_eq!(chunk_tables(f.data.path()).len(), 2, "the new model's table is beside the current one");
    // Until the library is opened again, everything is as before: the current model's chunks are searched.
    assert_eq!(best(&current, "oil for the bicycle chain").await, ("bikes.md".into(), from.clone()));
    drop(current);

    // The settings now choose the new model; opening finishes the switch.
    let switched = quire_app::open(&options(f.data.path(), &f.other)).await.expect("open with the new model");
    assert_eq!(switched.library.embedder().info().model_id, "minilm-renamed");
    assert_eq!(best(&switched, "oil for the bicycle chain").await, ("bikes.md".into(), "minilm-renamed".into()));
    assert_eq!(best(&switched, "kettle tea stove").await.0, "kettle.md");
    let documents = switched.library.documents().await.expect("documents");
    assert_eq!(documents.len(), 3);
    assert!(documents.iter().all(|d| d.status == DocStatus::Indexed && d.embedding_model == "minilm-renamed"));
    assert_eq!(switched.documents_of_other_models().await.expect("count"), 0);
    assert_eq!(chunk_tables(f.data.path()).len(), 1, "the old model's table was removed");
    assert!(EmbeddingSwitch::load(f.data.path()).expect("load").is_none(), "the plan was removed");
    // Nothing is left to do: an ingest finds every file unchanged.
    let report = switched
        .library
        .ingest(&[f.docs.path().to_path_buf()], &IngestOptions::default(), &|_| {}, None)
        .await
        .expect("ingest");
    assert_eq!((report.indexed, report.unchanged), (0, 3), "{report:?}");
}

#[tokio::test]
async fn a_switch_stopped_midway_leaves_the_current_index_untouched() {
    let f = fixture();
    let current = quire_app::open(&options(f.data.path(), &embed_model())).await.expect("open");
    ingest(&current, f.docs.path()).await;
    let from = current.library.embedder().info().model_id.clone();
    let before = current.library.documents().await.expect("documents");
    let chunks_before = current.library.stats().await.expect("stats").chunks;

    let mut switch =
        EmbeddingSwitch::begin(f.data.path(), local(&embed_model()), &from, local(&f.other), 1).expect("begin");
    let cancel = AtomicBool::new(false);
    let filled = quire_app::switch::run(&current, &mut switch, &cancel, &mut |p| {
        if p.done == 1 {
            cancel.store(true, Ordering::SeqCst);
        }
    })
    .await
    .expect("switch");
    assert_eq!(filled, Filled::Cancelled);
    drop(current);

    // While the switch is not done the library opens with the current model, whatever the settings choose.
    let reopened = quire_app::open(&options(f.data.path(), &f.other)).await.expect("open");
    assert_eq!(reopened.library.embedder().info().model_id, from);
    let pending = EmbeddingSwitch::load(f.data.path()).expect("load").expect("the plan is kept");
    assert_eq!(pending.plan.done.len(), 1);
    assert_eq!(reopened.library.documents().await.expect("documents"), before);
    assert_eq!(best(&reopened, "kettle tea stove").await, ("kettle.md".into(), from.clone()));

    // Given up: the new table and the plan go; the current index is as it was.
    pending.abandon(reopened.library.store().as_ref()).await.expect("abandon");
    assert_eq!(chunk_tables(f.data.path()).len(), 1);
    assert!(EmbeddingSwitch::load(f.data.path()).expect("load").is_none());
    assert_eq!(reopened.library.documents().await.expect("documents"), before);
    assert_eq!(reopened.library.stats().await.expect("stats").chunks, chunks_before);
    assert_eq!(best(&reopened, "when do tomatoes need water").await, ("garden.md".into(), from));
}

/// Runs `quire` on the data folder; returns stdout, panicking with stderr when it fails.
fn quire(data: &Path, args: &[&str]) -> String {
    let out =
        std::process::Command::new(quire_bin()).arg("--data-dir").arg(data).args(args).output().expect("run quire");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "quire {args:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

fn last_json_line(out: &str) -> serde_json::Value {
    let line = out.lines().rev().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON line in {out}"));
    serde_json::from_str(line).expect("JSON")
}

/// The library's embedding model and each document's (path, model, chunks), from `quire status --json`.
fn status(data: &Path) -> (String, Vec<(String, String, u64)>) {
    let status: serde_json::Value = serde_json::from_str(&quire(data, &["status", "--json"])).expect("JSON");
    let model = status["stats"]["embedding_model"].as_str().unwrap_or_default().to_string();
    let mut documents: Vec<(String, String, u64)> = status["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| {
            let path = d["path"].as_str().unwrap_or_default().to_string();
            (
                path,
                d["embedding_model"].as_str().unwrap_or_default().to_string(),
                d["chunk_count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    documents.sort();
    (model, documents)
}

#[test]
fn a_switch_killed_midway_leaves_the_current_index_and_resumes_when_run_again() {
    use std::io::BufRead;

    let f = fixture();
    // Enough text that the switch takes a while: 12 documents of several chunks each.
    for i in 0..12 {
        let words: Vec<String> = (0..900).map(|w| format!("topic{i} word{}", w % 97)).collect();
        std::fs::write(f.docs.path().join(format!("long-{i:02}.txt")), words.join(" ")).expect("write");
    }
    let docs = f.docs.path().to_string_lossy().into_owned();
    let report = last_json_line(&quire(f.data.path(), &["ingest", &docs, "--json"]));
    assert_eq!((report["indexed"].as_u64(), report["failed"].as_u64()), (Some(15), Some(0)), "{report}");
    let before = status(f.data.path());
    let from = before.0.clone();
    assert_eq!(from, "all-MiniLM-L6-v2.q8_0");

    let other = f.other.to_string_lossy().into_owned();
    let mut child = std::process::Command::new(quire_bin())
        .arg("--data-dir")
        .arg(f.data.path())
        .args(["models", "use-embedding", &other, "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the switch");
    let stdout = child.stdout.take().expect("stdout");
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("read");
        let event: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
        assert_eq!(event["event"], "progress", "the switch ended before it was killed: {event}");
        if event["done"].as_u64().is_some_and(|d| d >= 2) {
            break;
        }
    }
    assert!(child.try_wait().expect("wait").is_none(), "the switch ended before it was killed");
    child.kill().expect("kill -9");
    child.wait().expect("wait");

    // Killed midway: the library is exactly as it was and searched with the current model.
    let plan = EmbeddingSwitch::load(f.data.path()).expect("load").expect("the plan is kept");
    assert!(!plan.plan.committed);
    assert_eq!(status(f.data.path()), before);
    let hits: serde_json::Value =
        serde_json::from_str(&quire(f.data.path(), &["search", "kettle tea stove", "--json", "-k", "1"]))
            .expect("JSON");
    assert!(hits[0]["path"].as_str().is_some_and(|p| p.ends_with("kettle.md")), "{hits}");

    // Run again: it goes on from where it was and switches.
    let done = last_json_line(&quire(f.data.path(), &["models", "use-embedding", &other, "--json"]));
    assert_eq!(
        (done["event"].as_str(), done["model"].as_str(), done["left"].as_u64()),
        (Some("switched"), Some("minilm-renamed"), Some(0)),
        "{done}"
    );
    let (model, documents) = status(f.data.path());
    assert_eq!(model, "minilm-renamed");
    let expected: Vec<(String, String, u64)> =
        before.1.iter().map(|(p, _, c)| (p.clone(), "minilm-renamed".to_string(), *c)).collect();
    assert_eq!(documents, expected, "the documents or their chunk counts changed");
    assert!(EmbeddingSwitch::load(f.data.path()).expect("load").is_none());
    assert_eq!(chunk_tables(f.data.path()).len(), 1);
    let hits: serde_json::Value =
        serde_json::from_str(&quire(f.data.path(), &["search", "bicycle chain oil", "--json", "-k", "1"]))
            .expect("JSON");
    assert!(hits[0]["path"].as_str().is_some_and(|p| p.ends_with("bikes.md")), "{hits}");
    // The settings chose the new model, so a plain ingest finds nothing to do.
    let again = last_json_line(&quire(f.data.path(), &["ingest", &docs, "--json"]));
    assert_eq!((again["indexed"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(15)), "{again}");
}
