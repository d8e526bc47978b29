//! Domain types shared by every part of Quire: what an extractor produces, what a chunk is, what the store
//! keeps about a document and what a search returns.

use serde::{Deserialize, Serialize};

/// The kind of file a document came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pdf,
    Markdown,
    Text,
    Html,
    Code,
    Docx,
    Epub,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Markdown => "markdown",
            Format::Text => "text",
            Format::Html => "html",
            Format::Code => "code",
            Format::Docx => "docx",
            Format::Epub => "epub",
        }
    }

    /// The format of a file, judged by its extension; None for files Quire does not read.
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "pdf" => Format::Pdf,
            "md" | "markdown" | "mdown" | "mkd" => Format::Markdown,
            "txt" | "text" | "rst" | "org" | "adoc" | "log" => Format::Text,
            "html" | "htm" | "xhtml" => Format::Html,
            "docx" => Format::Docx,
            "epub" => Format::Epub,
            e if CODE_EXTENSIONS.contains(&e) => Format::Code,
            _ => return None,
        })
    }

    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "pdf" => Format::Pdf,
            "markdown" => Format::Markdown,
            "text" => Format::Text,
            "html" => Format::Html,
            "code" => Format::Code,
            "docx" => Format::Docx,
            "epub" => Format::Epub,
            _ => return None,
        })
    }
}

/// Extensions read as source code.
pub const CODE_EXTENSIONS: &[&str] = &[
    "rs", "py", "js", "mjs", "cjs", "ts", "tsx", "jsx", "svelte", "vue", "go", "java", "kt", "kts", "scala", "c", "h",
    "cc", "cpp", "cxx", "hpp", "hh", "cs", "swift", "m", "mm", "rb", "php", "pl", "pm", "lua", "r", "jl", "hs", "ml",
    "ex", "exs", "erl", "clj", "dart", "zig", "nim", "sh", "bash", "zsh", "fish", "ps1", "sql", "css", "scss", "less",
    "toml", "yaml", "yml", "json", "xml", "ini", "cfg", "conf", "cmake", "gradle", "proto", "tf",
];

/// One structural piece of an extracted document, in reading order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    pub kind: BlockKind,
    /// The block's text (raw: cleaning happens in the core, after extraction).
    pub text: String,
    /// 1-based physical page number (as a PDF viewer numbers pages), when the format has pages.
    pub page: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum BlockKind {
    /// A heading of the given level (1 = top).
    Heading { level: u8 },
    /// Body text: one or more paragraphs (separated by blank lines).
    Text,
    /// Preformatted text or source code, kept as is.
    Code,
}

/// What an extractor returns for one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtractedDoc {
    pub format: Format,
    pub title: Option<String>,
    /// Number of physical pages (PDF), or None.
    pub pages: Option<u32>,
    pub blocks: Vec<Block>,
}

/// A piece of a document as stored and searched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub doc_id: String,
    /// Position of the chunk in its document, from 0.
    pub index: u32,
    pub path: String,
    pub text: String,
    /// First and last 1-based physical page the chunk covers (None for formats without pages).
    pub page_start: Option<u32>,
    pub page_end: Option<u32>,
    /// Headings that enclose the chunk, outermost first.
    pub heading_path: Vec<String>,
    /// Offsets in characters (Unicode scalar values) into the document's cleaned text, end exclusive.
    pub char_start: u64,
    pub char_end: u64,
    /// Tokens of the embedding model in this chunk, special tokens included.
    pub tokens: u32,
    pub embedding_model: String,
}

impl Chunk {
    /// Stable id of a chunk: the document id and the chunk's position.
    pub fn id(&self) -> String {
        format!("{}:{}", self.doc_id, self.index)
    }
}

/// Where a document stands in the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocStatus {
    /// Chunks are being written; not searchable, and redone on the next ingest.
    Indexing,
    Indexed,
    Failed,
}

impl DocStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocStatus::Indexing => "indexing",
            DocStatus::Indexed => "indexed",
            DocStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DocStatus> {
        Some(match s {
            "indexing" => DocStatus::Indexing,
            "indexed" => DocStatus::Indexed,
            "failed" => DocStatus::Failed,
            _ => return None,
        })
    }
}

