import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  cancelImports,
  chooseFiles,
  chooseFolder,
  getAppInfo,
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
  unwatchFolder,
  watchFolder,
} from '$lib/ipc/commands';
import { IpcError, type Chunk, type FolderStatus, type Hit, type IngestNotice, type Job, type QueueView } from '$lib/ipc';
import { doc, job, overview, queueView } from '$lib/library/testing';
import LibraryScreen from '$lib/screens/LibraryScreen.svelte';

vi.mock('$lib/ipc/commands');
const appInfo = vi.mocked(getAppInfo);
const libraryOverview = vi.mocked(getLibraryOverview);

let emit: (notice: IngestNotice) => void = () => {};
let emitQueue: (view: QueueView) => void = () => {};
let emitWatching: (watching: Record<string, FolderStatus>) => void = () => {};

beforeEach(() => {
  vi.resetAllMocks();
  appInfo.mockResolvedValue({ name: 'Quire', version: '1.2.3', data_dir: '/tmp/quire-library', data_dir_source: 'environment', default_data_dir: '/home/me/.local/share/quire' });
  libraryOverview.mockResolvedValue(overview([]));
  vi.mocked(onIngest).mockImplementation(async (handler) => {
    emit = handler;
    return () => {};
  });
  vi.mocked(onQueue).mockImplementation(async (handler) => {
    emitQueue = handler;
    return () => {};
  });
  vi.mocked(onWatching).mockImplementation(async (handler) => {
    emitWatching = handler;
    return () => {};
  });
  vi.mocked(getQueueState).mockResolvedValue(queueView());
});

const DOCS = [
  doc('/home/me/Reports/annual.pdf', { title: 'Annual report 2024', size: 2_400_000, pages: 48, chunk_count: 130 }),
  doc('/home/me/Notes/ideas.md', { format: 'markdown', size: 5_300, pages: null, chunk_count: 4, updated_ms: 1 }),
  doc('/home/me/Scans/broken.pdf', {
    status: 'failed',
    error: 'The PDF is damaged: no cross-reference table',
    size: 90,
    chunk_count: 0,
    pages: null,
  }),
  doc('/home/me/Books/long.epub', { format: 'epub', status: 'indexing', size: 800_000, chunk_count: 0 }),
];

function row(path: string): HTMLElement {
  const found = screen.getAllByTestId('doc-row').find((r) => r.dataset.path === path);
  if (!found) throw new Error(`no row for ${path}`);
  return found;
}

function statusOf(path: string): string | undefined {
  return within(row(path)).getByTestId('doc-status').textContent?.trim();
}

function rowNames(): string[] {
  return screen.getAllByTestId('doc-row').map((r) => r.dataset.path ?? '');
}

async function showLibrary(docs = DOCS, collections: Record<string, string[]> = {}) {
  libraryOverview.mockResolvedValue(overview(docs, collections));
  const user = userEvent.setup();
  render(LibraryScreen);
  await screen.findAllByTestId('doc-row');
  return user;
}

function chunk(fields: Partial<Chunk>): Chunk {
  return {
    doc_id: 'd',
    index: 0,
    path: '/home/me/Reports/annual.pdf',
    text: 'text',
    page_start: null,
    page_end: null,
    heading_path: [],
    char_start: 0,
    char_end: 4,
    tokens: 1,
    embedding_model: 'embed',
    ...fields,
  };
}

