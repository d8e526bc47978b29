/** The Appearance setting on the window: `data-theme` on the root element, which app.css follows. */
import type { Theme } from '../ipc';

const THEMES: readonly Theme[] = ['system', 'light', 'dark'];

/** Shows the window in `theme` at once; anything unknown means the system's choice. */
export function applyTheme(theme: Theme | null | undefined, root: HTMLElement = document.documentElement): void {
  root.dataset.theme = theme && THEMES.includes(theme) ? theme : 'system';
}
