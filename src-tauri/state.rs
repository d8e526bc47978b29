//! What the shell keeps for the app's lifetime, shared by every command through [`tauri::State`].

use std::path::{Path, PathBuf};

/// The shell's managed state.
#[derive(Debug, Clone)]
pub struct AppState {
    data_dir: PathBuf,
}

impl AppState {
    /// The state of an app whose library lives in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self { data_dir: data_dir.into() }
    }

    /// The folder that holds the library, its indexes and settings.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}
