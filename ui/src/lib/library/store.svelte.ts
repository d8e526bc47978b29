/**
 * The library's state and everything the library screen asks Rust for: the overview (documents, statistics,
 * collections), imports and their progress, the actions on a document, collections and the library search.
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
  importPaths,
  onIngest,
  openDocument,
  reindexDocument,
  removeCollection,
  removeDocument,
  revealDocument,
  searchLibrary,
  setCollection,
  syncWatched,
  toIpcError,
  unwatchFolder,
  watchFolder,
  type DocumentRecord,
  type Hit,
  type IngestNotice,
  type IpcError,
  type LibraryOverview,
  type WatchedFolder,
} from '../ipc';
import { baseName } from './format';
import { IDLE, IngestTracker, type ImportDoc, type ProgressSnapshot } from './progress';
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
  return { stats, documents, collections, watched };
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

  /** The library is read and holds nothing, and no import has reached a file yet. */
  readonly empty: boolean = $derived(this.overview !== null && this.rows.length === 0);

  #tracker = new IngestTracker();
  #published = -1;
  #users = 0;
  #listening: object | null = null;
  #unlisten: (() => void) | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #ticker: ReturnType<typeof setInterval> | null = null;
  #loadSeq = 0;
  #searchSeq = 0;
  /** The watched folders were synced since the app started. */
  #synced = false;

  /**
   * Follows the `ingest` events until every caller has called the function returned. Outside the app (no
   * events to follow) it does nothing.
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
    Promise.resolve()
      .then(() => onIngest((notice) => this.receive(notice)))
      .then(
        (unlisten) => {
          const stop = typeof unlisten === 'function' ? unlisten : null;
          if (this.#listening === token) this.#unlisten = stop;
          else stop?.();
        },
        () => {
          // Not in the app: there are no imports to follow.
        },
      );
  }

  #stop(): void {
    this.#listening = null;
    this.#unlisten?.();
    this.#unlisten = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#setTicker(false);
  }

  /** Takes in one `ingest` event. */
  receive(notice: IngestNotice, now = Date.now()): void {
    const urgent = this.#tracker.apply(notice, now);
    if (notice.event === 'finished' || notice.event === 'error') {
      if (!this.#tracker.busy) this.cancelling = false;
      // Documents were written: read the library again (the list keeps the import's word until then).
      if (notice.event === 'finished') void this.load();
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
      this.loadState = 'ready';
      this.loadError = null;
      // Imports that had ended before this read are in it: their documents' stored status says it all now.
      const known = new Set(overview.documents.map((d) => d.path));
      this.#tracker.settle(ended, (path) => known.has(path));
      this.flush();
      // Changes made to watched folders while Quire was closed are picked up once the library is read.
      if (!this.#synced && overview.watched.length > 0) {
        this.#synced = true;
        void this.syncWatched();
      }
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

  /** Puts away the summary (or error) of the latest import. */
  dismiss(): void {
    this.#tracker.dismiss();
    this.flush();
  }

  // One document -------------------------------------------------------------------------------------------

  async reindex(path: string): Promise<boolean> {
    return this.#act(`Could not re-index ${baseName(path)}`, () => reindexDocument(path));
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

  /** Watches a folder (imported now, synced at start-up and on request); rejects with an IpcError. */
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

  /** Brings every watched folder up to date now. */
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
