// Runs the shared case table in a real page against the built library (dist/), for Playwright.
import { attentionReferenceFull, createAttention } from '../../../dist/index.js';
import type { AttentionContext, KernelChoice } from '../../../dist/index.js';
import { cases, makeInputs } from '../../cases.js';
import { compare, LSE_FLOOR } from '../../compare.js';
import { kvCacheOf, maskDescriptor, nanBuffer, readBuffer, upload as uploadTo } from '../../gpu-buffers.js';
import { type Dispatch, recordDispatches } from '../../dispatches.js';
import { quadSharing } from '../../../src/tiles.js';

/**
 * 'plain': a device without 'subgroups', so the plain kernels run (as on GPUs), not the quad-shared ones.
 * 'split-workgroup': the split-keys path's workgroup tile (GPUs' default), the fused tile 'auto'.
 */
type Tile = 'auto' | 'wide' | 'workgroup' | 'workgroup-split' | 'held-keys' | 'plain' | 'split-workgroup';
type Mode = 'output' | 'weights' | 'lse';
const ctxPromises = new Map<Tile, Promise<AttentionContext>>();
const gpuErrors: string[] = [];
/** The pipelines each context's compute passes set, so the specs can check a forced tile ran. */
const dispatched = new Map<AttentionContext, Dispatch[]>();

/** One context per fused tile: 'auto' (the default), and the others forced so the browser's Tint compiles them too. */
function context(tile: Tile): Promise<AttentionContext> {
  let p = ctxPromises.get(tile);
  if (!p) {
    p = (async () => {
      let device: GPUDevice | undefined;
      if (tile === 'plain') {
        const adapter = await navigator.gpu.requestAdapter();
        if (!adapter) throw new Error('no WebGPU adapter');
        device = await adapter.requestDevice({
          requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
        });
      }
      const tiles = tile === 'split-workgroup' ? { splitKeysTile: 'workgroup' } : { fusedTile: tile === 'plain' ? 'compact' : tile };
      const options = { device, ...tiles, debug: { poisonOutputs: true } } as Parameters<typeof createAttention>[0];
      const ctx = await createAttention(options);
      ctx.device.addEventListener('uncapturederror', (e) => gpuErrors.push((e as GPUUncapturedErrorEvent).error.message));
      const ran: Dispatch[] = [];
      recordDispatches(ctx.device, ran);
      dispatched.set(ctx, ran);
      return ctx;
    })();
    ctxPromises.set(tile, p);
  }
  return p;
}

async function runCase(name: string, kernel: KernelChoice, seed: number, mode: Mode = 'output', tile: Tile = 'auto') {
  const c = cases.find((x) => x.name === name);
  if (!c) throw new Error(`no case named ${name}`);
  const ctx = await context(tile);
  const { q, k, v, options } = makeInputs(c, seed, kernel);
  const ref = attentionReferenceFull(q, k, v, options);
  const same = (a: readonly number[], b: readonly number[]) => JSON.stringify(a) === JSON.stringify(b);
  const all = dispatched.get(ctx)!;
  const from = all.length;
  // What the call ran, read after it: the kernels and whether this device shares loads across quads.
  const ran = () => ({ ran: all.slice(from), quad: quadSharing(ctx.device) });
  if (mode === 'weights') {
    const got = await ctx.attentionWithWeights(q, k, v, options);
    return {
      output: compare(got.output.data, ref.output.data),
      weights: compare(got.weights.data, ref.weights.data),
      shapeOk: same(got.output.shape, ref.output.shape) && same(got.weights.shape, ref.weights.shape),
      gpuErrors,
      ...ran(),
    };
  }
  if (mode === 'lse') {
    const got = await ctx.attentionWithLogSumExp(q, k, v, options);
    return {
      output: compare(got.output.data, ref.output.data),
      lse: compare(got.logSumExp.data, ref.logSumExp.data, LSE_FLOOR),
      shapeOk: same(got.output.shape, ref.output.shape) && same(got.logSumExp.shape, ref.logSumExp.shape),
      gpuErrors,
      ...ran(),
    };
  }
  const out = await ctx.attention(q, k, v, options);
  return { output: compare(out.data, ref.output.data), shapeOk: same(out.shape, ref.output.shape), gpuErrors, ...ran() };
}

/**
 * The GPU-resident API in the browser: two layers recorded with encode() into one encoder across
 * awaits, another call of the context in between; the encoder finished, then submitted tasks later
 * after another recording and call. Both layers against the reference.
 */
