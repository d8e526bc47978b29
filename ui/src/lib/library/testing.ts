/** Fixtures for the library's tests. */
import type { DocumentRecord, LibraryOverview, WatchedFolder } from '../ipc';

export function doc(path: string, fields: Partial<DocumentRecord> = {}): DocumentRecord {
  return {
    id: `id:${path}`,
    path,
    format: 'pdf',
    title: null,
    content_hash: 'hash',
    size: 1000,
    mtime_ms: 0,
    pages: 1,
    chunk_count: 1,
    status: 'indexed',
    error: null,
    embedding_model: 'embed',
    updated_ms: Date.UTC(2025, 2, 3),
    ...fields,
  };
}

export function overview(
  documents: DocumentRecord[],
  collections: Record<string, string[]> = {},
  watched: WatchedFolder[] = [],
): LibraryOverview {
  return {
    stats: {
      documents: documents.length,
      indexed: documents.filter((d) => d.status === 'indexed').length,
      failed: documents.filter((d) => d.status === 'failed').length,
      chunks: documents.reduce((n, d) => n + d.chunk_count, 0),
      disk_bytes: 123_000,
      embedding_model: 'bge-small',
    },
    documents,
    collections,
    watched,
  };
}
