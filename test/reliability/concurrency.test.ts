// Many calls in flight at once on one context — mixed shapes, kernels, masks, entry points —
// each compared to the reference. Head dims stay at 8 so few pipelines compile on SwiftShader.
import { describe, expect, it } from 'vitest';
import { AttentionInputError, attentionReferenceFull, type KernelChoice } from '../../src/index.js';
import { makeInputs, type Case, type MaskSpec } from '../cases.js';
import { agrees, compare, LSE_FLOOR } from '../compare.js';
import { useGPUFixture } from '../gpu-fixture.js';
import { mulberry32, runSeed } from '../random.js';

const seed = runSeed();
const fixture = useGPUFixture();

const KERNELS: KernelChoice[] = ['staged', 'fused', 'split-keys', 'auto'];
const MASKS: (MaskSpec | undefined)[] = [
  undefined,
  { kind: 'boolean', broadcast: 'batch1', density: 0.6 },
  { kind: 'additive', broadcast: 'full', density: 0.7, deadRows: [1] },
];

function randomCase(rnd: () => number, i: number): { c: Case; kernel: KernelChoice } {
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const Hkv = int(1, 2);
  const c: Case = {
    name: `call ${i}`,
    B: int(1, 2),
    H: Hkv * int(1, 3),
    Hkv,
    Lq: int(1, 70),
    Lk: i % 5 === 0 ? int(256, 400) : int(1, 90), // some decoding-sized key ranges (split-keys really splits)
    E: 8,
    Ev: 8,
    causal: ([undefined, true, 'bottom-right'] as const)[int(0, 2)],
    mask: MASKS[i % MASKS.length],
  };
  return { c, kernel: KERNELS[i % KERNELS.length] };
}

describe(`concurrency (seed ${seed}; rerun with TEST_SEED=${seed})`, () => {
  it('30 attention() calls in flight at once, mixed shapes, kernels and masks: all right', async () => {
    const rnd = mulberry32(seed);
    const calls = Array.from({ length: 30 }, (_, i) => {
      const { c, kernel } = randomCase(rnd, i);
      const { q, k, v, options } = makeInputs(c, seed + i, kernel);
      return { c, kernel, q, k, v, options, promise: fixture.current.ctx.attention(q, k, v, options) };
    });
    const outs = await Promise.all(calls.map((x) => x.promise));
    outs.forEach((out, i) => {
      const { c, kernel, q, k, v, options } = calls[i];
      const ref = attentionReferenceFull(q, k, v, options).output;
      expect(out.shape).toEqual(ref.shape);
      const a = compare(out.data, ref.data);
      expect(agrees(a), `${JSON.stringify({ ...c, kernel })}, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
    });
  });

  it('all three entry points and some bad calls in flight together: results right, bad ones rejected', async () => {
    const rnd = mulberry32(seed + 1);
    const jobs = Array.from({ length: 24 }, (_, i) => {
      const { c } = randomCase(rnd, i);
      const { q, k, v, options } = makeInputs(c, seed + 100 + i);
      const ref = attentionReferenceFull(q, k, v, options);
      switch (i % 4) {
        case 0:
          return fixture.current.ctx.attention(q, k, v, options).then((o) => {
            expect(agrees(compare(o.data, ref.output.data)), `attention ${i}`).toBe(true);
          });
        case 1:
          return fixture.current.ctx.attentionWithWeights(q, k, v, options).then((o) => {
            expect(agrees(compare(o.weights.data, ref.weights.data)), `weights ${i}`).toBe(true);
            expect(agrees(compare(o.output.data, ref.output.data)), `weights output ${i}`).toBe(true);
          });
        case 2:
          return fixture.current.ctx.attentionWithLogSumExp(q, k, v, { ...options, kernel: i % 8 === 2 ? 'split-keys' : 'fused' }).then((o) => {
            expect(agrees(compare(o.logSumExp.data, ref.logSumExp.data, LSE_FLOOR)), `lse ${i}`).toBe(true);
            expect(agrees(compare(o.output.data, ref.output.data)), `lse output ${i}`).toBe(true);
          });
        default:
          return fixture.current.ctx.attention(q, { ...k, shape: [...k.shape.slice(0, -1), 7] }, v, options).then(
            () => expect.unreachable('a bad call resolved'),
            (e) => expect(e).toBeInstanceOf(AttentionInputError),
          );
      }
    });
    await Promise.all(jobs);
  });

  it('the same inputs many times at once give identical outputs (no shared scratch between calls)', async () => {
    const c: Case = { name: 'same', B: 1, H: 2, Lq: 33, Lk: 300, E: 8 };
    const { q, k, v } = makeInputs(c, seed + 7);
    const outs = await Promise.all(
      Array.from({ length: 12 }, (_, i) => fixture.current.ctx.attention(q, k, v, { kernel: (['staged', 'fused', 'split-keys'] as const)[i % 3] })),
    );
    const ref = attentionReferenceFull(q, k, v).output.data;
    outs.forEach((o) => expect(agrees(compare(o.data, ref))).toBe(true));
    for (let i = 3; i < outs.length; i++) expect(outs[i].data).toEqual(outs[i % 3].data);
  });
});
