//! Watched folders under load, on real parts: a real folder tree in a temporary directory, the real LanceDB
//! store, the starter embedding model in the model worker, and the real `quire` binary (`quire watch run
//! --json`) where a test needs a process to kill.
//!
//! - a burst of files written while the watch runs all reach the library, once each, with their chunks;
//! - a watch killed with SIGKILL in the middle of a burst, then started again, ends exactly where a clean
//!   ingest of the same tree ends (same documents, same chunks per document);
//! - many small updates grow the store, and the watch's idle upkeep brings it back near the size of a fresh
//!   library with the same content.
//!
//! Every wait is for a condition; a wait fails when nothing has moved for [`STALL`]. Nothing asserts on how
//! long anything took (that is `quire bench watch`). The tests run one at a time (they share two cores with
//! the model worker); each prints its run time to stderr (`cargo test -- --nocapture`).

mod common;

use common::{embed_model, quire_bin};

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use quire_app::watch::{WatchReport, WatchRunOptions, run_watch};
use quire_core::library::{DocOutcome, IngestOptions, Library};
use quire_core::watched::{FolderRules, WatchedFolders};
use quire_core::{DocStatus, SearchFilter, SearchMode};
use quire_store::{LanceStore, StoreOptions};
use serde_json::Value;

/// Files in a burst, and updates in the store-growth test.
const FILES: usize = 1_000;
/// A wait fails when nothing new happened for this long.
const STALL: Duration = Duration::from_secs(600);

/// One heavy test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn quire(data: &Path) -> Command {
    let mut cmd = Command::new(quire_bin());
    cmd.arg("--data-dir").arg(data).arg("--embed-model").arg(embed_model());
    cmd
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("quire runs");
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// Burst file `i`, two folder levels below `root`.
fn note_path(root: &Path, i: usize) -> PathBuf {
    root.join(format!("d{}/e{}/note{i:04}.txt", i % 10, (i / 10) % 10))
}

/// The text of note `i`, `version` times rewritten: one line with a marker of its own (`zq<i>x`); one note in
/// fifty is long enough for several chunks, so that chunks per document differ.
fn note(i: usize, version: usize) -> String {
    let mut text = format!("Note {i}, version {version}, keeps the marker zq{i}x for the search.\n");
    if i % 50 == 7 {
        for p in 0..40 {
            text.push_str(&format!(
                "\nParagraph {p} of note {i} is about rivers, harbours and the lighthouses of coast number {p}.\n"
            ));
        }
    }
    text
}

fn canonical_tmp(tmp: &tempfile::TempDir) -> PathBuf {
    std::fs::canonicalize(tmp.path()).expect("canonical")
}

/// A `quire watch run --json` process and the lines it printed.
struct WatchRun {
    child: Child,
    lines: Receiver<Value>,
    seen: Vec<Value>,
}

