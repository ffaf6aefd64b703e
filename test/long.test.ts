// Lengths past the staged path's reach, and grids past maxComputeWorkgroupsPerDimension.
// The GPU computes every row; the float64 reference checks sampled rows, so the test stays fast.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attentionReferenceFull, createAttention, DeviceLimitError, type AttentionContext } from '../src/index.js';
import { agrees, compare } from './compare.js';
import { defaultLimitsDevice } from './gpu-fixture.js';
import { mulberry32, runSeed } from './random.js';

const seed = runSeed();
let ctx: AttentionContext;
let device: GPUDevice;
let gpu: GPU; // held so Dawn's instance outlives the device
const errors: string[] = [];

beforeAll(async () => {
  ({ device, gpu } = await defaultLimitsDevice());
  device.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message));
  ctx = await createAttention({ device });
});
afterAll(() => {
  ctx.destroy();
  device.destroy();
  expect(gpu).toBeDefined();
  expect(errors).toEqual([]);
});

function tensors(B: number, H: number, Lq: number, Lk: number, E: number, s: number) {
  const rnd = mulberry32(s);
  const f = (n: number) => Float32Array.from({ length: n }, () => rnd() * 2 - 1);
  return {
    q: { data: f(B * H * Lq * E), shape: [B, H, Lq, E] },
    k: { data: f(B * H * Lk * E), shape: [B, H, Lk, E] },
    v: { data: f(B * H * Lk * E), shape: [B, H, Lk, E] },
  };
}

/** Compares only the sampled query rows of a [1, 1, Lq, Ev] result. */
function checkRows(got: Float32Array, ref: Float32Array, rows: number[], Ev: number, what: string) {
  const pick = (a: Float32Array) => Float32Array.from(rows.flatMap((r) => Array.from(a.subarray(r * Ev, (r + 1) * Ev))));
  const a = compare(pick(got), pick(ref));
  expect(agrees(a), `${what}, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
}

describe(`sequence longer than the staged path can hold (seed ${seed})`, () => {
  // One head, L = S = 8192: the staged score matrix is 256 MiB, over the default 128 MiB binding.
  // E = 16 keeps the software adapter's time reasonable; the memory argument is the same.
  const L = 8192;
  const E = 16;
  const { q, k, v } = tensors(1, 1, L, L, E, seed);

  it('the staged path refuses it with a DeviceLimitError naming the limit, before any GPU work', async () => {
    expect(device.limits.maxStorageBufferBindingSize).toBeLessThan(L * L * 4);
    await expect(ctx.attention(q, k, v, { kernel: 'staged' })).rejects.toThrow(DeviceLimitError);
    await expect(ctx.attention(q, k, v, { kernel: 'staged' })).rejects.toThrow(/maxStorageBufferBindingSize.*'fused'/);
    await expect(ctx.attentionWithWeights(q, k, v)).rejects.toThrow(DeviceLimitError);
  });

  it("'auto' runs it (fused, causal) and matches the reference on sampled rows", async () => {
    const rows = [0, 1, 63, 64, 4095, 4096, 8190, 8191];
    const out = await ctx.attention(q, k, v, { causal: true });
    const ref = attentionReferenceFull(q, k, v, { causal: true }, rows);
    checkRows(out.data, ref.output.data, rows, E, 'L=S=8192 auto');
  }, 300_000);
});

describe(`grids past 65535 workgroups are folded into 2-D (seed ${seed})`, () => {
  // Query rows of three keys each: the fused kernel runs 64 rows a workgroup, the staged scores and
  // weighted-sum kernels 32 rows a tile, so these lengths need 65600 workgroups.
  const cases = [
    { kernel: 'fused' as const, rowsPerWorkgroup: 64 },
    { kernel: 'staged' as const, rowsPerWorkgroup: 32 },
  ];
  it.each(cases)('$kernel matches the reference on rows at and past the fold', async ({ kernel, rowsPerWorkgroup }) => {
    const Lq = 65600 * rowsPerWorkgroup;
    const { q, k, v } = tensors(1, 1, Lq, 3, 1, seed + 1);
    const fold = 65535 * rowsPerWorkgroup;
    const rows = [0, 1, fold - 1, fold, fold + 1, Lq - 2, Lq - 1];
    expect(Math.ceil(Lq / rowsPerWorkgroup)).toBeGreaterThan(device.limits.maxComputeWorkgroupsPerDimension);
    const out = await ctx.attention(q, k, v, { kernel });
    const ref = attentionReferenceFull(q, k, v, {}, rows);
    checkRows(out.data, ref.output.data, rows, 1, `${kernel} folded grid`);
  }, 120_000);
});
