//! quire-extract on real documents and real bad inputs (from `scripts/fixtures.sh`, under
//! `$QUIRE_CACHE/fixtures`), in process and through the extract worker process.

mod formats;
mod isolation;
mod real_documents;

use std::path::PathBuf;

use quire_core::{Block, BlockKind, ExtractedDoc};

/// The fixtures folder; fails with what to run when it is missing.
pub fn fixtures() -> PathBuf {
    let cache = std::env::var_os("QUIRE_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(|| PathBuf::from(".cache"));
        base.join("quire")
    });
    let dir = cache.join("fixtures");
    assert!(
        dir.join("manifest.tsv").is_file(),
        "test fixtures are missing from {}: run `bash scripts/fixtures.sh` (scripts/test.sh runs it first)",
        dir.display()
    );
    dir
}

/// A fixture file, which must exist.
pub fn fixture(rel: &str) -> PathBuf {
    let path = fixtures().join(rel);
    assert!(path.is_file(), "fixture {} is missing: run `bash scripts/fixtures.sh`", path.display());
    path
}

/// The files of a fixture folder, sorted.
pub fn fixture_dir(rel: &str) -> Vec<PathBuf> {
    let dir = fixtures().join(rel);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}; run `bash scripts/fixtures.sh`", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty: run `bash scripts/fixtures.sh`", dir.display());
    files
}

/// The text of a document's blocks on one page, whitespace collapsed.
pub fn page_text(doc: &ExtractedDoc, page: u32) -> String {
    let text: Vec<&str> = doc.blocks.iter().filter(|b| b.page == Some(page)).map(|b| b.text.as_str()).collect();
    text.join(" ").split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn headings(doc: &ExtractedDoc) -> Vec<&Block> {
    doc.blocks.iter().filter(|b| matches!(b.kind, BlockKind::Heading { .. })).collect()
}

pub fn all_text(doc: &ExtractedDoc) -> String {
    doc.blocks.iter().map(|b| b.text.as_str()).collect::<Vec<_>>().join("\n")
}
