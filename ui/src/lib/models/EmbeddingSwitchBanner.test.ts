import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  cancelEmbeddingSwitch,
  getEmbeddingSwitch,
  onEmbeddingSwitch,
  retryEmbeddingSwitch,
} from '$lib/ipc/commands';
import { IpcError, type EmbeddingSwitch } from '$lib/ipc';
import EmbeddingSwitchBanner from './EmbeddingSwitchBanner.svelte';
import { EmbeddingSwitchStore } from './embeddingSwitch.svelte';

vi.mock('$lib/ipc/commands');

const RUNNING: EmbeddingSwitch = {
  from: 'bge-small-en-v1.5',
  target: 'nomic-embed-text-v1.5.Q8_0.gguf',
  done: 30,
  total: 120,
  state: 'running',
  error: null,
};

let emit: (change: EmbeddingSwitch | null) => void = () => {};

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(onEmbeddingSwitch).mockImplementation(async (handler) => {
    emit = handler;
    return () => {};
  });
  vi.mocked(getEmbeddingSwitch).mockResolvedValue(RUNNING);
  vi.mocked(cancelEmbeddingSwitch).mockResolvedValue(undefined);
  vi.mocked(retryEmbeddingSwitch).mockResolvedValue(undefined);
});

async function shown(compact = false): Promise<{ store: EmbeddingSwitchStore; ended: ReturnType<typeof vi.fn> }> {
  const ended = vi.fn();
  const store = new EmbeddingSwitchStore(ended);
  await store.start();
  render(EmbeddingSwitchBanner, { store, compact });
  return { store, ended };
}

