//! The shell's commands called over IPC on Tauri's mock runtime, with the app's real configuration and
//! capabilities: what passes here is what the window may call. (Needs tauri's `test` feature.)

use std::path::PathBuf;

use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::{InvokeRequest, WebviewWindowBuilder};
use tauri::{App, WebviewUrl, WebviewWindow};

use quire_core::watched::WatchedFolders;

use crate::AppState;

pub(crate) fn app(data_dir: &str) -> App<MockRuntime> {
    match crate::build(mock_builder(), AppState::new(data_dir)).build(crate::context()) {
        Ok(app) => app,
        Err(error) => panic!("the app does not build on the mock runtime: {error}"),
    }
}

/// The window tauri.conf.json declares, as the real app opens it (the mock runtime leaves that to the test).
pub(crate) fn main_window(app: &App<MockRuntime>) -> WebviewWindow<MockRuntime> {
    let config = app.config().app.windows.iter().find(|w| w.label == "main");
    let config = config.unwrap_or_else(|| panic!("tauri.conf.json declares no `main` window"));
    WebviewWindowBuilder::from_config(app, config).and_then(|b| b.build()).unwrap_or_else(|e| panic!("{e}"))
}

/// Calls `cmd` as the page loaded in `window` would.
pub(crate) fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str) -> Result<Value, Value> {
    invoke_with(window, cmd, json!({}))
}

/// Calls `cmd` with arguments (named as the UI names them: camelCase).
pub(crate) fn invoke_with(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().unwrap_or_else(|e| panic!("{e}")),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(window, request).map(|body| body.deserialize::<Value>().unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn app_info_reports_name_version_and_the_data_folder_of_the_state() {
    let data_dir = std::env::temp_dir().join("quire-shell-test-data");
    let app = app(&data_dir.to_string_lossy());

    let info = invoke(&main_window(&app), "app_info").unwrap_or_else(|e| panic!("app_info failed: {e}"));

    assert_eq!(info["name"], "Quire");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(PathBuf::from(info["data_dir"].as_str().unwrap_or_default()), data_dir);
}

#[test]
fn unknown_commands_are_refused() {
    let app = app("/unused");

    let refusal = invoke(&main_window(&app), "delete_everything").expect_err("an unregistered command succeeded");

    assert!(refusal.to_string().contains("not found"), "unexpected refusal: {refusal}");
}

#[test]
fn windows_without_a_capability_cannot_call_commands() {
    let app = app("/unused");
    let other =
        WebviewWindowBuilder::new(&app, "untrusted", WebviewUrl::default()).build().unwrap_or_else(|e| panic!("{e}"));

    let refusal = invoke(&other, "app_info").expect_err("app_info is granted to the main window only");

    assert!(refusal.to_string().contains("not allowed"), "unexpected refusal: {refusal}");
}

fn temp_app() -> (tempfile::TempDir, App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let app = app(&dir.path().to_string_lossy());
    let window = main_window(&app);
    (dir, app, window)
}

#[test]
fn the_data_folder_is_not_moved_into_a_folder_in_use_nor_when_the_environment_sets_it() {
    let (dir, _app, window) = temp_app();
    let info = invoke(&window, "app_info").unwrap_or_else(|e| panic!("app_info: {e}"));
    assert_eq!(info["data_dir_source"], "default");
    assert!(!info["default_data_dir"].as_str().unwrap_or_default().is_empty());

    let busy = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(busy.path().join("holiday.jpg"), b"jpeg").unwrap_or_else(|e| panic!("{e}"));
    let refusal = invoke_with(&window, "change_data_dir", json!({ "path": busy.path() }))
        .expect_err("the data folder moved into a folder holding other files");
    assert_eq!(refusal["kind"], "invalid_input");
    assert!(refusal["message"].as_str().unwrap_or_default().contains("is not empty"), "{refusal}");
    let inside = dir.path().join("inside");
    let refusal = invoke_with(&window, "change_data_dir", json!({ "path": inside }))
        .expect_err("the data folder moved into itself");
    assert!(refusal["message"].as_str().unwrap_or_default().contains("contain one another"), "{refusal}");

    let state = AppState::located(dir.path(), quire_core::paths::DataDirSource::Environment);
    let app = match crate::build(mock_builder(), state).build(crate::context()) {
        Ok(app) => app,
        Err(error) => panic!("{error}"),
    };
    let empty = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let refusal = invoke_with(&main_window(&app), "change_data_dir", json!({ "path": empty.path() }))
        .expect_err("the data folder moved although QUIRE_DATA_DIR sets it");
    assert!(refusal["message"].as_str().unwrap_or_default().contains("QUIRE_DATA_DIR"), "{refusal}");
}

#[test]
fn watching_refuses_files_and_unknown_folders_and_syncing_nothing_queues_nothing() {
    let (dir, _app, window) = temp_app();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, b"notes").unwrap_or_else(|e| panic!("{e}"));

    let refusal = invoke_with(&window, "watch_folder", json!({ "path": file, "collection": null }))
        .expect_err("a file was watched");
    assert_eq!(refusal["kind"], "invalid_input");
    assert!(refusal["message"].as_str().unwrap_or_default().contains("not a folder"), "{refusal}");
    let refusal = invoke_with(&window, "unwatch_folder", json!({ "path": dir.path() }))
        .expect_err("a folder that is not watched was unwatched");
    assert!(refusal["message"].as_str().unwrap_or_default().contains("is not a watched folder"), "{refusal}");
    assert_eq!(invoke(&window, "sync_watched").unwrap_or_else(|e| panic!("sync_watched: {e}")), json!([]));
    assert!(!dir.path().join("watched.json").exists(), "nothing was watched, so nothing is written");
}

#[test]
fn settings_are_validated_saved_and_read_back() {
    let (dir, _app, window) = temp_app();
    let mut settings = invoke(&window, "get_settings").unwrap_or_else(|e| panic!("get_settings: {e}"));
    assert_eq!(settings["appearance"]["theme"], "system");
    assert_eq!(settings["runtime"]["gpu_layers"], "none");

    settings["generation"]["temperature"] = json!(5.0);
    settings["retrieval"]["top_k"] = json!(0);
    let refusal = invoke_with(&window, "save_settings", json!({ "settings": settings.clone() }))
        .expect_err("invalid settings were saved");
    assert_eq!(refusal["kind"], "invalid_input");
    let message = refusal["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Temperature must be between 0 and 2") && message.contains("Passages per answer"),
        "{message}"
    );
    assert!(!dir.path().join("settings.json").exists(), "nothing is written for invalid settings");

    settings["generation"]["temperature"] = json!(0.3);
    settings["retrieval"]["top_k"] = json!(6);
    settings["appearance"]["theme"] = json!("dark");
    let saved = invoke_with(&window, "save_settings", json!({ "settings": settings.clone() }))
        .unwrap_or_else(|e| panic!("save_settings: {e}"));
    assert_eq!(saved["reindexing"], false, "only chunking changes re-index");
    assert_eq!(invoke(&window, "get_settings").unwrap_or_else(|e| panic!("{e}")), settings);
    let on_disk: Value = serde_json::from_slice(&std::fs::read(dir.path().join("settings.json")).unwrap_or_default())
        .unwrap_or_else(|e| panic!("settings.json: {e}"));
    assert_eq!(on_disk["appearance"]["theme"], "dark");
}

