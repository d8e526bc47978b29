import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from './App.svelte';
import {
  getAppInfo,
  getLibraryOverview,
  getSettings,
  importPaths,
  listModels,
  onDragDrop,
  onIngest,
  type DragDrop,
} from '$lib/ipc/commands';
import { IpcError, type IngestNotice, type Settings } from '$lib/ipc';
import { overview } from '$lib/library/testing';
import { SCREENS } from '$lib/screens';

vi.mock('$lib/ipc/commands');

const SETTINGS: Settings = {
  generation: { temperature: 0.2, top_p: 0.9, max_tokens: 1024, repeat_penalty: 1.1 },
  retrieval: { top_k: 6, chunk_tokens: 256, chunk_overlap: 32 },
  runtime: { gpu_layers: 'none', context_size: 4096, threads: 0 },
  models: { chat: null, embedding: null, reranker: null },
  appearance: { theme: 'system' },
};

let drag: (event: DragDrop) => void = () => {};
let ingest: (notice: IngestNotice) => void = () => {};

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(getAppInfo).mockResolvedValue({ name: 'Quire', version: '0.1.0', data_dir: '/data/quire', data_dir_source: 'chosen', default_data_dir: '/home/me/.local/share/quire' });
  vi.mocked(getLibraryOverview).mockResolvedValue(overview([]));
  vi.mocked(listModels).mockResolvedValue({ dir: '/data/models', models: [], broken: [] });
  vi.mocked(getSettings).mockResolvedValue(SETTINGS);
  vi.mocked(importPaths).mockResolvedValue(1);
  vi.mocked(onDragDrop).mockImplementation(async (handler) => {
    drag = handler;
    return () => {};
  });
  vi.mocked(onIngest).mockImplementation(async (handler) => {
    ingest = handler;
    return () => {};
  });
});

afterEach(() => {
  delete document.documentElement.dataset.theme;
});

describe('App', () => {
  it('opens on the library', async () => {
    render(App);

    expect(screen.getByRole('heading', { level: 1, name: 'Library' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Library' })).toHaveAttribute('aria-current', 'page');
    expect(await screen.findByTestId('data-dir')).toHaveTextContent('/data/quire');
  });

  it.each(SCREENS.map((s) => [s.label, s.id] as const))('shows %s when its entry is chosen', async (label, id) => {
    const user = userEvent.setup();
    render(App);

    await user.click(screen.getByRole('button', { name: label }));

    expect(screen.getByTestId(`screen-${id}`)).toBeInTheDocument();
    expect(screen.getByRole('heading', { level: 1, name: label })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: label })).toHaveAttribute('aria-current', 'page');
    expect(screen.getAllByRole('heading', { level: 1 })).toHaveLength(1);
  });

  it('gives every screen that lists things an empty state that says what it will hold', async () => {
    const user = userEvent.setup();
    render(App);

    for (const { label, id } of SCREENS.filter((s) => s.id !== 'settings')) {
      await user.click(screen.getByRole('button', { name: label }));
      const empty = await screen.findByTestId(`${id}-empty`);
      expect(empty.querySelector('h2')?.textContent?.trim()).toBeTruthy();
      expect(empty.textContent).not.toMatch(/coming soon|lorem|todo/i);
    }
  });

  it('gives Settings its form, section by section', async () => {
    const user = userEvent.setup();
    render(App);

    await user.click(screen.getByRole('button', { name: 'Settings' }));
    const form = await screen.findByTestId('settings-form');
    for (const section of ['Generation', 'Retrieval', 'Runtime', 'Appearance', 'Data folder']) {
      expect(within(form).getByRole('heading', { level: 2, name: section })).toBeInTheDocument();
    }
    expect(form.textContent).not.toMatch(/coming soon|lorem|todo/i);
  });

  it('applies the saved theme at start-up', async () => {
    vi.mocked(getSettings).mockResolvedValue({ ...SETTINGS, appearance: { theme: 'dark' } });
    render(App);

    await waitFor(() => expect(document.documentElement.dataset.theme).toBe('dark'));
  });

  it('starts as usual when the settings cannot be read', async () => {
    vi.mocked(getSettings).mockRejectedValue(new IpcError('invalid_input', 'the settings file is damaged'));
    render(App);

    expect(await screen.findByTestId('library-empty')).toBeInTheDocument();
    expect(document.documentElement.dataset.theme).toBeUndefined();
  });

  it('imports files dropped on any screen, and shows the library', async () => {
    const user = userEvent.setup();
    render(App);
    await user.click(screen.getByRole('button', { name: 'Models' }));
    await screen.findByTestId('models-empty');

    drag({ type: 'enter', paths: ['/tmp/a.pdf', '/tmp/notes'] });
    const overlay = await screen.findByTestId('drop-overlay');
    expect(overlay).toHaveTextContent('Drop to add to your library');
    expect(overlay).toHaveTextContent('2 items');

    drag({ type: 'drop', paths: ['/tmp/a.pdf', '/tmp/notes'] });

    await waitFor(() => expect(screen.queryByTestId('drop-overlay')).not.toBeInTheDocument());
    expect(importPaths).toHaveBeenCalledWith(['/tmp/a.pdf', '/tmp/notes'], undefined);
    expect(screen.getByTestId('screen-library')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Library' })).toHaveAttribute('aria-current', 'page');
  });

  it('hides the drop frame when the files leave the window, importing nothing', async () => {
    render(App);
    await screen.findByTestId('library-empty');

    drag({ type: 'enter', paths: ['/tmp/a.pdf'] });
    await screen.findByTestId('drop-overlay');
    drag({ type: 'leave' });

    await waitFor(() => expect(screen.queryByTestId('drop-overlay')).not.toBeInTheDocument());
    expect(importPaths).not.toHaveBeenCalled();
  });

  it('follows an import while another screen is shown', async () => {
    const user = userEvent.setup();
    render(App);
    await user.click(screen.getByRole('button', { name: 'Chat' }));

    ingest({ event: 'queued', batch: 1, paths: ['/tmp/a.pdf'], background: false });
    ingest({ event: 'scanned', batch: 1, files: 1, bytes: 10, paths: ['/tmp/a.pdf'] });
    ingest({ event: 'stage', batch: 1, path: '/tmp/a.pdf', stage: 'embedding' });

    await user.click(screen.getByRole('button', { name: 'Library' }));
    expect(await screen.findByTestId('import-progress')).toHaveTextContent('Importing 1 file');
    await waitFor(() =>
      expect(within(screen.getByTestId('doc-row')).getByTestId('doc-status')).toHaveTextContent('Embedding'),
    );
  });
});
