/**
 * Answers are Markdown written by a small local model. This module turns them into HTML that is safe to
 * insert: raw HTML is escaped, images are never loaded (their alt text is shown), links are never
 * clickable (their text is shown with the URL after it), and citation markers `[n]` become numbered chip
 * buttons for the sources the answer really has. Anything else stays plain, escaped text.
 */
import MarkdownIt from 'markdown-it';
import type { StateInline, Token } from 'markdown-it';

/** What a render knows about the answer's citations: number → the chip's accessible label. */
interface RenderEnv {
  [key: string | symbol]: unknown;
  citations: ReadonlyMap<number, string>;
}

function citationsOf(env: unknown): ReadonlyMap<number, string> | undefined {
  const citations = (env as Partial<RenderEnv> | undefined)?.citations;
  return citations instanceof Map ? citations : undefined;
}

const md = new MarkdownIt('default', {
  // Raw HTML in an answer is shown as text, never parsed.
  html: false,
  // Bare URLs stay text; nothing turns into a link by itself.
  linkify: false,
  // Quotes and dashes stay as the model wrote them.
  typographer: false,
  breaks: false,
});

const { escapeHtml } = md.utils;

// Citations ----------------------------------------------------------------------------------------------

/** `[1]`, `[1, 2]`, `[ 3 ]` at the current position (numbers of up to three digits). */
const CITATION = /^\[\s*(\d{1,3}(?:\s*,\s*\d{1,3})*)\s*\]/;

/**
 * The inline rule for citation markers. It runs before `link`, so `[1]` is never read as a link label, and
 * only where inline Markdown is parsed (not in code spans or code blocks). A marker none of whose numbers is
 * a known citation is left to the other rules (it stays text); in a mixed group such as `[1, 9]`, the known
 * numbers become chips and the others stay as `[9]`.
 */
function citationRule(state: StateInline, silent: boolean): boolean {
  if (state.src.charCodeAt(state.pos) !== 0x5b /* [ */) return false;
  const known = citationsOf(state.env);
  if (!known || known.size === 0) return false;
  const match = CITATION.exec(state.src.slice(state.pos, state.pos + 80));
  if (!match?.[1]) return false;
  const numbers = match[1].split(',').map((part) => Number(part.trim()));
  if (!numbers.some((n) => known.has(n))) return false;
  if (!silent) {
    for (const n of numbers) {
      if (known.has(n)) {
        const token = state.push('citation', '', 0);
        token.meta = { n };
      } else {
        const token = state.push('text', '', 0);
        token.content = `[${n}]`;
      }
    }
  }
  state.pos += match[0].length;
  return true;
}

md.inline.ruler.before('link', 'citation', citationRule);

md.renderer.rules.citation = (tokens, idx, _options, env) => {
  const n = Number((tokens[idx]?.meta as { n: number }).n);
  const label = citationsOf(env)?.get(n) ?? `Source ${n}`;
  return (
    `<button type="button" class="cite" data-cite="${n}" data-testid="citation-chip" data-n="${n}"` +
    ` aria-label="${escapeHtml(label)}">${n}</button>`
  );
};

// Images and links ---------------------------------------------------------------------------------------

/** An image is never fetched: its alt text stands in for it. */
md.renderer.rules.image = (tokens, idx, options, env, self) => {
  const alt = self.renderInlineAsText(tokens[idx]?.children ?? [], options, env).trim();
  return `<span class="md-image" title="Image not shown">${escapeHtml(alt || 'image')}</span>`;
};

/** The `link_open` that a `link_close` ends (links do not nest in Markdown). */
function openingLink(tokens: Token[], close: number): Token | undefined {
  for (let i = close - 1; i >= 0; i--) {
    if (tokens[i]?.type === 'link_open') return tokens[i];
  }
  return undefined;
}

function isAutolink(token: Token | undefined): boolean {
  return token?.markup === 'autolink' || token?.markup === 'linkify';
}

/** A link is its text, not an anchor: nothing navigates, and the address stays visible. */
md.renderer.rules.link_open = (tokens, idx) =>
  isAutolink(tokens[idx]) ? '<span class="md-url">' : '<span class="md-link">';

md.renderer.rules.link_close = (tokens, idx) => {
  const open = openingLink(tokens, idx);
  if (!open || isAutolink(open)) return '</span>';
  const href = md.normalizeLinkText(String(open.attrGet('href') ?? ''));
  return href ? `</span> <span class="md-url">(${escapeHtml(href)})</span>` : '</span>';
};

// With `html: false` these tokens are never produced; should that change, their content is still text.
md.renderer.rules.html_inline = (tokens, idx) => escapeHtml(tokens[idx]?.content ?? '');
md.renderer.rules.html_block = (tokens, idx) => `<p>${escapeHtml(tokens[idx]?.content ?? '')}</p>`;

// Echoed prompt markup -----------------------------------------------------------------------------------

/**
 * Removes the prompt markup small models sometimes copy into their answer: the `<source …>` / `</source>`
 * delimiters around passages, and header lines such as `[source 3]` or `[Source 2: report.pdf]`. An inline
 * `[source 3]` becomes the citation marker `[3]`. While an answer is still `streaming`, a delimiter cut off at
 * its end (`<sou`, `</source id="2`) is held back too, so it never flashes on screen.
 */
export function cleanAnswerText(text: string, streaming = false): string {
  let clean = text.replace(/<\/?source\b[^>]*>/gi, '').replace(/<\/?source\b[^>\n]*$/i, '');
  if (streaming) clean = clean.replace(/<\/?(?:s(?:o(?:u(?:r(?:c(?:e)?)?)?)?)?)?$/i, '');
  return clean
    .replace(/^[ \t]*\[source[ \t]*\d+\b[^\]\n]*\][ \t]*:?[ \t]*(?:\r?\n|$)/gim, '')
    .replace(/\[source[ \t]*(\d+)\]/gi, '[$1]')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * The HTML of an answer. `citations` maps each citation number the answer may use to the chip's label
 * (e.g. "Source 2: report.pdf, page 4"); other numbers in brackets stay text. `streaming`: the text is
 * still arriving (see {@link cleanAnswerText}).
 */
export function renderAnswer(
  text: string,
  citations: ReadonlyMap<number, string> = new Map(),
  streaming = false,
): string {
  const env: RenderEnv = { citations };
  return md.render(cleanAnswerText(text, streaming), env);
}
