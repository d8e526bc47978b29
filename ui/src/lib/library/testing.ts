/** Fixtures for the library's tests. */
import type { DocumentRecord, FolderStatus, Job, LibraryOverview, QueueView, WatchedFolder } from '../ipc';

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
  watching: Record<string, FolderStatus> = {},
  notices: string[] = [],
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
    watching,
    notices,
  };
}

/** A job of the indexing queue (an import of `paths` the user asked for, unless `fields` say otherwise). */
export function job(id: number, fields: Partial<Job> = {}): Job {
  return {
    id,
    kind: 'import',
    paths: ['/docs/a.pdf'],
    force: false,
    collection: null,
    priority: 'user',
    queued_ms: Date.UTC(2025, 2, 3),
    not_before_ms: 0,
    attempts: 0,
    last_error: null,
    ...fields,
  } as Job;
}

/** The indexing queue's state. */
export function queueView(fields: Partial<QueueView> = {}): QueueView {
  return { paused: false, running: null, jobs: [], given_up: [], held_elsewhere: false, ...fields };
}
