/// <reference types="vitest/config" />
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';

/**
 * pdf.js's character maps (for CJK and other non-embedded encodings) and standard fonts, served by the app
 * itself under `pdfjs/` (see src/lib/chat/pdf.ts): copied into the build, and served from node_modules by
 * the dev server.
 */
function pdfjsAssets(): Plugin {
  const root = fileURLToPath(new URL('./node_modules/pdfjs-dist/', import.meta.url));
  const folders = ['cmaps', 'standard_fonts'];
  return {
    name: 'quire-pdfjs-assets',
    configureServer(server) {
      server.middlewares.use('/pdfjs', (req, res, next) => {
        const [folder, name, ...rest] = (req.url ?? '').split('?')[0]!.split('/').filter(Boolean);
        const file = folder && name && rest.length === 0 && folders.includes(folder) ? join(root, folder, name) : null;
        if (!file || name!.startsWith('.') || !existsSync(file)) return next();
        res.setHeader('Content-Type', 'application/octet-stream');
        res.end(readFileSync(file));
      });
    },
    generateBundle() {
      // Their licence files travel with them.
      for (const folder of folders) {
        for (const name of readdirSync(join(root, folder))) {
          this.emitFile({ type: 'asset', fileName: `pdfjs/${folder}/${name}`, source: readFileSync(join(root, folder, name)) });
        }
      }
    },
  };
}

// The Tauri CLI starts this dev server (`beforeDevCommand`) and loads `devUrl` from tauri.conf.json,
// so the port is fixed: a busy port must fail rather than silently move.
export default defineConfig({
  plugins: [svelte(), svelteTesting(), pdfjsAssets()],
  resolve: {
    alias: { $lib: fileURLToPath(new URL('./src/lib', import.meta.url)) },
  },
  clearScreen: false,
  server: {
    port: 5173,
    strictPort: true,
    // Rust sources change under the Tauri CLI's own watcher, not Vite's.
    watch: { ignored: ['**/src-tauri/**', '**/crates/**'] },
  },
  envPrefix: ['VITE_', 'TAURI_ENV_'],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The app ships no source maps: nothing in the bundle points outside it.
    sourcemap: false,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['./src/test/setup.ts'],
    restoreMocks: true,
  },
});
