import { defineConfig } from 'vitest/config';

// One worker process: the GPU tests share Dawn's software adapter, and 2 cores gain nothing from more.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
