import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Two worker processes (up to four on bigger machines), each with its own Dawn device. Most GPU
// test time is pipeline compiles and small dispatches, which keep one core busy (gpu.test.ts
// measured 106 % CPU alone on 2 cores), so a second file runs beside it; the long GPU suites are
// split by tile family (test/gpu-*.test.ts) to give the workers even shares.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: Math.min(4, Math.max(2, availableParallelism())),
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
