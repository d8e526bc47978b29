//! The shell's error type: what a command returns when it fails.
//!
//! The UI receives every error as `{ "kind": "...", "message": "..." }` (see `ui/src/lib/ipc/errors.ts`):
//! `kind` is a stable snake_case name a screen may branch on, `message` is a sentence for the person using
//! the app. Detail that helps only a developer goes to the log (tracing), not into `message`.

use serde::ser::{Serialize, SerializeStruct, Serializer};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The core or one of its adapters failed; the core names the kind (`quire_core::Error::kind`).
    #[error(transparent)]
    Core(#[from] quire_core::Error),
    /// A model download, search or import failed; `quire_models::ModelsError::kind` names the kind (`offline`,
    /// `no_space`, `checksum_mismatch`, …), so the models screen can say what to do.
    #[error(transparent)]
    Models(#[from] quire_models::ModelsError),
    /// The keychain of remote endpoints' API keys failed; `no_keychain` when the system has none.
    #[error(transparent)]
    Keys(#[from] quire_keys::KeyError),
    /// The UI sent something the command cannot act on.
    #[error("{0}")]
    InvalidInput(String),
    /// A fault in the shell itself; the message says what the user can do.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// The stable, machine-readable name of this error's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Core(error) => error.kind(),
            Error::Models(error) => error.kind(),
            Error::Keys(error) => error.kind(),
            Error::InvalidInput(_) => "invalid_input",
            Error::Internal(_) => "internal",
        }
    }
}

/// Serialised as `{ kind, message }`, the one shape the UI handles.
impl Serialize for Error {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut error = serializer.serialize_struct("Error", 2)?;
        error.serialize_field("kind", self.kind())?;
        error.serialize_field("message", &self.to_string())?;
        error.end()
    }
}

/// What commands return.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_as_kind_and_message() -> serde_json::Result<()> {
        let error = Error::InvalidInput("The folder does not exist: /nowhere".into());
        assert_eq!(
            serde_json::to_value(&error)?,
            json!({ "kind": "invalid_input", "message": "The folder does not exist: /nowhere" })
        );
        Ok(())
    }

    #[test]
    fn core_errors_keep_their_kind_and_message() -> serde_json::Result<()> {
        let error = Error::from(quire_core::Error::WorkerTimeout { name: "extract".into(), secs: 30 });
        assert_eq!(
            serde_json::to_value(&error)?,
            json!({ "kind": "worker_timeout", "message": "the extract worker did not answer within 30 s" })
        );
        Ok(())
    }

    #[test]
    fn models_errors_name_what_went_wrong() -> serde_json::Result<()> {
        let error = Error::from(quire_models::ModelsError::Network {
            url: "https://huggingface.co/api/models".into(),
            reason: "connection refused".into(),
        });
        let value = serde_json::to_value(&error)?;
        assert_eq!(value["kind"], "offline");
        assert!(value["message"].as_str().unwrap_or_default().contains("connection refused"), "{value}");
        let error = Error::from(quire_models::ModelsError::NotEnoughSpace {
            dir: "/m".into(),
            needed: 10,
            available: 1,
            headroom: 0,
        });
        assert_eq!(serde_json::to_value(&error)?["kind"], "no_space");
        Ok(())
    }
}
