/**
 * Typed wrappers, one per Rust command (src-tauri/commands.rs), and the events Rust broadcasts.
 * Argument names are camelCase here; Tauri maps them to the Rust parameters' snake_case names.
 */
import { call, callStreaming, listen } from './bridge';
export { onDragDrop, type DragDrop } from './bridge';
import type {
  AnswerEvent,
  AppInfo,
  Relocation,
  AskRequest,
  AskResult,
  Conversation,
  ConversationSummary,
  DocumentView,
  ExportFormat,
  FolderStatus,
  Hit,
  IngestNotice,
  LibraryOverview,
  ModelList,
  ModelRole,
  QueueView,
  SavedSettings,
  Scope,
  Settings,
  WatchedFolder,
} from './types';

/** The app's name, version and data folder. */
export function getAppInfo(): Promise<AppInfo> {
  return call<AppInfo>('app_info');
}

// Native dialogs -----------------------------------------------------------------------------------------

/** The system's file picker (several files); resolves with [] when the user cancels. */
export function chooseFiles(): Promise<string[]> {
  return call<string[]>('choose_files');
}

/** The system's folder picker; resolves with null when the user cancels. */
export function chooseFolder(title?: string): Promise<string | null> {
  return call<string | null>('choose_folder', title === undefined ? undefined : { title });
}

/**
 * Makes `path` the data folder from the next start, copying the library, conversations and settings there
 * unless it already holds a Quire library. Then call {@link restartApp}.
 */
export function changeDataDir(path: string): Promise<Relocation> {
  return call<Relocation>('change_data_dir', { path });
}

/**
 * Watches a folder (in `collection` when given): it is imported now, then followed live by the app (changes
 * indexed within seconds of a file becoming stable) and compared in full at every start. Resolves with the
 * job id of its first import.
 */
export function watchFolder(path: string, collection?: string): Promise<number> {
  return call<number>('watch_folder', { path, collection: collection ?? null });
}

/** Stops watching a folder; its documents stay in the library. */
export function unwatchFolder(path: string): Promise<void> {
  return call<void>('unwatch_folder', { path });
}

/** The rules of a watched folder: which of its files belong to the library. */
export interface WatchRules {
  /** Glob patterns; when there are any, only files matching one are included. */
  include: string[];
  /** Glob patterns of files and folders to leave out. */
  exclude: string[];
  /** Files larger than this many bytes are left out; null: no limit. */
  maxBytes: number | null;
}

/**
 * Sets a watched folder's include and exclude patterns and size limit (blank patterns are dropped). The watch
 * restarts with them and a sync of the folder is queued: files now left out leave the library, files now
 * included are indexed. Resolves with the folder as saved; rejects with `invalid_input` for an invalid glob,
 * a zero limit or a folder that is not watched.
 */
export function setWatchRules(path: string, rules: WatchRules): Promise<WatchedFolder> {
  return call<WatchedFolder>('set_watch_rules', {
    path,
    include: rules.include,
    exclude: rules.exclude,
    maxBytes: rules.maxBytes,
  });
}

/**
 * Compares every watched folder with the library now (new and changed files indexed, deleted ones removed);
 * resolves with the job ids. The app does this by itself at start and follows the folders live: this is the
 * user's "Sync now".
 */
export function syncWatched(): Promise<number[]> {
  return call<number[]>('sync_watched');
}

/** Restarts Quire. */
export function restartApp(): Promise<void> {
  return call<void>('restart_app');
}

/** The system's save dialog, starting with `fileName`; resolves with null when the user cancels. */
export function chooseSavePath(fileName: string): Promise<string | null> {
  return call<string | null>('choose_save_path', { fileName });
}

// Library ------------------------------------------------------------------------------------------------

/** Statistics, every document and the collections. Opens the library on first use (a second or two). */
export function getLibraryOverview(): Promise<LibraryOverview> {
  return call<LibraryOverview>('library_overview');
}

