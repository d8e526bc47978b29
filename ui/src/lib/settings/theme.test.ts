import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyTheme, followSystemScheme } from '$lib/settings/theme';

/** A system whose light/dark switch the test flips. */
function system(dark: boolean) {
  const listeners = new Set<() => void>();
  const media = {
    get matches() {
      return dark;
    },
    addEventListener: (_: string, f: () => void) => listeners.add(f),
    removeEventListener: (_: string, f: () => void) => listeners.delete(f),
  };
  vi.stubGlobal('matchMedia', (query: string) => {
    expect(query).toBe('(prefers-color-scheme: dark)');
    return media;
  });
  return {
    flip(to: boolean) {
      dark = to;
      listeners.forEach((f) => f());
    },
    listeners,
  };
}

afterEach(() => {
  vi.unstubAllGlobals();
  delete document.documentElement.dataset.theme;
  delete document.documentElement.dataset.scheme;
});

describe('applyTheme', () => {
  it('marks the root element with the chosen theme and the scheme it comes to', () => {
    system(true);
    const root = document.documentElement;
    applyTheme('light');
    expect([root.dataset.theme, root.dataset.scheme]).toEqual(['light', 'light']);
    applyTheme('dark');
    expect([root.dataset.theme, root.dataset.scheme]).toEqual(['dark', 'dark']);
    applyTheme('system');
    expect([root.dataset.theme, root.dataset.scheme]).toEqual(['system', 'dark']);
  });

  it('follows the system for anything it does not know', () => {
    system(false);
    applyTheme(undefined);
    expect(document.documentElement.dataset.theme).toBe('system');
    applyTheme('sepia' as never);
    expect(document.documentElement.dataset.theme).toBe('system');
    expect(document.documentElement.dataset.scheme).toBe('light');
  });
});

describe('followSystemScheme', () => {
  it('switches the scheme with the system while the theme is "system", and not otherwise', () => {
    const os = system(false);
    const root = document.documentElement;
    const stop = followSystemScheme();
    expect(root.dataset.scheme).toBe('light');
    os.flip(true);
    expect(root.dataset.scheme).toBe('dark');

    applyTheme('light');
    os.flip(false);
    os.flip(true);
    expect(root.dataset.scheme).toBe('light');

    applyTheme('system');
    expect(root.dataset.scheme).toBe('dark');
    stop();
    expect(os.listeners.size).toBe(0);
  });
});
