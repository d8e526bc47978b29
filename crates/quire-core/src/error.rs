//! The core's error type. Every message is written for the person using the app.

use serde::{Deserialize, Serialize};

/// Why a document could not be extracted, in words a person can read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum ExtractError {
    #[error("unsupported file type: {0}")]
    Unsupported(String),
    #[error("the file is encrypted: {0}")]
    Encrypted(String),
    #[error("the file is damaged: {0}")]
    Damaged(String),
    #[error("no text found: {0}")]
    NoText(String),
    #[error("the file is too large: {0}")]
    TooLarge(String),
    #[error("the parser ran out of memory: {0}")]
    OutOfMemory(String),
    #[error("the parser took too long: {0}")]
    Timeout(String),
    #[error("the parser crashed: {0}")]
    Crashed(String),
    #[error("could not read the file: {0}")]
    Io(String),
}

/// Errors of the core and of the adapters behind its traits.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error("library store: {0}")]
    Store(String),
    #[error("model: {0}")]
    Model(String),
    #[error("the {name} worker stopped unexpectedly: {detail}")]
    WorkerCrashed { name: String, detail: String },
    #[error("the {name} worker did not answer within {secs} s")]
    WorkerTimeout { name: String, secs: u64 },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    InvalidInput(String),
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Error {
        Error::Io { path: path.as_ref().display().to_string(), source }
    }

    /// A short machine-readable name for the kind of error (used by the shell's `{kind, message}`).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Extract(_) => "extract",
            Error::Store(_) => "store",
            Error::Model(_) => "model",
            Error::WorkerCrashed { .. } => "worker_crashed",
            Error::WorkerTimeout { .. } => "worker_timeout",
            Error::Io { .. } => "io",
            Error::InvalidInput(_) => "invalid_input",
            Error::Cancelled => "cancelled",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
