// What prepare() says when a fused tile's pipeline does not compile on a device (as a driver may
// refuse a shader it cannot handle): real Dawn, on a device that refuses the chosen pipelines.
import { describe, expect, it } from 'vitest';
import { createAttention, GPUExecutionError } from '../src/index.js';
import { adapterName, kernelsFingerprint } from '../src/tile-tuning.js';
import { attentionReference } from '../src/reference.js';
import { makeInputs } from './cases.js';
import { agrees, compare } from './compare.js';
import { defaultLimitsDevice } from './gpu-fixture.js';
import { runSeed } from './random.js';

type Refuse = (d: GPUComputePipelineDescriptor) => boolean;

// Dawn's instances stay referenced while their devices live (else they are collected under them).
const instances: GPU[] = [];

/** A fresh device (no cached pipelines) whose asynchronous compiles of `refuse`d pipelines fail. */
async function refusingDevice(refuse: Refuse): Promise<{ device: GPUDevice; refused: string[] }> {
  const { device, gpu } = await defaultLimitsDevice();
  instances.push(gpu);
  const refused: string[] = [];
  const compile = device.createComputePipelineAsync.bind(device);
  device.createComputePipelineAsync = (d: GPUComputePipelineDescriptor) => {
    if (!refuse(d)) return compile(d);
    refused.push(d.label ?? '');
    return Promise.reject(new Error('refused by the test'));
  };
  return { device, refused };
}

const isFused = (d: GPUComputePipelineDescriptor) => /webgpu-attention flash(-quad)?$/.test(d.label ?? '');
const shape = (headDim: number) => ({ batch: 1, heads: 2, kvHeads: 2, queryLength: 32, keyLength: 40, headDim, valueDim: headDim });

