//! Watched folders: folders the library keeps in step with, each optionally in a collection. Kept in
//! `<data_dir>/watched.json`. A sync of a watched folder is an incremental ingest of it that also removes the
//! documents whose files are gone or no longer included (see [`crate::library::Library::sync`]). Each folder
//! has its own rules: include and exclude glob patterns (relative to the folder) and a size limit; hidden,
//! temporary and lock files are always left out (the watcher applies the rules, see `quire-watch`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const FILE_NAME: &str = "watched.json";

/// A folder the library follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchedFolder {
    /// Absolute and canonical.
    pub path: String,
    /// The collection its documents belong to, if any.
    pub collection: Option<String>,
    /// When it was added, milliseconds since the Unix epoch.
    pub added_ms: i64,
    #[serde(default, flatten)]
    pub rules: FolderRules,
}

/// Which files of a watched folder belong to the library, beyond the hidden, temporary and lock files that
/// are always left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderRules {
    /// Glob patterns; when there are any, only files matching one are included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Glob patterns of files and folders to leave out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Files larger than this are left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchedFolders {
    pub folders: Vec<WatchedFolder>,
    #[serde(skip)]
    file: PathBuf,
}

impl WatchedFolders {
    /// The watched folders of a data folder (none yet: empty).
    pub fn load(data_dir: &Path) -> Result<WatchedFolders> {
        let file = data_dir.join(FILE_NAME);
        let mut w = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice::<WatchedFolders>(&bytes)
                .map_err(|e| Error::InvalidInput(format!("{} is damaged: {e}", file.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => WatchedFolders::default(),
            Err(e) => return Err(Error::io(&file, e)),
        };
        w.file = file;
        Ok(w)
    }

    /// Writes the list atomically (see [`crate::paths::write_atomic`]).
    pub fn save(&self) -> Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::InvalidInput(e.to_string()))?;
        crate::paths::write_atomic(&self.file, &text)
    }

    /// Starts watching `path` (a folder), in `collection` if given. A folder already watched gets the new
    /// collection and keeps its rules. A folder inside (or around) one already watched is refused: one watch
    /// covers a tree.
    pub fn add(&mut self, path: &Path, collection: Option<&str>, now_ms: i64) -> Result<WatchedFolder> {
        self.add_folder(path, collection, None, now_ms)
    }

    /// Like [`WatchedFolders::add`], and sets the folder's rules (also of a folder already watched). The caller
    /// checks that the patterns are valid globs.
    pub fn add_with_rules(
        &mut self,
        path: &Path,
        collection: Option<&str>,
        rules: FolderRules,
        now_ms: i64,
    ) -> Result<WatchedFolder> {
        if rules.max_bytes == Some(0) {
            return Err(Error::InvalidInput("the size limit must be more than 0".into()));
        }
        if let Some(empty) = rules.include.iter().chain(&rules.exclude).find(|p| p.trim().is_empty()) {
            return Err(Error::InvalidInput(format!("{empty:?} is not a pattern")));
        }
        self.add_folder(path, collection, Some(rules), now_ms)
    }

    fn add_folder(
        &mut self,
        path: &Path,
        collection: Option<&str>,
        rules: Option<FolderRules>,
        now_ms: i64,
    ) -> Result<WatchedFolder> {
        let canonical = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
        if !canonical.is_dir() {
            return Err(Error::InvalidInput(format!(
                "{} is not a folder; only folders can be watched.",
                path.display()
            )));
        }
        let collection = match collection.map(str::trim) {
            Some("") => return Err(Error::InvalidInput("a collection needs a name".into())),
            other => other.map(str::to_string),
        };
        let key = canonical.display().to_string();
        if let Some(existing) = self.folders.iter_mut().find(|f| f.path == key) {
            existing.collection = collection;
            if let Some(rules) = rules {
                existing.rules = rules;
            }
            return Ok(existing.clone());
        }
        if let Some(other) = self.folders.iter().find(|f| {
            let watched = Path::new(&f.path);
            canonical.starts_with(watched) || watched.starts_with(&canonical)
        }) {
            return Err(Error::InvalidInput(format!(
                "{} overlaps the watched folder {}; stop watching that one first.",
                key, other.path
            )));
        }
        let folder = WatchedFolder { path: key, collection, added_ms: now_ms, rules: rules.unwrap_or_default() };
        self.folders.push(folder.clone());
        self.folders.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(folder)
    }

    /// Stops watching `path` (its documents stay in the library). False when it was not watched.
    pub fn remove(&mut self, path: &Path) -> bool {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string();
        let before = self.folders.len();
        self.folders.retain(|f| f.path != key);
        self.folders.len() != before
    }

