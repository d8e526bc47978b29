import { afterEach, describe, expect, it } from 'vitest';
import { applyTheme } from '$lib/settings/theme';

afterEach(() => {
  delete document.documentElement.dataset.theme;
});

describe('applyTheme', () => {
  it('marks the root element with the chosen theme', () => {
    applyTheme('dark');
    expect(document.documentElement.dataset.theme).toBe('dark');
    applyTheme('light');
    expect(document.documentElement.dataset.theme).toBe('light');
    applyTheme('system');
    expect(document.documentElement.dataset.theme).toBe('system');
  });

  it('follows the system for anything it does not know', () => {
    applyTheme(undefined);
    expect(document.documentElement.dataset.theme).toBe('system');
    applyTheme('sepia' as never);
    expect(document.documentElement.dataset.theme).toBe('system');
  });
});
