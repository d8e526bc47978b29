import { describe, expect, it } from 'vitest';
import { cleanAnswerText, renderAnswer } from '$lib/chat/markdown';

const CITES = new Map([
  [1, 'Source 1: report.pdf, p. 3'],
  [2, 'Source 2: notes.md'],
]);

/** Renders into a detached element, to inspect the DOM the HTML would make. */
function dom(text: string, citations: ReadonlyMap<number, string> = CITES, streaming = false): HTMLElement {
  const root = document.createElement('div');
  root.innerHTML = renderAnswer(text, citations, streaming);
  return root;
}

function chips(root: HTMLElement): string[] {
  return Array.from(root.querySelectorAll('[data-testid="citation-chip"]')).map((b) => b.getAttribute('data-n') ?? '');
}

describe('renderAnswer: Markdown', () => {
  it('renders the usual Markdown', () => {
    const root = dom('# Title\n\nSome **bold** and *italic*, `code`.\n\n- one\n- two\n\n```js\nlet x = 1 < 2;\n```');
    expect(root.querySelector('h1')).toHaveTextContent('Title');
    expect(root.querySelector('strong')).toHaveTextContent('bold');
    expect(root.querySelector('em')).toHaveTextContent('italic');
    expect(root.querySelectorAll('li')).toHaveLength(2);
    expect(root.querySelector('pre code')).toHaveTextContent('let x = 1 < 2;');
  });

  it('renders tables', () => {
    const root = dom('| a | b |\n|---|---|\n| 1 | 2 |');
    expect(root.querySelectorAll('td')).toHaveLength(2);
  });

  it('keeps quotes and dashes as written (no typographer)', () => {
    expect(dom('"quoted" -- dash (c)').textContent).toContain('"quoted" -- dash (c)');
  });
});

