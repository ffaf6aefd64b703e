import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// One seed for the whole run, as playwright.config.ts does: every file's workers inherit it, so
// TEST_SEED=n repeats a run's inputs in every file.
process.env.TEST_SEED ??= String(Math.floor(Math.random() * 2 ** 31));

// A worker process per core, one to four, each with its own Dawn device. Most GPU
// test time is pipeline compiles and small dispatches, which keep one core busy (gpu.test.ts
// measured 106 % CPU alone on 2 cores), so a second file runs beside it; the long GPU suites are
// split by tile family (test/gpu-wide, gpu-split, gpu-held-keys, gpu-plain.test.ts) to give the workers even shares.

// The longest files first, so that the workers finish together: on a clean clone (CI) vitest knows
// no durations and starts the largest files first, and gpu.test.ts (short, ~80 s) started last.
// The order is a CI run's on 2 cores; the files not named follow in vitest's order.
const LONGEST = ['gpu-wide', 'reliability/caching', 'gpu-split', 'gpu', 'gpu-plain', 'gpu-held-keys', 'gpu-check', 'kv-cache', 'long', 'reliability/tuning', 'reliability/numerics']
  .map((name) => `test/${name}.test.ts`);

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = LONGEST.indexOf(relative(import.meta.dirname, f.moduleId).replaceAll('\\', '/'));
      return i < 0 ? LONGEST.length : i;
    };
    const order = await super.sort(files);
    return order.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: Math.min(4, Math.max(1, availableParallelism())),
    testTimeout: 60_000,
    sequence: { sequencer: LongestFirst },
    hookTimeout: 60_000,
  },
});
