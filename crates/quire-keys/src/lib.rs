//! API keys of remote model endpoints, kept in the OS keychain and nowhere else (never in `settings.json`):
//! the Secret Service on Linux (GNOME Keyring, KWallet), over the `keyring` crate.
//!
//! Each key belongs to one role at one server: service "Quire", account `"<role> <base URL>"`, so a key
//! given for one server is never sent to another one set later. When the system has no keychain (a headless
//! Linux without a Secret Service), saving fails with a sentence that says so and the key is kept nowhere.

use quire_core::settings::RemoteEndpoint;

/// The keychain service name of Quire's keys.
pub const SERVICE: &str = "Quire";

/// Why a key could not be saved, read or deleted.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No keychain answered (no Secret Service, or it is locked).
    #[error("no keychain is available on this system: the key was {what} ({detail})")]
    NoKeychain { what: &'static str, detail: String },
    #[error("the system keychain failed: {0}")]
    Failed(String),
}

impl KeyError {
    /// A short machine-readable name (for the shell's `{kind, message}`).
    pub fn kind(&self) -> &'static str {
        match self {
            KeyError::NoKeychain { .. } => "no_keychain",
            KeyError::Failed(_) => "keychain",
        }
    }
}

impl From<KeyError> for quire_core::Error {
    fn from(e: KeyError) -> Self {
        quire_core::Error::InvalidInput(e.to_string())
    }
}

/// The keychain account of a role's key at an endpoint.
pub fn account(role: &str, endpoint: &RemoteEndpoint) -> String {
    format!("{role} {}", endpoint.root())
}

/// Keys under one keychain service ([`SERVICE`] in the app; tests use their own).
#[derive(Debug, Clone)]
pub struct Keychain {
    service: String,
}

impl Default for Keychain {
    fn default() -> Self {
        Keychain::new(SERVICE)
    }
}

fn map(error: keyring::Error, what: &'static str) -> KeyError {
    match error {
        keyring::Error::PlatformFailure(e) | keyring::Error::NoStorageAccess(e) => {
            KeyError::NoKeychain { what, detail: e.to_string() }
        }
        other => KeyError::Failed(other.to_string()),
    }
}

impl Keychain {
    pub fn new(service: &str) -> Keychain {
        Keychain { service: service.to_string() }
    }

    fn entry(&self, account: &str, what: &'static str) -> Result<keyring::Entry, KeyError> {
        keyring::Entry::new(&self.service, account).map_err(|e| map(e, what))
    }

    /// Saves the key of `account` (replacing any). An empty key is refused.
    pub fn set(&self, account: &str, key: &str) -> Result<(), KeyError> {
        let key = key.trim();
        if key.is_empty() {
            return Err(KeyError::Failed("the key is empty: nothing was saved".into()));
        }
        self.entry(account, "not saved")?.set_password(key).map_err(|e| map(e, "not saved"))
    }

    /// The key of `account`, or None when none is saved.
    pub fn get(&self, account: &str) -> Result<Option<String>, KeyError> {
        match self.entry(account, "not read")?.get_password() {
            Ok(key) => Ok(Some(key)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map(e, "not read")),
        }
    }

    /// Whether a key is saved for `account`, without returning it.
    pub fn has(&self, account: &str) -> Result<bool, KeyError> {
        self.get(account).map(|k| k.is_some())
    }

    /// Deletes the key of `account`; returns whether there was one.
    pub fn delete(&self, account: &str) -> Result<bool, KeyError> {
        match self.entry(account, "not deleted")?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(map(e, "not deleted")),
        }
    }
}
