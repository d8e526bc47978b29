//! The commands the UI can call, one small function each: read the request, ask the core or the state,
//! return a serialisable answer or an [`Error`](crate::error::Error). Each one is registered in
//! `lib.rs` (`generate_handler!`), granted in `build.rs` (`COMMANDS`) and `capabilities/default.json`,
//! and wrapped in `ui/src/lib/ipc/commands.ts`. What crosses the boundary is serialised as serde writes it
//! (snake_case fields); `ui/src/lib/ipc/types.ts` mirrors every shape.

use std::collections::BTreeMap;
use std::path::PathBuf;

use quire_core::answer::AnswerEvent;
use quire_core::collections::Collections;
use quire_core::conversation::{Conversation, ConversationStore, ConversationSummary, Scope};
use quire_core::paths::{self, DataDirSource, Relocation};
use quire_core::settings::Settings;
use quire_core::watched::{FolderRules, WatchedFolder, WatchedFolders};
use quire_core::{Chunk, DocumentRecord, Format, Generator, Hit, LibraryStats, SearchFilter, SearchMode};
use quire_llm::LlamaGenerator;
use serde::{Deserialize, Serialize};
use tauri::ipc::{Channel, Response};
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;

use crate::error::{Error, Result};
use crate::imports;
use crate::state::{AppState, lock};
use crate::watching::{self, FolderStatus};
use quire_app::jobs::QueueView;
use quire_core::jobs::Priority;

/// What the app knows about itself (mirrored by `AppInfo` in `ui/src/lib/ipc/types.ts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppInfo {
    /// The product name from tauri.conf.json: "Quire".
    pub name: String,
    /// The app's version (the crate's version).
    pub version: String,
    /// The data folder.
    pub data_dir: String,
    /// Why it is there: `QUIRE_DATA_DIR` (then it cannot be changed in the app), the user's choice, or the
    /// OS default.
    pub data_dir_source: DataDirSource,
    /// The OS app-data folder, the one used when the user has chosen none.
    pub default_data_dir: String,
}

/// The app's name, version and data folder.
#[tauri::command]
pub fn app_info<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> AppInfo {
    let package = app.package_info();
    AppInfo {
        name: package.name.clone(),
        version: package.version.to_string(),
        data_dir: state.data_dir().to_string_lossy().into_owned(),
        data_dir_source: state.data_dir_source(),
        default_data_dir: paths::os_data_dir().to_string_lossy().into_owned(),
    }
}

/// Makes `path` the data folder from the next start: the library, conversations and settings are copied
/// there (unless it already holds a Quire library); the current folder is left as it was. The UI then
/// restarts the app (`restart_app`).
#[tauri::command]
pub async fn change_data_dir(state: State<'_, AppState>, path: String) -> Result<Relocation> {
    if state.data_dir_source() == DataDirSource::Environment {
        return Err(Error::InvalidInput(
            "The data folder is set by the QUIRE_DATA_DIR environment variable; change or unset it instead.".into(),
        ));
    }
    if state.busy() {
        return Err(Error::InvalidInput(
            "Quire is importing documents or writing an answer; change the data folder when it is done.".into(),
        ));
    }
    let from = state.data_dir().to_path_buf();
    let to = PathBuf::from(path);
    tokio::task::spawn_blocking(move || paths::relocate(&from, &to))
        .await
        .map_err(|e| Error::Internal(format!("moving the data folder stopped: {e}")))?
        .map_err(Error::from)
}

/// Restarts the app (after the data folder changed).
#[tauri::command]
pub fn restart_app<R: Runtime>(app: AppHandle<R>) {
    tracing::info!("restarting");
    app.request_restart();
}

// Native dialogs ------------------------------------------------------------------------------------------

fn into_paths(picked: Vec<tauri_plugin_dialog::FilePath>) -> Vec<String> {
    picked.into_iter().filter_map(|p| p.into_path().ok()).map(|p| p.display().to_string()).collect()
}

