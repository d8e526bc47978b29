//! Remote endpoints (an OpenAI-compatible server per role, set in the settings' `remote`): their API keys,
//! kept only in the OS keychain (never in settings.json, the log or the window's storage), and a connection test
//! that says in words whether the server is reachable, takes the key and serves the model.
//!
//! A key belongs to one role at one server (`quire_keys::account`), so it is saved for the endpoint the settings
//! hold: save the endpoint first. The key travels from the window to the keychain once and never back: the
//! window only learns whether one is stored.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Runtime, State};

use quire_core::settings::RemoteEndpoint;
use quire_core::{ChatMessage, DocStatus, GenerateRequest, Generator, Role, SamplingParams};
use quire_keys::KeyError;
use quire_llm::{RemoteEmbedder, RemoteGenerator};

use crate::error::{Error, Result};
use crate::state::AppState;

/// The roles a remote server can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoteRole {
    Chat,
    Embedding,
}

impl RemoteRole {
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteRole::Chat => "chat",
            RemoteRole::Embedding => "embedding",
        }
    }
}

/// Whether a key is stored for a role's server. `keychain` false: the system has no keychain (`detail` says
/// why), so no key can be stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyStatus {
    pub stored: bool,
    pub keychain: bool,
    /// The key comes from the environment (`QUIRE_CHAT_API_KEY` / `QUIRE_EMBEDDING_API_KEY`) and wins over any
    /// stored one.
    pub from_environment: bool,
    pub detail: Option<String>,
}

/// The endpoint the settings hold for `role`.
fn saved_endpoint(state: &AppState, role: RemoteRole) -> Option<RemoteEndpoint> {
    let remote = state.settings().remote;
    match role {
        RemoteRole::Chat => remote.chat,
        RemoteRole::Embedding => remote.embedding,
    }
}

fn require_endpoint(state: &AppState, role: RemoteRole) -> Result<RemoteEndpoint> {
    saved_endpoint(state, role).ok_or_else(|| {
        Error::InvalidInput(format!(
            "No remote {} server is saved: save its address and model first, then its key.",
            role.as_str()
        ))
    })
}

fn from_environment(role: RemoteRole) -> bool {
    std::env::var(quire_app::api_key_env(role.as_str())).is_ok_and(|k| !k.trim().is_empty())
}

/// Opens the library with the current settings and queues the documents indexed with another embedding model
/// to be embedded with this one (each model has its own vectors: until then they are not found). Returns how
/// many were queued. Err: the library cannot be opened (e.g. the remote embedding server refused the key).
pub(crate) async fn reembed_other_models<R: Runtime>(app: &AppHandle<R>, state: &AppState) -> Result<usize> {
    let core = state.core().await?;
    let model = core.library.embedder().info().model_id.clone();
    let paths: Vec<PathBuf> = core
        .library
        .documents()
        .await?
        .into_iter()
        .filter(|d| d.status == DocStatus::Indexed && d.embedding_model != model)
        .map(|d| PathBuf::from(d.path))
        .collect();
    if !paths.is_empty() {
        tracing::info!(documents = paths.len(), %model, "embedding the library again with the new model");
        crate::imports::import(app, paths.clone(), false, None)?;
    }
    Ok(paths.len())
}

/// A key saved or removed for the embedding server changes how the library is opened: it is opened again with
/// the new key, and what the new model lacks is embedded (when the key was missing as the server was saved).
/// The chat server's key is read for every answer.
async fn key_changed<R: Runtime>(app: &AppHandle<R>, state: &AppState, role: RemoteRole) {
    if role == RemoteRole::Embedding {
        state.close_core().await;
        if let Err(error) = reembed_other_models(app, state).await {
            tracing::warn!(%error, "the library could not be opened with the embedding server's new key");
        }
    }
}

fn status(state: &AppState, role: RemoteRole) -> Result<KeyStatus> {
    let from_environment = from_environment(role);
    let Some(endpoint) = saved_endpoint(state, role) else {
        return Ok(KeyStatus { stored: false, keychain: true, from_environment, detail: None });
    };
    match state.keychain().has(&quire_keys::account(role.as_str(), &endpoint)) {
        Ok(stored) => Ok(KeyStatus { stored, keychain: true, from_environment, detail: None }),
        Err(error @ KeyError::NoKeychain { .. }) => {
            Ok(KeyStatus { stored: false, keychain: false, from_environment, detail: Some(error.to_string()) })
        }
        Err(error) => Err(error.into()),
    }
}

