/**
 * The Appearance setting on the window. The root element carries the setting (`data-theme`: system, light or
 * dark) and the scheme it comes to (`data-scheme`: light or dark), which app.css follows; with "system" the
 * scheme follows the system's light/dark switch, also when it changes while Quire is open.
 */
import type { Theme } from '../ipc';

const THEMES: readonly Theme[] = ['system', 'light', 'dark'];
const DARK = '(prefers-color-scheme: dark)';

function systemScheme(): 'light' | 'dark' {
  return typeof window.matchMedia === 'function' && window.matchMedia(DARK).matches ? 'dark' : 'light';
}

/** Shows the window in `theme` at once; anything unknown means the system's choice. */
export function applyTheme(theme: Theme | null | undefined, root: HTMLElement = document.documentElement): void {
  const chosen = theme && THEMES.includes(theme) ? theme : 'system';
  root.dataset.theme = chosen;
  root.dataset.scheme = chosen === 'system' ? systemScheme() : chosen;
}

/**
 * Sets the scheme from the system now and whenever the system switches, while the setting is "system" (or not
 * read yet). Call once at start-up; returns the function that stops following.
 */
export function followSystemScheme(root: HTMLElement = document.documentElement): () => void {
  const update = (): void => {
    if ((root.dataset.theme ?? 'system') === 'system') root.dataset.scheme = systemScheme();
  };
  update();
  if (typeof window.matchMedia !== 'function') return () => {};
  const media = window.matchMedia(DARK);
  media.addEventListener('change', update);
  return () => media.removeEventListener('change', update);
}