fn dialog_closed() -> Error {
    Error::Internal("The file dialog closed unexpectedly; please try again.".into())
}

/// The system's file picker; [] when cancelled.
#[tauri::command]
pub async fn choose_files<R: Runtime>(app: AppHandle<R>) -> Result<Vec<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog().file().set_title("Add files to the library").pick_files(move |picked| {
        let _ = tx.send(picked.map(into_paths).unwrap_or_default());
    });
    rx.await.map_err(|_| dialog_closed())
}

/// The system's folder picker; None when cancelled.
#[tauri::command]
pub async fn choose_folder<R: Runtime>(app: AppHandle<R>, title: Option<String>) -> Result<Option<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let title = title.unwrap_or_else(|| "Add a folder to the library".into());
    app.dialog().file().set_title(title).pick_folder(move |picked| {
        let _ = tx.send(picked.map(|p| into_paths(vec![p])).and_then(|p| p.into_iter().next()));
    });
    rx.await.map_err(|_| dialog_closed())
}

/// The system's save dialog, starting with `file_name`; None when cancelled.
#[tauri::command]
pub async fn choose_save_path<R: Runtime>(app: AppHandle<R>, file_name: String) -> Result<Option<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog().file().set_file_name(file_name).save_file(move |picked| {
        let _ = tx.send(picked.map(|p| into_paths(vec![p])).and_then(|p| p.into_iter().next()));
    });
    rx.await.map_err(|_| dialog_closed())
}

// Library -------------------------------------------------------------------------------------------------

/// Everything the library screen shows at once.
#[derive(Debug, Clone, Serialize)]
pub struct LibraryOverview {
    pub stats: LibraryStats,
    pub documents: Vec<DocumentRecord>,
    pub collections: BTreeMap<String, Vec<String>>,
    /// The watched folders, each with its collection.
    pub watched: Vec<WatchedFolder>,
    /// How each watched folder is followed now, by path.
    pub watching: BTreeMap<String, FolderStatus>,
    /// What opening the library had to repair after a crash (a version stepped back), one sentence each.
    pub notices: Vec<String>,
}

#[tauri::command]
pub async fn library_overview(state: State<'_, AppState>) -> Result<LibraryOverview> {
    let core = state.core().await?;
    Ok(LibraryOverview {
        stats: core.library.stats().await?,
        documents: core.library.documents().await?,
        collections: Collections::load(state.data_dir())?.collections,
        watched: WatchedFolders::load(state.data_dir())?.folders,
        watching: state.watching.status(),
        notices: core.library.store().recovered(),
    })
}

/// Watches a folder (in `collection` when given): it is imported now, then followed live (changes indexed
/// within seconds of a file becoming stable) and compared in full at every start. Returns the id of the job
/// of its first import.
#[tauri::command]
pub fn watch_folder<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    path: String,
    collection: Option<String>,
) -> Result<u64> {
    let mut watched = WatchedFolders::load(state.data_dir())?;
    let folder = watched.add(std::path::Path::new(&path), collection.as_deref(), quire_core::now_ms())?;
    watched.save()?;
    let first = imports::sync_watched(&app, &[folder], "added", Priority::User)?;
    watching::restart(&app);
    Ok(first.into_iter().next().unwrap_or_default())
}

/// Stops watching a folder; its documents stay in the library.
#[tauri::command]
pub fn unwatch_folder<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>, path: String) -> Result<()> {
    let mut watched = WatchedFolders::load(state.data_dir())?;
    if !watched.remove(std::path::Path::new(&path)) {
        return Err(Error::InvalidInput(format!("{path} is not a watched folder.")));
    }
    watched.save()?;
    watching::restart(&app);
    Ok(())
}

