//! The watched folders followed live while the app runs (`quire_app::watch::follow`): their stable changes,
//! and a full comparison at start, after lost events and every ten minutes, become background jobs of the
//! indexing queue. How each folder is watched (natively, by polling and why, or not at all and why) is kept
//! for the library screen and broadcast as the `watching` event when it changes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use quire_app::watch::{WatchReport, WatchRunOptions, follow};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::state::{AppState, lock};

/// The event that carries every watched folder's [`FolderStatus`] when one changes.
pub const WATCHING_EVENT: &str = "watching";

/// How a watched folder is followed now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum FolderStatus {
    /// The system tells the app about changes.
    Native,
    /// The folder is scanned every few seconds (a network drive, or the system's watch limit reached).
    Poll { reason: String },
    /// The folder cannot be watched now (missing, unreadable); its documents are kept.
    Unavailable { reason: String },
}

/// The live follow of the watched folders.
#[derive(Default)]
pub struct Watching {
    task: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
    status: Mutex<BTreeMap<String, FolderStatus>>,
}

impl Watching {
    /// Each watched folder's status, by path.
    pub fn status(&self) -> BTreeMap<String, FolderStatus> {
        lock(&self.status).clone()
    }
}

/// (Re)starts following the watched folders, as they are listed now: at start-up and whenever the list changes.
pub fn restart<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    if let Some(task) = lock(&state.watching.task).take() {
        task.abort();
    }
    lock(&state.watching.status).clear();
    let handle = app.clone();
    let task = tauri::async_runtime::spawn(async move {
        let app = handle;
        let state = app.state::<AppState>();
        let report = |report: WatchReport| on_report(&app, report);
        if let Err(error) = follow(&state.queue, state.data_dir(), &WatchRunOptions::default(), &report).await {
            tracing::warn!(%error, "the watched folders cannot be followed");
        }
    });
    *lock(&state.watching.task) = Some(task);
    emit_status(app);
}

fn on_report<R: Runtime>(app: &AppHandle<R>, report: WatchReport) {
    let status = match report {
        WatchReport::Watching { folder, reason, .. } => match reason {
            None => (folder, FolderStatus::Native),
            Some(reason) => (folder, FolderStatus::Poll { reason }),
        },
        WatchReport::Unavailable { folder, reason } => (folder, FolderStatus::Unavailable { reason }),
        WatchReport::Error { message } => return tracing::warn!(%message, "watching"),
        other => return tracing::debug!(?other, "watching"),
    };
    let state = app.state::<AppState>();
    let changed = lock(&state.watching.status).insert(status.0, status.1.clone()).as_ref() != Some(&status.1);
    if changed {
        emit_status(app);
    }
}

fn emit_status<R: Runtime>(app: &AppHandle<R>) {
    let status = app.state::<AppState>().watching.status();
    if let Err(error) = app.emit(WATCHING_EVENT, &status) {
        tracing::warn!(%error, "could not report the watched folders to the windows");
    }
}
