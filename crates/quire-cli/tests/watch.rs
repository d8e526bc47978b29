//! Watched folders on real parts: a real folder tree in a temporary directory, the real LanceDB store, the
//! starter embedding model in the model worker (the `quire` binary's worker mode), and the `quire` binary.
//! Every wait is for a condition with a generous deadline; nothing asserts on how long anything took.

mod common;

use common::{embed_model, quire_bin};

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use quire_app::watch::{WatchReport, WatchRunOptions, run_watch};
use quire_core::library::{DocOutcome, Library};
use quire_core::watched::{FolderRules, WatchedFolders};
use quire_core::{Embedder, EmbedderInfo, Embeddings};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(120);

/// The real embedder, counting the calls that embed text.
struct Counting {
    inner: Arc<dyn Embedder>,
    embeds: AtomicUsize,
}

#[async_trait]
impl Embedder for Counting {
    fn info(&self) -> &EmbedderInfo {
        self.inner.info()
    }
    async fn count_tokens(&self, texts: Vec<String>) -> quire_core::Result<Vec<u32>> {
        self.inner.count_tokens(texts).await
    }
    async fn embed(&self, texts: Vec<String>) -> quire_core::Result<Embeddings> {
        self.embeds.fetch_add(1, Ordering::SeqCst);
        self.inner.embed(texts).await
    }
}

async fn open(data: &Path) -> (Library, Arc<Counting>) {
    let mut options = quire_app::OpenOptions::new(Some(data.to_path_buf())).expect("options");
    options.worker_program = quire_bin();
    options.embed_model = Some(embed_model());
    let real = quire_app::open_library(&options).await.expect("library opens");
    let counting = Arc::new(Counting { inner: Arc::clone(real.embedder()), embeds: AtomicUsize::new(0) });
    let library =
        Library::new(Arc::clone(real.store()), counting.clone(), Arc::clone(real.extractor()), real.config().clone());
    (library, counting)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn text(topic: &str) -> String {
    format!("# {topic}\n\nThis note is about {topic}. It explains {topic} in plain words for the test library.\n")
}

type Reports = Arc<Mutex<Vec<WatchReport>>>;

fn documents(reports: &Reports) -> Vec<(String, DocOutcome)> {
    reports
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|r| match r {
            WatchReport::Document { path, outcome } => Some((path.clone(), outcome.clone())),
            _ => None,
        })
        .collect()
}

