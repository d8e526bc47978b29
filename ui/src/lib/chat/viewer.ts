/**
 * The source viewer's model: a document's chunks turned back into readable text, grouped by page (or by
 * heading for formats without pages), with the cited passage marked.
 *
 * Neighbouring chunks overlap. Their `char_start` / `char_end` (in Unicode characters of the document's
 * text) say by how much, so the shared text is shown once. When the offsets do not fit the texts, every chunk
 * is shown whole instead.
 */
import type { Chunk, Citation } from '../ipc';

/** A run of a section's text, inside the cited passage or not. */
export interface ViewerPiece {
  text: string;
  marked: boolean;
}

export interface ViewerSection {
  /** Unique within the document. */
  key: string;
  /** The section's page, or null for formats without pages. */
  page: number | null;
  /** "Page 4", or the heading path ("Install › Linux"), or the document's name. */
  label: string;
  pieces: ViewerPiece[];
}

export interface ViewerModel {
  sections: ViewerSection[];
  /** The cited section: the cited page when the document has it, else where the passage is. */
  target: number;
  /** Whether the cited passage was found (and marked). */
  found: boolean;
  /** Whether the chunks' offsets were usable (else each chunk is shown whole). */
  deduplicated: boolean;
}

/** The target of the viewer: a citation, or the parts of one it needs. */
export type ViewerTarget = Pick<Citation, 'page_start' | 'heading_path' | 'snippet'>;

interface Segment {
  text: string;
  page: number | null;
  heading: string;
  /** What separates this segment from the previous one of its section. */
  joiner: string;
}

function codePoints(text: string): string[] {
  return Array.from(text);
}

/** Whether every chunk's offsets match its text and the chunks come in reading order. */
function offsetsConsistent(chunks: Chunk[]): boolean {
  let previous = -1;
  for (const c of chunks) {
    if (!Number.isFinite(c.char_start) || !Number.isFinite(c.char_end)) return false;
    if (c.char_start < 0 || c.char_end < c.char_start || c.char_start < previous) return false;
    if (c.char_end - c.char_start !== codePoints(c.text).length) return false;
    previous = c.char_start;
  }
  return true;
}

/**
 * The chunks' texts without repeats. Where two chunks overlap, the shared text is shown with the later chunk
 * (the earlier one is cut where the later one starts), so every chunk's own beginning stays under its own
 * page: a passage cited from page 10 starts under "Page 10".
 */
function segments(chunks: Chunk[]): { segments: Segment[]; deduplicated: boolean } {
  const seg = (c: Chunk, text: string, joiner: string): Segment => ({
    text,
    page: c.page_start,
    heading: c.heading_path.join(' › '),
    joiner,
  });
  if (!offsetsConsistent(chunks)) {
    return { segments: chunks.map((c, i) => seg(c, c.text, i === 0 ? '' : '\n\n')), deduplicated: false };
  }
  const out: Segment[] = [];
  let covered: number | null = null;
  chunks.forEach((c, i) => {
    const next = chunks[i + 1];
    const from = covered === null ? c.char_start : Math.max(c.char_start, covered);
    let to = c.char_end;
    // Cut at the next chunk's start, unless the next chunk ends first (then it is covered by this one).
    if (next && next.char_start < to && next.char_end >= to) to = Math.max(from, next.char_start);
    if (to > from) {
      const text = codePoints(c.text)
        .slice(from - c.char_start, to - c.char_start)
        .join('');
      out.push(seg(c, text, covered !== null && from > covered ? '\n\n' : ''));
    }
    covered = covered === null ? to : Math.max(covered, to);
  });
  return { segments: out, deduplicated: true };
}

/** Consecutive segments of one page (or, without pages, one heading path) form a section. */
function sections(parts: Segment[], fallbackLabel: string): { key: string; page: number | null; label: string; text: string }[] {
  const out: { key: string; page: number | null; label: string; text: string }[] = [];
  let last: { page: number | null; heading: string } | null = null;
  for (const s of parts) {
    const same = last !== null && (s.page !== null || last.page !== null ? s.page === last.page : s.heading === last.heading);
    const current = out[out.length - 1];
    if (same && current) {
      current.text += s.joiner + s.text;
    } else {
      const label = s.page !== null ? `Page ${s.page}` : s.heading || fallbackLabel;
      out.push({ key: `${out.length}`, page: s.page, label, text: s.text });
    }
    last = { page: s.page, heading: s.heading };
  }
  return out;
}

/** Every non-whitespace character of the sections, and where each one is. */
interface Index {
  text: string;
  section: Int32Array;
  offset: Int32Array;
  /** The index in `text` at which each section starts. */
  starts: number[];
}

