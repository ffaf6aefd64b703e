// The case lists and checks the forced-tile GPU suites share (test/gpu-wide, gpu-split, gpu-held-keys
// and gpu-plain.test.ts): each file runs one tile family on its own contexts, so vitest can run the
// files side by side.
import { expect } from 'vitest';
import { ALL_KERNELS, cases, type Case } from './cases.js';
import { agrees } from './compare.js';
import type { GPUFixture } from './gpu-fixture.js';
import { runCase } from './run-case.js';

export const fusedCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('fused'));
export const splitCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('split-keys'));
export const weightCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('staged'));
// The log-sum-exp is another pipeline per head size and mask kind: the cases up to E = 16.
export const lseCasesSmall = fusedCases.filter((c) => c.E <= 16 && (c.Ev ?? c.E) <= 16);

type Kernel = 'fused' | 'split-keys';

/** Checks of fused (or split-keys) cases on one fixture's context (a tile forced there), against the reference. */
export function fusedChecks(seed: number) {
  return {
    async checkFused(fx: GPUFixture, tile: string, name: string, c: Case, kernel: Kernel = 'fused'): Promise<void> {
      for (const [result, a] of await runCase(fx.ctx, c, seed, kernel, 'output')) {
        expect(agrees(a), `${name} ${result} on the ${tile} tile, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
      }
      expect(fx.errors).toEqual([]);
    },
    /** The same with the log-sum-exp. */
    async checkFusedLse(fx: GPUFixture, tile: string, name: string, c: Case, kernel: Kernel = 'fused'): Promise<void> {
      for (const [result, a] of await runCase(fx.ctx, c, seed, kernel, 'log-sum-exp')) {
        expect(agrees(a), `${name} ${result} on the ${tile} tile, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
      }
    },
  };
}
