import { availableParallelism } from 'node:os';
import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './scripts/chromium-launch.mjs';

// Headless Debian Chromium with WebGPU (SwiftShader without a GPU). Three servers: the case-table
// harness (Vite dev server over the built dist/), the static demo build (vite preview) and `npm start`.
// One seed for the whole run: workers inherit it, so every process builds the same inputs.
process.env.TEST_SEED ??= String(Math.floor(Math.random() * 2 ** 31));

export default defineConfig({
  testDir: 'test/browser',
  timeout: 120_000,
  // Two workers (one on a one-core machine, as vitest.config.ts does): a page's GPU work keeps about
  // one core busy. Every spec file runs in parallel mode: Playwright cuts each case-table file (it has
  // beforeAll/afterAll hooks) into a block of consecutive tests per worker, and hands demo.spec.ts's
  // tests out one by one, so the two workers finish together.
  workers: Math.min(2, Math.max(1, availableParallelism())),
  reporter: 'list',
  use: {
    browserName: 'chromium',
    launchOptions: chromiumLaunchOptions(),
  },
  webServer: [
    {
      command: 'npx vite --config test/browser/harness/vite.config.ts --port 4175 --strictPort',
      url: 'http://localhost:4175/',
      reuseExistingServer: !process.env.CI,
      timeout: 60_000,
    },
    {
      command: 'npx vite build --config vite.demo.config.ts && npx vite preview --config vite.demo.config.ts --port 4174 --strictPort',
      url: 'http://localhost:4174/',
      reuseExistingServer: !process.env.CI,
      timeout: 120_000,
    },
    {
      // `npm start`, the README's first command: the Vite dev server over the demo's sources.
      command: 'npm start -- --port 4176 --strictPort',
      url: 'http://localhost:4176/',
      reuseExistingServer: !process.env.CI,
      timeout: 60_000,
    },
  ],
});
