import { describe, expect, it } from 'vitest';
import { IDLE, type ImportDoc, type ProgressSnapshot } from '$lib/library/progress';
import { mergeRows, visibleRows } from '$lib/library/rows';
import { doc } from '$lib/library/testing';

function importing(docs: Partial<ImportDoc & { path: string }>[], roots: string[] = []): ProgressSnapshot {
  const map = new Map<string, ImportDoc>();
  for (const d of docs) {
    map.set(d.path!, {
      path: d.path!,
      batch: 1,
      status: 'queued',
      reason: null,
      bytes: null,
      chunks: null,
      pages: null,
      ...d,
    });
  }
  return { ...IDLE, docs: map, roots };
}

describe('mergeRows', () => {
  it('shows the stored status and reason when no import is running', () => {
    const rows = mergeRows(
      [
        doc('/d/a.pdf', { title: 'Annual report' }),
        doc('/d/b.pdf', { status: 'failed', error: 'not a PDF' }),
        doc('/d/c.md', { status: 'indexing', format: 'markdown' }),
      ],
      IDLE,
    );
    expect(rows.map((r) => [r.name, r.status, r.error])).toEqual([
      ['Annual report', 'indexed', null],
      ['b.pdf', 'failed', 'not a PDF'],
      ['c.md', 'indexing', null],
    ]);
    expect(rows[0]).toMatchObject({ fileName: 'a.pdf', folder: '/d', format: 'pdf', working: false });
  });

  it('lets an import override the stored status, and queues documents under its folders', () => {
    const rows = mergeRows(
      [
        doc('/d/a.pdf', { status: 'failed', error: 'old reason' }),
        doc('/d/sub/b.pdf'),
        doc('/other/c.pdf'),
        doc('/d/gone.pdf'),
      ],
      importing(
        [
          { path: '/d/a.pdf', status: 'embedding' },
          { path: '/d/gone.pdf', status: 'removed' },
        ],
        ['/d'],
      ),
    );
    const byPath = new Map(rows.map((r) => [r.path, r]));
    expect(byPath.get('/d/a.pdf')).toMatchObject({ status: 'embedding', error: null, working: true });
    expect(byPath.get('/d/sub/b.pdf')).toMatchObject({ status: 'queued', working: true });
    expect(byPath.get('/other/c.pdf')).toMatchObject({ status: 'indexed', working: false });
    expect(byPath.has('/d/gone.pdf')).toBe(false);
  });

  it('does not take a sibling folder for a subfolder', () => {
    const rows = mergeRows([doc('/docs-old/a.pdf')], importing([], ['/docs']));
    expect(rows[0]?.status).toBe('indexed');
  });

  it('adds the files an import reached that the library does not hold yet', () => {
    const rows = mergeRows(
      [],
      importing([
        { path: '/new/guide.pdf', status: 'indexed', bytes: 5000, chunks: 40, pages: 12 },
        { path: '/new/broken.pdf', status: 'failed', reason: 'The file is damaged' },
      ]),
    );
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      name: 'guide.pdf',
      format: 'pdf',
      status: 'indexed',
      size: 5000,
      chunks: 40,
      pages: 12,
      record: null,
      updatedMs: null,
    });
    expect(rows[1]).toMatchObject({ status: 'failed', error: 'The file is damaged' });
  });
});

describe('visibleRows', () => {
  const rows = mergeRows(
    [
      doc('/d/zebra.pdf', { size: 10, updated_ms: 3 }),
      doc('/d/apple 10.md', { size: 30, updated_ms: 1, format: 'markdown' }),
      doc('/d/apple 9.md', { size: 20, updated_ms: 2, format: 'markdown' }),
      doc('/d/x.pdf', { title: 'Café guide', size: 5, updated_ms: 4 }),
    ],
    IDLE,
  );

  it('sorts by name (numbers in order), newest first, or largest first', () => {
    expect(visibleRows(rows, '', 'name').map((r) => r.name)).toEqual([
      'apple 9.md',
      'apple 10.md',
      'Café guide',
      'zebra.pdf',
    ]);
    expect(visibleRows(rows, '', 'date').map((r) => r.name)).toEqual([
      'Café guide',
      'zebra.pdf',
      'apple 9.md',
      'apple 10.md',
    ]);
    expect(visibleRows(rows, '', 'size').map((r) => r.size)).toEqual([30, 20, 10, 5]);
  });

  it('filters by name or file name, ignoring case and accents', () => {
    expect(visibleRows(rows, 'APPLE', 'name').map((r) => r.name)).toEqual(['apple 9.md', 'apple 10.md']);
    expect(visibleRows(rows, 'cafe', 'name').map((r) => r.name)).toEqual(['Café guide']);
    expect(visibleRows(rows, 'x.pdf', 'name').map((r) => r.name)).toEqual(['Café guide']);
    expect(visibleRows(rows, 'nothing', 'name')).toEqual([]);
  });
});
