// The case lists and checks the forced-tile GPU suites share (test/gpu-wide, gpu-split, gpu-held-keys
// and gpu-plain.test.ts): each file runs one tile family on its own contexts, so vitest can run the
// files side by side.
import { expect } from 'vitest';
import { ALL_KERNELS, cases, type Case } from './cases.js';
import { agrees } from './compare.js';
import { heldKeysFit, quadSharing } from '../src/tiles.js';
import type { Dispatch, GPUFixture } from './gpu-context.js';
import { runCase } from './run-case.js';

export const fusedCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('fused'));
export const splitCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('split-keys'));
export const weightCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('staged'));
// The log-sum-exp is another pipeline per head size and mask kind: the cases up to E = 16.
export const lseCasesSmall = fusedCases.filter((c) => c.E <= 16 && (c.Ev ?? c.E) <= 16);

type Kernel = 'fused' | 'split-keys';

/** flash.wgsl's named blocks hold heads up to 128 (src/tiles.ts namedBlocksFit): the wide tile's. */
const namedBlocksHold = (c: Case) => Math.ceil(c.E / 4) <= 32 && Math.ceil((c.Ev ?? c.E) / 4) <= 32;
/** A fused register tile: wide (RG > 1 row groups an invocation) or compact (RG 1). */
const flash = (ran: Dispatch[], wide: boolean) => ran.some((d) => /^flash(-quad)?$/.test(d.kernel) && (d.constants.RG ?? 1) > 1 === wide);
const noQuad = (ran: Dispatch[]) => ran.every((d) => !d.kernel.endsWith('-quad'));
const has = (ran: Dispatch[], kernel: string) => ran.some((d) => d.kernel === kernel);

/**
 * Whether the pipelines a call set are the forced tile's (a right answer from another tile would
 * pass the reference comparison): each tile label the suites use, and where a tile hands a case to
 * another (wide past 128 dims to compact; held-keys, where it does not hold the heads, to wide).
 */
function ranTile(tile: string, c: Case, ran: Dispatch[], quad: boolean): boolean {
  switch (tile) {
    case 'wide':
      return flash(ran, namedBlocksHold(c));
    case 'plain wide':
      return flash(ran, namedBlocksHold(c)) && noQuad(ran);
    case 'plain compact':
      return flash(ran, false) && noQuad(ran);
    case 'plain split-keys':
      return has(ran, 'flash-split') && noQuad(ran);
    case 'workgroup':
      return has(ran, 'flash-tiled') && !has(ran, 'merge');
    case 'workgroup-split':
      return has(ran, 'flash-tiled');
    case 'held-keys':
      return quad && heldKeysFit({ headDim: c.E, valueDim: c.Ev ?? c.E })
        ? ran.some((d) => /^flash-held-keys(-32)?$/.test(d.kernel)) && has(ran, 'merge-rows')
        : flash(ran, namedBlocksHold(c));
    case 'split-keys workgroup':
      return has(ran, 'flash-decode') && has(ran, 'merge-decode');
    default:
      throw new Error(`fused-checks: no rule for the kernels of tile '${tile}'`);
  }
}

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