/// Sets which files of a watched folder belong to the library: include and exclude glob patterns (relative to
/// the folder; blank lines are dropped) and a size limit in bytes (None: no limit). The folder keeps its
/// collection; the watch restarts with the new rules and a sync of the folder is queued, so files now left out
/// leave the library and files now included are indexed. Returns the folder as saved.
#[tauri::command]
pub fn set_watch_rules<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    path: String,
    include: Vec<String>,
    exclude: Vec<String>,
    max_bytes: Option<u64>,
) -> Result<WatchedFolder> {
    let patterns = |list: Vec<String>| -> Vec<String> {
        list.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()
    };
    let rules = FolderRules { include: patterns(include), exclude: patterns(exclude), max_bytes };
    if max_bytes == Some(0) {
        return Err(Error::InvalidInput("The size limit must be more than 0; leave it empty for no limit.".into()));
    }
    quire_app::watch::check_rules(&rules).map_err(|e| Error::InvalidInput(format!("Not saved: {e}.")))?;
    let mut watched = WatchedFolders::load(state.data_dir())?;
    let key = std::fs::canonicalize(&path).map(|p| p.display().to_string()).unwrap_or_else(|_| path.clone());
    let Some(current) = watched.folders.iter().find(|f| f.path == key) else {
        return Err(Error::InvalidInput(format!("{path} is not a watched folder.")));
    };
    let collection = current.collection.clone();
    let folder =
        watched.add_with_rules(std::path::Path::new(&key), collection.as_deref(), rules, quire_core::now_ms())?;
    watched.save()?;
    watching::restart(&app);
    imports::sync_watched(&app, std::slice::from_ref(&folder), "rules changed", Priority::User)?;
    Ok(folder)
}

/// Compares every watched folder with the library now: new and changed files are indexed, documents whose
/// files are gone are removed. Returns the job ids.
#[tauri::command]
pub fn sync_watched<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>) -> Result<Vec<u64>> {
    let watched = WatchedFolders::load(state.data_dir())?;
    imports::sync_watched(&app, &watched.folders, "on request", Priority::User)
}

fn non_empty(paths: Vec<String>) -> Result<Vec<PathBuf>> {
    if paths.is_empty() {
        return Err(Error::InvalidInput("Nothing to import: no files or folders were given.".into()));
    }
    Ok(paths.into_iter().map(PathBuf::from).collect())
}

/// Queues files and folders for import (into `collection` when given); returns the job id.
#[tauri::command]
pub fn import_paths<R: Runtime>(app: AppHandle<R>, paths: Vec<String>, collection: Option<String>) -> Result<u64> {
    imports::import(&app, non_empty(paths)?, false, collection)
}

/// Stops the running import after its current document and drops the queued ones.
#[tauri::command]
pub fn cancel_imports(state: State<'_, AppState>) -> Result<()> {
    state.queue.cancel_all()?;
    Ok(())
}

/// The indexing queue: paused or not, the jobs waiting and running, the jobs set aside after failing.
#[tauri::command]
pub fn queue_state(state: State<'_, AppState>) -> QueueView {
    state.queue.view()
}

/// Pauses indexing (the running import stops before its next document, and so does a switch of embedding
/// model) or resumes it; kept across restarts.
#[tauri::command]
pub async fn pause_indexing(state: State<'_, AppState>, paused: bool) -> Result<()> {
    state.queue.set_paused(paused)?;
    if let Some(core) = state.core_if_open().await {
        core.library.gate().set_paused(paused);
    }
    Ok(())
}

/// Tries failed documents again now (their automatic retries start over); returns the job id.
#[tauri::command]
pub fn retry_documents<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>, paths: Vec<String>) -> Result<u64> {
    if paths.is_empty() {
        return Err(Error::InvalidInput("Nothing to retry: no documents were given.".into()));
    }
    let shown = paths.clone();
    let id = state.queue.retry_now(paths)?;
    imports::queued(&app, id, shown, false);
    Ok(id)
}

/// Runs the jobs that were set aside after failing again (`retry: true`), or forgets them.
#[tauri::command]
pub fn settle_given_up(state: State<'_, AppState>, retry: bool) -> Result<()> {
    if retry {
        state.queue.retry_given_up()?;
    } else {
        state.queue.dismiss_given_up()?;
    }
    Ok(())
}