#[test]
fn conversations_are_created_scoped_renamed_exported_and_deleted() {
    let (dir, _app, window) = temp_app();
    let scope = json!({ "kind": "collection", "name": "manuals" });
    let created = invoke_with(&window, "create_conversation", json!({ "title": "", "scope": scope }))
        .unwrap_or_else(|e| panic!("create_conversation: {e}"));
    let id = created["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(created["title"], "New conversation");
    assert_eq!(created["scope"], scope);

    let renamed = invoke_with(&window, "rename_conversation", json!({ "id": id, "title": "  Pinning   packages " }))
        .unwrap_or_else(|e| panic!("rename_conversation: {e}"));
    assert_eq!(renamed["title"], "Pinning packages");
    let rescoped = invoke_with(
        &window,
        "set_conversation_scope",
        json!({ "id": id, "scope": { "kind": "path", "path": "/docs/guide.pdf" } }),
    )
    .unwrap_or_else(|e| panic!("set_conversation_scope: {e}"));
    assert_eq!(rescoped["scope"]["path"], "/docs/guide.pdf");

    let list = invoke(&window, "list_conversations").unwrap_or_else(|e| panic!("list_conversations: {e}"));
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["title"], "Pinning packages");

    let out = dir.path().join("export.md");
    invoke_with(&window, "export_conversation", json!({ "id": id, "format": "markdown", "path": out }))
        .unwrap_or_else(|e| panic!("export_conversation: {e}"));
    assert!(std::fs::read_to_string(&out).unwrap_or_default().starts_with("# Pinning packages"));

    invoke_with(&window, "delete_conversation", json!({ "id": id })).unwrap_or_else(|e| panic!("delete: {e}"));
    let gone = invoke_with(&window, "get_conversation", json!({ "id": id })).expect_err("a deleted conversation");
    assert_eq!(gone["kind"], "invalid_input");
    let hostile = invoke_with(&window, "get_conversation", json!({ "id": "../settings" })).expect_err("a path as id");
    assert_eq!(hostile["kind"], "invalid_input");
}

