import { describe, expect, it } from 'vitest';
import type { IngestNotice } from '$lib/ipc';
import { IngestTracker } from '$lib/library/progress';

const T0 = 1_000_000;
const MB = 1_000_000;

function run(tracker: IngestTracker, events: [number, IngestNotice][]): void {
  for (const [at, notice] of events) tracker.apply(notice, at);
}

describe('IngestTracker', () => {
  it('queues the files given by name and leaves folders to their own events', () => {
    const t = new IngestTracker();
    const urgent = t.apply({ event: 'queued', batch: 1, paths: ['/docs/a.pdf', '/docs/notes'] }, T0);

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
      [T0, { event: 'queued', batch: 1, paths: ['/docs'] }],
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
      [T0, { event: 'queued', batch: 1, paths: ['/docs'] }],
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
      { event: 'finished', batch: 1, indexed: 0, unchanged: 0, failed: 0, removed: 0, moved: 1, cancelled: false, seconds: 1 },
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
      [T0, { event: 'queued', batch: 1, paths: ['/docs'] }],
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
      { event: 'finished', batch: 1, indexed: 1, unchanged: 0, failed: 0, removed: 0, moved: 0, cancelled: true, seconds: 3.2 },
      T0 + 1,
    );

    expect(urgent).toBe(true);
    const s = t.snapshot();
    expect(s.busy).toBe(false);
    expect(s.active).toBeNull();
    expect(s.roots).toEqual([]);
    expect(s.finished).toEqual({
      batch: 1,
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
        { event: 'finished', batch: 1, indexed: 0, unchanged: 0, failed: 1, removed: 0, moved: 0, cancelled: false, seconds: 0 },
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
        { event: 'finished', batch: 1, indexed: 0, unchanged: 1, failed: 0, removed: 0, moved: 0, cancelled: false, seconds: 1 },
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
      [T0, { event: 'queued', batch: 1, paths: ['/one'] }],
      [T0, { event: 'queued', batch: 2, paths: ['/two'] }],
      [T0, { event: 'queued', batch: 3, paths: ['/three'] }],
    ]);
    expect(t.snapshot().active?.batch).toBe(1);
    expect(t.snapshot().waiting).toBe(2);

    run(t, [
      [T0, { event: 'scanned', batch: 1, files: 1, bytes: 5, paths: ['/one'] }],
      [T0, { event: 'finished', batch: 1, indexed: 1, unchanged: 0, failed: 0, removed: 0, moved: 0, cancelled: false, seconds: 1 }],
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
      [T0, { event: 'queued', batch: 1, paths: ['/a.pdf'] }],
      [T0, { event: 'error', batch: 1, kind: 'model_missing', message: 'No embedding model is installed.' }],
    ]);
    let s = t.snapshot();
    expect(s.busy).toBe(false);
    expect(s.failed).toEqual({ batch: 1, kind: 'model_missing', message: 'No embedding model is installed.' });
    // Nothing was changed: the queued file is no longer shown as queued.
    expect(s.docs.size).toBe(0);

    run(t, [
      [T0, { event: 'scanned', batch: 2, files: 0, bytes: 0, paths: ['/b'] }],
      [T0, { event: 'finished', batch: 2, indexed: 0, unchanged: 0, failed: 0, removed: 0, moved: 0, cancelled: false, seconds: 0 }],
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
