// Every case of the shared table on every kernel, on a real WebGPU device in Node (Dawn),
// against the float64 CPU reference. Fresh inputs each run; the seed is in every failure message.
// The forced tiles' suites are test/gpu-wide, gpu-split, gpu-held-keys and gpu-plain.test.ts (one
// tile family a file, so that they run side by side).
import { describe, expect, it } from 'vitest';
import { attentionReferenceFull } from '../src/index.js';
import { ALL_KERNELS, cases, makeInputs } from './cases.js';
import { agrees, compare, LSE_FLOOR } from './compare.js';
import { fusedCases, weightCases } from './fused-checks.js';
import { ranTile } from './dispatches.js';
import { useGPUFixture } from './gpu-fixture.js';
import { quadSharing } from '../src/tiles.js';
import { runSeed } from './random.js';

const seed = runSeed();
// The compact tile forced: the fused rows check its kernel (under 'auto' it is compact too until a
// context has done 1e9 FLOPs of such work, which this table does not reach; that rule is caching.test.ts's).
const fixture = useGPUFixture({ fusedTile: 'compact' });

const rows = cases.flatMap((c) => (c.kernels ?? ALL_KERNELS).map((kernel) => [c.name, kernel, c] as const));

// The first case of a head size compiles its pipelines: E = 128 on fused took 11-30 s in CI runs on
// 2 cores while compact held q in registers there (3.5-4 s since session 29), so a slow day's
// timeout is 3 minutes rather than vitest's 1.
describe(`every case on every kernel (seed ${seed}; rerun with TEST_SEED=${seed})`, { timeout: 180_000 }, () => {
  it.each(rows)('%s on %s', async (name, kernel, c) => {
    const { q, k, v, options } = makeInputs(c, seed, kernel);
    const ref = attentionReferenceFull(q, k, v, options);
    const from = fixture.current.dispatched.length;
    const out = await fixture.current.ctx.attention(q, k, v, options);
    expect(out.shape).toEqual(ref.output.shape);
    const a = compare(out.data, ref.output.data);
    expect(agrees(a), `${name} on ${kernel}, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
    if (kernel === 'fused') {
      // The compact tile's kernel, with q in registers or not by the head size.
      const ran = fixture.current.dispatched.slice(from);
      expect(ranTile('compact', c, ran, quadSharing(fixture.current.ctx.device)), `${name}: ran ${JSON.stringify(ran)}`).toBe(true);
    }
    expect(fixture.current.errors).toEqual([]);
  });
});

describe(`attentionWithWeights returns the post-mask softmax (seed ${seed})`, { timeout: 180_000 }, () => {
  it.each(weightCases.map((c) => [c.name, c] as const))('%s', async (name, c) => {
    const { q, k, v, options } = makeInputs(c, seed);
    const ref = attentionReferenceFull(q, k, v, options);
    const got = await fixture.current.ctx.attentionWithWeights(q, k, v, options);
    expect(got.weights.shape).toEqual(ref.weights.shape);
    const aw = compare(got.weights.data, ref.weights.data);
    const ao = compare(got.output.data, ref.output.data);
    expect(agrees(aw), `${name} weights, seed ${seed}: ${JSON.stringify(aw)}`).toBe(true);
    expect(agrees(ao), `${name} output, seed ${seed}: ${JSON.stringify(ao)}`).toBe(true);
  });
});

describe(`attentionWithLogSumExp matches the reference's log-sum-exp (seed ${seed})`, { timeout: 180_000 }, () => {
  it.each(fusedCases.flatMap((c) => (['fused', 'split-keys'] as const).map((kn) => [c.name, kn, c] as const)))(
    '%s on %s',
    async (name, kernel, c) => {
      const { q, k, v, options } = makeInputs(c, seed, kernel);
      const ref = attentionReferenceFull(q, k, v, options);
      const got = await fixture.current.ctx.attentionWithLogSumExp(q, k, v, options);
      expect(got.logSumExp.shape).toEqual(ref.logSumExp.shape);
      const a = compare(got.logSumExp.data, ref.logSumExp.data, LSE_FLOOR);
      expect(agrees(a), `${name} lse on ${kernel}, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
      const ao = compare(got.output.data, ref.output.data);
      expect(agrees(ao), `${name} output on ${kernel}, seed ${seed}: ${JSON.stringify(ao)}`).toBe(true);
    },
  );
});
