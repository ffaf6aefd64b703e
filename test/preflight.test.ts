// A grid larger than the device can fold (maxComputeWorkgroupsPerDimension³ workgroups) is refused
// with DeviceLimitError before any GPU work. A stand-in device reports a tiny dispatch limit.
import { describe, expect, it } from 'vitest';
import { createAttention, DeviceLimitError } from '../src/index.js';

describe('grid limit checked before any GPU work', () => {
  it('throws DeviceLimitError naming maxComputeWorkgroupsPerDimension, with no GPU call made', async () => {
    const calls: string[] = [];
    const limits = { maxComputeWorkgroupsPerDimension: 2, maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 30 };
    const device = new Proxy({ limits, features: new Set<string>(), lost: new Promise(() => {}) } as unknown as GPUDevice, {
      get(target, prop) {
        if (prop in target) return (target as unknown as Record<string | symbol, unknown>)[prop];
        return (..._args: unknown[]) => {
          calls.push(String(prop));
          return { destroy() {}, label: '' };
        };
      },
    });
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