impl WatchRun {
    fn start(data: &Path) -> WatchRun {
        let mut child = quire(data)
            .args(["watch", "run", "--json", "--stable-for", "0.5"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("`quire watch run` starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel::<Value>();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        WatchRun { child, lines, seen: Vec::new() }
    }

    /// Waits until `check` holds over the lines printed so far. Fails at once on an error or a failed
    /// document, and when nothing new was printed for [`STALL`].
    fn wait(&mut self, what: &str, check: impl Fn(&[Value]) -> bool) {
        loop {
            if let Some(bad) = self.seen.iter().find(|l| {
                l["event"] == "error"
                    || l["outcome"]["status"] == "failed"
                    || !(l.is_object() && l["event"].is_string())
            }) {
                panic!("`quire watch run` reported {bad} (waiting for {what})");
            }
            if check(&self.seen) {
                return;
            }
            match self.lines.recv_timeout(STALL) {
                Ok(line) => {
                    self.seen.push(line);
                    self.seen.extend(self.lines.try_iter());
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {what}: nothing new from `quire watch run` for {STALL:?}; last: {:#?}", self.tail())
                }
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "`quire watch run` ended ({:?}) before {what}; last: {:#?}",
                    self.child.try_wait(),
                    self.tail()
                ),
            }
        }
    }

    fn tail(&self) -> &[Value] {
        &self.seen[self.seen.len().saturating_sub(10)..]
    }

    /// Paths reported indexed, with how many times.
    fn indexed(&self) -> BTreeMap<String, usize> {
        indexed_counts(&self.seen)
    }

    /// Ctrl-C: the run stops and exits with success.
    fn interrupt(mut self) {
        let status = Command::new("kill").arg("-INT").arg(self.child.id().to_string()).status().expect("kill");
        assert!(status.success());
        let exit = self.child.wait().expect("`quire watch run` ends");
        assert!(exit.success(), "{exit:?}");
    }

    /// SIGKILL: no chance to finish anything.
    fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

impl Drop for WatchRun {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn indexed_counts(lines: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for l in lines.iter().filter(|l| l["event"] == "document" && l["outcome"]["status"] == "indexed") {
        if let Some(path) = l["path"].as_str() {
            *counts.entry(path.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

fn reconciled(lines: &[Value]) -> bool {
    lines.iter().any(|l| l["event"] == "reconciled")
}

fn open_options(data: &Path) -> quire_app::OpenOptions {
    let mut options = quire_app::OpenOptions::new(Some(data.to_path_buf())).expect("options");
    options.worker_program = quire_bin();
    options.embed_model = Some(embed_model());
    options
}

/// One document as the store holds it.
#[derive(Debug, Clone, PartialEq)]
struct Stored {
    status: DocStatus,
    content_hash: String,
    /// The chunk count its record gives.
    recorded: u32,
    /// The chunk rows the chunks table holds for it.
    rows: usize,
}

/// Every document of the library in `data`, by path, read from the store itself; checks on the way that no
/// path has two records, that each document's chunks are numbered 0..n once each and belong to it, and that
/// the chunks table holds no rows beyond the documents' own.
async fn stored(library: &Library) -> BTreeMap<String, Stored> {
    let store = library.store();
    let mut out = BTreeMap::new();
    let mut rows_total = 0u64;
    for doc in store.documents().await.expect("documents") {
        let rows = store.chunk_rows(&doc.id).await.expect("chunk rows");
        let mut indexes: Vec<u32> = rows.iter().map(|r| r.chunk.index).collect();
        indexes.sort_unstable();
        assert_eq!(indexes, (0..rows.len() as u32).collect::<Vec<_>>(), "the chunks of {}", doc.path);
        assert!(rows.iter().all(|r| r.chunk.doc_id == doc.id && r.chunk.path == doc.path), "{}", doc.path);
        rows_total += rows.len() as u64;
        let entry =
            Stored { status: doc.status, content_hash: doc.content_hash, recorded: doc.chunk_count, rows: rows.len() };
        assert!(out.insert(doc.path.clone(), entry).is_none(), "two records for {}", doc.path);
    }
    assert_eq!(library.stats().await.expect("stats").chunks, rows_total, "chunks that belong to no document");
    out
}

async fn open_and_read(data: &Path) -> (Library, BTreeMap<String, Stored>) {
    let library = quire_app::open_library(&open_options(data)).await.expect("library opens");
    let docs = stored(&library).await;
    (library, docs)
}

/// Every document indexed, with as many chunk rows as its record says (at least one).
fn assert_all_indexed(docs: &BTreeMap<String, Stored>) {
    for (path, d) in docs {
        assert_eq!(d.status, DocStatus::Indexed, "{path}: {d:?}");
        assert!(d.rows >= 1 && d.rows == d.recorded as usize, "{path}: {d:?}");
    }
}

fn done(name: &str, started: Instant) {
    eprintln!("[watch_burst] {name}: {:.1} s", started.elapsed().as_secs_f64());
}

fn watched_tree(tmp: &tempfile::TempDir) -> (PathBuf, PathBuf) {
    let data = tmp.path().join("data");
    let root = canonical_tmp(tmp).join("docs");
    std::fs::create_dir_all(&root).expect("mkdir");
    run_ok(quire(&data).args(["watch", "add"]).arg(&root));
    (data, root)
}

#[test]
fn a_burst_of_files_in_nested_folders_all_reach_the_library_once() {
    let _serial = SERIAL.blocking_lock();
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, root) = watched_tree(&tmp);
    let mut run = WatchRun::start(&data);
    run.wait("first comparison", reconciled);

    let expected: BTreeSet<String> = (0..FILES)
        .map(|i| {
            let path = note_path(&root, i);
            write(&path, &note(i, 0));
            path.display().to_string()
        })
        .collect();
    run.wait("every file of the burst indexed", |lines| {
        let indexed = indexed_counts(lines);
        expected.iter().all(|p| indexed.contains_key(p))
    });
    let indexed = run.indexed();
    run.interrupt();
    let extra: Vec<_> = indexed.keys().filter(|p| !expected.contains(*p)).collect();
    assert!(extra.is_empty(), "indexed paths that were never written: {extra:?}");

    runtime().block_on(async {
        let (library, docs) = open_and_read(&data).await;
        assert_eq!(docs.keys().cloned().collect::<BTreeSet<_>>(), expected);
        assert_all_indexed(&docs);
        let long = note_path(&root, 57).display().to_string();
        assert!(docs[&long].rows > 1, "a long note has several chunks: {:?}", docs[&long]);
        for i in [0, 57, FILES / 2, FILES - 1] {
            let hits = library
                .search(&format!("zq{i}x"), 3, SearchMode::Fulltext, &SearchFilter::default())
                .await
                .expect("search");
            assert_eq!(hits.first().map(|h| h.chunk.path.clone()), Some(note_path(&root, i).display().to_string()));
        }
    });
    done("burst", started);
}

#[test]
fn a_watch_killed_mid_burst_and_restarted_ends_like_a_clean_ingest() {
    let _serial = SERIAL.blocking_lock();
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, root) = watched_tree(&tmp);
    let mut run = WatchRun::start(&data);
    run.wait("first comparison", reconciled);

    let half = FILES / 2;
    for i in 0..half {
        write(&note_path(&root, i), &note(i, 0));
    }
    let some = (half / 10).max(1);
    run.wait("a first part of the burst indexed", |lines| indexed_counts(lines).len() >= some);
    let at_kill = run.indexed().len();
    run.kill9();
    eprintln!("[watch_burst] killed with {at_kill} of {half} files indexed");
    assert!(at_kill < half, "the kill came after the burst was indexed: make the burst larger");

    // The burst goes on while nothing watches: the other half, some notes rewritten, some deleted.
    for i in half..FILES {
        write(&note_path(&root, i), &note(i, 0));
    }
    for i in (0..half).step_by(25) {
        write(&note_path(&root, i), &note(i, 1));
    }
    for i in (3..half).step_by(50) {
        std::fs::remove_file(note_path(&root, i)).expect("rm");
    }

    let mut run = WatchRun::start(&data);
    run.wait("the comparison after the restart", reconciled);
    run.interrupt();

    let fresh = tmp.path().join("fresh");
    run_ok(quire(&fresh).arg("ingest").arg(&root));

    runtime().block_on(async {
        let (library, watched) = open_and_read(&data).await;
        drop(library);
        let (library, clean) = open_and_read(&fresh).await;
        drop(library);
        let expected: BTreeSet<String> = (0..FILES)
            .filter(|i| !(*i < half && i % 50 == 3))
            .map(|i| note_path(&root, i).display().to_string())
            .collect();
        assert_eq!(clean.keys().cloned().collect::<BTreeSet<_>>(), expected);
        assert_all_indexed(&clean);
        assert_eq!(watched.keys().cloned().collect::<BTreeSet<_>>(), expected, "the documents after the restart");
        for (path, c) in &clean {
            assert_eq!(&watched[path], c, "{path}: after the kill and restart vs a clean ingest");
        }
    });
    done("kill -9 mid-burst", started);
}

/// Bytes of every file under `dir`.
fn disk_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    for e in entries.flatten() {
        match e.file_type() {
            Ok(t) if t.is_dir() => total += disk_bytes(&e.path()),
            Ok(_) => total += e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => {}
        }
    }
    total
}

/// Versions younger than this survive upkeep in these tests (the app keeps five minutes' worth).
const KEEP_VERSIONS_FOR: Duration = Duration::from_secs(1);

/// The real embedder, extractor and settings of a library, without its store.
struct Parts {
    embedder: Arc<dyn quire_core::Embedder>,
    extractor: Arc<dyn quire_core::Extractor>,
    config: quire_core::library::LibraryConfig,
}

impl Parts {
    /// Opens the library of `data` as the app does and keeps its parts; its store is closed again.
    async fn open(data: &Path) -> Parts {
        let library = quire_app::open_library(&open_options(data)).await.expect("library opens");
        Parts {
            embedder: Arc::clone(library.embedder()),
            extractor: Arc::clone(library.extractor()),
            config: library.config().clone(),
        }
    }

    /// A library over `dir/library` whose store keeps versions for [`KEEP_VERSIONS_FOR`].
    async fn library_keeping_little(&self, dir: &Path) -> Library {
        let info = self.embedder.info().clone();
        let options = StoreOptions { keep_versions_for: KEEP_VERSIONS_FOR, ..StoreOptions::default() };
        let store =
            LanceStore::open_with(&dir.join("library"), &info.model_id, info.dim, options).await.expect("store");
        Library::new(Arc::new(store), Arc::clone(&self.embedder), Arc::clone(&self.extractor), self.config.clone())
    }
}

type Reports = Arc<std::sync::Mutex<Vec<WatchReport>>>;

fn indexed_reports(reports: &Reports) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in reports.lock().expect("lock").iter() {
        match r {
            WatchReport::Document { path, outcome: DocOutcome::Indexed { .. } } => {
                *counts.entry(path.clone()).or_insert(0) += 1;
            }
            WatchReport::Document { outcome: DocOutcome::Failed { reason }, path } => panic!("{path} failed: {reason}"),
            WatchReport::Error { message } => panic!("the watch reported an error: {message}"),
            _ => {}
        }
    }
    counts
}

/// Waits until `check` holds, failing when the reports did not move for [`STALL`].
async fn wait_reports(reports: &Reports, what: &str, check: impl Fn(&Reports) -> bool) {
    let mut last = (0, Instant::now());
    loop {
        if check(reports) {
            return;
        }
        let n = reports.lock().expect("lock").len();
        if n != last.0 {
            last = (n, Instant::now());
        }
        assert!(last.1.elapsed() < STALL, "no {what}: the watch reported nothing new for {STALL:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_grown_by_many_updates_shrinks_back_when_the_watch_is_idle() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = canonical_tmp(&tmp);
    let (data, fresh) = (base.join("data"), base.join("fresh"));
    // Same name lengths, so that records take the same room in both libraries.
    let (root, copy) = (base.join("docs"), base.join("copy"));
    const NOTES: usize = 100;
    const GROUP: usize = 10;
    let rounds = FILES / GROUP;
    // Round r rewrites the ten notes of group r % 10: each note is rewritten `rounds / 10` times.
    let group = |r: usize| (r % (NOTES / GROUP)) * GROUP..(r % (NOTES / GROUP)) * GROUP + GROUP;
    for i in 0..NOTES {
        write(&note_path(&root, i), &note(i, 0));
        write(&note_path(&copy, i), &note(i, rounds / (NOTES / GROUP)));
    }
    std::fs::create_dir_all(&data).expect("mkdir");
    let mut watched = WatchedFolders::load(&data).expect("load");
    watched.add_with_rules(&root, None, FolderRules::default(), 0).expect("add");
    watched.save().expect("save");

    // The real parts, then the store reopened to keep few versions.
    let parts = Parts::open(&data).await;
    let library = parts.library_keeping_little(&data).await;
    let options = WatchRunOptions {
        watch: quire_watch::WatchOptions { stable_for: Duration::from_millis(500), ..Default::default() },
        rescan_every: Duration::from_secs(3600),
        maintain_after: Duration::from_secs(3),
    };
    let reports: Reports = Arc::default();
    let sink = Arc::clone(&reports);
    let report = move |r: WatchReport| sink.lock().expect("lock").push(r);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let watch = run_watch(&library, &data, &options, &report, async {
        let _ = stop_rx.await;
    });
    let mut figures = (0u64, 0u64, 0u64);
    let body = async {
        wait_reports(&reports, "first comparison", |r| indexed_reports(r).len() == NOTES).await;
        let mut expected: BTreeMap<String, usize> =
            (0..NOTES).map(|i| (note_path(&root, i).display().to_string(), 1)).collect();
        for r in 0..rounds {
            for i in group(r) {
                write(&note_path(&root, i), &note(i, r / (NOTES / GROUP) + 1));
                *expected.get_mut(&note_path(&root, i).display().to_string()).expect("known") += 1;
            }
            wait_reports(&reports, &format!("round {r} indexed"), |reports| {
                let indexed = indexed_reports(reports);
                expected.iter().all(|(p, n)| indexed.get(p).is_some_and(|got| got >= n))
            })
            .await;
        }
        let grown = disk_bytes(&data.join("library"));

        // A fresh library with the same final content, upkept once its versions are old enough to go.
        let clean = parts.library_keeping_little(&fresh).await;
        let report =
            clean.ingest(std::slice::from_ref(&copy), &IngestOptions::default(), &|_| {}, None).await.expect("ingest");
        assert_eq!(report.indexed, NOTES);
        tokio::time::sleep(KEEP_VERSIONS_FOR + Duration::from_millis(500)).await;
        clean.store().maintain().await.expect("upkeep");
        let baseline = disk_bytes(&fresh.join("library"));

        // The watch's own upkeep, once it has been idle for `maintain_after`.
        let waited = Instant::now();
        let mut now = disk_bytes(&data.join("library"));
        while now > 2 * baseline && waited.elapsed() < Duration::from_secs(300) {
            tokio::time::sleep(Duration::from_millis(500)).await;
            now = disk_bytes(&data.join("library"));
        }
        figures = (grown, now, baseline);
        assert!(
            now <= 2 * baseline,
            "after {FILES} updates and {:.0} s idle the store takes {now} bytes, more than twice a fresh library's \
             {baseline} (it took {grown} right after the updates)",
            waited.elapsed().as_secs_f64()
        );

        // The content is what the files say.
        let docs = stored(&library).await;
        let clean_docs = stored(&clean).await;
        assert_all_indexed(&docs);
        let relocated: BTreeMap<String, Stored> = clean_docs
            .into_iter()
            .map(|(p, d)| (p.replacen(&copy.display().to_string(), &root.display().to_string(), 1), d))
            .collect();
        assert_eq!(docs, relocated);
        let _ = stop_tx.send(());
    };
    let (result, ()) = tokio::join!(watch, body);
    result.expect("the watch ran");
    let (grown, shrunk, baseline) = figures;
    eprintln!(
        "[watch_burst] store after {FILES} updates: {grown} bytes, after idle upkeep {shrunk}, fresh library \
         {baseline} ({:.2}x)",
        shrunk as f64 / baseline.max(1) as f64
    );
    done("store growth", started);
}
