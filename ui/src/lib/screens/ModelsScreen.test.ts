import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  cancelEmbeddingSwitch,
  getEmbeddingSwitch,
  listModels,
  loadModel,
  onEmbeddingSwitch,
  onModelsChanged,
  setDefaultModel,
  unloadModel,
  unregisterModel,
} from '$lib/ipc/commands';
import { IpcError, type EmbeddingSwitch, type InstalledModel, type ModelList, type Settings } from '$lib/ipc';
import ModelsScreen from '$lib/screens/ModelsScreen.svelte';

vi.mock('$lib/ipc/commands');

function model(file: string, fields: Partial<InstalledModel>): InstalledModel {
  return {
    path: `/data/models/${file}`,
    file_name: file,
    size_bytes: 100_000_000,
    role: 'chat',
    name: null,
    architecture: 'llama',
    quantization: 'Q8_0',
    context_length: 8192,
    parameters: 134_515_008,
    is_default: false,
    loaded: false,
    ...fields,
  };
}

const SMOL = model('SmolLM2-135M-Instruct-Q8_0.gguf', {
  name: 'SmolLM2 135M Instruct',
  size_bytes: 144_800_000,
  is_default: true,
});
const QWEN = model('qwen2.5-1.5b-instruct-q4_k_m.gguf', {
  name: 'Qwen2.5 1.5B Instruct',
  architecture: 'qwen2',
  quantization: 'Q4_K_M',
  parameters: 1_540_000_000,
  size_bytes: 1_100_000_000,
  context_length: 32768,
});
const EMBED = model('bge-small-en-v1.5-q8_0.gguf', {
  role: 'embedding',
  name: 'bge-small-en-v1.5',
  architecture: 'bert',
  parameters: 33_200_000,
  context_length: 512,
  is_default: true,
});

const LIST: ModelList = {
  dir: '/data/models',
  models: [QWEN, EMBED, SMOL],
  broken: [{ path: '/data/models/half.gguf', file_name: 'half.gguf', reason: 'The file ends before its tensors.' }],
};

function rowOf(file: string): HTMLElement {
  const row = screen.getAllByTestId('model-row').find((r) => r.dataset.path?.endsWith(file));
  if (!row) throw new Error(`no row for ${file}`);
  return row;
}

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(listModels).mockResolvedValue(LIST);
});