/**
 * Queues files and folders (recursively) for import, into `collection` when given, and resolves with the
 * job id once queued (saved in the data folder: it runs even if the app is closed first). Progress arrives as `ingest` events ({@link onIngest}). A drop on the window
 * and the Add buttons both end here.
 */
export function importPaths(paths: string[], collection?: string): Promise<number> {
  return call<number>('import_paths', { paths, collection: collection ?? null });
}

/**
 * Stops the running job after the current document and drops the queued ones (background syncs included;
 * the watched folders are compared again at the next start). Rejects when the queue cannot be saved.
 */
export function cancelImports(): Promise<void> {
  return call<void>('cancel_imports');
}

/** The indexing queue: paused or not, the jobs waiting and running, the jobs set aside after failing. */
export function getQueueState(): Promise<QueueView> {
  return call<QueueView>('queue_state');
}

/**
 * Pauses indexing (the running job stops before its next document, nothing else starts) or resumes it. Kept
 * across restarts. The queue's new state also arrives as a `queue` event ({@link onQueue}).
 */
export function pauseIndexing(paused: boolean): Promise<void> {
  return call<void>('pause_indexing', { paused });
}

/**
 * Tries failed documents again now, before background work (their automatic retries start over); resolves
 * with the job id. Progress arrives as `ingest` events.
 */
export function retryDocuments(paths: string[]): Promise<number> {
  return call<number>('retry_documents', { paths });
}

/** Runs the jobs set aside after failing five times again (`retry: true`), or forgets them. */
export function settleGivenUp(retry: boolean): Promise<void> {
  return call<void>('settle_given_up', { retry });
}

/** Indexes a document again, even if unchanged (progress arrives as `ingest` events). */
export function reindexDocument(path: string): Promise<number> {
  return call<number>('reindex_document', { path });
}

/** Removes a document from the library (the file itself is not touched). */
export function removeDocument(path: string): Promise<void> {
  return call<void>('remove_document', { path });
}

/** Opens a library document in the system's default app. */
export function openDocument(path: string): Promise<void> {
  return call<void>('open_document', { path });
}

/** Shows a library document in the system's file manager. */
export function revealDocument(path: string): Promise<void> {
  return call<void>('reveal_document', { path });
}

/** A document's text in reading order, for the source viewer. */
export function getDocumentView(path: string): Promise<DocumentView> {
  return call<DocumentView>('document_view', { path });
}

/** A library PDF's bytes, for the built-in page viewer. */
export function getDocumentPdf(path: string): Promise<ArrayBuffer> {
  return call<ArrayBuffer>('document_pdf', { path });
}

/** Hybrid search (vector + full text) over the library: the best `k` chunks. */
export function searchLibrary(query: string, k = 20): Promise<Hit[]> {
  return call<Hit[]>('search_library', { query, k });
}

/** Creates or replaces a collection with these paths (files or folders). */
export function setCollection(name: string, paths: string[]): Promise<void> {
  return call<void>('set_collection', { name, paths });
}

/** Deletes a collection (its documents stay in the library). */
export function removeCollection(name: string): Promise<void> {
  return call<void>('remove_collection', { name });
}

/** Import progress, broadcast to every window. */
export function onIngest(handler: (notice: IngestNotice) => void): Promise<() => void> {
  return listen<IngestNotice>('ingest', handler);
}

/** The indexing queue's state whenever it changes (pause, a job queued, started or ended, jobs set aside). */
export function onQueue(handler: (queue: QueueView) => void): Promise<() => void> {
  return listen<QueueView>('queue', handler);
}

/** How every watched folder is followed (path → status), whenever one of them changes. */
export function onWatching(handler: (watching: Record<string, FolderStatus>) => void): Promise<() => void> {
  return listen<Record<string, FolderStatus>>('watching', handler);
}

// Conversations ------------------------------------------------------------------------------------------

/** The conversations, most recently updated first. */
export function listConversations(): Promise<ConversationSummary[]> {
  return call<ConversationSummary[]>('list_conversations');
}

