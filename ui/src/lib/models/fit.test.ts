import { describe, expect, it } from 'vitest';
import type { ModelDownload } from '$lib/ipc';
import { adviceFor, downloadLine, fraction, isActive } from './fit';

const base = { id: 1, label: 'SmolLM2 135M', file_name: 'smol.gguf' };

describe('download words', () => {
  it('says what to do for the failures a person can act on', () => {
    expect(adviceFor('checksum_mismatch')).toBe('The file was damaged in transit; download it again.');
    expect(adviceFor('offline')).toContain('can’t reach Hugging Face');
    expect(adviceFor('no_space')).toContain('disk space');
    expect(adviceFor('something_else')).toBeNull();
  });

  it('shows bytes, speed and time left while downloading', () => {
    const job: ModelDownload = {
      ...base,
      state: 'running',
      progress: {
        stage: 'downloading',
        done: 45_000_000,
        total: 98_000_000,
        bytes_per_second: 12_000_000,
        eta_seconds: 120,
        resumed_from: 0,
        restarts: 0,
        retries: 0,
      },
    };
    expect(downloadLine(job)).toBe('45 MB of 98 MB · 12 MB/s · about 2 min left');
    expect(fraction(job.progress)).toBeCloseTo(45 / 98);
    expect(isActive(job)).toBe(true);
  });

  it('names the other states', () => {
    expect(downloadLine({ ...base, state: 'queued', progress: null })).toBe('Waiting for the download before it');
    expect(
      downloadLine({
        ...base,
        state: 'paused',
        progress: {
          stage: 'downloading',
          done: 5_000_000,
          total: 10_000_000,
          bytes_per_second: 0,
          eta_seconds: null,
          resumed_from: 0,
          restarts: 0,
          retries: 0,
        },
      }),
    ).toBe('Paused at 5.0 MB of 10 MB');
    const failed: ModelDownload = { ...base, state: 'failed', progress: null, error: 'x', kind: 'offline' };
    expect(downloadLine(failed)).toBe('Failed');
    expect(isActive(failed)).toBe(false);
    expect(fraction(null)).toBeNull();
  });
});
