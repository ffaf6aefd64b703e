// `node --import ./scripts/raw-import.mjs`: lets Node (and tsx) load Vite's `?raw` imports of the
// WGSL files as strings, so scripts can run the library's sources without a Vite build.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
      import { readFile } from 'node:fs/promises';
      export async function load(url, context, next) {
        if (!url.startsWith('file:') || !url.endsWith('?raw')) return next(url, context);
        const text = await readFile(new URL(url.slice(0, -'?raw'.length)), 'utf8');
        return { format: 'module', source: 'export default ' + JSON.stringify(text) + ';', shortCircuit: true };
      }`),
);
