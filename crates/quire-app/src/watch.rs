//! Keeps the watched folders of a data folder in step with the library while it runs: each folder is compared
//! with the library at start (changes made while nothing was watching), then its stable changes from
//! `quire-watch` are synced as they come, and the whole folder is compared again when events may have been
//! lost and every `rescan_every`. The work goes through the durable queue (`crate::jobs`), so a run killed
//! midway resumes it; the library's sync does it: unchanged files cost nothing, renamed and moved files keep
//! their chunks, documents whose files are gone are removed.
//!
//! A watched folder that is missing (an unmounted drive) is reported and left alone, never emptied from the
//! library; it is tried again at the next periodic comparison.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde::Serialize;

use quire_core::collections::Collections;
use quire_core::jobs::{JobKind, Priority};
use quire_core::library::{DocOutcome, IngestEvent, IngestReport, Library};
use quire_core::watched::{FolderRules, WatchedFolder, WatchedFolders};
use quire_core::{Error, PathFilter, Result, now_ms};
use quire_watch::{Filter, FolderWatch, Rules, WatchEvent, WatchMode, WatchOptions};

use crate::jobs::{Queue, QueueEvent, drive};

/// How the watched folders are followed.
#[derive(Debug, Clone)]
pub struct WatchRunOptions {
    pub watch: WatchOptions,
    /// How often every folder is compared with the library in full.
    pub rescan_every: Duration,
    /// The store's upkeep runs once the queue has been idle this long after writes.
    pub maintain_after: Duration,
}

impl Default for WatchRunOptions {
    fn default() -> Self {
        WatchRunOptions {
            watch: WatchOptions::default(),
            rescan_every: Duration::from_secs(10 * 60),
            maintain_after: Duration::from_secs(30),
        }
    }
}

/// What the watch run did, as it happens (`quire watch run` prints these; `--json` one per line).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WatchReport {
    /// A folder is being watched: `native` or by `poll`ing, and why.
    Watching { folder: String, mode: &'static str, reason: Option<String> },
    /// A folder cannot be watched now (missing, unreadable); its documents stay.
    Unavailable { folder: String, reason: String },
    /// A folder is compared in full with the library.
    Reconciling { folder: String, reason: String },
    /// A comparison is over.
    Reconciled { folder: String, indexed: usize, unchanged: usize, moved: usize, removed: usize, failed: usize },
    /// A change was applied to a document (indexed, moved, removed or failed; unchanged files are not reported).
    Document { path: String, outcome: DocOutcome },
    /// Something went wrong; the run goes on.
    Error { message: String },
}

fn mode_report(folder: &str, mode: &WatchMode) -> WatchReport {
    match mode {
        WatchMode::Native => WatchReport::Watching { folder: folder.to_string(), mode: "native", reason: None },
        WatchMode::Poll { reason } => {
            WatchReport::Watching { folder: folder.to_string(), mode: "poll", reason: Some(reason.clone()) }
        }
    }
}

/// The rules of a watched folder as `quire-watch` applies them.
pub fn watch_rules(rules: &FolderRules) -> Rules {
    Rules { include: rules.include.clone(), exclude: rules.exclude.clone(), max_bytes: rules.max_bytes }
}

/// Checks a watched folder's patterns (each must be a valid glob).
pub fn check_rules(rules: &FolderRules) -> Result<()> {
    let patterns: Vec<String> = rules.include.iter().chain(&rules.exclude).cloned().collect();
    quire_watch::check_patterns(&patterns).map_err(|e| Error::InvalidInput(e.to_string()))
}

/// The filter of a watched folder.
pub fn folder_filter(folder: &WatchedFolder) -> Result<Filter> {
    Filter::new(Path::new(&folder.path), &watch_rules(&folder.rules)).map_err(|e| Error::InvalidInput(e.to_string()))
}

/// The library's view of several watched folders' filters: a path belongs to the folder it is under.
pub struct Filters(pub Vec<Filter>);

impl Filters {
    fn find(&self, path: &Path) -> Option<&Filter> {
        self.0.iter().find(|f| path.starts_with(f.root()))
    }
}

