/**
 * A PDF for tests of the page viewer: pages of text lines, 600 × 800 at scale 1, 10 px per character and
 * 20 px per line, which records what was drawn and whether it was closed.
 */
import type { PdfHandle, TextBox } from '$lib/chat/pdf';

export interface FakePdf extends PdfHandle {
  /** The pages drawn, in order, with their scale. */
  drawn: { page: number; scale: number }[];
  closed: boolean;
}

export function fakePdf(pages: string[][]): FakePdf {
  const pdf: FakePdf = {
    pageCount: pages.length,
    drawn: [],
    closed: false,
    page: async (n) => {
      const lines = pages[n - 1];
      if (!lines) throw new Error(`page ${n} does not exist`);
      return {
        width: 600,
        height: 800,
        render: (_canvas, scale) => {
          pdf.drawn.push({ page: n, scale });
          return { done: Promise.resolve(), cancel: () => {} };
        },
        text: async (scale) =>
          lines.map(
            (text, i): TextBox => ({
              text,
              left: 40 * scale,
              top: (60 + 20 * i) * scale,
              width: 10 * text.length * scale,
              height: 12 * scale,
            }),
          ),
      };
    },
    close: async () => {
      pdf.closed = true;
    },
  };
  return pdf;
}
