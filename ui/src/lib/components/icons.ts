/** Line icons drawn for Quire on a 24×24 grid (stroked with `currentColor`; see Icon.svelte). */
export const ICONS = {
  library: 'M5 4h3v16H5z M10 4h3v16h-3z M15.3 5.2l2.8-.8 3.6 14-2.8.8z',
  chat: 'M5 5h14a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2h-7l-4.5 3.5V17H5a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2z M7.5 10h9 M7.5 13h6',
  models:
    'M7 7h10v10H7z M10 10h4v4h-4z M10 3v4 M14 3v4 M10 17v4 M14 17v4 M3 10h4 M3 14h4 M17 10h4 M17 14h4',
  settings:
    'M4 7h9 M17 7h3 M4 17h3 M11 17h9 M13 7a2 2 0 1 0 4 0a2 2 0 1 0-4 0 M7 17a2 2 0 1 0 4 0a2 2 0 1 0-4 0',
  drop: 'M12 4v10 M8 10l4 4 4-4 M4 14v4a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-4',
  folder: 'M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z',
  alert: 'M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z M12 8v5 M12 16.5v.01',
} as const;

export type IconName = keyof typeof ICONS;
