// Static build of the demo page (`npm run build:demo`): relative base, so dist-demo/ works from any
// static host or sub-path. `npx vite preview --config vite.demo.config.ts` serves it on port 4174.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('./demo', import.meta.url));

export default defineConfig({
  root,
  base: './',
  build: {
    outDir: fileURLToPath(new URL('./dist-demo', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
  preview: { port: 4174, strictPort: true },
});
