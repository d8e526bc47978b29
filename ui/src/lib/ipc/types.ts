/**
 * Data that crosses the IPC boundary, exactly as Rust's serde writes it: field names in snake_case, enums
 * tagged as noted. Each type names the Rust type it mirrors; a renamed field breaks only at run time, so
 * change both sides together.
 */

/** `app_info` (src-tauri/commands.rs `AppInfo`). */
export interface AppInfo {
  /** The product name, "Quire". */
  name: string;
  /** The app's version (semver). */
  version: string;
  /** The folder that holds the library, indexes and settings. */
  data_dir: string;
  /** Why it is there: `QUIRE_DATA_DIR` (then the app cannot change it), the user's choice, or the OS default. */
  data_dir_source: DataDirSource;
  /** The OS app-data folder, used when the user has chosen none. */
  default_data_dir: string;
}

export type DataDirSource = 'environment' | 'chosen' | 'default';

/** `change_data_dir`: what was done to make the chosen folder the data folder. */
export type Relocation = { kind: 'copied'; files: number; bytes: number } | { kind: 'existing' };

// ---------------------------------------------------------------------------------------------------------
// Library (quire-core types.rs / library.rs)

export type Format = 'pdf' | 'markdown' | 'text' | 'html' | 'code' | 'docx' | 'epub';

/** What the store says about a document (`DocStatus`): `indexing` means a crash or an ingest in progress. */
export type DocStatus = 'indexing' | 'indexed' | 'failed';

/** A document of the library (`DocumentRecord`). */
export interface DocumentRecord {
  id: string;
  /** The absolute path of the file. */
  path: string;
  format: Format;
  title: string | null;
  content_hash: string;
  size: number;
  mtime_ms: number;
  pages: number | null;
  chunk_count: number;
  status: DocStatus;
  /** Why it failed, for `failed`. */
  error: string | null;
  embedding_model: string;
  /** When it was last indexed (ms since the epoch). */
  updated_ms: number;
}

/** `LibraryStats`. */
export interface LibraryStats {
  documents: number;
  indexed: number;
  failed: number;
  chunks: number;
  disk_bytes: number;
  embedding_model: string | null;
}

/** `library_overview`: everything the library screen shows at once (src-tauri `LibraryOverview`). */
export interface LibraryOverview {
  stats: LibraryStats;
  /** Every document, in no particular order. */
  documents: DocumentRecord[];
  /** Collection name → the paths (files or folders) it holds. */
  collections: Record<string, string[]>;
  /** The watched folders (followed live while the app runs, compared in full at every start), sorted by path. */
  watched: WatchedFolder[];
  /** How each watched folder is followed now, by path (src-tauri watching.rs); later changes come as `watching` events. */
  watching: Record<string, FolderStatus>;
  /** What opening the library had to repair after a crash (a version stepped back), one sentence each. */
  notices: string[];
}

/**
 * How a watched folder is followed now (src-tauri watching.rs `FolderStatus`, tagged by `mode`); the `watching`
 * event carries every folder's status (path → status) whenever one changes.
 */
export type FolderStatus =
  /** The system reports changes as they happen. */
  | { mode: 'native' }
  /** The folder is scanned every few seconds (a network drive, or the system's watch limit reached): why. */
  | { mode: 'poll'; reason: string }
  /** The folder cannot be watched now (missing, unreadable): why. Its documents stay in the library. */
  | { mode: 'unavailable'; reason: string };

/**
 * A folder the library keeps in step with (`WatchedFolder`), with its rules (`FolderRules`, flattened; each
 * field is left out when not set). Hidden, temporary and lock files are always left out.
 */
export interface WatchedFolder {
  path: string;
  collection: string | null;
  added_ms: number;
  /** Glob patterns relative to the folder; when there are any, only files matching one are included. */
  include?: string[];
  /** Glob patterns of files and folders to leave out. */
  exclude?: string[];
  /** Files larger than this many bytes are left out. */
  max_bytes?: number | null;
}

/** What happened to one document in an ingest (`DocOutcome`, tagged by `status`). */
export type DocOutcome =
  | { status: 'indexed'; chunks: number; tokens: number; pages: number | null }
  | { status: 'unchanged' }
  | { status: 'failed'; reason: string }
  | { status: 'removed' }
  /** A renamed or moved file, unchanged: its document's chunks moved with it from `from` (no embedding). */
  | { status: 'moved'; from: string; chunks: number };

/** Where one document is inside an ingest (`IngestStage`). */
export type IngestStage = 'extracting' | 'embedding';

