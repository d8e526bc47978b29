/**
 * Switching the embedding model in the real app, over the library the earlier specs built (the real PDFs of
 * library-chat.e2e.ts): a second embedding model (the starter model's file under another name, so another model
 * id) is made the default on the models screen; the library is embedded with it in the background while the
 * library search keeps answering, then switches, and the search still finds the page about quilt.
 */
import fs from 'node:fs';
import path from 'node:path';
import { screenshot } from '../support.ts';

const STARTER = 'all-MiniLM-L6-v2.q8_0.gguf';
const RENAMED = 'minilm-renamed.gguf';

/** Puts the starter embedding model in the throwaway models folder under another name; returns its path. */
function secondEmbeddingModel(): string {
  const cache = process.env.QUIRE_E2E_MODELS_CACHE;
  const models = process.env.QUIRE_MODELS_DIR;
  if (!cache || !models) throw new Error('QUIRE_E2E_MODELS_CACHE / QUIRE_MODELS_DIR are not set: run scripts/e2e.sh');
  const target = path.join(models, RENAMED);
  if (!fs.existsSync(target)) {
    try {
      fs.linkSync(path.join(cache, STARTER), target);
    } catch {
      fs.copyFileSync(path.join(cache, STARTER), target);
    }
  }
  return target;
}

async function searchFindsQuilt(): Promise<void> {
  await $('[data-testid="nav-library"]').click();
  const search = $('[data-testid="library-search"]');
  await search.waitForDisplayed({ timeout: 30_000 });
  await search.clearValue();
  await search.setValue('quilt manage large numbers of patches');
  await browser.keys(['Enter']);
  await browser.waitUntil(
    async () => {
      const hits = await $$('[data-testid="search-hit"]').map((h) => h.getText());
      return hits.some((text) => text.includes('p. 10') || text.includes('pp. 10'));
    },
    { timeout: 60_000, interval: 250, timeoutMsg: 'the library search did not find the page about quilt' },
  );
}

describe('Quire switching the embedding model', () => {
  before(async () => {
    await $('nav[aria-label="Sections"]').waitForDisplayed({ timeout: 30_000 });
  });

  it('embeds the library with the new model in the background and switches, searchable throughout', async function () {
    this.timeout(900_000);
    const model = secondEmbeddingModel();
    await $('[data-testid="nav-models"]').click();
    await $('[data-testid="screen-models"]').waitForDisplayed();
    await $('button=Refresh').click();
    const row = $(`[data-testid="model-row"][data-path="${model}"]`);
    await row.waitForDisplayed({ timeout: 30_000, timeoutMsg: 'the renamed embedding model is not listed' });
    expect(await row.getAttribute('data-role')).toBe('embedding');
    await row.$('button=Use as default').click();

    // The banner: the new model, documents done of all, and the model searched meanwhile.
    const banner = $('[data-testid="embedding-switch"]');
    await banner.waitForDisplayed({ timeout: 30_000, timeoutMsg: 'no banner after choosing another embedding model' });
    expect(await banner.getText()).toContain(RENAMED);
    expect(await $('[data-testid="embedding-switch-from"]').getText()).toContain('all-MiniLM-L6-v2.q8_0');
    await browser.waitUntil(async () => / of [1-9]\d* documents/.test(await $('[data-testid="embedding-switch-count"]').getText()), {
      timeout: 60_000,
      interval: 100,
      timeoutMsg: 'the banner never counted the documents',
    });
    await screenshot('models-embedding-switch');

    // Search works while the switch runs (with the current model).
    await searchFindsQuilt();
    if (await $('[data-testid="embedding-switch"]').isExisting()) await screenshot('library-embedding-switch');

    // The switch ends: no banner, the renamed model is the default, and search finds the same page.
    await browser.waitUntil(async () => !(await $('[data-testid="embedding-switch"]').isExisting()), {
      timeout: 600_000,
      interval: 500,
      timeoutMsg: 'the switch of embedding model did not end',
    });
    await $('[data-testid="nav-models"]').click();
    await $('button=Refresh').click();
    await $(`[data-testid="model-row"][data-path="${model}"] [data-testid="badge-default"]`).waitForDisplayed({
      timeout: 30_000,
      timeoutMsg: 'the renamed model is not the default after the switch',
    });
    await searchFindsQuilt();
    await screenshot('library-after-embedding-switch');
  });
});
