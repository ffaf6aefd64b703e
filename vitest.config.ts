import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// One seed for the whole run, as playwright.config.ts does: every file's workers inherit it, so
// TEST_SEED=n repeats a run's inputs in every file.
process.env.TEST_SEED ??= String(Math.floor(Math.random() * 2 ** 31));

// A worker process per core, one to four, each with its own Dawn device. Most GPU
// test time is pipeline compiles and small dispatches, which keep one core busy (gpu.test.ts
// measured 106 % CPU alone on 2 cores), so a second file runs beside it; the long GPU suites are
// split by tile family (test/gpu-wide, gpu-split, gpu-held-keys, gpu-plain.test.ts) to give the workers even shares.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: Math.min(4, Math.max(1, availableParallelism())),
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
