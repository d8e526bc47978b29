/**
 * The library's state and everything the library screen asks Rust for: the overview (documents, statistics,
 * collections, watched folders and how each is followed), imports and their progress, the indexing queue
 * (paused, jobs set aside), the actions on a document, collections and the library search.
 *
 * The app shell keeps one store for the app's lifetime and starts it at once, so import progress is followed
 * on every screen and a drop on any screen imports. Components read the fields (they are reactive) and call
 * the methods; a method that fails says why in `problem`, except those whose caller shows the error in place.
 */
import {
  cancelImports,
  chooseFiles,
  chooseFolder,
  getLibraryOverview,
  getQueueState,
  importPaths,
  onIngest,
  onQueue,
  onWatching,
  openDocument,
  pauseIndexing,
  reindexDocument,
  removeCollection,
  removeDocument,
  retryDocuments,
  revealDocument,
  searchLibrary,
  setCollection,
  settleGivenUp,
  setWatchRules,
  syncWatched,
  toIpcError,
  unwatchFolder,
  watchFolder,
  type DocumentRecord,
  type FolderStatus,
  type Hit,
  type IngestNotice,
  type IpcError,
  type Job,
  type LibraryOverview,
  type QueueView,
  type WatchedFolder,
  type WatchRules,
} from '../ipc';
import { baseName } from './format';
import { IDLE, IngestTracker, isQuietEnd, type ImportDoc, type ProgressSnapshot } from './progress';
import { mergeRows, type LibraryRow } from './rows';

export type LoadState = 'idle' | 'loading' | 'ready' | 'error';

/** Something the person asked for that did not happen. */
export interface Problem {
  /** What was being done, e.g. "Could not remove report.pdf". */
  title: string;
  error: IpcError;
}

/** How often the progress shown is brought up to date while documents stream in (ms). */
const PUBLISH_MS = 150;
/** How often the time left counts down between events (ms). */
const TICK_MS = 1000;

/** Reads the overview defensively: a missing part is empty rather than a crash. */
function normalize(value: unknown): LibraryOverview {
  const v = (value ?? {}) as Partial<LibraryOverview>;
  const documents: DocumentRecord[] = Array.isArray(v.documents) ? v.documents : [];
  const stats = v.stats ?? {
    documents: documents.length,
    indexed: documents.filter((d) => d.status === 'indexed').length,
    failed: documents.filter((d) => d.status === 'failed').length,
    chunks: documents.reduce((sum, d) => sum + d.chunk_count, 0),
    disk_bytes: 0,
    embedding_model: null,
  };
  const collections = v.collections && typeof v.collections === 'object' ? v.collections : {};
  const watched = Array.isArray(v.watched) ? v.watched : [];
  const watching = v.watching && typeof v.watching === 'object' ? v.watching : {};
  const notices = Array.isArray(v.notices) ? v.notices.filter((n): n is string => typeof n === 'string') : [];
  return { stats, documents, collections, watched, watching, notices };
}

/** Reads the queue's state defensively (null when it is not shaped like one). */
function normalizeQueue(value: unknown): QueueView | null {
  if (!value || typeof value !== 'object') return null;
  const v = value as Partial<QueueView>;
  return {
    paused: v.paused === true,
    running: typeof v.running === 'number' ? v.running : null,
    jobs: Array.isArray(v.jobs) ? v.jobs : [],
    given_up: Array.isArray(v.given_up) ? v.given_up : [],
    held_elsewhere: v.held_elsewhere === true,
  };
}

export class LibraryStore {
  overview = $state.raw<LibraryOverview | null>(null);
  loadState = $state<LoadState>('idle');
  /** Why the overview could not be read (kept with the old overview when a refresh fails). */
  loadError = $state.raw<IpcError | null>(null);

