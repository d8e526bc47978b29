//! Where Quire keeps its data. The desktop app and the `quire` command line use the same folder: the one in
//! `$QUIRE_DATA_DIR`, else the one the user chose in the app's settings, else the OS app-data folder.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The app's identifier, as in `tauri.conf.json`; the name of the data folder.
pub const APP_ID: &str = "dev.quire.desktop";

/// Entries of a data folder that show it holds Quire's data (any one of them).
const MARKERS: &[&str] = &["library", "settings.json", "conversations", "collections.json"];

/// Why the data folder is where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataDirSource {
    /// `$QUIRE_DATA_DIR` names it.
    Environment,
    /// The user chose it in the app's settings.
    Chosen,
    /// The OS app-data folder.
    Default,
}

/// The data folder and why it is there (see the module's documentation).
pub fn data_dir() -> (PathBuf, DataDirSource) {
    if let Some(dir) = std::env::var_os("QUIRE_DATA_DIR") {
        return (PathBuf::from(dir), DataDirSource::Environment);
    }
    if let Some(dir) = location_file().and_then(|file| read_location(&file)) {
        return (dir, DataDirSource::Chosen);
    }
    (os_data_dir(), DataDirSource::Default)
}

/// The data folder (see [`data_dir`]).
pub fn default_data_dir() -> PathBuf {
    data_dir().0
}

/// The OS app-data folder joined with [`APP_ID`] (`~/.local/share/dev.quire.desktop` on Linux), the folder
/// Tauri's `app_data_dir()` gives the desktop app.
pub fn os_data_dir() -> PathBuf {
    dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join(APP_ID)
}

/// The file that remembers the data folder the user chose: in the OS config folder, outside every data folder.
pub fn location_file() -> Option<PathBuf> {
    dirs::config_dir().map(|dir| dir.join(APP_ID).join("location.json"))
}

#[derive(Serialize, Deserialize)]
struct Location {
    data_dir: PathBuf,
}

/// The folder `file` names, when it names an absolute one. A missing or unreadable file names none: Quire
/// then uses the OS folder, and says where in its settings.
fn read_location(file: &Path) -> Option<PathBuf> {
    let text = std::fs::read(file).ok()?;
    match serde_json::from_slice::<Location>(&text) {
        Ok(location) if location.data_dir.is_absolute() => Some(location.data_dir),
        Ok(_) | Err(_) => {
            tracing::warn!(file = %file.display(), "the chosen data folder's record is unreadable; using the default");
            None
        }
    }
}

/// Records `dir` in `file` (atomically), or forgets the choice when `dir` is `None`.
fn write_location(file: &Path, dir: Option<&Path>) -> Result<()> {
    let Some(dir) = dir else {
        return match std::fs::remove_file(file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(file, e)),
            _ => Ok(()),
        };
    };
    let text = serde_json::to_vec_pretty(&Location { data_dir: dir.to_path_buf() })
        .map_err(|e| Error::InvalidInput(e.to_string()))?;
    write_atomic(file, &text)
}

/// Writes `bytes` to `file` through a synced temporary file renamed over it, so a reader (or a restart after a
/// crash) sees the old content or the new, never a part.
pub fn write_atomic(file: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let parent = file.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!("{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(file, e)
    })?;
    // The rename itself is made durable where the platform can sync a folder (best effort: a failure here
    // leaves the file written, and only a power cut could undo the rename).
    #[cfg(unix)]
    if let Ok(folder) = std::fs::File::open(parent) {
        let _ = folder.sync_all();
    }
    Ok(())
}

/// What [`relocate`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Relocation {
    /// The data was copied into the new folder (the old folder is left as it was).
    Copied { files: u64, bytes: u64 },
    /// The new folder already held Quire's data; it is used as it is.
    Existing,
}

/// Whether `dir` holds Quire's data.
pub fn holds_quire_data(dir: &Path) -> bool {
    MARKERS.iter().any(|m| dir.join(m).exists())
}

/// Makes `to` the data folder from the next start, copying the data of `from` into it first unless `to`
/// already holds Quire's data. `to` must be absolute, outside `from` (and `from` outside it), and either
/// missing, empty or a Quire data folder. The copy is made in a sibling folder renamed into place at the
/// end, so a failure leaves no half-filled folder; `from` is never changed.
pub fn relocate(from: &Path, to: &Path) -> Result<Relocation> {
    let file = location_file().ok_or_else(|| Error::InvalidInput("this system has no configuration folder".into()))?;
    relocate_with(&file, from, to)
}

/// Forgets the chosen data folder: the OS app-data folder is used from the next start.
pub fn forget_chosen_data_dir() -> Result<()> {
    match location_file() {
        Some(file) => write_location(&file, None),
        None => Ok(()),
    }
}