/**
 * The `ingest` event, broadcast to every window while indexing runs (src-tauri imports.rs `IngestNotice`,
 * tagged by `event`). Every import, re-index, retry and sync of a watched folder is a job of the durable
 * indexing queue (see {@link QueueView}); `batch` is the job's id there, kept in the data folder and never
 * reused, so it is the same across restarts. Jobs run one at a time: the user's first, then background ones,
 * in queued order. A job left from a previous run (the app was closed or killed) runs again at start; its
 * `queued` was sent before the window listened, so the UI learns of it from `queue_state`.
 */
export type IngestNotice =
  /**
   * A job was queued: `paths` as the user gave them (a watched folder for its sync). `background`: a sync of
   * watched folders or an automatic retry, not something the user just asked for.
   */
  | { event: 'queued'; batch: number; paths: string[]; background: boolean }
  /** A job started: its files are known (`files` to look at, `bytes` in all). */
  | { event: 'scanned'; batch: number; files: number; bytes: number; paths: string[] }
  /** A document entered a stage. */
  | { event: 'stage'; batch: number; path: string; stage: IngestStage }
  /** A document is done (indexed, unchanged, failed or removed); written to the library already. */
  | { event: 'document'; batch: number; path: string; bytes: number; outcome: DocOutcome }
  /**
   * A job ended; `cancelled` when the user stopped it. Counts are of this job. `background` as in `queued`.
   * Documents that failed in it are tried again on their own later (three times, 30 s, 2 min, 8 min apart).
   */
  | {
      event: 'finished';
      batch: number;
      indexed: number;
      unchanged: number;
      failed: number;
      removed: number;
      moved: number;
      cancelled: boolean;
      seconds: number;
      background: boolean;
    }
  /**
   * A job could not run as a whole (e.g. the embedding model is missing); nothing was changed. `retry_at_ms`:
   * when it runs again (ms since the epoch); null when it will not: it was set aside after five tries (then it
   * is listed in {@link QueueView.given_up}) or cancelled.
   */
  | { event: 'error'; batch: number; kind: string; message: string; retry_at_ms: number | null };

// ---------------------------------------------------------------------------------------------------------
// The indexing queue (quire-core jobs.rs, quire-app jobs.rs)

/** What a job of the indexing queue does (quire-core `JobKind`, tagged by `kind`, flattened into {@link Job}). */
export type JobKind =
  /** Files and folders the user added; `force` indexes unchanged files again; the paths join `collection`. */
  | { kind: 'import'; paths: string[]; force: boolean; collection: string | null }
  /** A watched folder compared in full with the library (at start, after lost events, now and then, Sync now). */
  | { kind: 'sync_folder'; folder: string; reason: string }
  /** Paths under watched folders that changed. */
  | { kind: 'sync_paths'; paths: string[] }
  /** Documents that failed, tried again. */
  | { kind: 'retry'; paths: string[] };

/** Which jobs go first (`Priority`): what the user asked for, before background work. */
export type JobPriority = 'background' | 'user';

/** A job of the indexing queue (quire-core `Job`). */
export type Job = JobKind & {
  /** The `batch` of its `ingest` events. */
  id: number;
  priority: JobPriority;
  queued_ms: number;
  /** Not run before this time (ms since the epoch): a retry waiting out its delay. */
  not_before_ms: number;
  /** Tries that failed as a whole. */
  attempts: number;
  last_error: string | null;
};

/**
 * `queue_state` and the `queue` event, sent whenever the queue changes (paused or resumed, a job queued,
 * started or ended, jobs set aside or settled) (quire-app `QueueView`).
 */
export interface QueueView {
  /** The user paused indexing; kept across restarts. */
  paused: boolean;
  /** The id of the job running now. */
  running: number | null;
  /** Waiting and running jobs, in the order they run. */
  jobs: Job[];
  /** Jobs set aside after failing five times, with their last error, for the user to retry or dismiss. */
  given_up: Job[];
  /** Another Quire process (`quire watch run`, or a second window of the app) owns this library's queue: this
   *  app indexes nothing until it ends. */
  held_elsewhere: boolean;
}

/** A chunk of a document (`Chunk`). Pages are 1-based physical pages, as a PDF viewer numbers them. */
export interface Chunk {
  doc_id: string;
  index: number;
  path: string;
  text: string;
  page_start: number | null;
  page_end: number | null;
  heading_path: string[];
  char_start: number;
  char_end: number;
  tokens: number;
  embedding_model: string;
}

/** A search hit (`Hit`): a chunk and its fused score. */
export interface Hit {
  chunk: Chunk;
  score: number;
}