describe('ModelsScreen', () => {
  it('groups the models by role, the default first, with what each one is', async () => {
    render(ModelsScreen);

    const rows = await screen.findAllByTestId('model-row');
    expect(rows.map((r) => r.dataset.role)).toEqual(['chat', 'chat', 'embedding']);
    const chat = screen.getAllByTestId('model-group').find((g) => g.dataset.role === 'chat')!;
    expect(within(chat).getByRole('heading', { name: 'Chat' })).toBeInTheDocument();
    expect(within(chat).getAllByTestId('model-row').map((r) => r.dataset.path)).toEqual([SMOL.path, QWEN.path]);

    const qwen = rowOf(QWEN.file_name);
    expect(qwen).toHaveTextContent('Qwen2.5 1.5B Instruct');
    expect(qwen).toHaveTextContent(QWEN.file_name);
    expect(qwen).toHaveTextContent('1.1 GB');
    expect(qwen).toHaveTextContent('1.5 B');
    expect(qwen).toHaveTextContent('Q4_K_M');
    expect(qwen).toHaveTextContent('qwen2');
    expect(qwen).toHaveTextContent(/32.768 tokens/);
    expect(rowOf(SMOL.file_name)).toHaveTextContent('135 M');

    // No reranker: the group says what that means.
    const reranker = screen.getAllByTestId('model-group').find((g) => g.dataset.role === 'reranker')!;
    expect(reranker).toHaveTextContent('No reranker is installed');

    expect(screen.getByTestId('broken-model')).toHaveTextContent('half.gguf');
    expect(screen.getByTestId('broken-model')).toHaveTextContent('The file ends before its tensors.');
    expect(screen.getByTestId('models-dir')).toHaveTextContent('/data/models');
    expect(screen.getByTestId('screen-models')).toHaveTextContent('downloads and copied imports go here');
  });

  it('marks the default and loaded models and offers only what makes sense', async () => {
    vi.mocked(listModels).mockResolvedValue({ ...LIST, models: [{ ...SMOL, loaded: true }, QWEN, EMBED] });
    render(ModelsScreen);
    await screen.findAllByTestId('model-row');

    const smol = within(rowOf(SMOL.file_name));
    expect(smol.getByTestId('badge-default')).toHaveTextContent('Default');
    expect(smol.getByTestId('badge-loaded')).toHaveTextContent('Loaded');
    expect(smol.queryByRole('button', { name: 'Use as default' })).not.toBeInTheDocument();
    expect(smol.getByRole('button', { name: 'Unload' })).toBeInTheDocument();

    const qwen = within(rowOf(QWEN.file_name));
    expect(qwen.queryByTestId('badge-default')).not.toBeInTheDocument();
    expect(qwen.queryByTestId('badge-loaded')).not.toBeInTheDocument();
    expect(qwen.getByRole('button', { name: 'Use as default' })).toBeInTheDocument();
    expect(qwen.getByRole('button', { name: 'Load' })).toBeInTheDocument();

    // Only chat models are loaded by hand.
    const embed = within(rowOf(EMBED.file_name));
    expect(embed.queryByRole('button', { name: 'Load' })).not.toBeInTheDocument();
  });

  it('makes a model the default for its role, then shows the list again', async () => {
    vi.mocked(setDefaultModel).mockResolvedValue({} as Settings);
    const user = userEvent.setup();
    render(ModelsScreen);
    await screen.findAllByTestId('model-row');

    vi.mocked(listModels).mockResolvedValue({
      ...LIST,
      models: [{ ...SMOL, is_default: false }, { ...QWEN, is_default: true }, EMBED],
    });
    await user.click(within(rowOf(QWEN.file_name)).getByRole('button', { name: 'Use as default' }));

    expect(setDefaultModel).toHaveBeenCalledWith('chat', QWEN.path);
    await waitFor(() => expect(within(rowOf(QWEN.file_name)).getByTestId('badge-default')).toBeInTheDocument());
    expect(listModels).toHaveBeenCalledTimes(2);
  });

  it('loads a chat model with a busy state, and unloads it', async () => {
    let finish: () => void = () => {};
    vi.mocked(loadModel).mockReturnValue(new Promise<void>((resolve) => (finish = resolve)));
    vi.mocked(unloadModel).mockResolvedValue(undefined);
    const user = userEvent.setup();
    render(ModelsScreen);
    await screen.findAllByTestId('model-row');

    await user.click(within(rowOf(QWEN.file_name)).getByRole('button', { name: 'Load' }));
    expect(loadModel).toHaveBeenCalledWith(QWEN.path);
    const busy = within(rowOf(QWEN.file_name)).getByRole('button', { name: 'Loading…' });
    expect(busy).toBeDisabled();
    expect(busy).toHaveAttribute('aria-busy', 'true');
    // One thing at a time.
    expect(within(rowOf(SMOL.file_name)).getByRole('button', { name: 'Load' })).toBeDisabled();

    vi.mocked(listModels).mockResolvedValue({ ...LIST, models: [SMOL, { ...QWEN, loaded: true }, EMBED] });
    finish();
    const unload = await within(rowOf(QWEN.file_name)).findByRole('button', { name: 'Unload' });
    expect(within(rowOf(QWEN.file_name)).getByTestId('badge-loaded')).toBeInTheDocument();

    await user.click(unload);
    expect(unloadModel).toHaveBeenCalledTimes(1);
  });

  it('says why an action failed, on its model', async () => {
    vi.mocked(loadModel).mockRejectedValue(new IpcError('model_load', 'Not enough memory for this model'));
    const user = userEvent.setup();
    render(ModelsScreen);
    await screen.findAllByTestId('model-row');

    await user.click(within(rowOf(QWEN.file_name)).getByRole('button', { name: 'Load' }));

    const alert = await within(rowOf(QWEN.file_name)).findByRole('alert');
    expect(alert).toHaveTextContent('Could not load it');
    expect(alert).toHaveTextContent('Not enough memory for this model');
    expect(within(rowOf(QWEN.file_name)).getByRole('button', { name: 'Load' })).toBeEnabled();
  });

  it('says what to do when no model is installed', async () => {
    vi.mocked(listModels).mockResolvedValue({ dir: '/data/models', models: [], broken: [] });
    render(ModelsScreen);

    const empty = await screen.findByTestId('models-empty');
    expect(within(empty).getByRole('heading', { name: 'No models installed yet' })).toBeInTheDocument();
    expect(screen.getByTestId('models-dir')).toHaveTextContent('/data/models');
  });

  it('shows why the folder could not be read, and tries again', async () => {
    vi.mocked(listModels).mockRejectedValueOnce(new IpcError('internal', 'cannot read /data/models'));
    const user = userEvent.setup();
    render(ModelsScreen);

    expect(await screen.findByRole('alert')).toHaveTextContent('cannot read /data/models');
    await user.click(screen.getByRole('button', { name: 'Retry' }));
    expect(await screen.findAllByTestId('model-row')).toHaveLength(3);
  });

  it('shows the fit and marks a model kept where it is, which can be removed from the list', async () => {
    const external = model('big.gguf', {
      path: '/disk/big.gguf',
      external: true,
      fit: { placement: 'partial', summary: '20 of 33 layers on the GPU', advice: [] },
    });
    vi.mocked(listModels).mockResolvedValue({ ...LIST, models: [SMOL, external] });
    vi.mocked(unregisterModel).mockResolvedValue(true);
    const user = userEvent.setup();
    render(ModelsScreen);
    await screen.findAllByTestId('model-row');

    const row = within(rowOf('big.gguf'));
    expect(row.getByTestId('badge-external')).toHaveTextContent('External');
    expect(row.getByTestId('badge-fit')).toHaveTextContent('Partial offload');
    expect(within(rowOf(SMOL.file_name)).queryByTestId('model-unregister')).not.toBeInTheDocument();

    vi.mocked(listModels).mockResolvedValue({ ...LIST, models: [SMOL] });
    await user.click(row.getByRole('button', { name: 'Remove from list' }));
    expect(unregisterModel).toHaveBeenCalledWith('/disk/big.gguf');
    await waitFor(() => expect(screen.getAllByTestId('model-row')).toHaveLength(1));
  });

  it('lists the models again when a download or import installs one', async () => {
    let changed: () => void = () => {};
    vi.mocked(onModelsChanged).mockImplementation(async (handler) => {
      changed = handler;
      return () => {};
    });
    render(ModelsScreen);
    await screen.findAllByTestId('model-row');
    const calls = vi.mocked(listModels).mock.calls.length;
    changed();
    await waitFor(() => expect(vi.mocked(listModels).mock.calls.length).toBe(calls + 1));
  });

  describe('a change of embedding model', () => {
    const NOMIC = model('nomic-embed-text-v1.5.Q8_0.gguf', { role: 'embedding', architecture: 'nomic-bert' });
    const SWITCH: EmbeddingSwitch = {
      from: 'bge-small-en-v1.5',
      target: NOMIC.file_name,
      done: 3,
      total: 12,
      state: 'running',
      error: null,
    };
    let emit: (change: EmbeddingSwitch | null) => void = () => {};

    beforeEach(() => {
      vi.mocked(listModels).mockResolvedValue({ ...LIST, models: [QWEN, EMBED, SMOL, NOMIC] });
      vi.mocked(onEmbeddingSwitch).mockImplementation(async (handler) => {
        emit = handler;
        return () => {};
      });
    });

    it('shows its progress once a new default embedding model is chosen', async () => {
      vi.mocked(getEmbeddingSwitch).mockResolvedValue(null);
      vi.mocked(setDefaultModel).mockResolvedValue({} as Settings);
      const user = userEvent.setup();
      render(ModelsScreen);
      await screen.findAllByTestId('model-row');
      expect(screen.queryByTestId('embedding-switch')).not.toBeInTheDocument();

      vi.mocked(getEmbeddingSwitch).mockResolvedValue({ ...SWITCH, done: 0 });
      await user.click(within(rowOf(NOMIC.file_name)).getByRole('button', { name: 'Use as default' }));

      expect(setDefaultModel).toHaveBeenCalledWith('embedding', NOMIC.path);
      const banner = await screen.findByTestId('embedding-switch');
      expect(banner).toHaveTextContent(`Switching the embedding model to ${NOMIC.file_name}`);
      expect(within(banner).getByTestId('embedding-switch-count')).toHaveTextContent('0 of 12 documents');
      expect(banner).toHaveTextContent('Search uses bge-small-en-v1.5 until every document is embedded.');

      emit({ ...SWITCH, done: 6 });
      await waitFor(() => expect(within(banner).getByTestId('embedding-switch-count')).toHaveTextContent('6 of 12 documents'));
    });

    it('cancels it, and lists the models again (the current model stays the default)', async () => {
      vi.mocked(getEmbeddingSwitch).mockResolvedValue(SWITCH);
      vi.mocked(cancelEmbeddingSwitch).mockResolvedValue(undefined);
      const user = userEvent.setup();
      render(ModelsScreen);
      const banner = await screen.findByTestId('embedding-switch');
      await screen.findAllByTestId('model-row');
      const calls = vi.mocked(listModels).mock.calls.length;

      await user.click(within(banner).getByRole('button', { name: 'Cancel switching the embedding model' }));

      expect(cancelEmbeddingSwitch).toHaveBeenCalledTimes(1);
      await waitFor(() => expect(screen.queryByTestId('embedding-switch')).not.toBeInTheDocument());
      await waitFor(() => expect(vi.mocked(listModels).mock.calls.length).toBe(calls + 1));
    });

    it('lists the models again when the switch is done', async () => {
      vi.mocked(getEmbeddingSwitch).mockResolvedValue({ ...SWITCH, done: 12, state: 'switching' });
      render(ModelsScreen);
      await screen.findByTestId('embedding-switch');
      await screen.findAllByTestId('model-row');
      const calls = vi.mocked(listModels).mock.calls.length;

      vi.mocked(listModels).mockResolvedValue({
        ...LIST,
        models: [QWEN, { ...EMBED, is_default: false }, SMOL, { ...NOMIC, is_default: true }],
      });
      emit(null);

      await waitFor(() => expect(screen.queryByTestId('embedding-switch')).not.toBeInTheDocument());
      await waitFor(() => expect(vi.mocked(listModels).mock.calls.length).toBe(calls + 1));
      await waitFor(() => expect(within(rowOf(NOMIC.file_name)).getByTestId('badge-default')).toBeInTheDocument());
    });
  });
});
