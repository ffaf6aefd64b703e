// Lengths past the staged path's reach, and grids past maxComputeWorkgroupsPerDimension.
// The GPU computes every row; the float64 reference checks sampled rows, so the test stays fast.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attentionReferenceFull, createAttention, DeviceLimitError, type AttentionContext } from '../src/index.js';
import { agrees, compare } from './compare.js';
import { type Dispatch, recordDispatches } from './dispatches.js';
import { defaultLimitsDevice, poisoned } from './gpu-fixture.js';
import { mulberry32, runSeed } from './random.js';

const seed = runSeed();
let ctx: AttentionContext;
let device: GPUDevice;
const held: GPU[] = []; // Dawn's instance must outlive the device
const errors: string[] = [];
/** Every dispatchWorkgroups(x, y, z) recorded on the device, in order. */
const grids: [number, number, number][] = [];
/** The pipelines the calls set (test/dispatches.ts). */
const dispatched: Dispatch[] = [];


beforeAll(async () => {
  const { device: d, gpu } = await defaultLimitsDevice(); // no subgroups: the plain kernels
  device = d;
  held.push(gpu);
  device.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message));
  const createEncoder = device.createCommandEncoder.bind(device);
  device.createCommandEncoder = (desc?: GPUCommandEncoderDescriptor) => {
    const encoder = createEncoder(desc);
    const begin = encoder.beginComputePass.bind(encoder);
    encoder.beginComputePass = (pd?: GPUComputePassDescriptor) => {
      const pass = begin(pd);
      const dispatch = pass.dispatchWorkgroups.bind(pass);
      pass.dispatchWorkgroups = (x: number, y = 1, z = 1) => {
        grids.push([x, y, z]);
        dispatch(x, y, z);
      };
      return pass;
    };
    return encoder;
  };
  recordDispatches(device, dispatched);
  // Compact, so no tile measurement compiles in the background.
  ctx = await createAttention(poisoned({ device, fusedTile: 'compact' }));
});
afterAll(() => {
  ctx.destroy();
  device.destroy();
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
  // The rows not sampled were written too: outputs are poisoned with NaN before the run.
  const unwritten = got.findIndex((x) => !Number.isFinite(x));
  expect(unwritten, `${what}, seed ${seed}: element ${unwritten} not finite`).toBe(-1);
}

describe(`sequence longer than the staged path can hold (seed ${seed})`, () => {
  // One head, L = S = 8192: the staged score matrix is 256 MiB, over the default 128 MiB binding.
  // E = 16 keeps the software adapter's time reasonable; the memory argument is the same.
  const L = 8192;
  const E = 16;
  const { q, k, v } = tensors(1, 1, L, L, E, seed);

  it('the staged path refuses it with a DeviceLimitError naming the limit, before any GPU work', async () => {
    expect(device.limits.maxStorageBufferBindingSize).toBeLessThan(L * L * 4);
    const dispatched = grids.length;
    await expect(ctx.attention(q, k, v, { kernel: 'staged' })).rejects.toThrow(DeviceLimitError);
    await expect(ctx.attention(q, k, v, { kernel: 'staged' })).rejects.toThrow(/maxStorageBufferBindingSize.*'fused'/);
    await expect(ctx.attentionWithWeights(q, k, v)).rejects.toThrow(DeviceLimitError);
    expect(grids.length, 'dispatches recorded by the refused calls').toBe(dispatched);
  });

  it("'auto' runs it (fused, causal) and matches the reference on sampled rows", async () => {
    const rows = [0, 1, 63, 64, 4095, 4096, 8190, 8191];
    const from = dispatched.length;
    const out = await ctx.attention(q, k, v, { causal: true });
    // The fused kernel (this device has no subgroups: the plain one), not a path that stores scores.
    expect(dispatched.slice(from).map((d) => d.kernel)).toEqual(['flash']);
    const ref = attentionReferenceFull(q, k, v, { causal: true }, rows);
    checkRows(out.data, ref.output.data, rows, E, 'L=S=8192 auto');
  }, 300_000);
});

describe(`grids past 65535 workgroups are folded into 2-D (seed ${seed})`, () => {
  // Query rows of three keys each, so many that the kernel's grid needs 65600 workgroups: the
  // compact fused tile runs 4 rows x 64 invocations a workgroup, the staged scores and weighted-sum
  // kernels 32 rows a tile, split-keys 16 (row, chunk) items a workgroup (one chunk here).
  const cases = [
    { kernel: 'fused' as const, rowsPerWorkgroup: 256 },
    { kernel: 'staged' as const, rowsPerWorkgroup: 32 },
    { kernel: 'split-keys' as const, rowsPerWorkgroup: 16 },
  ];
  it.each(cases)('$kernel: the grid is folded, and rows at and past the fold match the reference', async ({ kernel, rowsPerWorkgroup }) => {
    const Lq = 65600 * rowsPerWorkgroup;
    const { q, k, v } = tensors(1, 1, Lq, 3, 1, seed + 1);
    // foldGrid makes it 32800 x 2: row 1 of the grid starts at workgroup 32800. Also sampled: the
    // rows past 65535 workgroups (a 1-D index there would be out of range).
    const second = 32800 * rowsPerWorkgroup;
    const fold = 65535 * rowsPerWorkgroup;
    const rows = [0, 1, second - 1, second, second + 1, fold - 1, fold, fold + 1, Lq - 2, Lq - 1];
    const limit = device.limits.maxComputeWorkgroupsPerDimension;
    expect(Math.ceil(Lq / rowsPerWorkgroup)).toBeGreaterThan(limit);
    grids.length = 0;
    const out = await ctx.attention(q, k, v, { kernel });
    // The call's biggest grid really was folded: a second dimension, nothing over the limit.
    const biggest = grids.reduce((a, g) => (g[0] * g[1] * g[2] > a[0] * a[1] * a[2] ? g : a), [0, 1, 1]);
    expect(biggest, `grids ${JSON.stringify(grids)}`).toEqual([32800, 2, 1]);
    expect(grids.every((g) => g.every((n) => n <= limit))).toBe(true);
    const ref = attentionReferenceFull(q, k, v, {}, rows);
    checkRows(out.data, ref.output.data, rows, 1, `${kernel} folded grid`);
  }, 120_000);
});
