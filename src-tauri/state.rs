//! What the shell keeps for the app's lifetime, shared by every command through [`tauri::State`]: the data
//! folder, the user's settings, the open library (opened on first use), the import queue and the answers
//! in flight.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use quire_app::jobs::Queue;
use quire_app::{OpenOptions, Opened};
use quire_core::paths::DataDirSource;
use quire_core::settings::Settings;
use quire_keys::Keychain;

use crate::downloads::Downloads;
use crate::error::{Error, Result};
use crate::watching::Watching;

/// The shell's managed state.
pub struct AppState {
    data_dir: PathBuf,
    /// Why the data folder is where it is (`QUIRE_DATA_DIR`, the user's choice, or the OS default).
    data_dir_source: DataDirSource,
    settings: Mutex<Settings>,
    /// The library and its model worker, opened by the first command that needs them; dropped (and opened
    /// again) when settings change how it is built.
    core: tokio::sync::Mutex<Option<Opened>>,
    /// The durable indexing queue (imports, syncs of watched folders, retries), run by `imports::start_runner`.
    pub(crate) queue: Queue,
    /// The live follow of the watched folders.
    pub(crate) watching: Watching,
    /// Cancel flags of the answers being written, by the request id the UI gave.
    answers: Mutex<HashMap<String, Arc<AtomicBool>>>,
    /// The chat model the worker holds, as far as the shell knows.
    pub(crate) loaded_chat: Mutex<Option<PathBuf>>,
    /// Where remote endpoints' API keys are kept (`remote.rs`): the OS keychain, service "Quire".
    keychain: Keychain,
    /// Model downloads (`downloads.rs`): the queue, the models folder and the Hugging Face endpoint.
    pub(crate) downloads: Downloads,
    /// The switch of embedding model running in the background (`switching.rs`).
    pub(crate) switching: crate::switching::Switching,
}

/// Whether going from `previous` to `next` changes the embedding model (a local file, or a remote server or its
/// model): the library's documents must then be embedded again, into the new model's own table.
pub(crate) fn changes_embedding_model(previous: &Settings, next: &Settings) -> bool {
    let remote_id = |s: &Settings| s.remote.embedding.as_ref().map(quire_llm::remote_model_id);
    match (remote_id(previous), remote_id(next)) {
        (None, None) => previous.models.embedding != next.models.embedding,
        (a, b) => a != b,
    }
}