export function getConversation(id: string): Promise<Conversation> {
  return call<Conversation>('get_conversation', { id });
}

/** A new, empty conversation over `scope`. */
export function createConversation(title: string, scope: Scope): Promise<Conversation> {
  return call<Conversation>('create_conversation', { title, scope });
}

export function renameConversation(id: string, title: string): Promise<Conversation> {
  return call<Conversation>('rename_conversation', { id, title });
}

/** Changes what a conversation answers from. */
export function setConversationScope(id: string, scope: Scope): Promise<Conversation> {
  return call<Conversation>('set_conversation_scope', { id, scope });
}

export function deleteConversation(id: string): Promise<void> {
  return call<void>('delete_conversation', { id });
}

/** Writes a conversation to `path` (chosen with the save dialog) as Markdown or JSON. */
export function exportConversation(id: string, format: ExportFormat, path: string): Promise<void> {
  return call<void>('export_conversation', { id, format, path });
}

/**
 * Asks a question in a conversation. `onEvent` receives the answer's steps and tokens as they come; the
 * promise resolves with the conversation as saved (question and answer appended), or rejects with an
 * IpcError (`model_missing`, `worker_crashed`, …). A stopped answer resolves normally, `stop: 'cancelled'`.
 */
export function ask(request: AskRequest, onEvent: (event: AnswerEvent) => void): Promise<AskResult> {
  return callStreaming<AskResult, AnswerEvent>('ask', { request }, onEvent);
}

/** Stops the answer started with this `request_id` (at the next token). */
export function cancelAnswer(requestId: string): Promise<void> {
  return call<void>('cancel_answer', { requestId });
}

// Models and settings ------------------------------------------------------------------------------------

/** The GGUF models in the models folder, with their metadata. */
export function listModels(): Promise<ModelList> {
  return call<ModelList>('list_models');
}

/** Loads a chat model into memory now (instead of on the first question). */
export function loadModel(path: string): Promise<void> {
  return call<void>('load_model', { path });
}

/** Frees the chat model's memory; the next question loads it again. */
export function unloadModel(): Promise<void> {
  return call<void>('unload_model');
}

/** Makes `path` the model used for `role` (saved in the settings). */
export function setDefaultModel(role: ModelRole, path: string): Promise<Settings> {
  return call<Settings>('set_default_model', { role, path });
}

export function getSettings(): Promise<Settings> {
  return call<Settings>('get_settings');
}

/** Validates and saves; rejects with kind `invalid_input` and a readable message naming the field. */
export function saveSettings(settings: Settings): Promise<SavedSettings> {
  return call<SavedSettings>('save_settings', { settings });
}

// Model downloads, catalog, Hugging Face search and import (src-tauri downloads.rs) ----------------------

/** The curated catalog, each model with whether it is installed and whether it fits this machine. */
export function getModelCatalog(): Promise<import('./types').CatalogView> {
  return call('models_catalog');
}

/** Downloads the catalog model `id`; resolves with the download's id (progress comes as `model_download`). */
export function startModelDownload(id: string): Promise<number> {
  return call<number>('model_download_start', { id });
}

/** Downloads `file` of the Hugging Face repository `repo` (a search result). */
export function startHfDownload(repo: string, file: string): Promise<number> {
  return call<number>('model_download_start_hf', { repo, file });
}

/** Pauses a download (its partial file is kept); false when it is not queued or running. */
export function pauseModelDownload(id: number): Promise<boolean> {
  return call<boolean>('model_download_pause', { id });
}

/** Resumes a paused or failed download from its partial file. */
export function resumeModelDownload(id: number): Promise<boolean> {
  return call<boolean>('model_download_resume', { id });
}

/** Cancels a download and deletes its partial file. */
export function cancelModelDownload(id: number): Promise<boolean> {
  return call<boolean>('model_download_cancel', { id });
}

/** This session's downloads, and the unfinished ones an earlier run left. */
export function getModelDownloads(): Promise<import('./types').DownloadsView> {
  return call('model_downloads');
}

