//! Where Quire keeps its data. The desktop app and the `quire` command line use the same folder.

use std::path::PathBuf;

/// The app's identifier, as in `tauri.conf.json`; the name of the data folder.
pub const APP_ID: &str = "dev.quire.desktop";

/// The default data folder: `$QUIRE_DATA_DIR` if set, else the OS app-data folder joined with [`APP_ID`]
/// (`~/.local/share/dev.quire.desktop` on Linux), the folder Tauri's `app_data_dir()` gives the desktop app.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("QUIRE_DATA_DIR") {
        return PathBuf::from(dir);
    }
    dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join(APP_ID)
}
