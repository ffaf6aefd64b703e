// The GPU-resident API: encode() into the caller's encoder on the caller's buffers computes what
// attention() computes, never submits or destroys, and leaves the caller's buffers alive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionInputError, attentionReferenceFull, type AttentionShape } from '../src/index.js';
import { cases, makeInputs } from './cases.js';
import { agrees, compare } from './compare.js';
import { maskDescriptor, nanBuffer, readBuffer, upload } from './gpu-buffers.js';
import { gpuFixture, type GPUFixture } from './gpu-fixture.js';
import { runSeed } from './random.js';

const seed = runSeed();
let fx: GPUFixture;
beforeAll(async () => {
  fx = await gpuFixture();
});
afterAll(() => {
  expect(fx.errors).toEqual([]);
  fx.ctx.destroy();
});

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

const picked = ['control', 'GQA + causal bottom-right + mask', 'bool mask full + dead rows', 'decode 1 x 700', 'E != Ev (3, 33)'];

describe(`encode() on caller buffers (seed ${seed})`, () => {
  it.each(picked)('%s: two problems in one encoder match attention() and the reference', async (name) => {
    const c = cases.find((x) => x.name === name)!;
    const device = fx.ctx.device;
    const { q, k, v, options } = makeInputs(c, seed);
    const shape: AttentionShape = {
      batch: c.B, heads: c.H, kvHeads: c.Hkv ?? c.H, queryLength: c.Lq, keyLength: c.Lk, headDim: c.E, valueDim: c.Ev ?? c.E,
    };
    const outFloats = c.B * c.H * c.Lq * shape.valueDim;
    const bufs = { q: upload(device, q.data), k: upload(device, k.data), v: upload(device, v.data) };
    const mask = options.mask ? upload(device, options.mask.data) : undefined;
    const maskDesc = maskDescriptor(options.mask);
    const out1 = nanBuffer(device, outFloats);
    const out2 = nanBuffer(device, outFloats);
    const weights = nanBuffer(device, c.B * c.H * c.Lq * c.Lk);

    const encoder = device.createCommandEncoder();
    const base = { scale: options.scale, causal: options.causal, mask: maskDesc };
    fx.ctx.encode(encoder, { ...bufs, mask, output: out1 }, shape, { ...base, kernel: 'fused' });
    fx.ctx.encode(encoder, { ...bufs, mask, output: out2, weights }, shape, { ...base, kernel: 'staged' });
    device.queue.submit([encoder.finish()]);

    const ref = attentionReferenceFull(q, k, v, options);
    const viaApi = await fx.ctx.attention(q, k, v, options);
    const got1 = await readBuffer(device, out1, outFloats);
    const got2 = await readBuffer(device, out2, outFloats);
    const gotW = await readBuffer(device, weights, c.B * c.H * c.Lq * c.Lk);
    for (const [what, got, want] of [
      ['fused output', got1, ref.output.data],
      ['staged output', got2, ref.output.data],
      ['weights', gotW, ref.weights.data],
      ['attention()', viaApi.data, ref.output.data],
    ] as const) {
      const a = compare(got, want);
      expect(agrees(a), `${name} ${what}, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
    }
    expect(compare(got1, viaApi.data).maxAbs).toBeLessThanOrEqual(2e-5);

    // The caller's buffers are still alive and unchanged.
    // Exactly: compare()'s maxAbs would skip a NaN written over them.
    for (const [name, b, t] of [['q', bufs.q, q], ['k', bufs.k, k], ['v', bufs.v, v]] as const) {
      expect(Array.from(await readBuffer(device, b, t.data.length)), `${name}, seed ${seed}`).toEqual(Array.from(t.data));
    }
    for (const b of [bufs.q, bufs.k, bufs.v, out1, out2, weights, mask]) b?.destroy();
  });

  // encode()'s scratch (split-keys partials, staged scores) goes back to the workspace at once, and its
  // uniform blocks are never rewritten: each recording writes its scratch before reading it, so
  // recording across awaits, with other calls of the context in between, and a late submit are right.
  it.each(['fused', 'split-keys', 'staged'] as const)(
    '%s: recorded across awaits with other calls in between, submitted late: both layers right',
    async (kernel) => {
      const device = fx.ctx.device;
      const layer = (name: string, s: number) => makeInputs({ name, B: 1, H: 2, Lq: kernel === 'split-keys' ? 2 : 16, Lk: kernel === 'split-keys' ? 300 : 16, E: 8 }, s);
      const one = layer('layer 1', seed + 11);
      const two = layer('layer 2', seed + 12);
      const shapeOf = (x: typeof one): AttentionShape => ({
        batch: 1, heads: 2, kvHeads: 2, queryLength: x.q.shape[2], keyLength: x.k.shape[2], headDim: 8, valueDim: 8,
      });
      const bufsOf = (x: typeof one) => ({ q: upload(device, x.q.data), k: upload(device, x.k.data), v: upload(device, x.v.data) });
      const [b1, b2] = [bufsOf(one), bufsOf(two)];
      const floats = 2 * one.q.shape[2] * 8;
      const [out1, out2] = [nanBuffer(device, floats), nanBuffer(device, floats)];
      const encoder = device.createCommandEncoder();
      fx.ctx.encode(encoder, { ...b1, output: out1 }, shapeOf(one), { kernel, causal: 'bottom-right' });
      await new Promise((r) => setTimeout(r, 20)); // a task boundary: the next layer's inputs arrive
      const other = makeInputs({ name: 'other', B: 1, H: 2, Lq: 5, Lk: 300, E: 8 }, seed + 13);
      await fx.ctx.attention(other.q, other.k, other.v, { kernel, scale: 3 }); // takes pooled scratch
      fx.ctx.encode(encoder, { ...b2, output: out2 }, shapeOf(two), { kernel });
      await new Promise((r) => setTimeout(r, 20));
      device.queue.submit([encoder.finish()]);
      const checks = [
        ['layer 1', await readBuffer(device, out1, floats), attentionReferenceFull(one.q, one.k, one.v, { causal: 'bottom-right' }).output.data],
        ['layer 2', await readBuffer(device, out2, floats), attentionReferenceFull(two.q, two.k, two.v).output.data],
      ] as const;
      for (const [what, got, want] of checks) {
        const a = compare(got, want);
        expect(agrees(a), `${kernel} ${what}, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
      }
      for (const b of [b1.q, b1.k, b1.v, b2.q, b2.k, b2.v, out1, out2]) b.destroy();
    },
  );

  // The command buffer may be submitted whenever the caller likes: finish() now, other calls of the
  // context (with other parameters, so other uniform blocks) recorded and run meanwhile, submit later.
  it.each(['fused', 'split-keys', 'staged'] as const)(
    '%s: finish() at once, submitted tasks later after other calls ran: the result is right',
    async (kernel) => {
      const device = fx.ctx.device;
      const dims = kernel === 'split-keys' ? { Lq: 2, Lk: 300 } : { Lq: 16, Lk: 16 };
      const x = makeInputs({ name: 'late', B: 1, H: 2, ...dims, E: 8 }, seed + 21);
      const shape: AttentionShape = { batch: 1, heads: 2, kvHeads: 2, queryLength: dims.Lq, keyLength: dims.Lk, headDim: 8, valueDim: 8 };
      const bufs = { q: upload(device, x.q.data), k: upload(device, x.k.data), v: upload(device, x.v.data) };
      const floats = 2 * dims.Lq * 8;
      const out = nanBuffer(device, floats);
      const late = device.createCommandEncoder();
      fx.ctx.encode(late, { ...bufs, output: out }, shape, { kernel, causal: 'bottom-right' });
      const commands = late.finish();
      await new Promise((r) => setTimeout(r, 30)); // the queue goes idle before other calls reuse the workspace
      // Another layer, recorded and submitted at once, with another scale and no causal limit.
      const other = makeInputs({ name: 'other', B: 1, H: 2, ...dims, E: 8 }, seed + 22);
      const ob = { q: upload(device, other.q.data), k: upload(device, other.k.data), v: upload(device, other.v.data) };
      const oout = nanBuffer(device, floats);
      const now = device.createCommandEncoder();
      fx.ctx.encode(now, { ...ob, output: oout }, shape, { kernel, scale: 3 });
      device.queue.submit([now.finish()]);
      await fx.ctx.attention(other.q, other.k, other.v, { kernel, scale: 0.5 });
      await new Promise((r) => setTimeout(r, 30));
      device.queue.submit([commands]);
      const checks = [
        ['late', await readBuffer(device, out, floats), attentionReferenceFull(x.q, x.k, x.v, { causal: 'bottom-right' }).output.data],
        ['other', await readBuffer(device, oout, floats), attentionReferenceFull(other.q, other.k, other.v, { scale: 3 }).output.data],
      ] as const;
      for (const [what, got, want] of checks) {
        const a = compare(got, want);
        expect(agrees(a), `${kernel} ${what}, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
      }
      for (const b of [bufs.q, bufs.k, bufs.v, ob.q, ob.k, ob.v, out, oout]) b.destroy();
    },
  );

  // One encoder, many layers of different parameters: each layer's uniform block is its own, though
  // the layers share the context's scratch.
  it('ten layers of different scales in one encoder: each right', async () => {
    const device = fx.ctx.device;
    const x = makeInputs({ name: 'layers', B: 1, H: 2, Lq: 2, Lk: 300, E: 8 }, seed + 31);
    const shape: AttentionShape = { batch: 1, heads: 2, kvHeads: 2, queryLength: 2, keyLength: 300, headDim: 8, valueDim: 8 };
    const bufs = { q: upload(device, x.q.data), k: upload(device, x.k.data), v: upload(device, x.v.data) };
    const scales = [0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 4];
    const outs = scales.map(() => nanBuffer(device, 32));
    const encoder = device.createCommandEncoder();
    scales.forEach((scale, i) => fx.ctx.encode(encoder, { ...bufs, output: outs[i] }, shape, { scale, kernel: i % 2 ? 'split-keys' : 'fused' }));
    device.queue.submit([encoder.finish()]);
    for (const [i, scale] of scales.entries()) {
      const a = compare(await readBuffer(device, outs[i], 32), attentionReferenceFull(x.q, x.k, x.v, { scale }).output.data);
      expect(agrees(a), `layer ${i} (scale ${scale}), seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
    }
    for (const b of [bufs.q, bufs.k, bufs.v, ...outs]) b.destroy();
  });

  it('rejects buffers that are too small or lack STORAGE usage, naming the buffer', () => {
    const device = fx.ctx.device;
    const shape: AttentionShape = { batch: 1, heads: 2, kvHeads: 2, queryLength: 8, keyLength: 8, headDim: 4, valueDim: 4 };
    const ok = () => device.createBuffer({ size: 256, usage: USAGE });
    const small = device.createBuffer({ size: 64, usage: USAGE });
    const noStorage = device.createBuffer({ size: 256, usage: GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    expect(() => fx.ctx.encode(enc, { q: small, k: ok(), v: ok(), output: ok() }, shape)).toThrow(AttentionInputError);
    expect(() => fx.ctx.encode(enc, { q: small, k: ok(), v: ok(), output: ok() }, shape)).toThrow(/buffers\.q has 64 bytes but the shape needs 256/);
    expect(() => fx.ctx.encode(enc, { q: ok(), k: ok(), v: ok(), output: noStorage }, shape)).toThrow(/buffers\.output.*lacks GPUBufferUsage\.STORAGE/);
    expect(() => fx.ctx.encode(enc, { q: ok(), k: ok(), v: ok(), output: ok() }, { ...shape, kvHeads: 3 })).toThrow(/multiple of kvHeads/);
    enc.finish(); // nothing was recorded: the encoder is still valid
  });
});
