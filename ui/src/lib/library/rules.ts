/**
 * A watched folder's rules as the library screen shows and edits them: patterns one per line, the size limit
 * in megabytes (10^6 bytes, as the CLI's `--max-size`), and a one-line summary for the folder's row.
 */
import type { WatchedFolder } from '../ipc';

const MB = 1_000_000;

/** The patterns of a text with one per line: trimmed, blank lines dropped. */
export function patternLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** A size limit in bytes as the editor shows it in MB ('' for no limit). */
export function megabytesText(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '';
  return String(Number((bytes / MB).toFixed(3)));
}

/** The size limit typed in MB, in bytes (null: empty, no limit), or why it will not do. */
export function parseMegabytes(text: string): { bytes: number | null } | { error: string } {
  const typed = text.trim().replace(',', '.');
  if (typed === '') return { bytes: null };
  const mb = Number(typed);
  const bytes = Math.round(mb * MB);
  if (!Number.isFinite(mb) || bytes < 1) {
    return { error: 'The size limit must be a positive number of MB; leave it empty for no limit.' };
  }
  return { bytes };
}

/** A size limit in bytes, short: "20 MB", "1.5 MB", "0.25 MB". */
export function formatLimit(bytes: number): string {
  return `${megabytesText(bytes)} MB`;
}

/**
 * The folder's rules in a few words, e.g. "only *.pdf · skips drafts/** · ≤ 20 MB"; null when it has none
 * (every file is included, beyond the hidden, temporary and lock files always left out).
 */
export function rulesSummary(folder: WatchedFolder): string | null {
  const parts: string[] = [];
  if (folder.include?.length) parts.push(`only ${folder.include.join(', ')}`);
  if (folder.exclude?.length) parts.push(`skips ${folder.exclude.join(', ')}`);
  if (folder.max_bytes) parts.push(`≤ ${formatLimit(folder.max_bytes)}`);
  return parts.length > 0 ? parts.join(' · ') : null;
}
