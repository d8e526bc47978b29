//! Remote endpoints through the shell, on Tauri's mock runtime, against a small OpenAI-compatible server on
//! loopback: settings with a remote chat (and embedding) server make `ask` stream the server's tokens; the
//! connection test says in words what is wrong; API keys go to the keychain only — a private Secret Service
//! (gnome-keyring in `dbus-run-session`, as crates/quire-keys' tests start one), or none at all.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, Channel, InvokeBody, InvokeResponseBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::{InvokeRequest, WebviewWindowBuilder};
use tauri::{App, Manager, WebviewWindow};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use quire_core::{Block, BlockKind, ExtractedDoc, Format};
use quire_keys::Keychain;

use crate::AppState;

const KEY: &str = "sk-shell-test";
const PIECES: [&str; 4] = ["The kettle ", "boils at ", "ninety degrees", " [1]."];

/// A fake OpenAI-compatible server; models named `keyed…` want [`KEY`], `missing` is not served.
fn serve(runtime: &tokio::runtime::Runtime) -> String {
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
    runtime.spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            tokio::spawn(handle(socket));
        }
    });
    format!("http://{addr}")
}

async fn read_request(socket: &mut TcpStream) -> Option<(String, String, Value)> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let header_end = loop {
        let n = socket.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..header_end]).to_string();
    let length = head
        .lines()
        .find_map(|l| l.to_lowercase().strip_prefix("content-length:").and_then(|v| v.trim().parse::<usize>().ok()))
        .unwrap_or(0);
    while data.len() < header_end + length {
        let n = socket.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let path = head.split_whitespace().nth(1).unwrap_or_default().to_string();
    let body = serde_json::from_slice(&data[header_end..header_end + length]).unwrap_or(Value::Null);
    Some((path, head, body))
}

async fn respond(socket: &mut TcpStream, status: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = socket.write_all(head.as_bytes()).await;
    let _ = socket.write_all(body.as_bytes()).await;
}

fn fake_vector(text: &str) -> Vec<f32> {
    let mut v = vec![0.0f32; 26];
    for c in text.to_lowercase().chars().filter(char::is_ascii_lowercase) {
        v[(c as u8 - b'a') as usize] += 1.0;
    }
    v
}

