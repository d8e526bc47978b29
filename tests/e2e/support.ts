/** Helpers shared by the config and the specs. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Where screenshots go: $QUIRE_E2E_ARTIFACTS (scripts/e2e.sh sets it), else ./artifacts. */
export const artifactsDir = path.resolve(process.env.QUIRE_E2E_ARTIFACTS ?? path.join(here, 'artifacts'));

/** Saves a screenshot of the app's page as `<artifactsDir>/<name>.png`. */
export async function screenshot(name: string): Promise<void> {
  fs.mkdirSync(artifactsDir, { recursive: true });
  // WebKit pictures the last frame it painted: let it paint what the DOM now holds (two animation frames; at most
  // a second, should the window not be painting at all).
  await browser.executeAsync((done: () => void) => {
    const timer = setTimeout(done, 1000);
    requestAnimationFrame(() => requestAnimationFrame(() => (clearTimeout(timer), done())));
  });
  await browser.saveScreenshot(path.join(artifactsDir, `${name}.png`));
}

/**
 * Saves a picture of the whole X display, window frame and all (ImageMagick's `import`), as
 * `<artifactsDir>/<name>.png`: what a person would see, not only the page.
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