describe('LibraryScreen', () => {
  it('invites the first import when the library is empty', async () => {
    render(LibraryScreen);

    expect(screen.getByRole('heading', { level: 1, name: 'Library' })).toBeInTheDocument();
    const empty = await screen.findByTestId('library-empty');
    expect(within(empty).getByRole('heading', { name: 'Your library is empty' })).toBeInTheDocument();
    expect(within(empty).getByText('Drop files or folders here to add them.')).toBeInTheDocument();
    expect(within(empty).getByRole('button', { name: 'Add files' })).toBeInTheDocument();
    expect(within(empty).getByRole('button', { name: 'Add folder' })).toBeInTheDocument();
  });

  it('shows the data folder and version that Rust reports', async () => {
    render(LibraryScreen);

    expect(await screen.findByTestId('data-dir')).toHaveTextContent('/tmp/quire-library');
    expect(screen.getByTestId('app-version')).toHaveTextContent('Quire 1.2.3');
    expect(appInfo).toHaveBeenCalledTimes(1);
  });

  it('says it is still reading while the details are on their way', () => {
    appInfo.mockReturnValue(new Promise(() => {}));
    libraryOverview.mockReturnValue(new Promise(() => {}));
    render(LibraryScreen);

    expect(screen.getAllByText('Reading…')).toHaveLength(2);
    expect(screen.queryByTestId('data-dir')).not.toBeInTheDocument();
    // The library itself opens calmly meanwhile.
    expect(screen.getByTestId('library-loading')).toHaveTextContent('Opening your library…');
  });

  it('shows a readable error when the details cannot be read', async () => {
    appInfo.mockRejectedValue(new IpcError('io', 'Permission denied: /srv/quire'));
    render(LibraryScreen);

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Could not read the library details');
    expect(alert).toHaveTextContent('Permission denied: /srv/quire');
    expect(alert).toHaveAttribute('data-error-kind', 'io');
    // The invitation to import stays: the error concerns the details only.
    expect(await screen.findByRole('heading', { name: 'Your library is empty' })).toBeInTheDocument();
  });

  it('shows why the library could not be opened, and tries again on Retry', async () => {
    libraryOverview.mockRejectedValueOnce(new IpcError('store', 'The index is locked by another process'));
    const user = userEvent.setup();
    render(LibraryScreen);

    const error = await screen.findByTestId('library-error');
    expect(within(error).getByRole('alert')).toHaveTextContent('The index is locked by another process');

    libraryOverview.mockResolvedValue(overview(DOCS));
    await user.click(within(error).getByRole('button', { name: 'Retry' }));
    expect(await screen.findAllByTestId('doc-row')).toHaveLength(4);
    expect(screen.queryByTestId('library-error')).not.toBeInTheDocument();
  });

  it('lists every document with its details, status and, for a failure, the reason', async () => {
    await showLibrary();

    expect(screen.getAllByTestId('doc-row')).toHaveLength(4);
    const annual = row('/home/me/Reports/annual.pdf');
    expect(annual).toHaveTextContent('Annual report 2024');
    expect(annual).toHaveTextContent('annual.pdf');
    expect(annual).toHaveTextContent('/home/me/Reports');
    expect(annual).toHaveTextContent('PDF');
    expect(annual).toHaveTextContent('2.4 MB');
    expect(annual).toHaveTextContent('48');
    expect(annual).toHaveTextContent('130');
    expect(statusOf('/home/me/Reports/annual.pdf')).toBe('Indexed');
    expect(within(annual).queryByTestId('doc-error')).not.toBeInTheDocument();

    expect(statusOf('/home/me/Scans/broken.pdf')).toBe('Failed');
    expect(within(row('/home/me/Scans/broken.pdf')).getByTestId('doc-error')).toHaveTextContent(
      'The PDF is damaged: no cross-reference table',
    );
    // Stored as `indexing`: an import that did not end.
    expect(statusOf('/home/me/Books/long.epub')).toBe('Indexing');
    expect(row('/home/me/Notes/ideas.md')).toHaveTextContent('Markdown');
  });

  it('filters by name and sorts by name, date or size', async () => {
    const user = await showLibrary();

    expect(rowNames()).toEqual([
      '/home/me/Reports/annual.pdf',
      '/home/me/Scans/broken.pdf',
      '/home/me/Notes/ideas.md',
      '/home/me/Books/long.epub',
    ]);

    const sort = screen.getByRole('combobox', { name: 'Sort by' });
    await user.selectOptions(sort, 'size');
    expect(rowNames()).toEqual([
      '/home/me/Reports/annual.pdf',
      '/home/me/Books/long.epub',
      '/home/me/Notes/ideas.md',
      '/home/me/Scans/broken.pdf',
    ]);
    await user.selectOptions(sort, 'date');
    expect(rowNames().at(-1)).toBe('/home/me/Notes/ideas.md');

    await user.type(screen.getByRole('searchbox', { name: 'Filter documents' }), 'IDEA');
    expect(rowNames()).toEqual(['/home/me/Notes/ideas.md']);

    await user.clear(screen.getByRole('searchbox', { name: 'Filter documents' }));
    await user.type(screen.getByRole('searchbox', { name: 'Filter documents' }), 'zzz');
    expect(screen.queryAllByTestId('doc-row')).toHaveLength(0);
    expect(screen.getByTestId('no-match')).toHaveTextContent('zzz');

    await user.keyboard('{Escape}');
    expect(screen.getAllByTestId('doc-row')).toHaveLength(4);
  });

  it('opens, reveals and re-indexes a document', async () => {
    const user = await showLibrary();
    const annual = within(row('/home/me/Reports/annual.pdf'));

    await user.click(annual.getByRole('button', { name: 'Open' }));
    expect(openDocument).toHaveBeenCalledWith('/home/me/Reports/annual.pdf');
    await user.click(annual.getByRole('button', { name: 'Show in folder' }));
    expect(revealDocument).toHaveBeenCalledWith('/home/me/Reports/annual.pdf');
    await user.click(annual.getByRole('button', { name: 'Re-index' }));
    expect(reindexDocument).toHaveBeenCalledWith('/home/me/Reports/annual.pdf');
  });

  it('says why an action failed', async () => {
    vi.mocked(openDocument).mockRejectedValue(new IpcError('io', 'The file was moved'));
    const user = await showLibrary();

    await user.click(within(row('/home/me/Reports/annual.pdf')).getByRole('button', { name: 'Open' }));

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Could not open annual.pdf');
    expect(alert).toHaveTextContent('The file was moved');
  });

  it('removes a document only after an inline confirmation', async () => {
    const user = await showLibrary();
    const path = '/home/me/Notes/ideas.md';

    await user.click(within(row(path)).getByRole('button', { name: 'Remove' }));
    const confirm = screen.getByTestId('confirm-remove');
    expect(confirm).toHaveTextContent('The file itself stays where it is');
    // The safe choice has the keyboard.
    expect(within(confirm).getByRole('button', { name: 'Keep' })).toHaveFocus();
    await user.keyboard('{Escape}');
    expect(screen.queryByTestId('confirm-remove')).not.toBeInTheDocument();
    expect(removeDocument).not.toHaveBeenCalled();

    libraryOverview.mockResolvedValue(overview(DOCS.filter((d) => d.path !== path)));
    await user.click(within(row(path)).getByRole('button', { name: 'Remove' }));
    await user.click(within(screen.getByTestId('confirm-remove')).getByRole('button', { name: 'Remove' }));

    expect(removeDocument).toHaveBeenCalledWith(path);
    await waitFor(() => expect(screen.getAllByTestId('doc-row')).toHaveLength(3));
  });

  it('imports what Add files and Add folder choose', async () => {
    vi.mocked(chooseFiles).mockResolvedValue(['/tmp/a.pdf', '/tmp/b.docx']);
    vi.mocked(chooseFolder).mockResolvedValue('/tmp/notes');
    vi.mocked(importPaths).mockResolvedValue(1);
    const user = await showLibrary();

    await user.click(screen.getByRole('button', { name: 'Add files' }));
    expect(importPaths).toHaveBeenLastCalledWith(['/tmp/a.pdf', '/tmp/b.docx'], undefined);
    await user.click(screen.getByRole('button', { name: 'Add folder' }));
    expect(importPaths).toHaveBeenLastCalledWith(['/tmp/notes'], undefined);
  });

  it('shows an import as it runs, with statuses per document, and cancels it', async () => {
    vi.mocked(cancelImports).mockResolvedValue(undefined);
    const user = await showLibrary();

    emit({ event: 'queued', batch: 1, paths: ['/home/me/Notes', '/tmp/new.pdf'], background: false });
    const progress = await screen.findByTestId('import-progress');
    expect(progress).toHaveTextContent('Getting the import ready…');
    // A document of the library under the import's folder waits its turn; a new file shows at once.
    await waitFor(() => expect(statusOf('/home/me/Notes/ideas.md')).toBe('Queued'));
    expect(statusOf('/tmp/new.pdf')).toBe('Queued');

    emit({ event: 'scanned', batch: 1, files: 2, bytes: 2_000_000, paths: ['/home/me/Notes', '/tmp/new.pdf'] });
    emit({ event: 'stage', batch: 1, path: '/tmp/new.pdf', stage: 'extracting' });
    emit({ event: 'stage', batch: 1, path: '/tmp/new.pdf', stage: 'embedding' });
    await waitFor(() => expect(statusOf('/tmp/new.pdf')).toBe('Embedding'));
    expect(screen.getByTestId('import-current')).toHaveTextContent('Embedding new.pdf');
    expect(screen.getByTestId('import-files')).toHaveTextContent('0 of 2 files');

    emit({
      event: 'document',
      batch: 1,
      path: '/tmp/new.pdf',
      bytes: 1_500_000,
      outcome: { status: 'failed', reason: 'The file is encrypted' },
    });
    await waitFor(() => expect(statusOf('/tmp/new.pdf')).toBe('Failed'));
    expect(within(row('/tmp/new.pdf')).getByTestId('doc-error')).toHaveTextContent('The file is encrypted');
    expect(screen.getByTestId('import-files')).toHaveTextContent('1 of 2 files');
    expect(screen.getByTestId('import-bytes')).toHaveTextContent('1.5 MB of 2.0 MB');
    expect(screen.getByRole('progressbar', { name: 'Import progress' })).toHaveAttribute('aria-valuenow', '75');

    await user.click(within(progress).getByRole('button', { name: 'Cancel' }));
    expect(cancelImports).toHaveBeenCalledTimes(1);
    expect(within(progress).getByRole('button', { name: 'Cancelling…' })).toBeDisabled();
  });

  it('reads the library again when an import finishes and sums it up', async () => {
    const user = await showLibrary();
    emit({ event: 'scanned', batch: 1, files: 2, bytes: 10, paths: ['/tmp/new.pdf', '/tmp/bad.pdf'] });
    emit({
      event: 'document',
      batch: 1,
      path: '/tmp/new.pdf',
      bytes: 5,
      outcome: { status: 'indexed', chunks: 3, tokens: 10, pages: 2 },
    });
    emit({ event: 'document', batch: 1, path: '/tmp/bad.pdf', bytes: 5, outcome: { status: 'failed', reason: 'bad' } });

    const after = [
      ...DOCS,
      doc('/tmp/new.pdf', { title: 'New', chunk_count: 3 }),
      doc('/tmp/bad.pdf', { status: 'failed', error: 'bad' }),
    ];
    libraryOverview.mockResolvedValue(overview(after));
    emit({ event: 'finished', batch: 1, indexed: 1, unchanged: 0, failed: 1, removed: 0, moved: 0, cancelled: false, seconds: 4, background: false });

    expect(await screen.findByTestId('import-summary')).toHaveTextContent('Import finished: 1 indexed, 1 failed');
    await waitFor(() => expect(screen.getAllByTestId('doc-row')).toHaveLength(6));
    expect(libraryOverview).toHaveBeenCalledTimes(2);
    expect(row('/tmp/new.pdf')).toHaveTextContent('New');
    expect(statusOf('/tmp/new.pdf')).toBe('Indexed');
    expect(statusOf('/tmp/bad.pdf')).toBe('Failed');

    await user.click(within(screen.getByTestId('import-progress')).getByRole('button', { name: 'Dismiss' }));
    expect(screen.queryByTestId('import-progress')).not.toBeInTheDocument();
  });

  it('shows an import that could not run', async () => {
    await showLibrary();
    emit({ event: 'queued', batch: 3, paths: ['/tmp/x.pdf'], background: false });
    emit({ event: 'error', batch: 3, kind: 'model_missing', message: 'No embedding model is installed.', retry_at_ms: null });

    const progress = await screen.findByTestId('import-progress');
    await waitFor(() => expect(within(progress).getByRole('alert')).toHaveTextContent('No embedding model is installed.'));
    expect(within(progress).getByRole('alert')).toHaveAttribute('data-error-kind', 'model_missing');
  });

  it('searches the library on Enter and shows each passage as plain text', async () => {
    const hits: Hit[] = [
      {
        chunk: chunk({
          path: '/home/me/Reports/annual.pdf',
          page_start: 12,
          page_end: 12,
          heading_path: ['Finance', 'Revenue'],
          text: 'Revenue grew <b>by 12%</b>\n\nin the year.',
        }),
        score: 0.0331,
      },
      {
        chunk: chunk({ doc_id: 'e', path: '/elsewhere/other.pdf', page_start: 12, page_end: 13, text: 'More text' }),
        score: 0.02,
      },
    ];
    vi.mocked(searchLibrary).mockResolvedValue(hits);
    const user = await showLibrary();

    const box = screen.getByTestId('library-search');
    expect(box).toHaveAccessibleName('Search the library');
    await user.type(box, 'revenue growth{Enter}');

    expect(searchLibrary).toHaveBeenCalledWith('revenue growth');
    const found = await screen.findAllByTestId('search-hit');
    expect(found).toHaveLength(2);
    expect(found[0]).toHaveTextContent('Annual report 2024');
    expect(found[0]).toHaveTextContent('p. 12');
    expect(found[0]).toHaveTextContent('Finance › Revenue');
    expect(found[0]).toHaveTextContent('score 0.033');
    expect(found[0]).toHaveTextContent('Revenue grew <b>by 12%</b> in the year.');
    expect(found[0]?.querySelector('b')).toBeNull();
    expect(found[1]).toHaveTextContent('other.pdf');
    expect(found[1]).toHaveTextContent('pp. 12–13');

    await user.click(within(found[0]!).getByRole('button', { name: 'Open Annual report 2024' }));
    expect(openDocument).toHaveBeenCalledWith('/home/me/Reports/annual.pdf');

    await user.type(box, '{Escape}');
    expect(screen.queryByTestId('search-results')).not.toBeInTheDocument();
    expect(box).toHaveValue('');
  });

  it('says when the search finds nothing, and when it fails', async () => {
    vi.mocked(searchLibrary).mockResolvedValueOnce([]).mockRejectedValueOnce(new IpcError('model_missing', 'No model'));
    const user = await showLibrary();
    const box = screen.getByTestId('library-search');

    await user.type(box, 'unicorns{Enter}');
    expect(await screen.findByTestId('search-empty')).toBeInTheDocument();
    expect(screen.getByTestId('search-results')).toHaveTextContent('Nothing in the library matches “unicorns”.');

    await user.type(box, '{Enter}');
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Could not search the library');
    expect(alert).toHaveTextContent('No model');
  });

  it('lists the collections with their folders and deletes one after confirming', async () => {
    vi.mocked(removeCollection).mockResolvedValue(undefined);
    const user = await showLibrary(DOCS, { Work: ['/home/me/Reports', '/home/me/Notes/ideas.md'] });

    const work = screen.getByTestId('collection');
    expect(work).toHaveTextContent('Work');
    expect(work).toHaveTextContent('Reports');
    expect(work).toHaveTextContent('ideas.md');
    expect(work).toHaveTextContent('2 items');

    await user.click(within(work).getByRole('button', { name: 'Delete collection Work' }));
    expect(work).toHaveTextContent('Its documents stay in the library');
    libraryOverview.mockResolvedValue(overview(DOCS, {}));
    await user.click(within(work).getByRole('button', { name: 'Delete' }));

    expect(removeCollection).toHaveBeenCalledWith('Work');
    await waitFor(() => expect(screen.queryByTestId('collection')).not.toBeInTheDocument());
  });

  it('makes a collection of the selected documents, or of a folder', async () => {
    vi.mocked(setCollection).mockResolvedValue(undefined);
    vi.mocked(chooseFolder).mockResolvedValue('/home/me/Books');
    const user = await showLibrary();

    await user.click(screen.getByRole('checkbox', { name: 'Select Annual report 2024' }));
    await user.click(screen.getByRole('checkbox', { name: 'Select ideas.md' }));
    expect(screen.getByTestId('selection-bar')).toHaveTextContent('2 documents selected');
    await user.click(screen.getByRole('button', { name: 'New collection from selection' }));

    const form = screen.getByTestId('collection-form');
    expect(within(form).getByRole('radio', { name: 'The 2 selected documents' })).toBeChecked();
    expect(within(form).getByRole('button', { name: 'Create collection' })).toBeDisabled();
    await user.type(within(form).getByRole('textbox', { name: 'Name' }), 'Reading');
    await user.click(within(form).getByRole('button', { name: 'Create collection' }));

    expect(setCollection).toHaveBeenCalledWith('Reading', ['/home/me/Reports/annual.pdf', '/home/me/Notes/ideas.md']);
    await waitFor(() => expect(screen.queryByTestId('collection-form')).not.toBeInTheDocument());
    expect(screen.queryByTestId('selection-bar')).not.toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'New collection' }));
    const again = screen.getByTestId('collection-form');
    await user.type(within(again).getByRole('textbox', { name: 'Name' }), 'Books');
    await user.click(within(again).getByRole('button', { name: 'Choose folder…' }));
    expect(within(again).getByRole('radio', { name: '/home/me/Books' })).toBeChecked();
    expect(within(again).getByTestId('watch-folder')).toBeChecked();
    await user.click(within(again).getByRole('button', { name: 'Create collection' }));
    expect(setCollection).toHaveBeenLastCalledWith('Books', ['/home/me/Books']);
    // The folder is watched (imported now, kept in sync) in its collection.
    await waitFor(() => expect(watchFolder).toHaveBeenCalledWith('/home/me/Books', 'Books'));
  });

  it('can make a collection of a folder without watching it', async () => {
    vi.mocked(setCollection).mockResolvedValue(undefined);
    vi.mocked(chooseFolder).mockResolvedValue('/home/me/Books');
    const user = await showLibrary();

    await user.click(screen.getByRole('button', { name: 'New collection' }));
    const form = screen.getByTestId('collection-form');
    await user.type(within(form).getByRole('textbox', { name: 'Name' }), 'Books');
    await user.click(within(form).getByRole('button', { name: 'Choose folder…' }));
    await user.click(within(form).getByTestId('watch-folder'));
    await user.click(within(form).getByRole('button', { name: 'Create collection' }));
    await waitFor(() => expect(screen.queryByTestId('collection-form')).not.toBeInTheDocument());
    expect(setCollection).toHaveBeenCalledWith('Books', ['/home/me/Books']);
    expect(watchFolder).not.toHaveBeenCalled();
  });

  it('lists watched folders per collection, syncs them on request only (the app follows them), and stops watching one', async () => {
    vi.mocked(syncWatched).mockResolvedValue([7, 8]);
    vi.mocked(unwatchFolder).mockResolvedValue(undefined);
    const watched = [
      { path: '/home/me/Reports', collection: 'Work', added_ms: 1 },
      { path: '/home/me/Inbox', collection: null, added_ms: 2 },
    ];
    libraryOverview.mockResolvedValue(overview(DOCS, { Work: ['/home/me/Reports', '/home/me/Notes/ideas.md'] }, watched));
    const user = userEvent.setup();
    render(LibraryScreen);
    await screen.findAllByTestId('doc-row');

    // The app compares the watched folders at start and follows them by itself: the window does not sync them.
    expect(syncWatched).not.toHaveBeenCalled();
    const work = screen.getByTestId('collection');
    const inWork = within(work).getAllByTestId('watched-folder');
    expect(inWork.map((w) => w.dataset.path)).toEqual(['/home/me/Reports']);
    expect(inWork[0]).toHaveTextContent('Watched');
    expect(within(screen.getByTestId('watched-unfiled')).getByTestId('watched-folder')).toHaveAttribute(
      'data-path',
      '/home/me/Inbox',
    );

    await user.click(screen.getByTestId('sync-watched'));
    expect(syncWatched).toHaveBeenCalledTimes(1);

    libraryOverview.mockResolvedValue(overview(DOCS, { Work: ['/home/me/Reports'] }, [watched[0]!]));
    await user.click(screen.getByRole('button', { name: 'Stop watching Inbox' }));
    expect(unwatchFolder).toHaveBeenCalledWith('/home/me/Inbox');
    await waitFor(() => expect(screen.queryByTestId('watched-unfiled')).not.toBeInTheDocument());
    // Reading the library again does not sync.
    expect(syncWatched).toHaveBeenCalledTimes(1);
  });

  it('shows an error from making a collection in the form', async () => {
    vi.mocked(setCollection).mockRejectedValue(new IpcError('invalid_input', 'a collection needs a name'));
    const user = await showLibrary();

    await user.click(screen.getByRole('checkbox', { name: 'Select ideas.md' }));
    await user.click(screen.getByRole('button', { name: 'New collection from selection' }));
    const form = screen.getByTestId('collection-form');
    await user.type(within(form).getByRole('textbox', { name: 'Name' }), 'X');
    await user.click(within(form).getByRole('button', { name: 'Create collection' }));

    expect(await within(form).findByRole('alert')).toHaveTextContent('a collection needs a name');
  });

  it('puts the keyboard in the search with Ctrl+F', async () => {
    const user = await showLibrary();
    await user.keyboard('{Control>}f{/Control}');
    expect(screen.getByTestId('library-search')).toHaveFocus();
  });

  it('pauses indexing from the progress bar, says it is paused with the jobs waiting, and resumes', async () => {
    vi.mocked(pauseIndexing).mockResolvedValue(undefined);
    const user = await showLibrary();
    emit({ event: 'queued', batch: 20, paths: ['/tmp/a.pdf'], background: false });
    emitQueue(queueView({ running: 20, jobs: [job(20, { paths: ['/tmp/a.pdf'] }), job(21, { paths: ['/tmp/b.pdf'] })] }));
    emit({ event: 'scanned', batch: 20, files: 4, bytes: 4_000, paths: ['/tmp/a.pdf'] });

    const progress = await screen.findByTestId('import-progress');
    await user.click(within(progress).getByTestId('pause-indexing'));
    expect(pauseIndexing).toHaveBeenCalledWith(true);
    // Rust confirms with a `queue` event.
    emitQueue(queueView({ paused: true, running: 20, jobs: [job(20), job(21)] }));

    await waitFor(() => expect(screen.getByTestId('import-title')).toHaveTextContent('Paused'));
    expect(progress).toHaveAttribute('data-paused', 'true');
    expect(screen.getByTestId('import-waiting')).toHaveTextContent('2 imports waiting');
    expect(screen.getByTestId('import-files')).toHaveTextContent('0 of 4 files');
    expect(within(progress).queryByTestId('pause-indexing')).not.toBeInTheDocument();

    await user.click(within(progress).getByRole('button', { name: 'Resume' }));
    expect(pauseIndexing).toHaveBeenLastCalledWith(false);
    await waitFor(() => expect(screen.getByTestId('import-title')).toHaveTextContent('Importing 4 files'));
    expect(within(progress).getByRole('button', { name: 'Pause' })).toBeInTheDocument();
  });

  it('shows a pause kept from the last run even with nothing to index, with Resume', async () => {
    vi.mocked(getQueueState).mockResolvedValue(queueView({ paused: true }));
    vi.mocked(pauseIndexing).mockResolvedValue(undefined);
    const user = await showLibrary();

    const progress = await screen.findByTestId('import-progress');
    expect(progress).toHaveAttribute('data-state', 'paused');
    expect(screen.getByTestId('import-title')).toHaveTextContent('Indexing paused');
    expect(screen.getByTestId('import-waiting')).toHaveTextContent('New and changed files wait until you resume.');

    await user.click(screen.getByTestId('resume-indexing'));
    expect(pauseIndexing).toHaveBeenCalledWith(false);
    await waitFor(() => expect(screen.queryByTestId('import-progress')).not.toBeInTheDocument());
  });

  it('shows the jobs left from the last run as soon as the screen opens', async () => {
    vi.mocked(getQueueState).mockResolvedValue(
      queueView({ running: 30, jobs: [job(30, { paths: ['/home/me/Notes'] }), job(31, { paths: ['/tmp/c.pdf'] })] }),
    );
    await showLibrary();
    expect(await screen.findByTestId('import-progress')).toHaveAttribute('data-state', 'running');
    expect(screen.getByTestId('import-waiting')).toHaveTextContent('1 more import waiting');
    await waitFor(() => expect(statusOf('/home/me/Notes/ideas.md')).toBe('Queued'));
    expect(statusOf('/tmp/c.pdf')).toBe('Queued');
  });

  it('shows a watched folder sync quietly, and no summary when it changed nothing', async () => {
    await showLibrary();
    emit({ event: 'queued', batch: 8, paths: ['/home/me/Notes'], background: true });
    emitQueue(
      queueView({
        running: 8,
        jobs: [job(8, { kind: 'sync_folder', folder: '/home/me/Notes', reason: 'start', priority: 'background' } as Partial<Job>)],
      }),
    );
    emit({ event: 'scanned', batch: 8, files: 1, bytes: 5_300, paths: ['/home/me/Notes'] });

    const progress = await screen.findByTestId('import-progress');
    await waitFor(() => expect(screen.getByTestId('import-title')).toHaveTextContent('Syncing watched folders…'));
    expect(progress).toHaveAttribute('data-background', 'true');
    // Its documents are not all marked as queued.
    expect(statusOf('/home/me/Notes/ideas.md')).toBe('Indexed');

    emit({ event: 'document', batch: 8, path: '/home/me/Notes/ideas.md', bytes: 5_300, outcome: { status: 'unchanged' } });
    emit({ event: 'finished', batch: 8, indexed: 0, unchanged: 1, failed: 0, removed: 0, moved: 0, cancelled: false, seconds: 1, background: true });
    await waitFor(() => expect(screen.queryByTestId('import-progress')).not.toBeInTheDocument());
    expect(statusOf('/home/me/Notes/ideas.md')).toBe('Indexed');
    expect(libraryOverview).toHaveBeenCalledTimes(1);
  });

  it('says when a job that could not run will be tried again', async () => {
    const now = Date.now();
    await showLibrary();
    emit({ event: 'queued', batch: 3, paths: ['/tmp/x.pdf'], background: false });
    emit({ event: 'error', batch: 3, kind: 'model_missing', message: 'No embedding model is installed.', retry_at_ms: now + 120_000 });

    const progress = await screen.findByTestId('import-progress');
    await waitFor(() => expect(within(progress).getByRole('alert')).toHaveTextContent('No embedding model is installed.'));
    expect(within(progress).getByTestId('import-retry-at')).toHaveTextContent('Will try again in 2 min');
  });

  it('lists the jobs set aside with their last error, and retries or dismisses them', async () => {
    vi.mocked(settleGivenUp).mockResolvedValue(undefined);
    const given_up = [
      job(5, { paths: ['/tmp/x.pdf', '/tmp/y.pdf'], attempts: 5, last_error: 'No embedding model is installed.' }),
      job(6, { kind: 'sync_folder', folder: '/home/me/Inbox', reason: 'start', priority: 'background', attempts: 5, last_error: 'disk full' } as Partial<Job>),
    ];
    vi.mocked(getQueueState).mockResolvedValue(queueView({ given_up }));
    const user = await showLibrary();

    const panel = await screen.findByTestId('given-up');
    expect(panel).toHaveTextContent('2 indexing jobs were set aside');
    const jobs = within(panel).getAllByTestId('given-up-job');
    expect(jobs[0]).toHaveTextContent('Import of x.pdf and y.pdf');
    expect(jobs[0]).toHaveTextContent('No embedding model is installed.');
    expect(jobs[1]).toHaveTextContent('Sync of the watched folder Inbox');
    expect(jobs[1]).toHaveTextContent('disk full');

    await user.click(within(panel).getByRole('button', { name: 'Retry' }));
    expect(settleGivenUp).toHaveBeenCalledWith(true);
    await waitFor(() => expect(screen.queryByTestId('given-up')).not.toBeInTheDocument());

    emitQueue(queueView({ given_up }));
    await user.click(within(await screen.findByTestId('given-up')).getByRole('button', { name: 'Dismiss' }));
    expect(settleGivenUp).toHaveBeenLastCalledWith(false);
  });

  it('retries a failed document, or every failed one', async () => {
    vi.mocked(retryDocuments).mockResolvedValue(12);
    const docs = [...DOCS, doc('/home/me/Scans/locked.pdf', { status: 'failed', error: 'The PDF is encrypted' })];
    const user = await showLibrary(docs);

    const broken = row('/home/me/Scans/broken.pdf');
    // The reason stays beside the action.
    expect(within(broken).getByTestId('doc-error')).toHaveTextContent('The PDF is damaged: no cross-reference table');
    await user.click(within(broken).getByRole('button', { name: 'Retry broken.pdf' }));
    expect(retryDocuments).toHaveBeenCalledWith(['/home/me/Scans/broken.pdf']);
    expect(within(row('/home/me/Reports/annual.pdf')).queryByTestId('doc-retry')).not.toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Retry all failed' }));
    expect(retryDocuments).toHaveBeenLastCalledWith(['/home/me/Scans/broken.pdf', '/home/me/Scans/locked.pdf']);
  });

  it('offers no Retry all failed when nothing failed', async () => {
    await showLibrary(DOCS.filter((d) => d.status !== 'failed'));
    expect(screen.queryByTestId('retry-all-failed')).not.toBeInTheDocument();
  });

  it('says how each watched folder is followed: live, by polling and why, or not at all and why', async () => {
    const watched = [
      { path: '/home/me/Reports', collection: 'Work', added_ms: 1 },
      { path: '/mnt/share', collection: null, added_ms: 2 },
      { path: '/media/usb', collection: null, added_ms: 3 },
    ];
    libraryOverview.mockResolvedValue(
      overview(DOCS, { Work: ['/home/me/Reports'] }, watched, {
        '/home/me/Reports': { mode: 'native' },
        '/mnt/share': { mode: 'poll', reason: 'a network drive (nfs)' },
        '/media/usb': { mode: 'unavailable', reason: 'the folder is missing' },
      }),
    );
    render(LibraryScreen);
    await screen.findAllByTestId('doc-row');

    const folder = (path: string) => screen.getAllByTestId('watched-folder').find((w) => w.dataset.path === path)!;
    const live = within(folder('/home/me/Reports')).getByTestId('watch-mode');
    expect(live).toHaveTextContent('Live');
    expect(live).toHaveAttribute('data-mode', 'native');
    const poll = within(folder('/mnt/share')).getByTestId('watch-mode');
    expect(poll).toHaveTextContent('Polling');
    expect(poll).toHaveAttribute('title', expect.stringContaining('a network drive (nfs)'));
    const off = within(folder('/media/usb')).getByTestId('watch-mode');
    expect(off).toHaveTextContent('Unavailable');
    expect(within(folder('/media/usb')).getByTestId('watch-reason')).toHaveTextContent('the folder is missing');

    // The `watching` event brings changes.
    emitWatching({
      '/home/me/Reports': { mode: 'native' },
      '/mnt/share': { mode: 'poll', reason: 'a network drive (nfs)' },
      '/media/usb': { mode: 'native' },
    });
    await waitFor(() => expect(within(folder('/media/usb')).getByTestId('watch-mode')).toHaveTextContent('Live'));
    expect(within(folder('/media/usb')).queryByTestId('watch-reason')).not.toBeInTheDocument();
  });

  it('shows a watched folder’s rules in short and edits them in place: checked, saved, then read again', async () => {
    const reports = {
      path: '/home/me/Reports',
      collection: 'Work',
      added_ms: 1,
      include: ['*.pdf'],
      exclude: ['drafts/**'],
      max_bytes: 20_000_000,
    };
    const inbox = { path: '/home/me/Inbox', collection: null, added_ms: 2 };
    libraryOverview.mockResolvedValue(overview(DOCS, { Work: ['/home/me/Reports'] }, [reports, inbox]));
    const user = userEvent.setup();
    render(LibraryScreen);
    await screen.findAllByTestId('doc-row');
    const folder = (path: string) => screen.getAllByTestId('watched-folder').find((w) => w.dataset.path === path)!;

    // The summary is shown only for a folder with rules.
    expect(within(folder('/home/me/Reports')).getByTestId('watch-rules-summary')).toHaveTextContent(
      'only *.pdf · skips drafts/** · ≤ 20 MB',
    );
    expect(within(folder('/home/me/Inbox')).queryByTestId('watch-rules-summary')).not.toBeInTheDocument();

    // The editor opens on the current rules, with the focus in it.
    await user.click(screen.getByRole('button', { name: 'Rules for Reports' }));
    const form = screen.getByTestId('watch-rules-form');
    expect(within(form).getByTestId('rules-include')).toHaveValue('*.pdf');
    expect(within(form).getByTestId('rules-include')).toHaveFocus();
    expect(within(form).getByTestId('rules-exclude')).toHaveValue('drafts/**');
    expect(within(form).getByTestId('rules-max-mb')).toHaveValue('20');
    expect(form).toHaveTextContent('Hidden, temporary and lock files are always skipped.');

    // A size that is not a positive number is refused here, with why, next to the field.
    await user.clear(within(form).getByTestId('rules-max-mb'));
    await user.type(within(form).getByTestId('rules-max-mb'), '0');
    await user.click(within(form).getByTestId('rules-save'));
    expect(within(form).getByTestId('rules-max-mb-error')).toHaveTextContent('positive number of MB');
    expect(within(form).getByTestId('rules-max-mb')).toHaveAttribute('aria-invalid', 'true');
    expect(setWatchRules).not.toHaveBeenCalled();

    // Saved: patterns trimmed, blank lines dropped, MB in bytes; the library is read again.
    vi.mocked(setWatchRules).mockResolvedValue({ ...reports, include: ['*.pdf', '*.md'], max_bytes: 1_500_000 });
    const saved = { ...reports, include: ['*.pdf', '*.md'], exclude: [], max_bytes: 1_500_000 };
    libraryOverview.mockResolvedValue(overview(DOCS, { Work: ['/home/me/Reports'] }, [saved, inbox]));
    await user.type(within(form).getByTestId('rules-include'), '\n\n   *.md  \n');
    await user.clear(within(form).getByTestId('rules-exclude'));
    await user.clear(within(form).getByTestId('rules-max-mb'));
    await user.type(within(form).getByTestId('rules-max-mb'), '1.5');
    await user.click(within(form).getByTestId('rules-save'));
    expect(setWatchRules).toHaveBeenCalledWith('/home/me/Reports', {
      include: ['*.pdf', '*.md'],
      exclude: [],
      maxBytes: 1_500_000,
    });
    await waitFor(() => expect(screen.queryByTestId('watch-rules-form')).not.toBeInTheDocument());
    expect(within(folder('/home/me/Reports')).getByTestId('watch-rules-summary')).toHaveTextContent(
      'only *.pdf, *.md · ≤ 1.5 MB',
    );
    expect(screen.getByRole('button', { name: 'Rules for Reports' })).toHaveFocus();
  });

  it('keeps the rules editor open with what was typed when the app refuses a pattern, and Escape cancels', async () => {
    const inbox = { path: '/home/me/Inbox', collection: null, added_ms: 2 };
    libraryOverview.mockResolvedValue(overview(DOCS, {}, [inbox]));
    vi.mocked(setWatchRules).mockRejectedValue(
      new IpcError('invalid_input', 'Not saved: the pattern "[unclosed" is not a valid glob: unclosed character class.'),
    );
    const user = userEvent.setup();
    render(LibraryScreen);
    await screen.findAllByTestId('doc-row');

    await user.click(screen.getByRole('button', { name: 'Rules for Inbox' }));
    const form = screen.getByTestId('watch-rules-form');
    expect(within(form).getByTestId('rules-include')).toHaveValue('');
    expect(within(form).getByTestId('rules-max-mb')).toHaveValue('');
    await user.type(within(form).getByTestId('rules-exclude'), '[[unclosed'); // '[[' types one '['
    await user.click(within(form).getByTestId('rules-save'));
    expect(setWatchRules).toHaveBeenCalledWith('/home/me/Inbox', { include: [], exclude: ['[unclosed'], maxBytes: null });
    expect(await within(form).findByTestId('rules-error')).toHaveTextContent('"[unclosed" is not a valid glob');
    expect(screen.getByTestId('watch-rules-form')).toBe(form);
    expect(within(form).getByTestId('rules-exclude')).toHaveValue('[unclosed');

    await user.type(within(form).getByTestId('rules-exclude'), '{Escape}');
    expect(screen.queryByTestId('watch-rules-form')).not.toBeInTheDocument();
    await waitFor(() => expect(screen.getByRole('button', { name: 'Rules for Inbox' })).toHaveFocus());
    expect(setWatchRules).toHaveBeenCalledTimes(1);
  });
});
