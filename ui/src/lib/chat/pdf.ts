/**
 * PDF pages for the source viewer, drawn by pdf.js. pdf.js (and its worker) loads only when a PDF is first
 * shown, so the app starts without it. The rest of the UI sees only {@link PdfHandle}, which tests fake.
 *
 * The document's bytes come from the shell (`document_pdf`); pdf.js runs with eval off and without
 * WebAssembly (the CSP allows neither), and reads the character maps and standard fonts the app bundles
 * (vite.config.ts copies them to `pdfjs/`).
 */
import type { PDFDocumentProxy, PDFPageProxy } from 'pdfjs-dist';
import type { TextItem } from 'pdfjs-dist/types/src/display/api';
import { getDocumentPdf } from '../ipc';

/** A run of text on a page, placed in CSS pixels on the page drawn at some scale. */
export interface TextBox {
  text: string;
  left: number;
  top: number;
  width: number;
  height: number;
}

/** A drawing of a page that can be stopped (when the page or the zoom changes first). */
export interface RenderJob {
  done: Promise<void>;
  cancel(): void;
}

export interface PdfPage {
  /** The page's size in CSS pixels at scale 1. */
  width: number;
  height: number;
  /** Draws the page into `canvas` at `scale` (times the screen's pixel ratio, for sharp text). */
  render(canvas: HTMLCanvasElement, scale: number): RenderJob;
  /** The page's text runs, in reading order, placed at `scale`. */
  text(scale: number): Promise<TextBox[]>;
}

export interface PdfHandle {
  pageCount: number;
  /** Page `n`, 1-based. */
  page(n: number): Promise<PdfPage>;
  /** Frees the document (and pdf.js's memory for it). */
  close(): Promise<void>;
}

// The legacy build: the system webviews (WebKitGTK, older macOS WebKit) lack some of the newest JavaScript
// the modern build relies on (async iteration of streams, among others); the legacy build carries those.
type Pdfjs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');

let library: Promise<Pdfjs> | null = null;

/** pdf.js, loaded on first use with its worker. */
function pdfjs(): Promise<Pdfjs> {
  library ??= Promise.all([
    import('pdfjs-dist/legacy/build/pdf.mjs'),
    import('pdfjs-dist/legacy/build/pdf.worker.min.mjs?url'),
  ]).then(
    ([lib, worker]) => {
      lib.GlobalWorkerOptions.workerSrc = worker.default;
      return lib;
    },
    (reason: unknown) => {
      library = null;
      throw reason;
    },
  );
  return library;
}

function assetUrl(path: string): string {
  return new URL(path, document.baseURI).href;
}

function isTextItem(item: object): item is TextItem {
  return 'str' in item && 'transform' in item;
}

/**
 * A page's text runs. (pdf.js's `getTextContent` iterates a ReadableStream with `for await`, which WebKit does
 * not support, so the stream is read here with a reader.)
 */
async function textItems(proxy: PDFPageProxy): Promise<object[]> {
  const reader = proxy.streamTextContent().getReader();
  const items: object[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return items;
    items.push(...(value as { items: object[] }).items);
  }
}

function page(lib: Pdfjs, proxy: PDFPageProxy): PdfPage {
  const base = proxy.getViewport({ scale: 1 });
  return {
    width: base.width,
    height: base.height,
    render(canvas, scale) {
      const ratio = window.devicePixelRatio || 1;
      const viewport = proxy.getViewport({ scale: scale * ratio });
      canvas.width = Math.floor(viewport.width);
      canvas.height = Math.floor(viewport.height);
      canvas.style.width = `${Math.floor(viewport.width / ratio)}px`;
      canvas.style.height = `${Math.floor(viewport.height / ratio)}px`;
      const task = proxy.render({ canvas, viewport });
      return { done: task.promise, cancel: () => task.cancel() };
    },
    async text(scale) {
      const viewport = proxy.getViewport({ scale });
      const boxes: TextBox[] = [];
      for (const item of await textItems(proxy)) {
        if (!isTextItem(item) || item.str.length === 0) continue;
        // As pdf.js's own text layer places a run: its baseline origin, and a height from the font matrix.
        const [a = 0, b = 0, c = 0, d = 0, e = 0, f = 0] = lib.Util.transform(viewport.transform, item.transform);
        const height = Math.hypot(c, d) || Math.hypot(a, b);
        const horizontal = Math.abs(b) < 1e-6;
        const width = item.width * scale;
        boxes.push(
          horizontal
            ? { text: item.str, left: e, top: f - height, width, height }
            : { text: item.str, left: e - height, top: f - width, width: height, height: width },
        );
      }
      return boxes;
    },
  };
}

/** Opens PDF bytes with pdf.js. */
export async function openPdfBytes(data: ArrayBuffer): Promise<PdfHandle> {
  const lib = await pdfjs();
  const task = lib.getDocument({
    data: new Uint8Array(data),
    isEvalSupported: false,
    useWasm: false,
    enableXfa: false,
    cMapUrl: assetUrl('pdfjs/cmaps/'),
    cMapPacked: true,
    standardFontDataUrl: assetUrl('pdfjs/standard_fonts/'),
  });
  let doc: PDFDocumentProxy;
  try {
    doc = await task.promise;
  } catch (reason) {
    await task.destroy();
    throw reason;
  }
  return {
    pageCount: doc.numPages,
    page: async (n) => page(lib, await doc.getPage(n)),
    close: () => task.destroy(),
  };
}

/** Opens a library PDF for the viewer. */
export async function openPdf(path: string): Promise<PdfHandle> {
  return openPdfBytes(await getDocumentPdf(path));
}
