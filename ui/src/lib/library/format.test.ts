import { describe, expect, it } from 'vitest';
import {
  baseName,
  folderOf,
  formatBytes,
  formatOfPath,
  formatRemaining,
  isUnder,
  outcomeSummary,
  pageLabel,
  snippet,
} from '$lib/library/format';

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
});
