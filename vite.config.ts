import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// Library build (npm run build) → dist/index.js with every shader inlined; `npm start` serves the demo.
export default defineConfig({
  root: 'demo',
  build: {
    outDir: resolve(import.meta.dirname, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    lib: {
      entry: resolve(import.meta.dirname, 'src/index.ts'),
      formats: ['es'],
      fileName: () => 'index.js',
    },
    rollupOptions: { external: ['webgpu', /^node:/] },
    minify: false,
    sourcemap: true,
  },
  server: { fs: { allow: [resolve(import.meta.dirname)] } },
});
