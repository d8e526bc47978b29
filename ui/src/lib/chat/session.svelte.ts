/**
 * The chat's state and everything it asks Rust for: the conversation list, the open conversation, the
 * answer being written (with its steps, streamed token by token) and a failed answer with its question.
 *
 * Components read the fields (they are reactive) and call the methods. (The source viewer's "Open" and
 * "Show in folder" call the IPC layer themselves.) A question is saved by Rust only with its answer, so a
 * failed answer leaves nothing behind and Retry asks it again.
 */
import {
  ask,
  cancelAnswer,
  chooseSavePath,
  createConversation,
  deleteConversation,
  exportConversation,
  getConversation,
  getDocumentView,
  getLibraryOverview,
  listConversations,
  renameConversation,
  setConversationScope,
  toIpcError,
  type AnswerEvent,
  type Conversation,
  type ConversationSummary,
  type DocumentView,
  type ExportFormat,
  type IpcError,
  type LibraryOverview,
  type RerankStatus,
  type Scope,
  type Source,
} from '../ipc';
import { createFrameQueue } from './frame';
import { exportFileName, titleFromQuestion } from './format';

/** The answer being written: what the steps said so far, and the text. */
export interface LiveAnswer {
  /** The id `ask` was called with; `cancelAnswer` stops it. */
  requestId: string;
  /** Null while the conversation is being created for its first question. */
  conversationId: string | null;
  question: string;
  regenerate: boolean;
  /** The standalone query a follow-up was rewritten into. */
  rewritten: string | null;
  retrieved: { chunks: number; duplicatesRemoved: number } | null;
  rerank: RerankStatus | null;
  /** The passages given to the model (null until they are chosen). */
  sources: Source[] | null;
  dropped: Dropped;
  /** The prompt's size as the sources step counted it, then as the model read it. */
  promptTokens: number | null;
  cachedTokens: number | null;
  /** The latest progress message (e.g. "loading the model"). */
  progress: string | null;
  text: string;
  /** Stop was asked for; the answer ends at its next token. */
  stopping: boolean;
}

/** What did not fit the model's context window. */
export interface Dropped {
  sources: number;
  history: number;
}

/** An answer that failed, with what is needed to ask again. */
export interface AnswerFailure {
  conversationId: string | null;
  question: string;
  regenerate: boolean;
  error: IpcError;
}

type Loadable = 'loading' | 'ready' | 'error';

let counter = 0;

/** A unique id for one answer. */
export function newRequestId(): string {
  counter += 1;
  const random = globalThis.crypto?.randomUUID?.();
  return random ?? `answer-${Date.now().toString(36)}-${counter}`;
}

function summaryOf(c: Conversation): ConversationSummary {
  return { id: c.id, title: c.title, created_ms: c.created_ms, updated_ms: c.updated_ms, messages: c.messages.length };
}

function newestFirst(list: ConversationSummary[]): ConversationSummary[] {
  return [...list].sort((a, b) => b.updated_ms - a.updated_ms);
}

export class ChatSession {
  /** The conversations, most recently updated first. */
  conversations = $state<ConversationSummary[]>([]);
  listState = $state<Loadable>('loading');
  listError = $state<IpcError | null>(null);

  /** The chosen conversation's id; null for a new conversation not created yet (a draft). */
  selectedId = $state<string | null>(null);
  /** The chosen conversation as saved (null for a draft, or while it opens). */
  current = $state<Conversation | null>(null);
  opening = $state(false);
  openError = $state<IpcError | null>(null);
  /** What a draft will answer from once created. */
  draftScope = $state<Scope>({ kind: 'library' });
  scopeError = $state<IpcError | null>(null);

  live = $state<LiveAnswer | null>(null);
  failure = $state<AnswerFailure | null>(null);
  /** A short sentence for screen readers when an answer starts, is written, ends or fails. */
  status = $state('');

