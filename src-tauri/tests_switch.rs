//! Switching the embedding model from the settings, through the real commands on tauri's mock runtime: a real
//! library whose models are two remote embedding models of a loopback stand-in (`tests::embedding_server`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tauri::Manager;

use quire_core::settings::Settings;
use quire_core::switch::EmbeddingSwitch;
use quire_core::{Block, BlockKind, ExtractedDoc, Format};

use crate::state::AppState;
use crate::tests::{app, embedding_server, invoke, invoke_with, main_window};
use crate::tests_remote::runtime;

fn with_model(settings: &Value, base: &str, model: &str) -> Value {
    let mut settings = settings.clone();
    settings["remote"]["embedding"] = json!({ "base_url": base, "model": model });
    settings
}

/// Waits until no switch is under way (the command says none and the plan is gone).
fn wait_for_the_end(window: &tauri::WebviewWindow<tauri::test::MockRuntime>, data: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let view = invoke(window, "embedding_switch").unwrap_or_else(|e| panic!("embedding_switch: {e}"));
        let plan = EmbeddingSwitch::load(data).unwrap_or_else(|e| panic!("{e}"));
        if view.is_null() && plan.is_none() {
            return;
        }
        assert_ne!(view["state"], "failed", "the switch failed: {view}");
        assert!(Instant::now() < deadline, "the switch did not end: {view}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn saving_another_embedding_model_switches_the_library_in_the_background_and_cancel_keeps_the_current_one() {
    let runtime = runtime();
    let base = embedding_server(&runtime);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let defaults = serde_json::to_value(Settings::default()).unwrap_or_else(|e| panic!("{e}"));
    let first: Settings =
        serde_json::from_value(with_model(&defaults, &base, "letters-a")).unwrap_or_else(|e| panic!("{e}"));
    first.save(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let app = app(&dir.path().to_string_lossy());
    let window = main_window(&app);
    let state = app.state::<AppState>();
    let core = runtime.block_on(state.core()).unwrap_or_else(|e| panic!("open the library: {e}"));
    for (name, text) in [("apples.txt", "apples and pears in the orchard"), ("zebra.txt", "a zebra at the zoo")] {
        let block = Block { kind: BlockKind::Text, text: text.into(), page: None };
        let doc = ExtractedDoc { format: Format::Text, title: None, pages: None, blocks: vec![block] };
        runtime
            .block_on(core.library.ingest_extracted(&format!("/docs/{name}"), &doc))
            .unwrap_or_else(|e| panic!("ingest {name}: {e}"));
    }
    drop(core);
    let model_a = format!("remote:letters-a@{}", base.trim_end_matches("/v1"));
    let model_b = format!("remote:letters-b@{}", base.trim_end_matches("/v1"));

    // Another embedding model: saved at once, the library switches in the background.
    let settings = invoke(&window, "get_settings").unwrap_or_else(|e| panic!("get_settings: {e}"));
    let saved = invoke_with(&window, "save_settings", json!({ "settings": with_model(&settings, &base, "letters-b") }))
        .unwrap_or_else(|e| panic!("save_settings: {e}"));
    assert_eq!(saved["switching"], true, "{saved}");
    assert_eq!(saved["reindexing"], false, "{saved}");
    wait_for_the_end(&window, dir.path());
    let overview = invoke(&window, "library_overview").unwrap_or_else(|e| panic!("library_overview: {e}"));
    assert_eq!(overview["stats"]["embedding_model"], model_b.as_str(), "{overview}");
    let documents = overview["documents"].as_array().cloned().unwrap_or_default();
    assert_eq!(documents.len(), 2, "{overview}");
    assert!(
        documents.iter().all(|d| d["embedding_model"] == model_b.as_str() && d["status"] == "indexed"),
        "{overview}"
    );
    let hits = invoke_with(&window, "search_library", json!({ "query": "zebra zoo", "k": 1 }))
        .unwrap_or_else(|e| panic!("search_library: {e}"));
    assert_eq!(hits[0]["chunk"]["path"], "/docs/zebra.txt", "{hits}");
    assert_eq!(hits[0]["chunk"]["embedding_model"], model_b.as_str(), "{hits}");
    let queue = invoke(&window, "queue_state").unwrap_or_else(|e| panic!("queue_state: {e}"));
    assert_eq!(queue["jobs"], json!([]), "the switch re-indexed documents: {queue}");
    let tables = |dir: &std::path::Path| {
        std::fs::read_dir(dir.join("library"))
            .map(|d| {
                d.filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().starts_with("chunks_")).count()
            })
            .unwrap_or(0)
    };
    assert_eq!(tables(dir.path()), 1, "the old model's table is left");

    // With indexing paused the next switch waits; cancelling it keeps the current model and its index.
    invoke_with(&window, "pause_indexing", json!({ "paused": true })).unwrap_or_else(|e| panic!("pause: {e}"));
    let settings = invoke(&window, "get_settings").unwrap_or_else(|e| panic!("get_settings: {e}"));
    let saved = invoke_with(&window, "save_settings", json!({ "settings": with_model(&settings, &base, "letters-c") }))
        .unwrap_or_else(|e| panic!("save_settings: {e}"));
    assert_eq!(saved["switching"], true, "{saved}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let view = loop {
        let view = invoke(&window, "embedding_switch").unwrap_or_else(|e| panic!("embedding_switch: {e}"));
        if view["state"] == "waiting" {
            break view;
        }
        assert!(Instant::now() < deadline, "the switch does not wait while indexing is paused: {view}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        (view["from"].as_str(), view["done"].as_u64(), view["total"].as_u64()),
        (Some(model_b.as_str()), Some(0), Some(2))
    );
    assert!(view["target"].as_str().is_some_and(|t| t.starts_with("letters-c at http://127.0.0.1:")), "{view}");
    invoke(&window, "cancel_embedding_switch").unwrap_or_else(|e| panic!("cancel_embedding_switch: {e}"));
    wait_for_the_end(&window, dir.path());
    let settings = invoke(&window, "get_settings").unwrap_or_else(|e| panic!("get_settings: {e}"));
    assert_eq!(settings["remote"]["embedding"]["model"], "letters-b", "the settings did not go back: {settings}");
    let overview = invoke(&window, "library_overview").unwrap_or_else(|e| panic!("library_overview: {e}"));
    assert_eq!(overview["stats"]["embedding_model"], model_b.as_str(), "{overview}");
    assert_eq!(overview["stats"]["chunks"], 2, "{overview}");
    assert_eq!(tables(dir.path()), 1, "the cancelled switch's table is left");
    assert_ne!(model_a, model_b);
}

/// A library in `dir` indexed with the remote model `model` of `base` (two documents), opened and closed
/// without the app; returns the settings that choose that model.
fn library_with(runtime: &tokio::runtime::Runtime, dir: &std::path::Path, base: &str, model: &str) -> Settings {
    let defaults = serde_json::to_value(Settings::default()).unwrap_or_else(|e| panic!("{e}"));
    let settings: Settings =
        serde_json::from_value(with_model(&defaults, base, model)).unwrap_or_else(|e| panic!("{e}"));
    settings.save(dir).unwrap_or_else(|e| panic!("{e}"));
    let mut options = quire_app::OpenOptions::new(Some(dir.to_path_buf())).unwrap_or_else(|e| panic!("{e}"));
    options.apply_settings(&settings);
    let opened = runtime.block_on(quire_app::open(&options)).unwrap_or_else(|e| panic!("open: {e}"));
    for (name, text) in [("apples.txt", "apples and pears in the orchard"), ("zebra.txt", "a zebra at the zoo")] {
        let block = Block { kind: BlockKind::Text, text: text.into(), page: None };
        let doc = ExtractedDoc { format: Format::Text, title: None, pages: None, blocks: vec![block] };
        runtime
            .block_on(opened.library.ingest_extracted(&format!("/docs/{name}"), &doc))
            .unwrap_or_else(|e| panic!("ingest {name}: {e}"));
    }
    settings
}

#[test]
fn at_start_a_switch_left_by_the_last_run_goes_on_and_one_the_settings_no_longer_choose_is_given_up() {
    let runtime = runtime();
    let base = embedding_server(&runtime);
    let root = base.trim_end_matches("/v1");

    // Left midway by the last run, with the settings choosing the new model: it goes on and switches.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let settings = library_with(&runtime, dir.path(), &base, "letters-a");
    let target = serde_json::from_value::<Settings>(with_model(
        &serde_json::to_value(&settings).unwrap_or_default(),
        &base,
        "letters-b",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    EmbeddingSwitch::begin(
        dir.path(),
        settings.embedding_choice(),
        &format!("remote:letters-a@{root}"),
        target.embedding_choice(),
        1,
    )
    .unwrap_or_else(|e| panic!("begin: {e}"));
    target.save(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let app = app(&dir.path().to_string_lossy());
    let window = main_window(&app);
    // What the app's setup does at start (the mock runtime runs no setup).
    crate::switching::resume(app.handle());
    wait_for_the_end(&window, dir.path());
    let overview = invoke(&window, "library_overview").unwrap_or_else(|e| panic!("library_overview: {e}"));
    assert_eq!(overview["stats"]["embedding_model"], format!("remote:letters-b@{root}"), "{overview}");
    assert_eq!(overview["stats"]["chunks"], 2, "{overview}");

    // Left by the last run, but the settings went back to the current model: it is given up.
    let other = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let settings = library_with(&runtime, other.path(), &base, "letters-a");
    EmbeddingSwitch::begin(
        other.path(),
        settings.embedding_choice(),
        &format!("remote:letters-a@{root}"),
        target.embedding_choice(),
        1,
    )
    .unwrap_or_else(|e| panic!("begin: {e}"));
    let app = self::app(&other.path().to_string_lossy());
    let window = main_window(&app);
    crate::switching::resume(app.handle());
    wait_for_the_end(&window, other.path());
    let overview = invoke(&window, "library_overview").unwrap_or_else(|e| panic!("library_overview: {e}"));
    assert_eq!(overview["stats"]["embedding_model"], format!("remote:letters-a@{root}"), "{overview}");
    assert_eq!(overview["stats"]["chunks"], 2, "{overview}");
    let settings = invoke(&window, "get_settings").unwrap_or_else(|e| panic!("get_settings: {e}"));
    assert_eq!(settings["remote"]["embedding"]["model"], "letters-a", "{settings}");
}
