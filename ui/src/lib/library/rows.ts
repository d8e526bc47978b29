/**
 * The rows of the document list: the library's documents with what a running import says about them laid
 * over their stored status, plus the files an import has reached that the library does not hold yet.
 */
import type { DocumentRecord, Format } from '../ipc';
import { baseName, documentName, folderOf, formatOfPath, isUnder } from './format';
import type { ProgressSnapshot } from './progress';

/** A document's status as the list shows it: an import's word for it, else the stored one. */
export type RowStatus = 'queued' | 'extracting' | 'embedding' | 'indexed' | 'unchanged' | 'failed' | 'indexing';

export const STATUS_LABELS: Record<RowStatus, string> = {
  queued: 'Queued',
  extracting: 'Extracting',
  embedding: 'Embedding',
  indexed: 'Indexed',
  unchanged: 'Unchanged',
  failed: 'Failed',
  // Stored as `indexing`: an import was interrupted (or is running in another window).
  indexing: 'Indexing',
};

export type RowTone = 'neutral' | 'accent' | 'success' | 'warning' | 'danger';

export const STATUS_TONES: Record<RowStatus, RowTone> = {
  queued: 'neutral',
  extracting: 'accent',
  embedding: 'accent',
  indexed: 'success',
  unchanged: 'success',
  failed: 'danger',
  indexing: 'warning',
};

export interface LibraryRow {
  path: string;
  /** Its title, else its file name. */
  name: string;
  fileName: string;
  folder: string;
  format: Format | null;
  size: number | null;
  pages: number | null;
  chunks: number | null;
  /** When it was last indexed; null for a file not in the library yet. */
  updatedMs: number | null;
  status: RowStatus;
  /** Why it failed. */
  error: string | null;
  /** The stored document; null for a file an import has reached but not written yet. */
  record: DocumentRecord | null;
  /** An import is working on it now. */
  working: boolean;
}

export type SortKey = 'name' | 'date' | 'size';

export const SORT_LABELS: Record<SortKey, string> = {
  name: 'Name',
  date: 'Recently indexed',
  size: 'Size',
};

function fromRecord(doc: DocumentRecord): LibraryRow {
  return {
    path: doc.path,
    name: documentName(doc),
    fileName: baseName(doc.path),
    folder: folderOf(doc.path),
    format: doc.format,
    size: doc.size,
    pages: doc.pages,
    chunks: doc.chunk_count,
    updatedMs: doc.updated_ms,
    status: doc.status,
    error: doc.status === 'failed' ? doc.error : null,
    record: doc,
    working: false,
  };
}

export function mergeRows(
  documents: readonly DocumentRecord[],
  progress: Pick<ProgressSnapshot, 'docs' | 'roots'>,
): LibraryRow[] {
  const rows: LibraryRow[] = [];
  const seen = new Set<string>();
  for (const doc of documents) {
    seen.add(doc.path);
    const row = fromRecord(doc);
    const imported = progress.docs.get(doc.path);
    if (imported) {
      if (imported.status === 'removed') continue;
      row.status = imported.status;
      row.working = imported.status === 'queued' || imported.status === 'extracting' || imported.status === 'embedding';
      row.error = imported.status === 'failed' ? (imported.reason ?? doc.error) : null;
      if (imported.status === 'indexed') {
        row.chunks = imported.chunks ?? row.chunks;
        row.pages = imported.pages ?? row.pages;
      }
      if (imported.bytes !== null && imported.bytes > 0) row.size = imported.bytes;
    } else if (progress.roots.some((root) => isUnder(doc.path, root))) {
      row.status = 'queued';
      row.working = true;
      row.error = null;
    }
    rows.push(row);
  }
  for (const imported of progress.docs.values()) {
    if (seen.has(imported.path) || imported.status === 'removed') continue;
    rows.push({
      path: imported.path,
      name: baseName(imported.path),
      fileName: baseName(imported.path),
      folder: folderOf(imported.path),
      format: formatOfPath(imported.path),
      size: imported.bytes !== null && imported.bytes > 0 ? imported.bytes : null,
      pages: imported.pages,
      chunks: imported.chunks,
      updatedMs: null,
      status: imported.status,
      error: imported.reason,
      record: null,
      working: imported.status === 'queued' || imported.status === 'extracting' || imported.status === 'embedding',
    });
  }
  return rows;
}

/** Lower case without accents, for matching what was typed. */
function fold(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLocaleLowerCase();
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** The rows whose name or file name contains `filter`, in `sort` order (newest and largest first). */
export function visibleRows(rows: readonly LibraryRow[], filter: string, sort: SortKey): LibraryRow[] {
  const needle = fold(filter.trim());
  const kept = needle ? rows.filter((r) => fold(r.name).includes(needle) || fold(r.fileName).includes(needle)) : [...rows];
  const byName = (a: LibraryRow, b: LibraryRow) => collator.compare(a.name, b.name) || collator.compare(a.path, b.path);
  switch (sort) {
    case 'name':
      return kept.sort(byName);
    case 'date':
      // Files not in the library yet are the newest of all.
      return kept.sort(
        (a, b) => (b.updatedMs ?? Number.MAX_SAFE_INTEGER) - (a.updatedMs ?? Number.MAX_SAFE_INTEGER) || byName(a, b),
      );
    case 'size':
      return kept.sort((a, b) => (b.size ?? -1) - (a.size ?? -1) || byName(a, b));
  }
}
