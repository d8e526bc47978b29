/**
 * The product end to end in the real app: import a real PDF (the Debian New Maintainers' Guide) and a broken
 * one, watch them reach "Indexed" and "Failed" with its reason, search the library, ask a question and see the
 * answer stream with a citation chip, open the citation at its page with the passage marked, stop a long
 * answer, kill the model worker mid-answer and recover with Retry, and visit the models and settings screens. Screenshots of each step go to $QUIRE_E2E_ARTIFACTS.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { screenshot } from '../support.ts';

const fixtures = process.env.QUIRE_E2E_FIXTURES;
const GUIDE = 'maint-guide.en.pdf';

/** A folder of documents to import: a copy of the real guide and a PDF that is only garbage. */
function documents(): { guide: string; broken: string } {
  if (!fixtures) throw new Error('QUIRE_E2E_FIXTURES is not set: run the tests through scripts/e2e.sh');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quire-e2e-docs-'));
  const guide = path.join(dir, GUIDE);
  fs.copyFileSync(path.join(fixtures, 'docs', GUIDE), guide);
  const broken = path.join(dir, 'broken.pdf');
  fs.writeFileSync(broken, '%PDF-1.4\nthis file was cut short and is not a PDF at all\n');
  return { guide, broken };
}

/**
 * Imports as a drop on the window does: the drop handler hands the dropped paths to the `import_paths`
 * command, which is what this calls (WebDriver cannot perform a native file drop).
 */
async function importLikeADrop(paths: string[]): Promise<void> {
  await browser.execute((p: string[]) => {
    const internals = (window as unknown as { __TAURI_INTERNALS__: { invoke: (c: string, a: unknown) => unknown } })
      .__TAURI_INTERNALS__;
    return internals.invoke('import_paths', { paths: p, collection: null });
  }, paths);
}

/** Kills this app's model worker (the app itself must stay up and start a new one on the next question). */
function killModelWorker(): void {
  const app = process.env.QUIRE_APP;
  if (!app) throw new Error('QUIRE_APP is not set: run the tests through scripts/e2e.sh');
  execFileSync('pkill', ['-KILL', '-f', `^${app} __worker model`]);
}

function row(file: string) {
  return $(`[data-testid="doc-row"][data-path$="${file}"]`);
}

async function statusOf(file: string): Promise<string> {
  const r = row(file);
  if (!(await r.isExisting())) return '';
  return r.$('[data-testid="doc-status"]').getText();
}

/**
 * Waits until an answer's text element (found lazily, so the answer being streamed when it appears) exists and
 * shows some words.
 */
async function waitForWords(words: ReturnType<typeof $>, timeoutMsg: string): Promise<void> {
  await browser.waitUntil(async () => (await words.isExisting()) && (await words.getText()).trim().length > 0, {
    timeout: 120_000,
    interval: 100,
    timeoutMsg,
  });
}