describe('renderAnswer: untrusted content', () => {
  it('escapes script tags and raw HTML instead of rendering them', () => {
    const html = renderAnswer('Hi <script>alert(1)</script> <b onclick="x()">b</b>\n\n<div><iframe src="https://x"></iframe></div>');
    expect(html).not.toMatch(/<script|<iframe|<b |<div/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const root = dom('<img src=x onerror=alert(1)>');
    expect(root.querySelector('img')).toBeNull();
    expect(root.textContent).toContain('<img src=x onerror=alert(1)>');
  });

  it('never loads images: an image is its alt text', () => {
    const root = dom('Look: ![A *chart* of sales](https://example.com/chart.png "t")');
    expect(root.querySelector('img')).toBeNull();
    const image = root.querySelector('.md-image');
    expect(image).toHaveTextContent('A chart of sales');
    expect(root.innerHTML).not.toContain('example.com/chart.png');
  });

  it('shows a reference-style image as its alt text too', () => {
    const root = dom('![logo][l]\n\n[l]: https://example.com/logo.png');
    expect(root.querySelector('img')).toBeNull();
    expect(root.querySelector('.md-image')).toHaveTextContent('logo');
  });

  it('renders links as text with the address visible, never as anchors', () => {
    const root = dom('See [the docs](https://example.com/docs?a=1&b=2) and <https://example.org/x>.');
    expect(root.querySelector('a')).toBeNull();
    expect(root.querySelector('.md-link')).toHaveTextContent('the docs');
    expect(root.textContent).toContain('(https://example.com/docs?a=1&b=2)');
    expect(root.textContent).toContain('https://example.org/x');
  });

  it('does not make javascript: links clickable', () => {
    for (const text of ['[click](javascript:alert(1))', '[x](<javascript:alert(1)>)', '[y](JaVaScRiPt:alert(1))']) {
      const root = dom(text);
      expect(root.querySelector('a')).toBeNull();
      expect(root.querySelector('[href]')).toBeNull();
      expect(root.querySelector('[onclick]')).toBeNull();
    }
  });

  it('does not turn bare URLs into links (no linkify)', () => {
    const root = dom('Go to https://example.com now');
    expect(root.querySelector('a, .md-url, .md-link')).toBeNull();
    expect(root.textContent?.trim()).toBe('Go to https://example.com now');
  });

  it('escapes attribute-breaking text in citation labels', () => {
    const root = dom('Yes [1].', new Map([[1, 'Source 1: "><script>x</script>']]));
    expect(root.querySelector('script')).toBeNull();
    expect(root.querySelector('button')).toHaveAttribute('aria-label', 'Source 1: "><script>x</script>');
  });
});

describe('renderAnswer: citations', () => {
  it('turns [n] into a chip button for each known citation', () => {
    const root = dom('The sky is blue [1]. Grass is green [2].');
    const buttons = root.querySelectorAll('button');
    expect(chips(root)).toEqual(['1', '2']);
    expect(buttons[0]).toHaveAttribute('type', 'button');
    expect(buttons[0]).toHaveAttribute('data-cite', '1');
    expect(buttons[0]).toHaveClass('cite');
    expect(buttons[0]).toHaveTextContent('1');
    expect(buttons[0]).toHaveAttribute('aria-label', 'Source 1: report.pdf, p. 3');
    expect(root.textContent).not.toContain('[1]');
  });

  it('handles grouped and adjacent markers', () => {
    expect(chips(dom('Both [1, 2] and [1][2] and [ 2 ].'))).toEqual(['1', '2', '1', '2', '2']);
  });

  it('leaves unknown citation numbers as plain text', () => {
    const root = dom('Known [1], unknown [7], mixed [2, 9].');
    expect(chips(root)).toEqual(['1', '2']);
    expect(root.textContent).toContain('unknown [7]');
    expect(root.textContent).toContain('[9]');
  });

  it('makes no chips without citations', () => {
    const root = dom('Nothing cited [1].', new Map());
    expect(chips(root)).toEqual([]);
    expect(root.textContent?.trim()).toBe('Nothing cited [1].');
  });

  it('leaves markers in code alone', () => {
    const root = dom('Inline `a[1]` and\n\n```\nlist[2]\n```');
    expect(chips(root)).toEqual([]);
    expect(root.textContent).toContain('a[1]');
    expect(root.textContent).toContain('list[2]');
  });

  it('leaves other bracketed text alone', () => {
    const root = dom('An array [a, b] and a note [1a] and [12345].');
    expect(chips(root)).toEqual([]);
    expect(root.textContent?.trim()).toBe('An array [a, b] and a note [1a] and [12345].');
  });

  it('finds markers inside emphasis and lists', () => {
    expect(chips(dom('- **first [1]**\n- second [2]'))).toEqual(['1', '2']);
  });
});

describe('cleanAnswerText: echoed prompt markup', () => {
  it('strips <source> delimiters', () => {
    const text = '<source id="1" document="report.pdf" pages="3">\nThe answer [1].\n</source>';
    expect(cleanAnswerText(text)).toBe('The answer [1].');
    expect(dom(text).textContent).not.toMatch(/source/i);
  });

  it('strips [source n] header lines and turns inline ones into markers', () => {
    const text = '[source 3]\nFirst part.\n[Source 2: notes.md, page 4]:\nAs [source 1] says.';
    expect(cleanAnswerText(text)).toBe('First part.\nAs [1] says.');
    expect(chips(dom(text))).toEqual(['1']);
  });

  it('holds back a delimiter cut off at the end of a streaming answer', () => {
    expect(cleanAnswerText('Partial <sou', true)).toBe('Partial');
    expect(cleanAnswerText('Partial </source id="2', true)).toBe('Partial');
    expect(cleanAnswerText('Less than <', true)).toBe('Less than');
    // Once the answer is complete, a lone "<" is the model's own text.
    expect(cleanAnswerText('1 <', false)).toBe('1 <');
  });

  it('keeps prose that merely mentions sources', () => {
    expect(cleanAnswerText('The sources agree: the open-source tool works.')).toBe(
      'The sources agree: the open-source tool works.',
    );
  });
});
