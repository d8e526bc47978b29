/**
 * WebdriverIO drives the real Quire binary through tauri-driver (127.0.0.1:4444), which starts
 * WebKitWebDriver, which starts the app. scripts/e2e.sh sets up all of that and the environment below;
 * run the tests through it rather than directly.
 *
 *   QUIRE_APP              the app binary (default: $CARGO_TARGET_DIR/debug/quire-desktop)
 *   QUIRE_DATA_DIR         the throwaway data folder the app was started with (the tests check it)
 *   QUIRE_E2E_ARTIFACTS    where screenshots go (default: ./artifacts)
 *   TAURI_DRIVER_PORT      tauri-driver's port (default 4444)
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { keepEvidence } from './support.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const targetDir = process.env.CARGO_TARGET_DIR ?? path.resolve(here, '../../target');
const application = path.resolve(process.env.QUIRE_APP ?? path.join(targetDir, 'debug', 'quire-desktop'));

export const config: WebdriverIO.Config = {
  runner: 'local',
  hostname: '127.0.0.1',
  port: Number(process.env.TAURI_DRIVER_PORT ?? 4444),
  specs: ['./specs/**/*.e2e.ts'],
  // One app at a time: the tests share one display and one data folder.
  maxInstances: 1,
  capabilities: [
    {
      // tauri-driver turns this into WebKitWebDriver's options: start this binary as "the browser".
      'tauri:options': { application },
    },
  ],
  logLevel: 'warn',
  bail: 0,
  waitforTimeout: 10_000,
  connectionRetryTimeout: 60_000,
  connectionRetryCount: 2,
  framework: 'mocha',
  reporters: ['spec'],
  // Steps with the real models (indexing a 63-page PDF, answers in a debug build) take minutes.
  mochaOpts: { ui: 'bdd', timeout: 300_000 },

  // Keep a picture of whatever state a failing test left the window in.
  afterTest: async (test, _context, { passed }) => {
    if (!passed) await keepEvidence(`${test.parent} ${test.title}`);
  },
  afterHook: async (test, _context, { passed }) => {
    if (!passed) await keepEvidence(`${test.parent} ${test.title}`);
  },
};