async function runEncode(kernel: KernelChoice, seed: number) {
  const ctx = await context('auto');
  const device = ctx.device;
  const decode = kernel === 'split-keys';
  const layer = (s: number) => makeInputs({ name: 'layer', B: 1, H: 2, Lq: decode ? 2 : 16, Lk: decode ? 300 : 16, E: 8 }, s);
  const layers = [layer(seed + 1), layer(seed + 2)];
  const upload = (data: Float32Array) => uploadTo(device, data);
  const sleep = () => new Promise((r) => setTimeout(r, 20));
  const encoder = device.createCommandEncoder();
  const outs: GPUBuffer[] = [];
  for (const [i, x] of layers.entries()) {
    const [, H, Lq] = x.q.shape;
    const shape = { batch: 1, heads: H, kvHeads: H, queryLength: Lq, keyLength: x.k.shape[2], headDim: 8, valueDim: 8 };
    const output = nanBuffer(device, H * Lq * 8);
    outs.push(output);
    ctx.encode(encoder, { q: upload(x.q.data), k: upload(x.k.data), v: upload(x.v.data), output }, shape, { kernel, causal: i ? false : 'bottom-right' });
    await sleep();
    const other = makeInputs({ name: 'other', B: 1, H: 2, Lq: 5, Lk: 300, E: 8 }, seed + 3);
    await ctx.attention(other.q, other.k, other.v, { kernel, scale: 3 }); // takes pooled scratch
  }
  // The library leaves the caller's encoder as it was (no own properties, symbols included).
  const untouched = Reflect.ownKeys(encoder).length === 0;
  // finish() now, submit tasks later, after another recording and another call have run.
  const commands = encoder.finish();
  await sleep();
  const other = makeInputs({ name: 'other', B: 1, H: 2, Lq: decode ? 2 : 16, Lk: decode ? 300 : 16, E: 8 }, seed + 4);
  const [, H, Lq] = other.q.shape;
  const now = device.createCommandEncoder();
  ctx.encode(now, { q: upload(other.q.data), k: upload(other.k.data), v: upload(other.v.data), output: upload(new Float32Array(H * Lq * 8)) },
    { batch: 1, heads: H, kvHeads: H, queryLength: Lq, keyLength: other.k.shape[2], headDim: 8, valueDim: 8 }, { kernel, scale: 0.1 });
  device.queue.submit([now.finish()]);
  await ctx.attention(other.q, other.k, other.v, { kernel, scale: 5 });
  await sleep();
  device.queue.submit([commands]);
  const results = [];
  for (const [i, x] of layers.entries()) {
    const got = await readBuffer(device, outs[i], x.q.data.length);
    results.push(compare(got, attentionReferenceFull(x.q, x.k, x.v, { causal: i ? false : 'bottom-right' }).output.data));
  }
  return { layers: results, untouched, gpuErrors };
}

/**
 * encode() on a preallocated KV cache (shape.keyCapacity): k and v hold `capacity` rows per kv head,
 * the rows past keyLength NaN, so reading one or striding heads wrongly shows.
 */
async function runKvCache(name: string, kernel: KernelChoice, tile: Tile, seed: number) {
  const c = cases.find((x) => x.name === name);
  if (!c) throw new Error(`no case named ${name}`);
  const ctx = await context(tile);
  const device = ctx.device;
  const { q, k, v, options } = makeInputs(c, seed);
  const [Hkv, Ev, capacity] = [c.Hkv ?? c.H, c.Ev ?? c.E, c.Lk + 9];
  const upload = (data: Float32Array | Uint8Array) => uploadTo(device, data);
  const cache = (data: Float32Array, width: number) => upload(kvCacheOf(data, c.B * Hkv, c.Lk, width, capacity));
  const n = c.B * c.H * c.Lq * Ev;
  const output = nanBuffer(device, n);
  const mask = options.mask ? upload(options.mask.data) : undefined;
  const all = dispatched.get(ctx)!;
  const from = all.length;
  const encoder = device.createCommandEncoder();
  ctx.encode(encoder, { q: upload(q.data), k: cache(k.data, c.E), v: cache(v.data, Ev), output, mask },
    { batch: c.B, heads: c.H, kvHeads: Hkv, queryLength: c.Lq, keyLength: c.Lk, headDim: c.E, valueDim: Ev, keyCapacity: capacity },
    { kernel, scale: options.scale, causal: options.causal, mask: maskDescriptor(options.mask) });
  device.queue.submit([encoder.finish()]);
  const got = await readBuffer(device, output, n);
  return { output: compare(got, attentionReferenceFull(q, k, v, options).output.data), gpuErrors, ran: all.slice(from), quad: quadSharing(device) };
}

Object.assign(window, { runCase, runEncode, runKvCache, caseNames: cases.map((c) => [c.name, c.kernels ?? null]) });
document.getElementById('status')!.textContent = 'ready';
