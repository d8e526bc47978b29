/** Words and numbers the library shows: names, folders, sizes, pages, dates, durations and summaries. */
import type { Format, Job } from '../ipc';

/** The last part of a path (either separator), or the path itself. */
export function baseName(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, '');
  const parts = trimmed.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/** The folder a path is in ("" for a bare name). */
export function folderOf(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, '');
  const cut = Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\'));
  if (cut < 0) return '';
  if (cut === 0) return trimmed.slice(0, 1);
  return trimmed.slice(0, cut);
}

/** Whether `path` is `root` or lies under it (`root` a folder). */
export function isUnder(path: string, root: string): boolean {
  const base = root.replace(/[\\/]+$/, '');
  if (path === base) return true;
  return path.startsWith(base) && (path[base.length] === '/' || path[base.length] === '\\');
}

/** How a document is named to the person: its title when it has one, else its file name. */
export function documentName(doc: { title: string | null; path: string }): string {
  const title = doc.title?.trim();
  return title ? title : baseName(doc.path);
}

const FORMAT_LABELS: Record<Format, string> = {
  pdf: 'PDF',
  markdown: 'Markdown',
  text: 'Text',
  html: 'HTML',
  code: 'Code',
  docx: 'Word',
  epub: 'EPUB',
};

export function formatLabel(format: Format | null): string {
  return format ? FORMAT_LABELS[format] : '—';
}

// The extensions Quire reads (as quire-core's `Format::from_path` judges them), for files that are not in
// the library yet; code is recognised by the commonest extensions only.
const EXTENSIONS: Record<string, Format> = {
  pdf: 'pdf',
  md: 'markdown',
  markdown: 'markdown',
  mdown: 'markdown',
  mkd: 'markdown',
  txt: 'text',
  text: 'text',
  rst: 'text',
  org: 'text',
  adoc: 'text',
  log: 'text',
  html: 'html',
  htm: 'html',
  xhtml: 'html',
  docx: 'docx',
  epub: 'epub',
};
const CODE = new Set(['rs', 'py', 'js', 'ts', 'go', 'java', 'c', 'h', 'cpp', 'hpp', 'cs', 'rb', 'php', 'swift', 'kt', 'sh']);

/** The format of a file judged by its extension; null for a folder or a file Quire does not read. */
export function formatOfPath(path: string): Format | null {
  const name = baseName(path);
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return null;
  const ext = name.slice(dot + 1).toLowerCase();
  return EXTENSIONS[ext] ?? (CODE.has(ext) ? 'code' : null);
}

/** "0 B", "812 B", "34 KB", "5.6 MB", "1.2 GB" (powers of 1000, as file managers count). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1000) return `${Math.max(0, Math.round(bytes || 0))} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 999.5 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = value < 10 ? 1 : 0;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/** "p. 4", "pp. 4–6", or "" for passages without pages. */
export function pageLabel(start: number | null, end: number | null): string {
  if (start === null) return '';
  if (end === null || end <= start) return `p. ${start}`;
  return `pp. ${start}–${end}`;
}

/** How long is left, roughly: "a few seconds", "about 40 s", "about 3 min", "about 1 h 20 min". */
export function formatRemaining(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 10) return 'a few seconds';
  if (seconds < 60) return `about ${Math.round(seconds / 5) * 5} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `about ${hours} h` : `about ${hours} h ${rest} min`;
}

/**
 * When something happens again, from now: "in a few seconds", "in 30 s", "in 2 min", "in 1 h 5 min" (as in
 * "Will try again in 2 min").
 */
export function formatIn(atMs: number, nowMs: number): string {
  const seconds = (atMs - nowMs) / 1000;
  if (!Number.isFinite(seconds) || seconds < 10) return 'in a few seconds';
  if (seconds < 60) return `in ${Math.round(seconds / 5) * 5} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `in ${hours} h` : `in ${hours} h ${rest} min`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });

/** "3 Mar 2025". */
export function formatDate(ms: number): string {
  return dateFormat.format(new Date(ms));
}

const numberFormat = new Intl.NumberFormat();

/** "1,024" (as the system writes numbers). */
export function formatCount(n: number): string {
  return numberFormat.format(n);
}

/** "1 file", "3 files". */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${formatCount(count)} ${count === 1 ? one : many}`;
}

/** What a finished import did: "3 indexed, 1 failed", or "Nothing new" when every file was known. */
export function outcomeSummary(counts: {
  indexed: number;
  unchanged: number;
  failed: number;
  removed: number;
  moved?: number;
}): string {
  const parts: string[] = [];
  if (counts.indexed > 0) parts.push(`${formatCount(counts.indexed)} indexed`);
  if (counts.unchanged > 0) parts.push(`${formatCount(counts.unchanged)} unchanged`);
  if (counts.failed > 0) parts.push(`${formatCount(counts.failed)} failed`);
  if (counts.removed > 0) parts.push(`${formatCount(counts.removed)} removed`);
  if (counts.moved) parts.push(`${formatCount(counts.moved)} moved`);
  return parts.length > 0 ? parts.join(', ') : 'no documents found';
}

/** A passage as one line of plain text, cut at a word near `max` characters. */
export function snippet(text: string, max = 280): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return `${(space > max * 0.6 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** A list of paths in a few words: "report.pdf", "report.pdf and notes", "report.pdf and 3 more". */
function namesOf(paths: readonly string[]): string {
  const [first, second] = paths;
  if (first === undefined) return 'nothing';
  if (paths.length === 1) return baseName(first);
  if (paths.length === 2 && second !== undefined) return `${baseName(first)} and ${baseName(second)}`;
  return `${baseName(first)} and ${formatCount(paths.length - 1)} more`;
}

/** What a job of the indexing queue does, in a few words: "Import of report.pdf and 2 more", "Sync of Notes". */
export function jobLabel(job: Job): string {
  switch (job.kind) {
    case 'import':
      return `${job.force ? 'Re-index' : 'Import'} of ${namesOf(job.paths ?? [])}`;
    case 'sync_folder':
      return `Sync of the watched folder ${baseName(job.folder ?? '')}`;
    case 'sync_paths':
      return `Changes in watched folders: ${namesOf(job.paths ?? [])}`;
    case 'retry':
      return `Retry of ${namesOf(job.paths ?? [])}`;
    default:
      return 'Indexing';
  }
}