/** Resumes an unfinished download left by an earlier run; resolves with the new download's id. */
export function resumePartialDownload(fileName: string): Promise<number> {
  return call<number>('model_download_resume_partial', { fileName });
}

/** Deletes an unfinished download left by an earlier run. */
export function discardPartialDownload(fileName: string): Promise<void> {
  return call<void>('model_download_discard', { fileName });
}

/** Forgets the downloads that are done or cancelled. */
export function clearFinishedDownloads(): Promise<void> {
  return call<void>('model_downloads_clear');
}

/** GGUF repositories on Hugging Face matching `query`, with their files (kind `offline` when unreachable). */
export function searchHfModels(query: string): Promise<import('./types').HfModel[]> {
  return call('models_search', { query });
}

/** The system's file picker for one .gguf file; null when cancelled. */
export function chooseModelFile(): Promise<string | null> {
  return call<string | null>('choose_model_file');
}

/** Imports a GGUF file: copied into the models folder, or (`inPlace`) registered where it is. */
export function importModel(path: string, inPlace: boolean): Promise<import('./types').ImportedModel> {
  return call('model_import', { path, inPlace });
}

/** Removes a model registered in place from the list (the file stays where it is). */
export function unregisterModel(path: string): Promise<boolean> {
  return call<boolean>('model_unregister', { path });
}

/** Every change of a download (queued, progress, paused, done, failed, cancelled). */
export function onModelDownload(
  handler: (download: import('./types').ModelDownload) => void,
): Promise<() => void> {
  return listen('model_download', handler);
}

/** The installed models changed (a download finished, an import, a removal): list them again. */
export function onModelsChanged(handler: () => void): Promise<() => void> {
  return listen<null>('models_changed', () => handler());
}

// Remote endpoints (src-tauri remote.rs) --------------------------------------------------------------------
// The API key goes from the window to the system keychain once; it is never kept here, in the settings or in
// storage, and never comes back.

/** Saves the API key of `role`'s saved server in the system keychain (kind `no_keychain`: nothing saved). */
export function setApiKey(role: import('./types').RemoteRole, key: string): Promise<import('./types').KeyStatus> {
  return call('set_api_key', { role, key });
}

/** Removes the API key of `role`'s saved server from the keychain. */
export function deleteApiKey(role: import('./types').RemoteRole): Promise<import('./types').KeyStatus> {
  return call('delete_api_key', { role });
}

/** Whether a key is stored for `role`'s saved server. */
export function apiKeyStatus(role: import('./types').RemoteRole): Promise<import('./types').KeyStatus> {
  return call('api_key_status', { role });
}

/** A quick request to `role`'s server — `endpoint` as typed, or the saved one — with the key stored for it. */
export function testRemote(
  role: import('./types').RemoteRole,
  endpoint?: import('./types').RemoteEndpoint,
): Promise<import('./types').RemoteTest> {
  return call('test_remote', { role, endpoint: endpoint ?? null });
}

// A change of embedding model (src-tauri switching.rs) ---------------------------------------------------------
// Choosing another embedding model (a local file or a remote server) embeds every document again into a new
// table in the background; search keeps using the current model until every document is done, then the library
// switches at once. Cancelling leaves the current index as it is.

/** The change of embedding model under way, or null when there is none. */
export function getEmbeddingSwitch(): Promise<import('./types').EmbeddingSwitch | null> {
  return call('embedding_switch');
}

/** Stops the change of embedding model: the new vectors are dropped and the current model stays chosen. */
export function cancelEmbeddingSwitch(): Promise<void> {
  return call<void>('cancel_embedding_switch');
}

/** Starts again a change of embedding model that failed. */
export function retryEmbeddingSwitch(): Promise<void> {
  return call<void>('retry_embedding_switch');
}

/** Every step of a change of embedding model; null when it ends (switched or cancelled). */
export function onEmbeddingSwitch(
  handler: (change: import('./types').EmbeddingSwitch | null) => void,
): Promise<() => void> {
  return listen('embedding-switch', handler);
}