impl PathFilter for Filters {
    fn accepts_dir(&self, path: &Path) -> bool {
        self.find(path).is_some_and(|f| f.accepts_dir(path))
    }
    fn accepts_file(&self, path: &Path, size: u64) -> bool {
        self.find(path).is_some_and(|f| f.accepts_file(path, size))
    }
}

/// Compares one watched folder with the library now (what `quire watch sync` and the start of a watch run do),
/// and puts it in its collection. A missing folder is reported as an error and left alone.
pub async fn sync_folder(
    library: &Library,
    data_dir: &Path,
    folder: &WatchedFolder,
    progress: &(dyn Fn(IngestEvent) + Send + Sync),
) -> Result<IngestReport> {
    sync_folder_cancellable(library, data_dir, folder, progress, None).await
}

/// [`sync_folder`], stopped after the current document once `cancel` is set.
pub async fn sync_folder_cancellable(
    library: &Library,
    data_dir: &Path,
    folder: &WatchedFolder,
    progress: &(dyn Fn(IngestEvent) + Send + Sync),
    cancel: Option<&AtomicBool>,
) -> Result<IngestReport> {
    let root = PathBuf::from(&folder.path);
    if !root.is_dir() {
        return Err(Error::InvalidInput(format!(
            "the watched folder {} is not there (a drive not mounted?); its documents are kept",
            folder.path
        )));
    }
    let filters = Filters(vec![folder_filter(folder)?]);
    let report = library.sync(&[root], &filters, progress, cancel).await?;
    if let Some(name) = &folder.collection {
        let mut collections = Collections::load(data_dir)?;
        collections.add(name, &[PathBuf::from(&folder.path)])?;
        collections.save()?;
    }
    Ok(report)
}

/// Follows every watched folder of `data_dir` for the queue: starts each folder's watch and queues a comparison
/// of it with the library at start, after events may have been lost and every `rescan_every`, and queues its
/// stable changes as they come. Reports how each folder is watched (natively or by polling) and the folders
/// that cannot be watched now (tried again at the next periodic comparison). Runs until dropped.
pub async fn follow(
    queue: &Queue,
    data_dir: &Path,
    options: &WatchRunOptions,
    report: &(dyn Fn(WatchReport) + Send + Sync),
) -> Result<()> {
    let folders = WatchedFolders::load(data_dir)?.folders;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, WatchEvent)>();
    let mut watches: Vec<Option<FolderWatch>> = folders.iter().map(|_| None).collect();
    let reconcile_all = |watches: &mut Vec<Option<FolderWatch>>, reason: &str| {
        for (index, folder) in folders.iter().enumerate() {
            if ensure_watch(folder, &mut watches[index], index, options, &tx, report) {
                queue_job(queue, JobKind::SyncFolder { folder: folder.path.clone(), reason: reason.into() }, report);
            }
        }
    };
    reconcile_all(&mut watches, "start");
    let mut rescan = tokio::time::interval_at(tokio::time::Instant::now() + options.rescan_every, options.rescan_every);
    loop {
        tokio::select! {
            _ = rescan.tick() => reconcile_all(&mut watches, "periodic"),
            Some((index, event)) = rx.recv() => match event {
                WatchEvent::Changes(batch) => {
                    let mut paths: Vec<String> = batch.iter().map(|c| c.path().display().to_string()).collect();
                    paths.sort();
                    paths.dedup();
                    tracing::debug!(paths = paths.len(), "watched changes queued");
                    queue_job(queue, JobKind::SyncPaths { paths }, report);
                }
                WatchEvent::Rescan { reason } => {
                    let folder = &folders[index];
                    if ensure_watch(folder, &mut watches[index], index, options, &tx, report) {
                        queue_job(queue, JobKind::SyncFolder { folder: folder.path.clone(), reason }, report);
                    }
                }
                WatchEvent::Mode(mode) => report(mode_report(&folders[index].path, &mode)),
            },
        }
    }
}

fn queue_job(queue: &Queue, kind: JobKind, report: &(dyn Fn(WatchReport) + Send + Sync)) {
    if let Err(e) = queue.push(kind, Priority::Background) {
        report(WatchReport::Error { message: format!("could not queue watched changes: {e}") });
    }
}

