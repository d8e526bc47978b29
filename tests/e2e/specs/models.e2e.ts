/**
 * The models screen in the real app: the installed starter models with their fit for this machine, the catalog,
 * a Hugging Face search while Hugging Face cannot be reached (the offline advice), then the same search against a
 * loopback server standing in for Hugging Face (HF_ENDPOINT, set by scripts/e2e.sh), and a download of a real GGUF
 * file (Gemma 3 270M from the model cache) watched from its progress row to the installed list.
 *
 * The server answers the two API calls the app makes (the search and the repository tree, shaped like Hugging
 * Face's answers, the tree's LFS entry carrying the file's real size and sha256) and serves the file at a limited
 * rate, so that the download can be seen while it runs. The app downloads into the throwaway models folder
 * scripts/e2e.sh makes ($QUIRE_MODELS_DIR), never into the model cache.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { screenshot } from '../support.ts';

const REPO = 'ggml-org/gemma-3-270m-GGUF';
const FILE = 'gemma-3-270m-q4_k_m.gguf';
/** Bytes per tick and ticks per second of the served file (about 20 MB/s: some 12 s for the 253 MB file). */
const CHUNK = 1 << 20;
const TICK_MS = 50;

/** The loopback endpoint the app was started with; anything else would reach the real Hugging Face. */
function endpoint(): URL {
  const raw = process.env.HF_ENDPOINT;
  if (!raw) throw new Error('HF_ENDPOINT is not set: run the tests through scripts/e2e.sh');
  const url = new URL(raw);
  if (url.hostname !== '127.0.0.1' || !url.port) throw new Error(`HF_ENDPOINT is not a loopback server: ${raw}`);
  return url;
}

