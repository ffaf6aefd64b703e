// Requests the device cannot hold are refused with DeviceLimitError before any GPU work: a grid
// larger than it can fold (maxComputeWorkgroupsPerDimension³ workgroups), a mask over its binding
// limit. A stand-in device reports small limits and records every other call made on it.
import { describe, expect, it } from 'vitest';
import { createAttention, DeviceLimitError } from '../src/index.js';

/** A stand-in device reporting these limits; every method called on it is recorded in `calls`. */
function standInDevice(limits: Record<string, number>): { device: GPUDevice; calls: string[] } {
  const calls: string[] = [];
  const device = new Proxy({ limits, features: new Set<string>(), lost: new Promise(() => {}) } as unknown as GPUDevice, {
    get(target, prop) {
      if (prop in target) return (target as unknown as Record<string | symbol, unknown>)[prop];
      return (..._args: unknown[]) => {
        calls.push(String(prop));
        return { destroy() {}, label: '' };
      };
    },
  });
  return { device, calls };
}

describe('grid limit checked before any GPU work', () => {
  it('throws DeviceLimitError naming maxComputeWorkgroupsPerDimension, with no GPU call made', async () => {
    const { device, calls } = standInDevice({ maxComputeWorkgroupsPerDimension: 2, maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 30 });
    const ctx = await createAttention({ device });
    calls.length = 0; // the context's own dummy buffers
    // 64 invocations of 4 query rows a workgroup → 10 workgroups for 2560 rows: over 2³ = 8.
    const q = { data: new Float32Array(2560 * 4), shape: [2560, 4] };
    const k = { data: new Float32Array(8 * 4), shape: [8, 4] };
    await expect(ctx.attention(q, k, k, { kernel: 'fused' })).rejects.toThrow(DeviceLimitError);
    await expect(ctx.attention(q, k, k, { kernel: 'fused' })).rejects.toThrow(/maxComputeWorkgroupsPerDimension/);
    expect(calls).toEqual([]);
  });
});

describe('mask size checked before any GPU work', () => {
  it('an additive mask over the binding limit: DeviceLimitError naming the mask, from attention() and encode(), with no GPU call made', async () => {
    // 1 MiB bindings: q, k, v (600 x 4 floats) fit, a [600, 600] additive mask (1.44 MB) does not.
    const { device, calls } = standInDevice({ maxComputeWorkgroupsPerDimension: 65535, maxStorageBufferBindingSize: 1 << 20, maxBufferSize: 1 << 20 });
    const ctx = await createAttention({ device });
    calls.length = 0; // the context's own dummy buffers
    const t = { data: new Float32Array(600 * 4), shape: [600, 4] };
    const mask = { data: new Float32Array(600 * 600), shape: [600, 600] };
    const message = /mask \(360000 elements\) needs 1440000 bytes, over this device's maxStorageBufferBindingSize.*boolean mask/;
    await expect(ctx.attention(t, t, t, { mask })).rejects.toThrow(DeviceLimitError);
    await expect(ctx.attention(t, t, t, { mask })).rejects.toThrow(message);
    const buffer = (size: number) => ({ size, usage: 0x80 /* STORAGE */ }) as unknown as GPUBuffer;
    const buffers = { q: buffer(9600), k: buffer(9600), v: buffer(9600), output: buffer(9600), mask: buffer(1440000) };
    const encoder = { beginComputePass: () => ({}) } as unknown as GPUCommandEncoder;
    const shape = { batch: 1, heads: 1, kvHeads: 1, queryLength: 600, keyLength: 600, headDim: 4, valueDim: 4 };
    expect(() => ctx.encode(encoder, buffers, shape, { mask: { kind: 'additive', shape: [600, 600] } })).toThrow(message);
    expect(calls).toEqual([]);
  });
});
