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
  plus: 'M12 5v14 M5 12h14',
  pencil: 'M4 20h4L19 9l-4-4L4 16z M13.5 6.5l4 4',
  trash: 'M4 7h16 M9 7V4h6v3 M6 7l1 13h10l1-13 M10 11v6 M14 11v6',
  export: 'M12 15V4 M8 8l4-4 4 4 M5 14v4a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2v-4',
  copy: 'M9 9h10v11H9z M5 15V4h10',
  regenerate: 'M20 11a8 8 0 1 0-2.3 5.7 M20 5v6h-6',
  stop: 'M7 7h10v10H7z',
  pause: 'M9 6v12 M15 6v12',
  play: 'M8 5.5v13l10.5-6.5z',
  send: 'M12 19V5 M6 11l6-6 6 6',
  close: 'M6 6l12 12 M18 6L6 18',
  open: 'M14 4h6v6 M20 4l-9 9 M18 14v4a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h4',
  chevron: 'M6 9l6 6 6-6',
  document: 'M6 3h8l4 4v14H6z M14 3v4h4 M9 12h6 M9 16h6',
  check: 'M5 12.5l4.5 4.5L19 7',
  search: 'M10.5 4a6.5 6.5 0 1 0 0 13a6.5 6.5 0 1 0 0-13z M15.5 15.5L20 20',
  layers: 'M12 4l8 4-8 4-8-4z M4 12l8 4 8-4 M4 16l8 4 8-4',
  previous: 'M15 6l-6 6 6 6',
  next: 'M9 6l6 6-6 6',
  minus: 'M5 12h14',
  'fit-width': 'M4 5v14 M20 5v14 M8 12h8 M10 9.5L7.5 12l2.5 2.5 M14 9.5l2.5 2.5-2.5 2.5',
} as const;

export type IconName = keyof typeof ICONS;
