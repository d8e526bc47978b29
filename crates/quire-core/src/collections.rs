//! Collections: named groups of files and folders of the library, to ask within (`quire ask --collection`).
//! Kept in `<data_dir>/collections.json`; a collection names paths, so documents added under them later
//! belong to it too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::DocumentRecord;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Collections {
    /// Collection name → absolute paths of files and folders.
    pub collections: BTreeMap<String, Vec<String>>,
    #[serde(skip)]
    file: PathBuf,
}

impl Collections {
    /// The collections of a data folder (none yet: empty).
    pub fn load(data_dir: &Path) -> Result<Collections> {
        let file = data_dir.join("collections.json");
        let mut c = match std::fs::read_to_string(&file) {
            Ok(text) => serde_json::from_str::<Collections>(&text)
                .map_err(|e| Error::InvalidInput(format!("{} is damaged: {e}", file.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Collections::default(),
            Err(e) => return Err(Error::io(&file, e)),
        };
        c.file = file;
        Ok(c)
    }

    /// Writes the collections atomically (see [`crate::paths::write_atomic`]).
    pub fn save(&self) -> Result<()> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::InvalidInput(e.to_string()))?;
        crate::paths::write_atomic(&self.file, &text)
    }

    /// Adds paths to a collection, creating it.
    pub fn add(&mut self, name: &str, paths: &[PathBuf]) -> Result<()> {
        let name = name.trim();
        if name.is_empty() {
            return Err(Error::InvalidInput("a collection needs a name".into()));
        }
        let entry = self.collections.entry(name.to_string()).or_default();
        for p in paths {
            let p = std::fs::canonicalize(p).map_err(|e| Error::io(p, e))?.display().to_string();
            if !entry.contains(&p) {
                entry.push(p);
            }
        }
        Ok(())
    }

    /// Removes a collection (the documents stay in the library). False when there was none by that name.
    pub fn remove(&mut self, name: &str) -> bool {
        self.collections.remove(name).is_some()
    }

    /// The ids of the documents in a collection.
    pub fn doc_ids(&self, name: &str, docs: &[DocumentRecord]) -> Result<Vec<String>> {
        let Some(paths) = self.collections.get(name) else {
            let known: Vec<&str> = self.collections.keys().map(String::as_str).collect();
            return Err(Error::InvalidInput(if known.is_empty() {
                format!("there is no collection {name:?}: there are no collections yet")
            } else {
                format!("there is no collection {name:?}; there are: {}", known.join(", "))
            }));
        };
        Ok(docs
            .iter()
            .filter(|d| paths.iter().any(|p| Path::new(&d.path).starts_with(p)))
            .map(|d| d.id.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{DocStatus, Format};

    fn doc(id: &str, path: &str) -> DocumentRecord {
        DocumentRecord {
            id: id.into(),
            path: path.into(),
            format: Format::Text,
            title: None,
            content_hash: String::new(),
            size: 0,
            mtime_ms: 0,
            pages: None,
            chunk_count: 0,
            status: DocStatus::Indexed,
            error: None,
            embedding_model: String::new(),
            updated_ms: 0,
        }
    }

    #[test]
    fn collections_round_trip_and_select_documents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).expect("mkdir");
        let mut c = Collections::load(dir.path()).expect("load");
        c.add("work", std::slice::from_ref(&work)).expect("add");
        c.save().expect("save");
        let c = Collections::load(dir.path()).expect("reload");
        let w = std::fs::canonicalize(&work).expect("canon").display().to_string();
        let docs = [doc("a", &format!("{w}/a.txt")), doc("b", "/elsewhere/b.txt"), doc("c", &format!("{w}x/c.txt"))];
        assert_eq!(c.doc_ids("work", &docs).expect("ids"), vec!["a".to_string()]);
        let err = c.doc_ids("home", &docs).expect_err("unknown").to_string();
        assert!(err.contains("there are: work"), "{err}");
    }
}