/// Waits until a report satisfies `check`; returns how many reports there were then.
async fn wait_for(reports: &Reports, what: &str, check: impl Fn(&WatchReport) -> bool) -> usize {
    let started = Instant::now();
    loop {
        // A copy, so that `check` may look at the reports too.
        let all = reports.lock().expect("lock").clone();
        if all.iter().any(&check) {
            return all.len();
        }
        assert!(started.elapsed() < DEADLINE, "no report of {what}; got {all:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_document(reports: &Reports, path: &Path, what: &str, check: impl Fn(&DocOutcome) -> bool) {
    let key = path.display().to_string();
    wait_for(
        reports,
        &format!("{what} {key}"),
        |r| matches!(r, WatchReport::Document { path, outcome } if *path == key && check(outcome)),
    )
    .await;
}

fn indexed(o: &DocOutcome) -> bool {
    matches!(o, DocOutcome::Indexed { .. })
}

async fn library_paths(library: &Library) -> Vec<String> {
    let mut paths: Vec<String> = library.documents().await.expect("documents").into_iter().map(|d| d.path).collect();
    paths.sort();
    paths
}

fn sorted(root: &Path, names: &[&str]) -> Vec<String> {
    let mut paths: Vec<String> = names.iter().map(|n| root.join(n).display().to_string()).collect();
    paths.sort();
    paths
}

/// Runs the watch of `data`'s folders while `body` runs, then stops it.
async fn with_watch<F: Future<Output = ()>>(library: &Library, data: &Path, reports: &Reports, body: F) {
    let options = WatchRunOptions {
        watch: quire_watch::WatchOptions { stable_for: Duration::from_millis(500), ..Default::default() },
        rescan_every: Duration::from_secs(3600),
        ..Default::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let sink = Arc::clone(reports);
    let report = move |r: WatchReport| sink.lock().expect("lock").push(r);
    let run = run_watch(library, data, &options, &report, async {
        let _ = stop_rx.await;
    });
    let body = async {
        body.await;
        let _ = stop_tx.send(());
    };
    let (result, ()) = tokio::join!(run, body);
    result.expect("the watch ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_tree_stays_in_step_live_and_across_restarts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let root = std::fs::canonicalize(tmp.path()).expect("canonical").join("docs");
    write(&root.join("a/one.md"), &text("penguins"));
    write(&root.join("a/b/two.txt"), &text("camels"));
    write(&root.join(".hidden.md"), &text("secrets"));
    write(&root.join("~$draft.md"), &text("office owner file"));
    write(&root.join("archive/old.md"), &text("excluded"));
    let mut watched = WatchedFolders::load(&data).expect("load");
    let rules = FolderRules { exclude: vec!["archive".into()], ..FolderRules::default() };
    watched.add_with_rules(&root, None, rules, 0).expect("add");
    watched.save().expect("save");

    let (library, embedder) = open(&data).await;
    let reports: Reports = Arc::default();
    with_watch(&library, &data, &reports, async {
        wait_for(&reports, "the first comparison", |r| matches!(r, WatchReport::Reconciled { indexed: 2, .. })).await;
        assert_eq!(library_paths(&library).await, sorted(&root, &["a/b/two.txt", "a/one.md"]));

        // Create and modify, in nested folders.
        write(&root.join("a/b/c/three.md"), &text("glaciers"));
        wait_document(&reports, &root.join("a/b/c/three.md"), "indexed", indexed).await;
        write(&root.join("a/one.md"), &text("penguins and their chicks"));
        wait_for(&reports, "one.md indexed again", |_| {
            documents(&reports).iter().filter(|(p, o)| p.ends_with("a/one.md") && indexed(o)).count() == 2
        })
        .await;

        // An editor's save: a temporary file renamed over the document is one update.
        write(&root.join("a/b/two.txt.tmp"), &text("camels in the desert"));
        std::fs::rename(root.join("a/b/two.txt.tmp"), root.join("a/b/two.txt")).expect("rename over");
        // Hidden and temporary files written while watching are ignored.
        write(&root.join(".notes.md"), &text("hidden"));
        write(&root.join("a/~$two.md"), &text("owner file"));
        write(&root.join("a/one.md.swp"), "swap");
        write(&root.join("marker.md"), &text("markers"));
        wait_document(&reports, &root.join("marker.md"), "indexed", indexed).await;
        let two = documents(&reports).into_iter().filter(|(p, _)| p.ends_with("a/b/two.txt")).count();
        assert_eq!(two, 2, "the first comparison and one update for the save: {:#?}", documents(&reports));

        // A rename and a folder move keep their chunks: no embedding.
        let embeds = embedder.embeds.load(Ordering::SeqCst);
        std::fs::rename(root.join("a/one.md"), root.join("a/renamed.md")).expect("rename");
        wait_document(&reports, &root.join("a/renamed.md"), "moved", |o| matches!(o, DocOutcome::Moved { .. })).await;
        std::fs::rename(root.join("a/b"), root.join("moved-b")).expect("move a folder");
        wait_document(&reports, &root.join("moved-b/c/three.md"), "moved", |o| matches!(o, DocOutcome::Moved { .. }))
            .await;
        wait_document(&reports, &root.join("moved-b/two.txt"), "moved", |o| matches!(o, DocOutcome::Moved { .. }))
            .await;
        assert_eq!(embedder.embeds.load(Ordering::SeqCst), embeds, "a renamed or moved file was embedded");

        // A delete.
        std::fs::remove_file(root.join("marker.md")).expect("rm");
        wait_document(&reports, &root.join("marker.md"), "removed", |o| *o == DocOutcome::Removed).await;
        assert_eq!(
            library_paths(&library).await,
            sorted(&root, &["a/renamed.md", "moved-b/c/three.md", "moved-b/two.txt"])
        );
        let hits = library
            .search("camels desert", 3, quire_core::SearchMode::Hybrid, &quire_core::SearchFilter::default())
            .await
            .expect("search");
        assert_eq!(hits[0].chunk.path, root.join("moved-b/two.txt").display().to_string());
    })
    .await;

    // Changes made while nothing watches are found when the watch starts again.
    write(&root.join("new/four.md"), &text("volcanoes"));
    std::fs::remove_file(root.join("moved-b/c/three.md")).expect("rm");
    write(&root.join("a/renamed.md"), &text("penguins, rewritten while nobody watched"));
    std::fs::rename(root.join("moved-b/two.txt"), root.join("new/two-again.txt")).expect("rename");
    let embeds = embedder.embeds.load(Ordering::SeqCst);
    let reports: Reports = Arc::default();
    with_watch(&library, &data, &reports, async {
        wait_for(&reports, "the start-up comparison", |r| matches!(r, WatchReport::Reconciled { .. })).await;
    })
    .await;
    let reconciled =
        reports.lock().expect("lock").iter().find(|r| matches!(r, WatchReport::Reconciled { .. })).cloned();
    let Some(WatchReport::Reconciled { indexed, moved, removed, failed, .. }) = reconciled else {
        panic!("no comparison")
    };
    assert_eq!((indexed, moved, removed, failed), (2, 1, 1, 0), "{:#?}", reports.lock().expect("lock"));
    assert!(embedder.embeds.load(Ordering::SeqCst) > embeds, "the new and changed files were embedded");
    assert_eq!(library_paths(&library).await, sorted(&root, &["a/renamed.md", "new/four.md", "new/two-again.txt"]));

    // Nothing changed: a restart embeds nothing.
    let embeds = embedder.embeds.load(Ordering::SeqCst);
    let reports: Reports = Arc::default();
    with_watch(&library, &data, &reports, async {
        wait_for(&reports, "a comparison with nothing to do", |r| {
            matches!(r, WatchReport::Reconciled { indexed: 0, moved: 0, removed: 0, unchanged: 3, .. })
        })
        .await;
    })
    .await;
    assert_eq!(embedder.embeds.load(Ordering::SeqCst), embeds);
}

fn quire(data: &Path) -> Command {
    let mut cmd = Command::new(quire_bin());
    cmd.arg("--data-dir").arg(data).arg("--embed-model").arg(embed_model());
    cmd
}

#[test]
fn the_command_line_adds_lists_and_runs_a_watch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let root = std::fs::canonicalize(tmp.path()).expect("canonical").join("docs");
    write(&root.join("keep.md"), &text("lighthouses"));
    write(&root.join("big.md"), &"lighthouse keepers ".repeat(200_000));
    write(&root.join("skip.log"), "a log file");

    let bad = quire(&data).args(["watch", "add"]).arg(&root).args(["--include", "a["]).output().expect("runs");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a valid glob"), "{bad:?}");

    let added = quire(&data)
        .args(["watch", "add"])
        .arg(&root)
        .args(["--exclude", "*.log", "--max-size", "1", "--collection", "Sea"])
        .output()
        .expect("runs");
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let listed = quire(&data).args(["watch", "list", "--json"]).output().expect("runs");
    let listed: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(listed[0]["path"], root.display().to_string());
    assert_eq!(listed[0]["exclude"], serde_json::json!(["*.log"]));
    assert_eq!(listed[0]["max_bytes"], 1_000_000);
    assert_eq!(listed[0]["collection"], "Sea");

    let mut run = quire(&data)
        .args(["watch", "run", "--json", "--stable-for", "0.5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("watch run starts");
    let stdout = run.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(serde_json::from_str(&line).expect("a JSON line"));
        }
    });
    let mut seen = Vec::new();
    let mut wait = |what: &str, check: &dyn Fn(&Value) -> bool| {
        let started = Instant::now();
        while !seen.iter().any(check) {
            let left = DEADLINE.checked_sub(started.elapsed()).unwrap_or_default();
            match rx.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("no {what} from `quire watch run`; got {seen:#?}"),
            }
        }
    };
    wait("comparison", &|l| l["event"] == "reconciled");
    write(&root.join("sub/new.md"), &text("tides"));
    let new = root.join("sub/new.md").display().to_string();
    wait("indexed document", &|l| l["event"] == "document" && l["path"] == new.as_str());
    let status = Command::new("kill").arg("-INT").arg(run.id().to_string()).status().expect("kill");
    assert!(status.success());
    let exit = run.wait().expect("watch run ends");
    assert!(exit.success(), "{exit:?}");

    let status = quire(&data).args(["status", "--json"]).output().expect("runs");
    let status: Value = serde_json::from_slice(&status.stdout).expect("JSON");
    let mut names: Vec<&str> = status["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .filter_map(|d| d["path"].as_str()?.rsplit('/').next())
        .collect();
    names.sort();
    assert_eq!(names, ["keep.md", "new.md"], "the log file and the file over 1 MB are left out");
}
