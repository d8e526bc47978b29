//! The commands the UI can call, one small function each: read the request, ask the core or the state,
//! return a serialisable answer or an [`Error`](crate::error::Error). Each one is registered in
//! `lib.rs` (`generate_handler!`), granted in `build.rs` (`COMMANDS`) and `capabilities/default.json`,
//! and wrapped in `ui/src/lib/ipc/commands.ts`.

use serde::Serialize;
use tauri::{AppHandle, Runtime, State};

use crate::state::AppState;

/// What the app knows about itself (mirrored by `AppInfo` in `ui/src/lib/ipc/types.ts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// The product name from tauri.conf.json: "Quire".
    pub name: String,
    /// The app's version (the crate's version).
    pub version: String,
    /// The data folder, for display (`QUIRE_DATA_DIR` or the OS app-data folder).
    pub data_dir: String,
}

/// The app's name, version and data folder.
#[tauri::command]
pub fn app_info<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> AppInfo {
    let package = app.package_info();
    AppInfo {
        name: package.name.clone(),
        version: package.version.to_string(),
        data_dir: state.data_dir().to_string_lossy().into_owned(),
    }
}