/** `document_view`: a document's text, chunk by chunk in reading order, for the source viewer. */
export interface DocumentView {
  document: DocumentRecord;
  /** The chunks in order; neighbouring chunks overlap (see `char_start` / `char_end`). */
  chunks: Chunk[];
  /** Whether the file on disk differs from what was indexed (or is gone). */
  file_changed: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Answers and conversations (quire-core answer.rs, conversation.rs, generate.rs)

export type Role = 'system' | 'user' | 'assistant';

/** A passage given to the model, numbered as the answer cites it (`Source`). */
export interface Source {
  n: number;
  doc_id: string;
  path: string;
  title: string | null;
  page_start: number | null;
  page_end: number | null;
  heading_path: string[];
  chunk_indexes: number[];
  text: string;
  /** The retrieval (or reranker) score. */
  score: number;
}

/** What `[n]` in an answer points at (`Citation`): the document, its pages and the exact passage. */
export interface Citation {
  n: number;
  doc_id: string;
  path: string;
  title: string | null;
  page_start: number | null;
  page_end: number | null;
  heading_path: string[];
  /** The passage the model was given, verbatim: the viewer highlights it. */
  snippet: string;
}

/** Whether the reranker ran (`RerankStatus`, tagged by `status`). */
export type RerankStatus = { status: 'ran'; model: string } | { status: 'skipped'; reason: string };

export type StopReason = 'end' | 'max_tokens' | 'context_full' | 'cancelled' | 'repetition';

export interface Usage {
  prompt_tokens: number;
  cached_tokens: number;
  completion_tokens: number;
}

export interface Timings {
  load_ms: number;
  prompt_ms: number;
  first_token_ms: number;
  generation_ms: number;
}

/** A streamed step of an answer (`AnswerEvent`, tagged by `type`), in this order. */
export type AnswerEvent =
  | { type: 'rewritten'; query: string }
  | { type: 'retrieved'; chunks: number; duplicates_removed: number; best_similarity: number | null }
  | ({ type: 'rerank' } & RerankStatus)
  | { type: 'sources'; sources: Source[]; dropped_sources: number; dropped_history: number; prompt_tokens: number }
  | { type: 'progress'; message: string }
  | { type: 'prompt'; tokens: number; cached: number }
  /** The next piece of the answer; `[n]` that point at no source are already removed. */
  | { type: 'token'; text: string }
  /**
   * Last, only when the model cited nothing: Quire matched the answer's sentences to the sources, and this
   * is the whole answer again with those `[n]` markers. It replaces the streamed text.
   */
  | { type: 'cited'; text: string };

/** A message of a conversation (`Message`). Assistant messages carry what the answer was built from. */
export interface Message {
  role: Role;
  /** Markdown from the model (render sanitized: no raw HTML, no remote images). */
  content: string;
  created_ms: number;
  citations: Citation[];
  /** The sources the model was given (assistant messages). */
  sources: Source[];
  rerank: RerankStatus | null;
  model: string | null;
  /** The standalone query a follow-up was rewritten into (user messages). */
  rewritten_query: string | null;
  usage: Usage | null;
  timings: Timings | null;
  stop: StopReason | null;
  /** Something the user should know about this answer ("stopped", "not in the library", …). */
  notice: string | null;
  /** True when retrieval found nothing close enough and the model was not asked. */
  not_in_library: boolean;
  /** The model cited nothing; Quire matched the citations to the answer's sentences. */
  attributed: boolean;
}

/** What a conversation is restricted to (src-tauri `Scope`). */
export type Scope =
  | { kind: 'library' }
  | { kind: 'collection'; name: string }
  /** One document (or a folder: every document under it). */
  | { kind: 'path'; path: string };

/** A conversation (`Conversation`). */
export interface Conversation {
  id: string;
  title: string;
  created_ms: number;
  updated_ms: number;
  scope: Scope;
  messages: Message[];
}

/** A conversation in the list (`ConversationSummary`). */
export interface ConversationSummary {
  id: string;
  title: string;
  created_ms: number;
  updated_ms: number;
  messages: number;
}

/** `ask`: a question in a conversation (src-tauri `AskRequest`). */
export interface AskRequest {
  /** Chosen by the UI; `cancel_answer(request_id)` stops this answer. */
  request_id: string;
  conversation_id: string;
  question: string;
  /** Replace the conversation's last answer instead of adding a question (the question is the last one asked). */
  regenerate: boolean;
}

/** `ask` resolves with the conversation as saved, the new answer last. */
export type AskResult = Conversation;

export type ExportFormat = 'markdown' | 'json';

// ---------------------------------------------------------------------------------------------------------
// Models and settings

export type ModelRole = 'chat' | 'embedding' | 'reranker';

/** An installed GGUF model, from its metadata (src-tauri `InstalledModel`). */
export interface InstalledModel {
  path: string;
  file_name: string;
  size_bytes: number;
  /** What the file is for, from its metadata (pooling type, chat template, architecture). */
  role: ModelRole;
  /** `general.name`, when the file has one. */
  name: string | null;
  architecture: string;
  /** The weights' type ("Q4_1", "Q8_0", …). */
  quantization: string | null;
  /** The context the model was trained for. */
  context_length: number | null;
  parameters: number;
  /** Whether the settings choose this file for its role (explicitly or as the starter model). */
  is_default: boolean;
  /** Whether the model worker holds it in memory now. */
  loaded: boolean;
  /** Registered where it is ("Keep it where it is" import), not a file of the models folder. */
  external?: boolean;
  /** Whether it fits this machine with the runtime settings; null when its header cannot be planned. */
  fit?: ModelFit | null;
}

/** A file the models folder holds that is not a usable model (damaged, not GGUF). */
export interface BrokenModel {
  path: string;
  file_name: string;
  reason: string;
}

/** `list_models`. */
export interface ModelList {
  /** The folder models are read from. */
  dir: string;
  models: InstalledModel[];
  broken: BrokenModel[];
}

export type GpuLayers = 'all' | 'none' | number;
export type Theme = 'system' | 'light' | 'dark';

/** The user's settings (quire-core settings.rs `Settings`), saved in the data folder. */
export interface Settings {
  generation: {
    /** 0 to 2; 0 always picks the likeliest token. */
    temperature: number;
    /** 0 (exclusive) to 1. */
    top_p: number;
    /** Most tokens in one answer, 16 to 8192. */
    max_tokens: number;
    /** 1 (off) to 2. */
    repeat_penalty: number;
  };
  retrieval: {
    /** Passages given to the model, 1 to 32. */
    top_k: number;
    /** Tokens per chunk, 64 to 512 (capped by the embedding model); changing it re-indexes. */
    chunk_tokens: number;
    /** Tokens shared by neighbouring chunks, 0 to half a chunk; changing it re-indexes. */
    chunk_overlap: number;
  };
  runtime: {
    gpu_layers: GpuLayers;
    /** Tokens in the chat model's context window, 512 to 131072. */
    context_size: number;
    /** CPU threads; 0: all cores. */
    threads: number;
  };
  /** The model file chosen per role; null: the starter model. */
  models: {
    chat: string | null;
    embedding: string | null;
    reranker: string | null;
  };
  appearance: {
    theme: Theme;
  };
  /** OpenAI-compatible servers used instead of the local models (see `RemoteSettings`). */
  remote?: RemoteSettings;
}

/** `save_settings` resolves with what was saved and what it changes. */
export interface SavedSettings {
  settings: Settings;
  /**
   * The chunking or the embedding model changed: the library is being re-indexed (progress arrives as `ingest`
   * events).
   */
  reindexing: boolean;
  /**
   * The embedding model changed: the library is being embedded with the new model in the background while
   * search keeps using the current one (progress arrives as `embedding-switch` events).
   */
  switching: boolean;
  /** The settings were saved, but the library could not be opened with them (why, in words). */
  notice?: string | null;
}

// ---------------------------------------------------------------------------------------------------------
// Model downloads, catalog, Hugging Face search and import (src-tauri downloads.rs)

/** Where a model runs on this machine (quire-models `Placement`). */
export type Placement = 'gpu' | 'partial' | 'cpu' | 'does_not_fit';

/** Whether a model fits this machine (the part of quire-models `Verdict` the screen shows). */
export interface ModelFit {
  placement: Placement;
  summary: string;
  /** What to change, one sentence each. */
  advice: string[];
}

/** A catalog model's fit: from its GGUF header when installed, else estimated from its file size. */
export interface CatalogFit extends ModelFit {
  estimated: boolean;
}

/** One model of the curated catalog (`models_catalog`). */
export interface CatalogModel {
  id: string;
  name: string;
  role: ModelRole;
  /** The Hugging Face repository; null for a model made on this machine by scripts/models.sh. */
  repo: string | null;
  file: string;
  size: number | null;
  sha256: string | null;
  quantization: string;
  parameters: string;
  license: string;
  languages: string[];
  context_length: number;
  starter: boolean;
  notes: string | null;
  installed: boolean;
  path: string;
  downloadable: boolean;
  fit: CatalogFit | null;
  /** Why there is no fit. */
  fit_note: string | null;
  /** While `size` is unknown: the size estimated from the parameters and the quantization. */
  approx_size: number | null;
}

export interface CatalogView {
  dir: string;
  models: CatalogModel[];
}

export type DownloadStage = 'connecting' | 'downloading' | 'verifying' | 'installing';

export interface DownloadProgress {
  stage: DownloadStage;
  done: number;
  total: number | null;
  bytes_per_second: number;
  eta_seconds: number | null;
  resumed_from: number;
  restarts: number;
  retries: number;
}

/** A model file put in the models folder by a download. */
export interface InstalledDownload {
  path: string;
  file_name: string;
  size: number;
  sha256: string;
  sha256_verified: boolean;
  already_installed: boolean;
}

/** One download (quire-models `JobView`), as `model_downloads` lists it and the `model_download` event sends it. */
export type ModelDownload = {
  id: number;
  label: string;
  file_name: string;
  progress: DownloadProgress | null;
} & (
  | { state: 'queued' | 'running' | 'paused' | 'cancelled' }
  | { state: 'done'; installed: InstalledDownload }
  | { state: 'failed'; error: string; kind: string }
);

/** An unfinished download left in the models folder by an earlier run. */
export interface PartialDownload {
  file_name: string;
  url: string;
  done: number;
  total: number | null;
  sha256: string | null;
}

export interface DownloadsView {
  jobs: ModelDownload[];
  partials: PartialDownload[];
}

/** A GGUF file of a Hugging Face repository. */
export interface HfFile {
  repo: string;
  path: string;
  size: number;
  sha256: string | null;
  quantization: string | null;
  /** [part, parts] of a split model. */
  split: [number, number] | null;
  projector: boolean;
  /** Why Quire cannot download it; null: it can. */
  unusable: string | null;
}

/** A repository found by `models_search`. */
export interface HfModel {
  id: string;
  downloads: number;
  likes: number;
  gated: boolean;
  license: string | null;
  files: HfFile[];
  /** Why its files could not be listed. */
  error: string | null;
}

/** `model_import`. */
export interface ImportedModel {
  model: InstalledModel;
  mode: 'copy' | 'in_place';
  sha256: string | null;
  /** It was already there: nothing changed. */
  already: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Remote endpoints: an OpenAI-compatible server per role and its API key (src-tauri remote.rs)

/** A role a remote server can take. */
export type RemoteRole = 'chat' | 'embedding';

/** An OpenAI-compatible server (quire-core settings.rs `RemoteEndpoint`); its key is never part of it. */
export interface RemoteEndpoint {
  /** `http://host:port` or `https://…`, with or without `/v1`. */
  base_url: string;
  /** The model name the server knows. */
  model: string;
}

/** `settings.remote`: the server of each role; null: the local model. */
export interface RemoteSettings {
  chat: RemoteEndpoint | null;
  embedding: RemoteEndpoint | null;
}

/** Whether a key is stored for a role's server (the key itself never comes back). */
export interface KeyStatus {
  stored: boolean;
  /** false: the system has no keychain, so no key can be stored (`detail` says why). */
  keychain: boolean;
  /** QUIRE_CHAT_API_KEY / QUIRE_EMBEDDING_API_KEY gives the key and wins over a stored one. */
  from_environment: boolean;
  detail: string | null;
}

export type RemoteTestOutcome = 'reachable' | 'auth_failed' | 'wrong_model' | 'unreachable' | 'invalid' | 'failed';

/** `test_remote`: what a quick request to the server found, in words. */
export interface RemoteTest {
  ok: boolean;
  outcome: RemoteTestOutcome;
  message: string;
}

// ---------------------------------------------------------------------------------------------------------
// A change of embedding model (src-tauri switching.rs)

/** A change of embedding model under way (src-tauri switching.rs `SwitchView`). */
export interface EmbeddingSwitch {
  /** The model id searches use now (until the switch). */
  from: string;
  /** The new model as the user chose it: a file name, or "model at host" for a remote server. */
  target: string;
  /** Documents embedded with the new model so far, of `total`. */
  done: number;
  total: number;
  /** running: embedding; waiting: held while the user pauses indexing or an answer is written; switching: every document is done and the library is reopened on the new model; failed: stopped with `error` (Retry or Cancel). */
  state: 'running' | 'waiting' | 'switching' | 'failed';
  error: string | null;
}
