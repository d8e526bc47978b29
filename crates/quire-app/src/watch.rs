//! Keeps the watched folders of a data folder in step with the library while it runs: each folder is compared
//! with the library at start (changes made while nothing was watching), then its stable changes from
//! `quire-watch` are synced as they come, and the whole folder is compared again when events may have been
//! lost and every `rescan_every`. The library's sync does the work: unchanged files cost nothing, renamed and
//! moved files keep their chunks, documents whose files are gone are removed.
//!
//! A watched folder that is missing (an unmounted drive) is reported and left alone, never emptied from the
//! library; it is tried again at the next periodic comparison.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use quire_core::collections::Collections;
use quire_core::library::{DocOutcome, IngestEvent, IngestReport, Library};
use quire_core::watched::{FolderRules, WatchedFolder, WatchedFolders};
use quire_core::{Error, PathFilter, Result};
use quire_watch::{Filter, FolderWatch, FsChange, Rules, WatchEvent, WatchMode, WatchOptions};

/// How the watched folders are followed.
#[derive(Debug, Clone)]
pub struct WatchRunOptions {
    pub watch: WatchOptions,
    /// How often every folder is compared with the library in full.
    pub rescan_every: Duration,
}

impl Default for WatchRunOptions {
    fn default() -> Self {
        WatchRunOptions { watch: WatchOptions::default(), rescan_every: Duration::from_secs(10 * 60) }
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
    let root = PathBuf::from(&folder.path);
    if !root.is_dir() {
        return Err(Error::InvalidInput(format!(
            "the watched folder {} is not there (a drive not mounted?); its documents are kept",
            folder.path
        )));
    }
    let filters = Filters(vec![folder_filter(folder)?]);
    let report = library.sync(&[root], &filters, progress, None).await?;
    if let Some(name) = &folder.collection {
        let mut collections = Collections::load(data_dir)?;
        collections.add(name, &[PathBuf::from(&folder.path)])?;
        collections.save()?;
    }
    Ok(report)
}

struct Followed {
    folder: WatchedFolder,
    /// None while the folder cannot be watched.
    watch: Option<FolderWatch>,
}

/// Follows every watched folder of `data_dir` until `stop` completes, reporting each step to `report`.
pub async fn run_watch(
    library: &Library,
    data_dir: &Path,
    options: &WatchRunOptions,
    report: &(dyn Fn(WatchReport) + Send + Sync),
    stop: impl Future<Output = ()>,
) -> Result<()> {
    let folders = WatchedFolders::load(data_dir)?.folders;
    if folders.is_empty() {
        return Err(Error::InvalidInput("no folder is watched: add one with `quire watch add FOLDER`".into()));
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, WatchEvent)>();
    let mut followed: Vec<Followed> = folders.into_iter().map(|folder| Followed { folder, watch: None }).collect();
    for index in 0..followed.len() {
        start_and_reconcile(library, data_dir, options, &mut followed, index, &tx, report, "start").await;
    }

    tokio::pin!(stop);
    let mut rescan = tokio::time::interval_at(tokio::time::Instant::now() + options.rescan_every, options.rescan_every);
    loop {
        tokio::select! {
            () = &mut stop => return Ok(()),
            _ = rescan.tick() => {
                for index in 0..followed.len() {
                    start_and_reconcile(library, data_dir, options, &mut followed, index, &tx, report, "periodic")
                        .await;
                }
            }
            Some((index, event)) = rx.recv() => {
                let mut changes = Vec::new();
                let mut rescans = Vec::new();
                let mut next = Some((index, event));
                // Everything already waiting goes into one sync, so a move reported in two batches is still
                // seen as one.
                while let Some((index, event)) = next {
                    match event {
                        WatchEvent::Changes(batch) => changes.extend(batch),
                        WatchEvent::Rescan { reason } => rescans.push((index, reason)),
                        WatchEvent::Mode(mode) => report(mode_report(&followed[index].folder.path, &mode)),
                    }
                    next = rx.try_recv().ok();
                }
                if !changes.is_empty() {
                    sync_changes(library, &followed, changes, report).await;
                }
                rescans.dedup_by_key(|(index, _)| *index);
                for (index, reason) in rescans {
                    start_and_reconcile(library, data_dir, options, &mut followed, index, &tx, report, &reason).await;
                }
            }
        }
    }
}

/// Starts the watch of a folder if it is not running, then compares the folder with the library.
#[allow(clippy::too_many_arguments)]
async fn start_and_reconcile(
    library: &Library,
    data_dir: &Path,
    options: &WatchRunOptions,
    followed: &mut [Followed],
    index: usize,
    tx: &tokio::sync::mpsc::UnboundedSender<(usize, WatchEvent)>,
    report: &(dyn Fn(WatchReport) + Send + Sync),
    reason: &str,
) {
    let entry = &mut followed[index];
    let folder = entry.folder.path.clone();
    if entry.watch.as_ref().is_some_and(|w| !w.root().is_dir()) {
        entry.watch = None;
    }
    if entry.watch.is_none() {
        let started = folder_filter(&entry.folder).and_then(|filter| {
            let tx = tx.clone();
            FolderWatch::start(filter, options.watch.clone(), move |event| {
                let _ = tx.send((index, event));
            })
            .map_err(|e| Error::InvalidInput(e.to_string()))
        });
        match started {
            Ok(watch) => {
                report(mode_report(&folder, watch.mode()));
                entry.watch = Some(watch);
            }
            Err(e) => {
                report(WatchReport::Unavailable { folder, reason: e.to_string() });
                return;
            }
        }
    }
    report(WatchReport::Reconciling { folder: folder.clone(), reason: reason.to_string() });
    let progress = |event: IngestEvent| document_report(event, report);
    match sync_folder(library, data_dir, &entry.folder, &progress).await {
        Ok(r) => {
            if r.indexed + r.moved + r.removed > 0
                && let Err(e) = library.store().maintain().await
            {
                report(WatchReport::Error { message: format!("library upkeep failed: {e}") });
            }
            report(WatchReport::Reconciled {
                folder,
                indexed: r.indexed,
                unchanged: r.unchanged,
                moved: r.moved,
                removed: r.removed,
                failed: r.failed,
            });
        }
        Err(e) => report(WatchReport::Error { message: format!("{folder}: {e}") }),
    }
}

fn document_report(event: IngestEvent, report: &(dyn Fn(WatchReport) + Send + Sync)) {
    if let IngestEvent::Document { path, outcome, .. } = event
        && outcome != DocOutcome::Unchanged
    {
        report(WatchReport::Document { path, outcome });
    }
}

/// Syncs the changed paths of one or more folders in one go (a move between two watched folders keeps its
/// chunks too).
async fn sync_changes(
    library: &Library,
    followed: &[Followed],
    changes: Vec<FsChange>,
    report: &(dyn Fn(WatchReport) + Send + Sync),
) {
    let mut paths: Vec<PathBuf> = changes.iter().map(|c| c.path().to_path_buf()).collect();
    paths.sort();
    paths.dedup();
    let filters = match followed.iter().map(|f| folder_filter(&f.folder)).collect::<Result<Vec<_>>>() {
        Ok(filters) => Filters(filters),
        Err(e) => return report(WatchReport::Error { message: e.to_string() }),
    };
    tracing::debug!(paths = paths.len(), "syncing watched changes");
    let progress = |event: IngestEvent| document_report(event, report);
    if let Err(e) = library.sync(&paths, &filters, &progress, None).await {
        report(WatchReport::Error { message: format!("could not apply changes: {e}") });
    }
}