/// The library's record of `path`, or an error saying it is not in the library.
async fn document(state: &AppState, path: &str) -> Result<DocumentRecord> {
    let core = state.core().await?;
    core.library
        .store()
        .document_by_path(path)
        .await?
        .ok_or_else(|| Error::InvalidInput(format!("{path} is not in the library.")))
}

/// Indexes a document again, even if unchanged.
#[tauri::command]
pub async fn reindex_document<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>, path: String) -> Result<u64> {
    let doc = document(&state, &path).await?;
    imports::import(&app, vec![PathBuf::from(doc.path)], true, None)
}

/// Removes a document from the library (the file is not touched).
#[tauri::command]
pub async fn remove_document(state: State<'_, AppState>, path: String) -> Result<()> {
    let doc = document(&state, &path).await?;
    state.core().await?.library.store().remove_document(&doc.id).await?;
    Ok(())
}

/// Opens a library document in the system's default app.
#[tauri::command]
pub async fn open_document<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>, path: String) -> Result<()> {
    let doc = document(&state, &path).await?;
    app.opener()
        .open_path(doc.path.clone(), None::<&str>)
        .map_err(|e| Error::Internal(format!("{} could not be opened: {e}", doc.path)))
}

/// Shows a library document in the system's file manager.
#[tauri::command]
pub async fn reveal_document<R: Runtime>(app: AppHandle<R>, state: State<'_, AppState>, path: String) -> Result<()> {
    let doc = document(&state, &path).await?;
    app.opener()
        .reveal_item_in_dir(&doc.path)
        .map_err(|e| Error::Internal(format!("{} could not be shown in its folder: {e}", doc.path)))
}

/// A document's text, chunk by chunk in reading order, for the source viewer.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentView {
    pub document: DocumentRecord,
    pub chunks: Vec<Chunk>,
    /// Whether the file on disk differs from what was indexed (its size or modification time changed, or it
    /// is gone): pages shown from the file may then not match the stored text.
    pub file_changed: bool,
}

#[tauri::command]
pub async fn document_view(state: State<'_, AppState>, path: String) -> Result<DocumentView> {
    let (document, chunks) = state.core().await?.library.document_chunks(&path).await?;
    let file_changed = file_changed(&document);
    Ok(DocumentView { document, chunks, file_changed })
}

/// Whether `doc`'s file no longer has the size and modification time it had when it was indexed.
fn file_changed(doc: &DocumentRecord) -> bool {
    match std::fs::metadata(&doc.path) {
        Ok(meta) => meta.len() != doc.size || mtime_ms(&meta) != Some(doc.mtime_ms),
        Err(_) => true,
    }
}

fn mtime_ms(meta: &std::fs::Metadata) -> Option<i64> {
    let since_epoch = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since_epoch.as_millis()).ok()
}

/// A library PDF's bytes, for the built-in page viewer. Sent as raw bytes (an `ArrayBuffer` in the UI), not
/// JSON.
#[tauri::command]
pub async fn document_pdf(state: State<'_, AppState>, path: String) -> Result<Response> {
    let doc = document(&state, &path).await?;
    let limit = state.core().await?.library.config().max_file_bytes;
    let bytes = tokio::task::spawn_blocking(move || pdf_bytes(&doc, limit))
        .await
        .map_err(|e| Error::Internal(format!("reading the PDF stopped: {e}")))??;
    Ok(Response::new(bytes))
}

