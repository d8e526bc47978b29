import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getAppInfo, getEmbeddingSwitch, getSettings, onEmbeddingSwitch, saveSettings } from '$lib/ipc/commands';
import { IpcError, type EmbeddingSwitch, type Settings } from '$lib/ipc';
import SettingsScreen from '$lib/screens/SettingsScreen.svelte';

vi.mock('$lib/ipc/commands');

const SETTINGS: Settings = {
  generation: { temperature: 0.2, top_p: 0.9, max_tokens: 1024, repeat_penalty: 1.1 },
  retrieval: { top_k: 6, chunk_tokens: 256, chunk_overlap: 32 },
  runtime: { gpu_layers: 'none', context_size: 4096, threads: 0 },
  models: { chat: '/m/chat.gguf', embedding: null, reranker: null },
  appearance: { theme: 'system' },
};

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(getSettings).mockResolvedValue(structuredClone(SETTINGS));
  vi.mocked(getAppInfo).mockResolvedValue({ name: 'Quire', version: '0.1.0', data_dir: '/home/me/.local/share/quire', data_dir_source: 'default', default_data_dir: '/home/me/.local/share/quire' });
  vi.mocked(saveSettings).mockImplementation(async (settings) => ({ settings, reindexing: false, switching: false }));
});

afterEach(() => {
  delete document.documentElement.dataset.theme;
});

async function open() {
  const user = userEvent.setup();
  render(SettingsScreen);
  await screen.findByTestId('settings-form');
  return user;
}

function field(label: string): HTMLInputElement {
  return screen.getByRole('textbox', { name: label }) as HTMLInputElement;
}

async function retype(user: ReturnType<typeof userEvent.setup>, label: string, value: string): Promise<void> {
  await user.clear(field(label));
  if (value) await user.type(field(label), value);
}

