//! Quire's document loaders: PDF, Markdown, plain text, HTML, source code, DOCX and EPUB, turned into
//! [`ExtractedDoc`]s of raw text blocks (headings, text, code) with 1-based physical page numbers where the format
//! has pages. Cleaning (NFKC, de-hyphenation, invisible characters) is the core's job, not this crate's.
//!
//! Parsers meet hostile files: pdf-extract panics by design, lopdf can overflow its stack or try to allocate
//! terabytes, archives can be zip bombs. So the app never calls [`extract_file`] itself: it runs in a worker
//! process ([`worker_main`], started as `<exe> __worker extract`), with its address space capped, and the app
//! talks to it through [`ProcessExtractor`], which implements [`quire_core::Extractor`]. A crash, hang or memory
//! blow-up fails that one document with a readable [`ExtractError`]; the next document gets a fresh worker.
//!
//! Inside the worker, [`extract_file`] still guards itself: it reads at most [`Limits::max_file_bytes`], caps
//! what archives may unpack ([`Limits::max_unpacked_bytes`], [`Limits::max_zip_entries`]) and what text a
//! document may produce ([`Limits::max_text_bytes`]), and walks trees without recursion.

use std::io::Read;
use std::path::Path;

use quire_core::{Block, BlockKind, ExtractError, ExtractedDoc, Format};
use serde::{Deserialize, Serialize};

mod cmap;
mod docx;
mod epub;
mod html;
mod markdown;
mod pdf;
mod process;
mod text;
pub mod worker;
mod xml;
mod zipread;

pub use process::{ExtractorOptions, ProcessExtractor};
pub use worker::{ExtractRequest, WORKER_NAME, worker_main};

const MB: u64 = 1024 * 1024;

/// Bounds on what one document may cost. The defaults suit a desktop library; the worker takes
/// `--max-file-mb` from its command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Files larger than this are refused before they are read ([`ExtractError::TooLarge`]).
    pub max_file_bytes: u64,
    /// Total bytes an archive (DOCX, EPUB) may inflate to, over all the entries read.
    pub max_unpacked_bytes: u64,
    /// Entries an archive may have.
    pub max_zip_entries: usize,
    /// Text a document may produce, in bytes of UTF-8.
    pub max_text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_file_bytes: 512 * MB,
            max_unpacked_bytes: 512 * MB,
            max_zip_entries: 20_000,
            max_text_bytes: 256 * MB as usize,
        }
    }
}

impl Limits {
    /// The default limits with another file-size limit, in MiB.
    pub fn with_max_file_mb(mb: u64) -> Limits {
        Limits { max_file_bytes: mb.saturating_mul(MB), ..Limits::default() }
    }
}

/// Extracts the text of one file, in this process. Use it inside the extract worker (or on trusted input):
/// a hostile PDF can still crash or exhaust the process that runs it.
pub fn extract_file(path: &Path, format: Format, limits: &Limits) -> Result<ExtractedDoc, ExtractError> {
    let bytes = read_file(path, limits)?;
    extract_bytes(&bytes, format, limits)
}

/// Extracts the text of a file already in memory (see [`extract_file`]).
pub fn extract_bytes(bytes: &[u8], format: Format, limits: &Limits) -> Result<ExtractedDoc, ExtractError> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(too_large(bytes.len() as u64, limits.max_file_bytes));
    }
    let doc = match format {
        Format::Pdf => pdf::extract(bytes, limits)?,
        Format::Markdown => markdown::extract(&text::decode(bytes), limits)?,
        Format::Text => text::extract_text(&text::decode(bytes), limits)?,
        Format::Code => text::extract_code(&text::decode(bytes), limits)?,
        Format::Html => html::extract(&html::decode(bytes), limits)?,
        Format::Docx => docx::extract(bytes, limits)?,
        Format::Epub => epub::extract(bytes, limits)?,
    };
    if !doc.blocks.iter().any(|b| b.text.chars().any(|c| !c.is_whitespace())) {
        return Err(ExtractError::NoText(match format {
            Format::Pdf => "the PDF has no text layer; it may be scanned images".into(),
            _ => "the file contains no text".into(),
        }));
    }
    Ok(doc)
}