describe('EmbeddingSwitchBanner', () => {
  it('shows nothing while no change of embedding model is under way', async () => {
    vi.mocked(getEmbeddingSwitch).mockResolvedValue(null);
    await shown();
    expect(screen.queryByTestId('embedding-switch')).not.toBeInTheDocument();
    expect(screen.queryByRole('button')).not.toBeInTheDocument();
  });

  it('shows the new model, how many documents are done and which model search uses meanwhile', async () => {
    await shown();
    const banner = screen.getByTestId('embedding-switch');
    expect(banner).toHaveAttribute('data-state', 'running');
    expect(within(banner).getByRole('heading')).toHaveTextContent(
      'Switching the embedding model to nomic-embed-text-v1.5.Q8_0.gguf',
    );
    expect(within(banner).getByTestId('embedding-switch-count')).toHaveTextContent('30 of 120 documents');
    expect(within(banner).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '25');
    expect(within(banner).getByRole('progressbar')).toHaveAttribute('aria-valuetext', '30 of 120 documents');
    expect(within(banner).getByTestId('embedding-switch-from')).toHaveTextContent(
      'Search uses bge-small-en-v1.5 until every document is embedded.',
    );
    expect(within(banner).queryByTestId('embedding-switch-state')).not.toBeInTheDocument();
    expect(within(banner).getByRole('button', { name: 'Cancel switching the embedding model' })).toBeEnabled();
    expect(within(banner).queryByRole('button', { name: /Retry/ })).not.toBeInTheDocument();
  });

  it('follows the progress events', async () => {
    await shown();
    emit({ ...RUNNING, done: 90 });
    await waitFor(() => expect(screen.getByTestId('embedding-switch-count')).toHaveTextContent('90 of 120 documents'));
    expect(screen.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '75');

    emit({ ...RUNNING, done: 90, state: 'waiting' });
    await waitFor(() =>
      expect(screen.getByTestId('embedding-switch-state')).toHaveTextContent(
        'Waiting while indexing is paused or an answer is written',
      ),
    );
    expect(screen.getByTestId('embedding-switch')).toHaveAttribute('data-state', 'waiting');
  });

  it('cannot be cancelled while the library is switched to the new model', async () => {
    await shown();
    emit({ ...RUNNING, done: 120, state: 'switching' });
    await waitFor(() => expect(screen.getByTestId('embedding-switch-state')).toHaveTextContent('Switching…'));
    expect(screen.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '100');
    expect(screen.getByRole('button', { name: 'Cancel switching the embedding model' })).toBeDisabled();
  });

  it('cancels with the keyboard: the banner goes and the screen reloads', async () => {
    const user = userEvent.setup();
    const { ended } = await shown();
    const cancel = screen.getByRole('button', { name: 'Cancel switching the embedding model' });
    cancel.focus();
    await user.keyboard('{Enter}');

    expect(cancelEmbeddingSwitch).toHaveBeenCalledTimes(1);
    await waitFor(() => expect(screen.queryByTestId('embedding-switch')).not.toBeInTheDocument());
    expect(ended).toHaveBeenCalledTimes(1);
    // The end event that follows changes nothing more.
    emit(null);
    expect(ended).toHaveBeenCalledTimes(1);
  });

  it('says why cancelling failed and keeps the banner', async () => {
    const user = userEvent.setup();
    vi.mocked(cancelEmbeddingSwitch).mockRejectedValue(new IpcError('io', 'the library is busy'));
    const { ended } = await shown();
    await user.click(screen.getByRole('button', { name: 'Cancel switching the embedding model' }));

    const error = await screen.findByTestId('embedding-switch-action-error');
    expect(error).toHaveTextContent('Could not cancel the change of embedding model');
    expect(error).toHaveTextContent('the library is busy');
    expect(screen.getByTestId('embedding-switch')).toBeInTheDocument();
    expect(ended).not.toHaveBeenCalled();
  });

  it('shows why it stopped, and Retry starts it again', async () => {
    const user = userEvent.setup();
    vi.mocked(getEmbeddingSwitch).mockResolvedValue({
      ...RUNNING,
      state: 'failed',
      error: 'The embedding server at gpu-box:8080 refused the key.',
    });
    await shown();

    const banner = screen.getByTestId('embedding-switch');
    expect(banner).toHaveAttribute('data-state', 'failed');
    expect(within(banner).getByTestId('embedding-switch-error')).toHaveTextContent(
      'The embedding server at gpu-box:8080 refused the key.',
    );
    expect(within(banner).getByRole('button', { name: 'Cancel switching the embedding model' })).toBeEnabled();
    await user.click(within(banner).getByRole('button', { name: 'Retry switching the embedding model' }));

    expect(retryEmbeddingSwitch).toHaveBeenCalledTimes(1);
    await waitFor(() => expect(screen.getByTestId('embedding-switch')).toHaveAttribute('data-state', 'running'));
    expect(screen.queryByTestId('embedding-switch-error')).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Retry switching the embedding model' })).not.toBeInTheDocument();
  });

  it('says why Retry failed', async () => {
    const user = userEvent.setup();
    vi.mocked(getEmbeddingSwitch).mockResolvedValue({ ...RUNNING, state: 'failed', error: 'out of memory' });
    vi.mocked(retryEmbeddingSwitch).mockRejectedValue(new IpcError('model_missing', 'The model file is gone.'));
    await shown();
    await user.click(screen.getByRole('button', { name: 'Retry switching the embedding model' }));

    const error = await screen.findByTestId('embedding-switch-action-error');
    expect(error).toHaveTextContent('Could not retry the change of embedding model');
    expect(error).toHaveTextContent('The model file is gone.');
    expect(screen.getByTestId('embedding-switch')).toHaveAttribute('data-state', 'failed');
  });

  it('goes when the end event comes, and asks the screen to reload', async () => {
    const { ended } = await shown();
    emit({ ...RUNNING, done: 120, state: 'switching' });
    await waitFor(() => expect(screen.getByTestId('embedding-switch-state')).toHaveTextContent('Switching…'));
    expect(ended).not.toHaveBeenCalled();

    emit(null);
    await waitFor(() => expect(screen.queryByTestId('embedding-switch')).not.toBeInTheDocument());
    expect(ended).toHaveBeenCalledTimes(1);
  });

  it('appears when a change starts after the screen opened', async () => {
    vi.mocked(getEmbeddingSwitch).mockResolvedValue(null);
    const { ended } = await shown();
    emit({ ...RUNNING, done: 0 });
    expect(await screen.findByTestId('embedding-switch-count')).toHaveTextContent('0 of 120 documents');
    expect(ended).not.toHaveBeenCalled();
  });

  it('keeps a newer event over a slower first answer', async () => {
    let answer: (value: EmbeddingSwitch | null) => void = () => {};
    vi.mocked(getEmbeddingSwitch).mockImplementation(() => new Promise((resolve) => (answer = resolve)));
    const store = new EmbeddingSwitchStore();
    const started = store.start();
    await waitFor(() => expect(getEmbeddingSwitch).toHaveBeenCalled());
    emit({ ...RUNNING, done: 60 });
    answer({ ...RUNNING, done: 10 });
    await started;
    expect(store.current?.done).toBe(60);
  });

  it('says plainly when it cannot read the change under way', async () => {
    vi.mocked(getEmbeddingSwitch).mockRejectedValue(new IpcError('io', 'disk error'));
    const store = new EmbeddingSwitchStore();
    await store.start();
    expect(store.current).toBeNull();
    expect(store.error?.title).toBe('Could not read the change of embedding model');
    expect(store.error?.error.message).toBe('disk error');
  });

  it('fits on one line in its compact form, with the same actions', async () => {
    const user = userEvent.setup();
    await shown(true);
    const banner = screen.getByTestId('embedding-switch');
    expect(banner).toHaveClass('compact');
    expect(within(banner).getByRole('heading')).toHaveTextContent(
      'Switching the embedding model to nomic-embed-text-v1.5.Q8_0.gguf',
    );
    expect(within(banner).getByRole('heading')).toHaveAttribute(
      'title',
      'Search uses bge-small-en-v1.5 until every document is embedded.',
    );
    expect(within(banner).getByTestId('embedding-switch-count')).toHaveTextContent('30 of 120 documents');
    await user.click(within(banner).getByRole('button', { name: 'Cancel switching the embedding model' }));
    expect(cancelEmbeddingSwitch).toHaveBeenCalledTimes(1);
  });
});