/// Starts the watch of a folder if it is not running (again, if its folder went away and came back); false when
/// the folder cannot be watched now.
fn ensure_watch(
    folder: &WatchedFolder,
    watch: &mut Option<FolderWatch>,
    index: usize,
    options: &WatchRunOptions,
    tx: &tokio::sync::mpsc::UnboundedSender<(usize, WatchEvent)>,
    report: &(dyn Fn(WatchReport) + Send + Sync),
) -> bool {
    if watch.as_ref().is_some_and(|w| !w.root().is_dir()) {
        *watch = None;
    }
    if watch.is_some() {
        return true;
    }
    if !Path::new(&folder.path).is_dir() {
        report(WatchReport::Unavailable {
            folder: folder.path.clone(),
            reason: "the folder is not there (a drive not mounted?); its documents are kept".into(),
        });
        return false;
    }
    let started = folder_filter(folder).and_then(|filter| {
        let tx = tx.clone();
        FolderWatch::start(filter, options.watch.clone(), move |event| {
            let _ = tx.send((index, event));
        })
        .map_err(|e| Error::InvalidInput(e.to_string()))
    });
    match started {
        Ok(started) => {
            report(mode_report(&folder.path, started.mode()));
            *watch = Some(started);
            true
        }
        Err(e) => {
            report(WatchReport::Unavailable { folder: folder.path.clone(), reason: e.to_string() });
            false
        }
    }
}

/// Follows every watched folder of `data_dir` and keeps the library in step (see [`follow`]), running the
/// queue's jobs (kept in the data folder, so a run killed midway resumes them) until `stop` completes.
pub async fn run_watch(
    library: &Library,
    data_dir: &Path,
    options: &WatchRunOptions,
    report: &(dyn Fn(WatchReport) + Send + Sync),
    stop: impl Future<Output = ()>,
) -> Result<()> {
    if WatchedFolders::load(data_dir)?.folders.is_empty() {
        return Err(Error::InvalidInput("no folder is watched: add one with `quire watch add FOLDER`".into()));
    }
    let (queue, warning) = Queue::open(data_dir);
    if let Some(message) = warning {
        report(WatchReport::Error { message });
    }
    let events = |event: QueueEvent| queue_report(event, report);
    tokio::select! {
        () = stop => Ok(()),
        result = follow(&queue, data_dir, options, report) => result,
        () = drive(&queue, library, data_dir, options.maintain_after, &events) => Ok(()),
    }
}

/// The watch run's view of the queue's events: comparisons of folders, documents that changed (unchanged
/// files are not reported), errors.
pub fn queue_report(event: QueueEvent, report: &(dyn Fn(WatchReport) + Send + Sync)) {
    match event {
        QueueEvent::Started { job } => {
            if let JobKind::SyncFolder { folder, reason } = &job.kind {
                report(WatchReport::Reconciling { folder: folder.clone(), reason: reason.clone() });
            }
        }
        QueueEvent::Progress { event: IngestEvent::Document { path, outcome, .. }, .. }
            if outcome != DocOutcome::Unchanged =>
        {
            report(WatchReport::Document { path, outcome })
        }
        QueueEvent::Progress { .. } => {}
        QueueEvent::Finished { job, report: r, .. } => {
            if let JobKind::SyncFolder { folder, .. } = &job.kind {
                report(WatchReport::Reconciled {
                    folder: folder.clone(),
                    indexed: r.indexed,
                    unchanged: r.unchanged,
                    moved: r.moved,
                    removed: r.removed,
                    failed: r.failed,
                });
            }
        }
        QueueEvent::Failed { job, error, retry_at_ms } => {
            let then = match retry_at_ms {
                Some(at) => format!("; tried again in {} s", ((at - now_ms()) / 1000).max(0)),
                None => String::new(),
            };
            report(WatchReport::Error { message: format!("{}: {error}{then}", job.kind.paths().join(", ")) });
        }
        QueueEvent::Maintained(Err(e)) => report(WatchReport::Error { message: format!("library upkeep failed: {e}") }),
        QueueEvent::Maintained(Ok(())) => {}
    }
}
