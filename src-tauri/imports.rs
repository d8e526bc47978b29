//! The import queue: each import (a drop, the Add buttons, a re-index) is a batch; batches run one at a
//! time in the order they were queued, in the background, and report to every window through the `ingest`
//! event (mirrored by `IngestNotice` in `ui/src/lib/ipc/types.ts`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use quire_core::library::{DocOutcome, IngestEvent, IngestOptions, IngestStage};
use quire_core::watched::WatchedFolder;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::state::{AppState, lock};

/// The event every import reports on.
pub const INGEST_EVENT: &str = "ingest";

/// One step of an import, as broadcast.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum IngestNotice {
    Queued {
        batch: u64,
        paths: Vec<String>,
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
    },
    Error {
        batch: u64,
        kind: String,
        message: String,
    },
}

/// An import to run.
pub struct Batch {
    pub paths: Vec<PathBuf>,
    /// Index even unchanged files again.
    pub force: bool,
    /// Add the imported paths to this collection once the batch is done.
    pub collection: Option<String>,
    /// A sync of this watched folder (its rules applied, documents whose files are gone removed, renamed
    /// files keeping their chunks) instead of an import of `paths`.
    pub watched: Option<WatchedFolder>,
}

fn emit<R: Runtime>(app: &AppHandle<R>, notice: IngestNotice) {
    if let Err(error) = app.emit(INGEST_EVENT, &notice) {
        tracing::warn!(%error, "could not report import progress to the windows");
    }
}

/// Queues a batch and returns its number at once; the batch runs in the background.
pub fn enqueue<R: Runtime>(app: &AppHandle<R>, batch: Batch) -> u64 {
    let state = app.state::<AppState>();
    let number = state.batches.fetch_add(1, Ordering::SeqCst) + 1;
    let shown: Vec<String> = batch.paths.iter().map(|p| p.display().to_string()).collect();
    emit(app, IngestNotice::Queued { batch: number, paths: shown.clone() });
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let _turn = state.import_lock.lock().await;
        if number <= state.cancelled_before.load(Ordering::SeqCst) {
            emit(&app, finished(number, Default::default(), true, 0.0));
            return;
        }
        run(&app, &state, number, batch, shown).await;
    });
    number
}

/// Queues a sync of each watched folder (`quire_app::watch::sync_folder`, as `quire watch sync` does).
/// Returns the batch numbers.
pub fn sync_watched<R: Runtime>(app: &AppHandle<R>, folders: &[WatchedFolder]) -> Vec<u64> {
    folders
        .iter()
        .map(|f| {
            let batch =
                Batch { paths: vec![PathBuf::from(&f.path)], force: false, collection: None, watched: Some(f.clone()) };
            enqueue(app, batch)
        })
        .collect()
}

/// Stops the running batch after its current document and drops the queued ones.
pub fn cancel_all(state: &AppState) {
    state.cancelled_before.store(state.batches.load(Ordering::SeqCst), Ordering::SeqCst);
    if let Some(flag) = lock(&state.running_import).as_ref() {
        flag.store(true, Ordering::Relaxed);
    }
}

#[derive(Default)]
struct Counts {
    indexed: usize,
    unchanged: usize,
    failed: usize,
    removed: usize,
    moved: usize,
}

fn finished(batch: u64, c: Counts, cancelled: bool, seconds: f64) -> IngestNotice {
    IngestNotice::Finished {
        batch,
        indexed: c.indexed,
        unchanged: c.unchanged,
        failed: c.failed,
        removed: c.removed,
        moved: c.moved,
        cancelled,
        seconds,
    }
}

async fn run<R: Runtime>(app: &AppHandle<R>, state: &AppState, number: u64, batch: Batch, shown: Vec<String>) {
    let started = Instant::now();
    let fail = |error: crate::Error| {
        tracing::warn!(batch = number, %error, "an import could not run");
        emit(app, IngestNotice::Error { batch: number, kind: error.kind().to_string(), message: error.to_string() });
    };
    let core = match state.core().await {
        Ok(core) => core,
        Err(error) => return fail(error),
    };
    let cancel = Arc::new(AtomicBool::new(false));
    *lock(&state.running_import) = Some(Arc::clone(&cancel));
    let progress = |event: IngestEvent| {
        let notice = match event {
            IngestEvent::Scanned { files, bytes } => {
                IngestNotice::Scanned { batch: number, files, bytes, paths: shown.clone() }
            }
            IngestEvent::Stage { path, stage } => IngestNotice::Stage { batch: number, path, stage },
            IngestEvent::Document { path, bytes, outcome } => {
                IngestNotice::Document { batch: number, path, bytes, outcome }
            }
        };
        emit(app, notice);
    };
    let result = match &batch.watched {
        Some(folder) => quire_app::watch::sync_folder(&core.library, state.data_dir(), folder, &progress)
            .await
            .map_err(crate::Error::from),
        None => {
            let options = IngestOptions { prune_missing: false, force: batch.force };
            core.library.ingest(&batch.paths, &options, &progress, Some(&cancel)).await.map_err(crate::Error::from)
        }
    };
    *lock(&state.running_import) = None;
    let report = match result {
        Ok(report) => report,
        Err(error) => return fail(error),
    };
    if let Some(name) = &batch.collection
        && let Err(error) = add_to_collection(state, name, &batch.paths)
    {
        return fail(error);
    }
    let counts = Counts {
        indexed: report.indexed,
        unchanged: report.unchanged,
        failed: report.failed,
        removed: report.removed,
        moved: report.moved,
    };
    tracing::info!(batch = number, indexed = counts.indexed, failed = counts.failed, "import done");
    emit(app, finished(number, counts, cancel.load(Ordering::Relaxed), started.elapsed().as_secs_f64()));
}

fn add_to_collection(state: &AppState, name: &str, paths: &[PathBuf]) -> crate::Result<()> {
    let mut collections = quire_core::collections::Collections::load(state.data_dir())?;
    collections.add(name, paths)?;
    collections.save()?;
    Ok(())
}
