import { beforeEach, describe, expect, it, vi } from 'vitest';
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
  pauseIndexing,
  removeDocument,
  retryDocuments,
  searchLibrary,
  settleGivenUp,
  syncWatched,
} from '$lib/ipc/commands';
import { IpcError, type FolderStatus, type IngestNotice, type QueueView } from '$lib/ipc';
import { LibraryStore } from '$lib/library/store.svelte';
import { doc, job, overview, queueView } from '$lib/library/testing';

vi.mock('$lib/ipc/commands');

let emit: (notice: IngestNotice) => void = () => {};
let emitQueue: (view: QueueView) => void = () => {};
let emitWatching: (watching: Record<string, FolderStatus>) => void = () => {};
const unlisten = vi.fn();

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(onIngest).mockImplementation(async (handler) => {
    emit = handler;
    return unlisten;
  });
  vi.mocked(onQueue).mockImplementation(async (handler) => {
    emitQueue = handler;
    return unlisten;
  });
  vi.mocked(onWatching).mockImplementation(async (handler) => {
    emitWatching = handler;
    return unlisten;
  });
  vi.mocked(getQueueState).mockResolvedValue(queueView());
  vi.mocked(getLibraryOverview).mockResolvedValue(overview([]));
});

async function settled(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe('LibraryStore', () => {
  it('follows ingest events once however many screens start it, and stops with the last one', async () => {
    const store = new LibraryStore();
    const a = store.start();
    const b = store.start();
    await settled();
    expect(onIngest).toHaveBeenCalledTimes(1);
    expect(onQueue).toHaveBeenCalledTimes(1);
    expect(onWatching).toHaveBeenCalledTimes(1);

    a();
    a();
    expect(unlisten).not.toHaveBeenCalled();
    b();
    // The ingest, queue and watching events.
    expect(unlisten).toHaveBeenCalledTimes(3);
  });

  it('shows document statuses from the events and reads the library again when a batch finishes', async () => {
    const store = new LibraryStore();
    store.start();
    await store.load();
    await settled();

    emit({ event: 'queued', batch: 1, paths: ['/docs/a.pdf'], background: false });
    expect(store.progress.active?.phase).toBe('queued');
    expect(store.rows.map((r) => [r.path, r.status])).toEqual([['/docs/a.pdf', 'queued']]);
    expect(store.empty).toBe(false);

    emit({ event: 'scanned', batch: 1, files: 1, bytes: 100, paths: ['/docs/a.pdf'] });
    emit({ event: 'stage', batch: 1, path: '/docs/a.pdf', stage: 'embedding' });
    // Per-document events are shown together, a moment later (or at once when flushed).
    store.flush();
    expect(store.rows[0]?.status).toBe('embedding');

    vi.mocked(getLibraryOverview).mockResolvedValue(overview([doc('/docs/a.pdf', { title: 'A', chunk_count: 7 })]));
    emit({
      event: 'document',
      batch: 1,
      path: '/docs/a.pdf',
      bytes: 100,
      outcome: { status: 'indexed', chunks: 7, tokens: 900, pages: 1 },
    });
    emit({ event: 'finished', batch: 1, indexed: 1, unchanged: 0, failed: 0, removed: 0, moved: 0, cancelled: false, seconds: 2, background: false });
    expect(store.progress.finished?.counts.indexed).toBe(1);
    expect(getLibraryOverview).toHaveBeenCalledTimes(2);
    await settled();

    expect(store.rows).toHaveLength(1);
    expect(store.rows[0]).toMatchObject({ name: 'A', status: 'indexed', chunks: 7 });
    expect(store.importOf('/docs/a.pdf')).toBeUndefined();
  });

  it('keeps the old overview when a refresh fails, and reports the first failure as an error state', async () => {
    const store = new LibraryStore();
    vi.mocked(getLibraryOverview).mockRejectedValueOnce(new IpcError('io', 'disk on fire'));
    expect(await store.load()).toBe(false);
    expect(store.loadState).toBe('error');
    expect(store.loadError?.message).toBe('disk on fire');

    expect(await store.load()).toBe(true);
    expect(store.loadState).toBe('ready');
    vi.mocked(getLibraryOverview).mockRejectedValueOnce(new IpcError('io', 'again'));
    await store.load();
    expect(store.loadState).toBe('ready');
    expect(store.overview).not.toBeNull();
    expect(store.loadError?.message).toBe('again');
  });

  it('imports what the pickers return, and nothing when they are cancelled', async () => {
    const store = new LibraryStore();
    vi.mocked(chooseFiles).mockResolvedValueOnce(['/a.pdf', '/b.md']).mockResolvedValueOnce([]);
    vi.mocked(chooseFolder).mockResolvedValueOnce('/notes').mockResolvedValueOnce(null);
    vi.mocked(importPaths).mockResolvedValue(1);

    await store.addFiles();
    await store.addFiles();
    await store.addFolder();
    await store.addFolder();

    expect(importPaths).toHaveBeenCalledTimes(2);
    expect(importPaths).toHaveBeenNthCalledWith(1, ['/a.pdf', '/b.md'], undefined);
    expect(importPaths).toHaveBeenNthCalledWith(2, ['/notes'], undefined);
  });

  it('says why an import could not start', async () => {
    const store = new LibraryStore();
    vi.mocked(importPaths).mockRejectedValue(new IpcError('invalid_input', 'Nothing to import'));
    expect(await store.add(['/x'])).toBe(false);
    expect(store.problem?.title).toBe('Could not start the import');
    expect(store.problem?.error.message).toBe('Nothing to import');
  });

  it('is cancelling from Cancel until the imports end', async () => {
    const store = new LibraryStore();
    store.start();
    await settled();
    emit({ event: 'scanned', batch: 1, files: 3, bytes: 3, paths: ['/d'] });
    vi.mocked(cancelImports).mockResolvedValue(undefined);

    await store.cancel();
    expect(cancelImports).toHaveBeenCalledTimes(1);
    expect(store.cancelling).toBe(true);
    emit({ event: 'finished', batch: 1, indexed: 0, unchanged: 0, failed: 0, removed: 0, moved: 0, cancelled: true, seconds: 1, background: false });
    expect(store.cancelling).toBe(false);
    expect(store.progress.finished?.cancelled).toBe(true);
  });

  it('removes a document and reads the library again', async () => {
    const store = new LibraryStore();
    vi.mocked(removeDocument).mockResolvedValue(undefined);
    expect(await store.remove('/a.pdf')).toBe(true);
    expect(removeDocument).toHaveBeenCalledWith('/a.pdf');
    expect(getLibraryOverview).toHaveBeenCalledTimes(1);

    vi.mocked(removeDocument).mockRejectedValue(new IpcError('not_found', 'no such document'));
    expect(await store.remove('/b.pdf')).toBe(false);
    expect(store.problem?.title).toBe('Could not remove b.pdf');
  });

  it('keeps only the latest search', async () => {
    const store = new LibraryStore();
    let first: (v: never[]) => void = () => {};
    vi.mocked(searchLibrary)
      .mockReturnValueOnce(new Promise((resolve) => (first = resolve)))
      .mockResolvedValueOnce([]);

    const a = store.search('old');
    const b = store.search('new');
    await b;
    first([]);
    await a;
    expect(store.searched).toBe('new');
    expect(store.hits).toEqual([]);
    expect(store.searching).toBe(false);

    await store.search('   ');
    expect(store.searched).toBeNull();
  });

  it('shows the jobs left from the last run, read once listening, and a pause kept from it', async () => {
    vi.mocked(getQueueState).mockResolvedValue(
      queueView({
        paused: true,
        jobs: [job(41, { paths: ['/docs/a.pdf'] }), job(42, { paths: ['/docs/b.pdf'] })],
      }),
    );
    const store = new LibraryStore();
    store.start();
    await settled();

    expect(getQueueState).toHaveBeenCalledTimes(1);
    expect(vi.mocked(getQueueState).mock.invocationCallOrder[0]).toBeGreaterThan(
      vi.mocked(onIngest).mock.invocationCallOrder[0]!,
    );
    expect(store.paused).toBe(true);
    expect(store.progress.active).toMatchObject({ batch: 41, phase: 'queued' });
    expect(store.progress.waiting).toBe(1);
    expect(store.rows.map((r) => [r.path, r.status])).toEqual([
      ['/docs/a.pdf', 'queued'],
      ['/docs/b.pdf', 'queued'],
    ]);

    // The `queue` event says it resumed.
    emitQueue(queueView({ paused: false, running: 41, jobs: [job(41), job(42)] }));
    expect(store.paused).toBe(false);
    expect(store.progress.active).toMatchObject({ batch: 41, phase: 'running' });
  });

  it('does not use an answer to queue_state older than a queue event', async () => {
    let answer: (view: QueueView) => void = () => {};
    vi.mocked(getQueueState).mockReturnValue(new Promise((resolve) => (answer = resolve)));
    const store = new LibraryStore();
    store.start();
    await settled();
    emitQueue(queueView({ paused: true }));
    answer(queueView({ paused: false }));
    await settled();
    expect(store.paused).toBe(true);
  });

  it('pauses and resumes indexing, and says why when it cannot', async () => {
    const store = new LibraryStore();
    store.start();
    await settled();
    vi.mocked(pauseIndexing).mockResolvedValue(undefined);

    expect(await store.setPaused(true)).toBe(true);
    expect(pauseIndexing).toHaveBeenLastCalledWith(true);
    expect(store.paused).toBe(true);
    expect(await store.setPaused(false)).toBe(true);
    expect(pauseIndexing).toHaveBeenLastCalledWith(false);
    expect(store.paused).toBe(false);

    vi.mocked(pauseIndexing).mockRejectedValue(new IpcError('io', 'The queue cannot be saved'));
    expect(await store.setPaused(true)).toBe(false);
    expect(store.paused).toBe(false);
    expect(store.problem?.title).toBe('Could not pause indexing');
    expect(store.pausing).toBe(false);
  });

  it('does not read the library again, nor sum up, after a background job that changed nothing', async () => {
    const store = new LibraryStore();
    store.start();
    await store.load();
    await settled();
    expect(getLibraryOverview).toHaveBeenCalledTimes(1);

    emit({ event: 'queued', batch: 5, paths: ['/watched'], background: true });
    emit({ event: 'scanned', batch: 5, files: 3, bytes: 30, paths: ['/watched'] });
    expect(store.progress.active).toMatchObject({ batch: 5, background: true });
    emit({ event: 'finished', batch: 5, indexed: 0, unchanged: 3, failed: 0, removed: 0, moved: 0, cancelled: false, seconds: 1, background: true });
    expect(store.progress.active).toBeNull();
    expect(store.progress.finished).toBeNull();
    expect(getLibraryOverview).toHaveBeenCalledTimes(1);

    // One that changed something is read and summed up.
    emit({ event: 'finished', batch: 6, indexed: 0, unchanged: 2, failed: 0, removed: 1, moved: 0, cancelled: false, seconds: 1, background: true });
    expect(store.progress.finished).toMatchObject({ batch: 6, background: true });
    expect(getLibraryOverview).toHaveBeenCalledTimes(2);
  });

  it('does not sync the watched folders when it reads the library (the app follows them)', async () => {
    vi.mocked(getLibraryOverview).mockResolvedValue(overview([], {}, [{ path: '/w', collection: null, added_ms: 1 }]));
    const store = new LibraryStore();
    store.start();
    await store.load();
    await store.load();
    expect(syncWatched).not.toHaveBeenCalled();
  });

  it('retries one failed document, or all of them', async () => {
    vi.mocked(getLibraryOverview).mockResolvedValue(
      overview([
        doc('/a.pdf', { status: 'failed', error: 'damaged' }),
        doc('/b.pdf'),
        doc('/c.pdf', { status: 'failed', error: 'encrypted' }),
      ]),
    );
    vi.mocked(retryDocuments).mockResolvedValue(9);
    const store = new LibraryStore();
    await store.load();

    expect(store.failedPaths).toEqual(['/a.pdf', '/c.pdf']);
    expect(await store.retry(['/a.pdf'])).toBe(true);
    expect(retryDocuments).toHaveBeenLastCalledWith(['/a.pdf']);
    expect(await store.retryAllFailed()).toBe(true);
    expect(retryDocuments).toHaveBeenLastCalledWith(['/a.pdf', '/c.pdf']);

    vi.mocked(retryDocuments).mockRejectedValue(new IpcError('io', 'no'));
    expect(await store.retry(['/c.pdf'])).toBe(false);
    expect(store.problem?.title).toBe('Could not retry c.pdf');
  });

  it('retries or dismisses the jobs set aside', async () => {
    vi.mocked(getQueueState).mockResolvedValue(queueView({ given_up: [job(3, { attempts: 5, last_error: 'No model' })] }));
    vi.mocked(settleGivenUp).mockResolvedValue(undefined);
    const store = new LibraryStore();
    store.start();
    await settled();
    expect(store.givenUp.map((j) => j.id)).toEqual([3]);

    expect(await store.settleGivenUp(true)).toBe(true);
    expect(settleGivenUp).toHaveBeenLastCalledWith(true);
    expect(store.givenUp).toEqual([]);
  });

  it('knows how each watched folder is followed, from the overview and then the events', async () => {
    vi.mocked(getLibraryOverview).mockResolvedValue(
      overview([], {}, [{ path: '/w', collection: null, added_ms: 1 }], { '/w': { mode: 'native' } }),
    );
    const store = new LibraryStore();
    store.start();
    await store.load();
    await settled();
    expect(store.watching).toEqual({ '/w': { mode: 'native' } });

    emitWatching({ '/w': { mode: 'poll', reason: 'a network drive' } });
    expect(store.watching['/w']).toEqual({ mode: 'poll', reason: 'a network drive' });
  });
});