    /// The watched folders of `collection`.
    pub fn in_collection<'a>(&'a self, collection: &'a str) -> impl Iterator<Item = &'a WatchedFolder> + 'a {
        self.folders.iter().filter(move |f| f.collection.as_deref() == Some(collection))
    }

    /// Moves the watched folders of a collection out of it (when the collection is removed).
    pub fn forget_collection(&mut self, collection: &str) {
        for f in &mut self.folders {
            if f.collection.as_deref() == Some(collection) {
                f.collection = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folders() -> (tempfile::TempDir, WatchedFolders) {
        let dir = tempfile::tempdir().expect("tempdir");
        let w = WatchedFolders::load(dir.path()).expect("load");
        (dir, w)
    }

    #[test]
    fn folders_are_added_saved_and_read_back() {
        let (dir, mut w) = folders();
        let docs = dir.path().join("docs");
        std::fs::create_dir_all(docs.join("inner")).expect("mkdir");
        let added = w.add(&docs.join("inner/.."), Some("  Work "), 7).expect("add");
        assert_eq!(added.path, std::fs::canonicalize(&docs).expect("canon").display().to_string());
        assert_eq!(added.collection.as_deref(), Some("Work"));
        w.save().expect("save");

        let back = WatchedFolders::load(dir.path()).expect("load");
        assert_eq!(back.folders, vec![added.clone()]);
        assert_eq!(back.in_collection("Work").count(), 1);
        assert_eq!(back.in_collection("Home").count(), 0);

        // Adding it again changes only its collection.
        let again = w.add(&docs, None, 9).expect("again");
        assert_eq!((again.collection, again.added_ms), (None, 7));
        assert_eq!(w.folders.len(), 1);
    }

    #[test]
    fn files_missing_folders_and_overlapping_folders_are_refused() {
        let (dir, mut w) = folders();
        let docs = dir.path().join("docs");
        std::fs::create_dir_all(docs.join("inner")).expect("mkdir");
        std::fs::write(docs.join("a.txt"), "a").expect("write");
        w.add(&docs, None, 1).expect("add");

        let file = w.add(&docs.join("a.txt"), None, 2).expect_err("a file was watched");
        assert!(file.to_string().contains("not a folder"), "{file}");
        let missing = w.add(&dir.path().join("nowhere"), None, 2).expect_err("a missing folder was watched");
        assert_eq!(missing.kind(), "io");
        for overlapping in [docs.join("inner"), dir.path().to_path_buf()] {
            let error = w.add(&overlapping, None, 2).expect_err("an overlapping folder was watched");
            assert!(error.to_string().contains("overlaps the watched folder"), "{error}");
        }
        let nameless = w.add(&dir.path().join("docs"), Some(" "), 2).expect_err("an empty collection name");
        assert!(nameless.to_string().contains("needs a name"), "{nameless}");
        assert_eq!(w.folders.len(), 1);
    }

    #[test]
    fn removing_a_folder_or_its_collection() {
        let (dir, mut w) = folders();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir_all(&a).expect("mkdir");
        std::fs::create_dir_all(&b).expect("mkdir");
        w.add(&a, Some("Work"), 1).expect("add");
        w.add(&b, Some("Work"), 1).expect("add");

        w.forget_collection("Work");
        assert!(w.folders.iter().all(|f| f.collection.is_none()));
        assert!(w.remove(&a));
        assert!(!w.remove(&a), "removed twice");
        // A folder deleted from the disk can still be unwatched by its path.
        std::fs::remove_dir(&b).expect("rmdir");
        assert!(w.remove(&std::path::absolute(&b).expect("absolute")));
        assert!(w.folders.is_empty());
    }

    #[test]
    fn rules_are_saved_with_the_folder_and_kept_when_its_collection_changes() {
        let (dir, mut w) = folders();
        let docs = dir.path().join("docs");
        std::fs::create_dir_all(&docs).expect("mkdir");
        let rules = FolderRules { include: vec!["*.md".into()], exclude: vec!["drafts".into()], max_bytes: Some(5) };
        w.add_with_rules(&docs, None, rules.clone(), 1).expect("add");
        w.add(&docs, Some("Notes"), 2).expect("collection");
        w.save().expect("save");
        let back = WatchedFolders::load(dir.path()).expect("load");
        assert_eq!((&back.folders[0].rules, back.folders[0].collection.as_deref()), (&rules, Some("Notes")));

        let error = w.add_with_rules(&docs, None, FolderRules { max_bytes: Some(0), ..rules.clone() }, 3);
        assert!(error.expect_err("a zero limit").to_string().contains("more than 0"));
        let error = w.add_with_rules(&docs, None, FolderRules { exclude: vec![" ".into()], ..rules }, 3);
        assert!(error.expect_err("an empty pattern").to_string().contains("not a pattern"));
    }

    #[test]
    fn a_file_written_before_rules_existed_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = r#"{"folders":[{"path":"/x","collection":null,"added_ms":1}]}"#;
        std::fs::write(dir.path().join(FILE_NAME), old).expect("write");
        let w = WatchedFolders::load(dir.path()).expect("load");
        assert_eq!(w.folders[0].rules, FolderRules::default());
    }

    #[test]
    fn a_damaged_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE_NAME), "{ nope").expect("write");
        let error = WatchedFolders::load(dir.path()).expect_err("a damaged file was read");
        assert!(error.to_string().contains("is damaged"), "{error}");
    }
}
