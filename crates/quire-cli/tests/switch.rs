//! Switching the embedding model of a real library (real LanceDB store, the starter embedding model in the
//! model worker): the new model's table is filled beside the current one while search keeps using the current
//! one, the switch happens when the library is next opened, and a switch given up midway leaves the current
//! index as it was. The "new" model is the starter model's file under another name (so another model id).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use quire_app::switch::{EmbeddingSwitch, Filled, SwitchProgress};
use quire_app::{OpenOptions, Opened};
use quire_core::library::IngestOptions;
use quire_core::settings::EmbeddingChoice;
use quire_core::{DocStatus, SearchFilter, SearchMode};

const EMBED_MODEL: &str = "all-MiniLM-L6-v2.q8_0.gguf";

fn quire_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_quire"))
}

/// The starter embedding model, from `$QUIRE_MODELS_DIR` (scripts/env.sh) or the default model cache.
fn embed_model() -> PathBuf {
    let dir = std::env::var_os("QUIRE_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("QUIRE_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/quire"));
        cache.join("models")
    });
    let path = dir.join(EMBED_MODEL);
    assert!(path.exists(), "{} is missing: run scripts/models.sh (scripts/test.sh does)", path.display());
    path
}

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