/// Reads `doc`'s file when it is a PDF no larger than `limit` bytes.
fn pdf_bytes(doc: &DocumentRecord, limit: u64) -> Result<Vec<u8>> {
    if doc.format != Format::Pdf {
        return Err(Error::InvalidInput(format!("{} is not a PDF.", doc.path)));
    }
    let unreadable = |e: std::io::Error| {
        Error::InvalidInput(format!("{} could not be read ({e}); it may have been moved or deleted.", doc.path))
    };
    let size = std::fs::metadata(&doc.path).map_err(unreadable)?.len();
    if size > limit {
        return Err(Error::InvalidInput(format!(
            "{} is now {} MB, over the {} MB limit for documents.",
            doc.path,
            size / (1024 * 1024),
            limit / (1024 * 1024)
        )));
    }
    std::fs::read(&doc.path).map_err(unreadable)
}

/// Hybrid search over the library: the best `k` chunks (1 to 100).
#[tauri::command]
pub async fn search_library(state: State<'_, AppState>, query: String, k: usize) -> Result<Vec<Hit>> {
    if query.trim().is_empty() {
        return Ok(Vec::new());
    }
    let k = k.clamp(1, 100);
    let core = state.core().await?;
    Ok(core.library.search(&query, k, SearchMode::Hybrid, &SearchFilter::default()).await?)
}

/// Creates or replaces a collection.
#[tauri::command]
pub fn set_collection(state: State<'_, AppState>, name: String, paths: Vec<String>) -> Result<()> {
    let mut collections = Collections::load(state.data_dir())?;
    collections.remove(&name);
    collections.add(&name, &paths.into_iter().map(PathBuf::from).collect::<Vec<_>>())?;
    collections.save()?;
    Ok(())
}

#[tauri::command]
pub fn remove_collection(state: State<'_, AppState>, name: String) -> Result<()> {
    let mut collections = Collections::load(state.data_dir())?;
    if !collections.remove(&name) {
        return Err(Error::InvalidInput(format!("There is no collection named {name:?}.")));
    }
    collections.save()?;
    let mut watched = WatchedFolders::load(state.data_dir())?;
    watched.forget_collection(&name);
    watched.save()?;
    Ok(())
}

// Conversations -------------------------------------------------------------------------------------------

fn conversations(state: &AppState) -> Result<ConversationStore> {
    Ok(ConversationStore::open(&state.data_dir().join("conversations"))?)
}

#[tauri::command]
pub fn list_conversations(state: State<'_, AppState>) -> Result<Vec<ConversationSummary>> {
    Ok(conversations(&state)?.list()?)
}

#[tauri::command]
pub fn get_conversation(state: State<'_, AppState>, id: String) -> Result<Conversation> {
    Ok(conversations(&state)?.get(&id)?)
}

#[tauri::command]
pub fn create_conversation(state: State<'_, AppState>, title: String, scope: Scope) -> Result<Conversation> {
    Ok(conversations(&state)?.create_in(&title, scope)?)
}

#[tauri::command]
pub fn rename_conversation(state: State<'_, AppState>, id: String, title: String) -> Result<Conversation> {
    Ok(conversations(&state)?.rename(&id, &title)?)
}

#[tauri::command]
pub fn set_conversation_scope(state: State<'_, AppState>, id: String, scope: Scope) -> Result<Conversation> {
    Ok(conversations(&state)?.set_scope(&id, scope)?)
}

#[tauri::command]
pub fn delete_conversation(state: State<'_, AppState>, id: String) -> Result<()> {
    Ok(conversations(&state)?.delete(&id)?)
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Markdown,
    Json,
}

/// Writes a conversation to `path` (chosen by the user in the save dialog).
#[tauri::command]
pub fn export_conversation(state: State<'_, AppState>, id: String, format: ExportFormat, path: String) -> Result<()> {
    let conversation = conversations(&state)?.get(&id)?;
    let text = match format {
        ExportFormat::Markdown => ConversationStore::export_markdown(&conversation),
        ExportFormat::Json => ConversationStore::export_json(&conversation)?,
    };
    std::fs::write(&path, text).map_err(|e| Error::Core(quire_core::Error::io(&path, e)))
}