fn relocate_with(location: &Path, from: &Path, to: &Path) -> Result<Relocation> {
    if !to.is_absolute() {
        return Err(Error::InvalidInput(format!("{} is not a full path.", to.display())));
    }
    let from = std::fs::canonicalize(from).unwrap_or_else(|_| from.to_path_buf());
    let to = match std::fs::canonicalize(to) {
        Ok(path) => path,
        Err(_) => to.to_path_buf(),
    };
    if to == from {
        return Err(Error::InvalidInput("That is already the data folder.".into()));
    }
    if to.starts_with(&from) || from.starts_with(&to) {
        return Err(Error::InvalidInput(format!(
            "{} and the current data folder {} contain one another; choose a folder outside it.",
            to.display(),
            from.display()
        )));
    }
    let outcome = if holds_quire_data(&to) {
        Relocation::Existing
    } else {
        let empty = match std::fs::read_dir(&to) {
            Ok(mut entries) => entries.next().is_none(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => return Err(Error::io(&to, e)),
        };
        if !empty {
            return Err(Error::InvalidInput(format!(
                "{} is not empty. Choose an empty folder, or one that already holds a Quire library.",
                to.display()
            )));
        }
        copy_into_place(&from, &to)?
    };
    write_location(location, Some(&to))?;
    tracing::info!(from = %from.display(), to = %to.display(), ?outcome, "data folder changed");
    Ok(outcome)
}

/// Copies `from` to a sibling of `to`, then renames it to `to` (which is missing or empty).
fn copy_into_place(from: &Path, to: &Path) -> Result<Relocation> {
    let parent = to.parent().ok_or_else(|| Error::InvalidInput(format!("{} has no parent folder.", to.display())))?;
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let name = to.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = parent.join(format!(".{name}.quire-copy"));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| Error::io(&partial, e))?;
    }
    let mut counts = (0u64, 0u64);
    let copied = if from.exists() { copy_tree(from, &partial, &mut counts) } else { Ok(()) };
    let placed = copied.and_then(|()| {
        std::fs::create_dir_all(&partial).map_err(|e| Error::io(&partial, e))?;
        if to.exists() {
            std::fs::remove_dir(to).map_err(|e| Error::io(to, e))?;
        }
        std::fs::rename(&partial, to).map_err(|e| Error::io(to, e))
    });
    if let Err(error) = placed {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(error);
    }
    Ok(Relocation::Copied { files: counts.0, bytes: counts.1 })
}

fn copy_tree(from: &Path, to: &Path, counts: &mut (u64, u64)) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().map_err(|e| Error::io(&source, e))?;
        if kind.is_dir() {
            copy_tree(&source, &target, counts)?;
        } else if kind.is_file() {
            counts.1 += std::fs::copy(&source, &target).map_err(|e| Error::io(&source, e))?;
            counts.0 += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }

    #[test]
    fn a_library_is_copied_into_an_empty_folder_and_remembered() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let location = tmp.path().join("config/location.json");
        let from = tmp.path().join("old");
        write(&from.join("settings.json"), "{}");
        write(&from.join("library/chunks.lance/data/1.lance"), "vectors");
        let to = tmp.path().join("new/Quire");

        let outcome = relocate_with(&location, &from, &to).expect("relocate");

        assert_eq!(outcome, Relocation::Copied { files: 2, bytes: 9 });
        assert_eq!(std::fs::read_to_string(to.join("library/chunks.lance/data/1.lance")).expect("copied"), "vectors");
        assert!(from.join("settings.json").exists(), "the old folder was changed");
        assert_eq!(read_location(&location), Some(to.clone()));
        assert!(!tmp.path().join("new/.Quire.quire-copy").exists(), "the partial copy was left behind");
    }

    #[test]
    fn a_folder_that_already_holds_a_library_is_used_as_it_is() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let location = tmp.path().join("location.json");
        let from = tmp.path().join("old");
        write(&from.join("settings.json"), "{\"old\":1}");
        let to = tmp.path().join("elsewhere");
        write(&to.join("settings.json"), "{\"mine\":1}");

        assert_eq!(relocate_with(&location, &from, &to).expect("relocate"), Relocation::Existing);
        assert_eq!(std::fs::read_to_string(to.join("settings.json")).expect("kept"), "{\"mine\":1}");
        assert_eq!(read_location(&location), Some(to));
    }

    #[test]
    fn unsuitable_folders_are_refused_and_nothing_is_remembered() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let location = tmp.path().join("location.json");
        let from = tmp.path().join("old");
        write(&from.join("settings.json"), "{}");
        let busy = tmp.path().join("photos");
        write(&busy.join("cat.jpg"), "meow");

        let cases = [
            (busy.clone(), "is not empty"),
            (from.join("inner"), "contain one another"),
            (tmp.path().to_path_buf(), "contain one another"),
            (from.clone(), "already the data folder"),
            (PathBuf::from("relative/dir"), "not a full path"),
        ];
        for (to, why) in cases {
            let error = relocate_with(&location, &from, &to).expect_err("an unsuitable folder was accepted");
            assert!(error.to_string().contains(why), "{}: {error}", to.display());
        }
        assert!(!location.exists(), "a refused folder was remembered");
        assert_eq!(std::fs::read_to_string(busy.join("cat.jpg")).expect("untouched"), "meow");
    }

    #[test]
    fn the_choice_can_be_forgotten_and_a_damaged_record_names_no_folder() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let location = tmp.path().join("location.json");
        write_location(&location, Some(Path::new("/srv/quire"))).expect("write");
        assert_eq!(read_location(&location), Some(PathBuf::from("/srv/quire")));

        write_location(&location, None).expect("forget");
        assert_eq!(read_location(&location), None);
        write_location(&location, None).expect("forgetting twice is harmless");

        write(&location, "{ not json");
        assert_eq!(read_location(&location), None);
        write(&location, "{\"data_dir\": \"relative\"}");
        assert_eq!(read_location(&location), None);
    }
}
