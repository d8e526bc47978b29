import { describe, expect, it } from 'vitest';
import type { IngestNotice, Job } from '$lib/ipc';
import { IngestTracker } from '$lib/library/progress';
import { job, queueView } from '$lib/library/testing';

const T0 = 1_000_000;
const MB = 1_000_000;

function run(tracker: IngestTracker, events: [number, IngestNotice][]): void {
  for (const [at, notice] of events) tracker.apply(notice, at);
}

describe('IngestTracker', () => {
  it('queues the files given by name and leaves folders to their own events', () => {
    const t = new IngestTracker();
    const urgent = t.apply({ event: 'queued', batch: 1, paths: ['/docs/a.pdf', '/docs/notes'], background: false }, T0);

    expect(urgent).toBe(true);
    const s = t.snapshot(T0);
    expect(s.busy).toBe(true);
    expect(s.active).toMatchObject({ batch: 1, phase: 'queued', files: null, fraction: null, remaining: null });
    expect(s.docs.get('/docs/a.pdf')?.status).toBe('queued');
    expect(s.docs.has('/docs/notes')).toBe(false);
    expect(s.roots).toEqual(['/docs/a.pdf', '/docs/notes']);
  });

  it('moves a document through its stages to its outcome, counting files and bytes', () => {
    const t = new IngestTracker();
    run(t, [
      [T0, { event: 'queued', batch: 1, paths: ['/docs'], background: false }],
      [T0 + 10, { event: 'scanned', batch: 1, files: 3, bytes: 6 * MB, paths: ['/docs'] }],
    ]);
    expect(t.apply({ event: 'stage', batch: 1, path: '/docs/a.pdf', stage: 'extracting' }, T0 + 20)).toBe(false);
    expect(t.snapshot().docs.get('/docs/a.pdf')?.status).toBe('extracting');
    expect(t.snapshot().active?.current).toEqual({ path: '/docs/a.pdf', stage: 'extracting' });

    run(t, [
      [T0 + 30, { event: 'stage', batch: 1, path: '/docs/b.md', stage: 'extracting' }],
      [T0 + 40, { event: 'stage', batch: 1, path: '/docs/a.pdf', stage: 'embedding' }],
    ]);
    let s = t.snapshot(T0 + 40);
    expect(s.docs.get('/docs/a.pdf')?.status).toBe('embedding');
    // The document being embedded is the one at work, not the next one being read ahead.
    expect(s.active?.current).toEqual({ path: '/docs/a.pdf', stage: 'embedding' });

    run(t, [
      [
        T0 + 2_010,
        {
          event: 'document',
          batch: 1,
          path: '/docs/a.pdf',
          bytes: 2 * MB,
          outcome: { status: 'indexed', chunks: 12, tokens: 3000, pages: 4 },
        },
      ],
    ]);
    s = t.snapshot(T0 + 2_010);
    expect(s.docs.get('/docs/a.pdf')).toMatchObject({ status: 'indexed', chunks: 12, pages: 4, bytes: 2 * MB });
    expect(s.active).toMatchObject({ doneFiles: 1, doneBytes: 2 * MB, counts: { indexed: 1, failed: 0 } });
    expect(s.active?.fraction).toBeCloseTo(1 / 3);
    // Done with a.pdf, the import is reading b.md.
    expect(s.active?.current).toEqual({ path: '/docs/b.md', stage: 'extracting' });

    run(t, [
      [
        T0 + 2_500,
        { event: 'document', batch: 1, path: '/docs/b.md', bytes: MB, outcome: { status: 'failed', reason: 'damaged' } },
      ],
    ]);
    s = t.snapshot(T0 + 2_500);
    expect(s.docs.get('/docs/b.md')).toMatchObject({ status: 'failed', reason: 'damaged' });
    expect(s.active?.counts).toEqual({ indexed: 1, unchanged: 0, failed: 1, removed: 0, moved: 0 });
  });

  it('shows a moved file as indexed at its new path and gone from its old one', () => {
    const t = new IngestTracker();
    run(t, [
      [T0, { event: 'queued', batch: 1, paths: ['/docs'], background: false }],
      [T0 + 10, { event: 'scanned', batch: 1, files: 1, bytes: 5, paths: ['/docs'] }],
      [
        T0 + 20,
        {
          event: 'document',
          batch: 1,
          path: '/docs/new/name.md',
          bytes: 5,
          outcome: { status: 'moved', from: '/docs/old.md', chunks: 4 },
        },
      ],
    ]);
    const s = t.snapshot(T0 + 20);
    expect(s.docs.get('/docs/new/name.md')).toMatchObject({ status: 'indexed', chunks: 4 });
    expect(s.docs.get('/docs/old.md')?.status).toBe('removed');
    expect(s.active?.counts).toMatchObject({ moved: 1, indexed: 0 });

    t.apply(
      { event: 'finished', batch: 1, indexed: 0, unchanged: 0, failed: 0, removed: 0, moved: 1, cancelled: false, seconds: 1, background: false },
      T0 + 30,
    );
    expect(t.snapshot(T0 + 30).finished?.counts.moved).toBe(1);
  });

  it('never lets a late stage undo an outcome of the same batch', () => {
    const t = new IngestTracker();
    run(t, [
      [T0, { event: 'scanned', batch: 1, files: 1, bytes: 10, paths: ['/a.txt'] }],
      [T0, { event: 'document', batch: 1, path: '/a.txt', bytes: 10, outcome: { status: 'unchanged' } }],
      [T0, { event: 'stage', batch: 1, path: '/a.txt', stage: 'embedding' }],
    ]);
    expect(t.snapshot().docs.get('/a.txt')?.status).toBe('unchanged');
  });

  it('estimates the time left from a smoothed rate of bytes per second', () => {
    const t = new IngestTracker();
    run(t, [[T0, { event: 'scanned', batch: 1, files: 4, bytes: 40 * MB, paths: ['/docs'] }]]);
    expect(t.snapshot(T0).active?.remaining).toBeNull();

    // 10 MB in 10 s: 1 MB/s, 30 MB left → 30 s.
    const doc = (path: string, bytes: number): IngestNotice => ({
      event: 'document',
      batch: 1,
      path,
      bytes,
      outcome: { status: 'indexed', chunks: 1, tokens: 1, pages: null },
    });
    t.apply(doc('/docs/1', 10 * MB), T0 + 10_000);
    let s = t.snapshot(T0 + 10_000);
    expect(s.active?.rate).toBeCloseTo(MB);
    expect(s.active?.remaining).toBeCloseTo(30);
    // It counts down between events.
    expect(t.snapshot(T0 + 14_000).active?.remaining).toBeCloseTo(26);

    // The pace doubles: the rate moves towards 2 MB/s but does not jump there.
    t.apply(doc('/docs/2', 10 * MB), T0 + 15_000);
    s = t.snapshot(T0 + 15_000);
    const w = 1 - Math.exp(-5 / 8);
    expect(s.active?.rate).toBeCloseTo(MB + w * (2 * MB - MB));
    expect(s.active?.rate).toBeGreaterThan(MB);
    expect(s.active?.rate).toBeLessThan(2 * MB);
    expect(s.active?.remaining).toBeCloseTo((20 * MB) / (s.active?.rate ?? 1));
  });

  it('merges events too close together into one measure', () => {
    const t = new IngestTracker();
    run(t, [[T0, { event: 'scanned', batch: 1, files: 3, bytes: 3 * MB, paths: ['/d'] }]]);
    t.apply({ event: 'document', batch: 1, path: '/d/1', bytes: MB, outcome: { status: 'unchanged' } }, T0 + 100);
    expect(t.snapshot(T0 + 100).active?.rate).toBeNull();
    t.apply({ event: 'document', batch: 1, path: '/d/2', bytes: MB, outcome: { status: 'unchanged' } }, T0 + 1_000);
    expect(t.snapshot(T0 + 1_000).active?.rate).toBeCloseTo(2 * MB);
  });

  it('ends a batch with its summary, drops what it never reached, and keeps the outcomes until settled', () => {
    const t = new IngestTracker();
    run(t, [
      [T0, { event: 'queued', batch: 1, paths: ['/docs'], background: false }],
      [T0, { event: 'scanned', batch: 1, files: 2, bytes: 20, paths: ['/docs'] }],
      [T0, { event: 'stage', batch: 1, path: '/docs/a.pdf', stage: 'extracting' }],
      [T0, { event: 'stage', batch: 1, path: '/docs/b.pdf', stage: 'extracting' }],
      [
        T0,
        {
          event: 'document',
          batch: 1,
          path: '/docs/a.pdf',
          bytes: 10,
          outcome: { status: 'indexed', chunks: 2, tokens: 9, pages: 1 },
        },
      ],
    ]);
    const urgent = t.apply(
      { event: 'finished', batch: 1, indexed: 1, unchanged: 0, failed: 0, removed: 0, moved: 0, cancelled: true, seconds: 3.2, background: false },
      T0 + 1,
    );

    expect(urgent).toBe(true);
    const s = t.snapshot();
    expect(s.busy).toBe(false);
    expect(s.active).toBeNull();
    expect(s.roots).toEqual([]);
    expect(s.finished).toEqual({
      batch: 1,
      background: false,
      kind: null,
      counts: { indexed: 1, unchanged: 0, failed: 0, removed: 0, moved: 0 },
      cancelled: true,
      seconds: 3.2,
    });
    expect(s.docs.get('/docs/a.pdf')?.status).toBe('indexed');
    expect(s.docs.has('/docs/b.pdf')).toBe(false);
    expect(t.lastEnded).toBe(1);

    t.settle(1, () => true);
    expect(t.snapshot().docs.size).toBe(0);
    // The summary stays until dismissed.
    expect(t.snapshot().finished).not.toBeNull();
    t.dismiss();
    expect(t.snapshot().finished).toBeNull();
  });

  it('keeps a failed file the library does not hold listed until the summary is dismissed', () => {
    const t = new IngestTracker();
    run(t, [
      [T0, { event: 'scanned', batch: 1, files: 0, bytes: 0, paths: ['/x'] }],
      [T0, { event: 'document', batch: 1, path: '/x/locked', bytes: 0, outcome: { status: 'failed', reason: 'denied' } }],
      [
        T0,
        { event: 'finished', batch: 1, indexed: 0, unchanged: 0, failed: 1, removed: 0, moved: 0, cancelled: false, seconds: 0, background: false },
      ],
    ]);
    t.settle(1, () => false);
    expect(t.snapshot().docs.get('/x/locked')?.reason).toBe('denied');
    t.dismiss();
    expect(t.snapshot().docs.size).toBe(0);
  });

  it('settles only the batches that had ended when the library was read', () => {
    const t = new IngestTracker();
    run(t, [
      [T0, { event: 'scanned', batch: 1, files: 1, bytes: 1, paths: ['/a.md'] }],
      [T0, { event: 'document', batch: 1, path: '/a.md', bytes: 1, outcome: { status: 'unchanged' } }],
      [
        T0,
        { event: 'finished', batch: 1, indexed: 0, unchanged: 1, failed: 0, removed: 0, moved: 0, cancelled: false, seconds: 1, background: false },
      ],
      [T0, { event: 'scanned', batch: 2, files: 1, bytes: 1, paths: ['/b.md'] }],
      [T0, { event: 'stage', batch: 2, path: '/b.md', stage: 'extracting' }],
    ]);
    t.settle(1, () => true);
    const s = t.snapshot();
    expect(s.docs.has('/a.md')).toBe(false);
    expect(s.docs.get('/b.md')?.status).toBe('extracting');
  });

  it('shows the running batch with the others waiting behind it', () => {
    const t = new IngestTracker();
    run(t, [
      [T0, { event: 'queued', batch: 1, paths: ['/one'], background: false }],
      [T0, { event: 'queued', batch: 2, paths: ['/two'], background: false }],
      [T0, { event: 'queued', batch: 3, paths: ['/three'], background: false }],
    ]);
    expect(t.snapshot().active?.batch).toBe(1);
    expect(t.snapshot().waiting).toBe(2);

    run(t, [
      [T0, { event: 'scanned', batch: 1, files: 1, bytes: 5, paths: ['/one'] }],
      [T0, { event: 'finished', batch: 1, indexed: 1, unchanged: 0, failed: 0, removed: 0, moved: 0, cancelled: false, seconds: 1, background: false }],
      [T0, { event: 'scanned', batch: 2, files: 2, bytes: 5, paths: ['/two'] }],
    ]);
    const s = t.snapshot();
    expect(s.active).toMatchObject({ batch: 2, phase: 'running', files: 2 });
    expect(s.waiting).toBe(1);
    expect(s.roots).toEqual(['/two', '/three']);
  });

  it('reports a batch that could not run, and forgets it when the next one finishes', () => {
    const t = new IngestTracker();
    run(t, [
      [T0, { event: 'queued', batch: 1, paths: ['/a.pdf'], background: false }],
      [T0, { event: 'error', batch: 1, kind: 'model_missing', message: 'No embedding model is installed.', retry_at_ms: null }],
    ]);
    let s = t.snapshot();
    expect(s.busy).toBe(false);
    expect(s.failed).toEqual({
      batch: 1,
      kind: 'model_missing',
      message: 'No embedding model is installed.',
      retryAt: null,
      background: false,
      job: null,
    });
    // Nothing was changed: the queued file is no longer shown as queued.
    expect(s.docs.size).toBe(0);

    run(t, [
      [T0, { event: 'scanned', batch: 2, files: 0, bytes: 0, paths: ['/b'] }],
      [T0, { event: 'finished', batch: 2, indexed: 0, unchanged: 0, failed: 0, removed: 0, moved: 0, cancelled: false, seconds: 0, background: false }],
    ]);
    s = t.snapshot();
    expect(s.failed).toBeNull();
    expect(s.finished?.batch).toBe(2);
  });

  it('follows a batch it joins late (events without their queued)', () => {
    const t = new IngestTracker();
    t.apply({ event: 'stage', batch: 7, path: '/late.pdf', stage: 'embedding' }, T0);
    const s = t.snapshot();
    expect(s.active).toMatchObject({ batch: 7, phase: 'running', files: null });
    expect(s.docs.get('/late.pdf')?.status).toBe('embedding');
  });

  it('measures the fraction by files when there are no bytes to count', () => {
    const t = new IngestTracker();
    run(t, [
      [T0, { event: 'scanned', batch: 1, files: 4, bytes: 0, paths: ['/e'] }],
      [T0, { event: 'document', batch: 1, path: '/e/1', bytes: 0, outcome: { status: 'removed' } }],
    ]);
    expect(t.snapshot().active?.fraction).toBe(0.25);
    expect(t.snapshot().active?.counts.removed).toBe(1);
  });
});

