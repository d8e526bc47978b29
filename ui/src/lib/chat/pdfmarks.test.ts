import { describe, expect, it } from 'vitest';
import type { TextBox } from '$lib/chat/pdf';
import { markBoxes } from '$lib/chat/pdfmarks';

/** Text runs of one line each, 10 px per character, 20 px apart. */
function lines(...texts: string[]): TextBox[] {
  return texts.map((text, i) => ({ text, left: 50, top: 100 + 20 * i, width: 10 * text.length, height: 12 }));
}

describe('markBoxes', () => {
  const page = lines('Chapter 3', 'Quilt keeps a stack of', 'patches over the upstream', 'source. Next topic.');

  it('covers the runs that hold the passage, cut to it at both ends', () => {
    const rects = markBoxes(page, 'a stack of patches over the upstream source.');
    expect(rects).toHaveLength(3);
    // "Quilt keeps " is 12 characters before "a stack of".
    expect(rects[0]).toEqual({ left: 50 + 120, top: 120, width: 100, height: 12 });
    expect(rects[1]).toEqual({ left: 50, top: 140, width: 250, height: 12 });
    // "source." is the first 7 characters of the last run.
    expect(rects[2]).toEqual({ left: 50, top: 160, width: 70, height: 12 });
  });

  it('ignores how the passage was broken into lines and spaced', () => {
    const rects = markBoxes(page, 'keeps a   stack\nof patches');
    expect(rects.map((r) => r.top)).toEqual([120, 140]);
  });

  it('falls back to case-insensitive matching', () => {
    expect(markBoxes(page, 'QUILT KEEPS A STACK')).toHaveLength(1);
  });

  it('marks the beginning of a passage that runs onto the next page', () => {
    const rects = markBoxes(page, 'patches over the upstream source. Next topic. And this goes on overleaf for a while.');
    expect(rects.map((r) => r.top)).toEqual([140, 160]);
    expect(rects[1]?.width).toBe(190);
  });

  it('marks nothing when the passage is not on the page or is empty', () => {
    expect(markBoxes(page, 'Something said somewhere else entirely, not here.')).toEqual([]);
    expect(markBoxes(page, '   ')).toEqual([]);
    expect(markBoxes([], 'Quilt')).toEqual([]);
  });
});