/// Saves the API key of `role`'s server (the one in the settings) in the system keychain, replacing any.
/// Without a keychain nothing is saved and the error's kind is `no_keychain`.
#[tauri::command]
pub async fn set_api_key<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    role: RemoteRole,
    key: String,
) -> Result<KeyStatus> {
    let endpoint = require_endpoint(&state, role)?;
    state.keychain().set(&quire_keys::account(role.as_str(), &endpoint), &key)?;
    drop(key);
    tracing::info!(role = role.as_str(), server = endpoint.root(), "API key saved in the keychain");
    key_changed(&app, &state, role).await;
    status(&state, role)
}

/// Removes the API key of `role`'s server from the keychain (nothing happens when none is stored).
#[tauri::command]
pub async fn delete_api_key<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    role: RemoteRole,
) -> Result<KeyStatus> {
    let endpoint = require_endpoint(&state, role)?;
    if state.keychain().delete(&quire_keys::account(role.as_str(), &endpoint))? {
        tracing::info!(role = role.as_str(), server = endpoint.root(), "API key removed from the keychain");
        key_changed(&app, &state, role).await;
    }
    status(&state, role)
}

/// Whether a key is stored for `role`'s server, without reading it out.
#[tauri::command]
pub fn api_key_status(state: State<'_, AppState>, role: RemoteRole) -> Result<KeyStatus> {
    status(&state, role)
}

/// What a connection test found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestOutcome {
    /// The server answered with the model.
    Reachable,
    /// The server refused the key (or wants one).
    AuthFailed,
    /// The server does not serve the model.
    WrongModel,
    /// Nothing answered at the address (refused, unknown host, timeout).
    Unreachable,
    /// The address or model is not valid.
    Invalid,
    /// Anything else the server said.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteTest {
    pub ok: bool,
    pub outcome: TestOutcome,
    /// What happened, in words.
    pub message: String,
}

/// Sorts a failure of the remote client (its messages are in `quire_llm::remote`) into an outcome.
fn outcome_of(error: &quire_core::Error) -> TestOutcome {
    let message = error.to_string();
    if matches!(error, quire_core::Error::InvalidInput(_)) {
        TestOutcome::Invalid
    } else if message.contains("refused the API key") {
        TestOutcome::AuthFailed
    } else if message.contains("model not found") {
        TestOutcome::WrongModel
    } else if message.contains("could not connect") || message.contains("did not answer within") {
        TestOutcome::Unreachable
    } else {
        TestOutcome::Failed
    }
}

/// Asks `role`'s server one quick thing — embed "test", or a one-token answer — with the key stored for it:
/// `endpoint` when given (the fields as the user typed them, not yet saved), else the one in the settings.
#[tauri::command]
pub async fn test_remote(
    state: State<'_, AppState>,
    role: RemoteRole,
    endpoint: Option<RemoteEndpoint>,
) -> Result<RemoteTest> {
    let endpoint = match endpoint {
        Some(endpoint) => endpoint,
        None => require_endpoint(&state, role)?,
    };
    let options = state.options()?;
    let result = async {
        if let Some(problem) = endpoint.problem(role.as_str()) {
            return Err(quire_core::Error::InvalidInput(problem));
        }
        let key = options.api_key(role.as_str(), &endpoint)?;
        let with_key = if key.is_some() { "with the stored key" } else { "without a key" };
        match role {
            RemoteRole::Embedding => {
                let embedder = RemoteEmbedder::connect(endpoint.clone(), key, options.remote_options.clone()).await?;
                let dim = quire_core::Embedder::info(&embedder).dim;
                Ok(format!(
                    "Reachable: {} embeds with \"{}\" ({dim} dimensions), {with_key}.",
                    endpoint.root(),
                    endpoint.model.trim()
                ))
            }
            RemoteRole::Chat => {
                let generator = RemoteGenerator::new(endpoint.clone(), key, 4096, options.remote_options.clone())?;
                let request = GenerateRequest {
                    messages: vec![ChatMessage::new(Role::User, "Say OK.")],
                    sampling: SamplingParams { max_tokens: 1, ..SamplingParams::default() },
                    repetition_guard: false,
                };
                generator.generate(request, &AtomicBool::new(false), &mut |_| {}).await?;
                Ok(format!("Reachable: {} answers with \"{}\", {with_key}.", endpoint.root(), endpoint.model.trim()))
            }
        }
    }
    .await;
    Ok(match result {
        Ok(message) => RemoteTest { ok: true, outcome: TestOutcome::Reachable, message },
        Err(error) => {
            let outcome = outcome_of(&error);
            let lead = match outcome {
                TestOutcome::AuthFailed => "The server refused the key: ",
                TestOutcome::WrongModel => "The server does not have this model: ",
                TestOutcome::Unreachable => "The server cannot be reached: ",
                TestOutcome::Invalid => "",
                _ => "The test failed: ",
            };
            RemoteTest { ok: false, outcome, message: format!("{lead}{error}") }
        }
    })
}