describe('IngestTracker with the indexing queue', () => {
  const finished = (batch: number, fields: Partial<Extract<IngestNotice, { event: 'finished' }>> = {}): IngestNotice => ({
    event: 'finished',
    batch,
    indexed: 0,
    unchanged: 0,
    failed: 0,
    removed: 0,
    moved: 0,
    cancelled: false,
    seconds: 1,
    background: false,
    ...fields,
  });

  it('leaves no summary for a background job that changed nothing, and keeps the one shown', () => {
    const t = new IngestTracker();
    run(t, [
      [T0, { event: 'queued', batch: 1, paths: ['/a.pdf'], background: false }],
      [T0, finished(1, { indexed: 1 })],
      [T0, { event: 'queued', batch: 2, paths: ['/watched'], background: true }],
      [T0, { event: 'scanned', batch: 2, files: 2, bytes: 20, paths: ['/watched'] }],
      [T0, { event: 'document', batch: 2, path: '/watched/x.md', bytes: 10, outcome: { status: 'unchanged' } }],
    ]);
    expect(t.snapshot().active).toMatchObject({ batch: 2, background: true });
    expect(t.snapshot().docs.get('/watched/x.md')?.status).toBe('unchanged');

    expect(t.apply(finished(2, { unchanged: 2, background: true }), T0)).toBe(true);
    const s = t.snapshot();
    expect(s.busy).toBe(false);
    expect(s.finished?.batch).toBe(1);
    // Nothing of the quiet job is left over the library's own word.
    expect(s.docs.has('/watched/x.md')).toBe(false);
  });

  it('sums up a background job that changed something, marked as background', () => {
    const t = new IngestTracker();
    run(t, [
      [T0, { event: 'queued', batch: 4, paths: ['/watched'], background: true }],
      [T0, finished(4, { indexed: 1, removed: 1, background: true })],
    ]);
    expect(t.snapshot().finished).toMatchObject({ batch: 4, background: true, counts: { indexed: 1, removed: 1 } });

    // A cancelled background job is worth a word too.
    run(t, [[T0, finished(5, { cancelled: true, background: true })]]);
    expect(t.snapshot().finished).toMatchObject({ batch: 5, cancelled: true });
  });

  it('does not mark the documents under a background job as queued', () => {
    const t = new IngestTracker();
    run(t, [
      [T0, { event: 'queued', batch: 1, paths: ['/watched', '/watched/a.pdf'], background: true }],
      [T0, { event: 'queued', batch: 2, paths: ['/mine', '/mine/b.pdf'], background: false }],
    ]);
    const s = t.snapshot();
    expect(s.roots).toEqual(['/mine', '/mine/b.pdf']);
    expect(s.docs.has('/watched/a.pdf')).toBe(false);
    expect(s.docs.get('/mine/b.pdf')?.status).toBe('queued');
    // The person's job runs before the background one, so it is the one shown.
    expect(s.active?.batch).toBe(2);
    expect(s.waiting).toBe(1);
  });

  it('shows the jobs left from a previous run as the queue lists them', () => {
    const t = new IngestTracker();
    t.applyQueue(
      queueView({
        running: 12,
        jobs: [
          job(12, { paths: ['/docs/report.pdf'] }),
          job(13, { kind: 'sync_folder', folder: '/watched', reason: 'start', priority: 'background' } as Partial<Job>),
        ],
      }),
      T0,
    );
    const s = t.snapshot(T0);
    expect(s.busy).toBe(true);
    expect(s.active).toMatchObject({ batch: 12, phase: 'running', kind: 'import', background: false, roots: ['/docs/report.pdf'] });
    expect(s.waiting).toBe(1);
    expect(s.docs.get('/docs/report.pdf')?.status).toBe('queued');
    expect(s.roots).toEqual(['/docs/report.pdf']);

    // The events of the running job carry on from there.
    run(t, [
      [T0 + 10, { event: 'document', batch: 12, path: '/docs/report.pdf', bytes: 5, outcome: { status: 'unchanged' } }],
      [T0 + 20, finished(12, { unchanged: 1 })],
    ]);
    expect(t.snapshot().active).toMatchObject({ batch: 13, phase: 'queued', kind: 'sync_folder', background: true });
  });

  it('learns from the queue what kind a job is, and ends the waiting jobs a cancel dropped', () => {
    const t = new IngestTracker();
    run(t, [
      [T0, { event: 'queued', batch: 1, paths: ['/a'], background: false }],
      [T0, { event: 'queued', batch: 2, paths: ['/b'], background: false }],
      [T0, { event: 'scanned', batch: 1, files: 3, bytes: 3, paths: ['/a'] }],
    ]);
    t.applyQueue(queueView({ running: 1, jobs: [job(1, { kind: 'retry', paths: ['/a'] } as Partial<Job>), job(2)] }), T0);
    expect(t.snapshot().active).toMatchObject({ batch: 1, kind: 'retry', files: 3 });

    // Cancel: the waiting job is dropped from the queue; the running one ends with its own event.
    t.applyQueue(queueView({ running: 1, jobs: [job(1)] }), T0);
    let s = t.snapshot();
    expect(s.waiting).toBe(0);
    expect(s.roots).toEqual(['/a']);
    run(t, [[T0, finished(1, { cancelled: true })]]);
    s = t.snapshot();
    expect(s.busy).toBe(false);
    expect(s.finished?.cancelled).toBe(true);
  });

  it('says when a job that failed runs again, and keeps saying it until that job ends', () => {
    const t = new IngestTracker();
    const retryAt = T0 + 120_000;
    run(t, [
      [T0, { event: 'queued', batch: 3, paths: ['/x.pdf'], background: false }],
      [T0, { event: 'error', batch: 3, kind: 'model_missing', message: 'No model', retry_at_ms: retryAt }],
    ]);
    expect(t.snapshot().failed).toMatchObject({ batch: 3, retryAt });
    expect(t.busy).toBe(false);
    // Waiting out its delay in the queue, it is not an import in progress.
    t.applyQueue(queueView({ jobs: [job(3, { attempts: 1, not_before_ms: retryAt, last_error: 'No model' })] }), T0 + 1);
    expect(t.snapshot(T0 + 1).active).toBeNull();

    // Another job ending does not hide it.
    run(t, [[T0 + 2, finished(4, { indexed: 1 })]]);
    expect(t.snapshot().failed?.batch).toBe(3);

    // It runs again, from the start, and succeeds.
    t.applyQueue(queueView({ running: 3, jobs: [job(3, { attempts: 1, not_before_ms: retryAt })] }), retryAt);
    expect(t.snapshot(retryAt).active).toMatchObject({ batch: 3, phase: 'running' });
    run(t, [
      [retryAt + 1, { event: 'scanned', batch: 3, files: 1, bytes: 1, paths: ['/x.pdf'] }],
      [retryAt + 2, { event: 'document', batch: 3, path: '/x.pdf', bytes: 1, outcome: { status: 'indexed', chunks: 1, tokens: 1, pages: 1 } }],
      [retryAt + 3, finished(3, { indexed: 1 })],
    ]);
    const s = t.snapshot();
    expect(s.failed).toBeNull();
    expect(s.finished).toMatchObject({ batch: 3, counts: { indexed: 1 } });
  });

  it('shows the last error of a job waiting to run again when it learns of it at start, once', () => {
    const t = new IngestTracker();
    const view = queueView({ jobs: [job(9, { attempts: 2, not_before_ms: T0 + 60_000, last_error: 'The disk is full' })] });
    t.applyQueue(view, T0);
    expect(t.snapshot(T0).failed).toMatchObject({ batch: 9, message: 'The disk is full', retryAt: T0 + 60_000 });
    expect(t.snapshot(T0).active).toBeNull();

    t.dismiss();
    t.applyQueue(view, T0 + 1);
    expect(t.snapshot(T0 + 1).failed).toBeNull();
  });
});