/// Reads a whole file, refusing files over the size limit before reading them.
fn read_file(path: &Path, limits: &Limits) -> Result<Vec<u8>, ExtractError> {
    let io = |e: std::io::Error| ExtractError::Io(format!("{}: {}", path.display(), io_words(&e)));
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(ExtractError::Io(format!("{} is a folder, not a file", path.display())));
    }
    if meta.len() > limits.max_file_bytes {
        return Err(too_large(meta.len(), limits.max_file_bytes));
    }
    // The file may grow while it is read: read one byte past the limit to notice.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limits.max_file_bytes.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(too_large(bytes.len() as u64, limits.max_file_bytes));
    }
    Ok(bytes)
}

pub(crate) fn too_large(size: u64, limit: u64) -> ExtractError {
    ExtractError::TooLarge(format!("the file is {}; the limit is {}", mb_words(size), mb_words(limit)))
}

/// "12.3 MB" (MiB, with one decimal below 10 MB).
pub(crate) fn mb_words(bytes: u64) -> String {
    let mb = bytes as f64 / MB as f64;
    if mb < 10.0 { format!("{mb:.1} MB") } else { format!("{mb:.0} MB") }
}

/// An I/O error in plain words.
pub(crate) fn io_words(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "the file does not exist".into(),
        PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Collects the blocks of a document, dropping empty ones and enforcing [`Limits::max_text_bytes`].
pub(crate) struct Blocks {
    blocks: Vec<Block>,
    bytes: usize,
    max_bytes: usize,
}

impl Blocks {
    pub(crate) fn new(limits: &Limits) -> Blocks {
        Blocks { blocks: Vec::new(), bytes: 0, max_bytes: limits.max_text_bytes }
    }

    pub(crate) fn heading(&mut self, level: u8, text: &str, page: Option<u32>) -> Result<(), ExtractError> {
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        self.push(BlockKind::Heading { level: level.clamp(1, 9) }, text, page)
    }

    pub(crate) fn text(&mut self, text: &str, page: Option<u32>) -> Result<(), ExtractError> {
        self.push(BlockKind::Text, text.trim().to_string(), page)
    }

    pub(crate) fn code(&mut self, text: &str, page: Option<u32>) -> Result<(), ExtractError> {
        self.push(BlockKind::Code, text.trim_matches(['\n', '\r']).trim_end().to_string(), page)
    }

    fn push(&mut self, kind: BlockKind, text: String, page: Option<u32>) -> Result<(), ExtractError> {
        if text.trim().is_empty() {
            return Ok(());
        }
        self.bytes += text.len();
        if self.bytes > self.max_bytes {
            return Err(ExtractError::TooLarge(format!(
                "its text is larger than the {} limit",
                mb_words(self.max_bytes as u64)
            )));
        }
        self.blocks.push(Block { kind, text, page });
        Ok(())
    }

    pub(crate) fn first_heading(&self, level: u8) -> Option<&str> {
        self.blocks.iter().find_map(|b| match b.kind {
            BlockKind::Heading { level: l } if l == level => Some(b.text.as_str()),
            _ => None,
        })
    }

    pub(crate) fn into_vec(self) -> Vec<Block> {
        self.blocks
    }
}

/// Collapses runs of whitespace to single spaces and trims; None for an empty result.
pub(crate) fn one_line(s: &str) -> Option<String> {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    (!t.is_empty()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_files_over_the_limit_before_reading() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.txt");
        let f = std::fs::File::create(&path).expect("create");
        f.set_len(3 * MB).expect("set_len");
        let err = extract_file(&path, Format::Text, &Limits::with_max_file_mb(2)).expect_err("too large");
        assert_eq!(err, ExtractError::TooLarge("the file is 3.0 MB; the limit is 2.0 MB".into()));
    }

    #[test]
    fn a_missing_file_is_an_io_error() {
        let err =
            extract_file(Path::new("/nonexistent/quire.txt"), Format::Text, &Limits::default()).expect_err("missing");
        assert!(matches!(&err, ExtractError::Io(m) if m.contains("does not exist")), "{err}");
    }

    #[test]
    fn empty_text_is_no_text() {
        let err = extract_bytes(b"  \n\n \t", Format::Text, &Limits::default()).expect_err("empty");
        assert!(matches!(err, ExtractError::NoText(_)), "{err}");
    }

    #[test]
    fn text_over_the_limit_is_refused() {
        let limits = Limits { max_text_bytes: 10, ..Limits::default() };
        let err = extract_bytes(b"one two three\n\nfour five six", Format::Text, &limits).expect_err("too much");
        assert!(matches!(err, ExtractError::TooLarge(_)), "{err}");
    }
}
