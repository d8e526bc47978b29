use std::path::PathBuf;

use crate::Role;

/// Everything that can go wrong in this crate. Messages are written for the person running Quire.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error("the {role} model {file} is not installed (looked in {dir}); run `scripts/models.sh` to download it")]
    NotInstalled { role: Role, file: &'static str, dir: PathBuf },

    #[error(
        "{path} is {actual} bytes but should be {expected}: it is incomplete or a different file; \
         run `scripts/models.sh` to replace it"
    )]
    SizeMismatch { path: PathBuf, expected: u64, actual: u64 },

    #[error(
        "{path} has sha256 {actual} but should have {expected}: it is damaged or a different file; \
         delete it and run `scripts/models.sh`"
    )]
    HashMismatch { path: PathBuf, expected: &'static str, actual: String },

    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{source_name} is not a usable GGUF file: {reason}")]
    InvalidGguf { source_name: String, reason: String },

    #[error("there is no model {id:?} in Quire's catalog; `quire models catalog` lists them")]
    UnknownModel { id: String },

    #[error("{0}")]
    Unsupported(String),

    #[error(
        "not enough disk space in {dir}: the download needs {needed} more bytes but only {available} are free \
         (keeping {headroom} bytes spare); free some space or choose another models folder"
    )]
    NotEnoughSpace { dir: PathBuf, needed: u64, available: u64, headroom: u64 },

    #[error("{file} is already being downloaded by another Quire process")]
    Busy { file: String },

    #[error("cannot download {url}: {reason}")]
    Network { url: String, reason: String },

    #[error("cannot download {url}: the server answered {status}{hint}")]
    HttpStatus { url: String, status: u16, hint: String },

    #[error(
        "the download of {file} has sha256 {actual} but should have {expected}: it was damaged in transit or the \
         file changed on the server; nothing was installed and the partial download was removed"
    )]
    ChecksumMismatch { file: String, expected: String, actual: String },

    #[error("the download of {file} was refused: {reason}; nothing was installed and the partial download was removed")]
    BadDownload { file: String, reason: String },

    #[error("cannot import {path}: {reason}")]
    Import { path: PathBuf, reason: String },

    #[error("the Hugging Face API at {url} answered with something Quire cannot read: {reason}")]
    BadApiResponse { url: String, reason: String },
}

impl ModelsError {
    /// A stable snake_case name for the kind of failure, for an app to branch on (what to tell the user to do).
    pub fn kind(&self) -> &'static str {
        match self {
            ModelsError::NotInstalled { .. } => "not_installed",
            ModelsError::SizeMismatch { .. } | ModelsError::HashMismatch { .. } => "damaged_model",
            ModelsError::Io { .. } => "io",
            ModelsError::InvalidGguf { .. } => "invalid_gguf",
            ModelsError::UnknownModel { .. } => "unknown_model",
            ModelsError::Unsupported(_) => "unsupported",
            ModelsError::NotEnoughSpace { .. } => "no_space",
            ModelsError::Busy { .. } => "busy",
            ModelsError::Network { .. } => "offline",
            ModelsError::HttpStatus { .. } => "http_status",
            ModelsError::ChecksumMismatch { .. } => "checksum_mismatch",
            ModelsError::BadDownload { .. } => "bad_download",
            ModelsError::Import { .. } => "import_failed",
            ModelsError::BadApiResponse { .. } => "bad_response",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelsError::Io { path: path.into(), source }
    }
}
