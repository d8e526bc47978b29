import { describe, expect, it } from 'vitest';
import { megabytesText, parseMegabytes, patternLines, rulesSummary } from '$lib/library/rules';

describe('watched folder rules', () => {
  it('reads one pattern a line, trimmed, without blank lines', () => {
    expect(patternLines('  *.pdf \r\n\n\tnotes/**\n   \n')).toEqual(['*.pdf', 'notes/**']);
    expect(patternLines('')).toEqual([]);
  });

  it('reads the size limit in MB, empty for none, and refuses what is not a positive number', () => {
    expect(parseMegabytes('')).toEqual({ bytes: null });
    expect(parseMegabytes(' 20 ')).toEqual({ bytes: 20_000_000 });
    expect(parseMegabytes('1,5')).toEqual({ bytes: 1_500_000 });
    for (const bad of ['0', '-3', 'ten', 'Infinity', '0.0000001']) {
      expect(parseMegabytes(bad), bad).toEqual({ error: expect.stringContaining('positive number of MB') });
    }
    expect(megabytesText(20_000_000)).toBe('20');
    expect(megabytesText(1_234_567)).toBe('1.235');
    expect(megabytesText(null)).toBe('');
    expect(megabytesText(undefined)).toBe('');
  });

  it('sums up the rules in a few words, or nothing when there are none', () => {
    const folder = { path: '/docs', collection: null, added_ms: 1 };
    expect(rulesSummary(folder)).toBeNull();
    expect(rulesSummary({ ...folder, include: [], exclude: [], max_bytes: null })).toBeNull();
    expect(rulesSummary({ ...folder, include: ['*.pdf', '*.md'], exclude: ['drafts/**'], max_bytes: 20_000_000 })).toBe(
      'only *.pdf, *.md · skips drafts/** · ≤ 20 MB',
    );
    expect(rulesSummary({ ...folder, exclude: ['tmp'] })).toBe('skips tmp');
    expect(rulesSummary({ ...folder, max_bytes: 250_000 })).toBe('≤ 0.25 MB');
  });
});
