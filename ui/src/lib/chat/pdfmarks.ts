/**
 * Where the cited passage lies on a drawn PDF page: the page's text runs that hold it, cut to the passage
 * at its first and last run, as rectangles to lay over the page.
 */
import type { TextBox } from './pdf';
import { locate } from './viewer';

export interface MarkRect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The part of `box` from character `from` to `to`, assuming evenly wide characters. */
function slice(box: TextBox, from: number, to: number): MarkRect {
  const length = box.text.length || 1;
  const start = (box.width * from) / length;
  const end = (box.width * to) / length;
  return { left: box.left + start, top: box.top, width: Math.max(end - start, 1), height: box.height };
}

/**
 * Rectangles covering `snippet` on a page whose text runs are `boxes` (in reading order). The passage is
 * matched ignoring whitespace (and, failing that, case); when only its beginning is on the page (a passage
 * that runs onto the next page), that beginning is marked. Empty when the passage is not on the page.
 */
export function markBoxes(boxes: TextBox[], snippet: string): MarkRect[] {
  if (!snippet.trim() || boxes.length === 0) return [];
  const range = locate(
    boxes.map((b) => b.text),
    snippet,
    0,
  );
  if (!range) return [];
  const [first, firstAt] = range.start;
  const [last, lastEnd] = range.end;
  const rects: MarkRect[] = [];
  for (let i = first; i <= last; i++) {
    const box = boxes[i];
    if (!box || !box.text.trim()) continue;
    const from = i === first ? firstAt : 0;
    const to = i === last ? lastEnd : box.text.length;
    rects.push(slice(box, from, to));
  }
  return rects;
}
