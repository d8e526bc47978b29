/** Helpers shared by the config and the specs. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Where screenshots go: $QUIRE_E2E_ARTIFACTS (scripts/e2e.sh sets it), else ./artifacts. */
export const artifactsDir = path.resolve(process.env.QUIRE_E2E_ARTIFACTS ?? path.join(here, 'artifacts'));

/**
 * Saves a picture of the app's window as `<artifactsDir>/<name>.png`, taken from the X display (ImageMagick's
 * `import`): what a person sees. WebDriver's own screenshot is not used: it waits for a composited frame, and
 * the app paints without WebKit's DMA-BUF renderer (src-tauri/main.rs), where that frame never comes.
 */
export async function screenshot(name: string): Promise<void> {
  fs.mkdirSync(artifactsDir, { recursive: true });
  // Let WebKit paint what the DOM now holds (two animation frames; at most a second, should the window not be
  // painting at all).
  await browser.executeAsync((done: () => void) => {
    const timer = setTimeout(done, 1000);
    requestAnimationFrame(() => requestAnimationFrame(() => (clearTimeout(timer), done())));
  });
  execFileSync('import', ['-window', appWindow(), path.join(artifactsDir, `${name}.png`)], { stdio: 'pipe' });
}

/** The X id of the app's window (titled "Quire"; the tests run one app at a time). */
function appWindow(): string {
  const tree = execFileSync('xwininfo', ['-root', '-tree'], { encoding: 'utf8' });
  const id = /^\s*(0x[0-9a-f]+) "Quire":/m.exec(tree)?.[1];
  if (!id) throw new Error(`no window titled "Quire" on the display:\n${tree}`);
  return id;
}

/**
 * Saves a picture of the whole X display, window frame and all (ImageMagick's `import`), as
 * `<artifactsDir>/<name>.png`.
 */
export function displayScreenshot(name: string): void {
  fs.mkdirSync(artifactsDir, { recursive: true });
  execFileSync('import', ['-window', 'root', path.join(artifactsDir, `${name}.png`)], { stdio: 'pipe' });
}

/** After a failure: a screenshot of the page and of the display, and the page's HTML, named after the test. */
export async function keepEvidence(title: string): Promise<void> {
  const name = `failed-${title.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`;
  await screenshot(name).catch(() => {});
  try {
    displayScreenshot(`${name}-display`);
  } catch {
    // No ImageMagick: the page screenshot has to do.
  }
  const html = await browser.getPageSource().catch((e: unknown) => `page source unavailable: ${String(e)}`);
  fs.writeFileSync(path.join(artifactsDir, `${name}.html`), html);
}