async fn handle(mut socket: TcpStream) {
    let Some((path, head, body)) = read_request(&mut socket).await else { return };
    let model = body.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
    let auth = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("authorization").then(|| value.trim().to_string())
    });
    if model.starts_with("keyed") && auth.as_deref() != Some(&format!("Bearer {KEY}")) {
        let error = r#"{"error":{"message":"Incorrect API key provided"}}"#;
        return respond(&mut socket, "401 Unauthorized", error).await;
    }
    if model == "missing" {
        return respond(&mut socket, "404 Not Found", r#"{"error":{"message":"model 'missing' not found"}}"#).await;
    }
    match path.as_str() {
        "/v1/embeddings" => {
            let inputs: Vec<String> = serde_json::from_value(body["input"].clone()).unwrap_or_default();
            let data: Vec<Value> = inputs
                .iter()
                .enumerate()
                .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": fake_vector(t)}))
                .collect();
            respond(&mut socket, "200 OK", &json!({"object": "list", "data": data}).to_string()).await;
        }
        "/v1/chat/completions" => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
            let _ = socket.write_all(head.as_bytes()).await;
            for (i, piece) in PIECES.iter().enumerate() {
                let finish = if i + 1 == PIECES.len() { json!("stop") } else { Value::Null };
                let chunk = json!({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": finish}]});
                let _ = socket.write_all(format!("data: {chunk}\n\n").as_bytes()).await;
                let _ = socket.flush().await;
            }
            let _ = socket.write_all(b"data: [DONE]\n\n").await;
        }
        _ => respond(&mut socket, "404 Not Found", r#"{"error":{"message":"no such route"}}"#).await,
    }
}

/// A runtime for the async parts of a test (the app's commands run on tauri's own).
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn app(data_dir: &Path, keychain: &str) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let state = AppState::new(data_dir).with_keychain(Keychain::new(keychain));
    let app = crate::build(mock_builder(), state).build(crate::context()).unwrap_or_else(|e| panic!("app: {e}"));
    let config = app.config().app.windows.iter().find(|w| w.label == "main").cloned();
    let config = config.unwrap_or_else(|| panic!("tauri.conf.json declares no `main` window"));
    let window = WebviewWindowBuilder::from_config(&app, &config)
        .and_then(|b| b.build())
        .unwrap_or_else(|e| panic!("window: {e}"));
    (app, window)
}

fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
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

fn endpoint(base: &str, model: &str) -> Value {
    json!({ "base_url": format!("{base}/v1"), "model": model })
}

/// Saves settings with these remote endpoints through `save_settings`, as the window does.
fn save_remotes(window: &WebviewWindow<MockRuntime>, chat: Value, embedding: Value) -> Value {
    let mut settings = invoke(window, "get_settings", json!({})).unwrap_or_else(|e| panic!("get_settings: {e}"));
    settings["remote"] = json!({ "chat": chat, "embedding": embedding });
    invoke(window, "save_settings", json!({ "settings": settings })).unwrap_or_else(|e| panic!("save_settings: {e}"))
}

#[test]
fn with_a_remote_chat_server_ask_streams_its_tokens() {
    let runtime = runtime();
    let base = serve(&runtime);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (app, window) = app(dir.path(), "Quire-shell-test-none");

    // An address that is not a URL is refused with the validator's sentence, and nothing is saved.
    let mut settings = invoke(&window, "get_settings", json!({})).unwrap_or_else(|e| panic!("{e}"));
    settings["remote"]["chat"] = json!({ "base_url": "localhost:8080", "model": "m" });
    let refusal = invoke(&window, "save_settings", json!({ "settings": settings })).expect_err("a bad address saved");
    assert!(refusal["message"].as_str().unwrap_or_default().contains("must start with http://"), "{refusal}");

    let saved = save_remotes(&window, endpoint(&base, "chat-a"), endpoint(&base, "embed-a"));
    assert_eq!(saved["settings"]["remote"]["chat"]["model"], "chat-a");
    let on_disk = std::fs::read_to_string(dir.path().join("settings.json")).unwrap_or_default();
    assert!(on_disk.contains("chat-a") && !on_disk.contains("sk-"), "{on_disk}");

    // A document embedded by the remote server (no extract worker is needed for an extracted document).
    let state = app.state::<AppState>();
    let core = runtime.block_on(state.core()).unwrap_or_else(|e| panic!("open with remote servers: {e}"));
    assert_eq!(core.library.embedder().info().model_id, format!("remote:embed-a@{base}"));
    let doc = ExtractedDoc {
        format: Format::Text,
        title: Some("Kettle".into()),
        pages: None,
        blocks: vec![Block {
            kind: BlockKind::Text,
            text: "The kettle boils water at ninety degrees on the mountain hut.".into(),
            page: None,
        }],
    };
    runtime.block_on(core.library.ingest_extracted("/docs/kettle.txt", &doc)).unwrap_or_else(|e| panic!("{e}"));

    let conversation = invoke(&window, "create_conversation", json!({ "title": "", "scope": { "kind": "library" } }))
        .unwrap_or_else(|e| panic!("create_conversation: {e}"));
    let id = conversation["id"].as_str().unwrap_or_default().to_string();
    let events: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = Arc::clone(&events);
    let channel = Channel::new(move |body: InvokeResponseBody| {
        if let InvokeResponseBody::Json(text) = body
            && let Ok(value) = serde_json::from_str::<Value>(&text)
            && let Ok(mut events) = sink.lock()
        {
            events.push(value);
        }
        Ok(())
    });
    let request: crate::commands::AskRequest = serde_json::from_value(json!({
        "request_id": "r1",
        "conversation_id": id,
        "question": "At what temperature does the kettle boil?",
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let saved = runtime
        .block_on(crate::commands::ask(app.state::<AppState>(), request, channel))
        .unwrap_or_else(|e| panic!("ask: {e}"));

    let events = events.lock().map(|e| e.clone()).unwrap_or_default();
    let tokens: Vec<&str> = events.iter().filter(|e| e["type"] == "token").filter_map(|e| e["text"].as_str()).collect();
    assert_eq!(tokens.concat(), PIECES.concat(), "the tokens streamed are not the remote's: {events:?}");
    let answer = &saved.messages[1];
    assert!(answer.content.starts_with("The kettle boils at ninety degrees"), "{}", answer.content);
    assert!(crate::state::lock(&state.loaded_chat).is_none(), "a remote answer marked a local chat model loaded");

    // Another embedding model: the library switches to it in the background (its own table, so vectors never
    // mix) and nothing is queued to be indexed again.
    drop(core);
    let saved = save_remotes(&window, endpoint(&base, "chat-a"), endpoint(&base, "embed-b"));
    assert_eq!((saved["switching"].as_bool(), saved["reindexing"].as_bool()), (Some(true), Some(false)), "{saved}");
    assert_eq!(saved["notice"], Value::Null, "{saved}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !invoke(&window, "embedding_switch", json!({})).unwrap_or_else(|e| panic!("{e}")).is_null()
        || quire_core::switch::EmbeddingSwitch::load(dir.path()).unwrap_or_else(|e| panic!("{e}")).is_some()
    {
        assert!(std::time::Instant::now() < deadline, "the switch of embedding model did not end");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let core = runtime.block_on(state.core()).unwrap_or_else(|e| panic!("reopen: {e}"));
    assert_eq!(core.library.embedder().info().model_id, format!("remote:embed-b@{base}"));
    assert_eq!(runtime.block_on(core.documents_of_other_models()).unwrap_or_else(|e| panic!("{e}")), 0);
    let hits = runtime
        .block_on(core.library.search("kettle", 1, Default::default(), &Default::default()))
        .unwrap_or_else(|e| panic!("search: {e}"));
    assert_eq!(hits.first().map(|h| h.chunk.embedding_model.clone()), Some(format!("remote:embed-b@{base}")));
    let queued = invoke(&window, "queue_state", json!({})).unwrap_or_else(|e| panic!("queue_state: {e}"));
    assert_eq!(queued["jobs"], json!([]), "a switch of embedding model queued documents: {queued}");
}

#[test]
fn the_connection_test_says_what_is_wrong_in_words() {
    let runtime = runtime();
    let base = serve(&runtime);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (_app, window) = app(dir.path(), "Quire-shell-test-none");
    let test = |role: &str, endpoint: Value| {
        invoke(&window, "test_remote", json!({ "role": role, "endpoint": endpoint }))
            .unwrap_or_else(|e| panic!("test_remote: {e}"))
    };

    let ok = test("chat", endpoint(&base, "chat-a"));
    assert_eq!((ok["ok"].as_bool(), ok["outcome"].as_str()), (Some(true), Some("reachable")), "{ok}");
    assert!(ok["message"].as_str().unwrap_or_default().contains("without a key"), "{ok}");
    let ok = test("embedding", endpoint(&base, "embed-a"));
    assert!(ok["message"].as_str().unwrap_or_default().contains("26 dimensions"), "{ok}");

    let auth = test("embedding", endpoint(&base, "keyed-embed"));
    assert_eq!((auth["ok"].as_bool(), auth["outcome"].as_str()), (Some(false), Some("auth_failed")), "{auth}");
    assert!(auth["message"].as_str().unwrap_or_default().starts_with("The server refused the key"), "{auth}");
    let model = test("chat", endpoint(&base, "missing"));
    assert_eq!(model["outcome"], "wrong_model", "{model}");
    assert!(model["message"].as_str().unwrap_or_default().contains("does not have this model"), "{model}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = closed.local_addr().unwrap_or_else(|e| panic!("{e}")).port();
    drop(closed);
    let down = test("chat", endpoint(&format!("http://127.0.0.1:{port}"), "chat-a"));
    assert_eq!(down["outcome"], "unreachable", "{down}");
    let invalid = test("chat", json!({ "base_url": "localhost:8080", "model": "m" }));
    assert_eq!(invalid["outcome"], "invalid", "{invalid}");

    // Without an endpoint in the call, the saved one is tested; none saved is said plainly.
    let none = invoke(&window, "test_remote", json!({ "role": "chat" })).expect_err("tested nothing");
    assert!(none["message"].as_str().unwrap_or_default().contains("No remote chat server is saved"), "{none}");
    save_remotes(&window, endpoint(&base, "chat-a"), Value::Null);
    let saved = invoke(&window, "test_remote", json!({ "role": "chat" })).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(saved["ok"], true, "{saved}");
}

// The keychain ---------------------------------------------------------------------------------------------

const INSIDE: &str = "QUIRE_SHELL_KEYS_TEST_INSIDE";

fn have(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// Runs the test `name` of this binary again with `env` in a temporary home, inside a private D-Bus session with
/// an unlocked gnome-keyring when `secret_service` (as crates/quire-keys/tests/secret_service.rs does); false
/// when the tools are missing.
fn run_inside(name: &str, secret_service: bool, env: &[(&str, &str)]) -> bool {
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let run = home.path().join("run");
    std::fs::create_dir_all(&run).unwrap_or_else(|e| panic!("{e}"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap_or_else(|e| panic!("{e}"));
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let name = format!("tests_remote::{name}");
    let mut command = if secret_service {
        for program in ["dbus-run-session", "gnome-keyring-daemon"] {
            if !have(program) {
                eprintln!(
                    "\n!!!!! SKIPPED {name}: `{program}` is not installed, so no Secret Service can be started \
                     (scripts/setup.sh installs gnome-keyring and dbus-x11) !!!!!\n"
                );
                return false;
            }
        }
        let mut c = Command::new("dbus-run-session");
        c.args([
            "--",
            "sh",
            "-c",
            "echo -n quire-test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null && \
             exec \"$0\" --exact \"$1\" --nocapture --test-threads=1",
        ]);
        c.arg(&exe).arg(&name);
        c
    } else {
        let mut c = Command::new(&exe);
        c.args(["--exact", &name, "--nocapture", "--test-threads=1"]);
        c
    };
    let dir = |p: &Path| p.display().to_string();
    command
        .env(INSIDE, "1")
        .env("HOME", dir(home.path()))
        .env("XDG_DATA_HOME", dir(&home.path().join("data")))
        .env("XDG_CONFIG_HOME", dir(&home.path().join("config")))
        .env("XDG_RUNTIME_DIR", dir(&run))
        .env_remove("QUIRE_CHAT_API_KEY")
        .env_remove("QUIRE_EMBEDDING_API_KEY");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().unwrap_or_else(|e| panic!("start the test again: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains("1 passed"), "the test inside the session failed:\n{text}");
    true
}

#[test]
fn a_key_is_saved_in_the_keychain_used_for_its_server_and_removed() {
    if std::env::var_os(INSIDE).is_none() {
        run_inside("a_key_is_saved_in_the_keychain_used_for_its_server_and_removed", true, &[]);
        return;
    }
    let runtime = runtime();
    let base = serve(&runtime);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (_app, window) = app(dir.path(), "Quire-shell-test");
    let call = |cmd: &str, args: Value| invoke(&window, cmd, args).unwrap_or_else(|e| panic!("{cmd}: {e}"));

    let refusal = invoke(&window, "set_api_key", json!({ "role": "embedding", "key": KEY })).expect_err("no endpoint");
    assert!(refusal["message"].as_str().unwrap_or_default().contains("save its address and model first"));
    // Saved before its key: the settings are kept, and the reason the library cannot open is said.
    let saved = save_remotes(&window, endpoint(&base, "keyed-chat"), endpoint(&base, "keyed-embed"));
    assert_eq!(saved["reindexing"], false, "{saved}");
    assert!(saved["notice"].as_str().unwrap_or_default().contains("refused the API key (HTTP 401)"), "{saved}");
    let status = call("api_key_status", json!({ "role": "embedding" }));
    assert_eq!((status["stored"].as_bool(), status["keychain"].as_bool()), (Some(false), Some(true)), "{status}");
    assert_eq!(call("test_remote", json!({ "role": "embedding" }))["outcome"], "auth_failed");

    let status = call("set_api_key", json!({ "role": "embedding", "key": format!("  {KEY}\n") }));
    assert_eq!(status["stored"], true, "{status}");
    assert_eq!(call("api_key_status", json!({ "role": "embedding" }))["stored"], true);
    assert_eq!(call("api_key_status", json!({ "role": "chat" }))["stored"], false, "a key belongs to one role");
    let test = call("test_remote", json!({ "role": "embedding" }));
    assert_eq!(test["outcome"], "reachable", "{test}");
    assert!(test["message"].as_str().unwrap_or_default().contains("with the stored key"), "{test}");
    // The library opens with the key (after a remote embedding server is saved, the next command reopens it).
    invoke(&window, "library_overview", json!({})).unwrap_or_else(|e| panic!("library_overview with the key: {e}"));

    let settings = std::fs::read_to_string(dir.path().join("settings.json")).unwrap_or_default();
    assert!(!settings.contains(KEY), "the key is in settings.json: {settings}");
    let found = Command::new("grep").args(["-r", "-l", KEY]).arg(dir.path()).output();
    assert!(found.is_ok_and(|o| o.stdout.is_empty()), "the key was written in the data folder");

    assert_eq!(call("delete_api_key", json!({ "role": "embedding" }))["stored"], false);
    assert_eq!(call("test_remote", json!({ "role": "embedding" }))["outcome"], "auth_failed");
    let refusal = invoke(&window, "set_api_key", json!({ "role": "chat", "key": "  " })).expect_err("an empty key");
    assert_eq!(refusal["kind"], "keychain", "{refusal}");
}

#[test]
fn without_a_keychain_the_key_is_refused_in_words_and_kept_nowhere() {
    if std::env::var_os(INSIDE).is_none() {
        // A session bus address where nothing listens: no Secret Service.
        run_inside(
            "without_a_keychain_the_key_is_refused_in_words_and_kept_nowhere",
            false,
            &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/quire-test-bus")],
        );
        return;
    }
    let runtime = runtime();
    let base = serve(&runtime);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (_app, window) = app(dir.path(), "Quire-shell-test");
    save_remotes(&window, endpoint(&base, "chat-a"), Value::Null);

    let status = invoke(&window, "api_key_status", json!({ "role": "chat" })).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((status["stored"].as_bool(), status["keychain"].as_bool()), (Some(false), Some(false)), "{status}");
    let refusal = invoke(&window, "set_api_key", json!({ "role": "chat", "key": "sk-never-kept" }))
        .expect_err("a key saved without a keychain");
    assert_eq!(refusal["kind"], "no_keychain", "{refusal}");
    let message = refusal["message"].as_str().unwrap_or_default();
    assert!(message.contains("the key was not saved") && !message.contains("sk-never-kept"), "{message}");
    let home = std::env::var("HOME").unwrap_or_default();
    for place in [home.as_str(), &dir.path().display().to_string()] {
        let found = Command::new("grep").args(["-r", "-l", "sk-never-kept", place]).output();
        assert!(found.is_ok_and(|o| o.stdout.is_empty()), "the key was written under {place}");
    }
    // A server that needs no key still answers.
    let test = invoke(&window, "test_remote", json!({ "role": "chat" })).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(test["ok"], true, "{test}");
}
