import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  cancelImports,
  chooseFiles,
  chooseFolder,
  getLibraryOverview,
  importPaths,
  onIngest,
  removeDocument,
  searchLibrary,
} from '$lib/ipc/commands';
import { IpcError, type IngestNotice } from '$lib/ipc';
import { LibraryStore } from '$lib/library/store.svelte';
import { doc, overview } from '$lib/library/testing';

vi.mock('$lib/ipc/commands');

let emit: (notice: IngestNotice) => void = () => {};
const unlisten = vi.fn();

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(onIngest).mockImplementation(async (handler) => {
    emit = handler;
    return unlisten;
  });
  vi.mocked(getLibraryOverview).mockResolvedValue(overview([]));
});

async function settled(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('LibraryStore', () => {
  it('follows ingest events once however many screens start it, and stops with the last one', async () => {
    const store = new LibraryStore();
    const a = store.start();
    const b = store.start();
    await settled();
    expect(onIngest).toHaveBeenCalledTimes(1);

    a();
    a();
    expect(unlisten).not.toHaveBeenCalled();
    b();
    expect(unlisten).toHaveBeenCalledTimes(1);
  });

  it('shows document statuses from the events and reads the library again when a batch finishes', async () => {
    const store = new LibraryStore();
    store.start();
    await store.load();
    await settled();

    emit({ event: 'queued', batch: 1, paths: ['/docs/a.pdf'] });
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
    emit({ event: 'finished', batch: 1, indexed: 1, unchanged: 0, failed: 0, removed: 0, moved: 0, cancelled: false, seconds: 2 });
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
    emit({ event: 'finished', batch: 1, indexed: 0, unchanged: 0, failed: 0, removed: 0, moved: 0, cancelled: true, seconds: 1 });
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
});
