import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  cancelModelDownload,
  discardPartialDownload,
  getModelDownloads,
  onModelDownload,
  pauseModelDownload,
  resumeModelDownload,
  resumePartialDownload,
  startModelDownload,
} from '$lib/ipc/commands';
import { IpcError, type DownloadProgress, type ModelDownload } from '$lib/ipc';
import Downloads from './Downloads.svelte';
import { DownloadsStore } from './downloads.svelte';

vi.mock('$lib/ipc/commands');

function progress(done: number, total = 100_000_000): DownloadProgress {
  return {
    stage: 'downloading',
    done,
    total,
    bytes_per_second: 10_000_000,
    eta_seconds: (total - done) / 10_000_000,
    resumed_from: 0,
    restarts: 0,
    retries: 0,
  };
}

const RUNNING: ModelDownload = {
  id: 7,
  label: 'Qwen3 0.6B',
  file_name: 'Qwen3-0.6B-Q4_K_M.gguf',
  state: 'running',
  progress: progress(25_000_000),
};

let emit: (job: ModelDownload) => void = () => {};

beforeEach(() => {
  vi.resetAllMocks();
  vi.mocked(onModelDownload).mockImplementation(async (handler) => {
    emit = handler;
    return () => {};
  });
  vi.mocked(getModelDownloads).mockResolvedValue({
    jobs: [RUNNING],
    partials: [{ file_name: 'bge-m3-q8_0.gguf', url: 'https://x', done: 300_000_000, total: 600_000_000, sha256: null }],
  });
  vi.mocked(pauseModelDownload).mockResolvedValue(true);
  vi.mocked(resumeModelDownload).mockResolvedValue(true);
  vi.mocked(cancelModelDownload).mockResolvedValue(true);
  vi.mocked(resumePartialDownload).mockResolvedValue(8);
  vi.mocked(discardPartialDownload).mockResolvedValue(undefined);
});

async function shown(): Promise<DownloadsStore> {
  const store = new DownloadsStore();
  await store.start();
  render(Downloads, { store });
  await screen.findByTestId('download-row');
  return store;
}

describe('Downloads', () => {
  it('shows progress, speed and time left, and follows the events', async () => {
    await shown();
    const row = screen.getByTestId('download-row');
    expect(row).toHaveAttribute('data-state', 'running');
    expect(within(row).getByTestId('download-status')).toHaveTextContent('25 MB of 100 MB · 10 MB/s · a few seconds left');
    expect(within(row).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '25');

    emit({ ...RUNNING, progress: progress(50_000_000) });
    await waitFor(() => expect(within(row).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '50'));
    emit({ ...RUNNING, state: 'paused', progress: progress(50_000_000) });
    await waitFor(() => expect(screen.getByTestId('download-row')).toHaveAttribute('data-state', 'paused'));
    expect(screen.getByTestId('download-status')).toHaveTextContent('Paused at 50 MB of 100 MB');
  });

  it('pauses, resumes and cancels through the commands', async () => {
    const user = userEvent.setup();
    await shown();
    await user.click(screen.getByRole('button', { name: 'Pause' }));
    expect(pauseModelDownload).toHaveBeenCalledWith(7);
    emit({ ...RUNNING, state: 'paused' });
    const row = () => within(screen.getByTestId('download-row'));
    await waitFor(() => expect(row().getByRole('button', { name: 'Resume' })).toBeEnabled());
    await user.click(row().getByRole('button', { name: 'Resume' }));
    expect(resumeModelDownload).toHaveBeenCalledWith(7);
    await user.click(row().getByRole('button', { name: 'Cancel' }));
    expect(cancelModelDownload).toHaveBeenCalledWith(7);
  });

  it('explains a damaged download and offers to try again', async () => {
    const user = userEvent.setup();
    await shown();
    emit({
      ...RUNNING,
      state: 'failed',
      error: 'the download of Qwen3-0.6B-Q4_K_M.gguf has sha256 aa but should have bb',
      kind: 'checksum_mismatch',
    });
    const failure = await screen.findByTestId('download-failure');
    expect(failure).toHaveTextContent('The file was damaged in transit; download it again.');
    expect(failure).toHaveTextContent('should have bb');
    await user.click(screen.getByRole('button', { name: 'Try again' }));
    expect(resumeModelDownload).toHaveBeenCalledWith(7);
  });

  it('offers the unfinished downloads of an earlier run to resume or delete', async () => {
    const user = userEvent.setup();
    const store = await shown();
    const partial = screen.getByTestId('partial-row');
    expect(partial).toHaveTextContent('300 MB of 600 MB downloaded');
    await user.click(within(partial).getByRole('button', { name: 'Resume' }));
    expect(resumePartialDownload).toHaveBeenCalledWith('bge-m3-q8_0.gguf');
    await waitFor(() => expect(screen.queryByTestId('partial-row')).not.toBeInTheDocument());
    expect(store.partials).toEqual([]);
  });

  it('deletes an unfinished download', async () => {
    const user = userEvent.setup();
    await shown();
    await user.click(within(screen.getByTestId('partial-row')).getByRole('button', { name: 'Delete' }));
    expect(discardPartialDownload).toHaveBeenCalledWith('bge-m3-q8_0.gguf');
    await waitFor(() => expect(screen.queryByTestId('partial-row')).not.toBeInTheDocument());
  });
});

describe('DownloadsStore', () => {
  it('keeps a failed action as an error and the jobs in order', async () => {
    const store = new DownloadsStore();
    await store.start();
    vi.mocked(startModelDownload).mockRejectedValue(new IpcError('no_space', 'not enough disk space'));
    expect(await store.startCatalog('qwen3-0.6b-q4_k_m')).toBe(false);
    expect(store.error?.error.kind).toBe('no_space');
    render(Downloads, { store });
    expect(await screen.findByTestId('downloads-advice')).toHaveTextContent('not enough free disk space');
    emit({ ...RUNNING, id: 9, file_name: 'bge-m3-q8_0.gguf', state: 'queued', progress: null });
    expect(store.jobs.map((j) => j.id)).toEqual([7, 9]);
    // a job now working on the partial file takes its place
    expect(store.partials).toEqual([]);
    expect(store.activeFor('bge-m3-q8_0.gguf')?.id).toBe(9);
  });
});