/// A question in a conversation.
#[derive(Debug, Clone, Deserialize)]
pub struct AskRequest {
    /// Chosen by the UI, so that it can stop this answer (`cancel_answer`).
    pub request_id: String,
    pub conversation_id: String,
    pub question: String,
    /// Ask the conversation's last question again and replace its answer.
    #[serde(default)]
    pub regenerate: bool,
}

/// Answers a question, streaming its steps and tokens on `on_event`, and returns the conversation as saved.
#[tauri::command]
pub async fn ask(
    state: State<'_, AppState>,
    request: AskRequest,
    on_event: Channel<AnswerEvent>,
) -> Result<Conversation> {
    let cancel = state.start_answer(&request.request_id)?;
    let result = async {
        let core = state.core().await?;
        // Indexing waits (between documents) while the answer is written: the chat model gets the CPU.
        let _yield = core.library.gate().hold_for_answer();
        let mut forward = |event: AnswerEvent| {
            if let Err(error) = on_event.send(event) {
                // The window that asked is gone: nobody reads this answer any more.
                tracing::warn!(%error, "the answer's window stopped listening; stopping the answer");
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        };
        let (conversation, answer) =
            core.ask_in(&request.conversation_id, &request.question, request.regenerate, &cancel, &mut forward).await?;
        if !answer.not_in_library && core.options.remote.chat.is_none() {
            *lock(&state.loaded_chat) = Some(core.options.chat_options()?.model);
        }
        Ok(conversation)
    }
    .await;
    state.finish_answer(&request.request_id);
    result
}

/// Stops the answer `request_id` at its next token (nothing happens when it has already finished).
#[tauri::command]
pub fn cancel_answer(state: State<'_, AppState>, request_id: String) {
    if !state.cancel_answer(&request_id) {
        tracing::debug!(%request_id, "cancel for an answer that is not running");
    }
}

// Models and settings -------------------------------------------------------------------------------------

/// An installed model, as the models screen shows it.
#[derive(Debug, Clone, Serialize)]
pub struct InstalledModel {
    #[serde(flatten)]
    pub model: quire_models::InstalledModel,
    pub is_default: bool,
    pub loaded: bool,
    /// Whether it fits this machine with the runtime settings (None: its header could not be planned).
    pub fit: Option<quire_models::Verdict>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelList {
    pub dir: String,
    pub models: Vec<InstalledModel>,
    pub broken: Vec<quire_models::BrokenModel>,
    /// This machine's memory, in words.
    pub machine: MachineSummary,
    /// The chat, embedding and reranker models of the settings loaded together, against this machine (None:
    /// one of them is missing).
    pub together: Option<quire_app::fit::Together>,
}

/// This machine's RAM and GPUs, in words.
#[derive(Debug, Clone, Serialize)]
pub struct MachineSummary {
    pub ram: String,
    pub gpu: String,
}

/// The GGUF models in the models folder, with their metadata, which ones the settings choose and which are
/// in memory.
#[tauri::command]
pub async fn list_models(state: State<'_, AppState>) -> Result<ModelList> {
    let dir = state.models_dir().to_path_buf();
    let (models, broken) = quire_models::installed_in(&dir).map_err(|e| Error::Internal(e.to_string()))?;
    let options = state.options()?;
    // A role served by a remote server has no local default.
    let chat = options.remote.chat.is_none().then(|| options.chat_options().ok().map(|c| c.model)).flatten();
    let embedding = options.remote.embedding.is_none().then(|| options.embed_model_path().ok()).flatten();
    let reranker = options.rerank_model_path();
    let embedding_loaded = match state.core_if_open().await {
        Some(core) => quire_llm::embedding_loaded(&core.models).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "could not ask the model worker whether the embedding model is loaded");
            false
        }),
        None => false,
    };
    let loaded_chat = lock(&state.loaded_chat).clone();
    let machine = quire_models::Machine::detect();
    let models = models
        .into_iter()
        .map(|model| {
            let path = Some(model.path.clone());
            let (is_default, loaded) = match model.role {
                quire_models::ModelRole::Chat => (path == chat, path == loaded_chat),
                quire_models::ModelRole::Embedding => (path == embedding, path == embedding && embedding_loaded),
                quire_models::ModelRole::Reranker => (path == reranker, false),
            };
            let fit = quire_app::fit::assess(&model.path, &options, &machine).ok();
            InstalledModel { model, is_default, loaded, fit }
        })
        .collect();
    let together = quire_app::fit::together(&options, &machine).ok();
    let summary = MachineSummary { ram: machine.ram_summary(), gpu: machine.gpu_summary() };
    Ok(ModelList { dir: dir.display().to_string(), models, broken, machine: summary, together })
}

