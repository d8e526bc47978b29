/**
 * The app's screens, in sidebar order. The sidebar, the header and the tests all read this list, so a new
 * screen is one entry here plus its component in `App.svelte`.
 */
import type { IconName } from './components/icons';

export type ScreenId = 'library' | 'chat' | 'models' | 'settings';

export interface Screen {
  id: ScreenId;
  /** The sidebar label and the header title. */
  label: string;
  /** One line under the header title: what the screen is for. */
  summary: string;
  icon: IconName;
}

export const SCREENS: readonly Screen[] = [
  {
    id: 'library',
    label: 'Library',
    summary: 'The documents Quire can answer from. Everything stays on this computer.',
    icon: 'library',
  },
  {
    id: 'chat',
    label: 'Chat',
    summary: 'Ask questions and get answers that cite your own documents.',
    icon: 'chat',
  },
  {
    id: 'models',
    label: 'Models',
    summary: 'The local language and embedding models that read and answer.',
    icon: 'models',
  },
  {
    id: 'settings',
    label: 'Settings',
    summary: 'Where your library lives and how Quire works.',
    icon: 'settings',
  },
];

export const DEFAULT_SCREEN: ScreenId = 'library';

export function screenById(id: ScreenId): Screen {
  const screen = SCREENS.find((s) => s.id === id);
  if (!screen) throw new Error(`unknown screen: ${id}`);
  return screen;
}