describe('Quire with a real library', () => {
  const docs = documents();

  before(async () => {
    await $('nav[aria-label="Sections"]').waitForDisplayed({ timeout: 30_000 });
  });

  it('imports a real PDF to "Indexed" and fails a broken one with its reason', async function () {
    this.timeout(300_000);
    await $('[data-testid="nav-library"]').click();
    await $('[data-testid="screen-library"]').waitForDisplayed();

    await importLikeADrop([docs.guide, docs.broken]);

    await $('[data-testid="import-progress"]').waitForDisplayed({ timeout: 30_000 });
    await screenshot('library-importing');
    await browser.waitUntil(async () => (await statusOf(GUIDE)) === 'Indexed', {
      timeout: 240_000,
      interval: 500,
      timeoutMsg: `${GUIDE} did not reach "Indexed" (status: ${await statusOf(GUIDE)})`,
    });
    await browser.waitUntil(async () => (await statusOf('broken.pdf')) === 'Failed', {
      timeout: 30_000,
      timeoutMsg: 'the broken PDF was not marked "Failed"',
    });
    const reason = await row('broken.pdf').$('[data-testid="doc-error"]').getText();
    expect(reason.length).toBeGreaterThan(10);
    expect(reason.toLowerCase()).toMatch(/damaged|not a pdf|invalid|cannot/);
    await screenshot('library-indexed');
  });

  it('finds the page about quilt with the library search', async () => {
    const search = $('[data-testid="library-search"]');
    await search.setValue('quilt manage large numbers of patches');
    await browser.keys(['Enter']);
    const hit = $('[data-testid="search-hit"]');
    await hit.waitForDisplayed({ timeout: 30_000 });
    const hits = await $$('[data-testid="search-hit"]').map((h) => h.getText());
    expect(hits.some((text) => text.includes('p. 10') || text.includes('pp. 10'))).toBe(true);
    await screenshot('library-search');
  });

  it('streams an answer with a citation chip that opens the source at its page', async function () {
    this.timeout(240_000);
    await $('[data-testid="nav-chat"]').click();
    await $('[data-testid="screen-chat"]').waitForDisplayed();
    await $('[data-testid="new-conversation"]').click();

    const input = $('[data-testid="question-input"]');
    await input.waitForDisplayed();
    await input.setValue('What does the quilt package help you manage?');
    await $('[data-testid="send"]').click();

    // Tokens arrive while the answer is marked as streaming.
    const streaming = $('[data-testid="assistant-message"][data-streaming="true"]');
    await streaming.waitForExist({ timeout: 120_000, timeoutMsg: 'no answer started streaming' });
    const words = streaming.$('[data-testid="answer-text"]');
    await waitForWords(words, 'no token was shown while the answer streamed');
    await screenshot('chat-streaming');
    await $('[data-testid="assistant-message"][data-streaming="false"]').waitForExist({ timeout: 180_000 });

    const chip = $('[data-testid="assistant-message"] [data-testid="citation-chip"]');
    await chip.waitForDisplayed({ timeout: 10_000, timeoutMsg: 'the answer has no citation chip' });
    await screenshot('chat-answer');

    await chip.click();
    const viewer = $('[data-testid="source-viewer"]');
    await viewer.waitForDisplayed();

    // The PDF opens on its own pages, drawn by pdf.js, at the cited page with the passage marked over it.
    // The guide's quilt entry ("helps you to manage large numbers of patches") is on page 10.
    const canvas = viewer.$('[data-testid="pdf-canvas"]');
    await canvas.waitForDisplayed({ timeout: 30_000, timeoutMsg: 'the PDF page viewer did not open' });
    await browser.waitUntil(async () => (await canvas.getAttribute('data-drawn')) === '10', {
      timeout: 30_000,
      timeoutMsg: 'page 10 of the PDF was not drawn',
    });
    await viewer.$('[data-testid="pdf-mark"]').waitForExist({ timeout: 30_000, timeoutMsg: 'no passage was marked on the page' });
    const inked = await browser.execute(() => {
      const c = document.querySelector<HTMLCanvasElement>('[data-testid="pdf-canvas"]');
      const data = c?.getContext('2d')?.getImageData(0, 0, c.width, c.height).data;
      if (!data) return 0;
      let dark = 0;
      for (let i = 0; i < data.length; i += 4) if ((data[i] ?? 255) < 128 && (data[i + 3] ?? 0) > 0) dark++;
      return dark / (data.length / 4);
    });
    // Text on a white page: some, but not most, of the pixels are dark.
    expect(inked).toBeGreaterThan(0.005);
    expect(inked).toBeLessThan(0.5);
    await screenshot('chat-source-pdf');

    // The same passage in the document's text.
    await viewer.$('[data-testid="viewer-mode-text"]').click();
    const page = viewer.$('[data-testid="viewer-page"]');
    await page.waitForDisplayed();
    expect(await page.getText()).toContain('Page 10');
    const passage = viewer.$('mark[data-testid="cited-passage"]');
    await passage.waitForDisplayed();
    expect((await passage.getText()).toLowerCase()).toContain('quilt');
    await screenshot('chat-source-viewer');
    await browser.keys(['Escape']);
    await viewer.waitForDisplayed({ reverse: true });
  });

  it('stops a long answer and stays usable', async function () {
    this.timeout(240_000);
    const before: number = await $$('[data-testid="assistant-message"]').length;
    const input = $('[data-testid="question-input"]');
    await input.setValue('Write a very long and detailed essay about every chapter of the maintainers guide.');
    await $('[data-testid="send"]').click();

    // Stop once the answer itself has begun (not only its retrieval steps).
    const streaming = $('[data-testid="assistant-message"][data-streaming="true"]');
    const words = streaming.$('[data-testid="answer-text"]');
    await waitForWords(words, 'the long answer did not start');
    await $('[data-testid="stop"]').click();

    await browser.waitUntil(async () => !(await streaming.isExisting()), {
      timeout: 30_000,
      timeoutMsg: 'the answer did not stop',
    });
    const messages = await $$('[data-testid="assistant-message"]').getElements();
    expect(messages.length).toBe(before + 1);
    const last = messages[messages.length - 1];
    expect((await last?.$('[data-testid="answer-text"]').getText())?.trim().length).toBeGreaterThan(0);
    expect(await last?.$('[data-testid="message-notice"]').getText()).toBe('stopped');
    expect(await $('[data-testid="send"]').isExisting()).toBe(true);
    expect(await input.isEnabled()).toBe(true);
    await screenshot('chat-stopped');
  });

  it('reports a crashed model worker in place and recovers with Retry', async function () {
    this.timeout(300_000);
    const answers = async () => (await $$('[data-testid="assistant-message"]').length) as number;
    const before = await answers();
    const input = $('[data-testid="question-input"]');
    // A long answer, so that the worker dies while it is being written.
    await input.setValue('Write a very long and detailed essay about every chapter of the maintainers guide.');
    await $('[data-testid="send"]').click();

    const streaming = $('[data-testid="assistant-message"][data-streaming="true"]');
    const words = streaming.$('[data-testid="answer-text"]');
    await waitForWords(words, 'the answer did not start');
    killModelWorker();

    const error = $('[data-testid="chat-error"]');
    await error.waitForDisplayed({ timeout: 30_000, timeoutMsg: 'the crash was not reported in the chat' });
    expect(await error.getAttribute('data-error-kind')).toBe('worker_crashed');
    await screenshot('chat-worker-crashed');

    await $('[data-testid="error-retry"]').click();
    await browser.waitUntil(async () => !(await error.isExisting()) && (await answers()) === before + 1, {
      timeout: 10_000,
      timeoutMsg: 'Retry did not ask again',
    });
    // A new worker loads the models again and the answer streams. It is stopped once it has begun, unless it has
    // ended by then: stopping is the test above, this one is about the recovery.
    const again = $('[data-testid="assistant-message"][data-streaming="true"] [data-testid="answer-text"]');
    await waitForWords(again, 'no answer streamed after the restart');
    await $('[data-testid="stop"]').click().catch(() => {});
    await browser.waitUntil(async () => !(await $('[data-testid="assistant-message"][data-streaming="true"]').isExisting()), {
      timeout: 30_000,
      timeoutMsg: 'the answer after the restart did not end',
    });
    await screenshot('chat-recovered');
    expect(await $('[data-testid="chat-error"]').isExisting()).toBe(false);
    expect(await answers()).toBe(before + 1);
  });

  it('watches a folder in a collection and follows its changes live', async function () {
    this.timeout(240_000);
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'quire-e2e-watched-'));
    fs.writeFileSync(path.join(folder, 'quilt-notes.md'), '# Quilt notes\n\nQuilt keeps a stack of patches.\n');
    await $('[data-testid="nav-library"]').click();
    await $('[data-testid="screen-library"]').waitForDisplayed();

    // What the collection form does once the native folder picker has answered.
    await browser.execute((p: string) => {
      const internals = (window as unknown as { __TAURI_INTERNALS__: { invoke: (c: string, a: unknown) => unknown } })
        .__TAURI_INTERNALS__;
      return internals.invoke('watch_folder', { path: p, collection: 'Notes' });
    }, folder);
    await browser.waitUntil(async () => (await statusOf('quilt-notes.md')) === 'Indexed', {
      timeout: 120_000,
      interval: 500,
      timeoutMsg: 'the watched folder was not imported',
    });
    const watched = $('[data-testid="collection"][data-name="Notes"] [data-testid="watched-folder"]');
    await watched.waitForDisplayed({ timeout: 30_000, timeoutMsg: 'the collection does not list its watched folder' });
    expect(await watched.getAttribute('data-path')).toBe(folder);

    // Changes made while the app runs reach the library by themselves: no "Sync now".
    fs.rmSync(path.join(folder, 'quilt-notes.md'));
    fs.writeFileSync(path.join(folder, 'dput-notes.md'), '# dput\n\ndput uploads a signed package.\n');
    await browser.waitUntil(async () => (await statusOf('dput-notes.md')) === 'Indexed', {
      timeout: 120_000,
      interval: 500,
      timeoutMsg: 'a file written into the watched folder was not indexed by itself',
    });
    await browser.waitUntil(async () => !(await row('quilt-notes.md').isExisting()), {
      timeout: 30_000,
      timeoutMsg: 'a file deleted from the watched folder stayed in the library',
    });
    // A rename keeps the document (its chunks move with it).
    fs.renameSync(path.join(folder, 'dput-notes.md'), path.join(folder, 'dput-upload.md'));
    await browser.waitUntil(async () => (await statusOf('dput-upload.md')) === 'Indexed', {
      timeout: 120_000,
      interval: 500,
      timeoutMsg: 'a renamed file did not show at its new name',
    });
    await browser.waitUntil(async () => !(await row('dput-notes.md').isExisting()), {
      timeout: 30_000,
      timeoutMsg: 'a renamed file stayed at its old name',
    });
    // "Sync now" compares the folder in full; nothing changed, so nothing moves.
    await $('[data-testid="sync-watched"]').click();
    await browser.pause(3_000);
    expect(await statusOf('dput-upload.md')).toBe('Indexed');
    await watched.scrollIntoView({ block: 'center' });
    await screenshot('library-watched');

    // Its rules, edited from its row: excluding *.md takes the Markdown note out of the library and keeps the
    // text file.
    fs.writeFileSync(path.join(folder, 'dput-keep.txt'), 'dput keeps a log of the uploads it made.\n');
    await browser.waitUntil(async () => (await statusOf('dput-keep.txt')) === 'Indexed', {
      timeout: 120_000,
      interval: 500,
      timeoutMsg: 'a text file written into the watched folder was not indexed',
    });
    await watched.$('[data-testid="watch-rules"]').click();
    const rules = $('[data-testid="watch-rules-form"]');
    await rules.waitForDisplayed({ timeout: 10_000, timeoutMsg: 'the rules editor did not open' });
    await rules.$('[data-testid="rules-exclude"]').setValue('*.md');
    await screenshot('library-watch-rules');
    await rules.$('[data-testid="rules-save"]').click();
    await rules.waitForExist({ reverse: true, timeout: 30_000, timeoutMsg: 'the rules editor did not close' });
    // The row shows the rules in short (read again as the list re-renders while the folder syncs).
    await browser.waitUntil(
      async () => {
        const summary = $('[data-testid="watched-folder"] [data-testid="watch-rules-summary"]');
        return (await summary.isExisting()) && (await summary.getAttribute('title')) === 'skips *.md';
      },
      { timeout: 30_000, interval: 500, timeoutMsg: 'the folder does not show its rules' },
    );
    await browser.waitUntil(async () => !(await row('dput-upload.md').isExisting()), {
      timeout: 60_000,
      interval: 500,
      timeoutMsg: 'a file the rules now exclude stayed in the library',
    });
    expect(await statusOf('dput-keep.txt')).toBe('Indexed');
  });

  it('pauses indexing with files waiting, resumes it, and retries a failed file', async function () {
    this.timeout(300_000);
    await $('[data-testid="nav-library"]').click();
    await $('[data-testid="screen-library"]').waitForDisplayed();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quire-e2e-pause-'));
    // Long enough notes that the import lasts a while, then a short one at the end.
    const names = ['harbours', 'rivers', 'lighthouses', 'canals', 'bridges', 'tides'].map((topic, i) => {
      const name = `long-${i}-${topic}.md`;
      const paragraphs = Array.from(
        { length: 120 },
        (_, p) => `Paragraph ${p} about ${topic}: the ${topic} of coast ${p} were charted by survey ${i * 1000 + p}.`,
      );
      fs.writeFileSync(path.join(dir, name), `# ${topic}\n\n${paragraphs.join('\n\n')}\n`);
      return name;
    });
    const last = 'zz-last-note.md';
    fs.writeFileSync(path.join(dir, last), '# Last\n\nThe last note of the paused import.\n');
    const all = [...names, last];

    await importLikeADrop(all.map((n) => path.join(dir, n)));
    const pause = $('[data-testid="pause-indexing"]');
    await pause.waitForClickable({ timeout: 60_000, timeoutMsg: 'no Pause button while importing' });
    await pause.click();
    await $('[data-testid="resume-indexing"]').waitForDisplayed({ timeout: 60_000 });
    await browser.waitUntil(
      async () => (await $('[data-testid="import-progress"]').getAttribute('data-paused')) === 'true',
      { timeout: 60_000, timeoutMsg: 'the import did not show as paused' },
    );
    // Paused: the document being indexed may finish; after it, nothing moves.
    await browser.pause(2_000);
    const indexed = async () => {
      let n = 0;
      for (const name of all) if ((await statusOf(name)) === 'Indexed') n += 1;
      return n;
    };
    const atPause = await indexed();
    expect(await statusOf(last)).not.toBe('Indexed');
    await browser.pause(4_000);
    expect(await indexed()).toBe(atPause);
    await screenshot('library-paused');

    await $('[data-testid="resume-indexing"]').click();
    await browser.waitUntil(async () => (await indexed()) === all.length, {
      timeout: 240_000,
      interval: 500,
      timeoutMsg: 'the import did not finish after Resume',
    });

    // A file that fails, is fixed on disk, and is retried from its row.
    const fixable = path.join(dir, 'fixable.pdf');
    fs.writeFileSync(fixable, '%PDF-1.4\nnot a PDF yet\n');
    await importLikeADrop([fixable]);
    await browser.waitUntil(async () => (await statusOf('fixable.pdf')) === 'Failed', {
      timeout: 60_000,
      timeoutMsg: 'the broken file did not fail',
    });
    if (!fixtures) throw new Error('QUIRE_E2E_FIXTURES is not set');
    fs.copyFileSync(path.join(fixtures, 'docs', 'crazyones.pdf'), fixable);
    await row('fixable.pdf').$('[data-testid="doc-retry"]').click();
    await browser.waitUntil(async () => (await statusOf('fixable.pdf')) === 'Indexed', {
      timeout: 120_000,
      interval: 500,
      timeoutMsg: `Retry did not index the fixed file (status: ${await statusOf('fixable.pdf')})`,
    });
    await screenshot('library-retried');
  });

  it('shows the installed models and the settings', async () => {
    await $('[data-testid="nav-models"]').click();
    await $('[data-testid="model-row"][data-role="chat"]').waitForDisplayed({ timeout: 30_000 });
    expect(await $('[data-testid="screen-models"]').getText()).toContain('SmolLM2-135M-Instruct');
    await screenshot('models');

    await $('[data-testid="nav-settings"]').click();
    await $('[data-testid="screen-settings"]').waitForDisplayed();
    expect(await $('[data-testid="screen-settings"]').getText()).toContain('Temperature');
    // The tests set QUIRE_DATA_DIR, so the data folder is shown and cannot be moved from here.
    expect(await $('[data-testid="settings-data-dir"]').getText()).toBe(process.env.QUIRE_DATA_DIR);
    expect(await $('[data-testid="data-dir-locked"]').getText()).toContain('QUIRE_DATA_DIR');
    await screenshot('settings');
  });
});