/// A data folder whose indexing is paused (nothing queued runs), with `docs/` in it watched.
fn watched_docs() -> (tempfile::TempDir, App<MockRuntime>, WebviewWindow<MockRuntime>, PathBuf) {
    let (dir, app, window) = temp_app();
    invoke_with(&window, "pause_indexing", json!({ "paused": true })).unwrap_or_else(|e| panic!("pause: {e}"));
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap_or_else(|e| panic!("{e}"));
    let mut watched = WatchedFolders::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    watched.add(&docs, Some("Notes"), 1).unwrap_or_else(|e| panic!("{e}"));
    watched.save().unwrap_or_else(|e| panic!("{e}"));
    (dir, app, window, docs)
}

fn watched_json(dir: &tempfile::TempDir) -> Value {
    let text = std::fs::read_to_string(dir.path().join("watched.json")).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn set_watch_rules_saves_trimmed_patterns_and_queues_a_sync_of_the_folder() {
    let (dir, _app, window, docs) = watched_docs();
    let rules = json!({
        "path": docs,
        "include": ["  *.md ", "", "notes/**"],
        "exclude": ["drafts/**", "   "],
        "maxBytes": 20_000_000u64,
    });
    let folder = invoke_with(&window, "set_watch_rules", rules).unwrap_or_else(|e| panic!("set_watch_rules: {e}"));
    assert_eq!(folder["include"], json!(["*.md", "notes/**"]));
    assert_eq!(folder["exclude"], json!(["drafts/**"]));
    assert_eq!(folder["max_bytes"], 20_000_000u64);
    assert_eq!(folder["collection"], "Notes", "the folder lost its collection");
    assert_eq!(watched_json(&dir)["folders"][0], folder);

    let queue = invoke(&window, "queue_state").unwrap_or_else(|e| panic!("queue_state: {e}"));
    let jobs = queue["jobs"].as_array().cloned().unwrap_or_default();
    assert!(jobs.iter().any(|j| j.to_string().contains("rules changed")), "no sync was queued: {queue}");

    // Clearing the rules: the folder includes everything again.
    let clear = json!({ "path": docs, "include": [], "exclude": [], "maxBytes": null });
    let folder = invoke_with(&window, "set_watch_rules", clear).unwrap_or_else(|e| panic!("set_watch_rules: {e}"));
    assert_eq!((folder.get("include"), folder.get("max_bytes")), (None, None), "{folder}");
    assert_eq!(watched_json(&dir)["folders"][0], folder);
}

#[test]
fn set_watch_rules_refuses_bad_globs_a_zero_limit_and_unwatched_folders_and_saves_nothing() {
    let (dir, _app, window, docs) = watched_docs();
    let before = watched_json(&dir);
    let message = |refusal: Value| {
        assert_eq!(refusal["kind"], "invalid_input", "{refusal}");
        refusal["message"].as_str().unwrap_or_default().to_string()
    };

    let bad = json!({ "path": docs, "include": [], "exclude": ["ok/**", "[unclosed"], "maxBytes": null });
    let text = message(invoke_with(&window, "set_watch_rules", bad).expect_err("an invalid glob was saved"));
    assert!(text.contains("[unclosed") && text.contains("not a valid glob"), "{text}");

    let zero = json!({ "path": docs, "include": [], "exclude": [], "maxBytes": 0 });
    let text = message(invoke_with(&window, "set_watch_rules", zero).expect_err("a zero limit was saved"));
    assert!(text.contains("more than 0"), "{text}");

    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap_or_else(|e| panic!("{e}"));
    let unwatched = json!({ "path": other, "include": ["*.md"], "exclude": [], "maxBytes": null });
    let text = message(invoke_with(&window, "set_watch_rules", unwatched).expect_err("an unwatched folder"));
    assert!(text.contains("is not a watched folder"), "{text}");

    assert_eq!(watched_json(&dir), before, "a refused change was saved");
    let queue = invoke(&window, "queue_state").unwrap_or_else(|e| panic!("queue_state: {e}"));
    assert_eq!(queue["jobs"], json!([]), "a refused change queued a sync");
}

/// A loopback stand-in for an OpenAI-compatible embedding server (each text's vector counts its letters), so
/// the library opens and embeds without a model file. Returns its base URL.
pub(crate) fn embedding_server(runtime: &tokio::runtime::Runtime) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener =
        runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
    runtime.spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 8192];
                let body = loop {
                    let Ok(n) = socket.read(&mut buf).await else { return };
                    if n == 0 {
                        return;
                    }
                    data.extend_from_slice(&buf[..n]);
                    let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4) else { continue };
                    let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse::<usize>().ok()))
                        .unwrap_or(0);
                    if data.len() >= end + length {
                        break serde_json::from_slice::<Value>(&data[end..end + length]).unwrap_or(Value::Null);
                    }
                };
                let inputs: Vec<String> = serde_json::from_value(body["input"].clone()).unwrap_or_default();
                let data: Vec<Value> = inputs
                    .iter()
                    .enumerate()
                    .map(|(i, text)| {
                        let mut v = vec![0.0f32; 26];
                        for c in text.to_lowercase().chars().filter(char::is_ascii_lowercase) {
                            v[(c as u8 - b'a') as usize] += 1.0;
                        }
                        json!({ "object": "embedding", "index": i, "embedding": v })
                    })
                    .collect();
                let body = json!({ "object": "list", "data": data }).to_string();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/v1")
}