describe('SettingsScreen', () => {
  it('shows the saved values, section by section, and the data folder', async () => {
    await open();

    expect(field('Temperature')).toHaveValue('0.2');
    expect(field('Top-p')).toHaveValue('0.9');
    expect(field('Max tokens')).toHaveValue('1024');
    expect(field('Repeat penalty')).toHaveValue('1.1');
    expect(field('Passages per answer')).toHaveValue('6');
    expect(field('Chunk size')).toHaveValue('256');
    expect(field('Chunk overlap')).toHaveValue('32');
    expect(screen.getByRole('combobox', { name: 'GPU layers' })).toHaveValue('none');
    expect(field('Context size')).toHaveValue('4096');
    expect(field('Threads')).toHaveValue('0');
    expect(screen.getByRole('radio', { name: 'System' })).toBeChecked();
    expect(screen.getByTestId('reindex-note')).toHaveTextContent('re-indexes the whole library');
    expect(await screen.findByTestId('settings-data-dir')).toHaveTextContent('/home/me/.local/share/quire');
    expect(screen.getByRole('button', { name: 'Change…' })).toBeEnabled();
    // Nothing to save yet.
    expect(screen.getByRole('button', { name: 'Save' })).toBeDisabled();
    expect(screen.getByRole('button', { name: 'Revert' })).toBeDisabled();
  });

  it('says what is wrong next to the field and keeps Save disabled until it is fixed', async () => {
    const user = await open();

    await retype(user, 'Temperature', '2.5');
    expect(field('Temperature')).toHaveAttribute('aria-invalid', 'true');
    expect(field('Temperature')).toHaveAccessibleDescription(/Enter a number from 0 to 2\./);
    expect(screen.getByTestId('field-temperature-error')).toHaveTextContent('Enter a number from 0 to 2.');
    expect(screen.getByRole('button', { name: 'Save' })).toBeDisabled();

    await retype(user, 'Chunk overlap', '200');
    expect(screen.getByTestId('field-chunk-overlap-error')).toHaveTextContent('At most half the chunk size: 128 tokens.');

    await retype(user, 'Temperature', '0.7');
    await retype(user, 'Chunk overlap', '64');
    expect(screen.queryByTestId('field-temperature-error')).not.toBeInTheDocument();
    expect(screen.queryByTestId('field-chunk-overlap-error')).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Save' })).toBeEnabled();
  });

  it('saves the edited values, keeping the model choices', async () => {
    const user = await open();

    await retype(user, 'Temperature', '0.7');
    await retype(user, 'Passages per answer', '8');
    await user.selectOptions(screen.getByRole('combobox', { name: 'GPU layers' }), 'custom');
    await retype(user, 'Layers on the GPU', '20');
    await retype(user, 'Threads', '4');
    await user.click(screen.getByRole('button', { name: 'Save' }));

    expect(saveSettings).toHaveBeenCalledWith({
      ...SETTINGS,
      generation: { ...SETTINGS.generation, temperature: 0.7 },
      retrieval: { ...SETTINGS.retrieval, top_k: 8 },
      runtime: { gpu_layers: 20, context_size: 4096, threads: 4 },
    });
    expect(await screen.findByTestId('save-status')).toHaveTextContent('Saved');
    expect(screen.getByRole('button', { name: 'Save' })).toBeDisabled();
  });

  it('says the library is being re-indexed when the chunking changed', async () => {
    vi.mocked(saveSettings).mockImplementation(async (settings) => ({ settings, reindexing: true, switching: false }));
    const user = await open();

    await retype(user, 'Chunk size', '384');
    expect(screen.getByTestId('reindex-note')).toHaveTextContent('Saving re-indexes the whole library');
    await user.keyboard('{Enter}');

    expect(saveSettings).toHaveBeenCalledTimes(1);
    expect(await screen.findByTestId('save-status')).toHaveTextContent('The library is being re-indexed');
  });

  it('says the library is embedded with the new model in the background when the save starts a switch', async () => {
    vi.mocked(saveSettings).mockImplementation(async (settings) => ({ settings, reindexing: true, switching: true }));
    const user = await open();

    await retype(user, 'Temperature', '0.5');
    await user.click(screen.getByRole('button', { name: 'Save' }));

    const status = await screen.findByTestId('save-status');
    await waitFor(() =>
      expect(status).toHaveTextContent(
        'Saved. Embedding the library with the new model in the background; search uses the current one until it is done.',
      ),
    );
    expect(status).not.toHaveTextContent('re-indexed');
    // The banner asks for the change under way at once.
    await waitFor(() => expect(getEmbeddingSwitch).toHaveBeenCalledTimes(2));
  });

  describe('a change of embedding model', () => {
    const SWITCH: EmbeddingSwitch = {
      from: 'bge-small-en-v1.5',
      target: 'nomic-embed-text at gpu-box:8080',
      done: 40,
      total: 50,
      state: 'running',
      error: null,
    };
    let emit: (change: EmbeddingSwitch | null) => void = () => {};

    beforeEach(() => {
      vi.mocked(getEmbeddingSwitch).mockResolvedValue(SWITCH);
      vi.mocked(onEmbeddingSwitch).mockImplementation(async (handler) => {
        emit = handler;
        return () => {};
      });
    });

    it('shows its progress at the top of the settings', async () => {
      await open();
      const banner = await screen.findByTestId('embedding-switch');
      expect(banner).toHaveTextContent('Switching the embedding model to nomic-embed-text at gpu-box:8080');
      expect(within(banner).getByTestId('embedding-switch-count')).toHaveTextContent('40 of 50 documents');
      expect(banner).toHaveTextContent('Search uses bge-small-en-v1.5 until every document is embedded.');
    });

    it('reads the settings again when it ends, keeping edits not saved yet', async () => {
      const user = await open();
      await screen.findByTestId('embedding-switch');
      await retype(user, 'Temperature', '0.6');
      const calls = vi.mocked(getSettings).mock.calls.length;

      const switched = { ...SETTINGS, models: { ...SETTINGS.models, embedding: '/m/nomic.gguf' } };
      vi.mocked(getSettings).mockResolvedValue(structuredClone(switched));
      emit(null);

      await waitFor(() => expect(screen.queryByTestId('embedding-switch')).not.toBeInTheDocument());
      await waitFor(() => expect(vi.mocked(getSettings).mock.calls.length).toBe(calls + 1));
      expect(field('Temperature')).toHaveValue('0.6');

      await user.click(screen.getByRole('button', { name: 'Save' }));
      expect(saveSettings).toHaveBeenCalledWith({
        ...switched,
        generation: { ...SETTINGS.generation, temperature: 0.6 },
      });
    });
  });

  it('shows Rust’s objections next to the fields they name', async () => {
    vi.mocked(saveSettings).mockRejectedValue(
      new IpcError(
        'invalid_input',
        'Chunk size must be between 64 and 512 tokens (it is 300). The chat model file does not exist: /m/chat.gguf.',
      ),
    );
    const user = await open();

    await retype(user, 'Chunk size', '300');
    await user.click(screen.getByRole('button', { name: 'Save' }));

    expect(await screen.findByTestId('field-chunk-size-error')).toHaveTextContent(
      'Chunk size must be between 64 and 512 tokens (it is 300).',
    );
    expect(screen.getByRole('alert')).toHaveTextContent('The chat model file does not exist: /m/chat.gguf.');

    // Editing the field puts its objection away.
    await user.type(field('Chunk size'), '0');
    expect(screen.queryByTestId('field-chunk-size-error')).toHaveTextContent('Enter a whole number from 64 to 512.');
  });

  it('reverts to what is saved', async () => {
    const user = await open();
    await retype(user, 'Max tokens', '2048');
    expect(screen.getByTestId('save-status')).toHaveTextContent('Unsaved changes');

    await user.click(screen.getByRole('button', { name: 'Revert' }));
    expect(field('Max tokens')).toHaveValue('1024');
    expect(saveSettings).not.toHaveBeenCalled();
  });

  it('steps a value with the arrow keys', async () => {
    const user = await open();
    field('Temperature').focus();
    await user.keyboard('{ArrowUp}{ArrowUp}');
    expect(field('Temperature')).toHaveValue('0.3');
    await retype(user, 'Temperature', '1.98');
    await user.keyboard('{ArrowUp}');
    expect(field('Temperature')).toHaveValue('2');
  });

  it('applies a theme at once and keeps it', async () => {
    const user = await open();

    await user.click(screen.getByRole('radio', { name: 'Dark' }));

    expect(document.documentElement.dataset.theme).toBe('dark');
    expect(saveSettings).toHaveBeenCalledWith({ ...SETTINGS, appearance: { theme: 'dark' } });
    await waitFor(() => expect(screen.getByRole('radio', { name: 'Dark' })).toBeChecked());
  });

  it('goes back to the previous theme when it cannot be kept', async () => {
    vi.mocked(saveSettings).mockRejectedValue(new IpcError('io', 'read-only file system'));
    const user = await open();

    await user.click(screen.getByRole('radio', { name: 'Light' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('read-only file system');
    expect(document.documentElement.dataset.theme).toBe('system');
    expect(screen.getByRole('radio', { name: 'System' })).toBeChecked();
  });

  it('shows why the settings could not be read, and tries again', async () => {
    vi.mocked(getSettings).mockRejectedValueOnce(new IpcError('invalid_input', 'the settings file is damaged'));
    const user = userEvent.setup();
    render(SettingsScreen);

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Could not read the settings');
    expect(alert).toHaveTextContent('the settings file is damaged');
    await user.click(screen.getByRole('button', { name: 'Retry' }));
    expect(await screen.findByTestId('settings-form')).toBeInTheDocument();
    expect(within(screen.getByTestId('settings-form')).getByText('Temperature')).toBeInTheDocument();
  });
});
