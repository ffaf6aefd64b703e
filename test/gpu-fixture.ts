// GPU test fixtures in Node: a context per suite (test/gpu-context.ts), checked for uncaptured GPU
// errors and destroyed after it, and a device with WebGPU's default limits.
import { afterAll, beforeAll, expect } from 'vitest';
import type { CreateAttentionOptions } from '../src/index.js';
import { SWIFTSHADER_ICDS } from '../src/device.js';
import { gpuFixture, type GPUFixture } from './gpu-context.js';

export { gpuFixture, poisoned, type GPUFixture } from './gpu-context.js';

/**
 * A device with WebGPU's default limits (128 MiB storage bindings), as many browsers and phones
 * give, requested directly from the `webgpu` package. Keep `gpu` referenced while the device lives.
 */
export async function defaultLimitsDevice(): Promise<{ device: GPUDevice; gpu: GPU }> {
  return deviceWithLimits({});
}

/** The same with these limits raised (to the adapter's, say), no features. */
export async function deviceWithLimits(requiredLimits: Record<string, number>): Promise<{ device: GPUDevice; gpu: GPU }> {
  const { existsSync } = await import('node:fs');
  const icd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
  if (!process.env.VK_ADD_DRIVER_FILES && icd) process.env.VK_ADD_DRIVER_FILES = icd;
  const { create } = await import('webgpu');
  const gpu = create([]) as GPU;
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter for the test');
  const device = await adapter.requestDevice({ requiredLimits });
  return { device, gpu };
}

/**
 * Registers a suite's fixture: created before its tests, and at the end checked for uncaptured
 * GPU errors and destroyed. Read `fx.current` inside tests.
 */
export function useGPUFixture(options: CreateAttentionOptions = {}): { readonly current: GPUFixture } {
  const holder = { current: undefined as unknown as GPUFixture };
  beforeAll(async () => {
    holder.current = await gpuFixture(options);
  });
  afterAll(() => {
    expect(holder.current.errors, 'uncaptured GPU errors').toEqual([]);
    holder.current.ctx.destroy();
  });
  return holder;
}

/**
 * The same on a device of its own requested without features (no subgroups: the plain kernels, as
 * GPUs run them), `fusedTile: 'compact'` unless the options say otherwise. The device is destroyed
 * with the context.
 */
export function usePlainFixture(options: CreateAttentionOptions = {}): { readonly current: GPUFixture } {
  const holder = { current: undefined as unknown as GPUFixture };
  let owned: { device: GPUDevice; gpu: GPU };
  beforeAll(async () => {
    owned = await defaultLimitsDevice();
    holder.current = await gpuFixture({ fusedTile: 'compact', ...options, device: owned.device });
  });
  afterAll(() => {
    expect(holder.current.errors, 'uncaptured GPU errors').toEqual([]);
    holder.current.ctx.destroy();
    owned.device.destroy();
  });
  return holder;
}
