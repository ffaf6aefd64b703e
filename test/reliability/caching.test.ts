// A repeated call compiles nothing and makes nothing: pipelines and shader modules are cached per
// device, the pool hands the same buffers back, and bind groups are cached on those buffers. GPU
// object creation is counted on a borrowed device by wrapping its create* entry points.
import { describe, expect, it, vi } from 'vitest';
import { attentionReference, createAttention, type AttentionOptions, type CreateAttentionOptions, type KernelChoice, type TileMeasurement } from '../../src/index.js';
import { compilePipeline, getPipeline } from '../../src/recorder.js';
import { quadSharing, softwareAdapter, type TileName } from '../../src/tiles.js';
import { adapterName, kernelsFingerprint, TileTuner } from '../../src/tile-tuning.js';
import { makeInputs, type Case } from '../cases.js';
import { agrees, compare } from '../compare.js';
import { runSeed } from '../random.js';
import { readBuffer, upload } from '../gpu-buffers.js';
import { borrowedDevice, GPUBufferUsageFlags, instrument, uncapturedErrors } from './helpers.js';
import { poisoned } from '../gpu-fixture.js';
import { type Dispatch, recordDispatches } from '../dispatches.js';
import { runCase } from '../run-case.js';

const seed = runSeed();

const compiled = (c: ReturnType<typeof instrument>) => ({
  createShaderModule: c.createShaderModule,
  createComputePipeline: c.createComputePipeline,
  createComputePipelineAsync: c.createComputePipelineAsync,
});

/** The tiles a measurement timed are all real times, and its verdict is the rule's (fastest, by 5 %). */
function expectVerdictRule(m: TileMeasurement, tiles: TileName[]): void {
  const msOf = { compact: m.compactMs, wide: m.wideMs, workgroup: m.workgroupMs, 'workgroup-split': m.workgroupSplitMs, 'held-keys': m.heldKeysMs };
  const timed = Object.fromEntries(tiles.map((t) => [t, msOf[t]]));
  for (const ms of Object.values(timed)) expect(ms !== undefined && ms > 0 && Number.isFinite(ms)).toBe(true);
  const [best, bestMs] = Object.entries(timed).reduce((x, y) => ((y[1] as number) < (x[1] as number) ? y : x));
  expect(m.verdict).toBe((bestMs as number) < 0.95 * m.compactMs ? best : 'compact');
}