/// Locks a std mutex; a panic while it was held does not make the state unusable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AppState {
    /// The state of an app whose library lives in `data_dir`, with the settings saved there (the defaults
    /// when there are none or they cannot be read; the error is logged and shown by the settings screen).
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self::located(data_dir, DataDirSource::Default)
    }

    /// Like [`AppState::new`], saying why the data folder is there.
    pub fn located(data_dir: impl Into<PathBuf>, data_dir_source: DataDirSource) -> Self {
        let data_dir = data_dir.into();
        let settings = Settings::load(&data_dir).unwrap_or_else(|error| {
            tracing::warn!(%error, "using the default settings");
            Settings::default()
        });
        let (queue, warning) = Queue::open(&data_dir);
        if let Some(warning) = warning {
            tracing::warn!(%warning, "indexing queue");
        }
        Self {
            data_dir,
            data_dir_source,
            settings: Mutex::new(settings),
            core: tokio::sync::Mutex::new(None),
            queue,
            watching: Watching::default(),
            answers: Mutex::new(HashMap::new()),
            loaded_chat: Mutex::new(None),
            keychain: Keychain::default(),
            downloads: Downloads::new(quire_models::models_dir(), quire_models::HfClient::endpoint_from_env()),
            switching: crate::switching::Switching::default(),
        }
    }

    /// Downloads and imports models into `models_dir` (listed by `list_models`), from the Hugging Face
    /// `endpoint` (a mirror; tests use a loopback server), instead of `$QUIRE_MODELS_DIR` and `HF_ENDPOINT`.
    pub fn with_models(mut self, models_dir: impl Into<PathBuf>, endpoint: impl Into<String>) -> Self {
        self.downloads = Downloads::new(models_dir.into(), endpoint.into());
        self
    }

    /// Downloads with `downloader` (tests shorten its progress interval and retry delays).
    #[cfg(test)]
    pub(crate) fn with_downloader(self, downloader: quire_models::Downloader) -> Self {
        self.downloads.set_downloader(downloader);
        self
    }

    /// The folder the models are listed from, downloaded and imported into.
    pub fn models_dir(&self) -> &Path {
        self.downloads.models_dir()
    }

    /// Keeps remote endpoints' API keys under `keychain` (tests use a service of their own).
    pub fn with_keychain(mut self, keychain: Keychain) -> Self {
        self.keychain = keychain;
        self
    }

    /// Where remote endpoints' API keys are kept.
    pub fn keychain(&self) -> &Keychain {
        &self.keychain
    }

    /// Closes the library and its model worker; the next command that needs them opens them again.
    pub async fn close_core(&self) {
        *self.core.lock().await = None;
    }

    /// The folder that holds the library, its indexes and settings.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn data_dir_source(&self) -> DataDirSource {
        self.data_dir_source
    }

    /// Whether an indexing job is running, or an answer is being written.
    pub fn busy(&self) -> bool {
        self.queue.view().running.is_some() || !lock(&self.answers).is_empty()
    }

    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    /// Validates and saves the settings; returns the previous ones. A change to the models, the remote
    /// embedding server or the chunking closes the library, so that the next command opens it with them.
    pub async fn save_settings(&self, settings: Settings) -> Result<Settings> {
        let settings = settings.validated()?;
        settings.save(&self.data_dir)?;
        let previous = std::mem::replace(&mut *lock(&self.settings), settings.clone());
        if previous.rechunks(&settings) || changes_embedding_model(&previous, &settings) {
            *self.core.lock().await = None;
        }
        Ok(previous)
    }

    /// The options the library opens with: the defaults for this data folder and the settings.
    pub fn options(&self) -> Result<OpenOptions> {
        let mut options = OpenOptions::new(Some(self.data_dir.clone()))?;
        options.apply_settings(&self.settings());
        options.keychain = self.keychain.clone();
        Ok(options)
    }

    /// The open library and model worker (opening them on first use), carrying the current settings.
    pub async fn core(&self) -> Result<Opened> {
        let mut core = self.core.lock().await;
        let opened = match core.as_ref() {
            Some(opened) => opened.clone(),
            None => {
                let opened = quire_app::open(&self.options()?).await.map_err(Error::from)?;
                *core = Some(opened.clone());
                opened
            }
        };
        // Generation and runtime settings apply from the next question, without reopening.
        Ok(Opened { options: self.options()?, ..opened })
    }

    /// The library if it is open, without opening it.
    pub async fn core_if_open(&self) -> Option<Opened> {
        self.core.lock().await.clone()
    }

    /// Registers an answer being written under `request_id`; returns its cancel flag.
    pub fn start_answer(&self, request_id: &str) -> Result<Arc<AtomicBool>> {
        let mut answers = lock(&self.answers);
        if answers.contains_key(request_id) {
            return Err(Error::InvalidInput(format!("an answer with request id {request_id} is already running")));
        }
        let flag = Arc::new(AtomicBool::new(false));
        answers.insert(request_id.to_string(), Arc::clone(&flag));
        Ok(flag)
    }

    pub fn finish_answer(&self, request_id: &str) {
        lock(&self.answers).remove(request_id);
    }

    /// Stops the answer `request_id` at its next token; false when no such answer is running.
    pub fn cancel_answer(&self, request_id: &str) -> bool {
        match lock(&self.answers).get(request_id) {
            Some(flag) => {
                flag.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}
