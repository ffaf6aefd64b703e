// Requests larger than the device can take: a DeviceLimitError naming the limit, thrown before
// any GPU work, or the work split to fit — never a silently truncated result. Runs on borrowed
// devices with WebGPU's default limits (128 MiB bindings, 256 MiB buffers) so the shapes stay cheap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attentionReferenceFull, createAttention, DeviceLimitError, type AttentionContext, type Tensor } from '../../src/index.js';
import { sizeClass } from '../../src/buffer-pool.js';
import { agrees, compare, LSE_FLOOR } from '../compare.js';
import { mulberry32, runSeed } from '../random.js';
import { upload } from '../gpu-buffers.js';
import { borrowedDevice, compatibilityDevice, GPUBufferUsageFlags, type GPUCounters, instrument, uncapturedErrors } from './helpers.js';
import { poisoned } from '../gpu-fixture.js';
import { KERNEL_STORAGE_BUFFERS, kernelSource, type KernelName } from '../../src/shaders.js';
import { splitMergeWorkgroupSize } from '../../src/tiles.js';

const seed = runSeed();
const MiB = 1024 * 1024;

function tensor(shape: number[], rnd: () => number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { data: Float32Array.from({ length: n }, () => rnd() * 2 - 1), shape };
}

describe(`device limits (seed ${seed}; rerun with TEST_SEED=${seed})`, () => {
  let device: GPUDevice;
  let counters: GPUCounters;
  let ctx: AttentionContext;
  let errors: string[];

  beforeAll(async () => {
    device = await borrowedDevice('default');
    counters = instrument(device);
    errors = uncapturedErrors(device);
    ctx = await createAttention(poisoned({ device }));
  });
  afterAll(() => {
    ctx.destroy();
    device.destroy();
  });

  it('the test device has the default limits', () => {
    expect(device.limits.maxStorageBufferBindingSize).toBe(128 * MiB);
    expect(device.limits.maxBufferSize).toBe(256 * MiB);
  });

  it("staged: one head's 6000×6000 score matrix (144 MB) → DeviceLimitError naming the limit, before any GPU work", async () => {
    const rnd = mulberry32(seed);
    const q = tensor([1, 1, 6000, 1], rnd);
    const before = counters.work();
    const err = await ctx.attention(q, q, q, { kernel: 'staged' }).catch((e) => e);
    expect(err).toBeInstanceOf(DeviceLimitError);
    expect(err.message).toMatch(/6000×6000/);
    expect(err.message).toMatch(/maxStorageBufferBindingSize/);
    expect(err.message).toMatch(/'fused'/);
    expect(counters.work() - before).toBe(0);
  });

  it('weights that do not fit one binding → DeviceLimitError before any GPU work', async () => {
    const rnd = mulberry32(seed + 1);
    const q = tensor([1, 4, 3000, 1], rnd);
    const before = counters.work();
    const err = await ctx.attentionWithWeights(q, q, q).catch((e) => e);
    expect(err).toBeInstanceOf(DeviceLimitError);
    expect(err.message).toMatch(/weights \[1,4,3000,3000\]/);
    expect(err.message).toMatch(/maxStorageBufferBindingSize/);
    expect(counters.work() - before).toBe(0);
  });

  it("prepare() of a shape over the limits → DeviceLimitError before the tile measurement or any compile", async () => {
    const auto = await createAttention(poisoned({ device, fusedTile: 'auto' }));
    try {
      const shape = { batch: 1, heads: 8, kvHeads: 8, queryLength: 2 ** 23, keyLength: 16, headDim: 12, valueDim: 12 };
      const [work, pipelines] = [counters.work(), counters.createComputePipeline + counters.createComputePipelineAsync];
      const err = await auto.prepare(shape).catch((e) => e);
      expect(err).toBeInstanceOf(DeviceLimitError);
      expect(err.message).toMatch(/^q needs 3221225472 bytes/);
      expect(auto.tileMeasurements()).toEqual([]);
      expect(counters.work() - work).toBe(0);
      expect(counters.createComputePipeline + counters.createComputePipelineAsync - pipelines).toBe(0);
    } finally {
      auto.destroy();
    }
  });

  it('a tensor over maxStorageBufferBindingSize → DeviceLimitError naming it, before any GPU work', async () => {
    const L = 128 * MiB / 4 + 1; // one float past the binding limit, E = 1
    const q: Tensor = { data: new Float32Array(L), shape: [L, 1] };
    const kv: Tensor = { data: new Float32Array(4), shape: [4, 1] };
    const before = counters.work();
    const err = await ctx.attention(q, kv, kv, { kernel: 'fused' }).catch((e) => e);
    expect(err).toBeInstanceOf(DeviceLimitError);
    expect(err.message).toMatch(new RegExp(`^q needs ${L * 4} bytes.*maxStorageBufferBindingSize`));
    expect(counters.work() - before).toBe(0);
  });

  it('encode(): a request over the limits throws DeviceLimitError and records nothing', () => {
    const small = upload(device, new Float32Array(4));
    const big = device.createBuffer({ size: 4 * 6000 * 4, usage: GPUBufferUsageFlags.STORAGE });
    const out = device.createBuffer({ size: 4 * 6000 * 4, usage: GPUBufferUsageFlags.STORAGE }); // written: its own buffer
    const encoder = device.createCommandEncoder();
    const before = counters.work();
    const shape = { batch: 1, heads: 1, kvHeads: 1, queryLength: 6000, keyLength: 6000, headDim: 1, valueDim: 1 };
    expect(() => ctx.encode(encoder, { q: big, k: big, v: big, output: out }, shape, { kernel: 'staged' }))
      .toThrow(DeviceLimitError);
    expect(counters.work() - before).toBe(0);
    encoder.finish(); // an empty, valid command buffer: nothing half-recorded in it
    small.destroy();
    big.destroy();
    out.destroy();
    expect(errors).toEqual([]);
  });

});

