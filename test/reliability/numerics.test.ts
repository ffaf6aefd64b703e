// Numerics on every kernel and on the tiles that differ in how they weigh keys: the scenarios of
// test/numerics-scenarios.ts (logits up to ±1e4, -Infinity and huge finite values in additive
// masks, rows with nothing to attend to, NaN and Inf in q, k and v), which scripts/gpu-check.ts
// also runs on a GPU machine.
import { describe, expect, it } from 'vitest';
import type { KernelChoice } from '../../src/index.js';
import { useGPUFixture, usePlainFixture, type GPUFixture } from '../gpu-fixture.js';
import { numericsScenarios } from '../numerics-scenarios.js';
import type { Case } from '../cases.js';
import { type Dispatch, ranPath, ranTile, tileRule } from '../dispatches.js';
import { quadSharing } from '../../src/tiles.js';
import { runSeed } from '../random.js';

const seed = runSeed();
const fixture = useGPUFixture();
// The fused kernel's workgroup tile, which 'auto' times only on GPUs: forced on a context of its own.
const workgroup = useGPUFixture({ fusedTile: 'workgroup' });
// And its held-keys tile (64 keys per invocation, merged per row), which 'auto' times on SwiftShader.
const heldKeys = useGPUFixture({ fusedTile: 'held-keys' });
// And the workgroup tile with the keys split between workgroups (merge.wgsl after), also a GPU tile.
const workgroupSplit = useGPUFixture({ fusedTile: 'workgroup-split' });
// And the split-keys path's workgroup tile (flash-decode.wgsl), which 'auto' uses on GPUs.
const splitWorkgroup = useGPUFixture({ splitKeysTile: 'workgroup' });

// And the plain kernels (flash, flash-split, scores and weighted-sum without quad sharing, as GPUs
// run them), the compact tile forced (no measurement).
const plain = usePlainFixture();

/** [label, kernel, tile, context]: each kernel on the default context, and the forced tiles. */
const CONTEXTS = [
  ['staged', 'staged', 'auto', fixture],
  ['fused', 'fused', 'auto', fixture],
  ['split-keys', 'split-keys', 'auto', fixture],
  ['fused, workgroup tile', 'fused', 'workgroup', workgroup],
  ['fused, held-keys tile', 'fused', 'held-keys', heldKeys],
  ['fused, workgroup-split tile', 'fused', 'workgroup-split', workgroupSplit],
  ['split-keys, workgroup tile', 'split-keys', 'split-workgroup', splitWorkgroup],
  ['staged, plain kernels', 'staged', 'plain', plain],
  ['fused, plain kernels', 'fused', 'plain', plain],
  ['split-keys, plain kernels', 'split-keys', 'plain', plain],
] as const satisfies readonly (readonly [string, KernelChoice, string, { readonly current: GPUFixture }])[];

// Each scenario's calls ran what its row names: under 'auto' the asked path's kernels; on a forced
// tile, that tile's (test/dispatches.ts; the scenarios' heads are 4 dims, which every tile holds).
const SCENARIO_HEADS = { name: 'numerics scenario', B: 1, H: 2, Lq: 6, Lk: 300, E: 4 } satisfies Case;
const ranWhatItSays = (kernel: KernelChoice, tile: string, ran: Dispatch[], quad: boolean) =>
  tile === 'auto' ? ranPath(kernel, ran) : ranTile(tileRule(tile, kernel), SCENARIO_HEADS, ran, quad);

describe(`numerics on every kernel (seed ${seed}; rerun with TEST_SEED=${seed})`, () => {
  for (const scenario of numericsScenarios) {
    const where = CONTEXTS.filter(([, kernel, tile]) => scenario.applies({ kernel, tile }));
    it.each(where)(`${scenario.name}, on %s`, async (_, kernel, tile, fx) => {
      const from = fx.current.dispatched.length;
      const failed = await scenario.run(fx.current.ctx, kernel, seed);
      expect(failed, `${kernel}, seed ${seed}`).toEqual([]);
      expect(fx.current.errors).toEqual([]);
      const ran = fx.current.dispatched.slice(from);
      expect(ranWhatItSays(kernel, tile, ran, quadSharing(fx.current.ctx.device)), `ran ${JSON.stringify(ran)}`).toBe(true);
      // Its 300 keys are split in 2 chunks there, the second merged with weight 0: the merge must run.
      if (tile === 'workgroup-split' && scenario.name.startsWith('padded keys')) {
        expect(ran.map((d) => d.kernel), 'the split tile merged its chunks').toContain('merge');
      }
    });
  }

  // The forced contexts ran their tiles' kernels (a right answer from another tile would pass).
  it('the forced tiles ran their kernels', () => {
    const ran = (fx: { readonly current: GPUFixture }) => [...new Set(fx.current.dispatched.map((d) => d.kernel))];
    expect(ran(workgroup)).toContain('flash-tiled');
    expect(ran(heldKeys).some((k) => /^flash-held-keys(-32)?$/.test(k)), JSON.stringify(ran(heldKeys))).toBe(true);
    expect(ran(workgroupSplit)).toContain('flash-tiled');
    expect(ran(splitWorkgroup)).toEqual(expect.arrayContaining(['flash-decode', 'merge-decode']));
    expect(ran(plain)).toEqual(expect.arrayContaining(['flash', 'flash-split', 'scores', 'weighted-sum']));
    expect(ran(plain).filter((k) => k.endsWith('-quad'))).toEqual([]);
  });
});
