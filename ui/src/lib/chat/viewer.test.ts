import { describe, expect, it } from 'vitest';
import type { Chunk } from '$lib/ipc';
import { buildViewer, type ViewerModel } from '$lib/chat/viewer';

/** A document's text cut into overlapping chunks, as the indexer does (offsets in characters). */
function chunk(index: number, text: string, charStart: number, page: number | null, heading: string[] = []): Chunk {
  return {
    doc_id: 'doc',
    index,
    path: '/docs/report.pdf',
    text,
    page_start: page,
    page_end: page,
    heading_path: heading,
    char_start: charStart,
    char_end: charStart + Array.from(text).length,
    tokens: 10,
    embedding_model: 'embed',
  };
}

const DOC = 'Alpha beta gamma. Delta epsilon zeta. Eta theta iota. Kappa lambda mu.';
// Offsets:   0                 18                  38              54
const chunks = [
  chunk(0, DOC.slice(0, 37), 0, 1), // "Alpha … zeta."
  chunk(1, DOC.slice(18, 54), 18, 1), // overlaps "Delta epsilon zeta."
  chunk(2, DOC.slice(38, 71), 38, 2), // overlaps "Eta theta iota."
];

function text(model: ViewerModel): string {
  return model.sections.map((s) => s.pieces.map((p) => p.text).join('')).join('|');
}

function marked(model: ViewerModel): string {
  return model.sections.flatMap((s) => s.pieces.filter((p) => p.marked).map((p) => p.text)).join('+');
}

describe('buildViewer', () => {
  it('shows overlapped text once, grouped by page, each chunk starting under its own page', () => {
    const model = buildViewer(chunks, { page_start: 1, heading_path: [], snippet: '' });
    expect(model.deduplicated).toBe(true);
    expect(model.sections.map((s) => s.label)).toEqual(['Page 1', 'Page 2']);
    // The third chunk starts on page 2 at "Eta": the text it shares with the second is shown there.
    expect(text(model)).toBe(`${DOC.slice(0, 38)}|${DOC.slice(38)}`);
  });

  it('keeps the whole of a chunk that contains the next one', () => {
    const nested = [chunk(0, 'Outer text around inner.', 0, 1), chunk(1, 'text', 6, 1), chunk(2, ' Tail.', 24, 2)];
    expect(text(buildViewer(nested, { page_start: 1, heading_path: [], snippet: '' }))).toBe(
      'Outer text around inner.| Tail.',
    );
  });

  it('falls back to each chunk whole when the offsets do not fit the texts', () => {
    const broken = [chunk(0, 'First chunk.', 0, 1), { ...chunk(1, 'Second chunk.', 5, 1), char_end: 99 }];
    const model = buildViewer(broken, { page_start: 1, heading_path: [], snippet: 'Second chunk.' });
    expect(model.deduplicated).toBe(false);
    expect(text(model)).toBe('First chunk.\n\nSecond chunk.');
    expect(marked(model)).toBe('Second chunk.');
  });

  it('separates chunks that leave a gap with a blank line', () => {
    const gap = [chunk(0, 'One.', 0, 1), chunk(1, 'Two.', 10, 1)];
    expect(text(buildViewer(gap, { page_start: 1, heading_path: [], snippet: '' }))).toBe('One.\n\nTwo.');
  });

  it('counts offsets in characters, not UTF-16 units', () => {
    const emoji = [chunk(0, 'Café 😀 ok', 0, 1), chunk(1, 'ok then', 7, 1)];
    expect(text(buildViewer(emoji, { page_start: 1, heading_path: [], snippet: '' }))).toBe('Café 😀 ok then');
  });

  it('marks the cited passage, ignoring differences in whitespace, and targets the cited page', () => {
    const model = buildViewer(chunks, { page_start: 2, heading_path: [], snippet: 'Eta   theta\n iota.' });
    expect(model.found).toBe(true);
    expect(marked(model)).toBe('Eta theta iota.');
    expect(model.sections[model.target]?.label).toBe('Page 2');
  });

  it('marks a passage that spans two pages in both', () => {
    const model = buildViewer(chunks, { page_start: 1, heading_path: [], snippet: 'epsilon zeta. Eta theta iota. Kappa' });
    expect(marked(model)).toBe('epsilon zeta. +Eta theta iota. Kappa');
    expect(model.sections[model.target]?.label).toBe('Page 1');
  });

  it('prefers the occurrence on the cited page', () => {
    const repeated = [chunk(0, 'Same words here.', 0, 1), chunk(1, ' Same words here.', 16, 3)];
    const model = buildViewer(repeated, { page_start: 3, heading_path: [], snippet: 'Same words here.' });
    expect(model.sections[1]?.pieces.some((p) => p.marked)).toBe(true);
    expect(model.sections[0]?.pieces.some((p) => p.marked)).toBe(false);
  });

  it('finds a long snippet by its beginning when the whole is not in the text', () => {
    const snippet = `${DOC.slice(18, 53)} ${'and words the text does not have '.repeat(10)}`;
    const model = buildViewer(chunks, { page_start: 1, heading_path: [], snippet });
    expect(model.found).toBe(true);
    expect(marked(model)).toBe('Delta epsilon zeta. +Eta theta iota.');
    // A beginning too short to be telling is not marked.
    expect(buildViewer(chunks, { page_start: 1, heading_path: [], snippet: 'Delta and then other words entirely' }).found).toBe(
      false,
    );
  });

  it('targets the cited page when the passage is not there', () => {
    const model = buildViewer(chunks, { page_start: 2, heading_path: [], snippet: 'Nowhere to be found at all' });
    expect(model.found).toBe(false);
    expect(marked(model)).toBe('');
    expect(model.sections[model.target]?.label).toBe('Page 2');
  });

  it('uses heading paths for formats without pages', () => {
    const md = [
      chunk(0, 'Intro text.', 0, null, ['Guide']),
      chunk(1, 'Run the installer.', 11, null, ['Guide', 'Install']),
    ];
    const model = buildViewer(md, { page_start: null, heading_path: ['Guide', 'Install'], snippet: 'the installer' }, 'guide.md');
    expect(model.sections.map((s) => s.label)).toEqual(['Guide', 'Guide › Install']);
    expect(model.sections[model.target]?.label).toBe('Guide › Install');
    expect(marked(model)).toBe('the installer');
  });

  it('names a section without pages or headings after the document', () => {
    const plain = [chunk(0, 'Just text.', 0, null)];
    expect(buildViewer(plain, { page_start: null, heading_path: [], snippet: '' }, 'notes.txt').sections[0]?.label).toBe(
      'notes.txt',
    );
  });

  it('handles a document without chunks', () => {
    const model = buildViewer([], { page_start: 1, heading_path: [], snippet: 'x' });
    expect(model.sections).toEqual([]);
    expect(model.found).toBe(false);
  });
});