  /** The imports: the active one, the latest summary or error. */
  progress = $state.raw<ProgressSnapshot>(IDLE);
  /** Cancel was asked for and the imports have not ended yet. */
  cancelling = $state(false);
  /** The indexing queue as Rust last said (null until known): paused or not, jobs waiting, jobs set aside. */
  queue = $state.raw<QueueView | null>(null);
  /** Pause or Resume was asked for and Rust has not answered yet. */
  pausing = $state(false);
  /** Retry or Dismiss of the jobs set aside was asked for and Rust has not answered yet. */
  settling = $state(false);
  /** How each watched folder is followed now, by path (the overview's word, then `watching` events). */
  watching = $state.raw<Record<string, FolderStatus>>({});
  /** A file or folder picker is open. */
  choosing = $state(false);
  problem = $state.raw<Problem | null>(null);

  /** The query of the latest library search, null when no search is shown. */
  searched = $state<string | null>(null);
  hits = $state.raw<Hit[] | null>(null);
  searching = $state(false);
  searchError = $state.raw<IpcError | null>(null);

  /** What imports say per document; changes only when a document's status does. */
  #importing = $state.raw<Pick<ProgressSnapshot, 'docs' | 'roots'>>({ docs: IDLE.docs, roots: IDLE.roots });

  /** Every document, with what a running import says about it. */
  readonly rows: LibraryRow[] = $derived(mergeRows(this.overview?.documents ?? [], this.#importing));

  /** The documents by path. */
  readonly byPath: ReadonlyMap<string, DocumentRecord> = $derived(
    new Map((this.overview?.documents ?? []).map((d) => [d.path, d])),
  );

  /** Collection names (sorted) with their paths. */
  readonly collections: [string, string[]][] = $derived(
    Object.entries(this.overview?.collections ?? {}).sort(([a], [b]) => a.localeCompare(b)),
  );

  /** The watched folders by path. */
  readonly watched: ReadonlyMap<string, WatchedFolder> = $derived(
    new Map((this.overview?.watched ?? []).map((w) => [w.path, w])),
  );

  /** Indexing is paused (kept across restarts): nothing is indexed until Resume. */
  readonly paused: boolean = $derived(this.queue?.paused ?? false);

  /** The jobs set aside after failing five times, with their last error. */
  readonly givenUp: Job[] = $derived(this.queue?.given_up ?? []);

  /** The paths of the failed documents no import is working on now (what "Retry all failed" retries). */
  readonly failedPaths: string[] = $derived(this.rows.filter((r) => r.status === 'failed' && !r.working).map((r) => r.path));

  /** The library is read and holds nothing, and no import has reached a file yet. */
  readonly empty: boolean = $derived(this.overview !== null && this.rows.length === 0);

  #tracker = new IngestTracker();
  #published = -1;
  #users = 0;
  #listening: object | null = null;
  #unlisten: (() => void)[] = [];
  #timer: ReturnType<typeof setTimeout> | null = null;
  #ticker: ReturnType<typeof setInterval> | null = null;
  #loadSeq = 0;
  #searchSeq = 0;
  /** Counts the queue states received, so an answer to `queue_state` older than an event is not used. */
  #queueSeq = 0;

  /**
   * Follows the `ingest`, `queue` and `watching` events until every caller has called the function returned,
   * and, once listening, reads the queue's state: the jobs left from a previous run (resumed at start, their
   * `queued` sent before the window listened) show as queued, and a pause kept from the last run shows.
   * Outside the app (no events to follow) it does nothing.
   */
  start(): () => void {
    this.#users += 1;
    if (this.#users === 1) this.#listen();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#users -= 1;
      if (this.#users === 0) this.#stop();
    };
  }

  #listen(): void {
    const token = {};
    this.#listening = token;
    const follow = (subscribe: () => Promise<() => void>): Promise<boolean> =>
      Promise.resolve()
        .then(subscribe)
        .then(
          (unlisten) => {
            const stop = typeof unlisten === 'function' ? unlisten : null;
            if (this.#listening === token) {
              if (stop) this.#unlisten.push(stop);
            } else stop?.();
            return true;
          },
          // Not in the app: there is nothing to follow.
          () => false,
        );
    void Promise.all([
      follow(() => onIngest((notice) => this.receive(notice))),
      follow(() => onQueue((view) => this.receiveQueue(view))),
      follow(() => onWatching((watching) => this.receiveWatching(watching))),
    ]).then(([ingest]) => {
      if (ingest && this.#listening === token) void this.#readQueue();
    });
  }

  /** Reads the queue's state once listening (what happened before the window listened). */
  async #readQueue(): Promise<void> {
    const seq = this.#queueSeq;
    try {
      const view = await getQueueState();
      // A `queue` event that came meanwhile is newer.
      if (seq === this.#queueSeq) this.receiveQueue(view);
    } catch {
      // The progress shown comes from the events alone.
    }
  }

  #stop(): void {
    this.#listening = null;
    for (const stop of this.#unlisten.splice(0)) stop();
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#setTicker(false);
  }

  /** Takes in one `ingest` event. */
  receive(notice: IngestNotice, now = Date.now()): void {
    const urgent = this.#tracker.apply(notice, now);
    if (notice.event === 'finished' || notice.event === 'error') {
      if (!this.#tracker.busy) this.cancelling = false;
      // Documents were written: read the library again (the list keeps the import's word until then). A
      // background job that changed nothing wrote nothing.
      if (notice.event === 'finished' && !isQuietEnd(notice)) void this.load();
    }
    if (urgent) this.flush(now);
    else if (this.#timer === null) this.#timer = setTimeout(() => this.flush(), PUBLISH_MS);
  }

  /** Shows the imports' progress as it is now (the events between two updates are shown together). */
  flush(now = Date.now()): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const snapshot = this.#tracker.snapshot(now);
    if (this.#tracker.version !== this.#published) {
      this.#published = this.#tracker.version;
      this.#importing = { docs: snapshot.docs, roots: snapshot.roots };
    }
    this.progress = snapshot;
    this.#setTicker(snapshot.active?.remaining != null && this.#users > 0);
  }

  #setTicker(on: boolean): void {
    if (on && this.#ticker === null) this.#ticker = setInterval(() => this.flush(), TICK_MS);
    if (!on && this.#ticker !== null) {
      clearInterval(this.#ticker);
      this.#ticker = null;
    }
  }

  /** Takes in the queue's state (`queue_state`, or a `queue` event). */
  receiveQueue(value: QueueView, now = Date.now()): void {
    const view = normalizeQueue(value);
    if (!view) return;
    this.#queueSeq += 1;
    this.queue = view;
    this.#tracker.applyQueue(view, now);
    if (!this.#tracker.busy) this.cancelling = false;
    this.flush(now);
  }

  /** Takes in how the watched folders are followed (a `watching` event: every folder, by path). */
  receiveWatching(watching: Record<string, FolderStatus>): void {
    if (watching && typeof watching === 'object') this.watching = watching;
  }

  /** The import's word about one document, if any. */
  importOf(path: string): ImportDoc | undefined {
    return this.#importing.docs.get(path);
  }

  // The overview -------------------------------------------------------------------------------------------

  /** Reads the library (again); resolves with whether it was read. The old overview stays shown meanwhile. */
  async load(): Promise<boolean> {
    const seq = ++this.#loadSeq;
    const ended = this.#tracker.lastEnded;
    if (this.overview === null) this.loadState = 'loading';
    try {
      const overview = normalize(await getLibraryOverview());
      if (seq !== this.#loadSeq) return false;
      this.overview = overview;
      this.watching = overview.watching;
      this.loadState = 'ready';
      this.loadError = null;
      // Imports that had ended before this read are in it: their documents' stored status says it all now.
      const known = new Set(overview.documents.map((d) => d.path));
      this.#tracker.settle(ended, (path) => known.has(path));
      this.flush();
      return true;
    } catch (reason) {
      if (seq !== this.#loadSeq) return false;
      this.loadError = toIpcError(reason);
      if (this.overview === null) this.loadState = 'error';
      return false;
    }
  }

  // Imports ------------------------------------------------------------------------------------------------

  /** Queues files and folders for import (a drop, a picker); resolves with whether it was queued. */
  async add(paths: readonly string[], collection?: string): Promise<boolean> {
    const list = paths.filter((p) => p.trim() !== '');
    if (list.length === 0) return false;
    this.problem = null;
    try {
      await importPaths(list, collection);
      return true;
    } catch (reason) {
      this.problem = { title: 'Could not start the import', error: toIpcError(reason) };
      return false;
    }
  }

  /** Asks for files with the system's picker, then imports them. */
  async addFiles(): Promise<void> {
    const files = await this.#choose(() => chooseFiles());
    if (Array.isArray(files) && files.length > 0) await this.add(files);
  }

  /** Asks for a folder with the system's picker, then imports it. */
  async addFolder(): Promise<void> {
    const folder = await this.#choose(() => chooseFolder());
    if (typeof folder === 'string' && folder) await this.add([folder]);
  }

  /** A folder from the system's picker, or null when cancelled (or when the picker failed: see `problem`). */
  async chooseFolder(): Promise<string | null> {
    const folder = await this.#choose(() => chooseFolder());
    return typeof folder === 'string' && folder ? folder : null;
  }

  async #choose<T>(pick: () => Promise<T>): Promise<T | null> {
    if (this.choosing) return null;
    this.choosing = true;
    this.problem = null;
    try {
      return await pick();
    } catch (reason) {
      this.problem = { title: 'Could not open the picker', error: toIpcError(reason) };
      return null;
    } finally {
      this.choosing = false;
    }
  }

  /** Stops the running import after its current document and drops the queued ones. */
  async cancel(): Promise<void> {
    if (this.cancelling) return;
    this.cancelling = true;
    try {
      await cancelImports();
      if (!this.#tracker.busy) this.cancelling = false;
    } catch (reason) {
      this.cancelling = false;
      this.problem = { title: 'Could not cancel the import', error: toIpcError(reason) };
    }
  }

  /**
   * Pauses indexing (the running job stops before its next document, nothing else starts) or resumes it;
   * kept across restarts. Resolves with whether it was done.
   */
  async setPaused(paused: boolean): Promise<boolean> {
    if (this.pausing) return false;
    this.pausing = true;
    this.problem = null;
    try {
      await pauseIndexing(paused);
      // The `queue` event says the same a moment later.
      if (this.queue) this.queue = { ...this.queue, paused };
      else this.queue = { paused, running: null, jobs: [], given_up: [], held_elsewhere: false };
      return true;
    } catch (reason) {
      this.problem = { title: paused ? 'Could not pause indexing' : 'Could not resume indexing', error: toIpcError(reason) };
      return false;
    } finally {
      this.pausing = false;
    }
  }

  /** Runs the jobs set aside after failing again (`retry`), or forgets them; resolves with whether it was done. */
  async settleGivenUp(retry: boolean): Promise<boolean> {
    if (this.settling) return false;
    this.settling = true;
    this.problem = null;
    try {
      await settleGivenUp(retry);
      if (this.queue) this.queue = { ...this.queue, given_up: [] };
      return true;
    } catch (reason) {
      this.problem = {
        title: retry ? 'Could not retry the jobs set aside' : 'Could not dismiss the jobs set aside',
        error: toIpcError(reason),
      };
      return false;
    } finally {
      this.settling = false;
    }
  }

  /** Puts away the summary (or error) of the latest import. */
  dismiss(): void {
    this.#tracker.dismiss();
    this.flush();
  }

  // One document -------------------------------------------------------------------------------------------

  async reindex(path: string): Promise<boolean> {
    return this.#act(`Could not re-index ${baseName(path)}`, () => reindexDocument(path));
  }

  /** Tries failed documents again now (before background work); resolves with whether it was queued. */
  async retry(paths: readonly string[]): Promise<boolean> {
    const list = [...new Set(paths)];
    if (list.length === 0) return false;
    const title = list.length === 1 ? `Could not retry ${baseName(list[0]!)}` : 'Could not retry the failed documents';
    return this.#act(title, () => retryDocuments(list));
  }

  /** Tries every failed document again now. */
  async retryAllFailed(): Promise<boolean> {
    return this.retry(this.failedPaths);
  }

  /** Removes a document from the library (not from the disk), then reads the library again. */
  async remove(path: string): Promise<boolean> {
    const done = await this.#act(`Could not remove ${baseName(path)}`, () => removeDocument(path));
    if (done) await this.load();
    return done;
  }

  async open(path: string): Promise<boolean> {
    return this.#act(`Could not open ${baseName(path)}`, () => openDocument(path));
  }

  async reveal(path: string): Promise<boolean> {
    return this.#act(`Could not show ${baseName(path)} in its folder`, () => revealDocument(path));
  }

  async #act(title: string, action: () => Promise<unknown>): Promise<boolean> {
    this.problem = null;
    try {
      await action();
      return true;
    } catch (reason) {
      this.problem = { title, error: toIpcError(reason) };
      return false;
    }
  }

  // Collections (the caller shows an error in place) --------------------------------------------------------

  /** Creates or replaces a collection; rejects with an IpcError. */
  async saveCollection(name: string, paths: readonly string[]): Promise<void> {
    try {
      await setCollection(name, [...paths]);
    } catch (reason) {
      throw toIpcError(reason);
    }
    await this.load();
  }

  /** Deletes a collection (its documents stay); rejects with an IpcError. */
  async deleteCollection(name: string): Promise<void> {
    try {
      await removeCollection(name);
    } catch (reason) {
      throw toIpcError(reason);
    }
    await this.load();
  }

  // Watched folders ----------------------------------------------------------------------------------------

  /** Watches a folder (imported now, then followed live by the app); rejects with an IpcError. */
  async watch(path: string, collection?: string): Promise<void> {
    try {
      await watchFolder(path, collection);
    } catch (reason) {
      throw toIpcError(reason);
    }
    await this.load();
  }

  /** Stops watching a folder (its documents stay); resolves with whether it was done. */
  async unwatch(path: string): Promise<boolean> {
    const done = await this.#act(`Could not stop watching ${baseName(path)}`, () => unwatchFolder(path));
    if (done) await this.load();
    return done;
  }

  /**
   * Sets a watched folder's include and exclude patterns and size limit; the app then syncs the folder with
   * them. Rejects with an IpcError (the caller shows it in place, keeping what the person typed).
   */
  async setWatchRules(path: string, rules: WatchRules): Promise<void> {
    try {
      await setWatchRules(path, rules);
    } catch (reason) {
      throw toIpcError(reason);
    }
    await this.load();
  }

  /** Compares every watched folder with the library now ("Sync now"; the app follows them live by itself). */
  async syncWatched(): Promise<boolean> {
    return this.#act('Could not sync the watched folders', () => syncWatched());
  }

  // Search -------------------------------------------------------------------------------------------------

  /** Searches the library; the previous results stay shown until the new ones arrive. */
  async search(query: string): Promise<void> {
    const q = query.trim();
    if (!q) {
      this.clearSearch();
      return;
    }
    const seq = ++this.#searchSeq;
    this.searched = q;
    this.searching = true;
    this.searchError = null;
    try {
      const hits = await searchLibrary(q);
      if (seq !== this.#searchSeq) return;
      this.hits = Array.isArray(hits) ? hits : [];
    } catch (reason) {
      if (seq !== this.#searchSeq) return;
      this.hits = null;
      this.searchError = toIpcError(reason);
    } finally {
      if (seq === this.#searchSeq) this.searching = false;
    }
  }

  clearSearch(): void {
    this.#searchSeq += 1;
    this.searched = null;
    this.hits = null;
    this.searching = false;
    this.searchError = null;
  }
}
