// A context for GPU tests in Node: real Dawn (SwiftShader where there is no GPU), outputs poisoned
// with NaN before every run, and any uncaptured GPU error recorded so the test fails on it.
import { globals } from 'webgpu';
import { afterAll, beforeAll, expect } from 'vitest';
import { createAttention, type AttentionContext, type CreateAttentionOptions } from '../src/index.js';

// Tests use GPUBufferUsage / GPUMapMode like browser code; in Node they come from Dawn's package.
// (The library itself does not need them.)
Object.assign(globalThis, globals);

export interface GPUFixture {
  ctx: AttentionContext;
  /** Uncaptured GPU errors seen so far (validation errors outside our error scopes). */
  errors: string[];
}

/**
 * Context options with outputs poisoned (NaN written into every output buffer before each run), so
 * a call that records nothing, or only part of its work, cannot pass on a pooled buffer's old contents.
 */
export function poisoned(options: CreateAttentionOptions & { debug?: object } = {}): CreateAttentionOptions {
  return { ...options, debug: { ...options.debug, poisonOutputs: true } } as CreateAttentionOptions;
}

export async function gpuFixture(options: CreateAttentionOptions = {}): Promise<GPUFixture> {
  const ctx = await createAttention(poisoned(options));
  const errors: string[] = [];
  ctx.device.addEventListener('uncapturederror', (e) => {
    errors.push((e as GPUUncapturedErrorEvent).error.message);
  });
  return { ctx, errors };
}

/**
 * A device with WebGPU's default limits (128 MiB storage bindings), as many browsers and phones
 * give, requested directly from the `webgpu` package. Keep `gpu` referenced while the device lives.
 */
export async function defaultLimitsDevice(): Promise<{ device: GPUDevice; gpu: GPU }> {
  const { existsSync } = await import('node:fs');
  const icd = '/usr/lib/chromium/vk_swiftshader_icd.json';
  if (!process.env.VK_ADD_DRIVER_FILES && existsSync(icd)) process.env.VK_ADD_DRIVER_FILES = icd;
  const { create } = await import('webgpu');
  const gpu = create([]) as GPU;
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter for the test');
  const device = await adapter.requestDevice();
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