const made = (c: ReturnType<typeof instrument>) => ({
  createShaderModule: c.createShaderModule,
  createComputePipeline: c.createComputePipeline,
  createComputePipelineAsync: c.createComputePipelineAsync,
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
      const ctx = await createAttention(poisoned({ device }));
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

  // The log-sum-exp is a parameter of the kernels that write it (params.write_lse), not a constant:
  // attentionWithLogSumExp() after attention() on one shape runs the pipelines attention() compiled.
  it('attention() then attentionWithLogSumExp() on one shape: the second compiles nothing, on every tile that writes the log-sum-exp', async () => {
    const device = await borrowedDevice('adapter', ['subgroups' as GPUFeatureName]);
    const counters = instrument(device);
    const errors = uncapturedErrors(device);
    const ran: Dispatch[] = [];
    recordDispatches(device, ran);
    const small: Case = { name: 'small', B: 1, H: 2, Lq: 37, Lk: 45, E: 8, causal: true };
    const decode: Case = { name: 'decode', B: 1, H: 2, Lq: 1, Lk: 600, E: 8 };
    const tiles: [string, CreateAttentionOptions, Case, KernelChoice, RegExp[]][] = [
      ['compact', { fusedTile: 'compact' }, small, 'fused', [/^flash(-quad)?$/]],
      ['workgroup', { fusedTile: 'workgroup' }, small, 'fused', [/^flash-tiled$/]],
      // 600 keys for one block of rows: 4 chunks, so merge.wgsl writes the log-sum-exp.
      ['workgroup-split', { fusedTile: 'workgroup-split' }, { name: 'ws', B: 1, H: 1, Lq: 10, Lk: 600, E: 8 }, 'fused', [/^flash-tiled$/, /^merge$/]],
      ['held-keys', { fusedTile: 'held-keys' }, { name: 'hk', B: 1, H: 2, Lq: 130, Lk: 300, E: 8, mask: { kind: 'additive', broadcast: 'full', density: 0.7 } }, 'fused', [/^flash-held-keys(-32)?$/, /^merge-rows$/]],
      ['split-keys', {}, decode, 'split-keys', [/^flash-split(-quad)?$/, /^merge$/]],
      ['split-keys workgroup', { splitKeysTile: 'workgroup' }, decode, 'split-keys', [/^flash-decode$/, /^merge-decode$/]],
    ];
    for (const [tile, options, c, kernel, kernels] of tiles) {
      const ctx = await createAttention(poisoned({ device, ...options }));
      for (const [result, a] of await runCase(ctx, c, seed, kernel, 'output')) expect(agrees(a), `${tile}: ${result} ${JSON.stringify(a)}`).toBe(true);
      const before = compiled(counters);
      const from = ran.length;
      for (const [result, a] of await runCase(ctx, c, seed, kernel, 'log-sum-exp')) expect(agrees(a), `${tile}: ${result} ${JSON.stringify(a)}`).toBe(true);
      expect(compiled(counters), `${tile}: the log-sum-exp call compiled`).toEqual(before);
      const set = ran.slice(from).map((d) => d.kernel);
      for (const k of kernels) expect(set.some((x) => k.test(x)), `${tile}: ${k} among ${set}`).toBe(true);
      ctx.destroy();
    }
    expect(errors).toEqual([]);
    device.destroy();
  });

  it('encode() on the same buffers: the second encode creates nothing once the first one\'s work is done', async () => {
    const device = await borrowedDevice();
    const counters = instrument(device);
    const errors = uncapturedErrors(device);
    const ctx = await createAttention(poisoned({ device }));
    const c: Case = { name: 'enc', B: 1, H: 4, Lq: 1, Lk: 700, E: 8 }; // split-keys: scratch partials
    const { q, k, v } = makeInputs(c, seed);
    const S = GPUBufferUsageFlags.STORAGE | GPUBufferUsageFlags.COPY_DST | GPUBufferUsageFlags.COPY_SRC;
    const buffers = {
      q: upload(device, q.data, S),
      k: upload(device, k.data, S),
      v: upload(device, v.data, S),
      output: upload(device, new Float32Array(c.B * c.H * c.Lq * c.E), S),
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
    const out = await readBuffer(device, buffers.output, c.B * c.H * c.Lq * c.E);
    expect(agrees(compare(out, attentionReference(q, k, v).data))).toBe(true);
    expect(errors).toEqual([]);
    ctx.destroy();
    device.destroy();
  });

  it('a pipeline a call compiles while the same one compiles in the background: the cache keeps the call\'s (its bind groups name it)', async () => {
    const device = await borrowedDevice();
    const errors = uncapturedErrors(device);
    const background = compilePipeline(device, 'merge', 'scalar', {});
    const now = getPipeline(device, 'merge', 'scalar', {});
    expect(await background).toBe(now);
    expect(getPipeline(device, 'merge', 'scalar', {})).toBe(now);
    expect(errors).toEqual([]);
    device.destroy();
  });

  // A forced tile is compiled when the call records it: nothing goes to the background, where the
  // same pipeline would be compiled a second time (the forced split-keys workgroup tile did that).
  const forced: { name: string; options: Parameters<typeof createAttention>[0]; c: Case; kernel: KernelChoice }[] = [
    { name: "splitKeysTile 'workgroup'", options: { splitKeysTile: 'workgroup' }, c: { name: 'fs', B: 1, H: 2, Lq: 1, Lk: 300, E: 8 }, kernel: 'split-keys' },
    { name: "fusedTile 'workgroup-split'", options: { fusedTile: 'workgroup-split' }, c: { name: 'fw', B: 1, H: 1, Lq: 8, Lk: 300, E: 8 }, kernel: 'fused' },
    { name: "fusedTile 'held-keys'", options: { fusedTile: 'held-keys' }, c: { name: 'fh', B: 1, H: 2, Lq: 16, Lk: 40, E: 8 }, kernel: 'fused' },
  ];
  for (const { name, options: tiles, c, kernel } of forced) {
    it(`${name}: the first call compiles each of its pipelines once, in the call, and none in the background`, async () => {
      const device = await borrowedDevice();
      const errors = uncapturedErrors(device);
      const ctx = await createAttention(poisoned({ device, ...tiles }));
      const counters = instrument(device);
      const keys: string[] = [];
      for (const entry of ['createComputePipeline', 'createComputePipelineAsync'] as const) {
        const orig = device[entry].bind(device) as (d: GPUComputePipelineDescriptor) => unknown;
        (device as unknown as Record<string, unknown>)[entry] = (d: GPUComputePipelineDescriptor) => {
          keys.push(`${d.label} ${JSON.stringify(d.compute.constants)}`);
          return orig(d);
        };
      }
      const { q, k, v, options } = makeInputs(c, seed, kernel);
      const out = await ctx.attention(q, k, v, options);
      // No wait needed: ready() starts a background compile synchronously, while the call records.
      expect(agrees(compare(out.data, attentionReference(q, k, v, options).data)), `seed ${seed}`).toBe(true);
      expect(counters.createComputePipelineAsync).toBe(0);
      expect(counters.createComputePipeline).toBeGreaterThan(0);
      expect(new Set(keys).size, keys.join('\n')).toBe(keys.length);
      expect(errors).toEqual([]);
      ctx.destroy();
      device.destroy();
    });
  }

  // 4·8·512·512·16 = 1.3e8 FLOPs per call: 8 calls pass WIDE_HOT_FLOPS (1e9).
  const big: Case = { name: 'big', B: 1, H: 8, Lq: 512, Lk: 512, E: 16 };
  const bigShape = { batch: 1, heads: 8, kvHeads: 8, queryLength: 512, keyLength: 512, headDim: 16, valueDim: 16 };

  it("fusedTile 'auto': compact until 1e9 FLOPs of eligible work, then the other tiles are measured once per adapter in the background; prepare() waits for it; then nothing compiles", async () => {
    const device = await borrowedDevice();
    const counters = instrument(device);
    const errors = uncapturedErrors(device);
    const ctx = await createAttention(poisoned({ device }));
    const { q, k, v, options } = makeInputs(big, seed, 'fused');
    const ref = attentionReference(q, k, v, options).data;
    for (let i = 0; i < 7; i++) expect(agrees(compare((await ctx.attention(q, k, v, options)).data, ref))).toBe(true);
    expect(counters.createComputePipeline).toBe(1); // compact, compiled for the first call
    expect(counters.createComputePipelineAsync).toBe(0); // 7 · 1.3e8 < 1e9: not hot yet
    expect(ctx.tileMeasurements()).toEqual([]);
    expect(agrees(compare((await ctx.attention(q, k, v, options)).data, ref))).toBe(true); // the 8th: hot
    expect(counters.createComputePipelineAsync).toBeGreaterThan(0); // the probe's pipelines, in the background
    await ctx.prepare(bigShape, { kernel: 'fused' }); // waits for the same measurement
    const [m, ...more] = ctx.tileMeasurements();
    expect(more).toEqual([]);
    expect(m).toMatchObject({ loads: 'vec4', headDim: 16, valueDim: 16, quadShared: false }); // no 'subgroups' asked
    // A software adapter (SwiftShader here) times wide against compact; a GPU the workgroup tiles instead.
    const software = softwareAdapter(device);
    expect(m.workgroupMs === undefined).toBe(software);
    expectVerdictRule(m, software ? ['compact', 'wide'] : ['compact', 'workgroup', 'workgroup-split']);
    const before = compiled(counters);
    expect(agrees(compare((await ctx.attention(q, k, v, options)).data, ref))).toBe(true); // on the tile measured faster
    expect(compiled(counters)).toEqual(before);

    // Another device of the same adapter shares the verdict: nothing is measured again.
    const device2 = await borrowedDevice();
    const ctx2 = await createAttention(poisoned({ device: device2 }));
    expect(ctx2.tileMeasurements()).toEqual([m]); // the same verdict (a copy: see tuning.test.ts)
    const counters2 = instrument(device2);
    await ctx2.prepare(bigShape, { kernel: 'fused' });
    expect(counters2.submit).toBe(0); // no probe ran on this device
    expect(agrees(compare((await ctx2.attention(q, k, v, options)).data, ref))).toBe(true);
    // A device of the same adapter whose kernel shares loads across quads has its own verdict.
    const device3 = await borrowedDevice('adapter', ['subgroups' as GPUFeatureName]);
    const ctx3 = await createAttention(poisoned({ device: device3 }));
    expect(ctx3.tileMeasurements()).toEqual(quadSharing(device3) ? [] : [m]);
    ctx3.destroy();
    device3.destroy();
    expect(errors).toEqual([]);
    ctx.destroy();
    ctx2.destroy();
    device.destroy();
    device2.destroy();
  }, 180_000);

  it("on a device sharing loads across quads, 'auto' times the held-keys tile beside compact (not wide); after prepare() nothing compiles", async () => {
    const device = await borrowedDevice('adapter', ['subgroups' as GPUFeatureName]);
    const quad = quadSharing(device);
    expect(quad).toBe(softwareAdapter(device)); // SwiftShader shares loads across quads; GPUs do not
    const counters = instrument(device);
    const errors = uncapturedErrors(device);
    const ctx = await createAttention(poisoned({ device }));
    // E = 12: a head size no other test measures (verdicts are shared per adapter, kernel variant and head size).
    const c: Case = { name: 'held', B: 1, H: 8, Lq: 256, Lk: 256, E: 12 };
    const { q, k, v, options } = makeInputs(c, seed, 'fused');
    await ctx.prepare({ batch: 1, heads: 8, kvHeads: 8, queryLength: 256, keyLength: 256, headDim: 12, valueDim: 12 }, { kernel: 'fused' });
    const [m, ...more] = ctx.tileMeasurements();
    expect(more).toEqual([]);
    expect(m.quadShared).toBe(quad);
    expect(m.heldKeysMs !== undefined).toBe(quad);
    expectVerdictRule(m, quad ? ['compact', 'held-keys'] : ['compact', 'wide']);
    expect(m.wideMs !== undefined).toBe(!quad); // wide is not timed beside held-keys
    const before = compiled(counters);
    expect(agrees(compare((await ctx.attention(q, k, v, options)).data, attentionReference(q, k, v, options).data))).toBe(true);
    expect(compiled(counters)).toEqual(before);
    expect(errors).toEqual([]);
    ctx.destroy();
    device.destroy();
  }, 180_000);

  it("treated as a GPU (debug adapterKind 'gpu'), 'auto' times compact and the workgroup tiles (not wide), on the GPU probe; after prepare() nothing compiles", async () => {
    const device = await borrowedDevice();
    const counters = instrument(device);
    const errors = uncapturedErrors(device);
    const ctx = await createAttention(poisoned({ device, debug: { adapterKind: 'gpu', probeRounds: 1 } }));
    // E = 4 and one timed round keep the GPU-sized probe (L=S=2048) short on SwiftShader. The call has a mask, which the
    // probe's pipelines lack: only prepare() compiles the verdict's masked pipeline, so a call that
    // recorded another tile than prepare() compiled would compile here.
    const c: Case = { name: 'gpu', B: 1, H: 8, Lq: 64, Lk: 64, E: 4, mask: { kind: 'boolean', broadcast: '2d', density: 0.7 } };
    const { q, k, v, options } = makeInputs(c, seed, 'fused');
    await ctx.prepare({ batch: 1, heads: 8, kvHeads: 8, queryLength: 64, keyLength: 64, headDim: 4, valueDim: 4 },
      { kernel: 'fused', mask: { kind: 'boolean', shape: [64, 64] } });
    const [m, ...more] = ctx.tileMeasurements();
    expect(more).toEqual([]);
    expect(m.probe.queryLength).toBe(2048);
    expectVerdictRule(m, ['compact', 'workgroup', 'workgroup-split']);
    expect(m.wideMs).toBeUndefined();
    const before = compiled(counters);
    expect(agrees(compare((await ctx.attention(q, k, v, options)).data, attentionReference(q, k, v, options).data))).toBe(true);
    expect(compiled(counters)).toEqual(before); // the verdict's masked pipeline was compiled by prepare()
    expect(errors).toEqual([]);
    ctx.destroy();
    device.destroy();
  }, 180_000);

  // encode() promises no submit; the measurement submits probes (and would time the caller's work
  // queued meanwhile). So recordings never start it, however much work they record.
  it("encode() never starts the tile measurement: recordings of 1.3e9 FLOPs on a 'gpu' adapter (past the 1e9 that start it for calls) compile nothing in the background and submit nothing", async () => {
    const device = await borrowedDevice();
    const counters = instrument(device);
    const errors = uncapturedErrors(device);
    const ctx = await createAttention({ device, debug: { adapterKind: 'gpu' } });
    // E = 8: a head size no test here measures as a GPU, so no verdict exists for it.
    const L = 1024, E = 8;
    const shape = { batch: 1, heads: 8, kvHeads: 8, queryLength: L, keyLength: L, headDim: E, valueDim: E };
    const bufs = ['q', 'k', 'v', 'output'].map(() => device.createBuffer({ size: 8 * L * E * 4, usage: GPUBufferUsageFlags.STORAGE }));
    const [q, k, v, output] = bufs;
    const encoder = device.createCommandEncoder();
    const before = { async: counters.createComputePipelineAsync, submit: counters.submit };
    // Measurements queue one after another: one started here could wait its turn past the 100 ms
    // below, so whether one was started at all is asked of the tuner itself.
    const measure = vi.spyOn(TileTuner.prototype, 'measure');
    for (let i = 0; i < 5; i++) ctx.encode(encoder, { q, k, v, output }, shape); // 5 × 4·8·1024²·8 ≈ 1.3e9 FLOPs
    await new Promise((r) => setTimeout(r, 100)); // a measurement would have begun compiling its candidates
    expect({ async: counters.createComputePipelineAsync, submit: counters.submit }).toEqual(before);
    expect(ctx.tileMeasurements().filter((m) => m.headDim === E)).toEqual([]);
    expect(measure).not.toHaveBeenCalled();
    measure.mockRestore();
    encoder.finish();
    expect(errors).toEqual([]);
    ctx.destroy();
    bufs.forEach((b) => b.destroy());
    device.destroy();
  });

  it('prepare() before the first call: that call compiles nothing', async () => {
    const device = await borrowedDevice();
    const counters = instrument(device);
    const errors = uncapturedErrors(device);
    const ctx = await createAttention(poisoned({ device, fusedTile: 'compact' }));
    const { q, k, v } = makeInputs({ ...big, causal: true }, seed);
    await ctx.prepare(bigShape);
    await ctx.prepare({ ...bigShape, queryLength: 1, keyLength: 4096 }); // decoding: split-keys + merge
    expect(counters.createComputePipelineAsync).toBe(3);
    const before = compiled(counters);
    const out = await ctx.attention(q, k, v, { causal: true });
    expect(agrees(compare(out.data, attentionReference(q, k, v, { causal: true }).data))).toBe(true);
    expect(compiled(counters)).toEqual(before);
    expect(errors).toEqual([]);
    ctx.destroy();
    device.destroy();
  }, 120_000);

  it('prepare() with weights / logSumExp: attentionWithWeights and attentionWithLogSumExp then compile nothing', async () => {
    const device = await borrowedDevice();
    const counters = instrument(device);
    const errors = uncapturedErrors(device);
    const ctx = await createAttention(poisoned({ device, fusedTile: 'compact' }));
    const c: Case = { name: 'prep', B: 1, H: 2, Lq: 24, Lk: 40, E: 8, mask: { kind: 'additive', broadcast: '2d', density: 0.7 } };
    const { q, k, v, options } = makeInputs(c, seed);
    const shape = { batch: 1, heads: 2, kvHeads: 2, queryLength: 24, keyLength: 40, headDim: 8, valueDim: 8 };
    const maskSpec = { kind: 'additive' as const, shape: [24, 40] };
    await ctx.prepare(shape, { weights: true, mask: maskSpec });
    await ctx.prepare(shape, { logSumExp: true, mask: maskSpec });
    const before = compiled(counters);
    const withWeights = await ctx.attentionWithWeights(q, k, v, options);
    const withLse = await ctx.attentionWithLogSumExp(q, k, v, options);
    expect(compiled(counters)).toEqual(before);
    const ref = attentionReference(q, k, v, options).data;
    expect(agrees(compare(withWeights.output.data, ref)), `weights call, seed ${seed}`).toBe(true);
    expect(agrees(compare(withLse.output.data, ref)), `log-sum-exp call, seed ${seed}`).toBe(true);
    expect(errors).toEqual([]);
    ctx.destroy();
    device.destroy();
  }, 120_000);

  describe('measurements made earlier (createAttention({ tileMeasurements }))', () => {
    // What an app would have saved from ctx.tileMeasurements() on this adapter, for a head size no
    // other test measures (verdicts are shared per adapter and head size in the process). The times
    // are made up so that the verdict is a tile the measurement would not choose by itself here:
    // if the tile the calls use is wide (software) or workgroup (GPU), it came from this entry.
    const saved = (device: GPUDevice, dims: number): TileMeasurement => {
      const software = softwareAdapter(device);
      const tile: TileName = software ? 'wide' : 'workgroup';
      const probe = { batch: 1, heads: 8, kvHeads: 8, queryLength: 512, keyLength: 512, headDim: dims, valueDim: dims };
      return JSON.parse(JSON.stringify({
        adapter: adapterName(device), kernels: kernelsFingerprint(), quadShared: quadSharing(device), adapterKind: software ? 'software' : 'gpu',
        workgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize, loads: 'vec4', headDim: dims, valueDim: dims,
        probe, repeats: 1, compactMs: 100, [software ? 'wideMs' : 'workgroupMs']: 1, verdict: tile,
      }));
    };
    /** The labels and constants of the pipelines compiled on `device` from now on. */
    const pipelines = (device: GPUDevice) => {
      const seen: { label?: string; constants?: Record<string, number> }[] = [];
      for (const name of ['createComputePipeline', 'createComputePipelineAsync'] as const) {
        const orig = device[name].bind(device) as (d: GPUComputePipelineDescriptor) => unknown;
        (device as unknown as Record<string, unknown>)[name] = (d: GPUComputePipelineDescriptor) => {
          seen.push({ label: d.label, constants: d.compute.constants as Record<string, number> });
          return orig(d);
        };
      }
      return seen;
    };
    const isTile = (p: { label?: string; constants?: Record<string, number> }, software: boolean) =>
      software ? /flash(-quad)?$/.test(p.label ?? '') && (p.constants?.RG ?? 1) > 1 : /flash-tiled$/.test(p.label ?? '');

    it('one of this adapter is used as measured: prepare() times nothing, and the calls run its verdict', async () => {
      const device = await borrowedDevice();
      const software = softwareAdapter(device);
      const errors = uncapturedErrors(device);
      // E = 4: small (prepare() compiles the verdict's wide tile, ~8 s at E = 20), and measured in
      // this file only on a 'gpu'-kind context, whose verdicts are kept apart.
      const entry = saved(device, 4);
      const elsewhere = { ...entry, adapter: 'some / other / adapter / -', headDim: 24, valueDim: 24 };
      const ctx = await createAttention(poisoned({ device, tileMeasurements: [elsewhere, entry] }));
      const counters = instrument(device);
      const seen = pipelines(device);
      const c: Case = { name: 'earlier', B: 1, H: 2, Lq: 48, Lk: 40, E: 4 };
      const { q, k, v, options } = makeInputs(c, seed, 'fused');
      await ctx.prepare({ batch: 1, heads: 2, kvHeads: 2, queryLength: 48, keyLength: 40, headDim: 4, valueDim: 4 }, { kernel: 'fused' });
      expect(counters.submit).toBe(0); // no probe ran
      expect(ctx.tileMeasurements().filter((m) => m.headDim === 4)).toEqual([entry]);
      expect(ctx.tileMeasurements().some((m) => m.adapter === elsewhere.adapter)).toBe(false);
      expect(seen.some((p) => isTile(p, software)), JSON.stringify(seen)).toBe(true);
      const before = compiled(counters);
      expect(agrees(compare((await ctx.attention(q, k, v, options)).data, attentionReference(q, k, v, options).data))).toBe(true);
      expect(compiled(counters)).toEqual(before); // the verdict's pipeline, compiled by prepare()
      expect(errors).toEqual([]);
      ctx.destroy();
      device.destroy();
    }, 120_000);

    it("a held-keys verdict the call declines (too few rows): prepare() compiles the fallback, and the call compiles nothing, not even held-keys in the background", async () => {
      const device = await borrowedDevice('adapter', ['subgroups' as GPUFeatureName]);
      // The held-keys tile exists only where quads share loads (SwiftShader); elsewhere such a verdict is ignored.
      if (!quadSharing(device)) return expect(softwareAdapter(device)).toBe(false);
      const errors = uncapturedErrors(device);
      // E = 44: a head size no other test measures. Held-keys fastest; compact, the one other tile
      // timed beside it, is the fallback.
      const { wideMs: _, ...fromSaved } = saved(device, 44);
      const entry: TileMeasurement = { ...fromSaved, quadShared: true, compactMs: 100, heldKeysMs: 1, verdict: 'held-keys' };
      const ctx = await createAttention(poisoned({ device, tileMeasurements: [entry] }));
      const counters = instrument(device);
      const seen = pipelines(device);
      const c: Case = { name: 'declined', B: 1, H: 2, Lq: 64, Lk: 64, E: 44 }; // 64 rows: under HELD_KEYS_MIN_ROWS
      const { q, k, v, options } = makeInputs(c, seed, 'fused');
      await ctx.prepare({ batch: 1, heads: 2, kvHeads: 2, queryLength: 64, keyLength: 64, headDim: 44, valueDim: 44 }, { kernel: 'fused' });
      expect(ctx.tileMeasurements().filter((m) => m.headDim === 44)).toEqual([entry]);
      // compact (RG 1), compiled by prepare()
      expect(seen.some((p) => /flash(-quad)?$/.test(p.label ?? '') && (p.constants?.RG ?? 1) === 1), JSON.stringify(seen)).toBe(true);
      const before = compiled(counters);
      for (let i = 0; i < 2; i++) {
        expect(agrees(compare((await ctx.attention(q, k, v, options)).data, attentionReference(q, k, v, options).data)), `seed ${seed}`).toBe(true);
      }
      // No wait needed: ready() starts a background compile synchronously, while the call records.
      expect(compiled(counters)).toEqual(before);
      expect(seen.filter((p) => /held-keys/.test(p.label ?? '')), JSON.stringify(seen)).toEqual([]);
      expect(errors).toEqual([]);
      ctx.destroy();
      device.destroy();
    }, 120_000);

    it('one that does not fit is ignored and the tiles are measured: another kind of adapter, another workgroup memory limit, other kernels (another version, or one before the field), a verdict no longer a candidate', async () => {
      const device = await borrowedDevice();
      const software = softwareAdapter(device);
      const entry = saved(device, 8);
      const misfits: TileMeasurement[] = [
        { ...entry, adapterKind: software ? 'gpu' : 'software' },
        { ...entry, workgroupStorageSize: entry.workgroupStorageSize + 1 },
        { ...entry, quadShared: !entry.quadShared },
        { ...entry, kernels: 'another version' },
        JSON.parse(JSON.stringify({ ...entry, kernels: undefined })), // saved before the field existed
        // Not a candidate where it is timed: workgroup on a software adapter, wide on a GPU.
        { ...entry, verdict: software ? 'workgroup' : 'wide', workgroupMs: 1, wideMs: 1 },
      ];
      const ctx = await createAttention(poisoned({ device, tileMeasurements: misfits }));
      const counters = instrument(device);
      await ctx.prepare({ batch: 1, heads: 2, kvHeads: 2, queryLength: 48, keyLength: 40, headDim: 8, valueDim: 8 }, { kernel: 'fused' });
      expect(counters.submit).toBeGreaterThan(0); // the probe ran
      const [m, ...more] = ctx.tileMeasurements().filter((x) => x.headDim === 8);
      expect(more).toEqual([]);
      expect(m.compactMs).not.toBe(100);
      expectVerdictRule(m, software ? (quadSharing(device) ? ['compact', 'held-keys'] : ['compact', 'wide']) : ['compact', 'workgroup', 'workgroup-split']);
      ctx.destroy();
      device.destroy();
    }, 180_000);
  });

  it('the tile measurement takes one set of scratch buffers however many times a probe repeats in its submit', async () => {
    // Last in the file: its verdicts are shared with every later context on this adapter. Two
    // measurements of the same tiles (head sizes no other test measures, small for short compiles:
    // 20 and 24), one probe run per submit and three: the buffers made are the same (it took a set
    // of partials per repeat).
    const made = async (headDim: number, probeRepeats: number) => {
      const device = await borrowedDevice('adapter', ['subgroups' as GPUFeatureName]);
      const errors = uncapturedErrors(device);
      const ctx = await createAttention(poisoned({ device, debug: { probeRepeats, probeRounds: 1 } }));
      const counters = instrument(device);
      await ctx.prepare({ batch: 1, heads: 8, kvHeads: 8, queryLength: 256, keyLength: 256, headDim, valueDim: headDim }, { kernel: 'fused' });
      const [m, ...more] = ctx.tileMeasurements().filter((x) => x.headDim === headDim);
      expect(more).toEqual([]);
      expect(m.repeats).toBeGreaterThan(0);
      expect(errors).toEqual([]);
      ctx.destroy();
      device.destroy();
      const passesPerSubmit = counters.beginComputePass / counters.submit;
      return { buffers: counters.createBuffer, passesPerSubmit, tiles: Object.keys(m).filter((key) => key.endsWith('Ms')).sort() };
    };
    const once = await made(20, 1);
    const thrice = await made(24, 3);
    expect(thrice.tiles).toEqual(once.tiles);
    expect(once.tiles.length).toBeGreaterThan(1);
    // The repeats happened: three times the compute passes a submit (a probe's repeat is a pass).
    expect(thrice.passesPerSubmit).toBeCloseTo(3 * once.passesPerSubmit, 6);
    expect(thrice.buffers).toBe(once.buffers);
  }, 180_000);
});
