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
}

impl ModelsError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelsError::Io { path: path.into(), source }
    }
}