/**
 * A device that reports smaller limits than it has. Splitting work by heads on the real default
 * limits (H=4, 3000×3000: 144 MB of scores) takes 15 s on SwiftShader, too slow for this suite, so
 * the split and the buffer sizes are checked against limits the device merely reports; the real
 * limits are enforced by Dawn, which would turn any binding past them into a validation error.
 */
function reportLimits(device: GPUDevice, overrides: Record<string, number>): void {
  const real = device.limits;
  const fake = new Proxy(real, {
    get: (t, key) => (typeof key === 'string' && key in overrides ? overrides[key] : (t as unknown as Record<string | symbol, unknown>)[key]),
  });
  Object.defineProperty(device, 'limits', { value: fake, configurable: true });
}

describe(`work split to fit the reported limits (seed ${seed}; rerun with TEST_SEED=${seed})`, () => {
  let device: GPUDevice;
  let counters: GPUCounters;
  let ctx: AttentionContext;
  let errors: string[];
  const limit = 1_000_000; // not a power of two, like many real limits
  const storageSizes: number[] = [];

  beforeAll(async () => {
    device = await borrowedDevice('adapter');
    reportLimits(device, { maxStorageBufferBindingSize: limit, maxBufferSize: 4 * limit });
    counters = instrument(device);
    const create = device.createBuffer.bind(device);
    device.createBuffer = (d: GPUBufferDescriptor) => {
      if (d.usage & GPUBufferUsageFlags.STORAGE) storageSizes.push(d.size);
      return create(d);
    };
    errors = uncapturedErrors(device);
    ctx = await createAttention(poisoned({ device }));
  });
  afterAll(() => {
    expect(errors, 'uncaptured GPU errors').toEqual([]);
    ctx.destroy();
    device.destroy();
  });

  it('the device reports the small limits', () => {
    expect(device.limits.maxStorageBufferBindingSize).toBe(limit);
    expect(device.limits.maxComputeWorkgroupsPerDimension).toBeGreaterThan(0); // others pass through
  });

  it("staged without weights: 4 heads of 300×300 scores (360 kB each, 1.44 MB in all) run in two chunks and match the reference", async () => {
    const rnd = mulberry32(seed + 2);
    const [H, L, E] = [4, 300, 2];
    const q = tensor([1, H, L, E], rnd);
    const k = tensor([1, H, L, E], rnd);
    const v = tensor([1, H, L, E], rnd);
    const options = { kernel: 'staged' as const, causal: true };
    const bindGroups = counters.createBindGroup;
    const out = await ctx.attention(q, k, v, options);
    // scores, softmax and weighted-sum once per chunk: 2 heads fit the 1 MB binding, so two chunks.
    expect(counters.createBindGroup - bindGroups).toBe(6);
    const ref = attentionReferenceFull(q, k, v, options).output.data;
    const a = compare(out.data, ref);
    expect(agrees(a), `seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
    expect(errors).toEqual([]);
  });

  it('one head over the reported limit → DeviceLimitError before any GPU work', async () => {
    const rnd = mulberry32(seed + 3);
    const q = tensor([1, 1, 600, 1], rnd); // 600×600×4 = 1.44 MB > 1 MB
    const before = counters.work();
    const err = await ctx.attention(q, q, q, { kernel: 'staged' }).catch((e) => e);
    expect(err).toBeInstanceOf(DeviceLimitError);
    expect(err.message).toMatch(/600×600 f32 = 1440000 bytes.*maxStorageBufferBindingSize.*\(1000000\)/);
    expect(counters.work() - before).toBe(0);
  });

  it("split-keys with Ev 1: stats (8 bytes a row and chunk) past the limit where q, output and partials fit → DeviceLimitError naming them, before any GPU work", async () => {
    const rnd = mulberry32(seed + 5);
    const q = tensor([1, 1, 130_000, 1], rnd); // 520 kB of q, output and partials (one chunk); 1.04 MB of stats
    const kv = tensor([1, 1, 4, 1], rnd);
    // The invocation tile ('auto' on SwiftShader) and the workgroup tile (GPUs' default for decoding), one chunk each.
    const workgroupTile = await createAttention(poisoned({ device, splitKeysTile: 'workgroup' }));
    const before = counters.work(); // after the context's own two small buffers
    try {
      for (const c of [ctx, workgroupTile]) {
        const err = await c.attention(q, kv, kv, { kernel: 'split-keys' }).catch((e) => e);
        expect(err).toBeInstanceOf(DeviceLimitError);
        expect(err.message).toMatch(/^split-keys stats needs 1040000 bytes, over .*maxStorageBufferBindingSize.*\(1000000\); use kernel 'fused'/);
      }
    } finally {
      workgroupTile.destroy();
    }
    expect(counters.work() - before).toBe(0);
  });

  it('no pooled STORAGE buffer is rounded past maxStorageBufferBindingSize (kernels bind whole buffers)', async () => {
    // 400×400 scores = 640 kB: a power-of-two pool rounds that to 1 MiB, past the 1 MB limit.
    const rnd = mulberry32(seed + 4);
    const q = tensor([400, 2], rnd);
    const out = await ctx.attention(q, q, q, { kernel: 'staged' });
    const ref = attentionReferenceFull(q, q, q).output.data;
    expect(agrees(compare(out.data, ref))).toBe(true);
    expect(storageSizes.length).toBeGreaterThan(0);
    expect(Math.max(...storageSizes)).toBeLessThanOrEqual(limit);
    expect(errors).toEqual([]);
  });
});

describe('pooled buffers respect a binding limit that is not a power of two', () => {
  it('sizeClass never rounds past the limit', () => {
    const limit = 200_000_000;
    for (const bytes of [1, 255, 256, 257, 100_000_000, 134_217_729, 150_000_000, 199_999_996, 200_000_000]) {
      const s = sizeClass(bytes, limit);
      expect(s).toBeGreaterThanOrEqual(bytes);
      expect(s).toBeLessThanOrEqual(limit);
      expect(s % 4).toBe(0);
    }
    expect(sizeClass(1000, limit)).toBe(1024);
    expect(sizeClass(2147483640, 2147483644)).toBe(2147483644); // NVIDIA-style limit, not a multiple of 256
  });
});

describe('limits the kernels themselves set', () => {
  it('KERNEL_STORAGE_BUFFERS is the most storage buffers any kernel binds (counted in the sources)', () => {
    const kernels = {
      scores: 0, 'scores-quad': 0, softmax: 0, 'weighted-sum': 0, 'weighted-sum-quad': 0, flash: 0, 'flash-quad': 0, 'flash-tiled': 0,
      'flash-held-keys': 0, 'flash-held-keys-32': 0, 'flash-split': 0, 'flash-split-quad': 0, 'flash-decode': 0, merge: 0,
      'merge-rows': 0, 'merge-decode': 0,
    } satisfies Record<KernelName, number>;
    const counts = Object.keys(kernels).flatMap((k) =>
      (['vec4', 'scalar'] as const).map((loads) => kernelSource(k as KernelName, loads).match(/var<storage/g)?.length ?? 0));
    expect(Math.max(...counts)).toBe(KERNEL_STORAGE_BUFFERS);
  });

  it('a device allowing fewer storage buffers per shader stage than that (early compatibility-mode implementations reported 4) → DeviceLimitError from createAttention', async () => {
    const device = await borrowedDevice('default');
    try {
      reportLimits(device, { maxStorageBuffersPerShaderStage: 4 });
      const err = await createAttention({ device }).catch((e) => e);
      expect(err).toBeInstanceOf(DeviceLimitError);
      expect(err.message).toMatch(/^options\.device allows 4 storage buffers per shader stage \(limits\.maxStorageBuffersPerShaderStage\) and the attention kernels bind up to 6: .*requiredLimits/);
      reportLimits(device, { maxStorageBuffersPerShaderStage: KERNEL_STORAGE_BUFFERS });
      (await createAttention({ device })).destroy();
    } finally {
      device.destroy();
    }
  });

  it('bindings past what the kernels index in 32 bits (a boolean mask by byte: 4 GiB; f32 by element: 16 GiB) → DeviceLimitError, whatever limits the device reports', async () => {
    const device = await borrowedDevice('default');
    const ctx = await createAttention({ device });
    const small = upload(device, new Float32Array(4));
    const out = upload(device, new Float32Array(4));
    try {
      reportLimits(device, { maxStorageBufferBindingSize: 2 ** 36, maxBufferSize: 2 ** 36 });
      const encoder = device.createCommandEncoder();
      const shape = { batch: 1, heads: 1, kvHeads: 1, queryLength: 65536, keyLength: 65537, headDim: 1, valueDim: 1 };
      const masked = (kind: 'boolean' | 'additive') => () => ctx.encode(encoder, { q: small, k: small, v: small, output: out, mask: small }, shape,
        { kernel: 'fused', mask: { kind, shape: [65536, 65537] } });
      expect(masked('boolean')).toThrow(DeviceLimitError);
      expect(masked('boolean')).toThrow(/^mask \(4295032832 elements\) needs 4295032832 bytes, over the 4 GiB the kernels can index; give it shape \[Lq, Lk\] or a batch, head or query-row dimension of 1 where it repeats \(a key-padding mask \[B, 1, 1, Lk\]\)$/);
      expect(masked('additive')).toThrow(/^mask \(4295032832 elements\) needs 17180131328 bytes, over the 16 GiB the kernels can index; .*or a boolean mask/);
      // Under 16 GiB an f32 tensor passes the limits (and then fails on this small buffer's size).
      const tall = (queryLength: number) => () => ctx.encode(encoder, { q: small, k: small, v: small, output: out }, { ...shape, queryLength, keyLength: 4 });
      expect(tall(2 ** 32 + 1)).toThrow(/^q needs 17179869188 bytes, over the 16 GiB the kernels can index/);
      expect(tall(2 ** 32)).toThrow(/^buffers\.q has 16 bytes but the shape needs 17179869184/);
      encoder.finish();
    } finally {
      ctx.destroy();
      small.destroy();
      out.destroy();
      device.destroy();
    }
  });
});

describe(`a compatibility-mode device (seed ${seed}; rerun with TEST_SEED=${seed})`, () => {
  let device: GPUDevice;
  let errors: string[];
  let ctx: AttentionContext;

  beforeAll(async () => {
    device = await compatibilityDevice();
    errors = uncapturedErrors(device);
    ctx = await createAttention(poisoned({ device, splitKeysTile: 'workgroup' }));
  });
  afterAll(() => {
    ctx.destroy();
    device.destroy();
  });

  it('allows 128 invocations per workgroup, so merge-decode runs 128 instead of 256', () => {
    expect(device.limits.maxComputeInvocationsPerWorkgroup).toBe(128);
    expect(splitMergeWorkgroupSize(device)).toBe(128);
  });

  // Decoding on the split-keys path's workgroup tile, whose merge needed 256 invocations: Ev 256 is
  // merge-decode's widest row (64 columns: 2 groups of 128), Ev 1 its narrowest; GQA and log-sum-exp too.
  it.each([
    { name: 'Ev 256, Lk 700', H: 2, Hkv: 2, Lk: 700, E: 8, Ev: 256 },
    { name: 'Ev 1, Lk 4100, GQA 4 -> 2', H: 4, Hkv: 2, Lk: 4100, E: 16, Ev: 1 },
    { name: 'E = Ev = 64, Lk 2000, causal bottom-right', H: 8, Hkv: 8, Lk: 2000, E: 64, Ev: 64, causal: 'bottom-right' as const },
  ])("split-keys on the workgroup tile matches the reference: $name", async ({ H, Hkv, Lk, E, Ev, causal }) => {
    const rnd = mulberry32(seed + Lk);
    const q = tensor([1, H, 1, E], rnd);
    const k = tensor([1, Hkv, Lk, E], rnd);
    const v = tensor([1, Hkv, Lk, Ev], rnd);
    const options = { kernel: 'split-keys' as const, causal };
    const ref = attentionReferenceFull(q, k, v, options);
    const { output, logSumExp } = await ctx.attentionWithLogSumExp(q, k, v, options);
    const a = compare(output.data, ref.output.data);
    expect(agrees(a), `seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
    expect(agrees(compare(logSumExp.data, ref.logSumExp.data, LSE_FLOOR)), `log-sum-exp, seed ${seed}`).toBe(true);
    expect(errors).toEqual([]);
  });

  it.each(['staged', 'fused'] as const)('prefill on the %s path matches the reference (boolean mask, GQA)', async (kernel) => {
    const rnd = mulberry32(seed + 7);
    const q = tensor([1, 4, 40, 12], rnd);
    const k = tensor([1, 2, 70, 12], rnd);
    const v = tensor([1, 2, 70, 8], rnd);
    const mask = { data: Uint8Array.from({ length: 40 * 70 }, () => (rnd() < 0.7 ? 1 : 0)), shape: [40, 70] };
    const options = { kernel, mask };
    const out = await ctx.attention(q, k, v, options);
    const a = compare(out.data, attentionReferenceFull(q, k, v, options).output.data);
    expect(agrees(a), `seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
    expect(errors).toEqual([]);
  });
});
