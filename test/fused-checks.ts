// The case lists and checks the forced-tile GPU suites share (test/gpu-wide, gpu-split, gpu-held-keys
// and gpu-plain.test.ts): each file runs one tile family on its own contexts, so vitest can run the
// files side by side.
import { expect } from 'vitest';
import { ALL_KERNELS, cases, type Case } from './cases.js';
import { agrees } from './compare.js';
import { quadSharing } from '../src/tiles.js';
import { ranTile } from './dispatches.js';
import type { GPUFixture } from './gpu-context.js';
import { runCase } from './run-case.js';

export const fusedCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('fused'));
export const splitCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('split-keys'));
export const weightCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('staged'));

type Kernel = 'fused' | 'split-keys';

/** Checks of fused (or split-keys) cases on one fixture's context (a tile forced there), against the reference. */
export function fusedChecks(seed: number) {
  const check = async (fx: GPUFixture, tile: string, name: string, c: Case, kernel: Kernel, mode: 'output' | 'log-sum-exp') => {
    const from = fx.dispatched.length;
    for (const [result, a] of await runCase(fx.ctx, c, seed, kernel, mode)) {
      expect(agrees(a), `${name} ${result} on the ${tile} tile, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
    }
    const ran = fx.dispatched.slice(from);
    expect(ranTile(tile, c, ran, quadSharing(fx.ctx.device)), `${name}: the ${tile} tile's kernels, but the call ran ${JSON.stringify(ran)}`).toBe(true);
    expect(fx.errors).toEqual([]);
  };
  return {
    checkFused: (fx: GPUFixture, tile: string, name: string, c: Case, kernel: Kernel = 'fused') => check(fx, tile, name, c, kernel, 'output'),
    /** The same with the log-sum-exp. */
    checkFusedLse: (fx: GPUFixture, tile: string, name: string, c: Case, kernel: Kernel = 'fused') => check(fx, tile, name, c, kernel, 'log-sum-exp'),
  };
}
