import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// Serves the harness page; it imports the built library from dist/ and the shared case table.
export default defineConfig({
  root: resolve(import.meta.dirname),
  server: { fs: { allow: [resolve(import.meta.dirname, '../../..')] } },
  logLevel: 'warn',
});