describe('a fused tile that fails to compile', () => {
  it("forced 'workgroup': prepare() names the tile and says calls will fail", async () => {
    const { device, refused } = await refusingDevice((d) => d.label === 'webgpu-attention flash-tiled');
    const ctx = await createAttention({ device, fusedTile: 'workgroup' });
    try {
      const err = await ctx.prepare(shape(8), { kernel: 'fused' }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(GPUExecutionError);
      expect((err as Error).message).toMatch(/^The workgroup fused tile failed to compile for this shape \(flash-tiled\)/);
      expect((err as Error).message).toContain("with fusedTile: 'workgroup' calls of this shape will fail as well");
      expect(refused).toEqual(['webgpu-attention flash-tiled']);
    } finally {
      ctx.destroy();
      device.destroy();
    }
  });

  it("forced 'wide' on a head too wide for it runs compact, so its failure has no fallback", async () => {
    // E = 132 > 128: the wide tile's named blocks do not fit, the call records the compact tile.
    const { device, refused } = await refusingDevice(isFused);
    const ctx = await createAttention({ device, fusedTile: 'wide' });
    try {
      const err = await ctx.prepare(shape(132), { kernel: 'fused' }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(GPUExecutionError);
      expect((err as Error).message).toMatch(/^A pipeline for this shape failed to compile on this device \(flash\)/);
      expect(refused.length).toBe(1);
    } finally {
      ctx.destroy();
      device.destroy();
    }
  });

  it("'auto': a wide tile that fails to compile is dropped, and calls run compact and right", async () => {
    const refuseWide: Refuse = (d) => isFused(d) && Number(d.compute.constants?.RG ?? 1) > 1;
    const { device, refused } = await refusingDevice(refuseWide);
    const ctx = await createAttention({ device, fusedTile: 'auto' });
    try {
      const s = shape(16);
      await ctx.prepare(s, { kernel: 'fused' });
      expect(refused.length).toBeGreaterThan(0); // the measurement tried the wide tile
      expect(ctx.tileMeasurements()).toEqual([]); // and, with no candidate left, made no verdict

      const seed = runSeed();
      const { q, k, v } = makeInputs({ name: 'after a refused wide tile', B: 1, H: 2, Lq: s.queryLength, Lk: s.keyLength, E: s.headDim }, seed);
      const out = await ctx.attention(q, k, v, { kernel: 'fused' });
      const a = compare(out.data, attentionReference(q, k, v).data);
      expect(agrees(a), `seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
    } finally {
      ctx.destroy();
      device.destroy();
    }
  });
});

describe("a verdict from an earlier page load whose tile fails to compile here", () => {
  it("'auto': prepare() rejects naming it, and compiles the compact tile the calls fall back to, so calls compile nothing", async () => {
    const { device, refused } = await refusingDevice((d) => isFused(d) && Number(d.compute.constants?.RG ?? 1) > 1);
    // E = 24: no other test here measures it. No probe runs: the verdict comes from the entry.
    const s = shape(24);
    const earlier = {
      adapter: adapterName(device)!, kernels: kernelsFingerprint(), quadShared: false, adapterKind: 'software' as const,
      workgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize, loads: 'vec4' as const, headDim: 24, valueDim: 24,
      probe: { batch: 1, heads: 8, kvHeads: 8, queryLength: 512, keyLength: 512, headDim: 24, valueDim: 24 },
      repeats: 1, compactMs: 100, wideMs: 50, verdict: 'wide' as const,
    };
    const ctx = await createAttention({ device, tileMeasurements: [earlier] });
    try {
      const err = await ctx.prepare(s, { kernel: 'fused' }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(GPUExecutionError);
      expect((err as Error).message).toMatch(/^The wide fused tile failed to compile for this shape \(flash\); calls will use the compact tile/);
      expect(refused.length).toBeGreaterThan(0);
      const compiledInCalls: string[] = [];
      const compileNow = device.createComputePipeline.bind(device);
      device.createComputePipeline = (d: GPUComputePipelineDescriptor) => {
        compiledInCalls.push(d.label ?? '');
        return compileNow(d);
      };
      const seed = runSeed();
      const { q, k, v } = makeInputs({ name: 'after a refused earlier verdict', B: 1, H: 2, Lq: s.queryLength, Lk: s.keyLength, E: 24 }, seed);
      const out = await ctx.attention(q, k, v, { kernel: 'fused' });
      const a = compare(out.data, attentionReference(q, k, v).data);
      expect(agrees(a), `seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
      expect(compiledInCalls).toEqual([]);
    } finally {
      ctx.destroy();
      device.destroy();
    }
  });
});

describe("the split-keys path's workgroup tile failing to compile", () => {
  const decode = { batch: 1, heads: 2, kvHeads: 2, queryLength: 1, keyLength: 600, headDim: 8, valueDim: 8 };
  const isDecode: Refuse = (d) => d.label === 'webgpu-attention flash-decode';

  it("'auto' on a GPU: prepare() names the tile and says calls fall back; calls run the invocation tile and right", async () => {
    const { device, refused } = await refusingDevice(isDecode);
    // The synchronous compile refused too, so a call that recorded the tile would fail.
    const compileNow = device.createComputePipeline.bind(device);
    device.createComputePipeline = (d: GPUComputePipelineDescriptor) => {
      if (isDecode(d)) throw new Error('refused by the test');
      return compileNow(d);
    };
    // adapterKind 'gpu': 'auto' takes the workgroup tile for decoding, as on a GPU.
    const ctx = await createAttention({ device, debug: { adapterKind: 'gpu' } } as Parameters<typeof createAttention>[0]);
    try {
      const err = await ctx.prepare(decode).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(GPUExecutionError);
      expect((err as Error).message).toMatch(
        /^The split-keys path's workgroup tile failed to compile for this shape \(flash-decode\); calls will use the invocation tile/,
      );
      expect(refused).toContain('webgpu-attention flash-decode');
      // prepare() compiled the invocation tile the calls fall back to: the first call compiles nothing.
      const compiledInCalls: string[] = [];
      const before = device.createComputePipeline;
      device.createComputePipeline = (d: GPUComputePipelineDescriptor) => {
        compiledInCalls.push(d.label ?? '');
        return before(d);
      };
      const seed = runSeed();
      const { q, k, v } = makeInputs({ name: 'decode after a refused tile', B: 1, H: 2, Lq: 1, Lk: 600, E: 8 }, seed);
      for (let i = 0; i < 2; i++) {
        const out = await ctx.attention(q, k, v);
        const a = compare(out.data, attentionReference(q, k, v).data);
        expect(agrees(a), `call ${i}, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
      }
      expect(compiledInCalls).toEqual([]);
    } finally {
      ctx.destroy();
      device.destroy();
    }
  });

  it("forced 'workgroup': prepare() says calls will fail as well", async () => {
    const { device } = await refusingDevice(isDecode);
    const ctx = await createAttention({ device, splitKeysTile: 'workgroup' });
    try {
      const err = await ctx.prepare(decode).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(GPUExecutionError);
      expect((err as Error).message).toMatch(/with splitKeysTile: 'workgroup' calls of this shape will fail as well/);
    } finally {
      ctx.destroy();
      device.destroy();
    }
  });
});