/// What the library keeps about one source document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentRecord {
    pub id: String,
    pub path: String,
    pub format: Format,
    pub title: Option<String>,
    /// sha256 of the file's bytes, hex.
    pub content_hash: String,
    pub size: u64,
    /// Modification time, milliseconds since the Unix epoch.
    pub mtime_ms: i64,
    pub pages: Option<u32>,
    pub chunk_count: u32,
    pub status: DocStatus,
    /// Why the document failed, in words a person can read.
    pub error: Option<String>,
    pub embedding_model: String,
    /// When the record was last written, milliseconds since the Unix epoch.
    pub updated_ms: i64,
}

/// A stored chunk found by a search, with its score under the search that found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub chunk: Chunk,
    /// Higher is better. Vector search: cosine similarity; full text: BM25; fused: the fusion score.
    pub score: f32,
}

/// A chunk a search found, before the chunk itself is read: what fusion ranks. The store reads only the
/// candidates that make the final list ([`crate::Store::read_hits`]), not every candidate of both retrievers.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub doc_id: String,
    /// Position of the chunk in its document, from 0.
    pub index: u32,
    /// Higher is better, as in [`Hit::score`].
    pub score: f32,
    /// Where the store found the row, to read it again quickly (a hint: the store checks it, as the row may
    /// have moved since). `None` when the store has no such handle.
    pub row: Option<u64>,
}

impl Candidate {
    /// The [`Chunk::id`] of the chunk found.
    pub fn id(&self) -> String {
        format!("{}:{}", self.doc_id, self.index)
    }

    /// The candidate of a hit already read.
    pub fn of(hit: &Hit) -> Candidate {
        Candidate { doc_id: hit.chunk.doc_id.clone(), index: hit.chunk.index, score: hit.score, row: None }
    }
}

/// Which retrievers a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    Vector,
    Fulltext,
    #[default]
    Hybrid,
}

impl SearchMode {
    pub fn parse(s: &str) -> Option<SearchMode> {
        Some(match s {
            "vector" => SearchMode::Vector,
            "fulltext" => SearchMode::Fulltext,
            "hybrid" => SearchMode::Hybrid,
            _ => return None,
        })
    }
}

/// Counts that describe the library.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LibraryStats {
    pub documents: u64,
    pub indexed: u64,
    pub failed: u64,
    pub chunks: u64,
    /// Bytes the store takes on disk.
    pub disk_bytes: u64,
    pub embedding_model: Option<String>,
}

/// One source given to the model for an answer: one chunk, or neighbouring chunks of a document merged.
/// Its number is how the answer cites it ("[1]").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// 1-based number, as cited.
    pub n: u32,
    pub doc_id: String,
    pub path: String,
    pub title: Option<String>,
    pub page_start: Option<u32>,
    pub page_end: Option<u32>,
    pub heading_path: Vec<String>,
    /// Indexes of the chunks the source covers, in order.
    pub chunk_indexes: Vec<u32>,
    /// The text given to the model.
    pub text: String,
    /// The retrieval score of its best chunk (fused, or the reranker's when one ran).
    pub score: f32,
}

/// A citation in an answer: a source number the answer used, and where it points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    pub n: u32,
    pub doc_id: String,
    pub path: String,
    pub title: Option<String>,
    pub page_start: Option<u32>,
    pub page_end: Option<u32>,
    pub heading_path: Vec<String>,
    /// The exact text of the source the number refers to.
    pub snippet: String,
}

impl Citation {
    /// `[n] title-or-file-name — path, p. 12` (or `pp. 12–14`; no pages for formats without them).
    pub fn line(&self) -> String {
        let name =
            self.title.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).unwrap_or_else(|| {
                std::path::Path::new(&self.path)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| self.path.clone())
            });
        let pages = match (self.page_start, self.page_end) {
            (Some(a), Some(b)) if b > a => format!(", pp. {a}–{b}"),
            (Some(a), _) => format!(", p. {a}"),
            _ => String::new(),
        };
        format!("[{}] {name} — {}{pages}", self.n, self.path)
    }

    pub fn of(source: &Source) -> Citation {
        Citation {
            n: source.n,
            doc_id: source.doc_id.clone(),
            path: source.path.clone(),
            title: source.title.clone(),
            page_start: source.page_start,
            page_end: source.page_end,
            heading_path: source.heading_path.clone(),
            snippet: source.text.clone(),
        }
    }
}

/// The time now, in milliseconds since the Unix epoch (the unit of every `*_ms` field).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