/** The real GGUF file served as the download: from the model cache scripts/e2e.sh names. */
function sourceFile(): string {
  const cache = process.env.QUIRE_E2E_MODELS_CACHE;
  if (!cache) throw new Error('QUIRE_E2E_MODELS_CACHE is not set: run the tests through scripts/e2e.sh');
  const file = path.join(cache, FILE);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: scripts/models.sh installs it`);
  return file;
}

function sha256Of(file: string): string {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(8 << 20);
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

interface Served {
  server: http.Server;
  /** Every request's path and Range header, in order. */
  requests: { url: string; range?: string }[];
  close: () => Promise<void>;
}

/** A stand-in for Hugging Face on `port`: the search, the repository tree and the file (with Range). */
async function serveHuggingFace(port: number, file: string, size: number, sha256: string): Promise<Served> {
  const requests: Served['requests'] = [];
  const search = [
    {
      _id: '68a0e2b2d1f03c9a7e441200',
      id: REPO,
      modelId: REPO,
      likes: 12,
      downloads: 1234,
      private: false,
      gated: false,
      tags: ['gguf', 'gemma3', 'text-generation', 'license:gemma'],
      pipeline_tag: 'text-generation',
      library_name: 'gguf',
      createdAt: '2025-08-14T10:00:00.000Z',
    },
  ];
  const tree = [
    { type: 'file', oid: 'a6344aac8c09253b3b630fb776ae94478aa0275b', size: 1519, path: '.gitattributes' },
    {
      type: 'file',
      oid: '7c6b5a4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b',
      size: 135,
      path: FILE,
      lfs: { oid: sha256, size, pointerSize: 134 },
    },
  ];
  const json = (res: http.ServerResponse, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({ url: req.url ?? '', range: req.headers.range });
    if (url.pathname === '/api/models') return json(res, search);
    if (url.pathname === `/api/models/${REPO}/tree/main`) return json(res, tree);
    if (url.pathname !== `/${REPO}/resolve/main/${FILE}`) {
      res.writeHead(404).end('not found');
      return;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) start = Number(range[1]);
    const headers = { 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes' };
    if (range) {
      res.writeHead(206, { ...headers, 'Content-Length': size - start, 'Content-Range': `bytes ${start}-${size - 1}/${size}` });
    } else {
      res.writeHead(200, { ...headers, 'Content-Length': size });
    }
    if (req.method === 'HEAD') return void res.end();
    const fd = fs.openSync(file, 'r');
    let at = start;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      fs.closeSync(fd);
    };
    const tick = () => {
      if (res.destroyed) return finish();
      const buffer = Buffer.alloc(Math.min(CHUNK, size - at));
      const n = fs.readSync(fd, buffer, 0, buffer.length, at);
      at += n;
      if (at >= size || n === 0) {
        finish();
        res.end(buffer.subarray(0, n));
        return;
      }
      res.write(buffer.subarray(0, n));
      timer = setTimeout(tick, TICK_MS);
    };
    res.on('close', () => {
      if (at < size) finish();
    });
    tick();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    server,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('Quire models', () => {
  const hf = endpoint();
  const models = process.env.QUIRE_MODELS_DIR;
  let served: Served | null = null;

  before(async () => {
    await $('nav[aria-label="Sections"]').waitForDisplayed({ timeout: 30_000 });
    if (!models) throw new Error('QUIRE_MODELS_DIR is not set: run the tests through scripts/e2e.sh');
    if (fs.existsSync(path.join(models, FILE))) throw new Error(`${FILE} is already in ${models}: nothing to download`);
  });

  after(async () => {
    await served?.close();
  });

  it('shows the installed starter models with their fit, and the catalog', async () => {
    await $('[data-testid="nav-models"]').click();
    await $('[data-testid="screen-models"]').waitForDisplayed();
    const chat = $('[data-testid="model-row"][data-role="chat"]');
    const embedding = $('[data-testid="model-row"][data-role="embedding"]');
    await chat.waitForDisplayed({ timeout: 30_000 });
    await embedding.waitForDisplayed();
    expect(await $('[data-testid="models-dir"]').getText()).toBe(models);
    expect(await chat.getText()).toContain('SmolLM2-135M-Instruct.Q4_1.gguf');
    expect(await embedding.getText()).toContain('all-MiniLM-L6-v2.q8_0.gguf');
    for (const row of [chat, embedding]) {
      const fit = row.$('[data-testid="badge-fit"]');
      await fit.waitForDisplayed({ timeout: 30_000, timeoutMsg: 'an installed model has no fit badge' });
      // The starters are tiny: they fit this machine, on its GPU or its CPU.
      expect(['gpu', 'partial', 'cpu']).toContain(await fit.getAttribute('data-placement'));
      expect(await fit.getText()).toMatch(/^(Fits on GPU|Partial offload|CPU only)$/);
    }

    const catalog = $('[data-testid="catalog"]');
    await catalog.$('[data-testid="catalog-row"]').waitForDisplayed({ timeout: 30_000 });
    const rows = await catalog.$$('[data-testid="catalog-row"]').length;
    expect(rows).toBeGreaterThan(10);
    // The starter in the catalog is the installed file: no Download button, its fit read from the file.
    const starter = catalog.$('[data-testid="catalog-row"][data-id="smollm2-135m-instruct-q4_1"]');
    expect(await starter.$('[data-testid="catalog-installed"]').getText()).toBe('Installed');
    expect(await starter.$('[data-testid="catalog-download"]').isExisting()).toBe(false);
    expect(await starter.$('[data-testid="catalog-fit"]').getText()).not.toContain('estimate');
    // A model that is not here: a Download button and a fit estimated from its size.
    const other = catalog.$('[data-testid="catalog-row"][data-id="qwen3-0.6b-q4_k_m"]');
    expect(await other.$('[data-testid="catalog-download"]').isDisplayed()).toBe(true);
    const fit = other.$('[data-testid="catalog-fit"]');
    expect(await fit.getText()).toContain('(estimate)');
    expect(['gpu', 'partial', 'cpu', 'does_not_fit']).toContain(await fit.getAttribute('data-placement'));
    expect((await other.$('[data-testid="catalog-fit-summary"]').getText()).length).toBeGreaterThan(10);
    await screenshot('models-installed');
    await catalog.scrollIntoView({ block: 'start' });
    await screenshot('models-catalog');
  });

  it('says what to do when Hugging Face cannot be reached', async () => {
    // Nothing listens on HF_ENDPOINT yet.
    const query = $('[data-testid="hf-query"]');
    await query.scrollIntoView({ block: 'center' });
    await query.setValue('gemma 270m');
    await $('[data-testid="hf-submit"]').click();
    const advice = $('[data-testid="hf-advice"]');
    await advice.waitForDisplayed({ timeout: 60_000, timeoutMsg: 'no advice when Hugging Face is unreachable' });
    expect(await advice.getText()).toContain('can’t reach Hugging Face');
    expect(await $('[data-testid="hf-error"]').isDisplayed()).toBe(true);
    await screenshot('models-search-offline');
  });

  it('finds a model on Hugging Face, downloads it with progress and lists it as installed', async function () {
    this.timeout(300_000);
    const file = sourceFile();
    const size = fs.statSync(file).size;
    served = await serveHuggingFace(Number(hf.port), file, size, sha256Of(file));

    await $('[data-testid="hf-submit"]').click();
    const repo = $(`[data-testid="hf-repo"][data-repo="${REPO}"]`);
    await repo.waitForDisplayed({ timeout: 30_000, timeoutMsg: 'the search did not list the repository' });
    expect(await $('[data-testid="hf-advice"]').isExisting()).toBe(false);
    const entry = repo.$(`[data-testid="hf-file"][data-path="${FILE}"]`);
    expect(await entry.getText()).toContain('Q4_K_M');
    expect(await entry.getText()).not.toContain('no checksum published');
    await entry.$('[data-testid="hf-download"]').click();

    // The progress row: running, with bytes of the total, while the file arrives.
    const row = $(`[data-testid="download-row"][data-file="${FILE}"]`);
    await row.waitForExist({ timeout: 30_000, timeoutMsg: 'no download row' });
    const status = row.$('[data-testid="download-status"]');
    await browser.waitUntil(
      async () => (await row.getAttribute('data-state')) === 'running' && / of /.test(await status.getText()),
      { timeout: 60_000, interval: 100, timeoutMsg: 'the download row never showed bytes received while running' },
    );
    const during = await status.getText();
    expect(during).toMatch(/ of 253 MB/);
    await $('[data-testid="downloads"]').scrollIntoView({ block: 'start' });
    await screenshot('models-downloading');

    await browser.waitUntil(async () => ['done', 'failed'].includes((await row.getAttribute('data-state')) ?? ''), {
      timeout: 240_000,
      interval: 250,
      timeoutMsg: 'the download did not finish',
    });
    const failure = (await row.$('[data-testid="download-failure"]').isExisting())
      ? await row.$('[data-testid="download-failure"]').getText()
      : '';
    expect(`${await row.getAttribute('data-state')} ${failure}`.trim()).toBe('done');
    expect(await status.getText()).toBe('Installed · 253 MB');
    expect(served.requests.some((r) => r.url === `/${REPO}/resolve/main/${FILE}`)).toBe(true);

    // Installed: the file is in the models folder, whole, and listed as a chat model with its fit.
    const installed = path.join(models as string, FILE);
    expect(fs.statSync(installed).size).toBe(size);
    const model = $(`[data-testid="model-row"][data-path="${installed}"]`);
    await model.waitForDisplayed({ timeout: 30_000, timeoutMsg: 'the downloaded model was not listed' });
    expect(await model.getAttribute('data-role')).toBe('chat');
    expect(await model.getText()).toContain(FILE);
    expect(['gpu', 'partial', 'cpu']).toContain(await model.$('[data-testid="badge-fit"]').getAttribute('data-placement'));
    await model.scrollIntoView({ block: 'center' });
    await screenshot('models-downloaded');
  });
});