/// Loads a chat model into memory now, with the runtime settings.
#[tauri::command]
pub async fn load_model(state: State<'_, AppState>, path: String) -> Result<()> {
    let core = state.core().await?;
    let mut chat = core.options.chat_options()?;
    chat.model = PathBuf::from(&path);
    refuse_unless_it_fits(&core.options, &chat.model)?;
    LlamaGenerator::new(std::sync::Arc::clone(&core.models), chat).info().await?;
    *lock(&state.loaded_chat) = Some(PathBuf::from(path));
    Ok(())
}

/// Refuses a chat model that would not fit in memory beside the embedding model (and reranker), saying what
/// to change; a model whose fit cannot be worked out is left to llama.cpp's own checks.
fn refuse_unless_it_fits(options: &quire_app::OpenOptions, chat_model: &std::path::Path) -> Result<()> {
    let mut options = options.clone();
    options.chat.model = chat_model.to_path_buf();
    let machine = quire_models::Machine::detect();
    match quire_app::fit::together(&options, &machine) {
        Ok(together) if !together.budget.fits => {
            let budget = &together.budget;
            let mut message = format!("This chat model cannot be loaded beside the others: they {}.", budget.summary);
            if !budget.advice.is_empty() {
                message.push_str(&format!(" {}.", budget.advice.join("; ")));
            }
            Err(Error::InvalidInput(message))
        }
        _ => Ok(()),
    }
}

/// Frees the chat model's memory; the next question loads it again.
#[tauri::command]
pub async fn unload_model(state: State<'_, AppState>) -> Result<()> {
    if let Some(core) = state.core_if_open().await {
        LlamaGenerator::unload(&core.models).await?;
    }
    *lock(&state.loaded_chat) = None;
    Ok(())
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelRole {
    Chat,
    Embedding,
    Reranker,
}

/// Makes `path` the model for `role` and saves the settings; returns them.
#[tauri::command]
pub async fn set_default_model<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    role: ModelRole,
    path: String,
) -> Result<Settings> {
    let mut settings = state.settings();
    let path = Some(PathBuf::from(path));
    match role {
        ModelRole::Chat => settings.models.chat = path,
        ModelRole::Embedding => settings.models.embedding = path,
        ModelRole::Reranker => settings.models.reranker = path,
    }
    crate::switching::save_and_switch(&app, &state, settings.clone()).await?;
    Ok(settings)
}

#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> Result<Settings> {
    // The saved file, so that a damaged one is reported rather than hidden behind the defaults in memory.
    Settings::load(state.data_dir())?;
    Ok(state.settings())
}

/// What `save_settings` saved, and whether the library is being re-indexed for it.
#[derive(Debug, Clone, Serialize)]
pub struct SavedSettings {
    pub settings: Settings,
    pub reindexing: bool,
    /// A switch to another embedding model began: the library is embedded with it in the background, and
    /// search uses the current model until it is done (see `switching.rs`).
    pub switching: bool,
    /// Why the library could not be opened with the new settings (e.g. the new remote embedding server refused
    /// the key); the settings were saved.
    pub notice: Option<String>,
}

