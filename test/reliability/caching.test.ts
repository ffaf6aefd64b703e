// A repeated call compiles nothing and makes nothing: pipelines and shader modules are cached per
// device, the pool hands the same buffers back, and bind groups are cached on those buffers. GPU
// object creation is counted on a borrowed device by wrapping its create* entry points.
import { describe, expect, it } from 'vitest';
import { attentionReference, createAttention, type AttentionOptions, type KernelChoice } from '../../src/index.js';
import { makeInputs, type Case } from '../cases.js';
import { agrees, compare } from '../compare.js';
import { runSeed } from '../random.js';
import { borrowedDevice, bufferWith, GPUBufferUsageFlags, instrument, readBack, uncapturedErrors } from './helpers.js';

const seed = runSeed();

const made = (c: ReturnType<typeof instrument>) => ({
  createShaderModule: c.createShaderModule,
  createComputePipeline: c.createComputePipeline,
  createBindGroup: c.createBindGroup,
  createBuffer: c.createBuffer,
});

const calls: { name: string; c: Case; kernel: KernelChoice; api: 'attention' | 'weights' | 'lse' }[] = [
  { name: 'fused', c: { name: 'f', B: 1, H: 2, Lq: 37, Lk: 45, E: 16 }, kernel: 'fused', api: 'attention' },
  { name: 'fused with log-sum-exp, causal', c: { name: 'fl', B: 1, H: 2, Lq: 20, Lk: 33, E: 8, causal: true }, kernel: 'fused', api: 'lse' },
  { name: 'staged', c: { name: 's', B: 2, H: 1, Lq: 33, Lk: 31, E: 8 }, kernel: 'staged', api: 'attention' },
  { name: 'staged with weights and a boolean mask', c: { name: 'sw', B: 1, H: 2, Lq: 9, Lk: 40, E: 4, mask: { kind: 'boolean', broadcast: 'full', density: 0.6 } }, kernel: 'auto', api: 'weights' },
  { name: 'split-keys (auto, decoding)', c: { name: 'd', B: 1, H: 2, Lq: 1, Lk: 600, E: 8, Hkv: 1 }, kernel: 'auto', api: 'attention' },
  { name: 'scalar loads (E not a multiple of 4)', c: { name: 'e', B: 1, H: 1, Lq: 5, Lk: 7, E: 3, Ev: 5 }, kernel: 'fused', api: 'attention' },
];

describe(`caching (seed ${seed}; rerun with TEST_SEED=${seed})`, () => {
  for (const { name, c, kernel, api } of calls) {
    it(`${name}: the second call creates no shader module, pipeline, bind group or buffer`, async () => {
      const device = await borrowedDevice();
      const counters = instrument(device);
      const errors = uncapturedErrors(device);
      const ctx = await createAttention({ device });
      const { q, k, v, options } = makeInputs(c, seed, kernel);
      const run = async () => {
        if (api === 'weights') return (await ctx.attentionWithWeights(q, k, v, options)).output.data;
        if (api === 'lse') return (await ctx.attentionWithLogSumExp(q, k, v, options)).output.data;
        return (await ctx.attention(q, k, v, options)).data;
      };
      await run();
      const first = made(counters);
      expect(first.createComputePipeline).toBeGreaterThan(0); // the counters do see our calls
      expect(first.createBindGroup).toBeGreaterThan(0);
      for (let i = 0; i < 3; i++) {
        const out = await run();
        expect(agrees(compare(out, attentionReference(q, k, v, options as AttentionOptions).data))).toBe(true);
      }
      expect(made(counters)).toEqual(first);
      expect(errors).toEqual([]);
      ctx.destroy();
      device.destroy();
    });
  }

  it('encode() on the same buffers: the second encode creates nothing once the first one\'s work is done', async () => {
    const device = await borrowedDevice();
    const counters = instrument(device);
    const errors = uncapturedErrors(device);
    const ctx = await createAttention({ device });
    const c: Case = { name: 'enc', B: 1, H: 4, Lq: 1, Lk: 700, E: 8 }; // split-keys: scratch partials
    const { q, k, v } = makeInputs(c, seed);
    const S = GPUBufferUsageFlags.STORAGE | GPUBufferUsageFlags.COPY_DST | GPUBufferUsageFlags.COPY_SRC;
    const buffers = {
      q: bufferWith(device, q.data, S),
      k: bufferWith(device, k.data, S),
      v: bufferWith(device, v.data, S),
      output: bufferWith(device, new Float32Array(c.B * c.H * c.Lq * c.E), S),
    };
    const shape = { batch: 1, heads: 4, kvHeads: 4, queryLength: 1, keyLength: 700, headDim: 8, valueDim: 8 };
    const encodeOnce = async () => {
      const enc = device.createCommandEncoder();
      ctx.encode(enc, buffers, shape);
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
      await new Promise((r) => setTimeout(r, 10)); // the scratch goes back to the pool after the work
    };
    await encodeOnce();
    const first = made(counters);
    await encodeOnce();
    await encodeOnce();
    expect(made(counters)).toEqual(first);
    const out = await readBack(device, buffers.output, c.B * c.H * c.Lq * c.E);
    expect(agrees(compare(out, attentionReference(q, k, v).data))).toBe(true);
    expect(errors).toEqual([]);
    ctx.destroy();
    device.destroy();
  });
});
