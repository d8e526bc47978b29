import { describe, expect, it } from 'vitest';
import {
  baseName,
  folderOf,
  formatBytes,
  formatIn,
  formatOfPath,
  formatRemaining,
  isUnder,
  jobLabel,
  outcomeSummary,
  pageLabel,
  snippet,
} from '$lib/library/format';
import { job } from '$lib/library/testing';
import type { Job } from '$lib/ipc';

describe('library format', () => {
  it('splits paths with either separator', () => {
    expect(baseName('/home/me/a.pdf')).toBe('a.pdf');
    expect(baseName('C:\\Users\\me\\b.md')).toBe('b.md');
    expect(baseName('/home/me/folder/')).toBe('folder');
    expect(folderOf('/home/me/a.pdf')).toBe('/home/me');
    expect(folderOf('C:\\Users\\me\\b.md')).toBe('C:\\Users\\me');
    expect(folderOf('/a.pdf')).toBe('/');
    expect(folderOf('a.pdf')).toBe('');
    expect(isUnder('/docs/sub/a.pdf', '/docs')).toBe(true);
    expect(isUnder('/docs/sub/a.pdf', '/docs/')).toBe(true);
    expect(isUnder('/docs', '/docs')).toBe(true);
    expect(isUnder('/docs2/a.pdf', '/docs')).toBe(false);
  });

  it('knows the formats Quire reads by extension, and not folders', () => {
    expect(formatOfPath('/a/B.PDF')).toBe('pdf');
    expect(formatOfPath('/a/notes.markdown')).toBe('markdown');
    expect(formatOfPath('/a/main.rs')).toBe('code');
    expect(formatOfPath('/a/folder')).toBeNull();
    expect(formatOfPath('/a/.hidden')).toBeNull();
    expect(formatOfPath('/a/picture.png')).toBeNull();
  });

  it('writes sizes, pages and time left briefly', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1_500)).toBe('1.5 KB');
    expect(formatBytes(34_000)).toBe('34 KB');
    expect(formatBytes(5_600_000)).toBe('5.6 MB');
    expect(formatBytes(999_999)).toBe('1.0 MB');
    expect(formatBytes(1_200_000_000)).toBe('1.2 GB');
    expect(pageLabel(12, 12)).toBe('p. 12');
    expect(pageLabel(12, null)).toBe('p. 12');
    expect(pageLabel(12, 13)).toBe('pp. 12–13');
    expect(pageLabel(null, null)).toBe('');
    expect(formatRemaining(4)).toBe('a few seconds');
    expect(formatRemaining(42)).toBe('about 40 s');
    expect(formatRemaining(185)).toBe('about 3 min');
    expect(formatRemaining(3600)).toBe('about 1 h');
    expect(formatRemaining(4800)).toBe('about 1 h 20 min');
  });

  it('sums up an import in a few words', () => {
    expect(outcomeSummary({ indexed: 3, unchanged: 0, failed: 1, removed: 0 })).toBe('3 indexed, 1 failed');
    expect(outcomeSummary({ indexed: 0, unchanged: 2, failed: 0, removed: 1 })).toBe('2 unchanged, 1 removed');
    expect(outcomeSummary({ indexed: 0, unchanged: 0, failed: 0, removed: 0 })).toBe('no documents found');
    expect(outcomeSummary({ indexed: 1, unchanged: 0, failed: 0, removed: 0, moved: 2 })).toBe('1 indexed, 2 moved');
  });

  it('shortens a passage to one line, at a word', () => {
    expect(snippet('a  b\n\nc')).toBe('a b c');
    const long = 'word '.repeat(100);
    const cut = snippet(long, 50);
    expect(cut.length).toBeLessThanOrEqual(51);
    expect(cut.endsWith('word…')).toBe(true);
  });

  it('says when something happens again, from now', () => {
    const now = 1_000_000;
    expect(formatIn(now + 3_000, now)).toBe('in a few seconds');
    expect(formatIn(now - 3_000, now)).toBe('in a few seconds');
    expect(formatIn(now + 30_000, now)).toBe('in 30 s');
    expect(formatIn(now + 120_000, now)).toBe('in 2 min');
    expect(formatIn(now + 32 * 60_000, now)).toBe('in 32 min');
    expect(formatIn(now + 65 * 60_000, now)).toBe('in 1 h 5 min');
    expect(formatIn(now + 120 * 60_000, now)).toBe('in 2 h');
  });

  it('names a job of the indexing queue by what it does', () => {
    expect(jobLabel(job(1, { paths: ['/a/report.pdf'] }))).toBe('Import of report.pdf');
    expect(jobLabel(job(1, { paths: ['/a/report.pdf', '/b/notes'] }))).toBe('Import of report.pdf and notes');
    expect(jobLabel(job(1, { paths: ['/a', '/b', '/c'], force: true } as Partial<Job>))).toBe('Re-index of a and 2 more');
    expect(jobLabel(job(1, { kind: 'sync_folder', folder: '/home/me/Inbox', reason: 'start' } as Partial<Job>))).toBe(
      'Sync of the watched folder Inbox',
    );
    expect(jobLabel(job(1, { kind: 'sync_paths', paths: ['/w/x.md'] } as Partial<Job>))).toBe(
      'Changes in watched folders: x.md',
    );
    expect(jobLabel(job(1, { kind: 'retry', paths: ['/w/x.md'] } as Partial<Job>))).toBe('Retry of x.md');
  });
});