  library = $state<LibraryOverview | null>(null);
  libraryState = $state<Loadable | 'idle'>('idle');
  libraryError = $state<IpcError | null>(null);

  /** What did not fit the context window, per answer of this session (`conversation id:created_ms`). */
  #dropped = new Map<string, Dropped>();
  #openSeq = 0;
  #libraryLoad: Promise<void> | null = null;
  #view: { path: string; view: Promise<DocumentView> } | null = null;

  /** The scope of the chosen conversation, or of the draft. */
  get scope(): Scope {
    return this.current?.scope ?? this.draftScope;
  }

  /** Whether an answer is being written (anywhere: the model answers one question at a time). */
  get answering(): boolean {
    return this.live !== null;
  }

  /** The answer being written in the chosen conversation, if any. */
  get liveHere(): LiveAnswer | null {
    return this.live && this.live.conversationId === this.selectedId ? this.live : null;
  }

  /** The failed answer of the chosen conversation, if any. */
  get failureHere(): AnswerFailure | null {
    return this.failure && this.failure.conversationId === this.selectedId ? this.failure : null;
  }

  /** Whether the library is known to hold no documents. */
  get libraryEmpty(): boolean {
    return this.library !== null && this.library.stats.documents === 0;
  }

  droppedFor(conversationId: string, createdMs: number): Dropped | null {
    return this.#dropped.get(`${conversationId}:${createdMs}`) ?? null;
  }

  // The list ---------------------------------------------------------------------------------------------

  async load(): Promise<void> {
    if (this.conversations.length === 0) this.listState = 'loading';
    this.listError = null;
    try {
      const list = await listConversations();
      this.conversations = newestFirst(Array.isArray(list) ? list : []);
      this.listState = 'ready';
    } catch (reason) {
      this.listError = toIpcError(reason);
      this.listState = 'error';
    }
  }

