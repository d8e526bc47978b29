/** Words and labels the chat screen shows: document names, pages, scopes, dates, export file names. */
import type { Citation, RerankStatus, Scope, Source } from '../ipc';

/** The last part of a path (either separator), or the path itself. */
export function baseName(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, '');
  const parts = trimmed.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/** How a document is named to the person: its title when it has one, else its file name. */
export function documentName(doc: { title: string | null; path: string }): string {
  const title = doc.title?.trim();
  return title ? title : baseName(doc.path);
}

/** "p. 4", "pp. 4–6", or "" for formats without pages. */
export function pageLabel(start: number | null, end: number | null): string {
  if (start === null) return '';
  if (end === null || end <= start) return `p. ${start}`;
  return `pp. ${start}–${end}`;
}

/** Where a passage is: its pages, else its heading path, else "". */
export function locationLabel(item: { page_start: number | null; page_end: number | null; heading_path: string[] }) {
  const pages = pageLabel(item.page_start, item.page_end);
  if (pages) return pages;
  return item.heading_path.join(' › ');
}

/** The accessible name of a citation chip: "Source 2: report.pdf, p. 4". */
export function citationLabel(citation: Citation): string {
  const where = locationLabel(citation);
  return `Source ${citation.n}: ${documentName(citation)}${where ? `, ${where}` : ''}`;
}

/** While an answer streams, its citations are the sources the model was given. */
export function citationFromSource(source: Source): Citation {
  return {
    n: source.n,
    doc_id: source.doc_id,
    path: source.path,
    title: source.title,
    page_start: source.page_start,
    page_end: source.page_end,
    heading_path: source.heading_path,
    snippet: source.text,
  };
}

/** What a conversation answers from, in a few words. */
export function scopeLabel(scope: Scope): string {
  switch (scope.kind) {
    case 'library':
      return 'Whole library';
    case 'collection':
      return `Collection: ${scope.name}`;
    case 'path':
      return `Document: ${baseName(scope.path)}`;
  }
}

export function sameScope(a: Scope, b: Scope): boolean {
  if (a.kind === 'collection' && b.kind === 'collection') return a.name === b.name;
  if (a.kind === 'path' && b.kind === 'path') return a.path === b.path;
  return a.kind === b.kind;
}

/** "Reranked by bge-reranker" or "Not reranked: <reason>". */
export function rerankLabel(status: RerankStatus): string {
  return status.status === 'ran' ? `Reranked by ${status.model}` : `Not reranked: ${status.reason}`;
}

/** A title for a conversation started by `question`: its first line, shortened at a word. */
export function titleFromQuestion(question: string, max = 80): string {
  const line = question.trim().split('\n')[0]?.trim() ?? '';
  if (line.length <= max) return line;
  const cut = line.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** A file name for an exported conversation: the title, kept to safe characters. */
export function exportFileName(title: string, format: 'markdown' | 'json'): string {
  const stem =
    title
      .normalize('NFKC')
      .replace(/[<>:"/\\|?*\u0000-\u001f]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 80)
      .trim() || 'Conversation';
  return `${stem}.${format === 'markdown' ? 'md' : 'json'}`;
}

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
const day = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const fullDay = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });

/** When a conversation was last updated, as briefly as is clear: "14:05", "Tue", "3 Mar", "3 Mar 2023". */
export function shortWhen(ms: number, now = Date.now()): string {
  const date = new Date(ms);
  const today = new Date(now);
  if (date.toDateString() === today.toDateString()) return time.format(date);
  const days = (now - ms) / 86_400_000;
  if (days >= 0 && days < 6) return weekday.format(date);
  if (date.getFullYear() === today.getFullYear()) return day.format(date);
  return fullDay.format(date);
}

/** "1 message", "3 messages". */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