/// Validates and saves the settings. A change of chunking re-indexes every document in the background. A
/// change of the embedding model (a local file or a remote server) begins a switch to it: every document is
/// embedded with the new model into its own table while search keeps using the current one, then the library
/// switches at once (`switching.rs`). When the current model cannot open the library, the documents are
/// embedded again in place instead.
#[tauri::command]
pub async fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    settings: Settings,
) -> Result<SavedSettings> {
    let previous = state.settings();
    let rechunks = previous.rechunks(&settings);
    let mut reindexing = rechunks;
    let mut switching = false;
    let mut notice = None;
    if !rechunks && crate::state::changes_embedding_model(&previous, &settings) {
        match crate::switching::save_and_switch(&app, &state, settings.clone()).await {
            Ok((_, started)) => switching = started,
            Err(switch_error) => {
                tracing::warn!(%switch_error, "no switch of embedding model; the library is embedded again in place");
                state.save_settings(settings.clone()).await?;
                match crate::remote::reembed_other_models(&app, &state).await {
                    Ok(documents) => reindexing = documents > 0,
                    Err(error) => {
                        let lead =
                            "The settings were saved, but the library could not be opened with the new embedding model";
                        notice = Some(format!("{lead}: {error}"))
                    }
                }
            }
        }
    } else {
        state.save_settings(settings.clone()).await?;
    }
    if rechunks {
        let documents = state.core().await?.library.documents().await?;
        let paths: Vec<PathBuf> = documents.into_iter().map(|d| PathBuf::from(d.path)).collect();
        if !paths.is_empty() {
            imports::import(&app, paths, true, None)?;
        }
    }
    Ok(SavedSettings { settings, reindexing, switching, notice })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: &std::path::Path, format: Format) -> DocumentRecord {
        let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{e}"));
        DocumentRecord {
            id: "doc".into(),
            path: path.to_string_lossy().into_owned(),
            format,
            title: None,
            content_hash: String::new(),
            size: meta.len(),
            mtime_ms: mtime_ms(&meta).unwrap_or_default(),
            pages: Some(1),
            chunk_count: 1,
            status: quire_core::DocStatus::Indexed,
            error: None,
            embedding_model: "m".into(),
            updated_ms: 0,
        }
    }

    #[test]
    fn a_pdf_is_read_whole_and_other_formats_are_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let pdf = dir.path().join("a.pdf");
        std::fs::write(&pdf, b"%PDF-1.4 bytes").unwrap_or_else(|e| panic!("{e}"));
        let text = dir.path().join("a.txt");
        std::fs::write(&text, b"text").unwrap_or_else(|e| panic!("{e}"));

        let bytes = pdf_bytes(&record(&pdf, Format::Pdf), 1024).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bytes, b"%PDF-1.4 bytes");

        let refusal = pdf_bytes(&record(&text, Format::Text), 1024).expect_err("a text file was served as a PDF");
        assert!(refusal.to_string().contains("is not a PDF"), "{refusal}");

        let too_big = pdf_bytes(&record(&pdf, Format::Pdf), 4).expect_err("the size limit was ignored");
        assert!(too_big.to_string().contains("limit"), "{too_big}");
    }

    #[test]
    fn a_missing_or_rewritten_file_is_reported_as_changed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let pdf = dir.path().join("a.pdf");
        std::fs::write(&pdf, b"%PDF-1.4 first").unwrap_or_else(|e| panic!("{e}"));
        let doc = record(&pdf, Format::Pdf);
        assert!(!file_changed(&doc), "an untouched file was reported as changed");

        std::fs::write(&pdf, b"%PDF-1.4 second, longer").unwrap_or_else(|e| panic!("{e}"));
        assert!(file_changed(&doc), "a rewritten file was not reported");

        std::fs::remove_file(&pdf).unwrap_or_else(|e| panic!("{e}"));
        assert!(file_changed(&doc), "a deleted file was not reported");
        let gone = pdf_bytes(&doc, 1024).expect_err("a deleted file was read");
        assert!(gone.to_string().contains("moved or deleted"), "{gone}");
    }
}
