/**
 * The real app, end to end: the native window opens, the page reaches Rust over IPC, and every section of
 * the sidebar can be opened. A screenshot of each screen goes to $QUIRE_E2E_ARTIFACTS.
 */
import { execFileSync } from 'node:child_process';
import { displayScreenshot, screenshot } from '../support.ts';

const SCREENS = [
  { id: 'library', label: 'Library' },
  { id: 'chat', label: 'Chat' },
  { id: 'models', label: 'Models' },
  { id: 'settings', label: 'Settings' },
] as const;

/** The names of the top-level X windows on this display (xwininfo, from x11-utils). */
function nativeWindowNames(): string[] {
  const tree = execFileSync('xwininfo', ['-root', '-tree'], { encoding: 'utf8' });
  return Array.from(tree.matchAll(/^\s+0x[0-9a-f]+ "([^"]*)"/gm), (m) => m[1] ?? '');
}

/** A binary built without tauri's `custom-protocol` feature shows WebKit's error page for devUrl. */
async function devBuild(): Promise<boolean> {
  const url = await browser.getUrl();
  return url.startsWith('http://localhost:5173');
}

describe('Quire', () => {
  before(async () => {
    // The UI has mounted once the sidebar is there.
    await browser.waitUntil(async () => (await $('nav[aria-label="Sections"]').isDisplayed()) || (await devBuild()), {
      timeoutMsg: 'the UI did not appear',
    });
    if (await devBuild()) {
      throw new Error(
        'the app is a development build: it loads devUrl (http://localhost:5173) instead of the UI built into it. ' +
          "Build it with tauri's custom-protocol feature (see scripts/e2e.sh).",
      );
    }
  });

  it('opens a window titled Quire', async () => {
    expect(await browser.getTitle()).toBe('Quire');
    await browser.waitUntil(() => nativeWindowNames().includes('Quire'), {
      timeoutMsg: `no native window named "Quire" on ${process.env.DISPLAY}: ${nativeWindowNames().join(', ')}`,
    });
  });

  it('shows the data folder that Rust reports (IPC works)', async () => {
    const expected = process.env.QUIRE_DATA_DIR;
    if (!expected) throw new Error('QUIRE_DATA_DIR is not set: run the tests through scripts/e2e.sh');

    const dataDir = $('[data-testid="data-dir"]');
    await dataDir.waitForDisplayed();
    expect(await dataDir.getText()).toBe(expected);
    expect(await $('[data-testid="app-version"]').getText()).toMatch(/^Quire \d+\.\d+\.\d+/);
    expect(await $('h1').getText()).toBe('Library');
    expect(await $('[data-testid="library-empty"]').getText()).toContain('Your library is empty');
    await screenshot('library');
    displayScreenshot('display');
  });

  for (const { id, label } of SCREENS) {
    it(`opens ${label} from the sidebar`, async () => {
      await $(`[data-testid="nav-${id}"]`).click();

      await $(`[data-testid="screen-${id}"]`).waitForDisplayed();
      expect(await $('h1').getText()).toBe(label);
      expect(await $(`[data-testid="nav-${id}"]`).getAttribute('aria-current')).toBe('page');
      expect(await $$('[aria-current="page"]').length).toBe(1);
      await screenshot(`screen-${id}`);
    });
  }

  it('moves through the sidebar with the keyboard', async () => {
    await $('[data-testid="nav-library"]').click();
    await browser.keys(['Tab']);
    await browser.keys(['Enter']);

    await $('[data-testid="screen-chat"]').waitForDisplayed();
    expect(await browser.execute(() => document.activeElement?.getAttribute('data-testid'))).toBe('nav-chat');
    await screenshot('keyboard-focus');
  });
});
