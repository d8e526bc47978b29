import { describe, expect, it } from 'vitest';
import { formatContext, formatParameters } from '$lib/models/format';

describe('models format', () => {
  it('writes parameter counts the way model cards do', () => {
    expect(formatParameters(134_515_008)).toBe('135 M');
    expect(formatParameters(22_700_000)).toBe('23 M');
    expect(formatParameters(1_540_000_000)).toBe('1.5 B');
    expect(formatParameters(7_000_000_000)).toBe('7 B');
    expect(formatParameters(999_900_000)).toBe('1 B');
    expect(formatParameters(33_000)).toBe('33 K');
    expect(formatParameters(0)).toBe('—');
  });

  it('writes a context length in tokens', () => {
    expect(formatContext(8192)).toMatch(/^8.192 tokens$/);
    expect(formatContext(null)).toBe('—');
  });
});