  /** Opens a conversation; resolves with whether it opened. */
  async select(id: string): Promise<boolean> {
    if (this.selectedId === id && this.current?.id === id) return true;
    const seq = ++this.#openSeq;
    this.selectedId = id;
    this.current = null;
    this.openError = null;
    this.scopeError = null;
    this.opening = true;
    try {
      const conversation = await getConversation(id);
      if (seq !== this.#openSeq) return false;
      this.current = conversation;
      return true;
    } catch (reason) {
      if (seq === this.#openSeq) this.openError = toIpcError(reason);
      return false;
    } finally {
      if (seq === this.#openSeq) this.opening = false;
    }
  }

  /** Starts a new conversation: it is created when its first question is sent. */
  startNew(): void {
    this.#openSeq++;
    this.selectedId = null;
    this.current = null;
    this.opening = false;
    this.openError = null;
    this.scopeError = null;
    this.draftScope = { kind: 'library' };
  }

  /** Renames a conversation; rejects with an IpcError. */
  async rename(id: string, title: string): Promise<void> {
    const clean = title.trim();
    const before = this.conversations.find((c) => c.id === id);
    if (!clean || clean === before?.title) return;
    const saved = await renameConversation(id, clean);
    this.conversations = this.conversations.map((c) => (c.id === id ? { ...c, title: saved.title } : c));
    if (this.current?.id === id) this.current = { ...this.current, title: saved.title };
  }

  /** Deletes a conversation; rejects with an IpcError. */
  async remove(id: string): Promise<void> {
    await deleteConversation(id);
    this.conversations = this.conversations.filter((c) => c.id !== id);
    if (this.failure?.conversationId === id) this.failure = null;
    if (this.selectedId === id) this.startNew();
  }

  /**
   * Exports a conversation to a file the person chooses; resolves with the path written, or null when the
   * save dialog was cancelled. Rejects with an IpcError.
   */
  async exportTo(id: string, format: ExportFormat): Promise<string | null> {
    const title = this.conversations.find((c) => c.id === id)?.title ?? this.current?.title ?? '';
    const path = await chooseSavePath(exportFileName(title, format));
    if (!path) return null;
    await exportConversation(id, format, path);
    return path;
  }

  /** Changes what the chosen conversation (or the draft) answers from; resolves with whether it changed. */
  async setScope(scope: Scope): Promise<boolean> {
    this.scopeError = null;
    const current = this.current;
    if (!current) {
      this.draftScope = scope;
      return true;
    }
    try {
      const saved = await setConversationScope(current.id, scope);
      if (this.current?.id === current.id) this.current = { ...this.current, scope: saved.scope };
      return true;
    } catch (reason) {
      this.scopeError = toIpcError(reason);
      return false;
    }
  }

  // The library (for the scope picker and hints) ---------------------------------------------------------

  /** Reads the library's documents and collections (once, or again with `fresh`). */
  loadLibrary(fresh = false): Promise<void> {
    if (this.#libraryLoad) return this.#libraryLoad;
    if (this.library && !fresh) return Promise.resolve();
    if (!this.library) this.libraryState = 'loading';
    this.libraryError = null;
    this.#libraryLoad = (async () => {
      try {
        const overview = await getLibraryOverview();
        if (overview && typeof overview === 'object') this.library = overview;
        this.libraryState = 'ready';
      } catch (reason) {
        this.libraryError = toIpcError(reason);
        this.libraryState = 'error';
      } finally {
        this.#libraryLoad = null;
      }
    })();
    return this.#libraryLoad;
  }

  /** A document's text for the source viewer; the last one is kept while the same document is shown. */
  documentView(path: string): Promise<DocumentView> {
    if (this.#view?.path !== path) {
      const view = getDocumentView(path);
      this.#view = { path, view };
      view.catch(() => {
        if (this.#view?.view === view) this.#view = null;
      });
    }
    return this.#view.view;
  }

  // Answers ----------------------------------------------------------------------------------------------

  /**
   * Asks `text` in the chosen conversation, creating it first for a draft. Resolves when the answer has
   * ended (written, stopped or failed); false when nothing was asked.
   */
  async send(text: string): Promise<boolean> {
    const question = text.trim();
    if (!question || this.live) return false;
    if (this.selectedId !== null && !this.current) return false;
    this.failure = null;

    let conversationId = this.current?.id ?? null;
    if (conversationId === null) {
      // The question shows at once, while the conversation is created.
      this.live = this.#newLive(null, question, false);
      this.status = 'Searching your library…';
      try {
        const created = await createConversation(titleFromQuestion(question), this.draftScope);
        conversationId = created.id;
        this.conversations = [summaryOf(created), ...this.conversations.filter((c) => c.id !== created.id)];
        if (this.selectedId === null) {
          this.#openSeq++;
          this.selectedId = created.id;
          this.current = created;
          this.opening = false;
        }
      } catch (reason) {
        this.live = null;
        this.#fail(null, question, false, reason);
        return true;
      }
    }
    await this.#ask(conversationId, question, false);
    return true;
  }

  /** Writes the chosen conversation's last answer again, for its last question. */
  async regenerate(): Promise<boolean> {
    const current = this.current;
    if (!current || this.live) return false;
    const lastQuestion = [...current.messages].reverse().find((m) => m.role === 'user');
    if (!lastQuestion) return false;
    this.failure = null;
    await this.#ask(current.id, lastQuestion.content, true);
    return true;
  }

  /** Asks the failed question again. */
  async retry(): Promise<boolean> {
    const failure = this.failure;
    if (!failure || this.live) return false;
    if (failure.conversationId === null) return this.send(failure.question);
    this.failure = null;
    await this.#ask(failure.conversationId, failure.question, failure.regenerate);
    return true;
  }

  /** Stops the answer being written (it ends at its next token and is kept, marked "stopped"). */
  stop(): void {
    const live = this.live;
    if (!live || live.stopping) return;
    live.stopping = true;
    this.status = 'Stopping the answer…';
    cancelAnswer(live.requestId)?.catch(() => {
      // The answer already ended: nothing to stop.
    });
  }

  #newLive(conversationId: string | null, question: string, regenerate: boolean): LiveAnswer {
    return {
      requestId: newRequestId(),
      conversationId,
      question,
      regenerate,
      rewritten: null,
      retrieved: null,
      rerank: null,
      sources: null,
      dropped: { sources: 0, history: 0 },
      promptTokens: null,
      cachedTokens: null,
      progress: null,
      text: '',
      stopping: false,
    };
  }

  async #ask(conversationId: string, question: string, regenerate: boolean): Promise<void> {
    if (this.live && this.live.conversationId === null) {
      // The draft's question is already on screen: the answer continues it.
      this.live.conversationId = conversationId;
    } else {
      this.live = this.#newLive(conversationId, question, regenerate);
      this.status = 'Searching your library…';
    }
    const live = this.live;
    if (!live) return;

    let wrote = false;
    const queue = createFrameQueue<AnswerEvent>((events) => {
      if (this.live !== live) return;
      // The frame's text: the tokens appended, or a whole new text when Quire matched the citations.
      let replaced: string | null = null;
      let text = '';
      for (const event of events) {
        if (event.type === 'token') text += event.text;
        else if (event.type === 'cited') {
          replaced = event.text;
          text = '';
        } else applyStep(live, event);
      }
      if (replaced !== null) live.text = replaced + text;
      else if (text) live.text += text;
      if (live.text) {
        if (!wrote) {
          wrote = true;
          this.status = 'Writing the answer…';
        }
      }
    });

    try {
      const saved = await ask(
        { request_id: live.requestId, conversation_id: conversationId, question, regenerate },
        (event) => queue.push(event),
      );
      queue.flush();
      const last = saved.messages[saved.messages.length - 1];
      if (last && (live.dropped.sources > 0 || live.dropped.history > 0)) {
        this.#dropped.set(`${saved.id}:${last.created_ms}`, { ...live.dropped });
      }
      this.conversations = [summaryOf(saved), ...this.conversations.filter((c) => c.id !== saved.id)];
      if (this.selectedId === saved.id) this.current = saved;
      this.status = last?.not_in_library
        ? 'Not found in your library.'
        : last?.stop === 'cancelled'
          ? 'Answer stopped.'
          : 'Answer ready.';
    } catch (reason) {
      this.#fail(conversationId, question, regenerate, reason);
    } finally {
      queue.cancel();
      if (this.live === live) this.live = null;
    }
  }

  #fail(conversationId: string | null, question: string, regenerate: boolean, reason: unknown): void {
    const error = toIpcError(reason);
    this.failure = { conversationId, question, regenerate, error };
    this.status = error.kind === 'cancelled' ? 'Answer stopped.' : `The answer failed: ${error.message}`;
  }
}

/** Records one step of an answer. */
function applyStep(live: LiveAnswer, event: Exclude<AnswerEvent, { type: 'token' | 'cited' }>): void {
  switch (event.type) {
    case 'rewritten':
      live.rewritten = event.query;
      break;
    case 'retrieved':
      live.retrieved = { chunks: event.chunks, duplicatesRemoved: event.duplicates_removed };
      break;
    case 'rerank':
      live.rerank = event.status === 'ran' ? { status: 'ran', model: event.model } : { status: 'skipped', reason: event.reason };
      break;
    case 'sources':
      live.sources = event.sources;
      live.dropped = { sources: event.dropped_sources, history: event.dropped_history };
      live.promptTokens = event.prompt_tokens;
      break;
    case 'progress':
      live.progress = event.message;
      break;
    case 'prompt':
      live.promptTokens = event.tokens;
      live.cachedTokens = event.cached;
      break;
  }
}
