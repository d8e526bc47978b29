//! Indexing in the background: every import (a drop, the Add buttons, a re-index, a retry) and every sync of a
//! watched folder is a job of the durable queue (`quire_app::jobs`, kept in the data folder, so a job
//! interrupted by a crash or a kill runs again at the next start). One runner takes the jobs in turn, the
//! user's before background syncs, and reports every step to every window through the `ingest` event
//! (mirrored by `IngestNotice` in `ui/src/lib/ipc/types.ts`); changes of the queue itself (pause, jobs set
//! aside) go out as the `queue` event.

use std::path::PathBuf;
use std::time::Duration;

use quire_app::jobs::{Next, QueueEvent, QueueView, run_one};
use quire_core::jobs::{JobKind, Priority};
use quire_core::library::{DocOutcome, IngestEvent, IngestStage};
use quire_core::watched::WatchedFolder;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::state::AppState;

/// The event every import reports on.
pub const INGEST_EVENT: &str = "ingest";
/// The event that carries the queue's state when it changes.
pub const QUEUE_EVENT: &str = "queue";
/// The store's upkeep runs once the queue has been idle this long after writes.
const MAINTAIN_AFTER: Duration = Duration::from_secs(30);

/// One step of an import, as broadcast. `batch` is the job's id in the queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum IngestNotice {
    Queued {
        batch: u64,
        paths: Vec<String>,
        /// A sync of watched folders or an automatic retry, not something the user asked for now.
        background: bool,
    },
    Scanned {
        batch: u64,
        files: usize,
        bytes: u64,
        paths: Vec<String>,
    },
    Stage {
        batch: u64,
        path: String,
        stage: IngestStage,
    },
    Document {
        batch: u64,
        path: String,
        bytes: u64,
        outcome: DocOutcome,
    },
    Finished {
        batch: u64,
        indexed: usize,
        unchanged: usize,
        failed: usize,
        removed: usize,
        /// Renamed or moved files whose chunks moved with them (no embedding).
        moved: usize,
        cancelled: bool,
        seconds: f64,
        background: bool,
    },
    Error {
        batch: u64,
        kind: String,
        message: String,
        /// When the job runs again (milliseconds since the Unix epoch); absent when it will not.
        retry_at_ms: Option<i64>,
    },
}

fn emit<R: Runtime>(app: &AppHandle<R>, notice: IngestNotice) {
    if let Err(error) = app.emit(INGEST_EVENT, &notice) {
        tracing::warn!(%error, "could not report import progress to the windows");
    }
}

/// Tells the windows what the queue holds now.
fn emit_queue<R: Runtime>(app: &AppHandle<R>) {
    let view: QueueView = app.state::<AppState>().queue.view();
    if let Err(error) = app.emit(QUEUE_EVENT, &view) {
        tracing::warn!(%error, "could not report the indexing queue to the windows");
    }
}

/// Queues a job (saved before this returns) and returns its id; it runs in the background.
pub fn enqueue<R: Runtime>(app: &AppHandle<R>, kind: JobKind, priority: Priority) -> crate::Result<u64> {
    let paths = kind.paths();
    let id = app.state::<AppState>().queue.push(kind, priority)?;
    queued(app, id, paths, priority == Priority::Background);
    Ok(id)
}

/// Tells the windows a job was queued.
pub fn queued<R: Runtime>(app: &AppHandle<R>, id: u64, paths: Vec<String>, background: bool) {
    emit(app, IngestNotice::Queued { batch: id, paths, background });
}

/// Queues the user's import of `paths` (into `collection`; `force`: unchanged files too).
pub fn import<R: Runtime>(
    app: &AppHandle<R>,
    paths: Vec<PathBuf>,
    force: bool,
    collection: Option<String>,
) -> crate::Result<u64> {
    let paths = paths.into_iter().map(|p| p.display().to_string()).collect();
    enqueue(app, JobKind::Import { paths, force, collection }, Priority::User)
}

/// Queues a comparison of each watched folder with the library (as `quire watch sync` does). Returns the job ids.
pub fn sync_watched<R: Runtime>(
    app: &AppHandle<R>,
    folders: &[WatchedFolder],
    reason: &str,
    priority: Priority,
) -> crate::Result<Vec<u64>> {
    folders
        .iter()
        .map(|f| enqueue(app, JobKind::SyncFolder { folder: f.path.clone(), reason: reason.into() }, priority))
        .collect()
}

/// Starts the runner: takes the queue's jobs in turn for the app's lifetime (the ones left from the last run
/// first), opening the library when a job needs it, and runs the store's upkeep when idle after writes.
pub fn start_runner<R: Runtime>(app: &AppHandle<R>) {
    // Every change of the queue, whoever made it (a command, the runner, the watched folders' follow), goes
    // out as the `queue` event.
    let mut changes = app.state::<AppState>().queue.changes();
    let watcher = app.clone();
    tauri::async_runtime::spawn(async move {
        while changes.changed().await.is_ok() {
            emit_queue(&watcher);
        }
    });
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let events = |event: QueueEvent| report(&app, event);
        loop {
            match state.queue.next(MAINTAIN_AFTER).await {
                Next::Job(job) => match state.core().await {
                    Ok(core) => run_one(&state.queue, &core.library, state.data_dir(), job, &events).await,
                    Err(error) => {
                        let retry_at_ms = state.queue.fail_to_start(&job, &error.to_string());
                        emit(
                            &app,
                            IngestNotice::Error {
                                batch: job.id,
                                kind: error.kind().to_string(),
                                message: error.to_string(),
                                retry_at_ms,
                            },
                        );
                    }
                },
                Next::Idle => {
                    if let Some(core) = state.core_if_open().await {
                        state.queue.maintain(&core.library, &events).await;
                    }
                }
            }
        }
    });
}

fn report<R: Runtime>(app: &AppHandle<R>, event: QueueEvent) {
    match event {
        QueueEvent::Started { .. } => {}
        QueueEvent::Progress { job, event } => {
            let batch = job.id;
            let notice = match event {
                IngestEvent::Scanned { files, bytes } => {
                    IngestNotice::Scanned { batch, files, bytes, paths: job.kind.paths() }
                }
                IngestEvent::Stage { path, stage } => IngestNotice::Stage { batch, path, stage },
                IngestEvent::Document { path, bytes, outcome } => {
                    IngestNotice::Document { batch, path, bytes, outcome }
                }
            };
            emit(app, notice);
        }
        QueueEvent::Finished { job, report, cancelled, seconds } => {
            tracing::info!(job = job.id, indexed = report.indexed, failed = report.failed, "indexing job done");
            emit(
                app,
                IngestNotice::Finished {
                    batch: job.id,
                    indexed: report.indexed,
                    unchanged: report.unchanged,
                    failed: report.failed,
                    removed: report.removed,
                    moved: report.moved,
                    cancelled,
                    seconds,
                    background: job.priority == Priority::Background,
                },
            );
        }
        QueueEvent::Failed { job, error, retry_at_ms } => {
            let (kind, message) = (error.kind().to_string(), error.to_string());
            emit(app, IngestNotice::Error { batch: job.id, kind, message, retry_at_ms });
        }
        QueueEvent::Maintained(result) => {
            if let Err(error) = result {
                tracing::warn!(%error, "library upkeep failed; tried again after the next writes");
            }
        }
    }
}