function indexOf(texts: string[]): Index {
  const total = texts.reduce((sum, t) => sum + t.length, 0);
  const section = new Int32Array(total);
  const offset = new Int32Array(total);
  const chars: string[] = [];
  const starts: number[] = [];
  texts.forEach((t, s) => {
    starts.push(chars.length);
    for (let i = 0; i < t.length; i++) {
      const ch = t[i] as string;
      if (/\s/.test(ch)) continue;
      section[chars.length] = s;
      offset[chars.length] = i;
      chars.push(ch);
    }
  });
  return { text: chars.join(''), section, offset, starts };
}

function squeeze(text: string): string {
  return text.replace(/\s+/g, '');
}

/** The shortest beginning of a snippet worth marking on its own (without whitespace). */
const MIN_PREFIX = 24;

/** Where `needle` occurs in `hay`, preferring an occurrence at or after `from`; -1 when nowhere. */
function find(hay: string, needle: string, from: number): number {
  const after = hay.indexOf(needle, from);
  return after >= 0 ? after : hay.indexOf(needle);
}

/**
 * Finds the snippet in `hay` (both without whitespace): the whole of it, else its longest beginning that
 * occurs (when the document changed after the answer, or the snippet runs past what is indexed).
 */
function match(hay: string, snippet: string, from: number): { at: number; length: number } | null {
  const at = find(hay, snippet, from);
  if (at >= 0) return { at, length: snippet.length };
  if (snippet.length <= MIN_PREFIX || find(hay, snippet.slice(0, MIN_PREFIX), from) < 0) return null;
  // A prefix that occurs means every shorter one does too, so the longest is found by bisection.
  let lo = MIN_PREFIX;
  let hi = snippet.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (find(hay, snippet.slice(0, mid), from) >= 0) lo = mid;
    else hi = mid - 1;
  }
  return { at: find(hay, snippet.slice(0, lo), from), length: lo };
}

/**
 * Finds `snippet` in the sections' texts, ignoring whitespace (and, failing that, case), preferring an
 * occurrence at or after section `from`. Returns the start and end (exclusive) as section and offset.
 */
export function locate(
  texts: string[],
  snippet: string,
  from: number,
): { start: [number, number]; end: [number, number] } | null {
  const index = indexOf(texts);
  const fromChar = index.starts[from] ?? 0;
  const needle = squeeze(snippet);
  if (needle.length === 0) return null;
  const found = match(index.text, needle, fromChar) ?? match(index.text.toLowerCase(), needle.toLowerCase(), fromChar);
  if (!found) return null;
  const last = found.at + found.length - 1;
  return {
    start: [index.section[found.at] ?? 0, index.offset[found.at] ?? 0],
    end: [index.section[last] ?? 0, (index.offset[last] ?? 0) + 1],
  };
}

/** The first section that holds the cited page (or heading), else 0. */
function citedSection(list: { page: number | null; label: string }[], target: ViewerTarget): number {
  if (target.page_start !== null) {
    const exact = list.findIndex((s) => s.page === target.page_start);
    if (exact >= 0) return exact;
    const after = list.findIndex((s) => s.page !== null && s.page > (target.page_start ?? 0));
    if (after > 0) return after - 1;
  }
  const heading = target.heading_path.join(' › ');
  if (heading) {
    const match = list.findIndex((s) => s.label === heading);
    if (match >= 0) return match;
  }
  return 0;
}

/** Builds the viewer's sections from a document's chunks (in reading order) and marks the cited passage. */
export function buildViewer(chunks: Chunk[], target: ViewerTarget, documentLabel = 'Document'): ViewerModel {
  const { segments: parts, deduplicated } = segments(chunks);
  const list = sections(parts, documentLabel);
  const cited = citedSection(list, target);
  const texts = list.map((s) => s.text);
  const range = target.snippet.trim() ? locate(texts, target.snippet, cited) : null;

  const out: ViewerSection[] = list.map((s, i) => {
    if (!range || i < range.start[0] || i > range.end[0]) {
      return { key: s.key, page: s.page, label: s.label, pieces: [{ text: s.text, marked: false }] };
    }
    const from = i === range.start[0] ? range.start[1] : 0;
    const to = i === range.end[0] ? range.end[1] : s.text.length;
    const pieces: ViewerPiece[] = [
      { text: s.text.slice(0, from), marked: false },
      { text: s.text.slice(from, to), marked: true },
      { text: s.text.slice(to), marked: false },
    ].filter((p) => p.text.length > 0);
    return { key: s.key, page: s.page, label: s.label, pieces };
  });

  const pageKnown = target.page_start !== null && list[cited]?.page === target.page_start;
  return {
    sections: out,
    target: pageKnown || !range ? cited : range.start[0],
    found: range !== null,
    deduplicated,
  };
}