#[test]
fn after_set_watch_rules_the_queued_sync_removes_the_documents_now_excluded() {
    use quire_core::settings::Settings;
    use quire_core::{Block, BlockKind, ExtractedDoc, Format};
    use tauri::Manager;

    let runtime = crate::tests_remote::runtime();
    let base = embedding_server(&runtime);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut settings = serde_json::to_value(Settings::default()).unwrap_or_else(|e| panic!("{e}"));
    settings["remote"]["embedding"] = json!({ "base_url": base, "model": "letters" });
    let settings: Settings = serde_json::from_value(settings).unwrap_or_else(|e| panic!("{e}"));
    settings.save(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let app = app(&dir.path().to_string_lossy());
    let window = main_window(&app);
    // The mock runtime runs no setup hook: the indexing queue's runner is started as the app's setup does.
    crate::imports::start_runner(app.handle());

    // A watched folder with a text file and a Markdown file, both in the library. (They are indexed as their
    // extracted text, which is the files' whole content, so the sync finds them unchanged and needs no parser.)
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap_or_else(|e| panic!("{e}"));
    let docs = std::fs::canonicalize(&docs).unwrap_or_else(|e| panic!("{e}"));
    let state = app.state::<AppState>();
    let core = runtime.block_on(state.core()).unwrap_or_else(|e| panic!("open the library: {e}"));
    let files = [("a.txt", Format::Text, "alpha notes about apples"), ("b.md", Format::Markdown, "bravo notes")];
    for (name, format, text) in files {
        let path = docs.join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let block = Block { kind: BlockKind::Text, text: text.into(), page: None };
        let doc = ExtractedDoc { format, title: None, pages: None, blocks: vec![block] };
        runtime
            .block_on(core.library.ingest_extracted(&path.display().to_string(), &doc))
            .unwrap_or_else(|e| panic!("ingest {name}: {e}"));
    }
    drop(core);
    let mut watched = WatchedFolders::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    watched.add(&docs, None, 1).unwrap_or_else(|e| panic!("{e}"));
    watched.save().unwrap_or_else(|e| panic!("{e}"));

    let rules = json!({ "path": docs, "include": [], "exclude": ["*.md"], "maxBytes": null });
    invoke_with(&window, "set_watch_rules", rules).unwrap_or_else(|e| panic!("set_watch_rules: {e}"));

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let queue = invoke(&window, "queue_state").unwrap_or_else(|e| panic!("queue_state: {e}"));
        if queue["jobs"] == json!([]) && queue["running"].is_null() {
            assert_eq!(queue["given_up"], json!([]), "{queue}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the sync did not end: {queue}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let overview = invoke(&window, "library_overview").unwrap_or_else(|e| panic!("library_overview: {e}"));
    let documents = overview["documents"].as_array().cloned().unwrap_or_default();
    let paths: Vec<&str> = documents.iter().filter_map(|d| d["path"].as_str()).collect();
    assert_eq!(paths, vec![docs.join("a.txt").display().to_string()], "{overview}");
    assert_eq!(documents[0]["status"], "indexed", "{overview}");
}

#[test]
fn cancelling_nothing_is_harmless_and_an_empty_import_is_refused() {
    let (_dir, _app, window) = temp_app();
    invoke_with(&window, "cancel_answer", json!({ "requestId": "nothing-running" }))
        .unwrap_or_else(|e| panic!("cancel_answer: {e}"));
    let refusal = invoke_with(&window, "import_paths", json!({ "paths": [], "collection": null }))
        .expect_err("an empty import was queued");
    assert_eq!(refusal["kind"], "invalid_input");
}

#[test]
fn the_indexing_queue_and_its_pause_outlive_the_app() {
    let (dir, app, window) = temp_app();
    invoke_with(&window, "pause_indexing", json!({ "paused": true })).unwrap_or_else(|e| panic!("pause: {e}"));
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, b"notes").unwrap_or_else(|e| panic!("{e}"));
    let id = invoke_with(&window, "import_paths", json!({ "paths": [notes], "collection": "Notes" }))
        .unwrap_or_else(|e| panic!("import_paths: {e}"));
    let queue = invoke(&window, "queue_state").unwrap_or_else(|e| panic!("queue_state: {e}"));
    assert_eq!(queue["paused"], true);
    assert_eq!(queue["running"], Value::Null, "a job ran while paused");
    assert_eq!(queue["jobs"][0]["id"], id);
    assert_eq!(queue["jobs"][0]["kind"], "import");
    assert_eq!(queue["jobs"][0]["priority"], "user");
    assert_eq!(queue["jobs"][0]["collection"], "Notes");
    crate::on_exit(app.handle());
    drop(window);
    drop(app);

    // The next start (after a crash as after a quit) finds the job and the pause.
    let app = self::app(&dir.path().to_string_lossy());
    let window = main_window(&app);
    let queue = invoke(&window, "queue_state").unwrap_or_else(|e| panic!("queue_state: {e}"));
    assert_eq!(queue["paused"], true);
    assert_eq!(queue["jobs"].as_array().map(Vec::len), Some(1));
    assert_eq!(queue["jobs"][0]["id"], id);

    invoke(&window, "cancel_imports").unwrap_or_else(|e| panic!("cancel_imports: {e}"));
    let queue = invoke(&window, "queue_state").unwrap_or_else(|e| panic!("queue_state: {e}"));
    assert_eq!(queue["jobs"], json!([]));
    let refusal = invoke_with(&window, "retry_documents", json!({ "paths": [] })).expect_err("an empty retry");
    assert_eq!(refusal["kind"], "invalid_input");
    invoke_with(&window, "settle_given_up", json!({ "retry": true })).unwrap_or_else(|e| panic!("settle: {e}"));
    invoke_with(&window, "pause_indexing", json!({ "paused": false })).unwrap_or_else(|e| panic!("resume: {e}"));
    let queue = invoke(&window, "queue_state").unwrap_or_else(|e| panic!("queue_state: {e}"));
    assert_eq!(queue["paused"], false);
}

#[test]
fn installed_models_are_listed_with_their_metadata_and_the_starters_are_the_defaults() {
    let (_dir, _app, window) = temp_app();
    let list = invoke(&window, "list_models").unwrap_or_else(|e| panic!("list_models: {e}"));
    let models = list["models"].as_array().cloned().unwrap_or_default();
    let find = |name: &str| models.iter().find(|m| m["file_name"] == name).cloned();
    let chat = find("SmolLM2-135M-Instruct.Q4_1.gguf").unwrap_or_else(|| panic!("no starter chat model in {list}"));
    assert_eq!((chat["role"].as_str(), chat["architecture"].as_str()), (Some("chat"), Some("llama")));
    assert_eq!(chat["quantization"], "Q4_1");
    assert_eq!(chat["is_default"], true);
    assert_eq!(chat["loaded"], false, "nothing is loaded before the first question");
    let embed = find("all-MiniLM-L6-v2.q8_0.gguf").unwrap_or_else(|| panic!("no starter embedding model in {list}"));
    assert_eq!((embed["role"].as_str(), embed["is_default"].as_bool()), (Some("embedding"), Some(true)));
    assert!(embed["context_length"].as_u64().is_some_and(|n| n >= 256), "{embed}");

    // Each model's fit on this machine (a CPU build: CPU only), and the starters together.
    assert_eq!(chat["fit"]["placement"], "cpu", "{chat}");
    let chat_bytes = &chat["fit"]["estimate"]["total"];
    assert!(chat_bytes["cpu"].as_u64().is_some_and(|b| b > 100 << 20), "the chat model's memory: {chat_bytes}");
    assert_eq!(embed["fit"]["placement"], "cpu", "{embed}");
    assert_eq!(list["together"]["fits"], true, "{list}");
    assert_eq!(list["together"]["models"].as_array().map(|m| m.len() >= 2), Some(true), "{list}");
    assert!(list["machine"]["ram"].as_str().is_some_and(|r| !r.is_empty()), "{list}");
}
