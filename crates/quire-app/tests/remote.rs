//! A library opened with remote endpoints in its settings, against a small OpenAI-compatible server on loopback:
//! documents are embedded there (no local embedding model is loaded: the worker program does not even exist),
//! answers are written there, a remote model's vectors go to a table of their own, and the API key comes from
//! the keychain (in a private Secret Service, as crates/quire-keys' tests start one).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use quire_app::{OpenOptions, Opened};
use quire_core::answer::AnswerEvent;
use quire_core::conversation::Scope;
use quire_core::library::DocOutcome;
use quire_core::settings::{RemoteEndpoint, Settings};
use quire_core::{Block, BlockKind, ExtractedDoc, Format};
use quire_keys::Keychain;
use quire_llm::RemoteOptions;

/// What the fake server saw.
#[derive(Default)]
struct Seen {
    embeddings: AtomicUsize,
    chats: AtomicUsize,
}

/// A fake OpenAI-compatible server that wants `key` (None: no key); returns its base URL.
async fn serve(key: Option<&'static str>, seen: Arc<Seen>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            tokio::spawn(handle(socket, key, Arc::clone(&seen)));
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

/// A bag-of-letters vector: texts sharing words point the same way.
fn fake_vector(text: &str) -> Vec<f32> {
    let mut v = vec![0.0f32; 26];
    for c in text.to_lowercase().chars().filter(char::is_ascii_lowercase) {
        v[(c as u8 - b'a') as usize] += 1.0;
    }
    v
}

/// The answer the fake chat model streams, piece by piece.
const PIECES: [&str; 4] = ["The kettle ", "boils at ", "ninety degrees", " [1]."];

async fn handle(mut socket: TcpStream, key: Option<&'static str>, seen: Arc<Seen>) {
    let Some((path, head, body)) = read_request(&mut socket).await else { return };
    let auth = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("authorization").then(|| value.trim().to_string())
    });
    if let Some(key) = key
        && auth.as_deref() != Some(&format!("Bearer {key}"))
    {
        let error = r#"{"error":{"message":"Incorrect API key provided"}}"#;
        return respond(&mut socket, "401 Unauthorized", error).await;
    }
    match path.as_str() {
        "/v1/embeddings" => {
            seen.embeddings.fetch_add(1, Ordering::SeqCst);
            let inputs: Vec<String> = serde_json::from_value(body["input"].clone()).unwrap_or_default();
            let data: Vec<Value> = inputs
                .iter()
                .enumerate()
                .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": fake_vector(t)}))
                .collect();
            respond(&mut socket, "200 OK", &json!({"object": "list", "data": data}).to_string()).await;
        }
        "/v1/chat/completions" => {
            seen.chats.fetch_add(1, Ordering::SeqCst);
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

fn endpoint(base: &str, model: &str) -> RemoteEndpoint {
    RemoteEndpoint { base_url: format!("{base}/v1"), model: model.to_string() }
}

/// Options for `dir` with remote endpoints; the worker program does not exist, so any local model would fail.
fn options(dir: &Path, settings: &Settings, keychain: Keychain) -> OpenOptions {
    let mut options = OpenOptions::new(Some(dir.to_path_buf())).expect("options");
    options.apply_settings(settings);
    options.worker_program = dir.join("no-such-worker-program");
    options.rerank_model = Some(dir.join("no-reranker.gguf"));
    options.keychain = keychain;
    options.remote_options =
        RemoteOptions { connect_timeout: Duration::from_secs(5), timeout: Duration::from_secs(10) };
    options
}

fn kettle() -> ExtractedDoc {
    ExtractedDoc {
        format: Format::Text,
        title: Some("Kettle".into()),
        pages: None,
        blocks: vec![Block {
            kind: BlockKind::Text,
            text: "The kettle boils water at ninety degrees on the mountain hut.".into(),
            page: None,
        }],
    }
}

async fn ask(opened: &Opened) -> (quire_core::answer::Answer, Vec<String>) {
    let conversations = opened.conversations().expect("conversations");
    let conversation = conversations.create_in("", Scope::Library).expect("create");
    let mut tokens = Vec::new();
    let cancel = AtomicBool::new(false);
    let (_, answer) = opened
        .ask_in(&conversation.id, "At what temperature does the kettle boil?", false, &cancel, &mut |event| {
            if let AnswerEvent::Token { text } = event {
                tokens.push(text);
            }
        })
        .await
        .expect("ask");
    (answer, tokens)
}

#[tokio::test]
async fn remote_embedding_and_chat_answer_without_any_local_model() {
    let seen = Arc::new(Seen::default());
    let base = serve(None, Arc::clone(&seen)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = Settings::default();
    settings.remote.embedding = Some(endpoint(&base, "embed-a"));
    settings.remote.chat = Some(endpoint(&base, "chat-a"));
    let opened = quire_app::open(&options(dir.path(), &settings, Keychain::new("Quire-test-none")))
        .await
        .expect("open with remote endpoints");
    let info = opened.library.embedder().info().clone();
    assert_eq!(info.model_id, format!("remote:embed-a@{base}"));
    assert_eq!(info.dim, 26);
    assert_eq!(opened.models.starts(), 0, "the model worker was started although no local model is used");

    let outcome = opened.library.ingest_extracted("/docs/kettle.txt", &kettle()).await.expect("ingest");
    assert!(matches!(outcome, DocOutcome::Indexed { .. }), "{outcome:?}");
    let (answer, tokens) = ask(&opened).await;
    assert_eq!(tokens.concat(), PIECES.concat(), "the answer streamed is not the remote's");
    assert!(answer.text.starts_with("The kettle boils at ninety degrees"), "{}", answer.text);
    assert_eq!(answer.model, "remote:chat-a");
    assert_eq!(answer.sources.len(), 1);
    assert_eq!(answer.citations.len(), 1, "{:?}", answer.citations);
    assert!(seen.chats.load(Ordering::SeqCst) >= 1);
    assert_eq!(opened.models.starts(), 0, "the model worker was started for a remote answer");
    assert_eq!(opened.documents_of_other_models().await.expect("count"), 0);
    drop(opened);

    // Another remote model: its vectors go to a table of their own, so the document is not found there until it
    // is indexed again, and it is counted as indexed with another model.
    settings.remote.embedding = Some(endpoint(&base, "embed-b"));
    let other = quire_app::open(&options(dir.path(), &settings, Keychain::new("Quire-test-none"))).await.expect("open");
    assert_eq!(other.documents_of_other_models().await.expect("count"), 1);
    let hits = other.library.search("kettle", 5, Default::default(), &Default::default()).await.expect("search");
    assert!(hits.is_empty(), "vectors of another model were searched: {hits:?}");
    other.library.ingest_extracted("/docs/kettle.txt", &kettle()).await.expect("ingest again");
    assert_eq!(other.documents_of_other_models().await.expect("count"), 0);
    let hits = other.library.search("kettle", 5, Default::default(), &Default::default()).await.expect("search");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].chunk.embedding_model, format!("remote:embed-b@{base}"));
}

#[tokio::test]
async fn a_server_that_wants_a_key_refuses_the_library_without_one_in_words() {
    let seen = Arc::new(Seen::default());
    let base = serve(Some("sk-app-test"), Arc::clone(&seen)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = Settings::default();
    settings.remote.embedding = Some(endpoint(&base, "embed-a"));
    let error = quire_app::open(&options(dir.path(), &settings, Keychain::new("Quire-test-none")))
        .await
        .err()
        .expect("opened without the key");
    assert!(error.to_string().contains("refused the API key (HTTP 401)"), "{error}");
}

// The keychain, in a private Secret Service ------------------------------------------------------------------

const INSIDE: &str = "QUIRE_APP_KEYS_TEST_INSIDE";

fn have(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// Runs the test `name` of this binary again inside a private D-Bus session with an unlocked gnome-keyring in a
/// temporary home (as crates/quire-keys/tests/secret_service.rs does); false when the tools are missing.
fn run_inside(name: &str) -> bool {
    for program in ["dbus-run-session", "gnome-keyring-daemon"] {
        if !have(program) {
            eprintln!(
                "\n!!!!! SKIPPED {name}: `{program}` is not installed, so no Secret Service can be started \
                 (scripts/setup.sh installs gnome-keyring and dbus-x11) !!!!!\n"
            );
            return false;
        }
    }
    let home = tempfile::tempdir().expect("tempdir");
    let run = home.path().join("run");
    std::fs::create_dir_all(&run).expect("mkdir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    let exe = std::env::current_exe().expect("exe");
    let dir = |p: &Path| p.display().to_string();
    let output = Command::new("dbus-run-session")
        .args([
            "--",
            "sh",
            "-c",
            "echo -n quire-test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null && \
             exec \"$0\" --exact \"$1\" --nocapture --test-threads=1",
        ])
        .arg(&exe)
        .arg(name)
        .env(INSIDE, "1")
        .env("HOME", dir(home.path()))
        .env("XDG_DATA_HOME", dir(&home.path().join("data")))
        .env("XDG_CONFIG_HOME", dir(&home.path().join("config")))
        .env("XDG_RUNTIME_DIR", dir(&run))
        .env_remove("QUIRE_EMBEDDING_API_KEY")
        .env_remove("QUIRE_CHAT_API_KEY")
        .output()
        .expect("start the test again");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains("1 passed"), "the test inside the session failed:\n{text}");
    true
}

#[tokio::test]
async fn the_key_saved_in_the_keychain_for_the_server_is_sent_to_it() {
    if std::env::var_os(INSIDE).is_none() {
        run_inside("the_key_saved_in_the_keychain_for_the_server_is_sent_to_it");
        return;
    }
    let seen = Arc::new(Seen::default());
    let base = serve(Some("sk-app-test"), Arc::clone(&seen)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let keychain = Keychain::new("Quire-app-test");
    let mut settings = Settings::default();
    settings.remote.embedding = Some(endpoint(&base, "embed-a"));
    settings.remote.chat = Some(endpoint(&base, "chat-a"));
    let options = options(dir.path(), &settings, keychain.clone());

    // A key saved for another role does not open the embedding server.
    let chat = settings.remote.chat.clone().expect("chat");
    keychain.set(&quire_keys::account("chat", &chat), "sk-app-test").expect("save the chat key");
    let error = quire_app::open(&options).await.err().expect("opened with the chat role's key");
    assert!(error.to_string().contains("HTTP 401"), "{error}");

    let embedding = settings.remote.embedding.clone().expect("embedding");
    keychain.set(&quire_keys::account("embedding", &embedding), "sk-app-test").expect("save the key");
    let opened = quire_app::open(&options).await.expect("open with the key from the keychain");
    opened.library.ingest_extracted("/docs/kettle.txt", &kettle()).await.expect("ingest");
    let (answer, _) = ask(&opened).await;
    assert!(answer.text.starts_with("The kettle boils"), "{}", answer.text);

    // The chat key removed: the next answer is refused by the server, in words.
    keychain.delete(&quire_keys::account("chat", &chat)).expect("delete");
    let conversation = opened.conversations().expect("store").create_in("", Scope::Library).expect("create");
    let cancel = AtomicBool::new(false);
    let error = opened.ask_in(&conversation.id, "Kettle?", false, &cancel, &mut |_| {}).await.expect_err("no key");
    assert!(error.to_string().contains("refused the API key"), "{error}");
}
