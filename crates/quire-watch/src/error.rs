//! The watcher's error type.

/// Why a folder cannot be watched.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the pattern {pattern:?} is not a valid glob: {reason}")]
    Pattern { pattern: String, reason: String },
    #[error("cannot watch {path}: {reason}")]
    Watch { path: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io { path: path.display().to_string(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
