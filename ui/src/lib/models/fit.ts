/** Words for downloads and fit on the models screen. */
import type { DownloadProgress, ModelDownload, Placement } from '../ipc';
import { formatBytes, formatRemaining } from '../library/format';

/** Each placement's badge: the same words for the catalog and the installed list. */
export const PLACEMENT: Record<Placement, { label: string; tone: 'success' | 'accent' | 'neutral' | 'danger' }> = {
  gpu: { label: 'Fits on GPU', tone: 'success' },
  partial: { label: 'Partial offload', tone: 'accent' },
  cpu: { label: 'CPU only', tone: 'neutral' },
  does_not_fit: { label: 'Does not fit', tone: 'danger' },
};

/** What to do about a failed download, search or import, by the error's kind. */
export function adviceFor(kind: string): string | null {
  switch (kind) {
    case 'offline':
      return 'Quire can’t reach Hugging Face. Check the internet connection (or a proxy or firewall) and try again.';
    case 'no_space':
      return 'There is not enough free disk space. Free some space, then resume.';
    case 'checksum_mismatch':
      return 'The file was damaged in transit; download it again.';
    case 'bad_download':
      return 'The server sent something that is not this model; download it again later.';
    case 'http_status':
      return 'Hugging Face refused the request; the file may have moved, or the repository may be gated.';
    case 'busy':
      return 'Another Quire window or the quire command is downloading this file; wait for it to finish.';
    case 'bad_response':
      return 'Hugging Face answered with something unexpected; try again in a minute.';
    case 'invalid_gguf':
      return 'This is not a GGUF model file Quire can read.';
    default:
      return null;
  }
}

/** "12.3 MB/s". */
export function formatSpeed(bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return '—';
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** 0 to 1 while the size is known; null otherwise. */
export function fraction(progress: DownloadProgress | null): number | null {
  if (!progress || !progress.total) return null;
  return progress.done / progress.total;
}

/** One line for a download: "45 MB of 98 MB · 12 MB/s · 4 s left", or its state in words. */
export function downloadLine(job: ModelDownload): string {
  const p = job.progress;
  const amount = p ? (p.total ? `${formatBytes(p.done)} of ${formatBytes(p.total)}` : formatBytes(p.done)) : '';
  switch (job.state) {
    case 'queued':
      return 'Waiting for the download before it';
    case 'running':
      if (!p || p.stage === 'connecting') return 'Connecting…';
      if (p.stage === 'verifying') return 'Checking the file…';
      if (p.stage === 'installing') return 'Installing…';
      return [amount, formatSpeed(p.bytes_per_second), p.eta_seconds != null ? `${formatRemaining(p.eta_seconds)} left` : null]
        .filter((x) => x && x !== '—')
        .join(' · ');
    case 'paused':
      return amount ? `Paused at ${amount}` : 'Paused';
    case 'done':
      return job.installed.already_installed ? 'Already installed' : `Installed · ${formatBytes(job.installed.size)}`;
    case 'failed':
      return 'Failed';
    case 'cancelled':
      return 'Cancelled';
  }
}

/** Whether a download is still under way (queued, running or paused). */
export function isActive(job: ModelDownload): boolean {
  return job.state === 'queued' || job.state === 'running' || job.state === 'paused';
}
