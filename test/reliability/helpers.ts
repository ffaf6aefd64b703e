// Shared helpers for the reliability tests: borrowed devices we can instrument, GPU-call
// counters, live-buffer accounting, timeouts, and reading a GPUBuffer back.
import { acquireAdapter } from '../../src/device.js';

// Dawn's instance (the `gpu` object) must outlive its devices: keep every one we make.
const keepAlive: GPU[] = [];

/**
 * A device the test owns and lends to createAttention({ device }). `limits`: 'adapter' asks for
 * the adapter's largest buffers (as the library does for its own devices), 'default' takes
 * WebGPU's defaults (128 MiB bindings, 256 MiB buffers), or give explicit values. `features`: those
 * of them the adapter has are requested (default none).
 */
export async function borrowedDevice(
  limits: 'adapter' | 'default' | Record<string, number> = 'adapter',
  features: GPUFeatureName[] = [],
): Promise<GPUDevice> {
  const { gpu, adapter } = await acquireAdapter();
  keepAlive.push(gpu);
  let requiredLimits: Record<string, number> | undefined;
  if (limits === 'adapter') {
    requiredLimits = {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    };
  } else if (limits !== 'default') requiredLimits = limits;
  const requiredFeatures = features.filter((f) => adapter.features.has(f));
  return adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'reliability test device' });
}

/**
 * A device from an adapter requested with featureLevel 'compatibility' (Dawn: WebGPU's
 * compatibility mode, for older graphics APIs; among its lower limits, 128 invocations per workgroup).
 */
export async function compatibilityDevice(): Promise<GPUDevice> {
  const { gpu } = await acquireAdapter();
  keepAlive.push(gpu);
  const adapter = await gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
  if (!adapter) throw new Error('no compatibility-mode adapter');
  return adapter.requestDevice({ label: 'compatibility-mode test device' });
}

/** Uncaptured GPU errors (outside any error scope) seen on a device. */
export function uncapturedErrors(device: GPUDevice): string[] {
  const errors: string[] = [];
  device.addEventListener('uncapturederror', (e) => errors.push((e as GPUUncapturedErrorEvent).error.message));
  return errors;
}

export interface GPUCounters {
  createBuffer: number;
  writeBuffer: number;
  createCommandEncoder: number;
  beginComputePass: number;
  pushErrorScope: number;
  submit: number;
  createBindGroup: number;
  createComputePipeline: number;
  createComputePipelineAsync: number;
  createShaderModule: number;
  /** Buffers created on the device and not destroyed yet (whoever made them). */
  live: Set<GPUBuffer>;
  liveBytes(): number;
  /** The sum of the counters of GPU work (not the live set). */
  work(): number;
}

/**
 * Wraps the device's entry points (before createAttention sees it) to count GPU work and keep a
 * live-buffer set: createBuffer adds, GPUBuffer.destroy removes.
 */
export function instrument(device: GPUDevice): GPUCounters {
  const c: GPUCounters = {
    createBuffer: 0,
    writeBuffer: 0,
    createCommandEncoder: 0,
    beginComputePass: 0,
    pushErrorScope: 0,
    submit: 0,
    createBindGroup: 0,
    createComputePipeline: 0,
    createComputePipelineAsync: 0,
    createShaderModule: 0,
    live: new Set(),
    liveBytes() {
      let n = 0;
      for (const b of this.live) n += b.size;
      return n;
    },
    work() {
      return this.createBuffer + this.writeBuffer + this.createCommandEncoder + this.beginComputePass +
        this.pushErrorScope + this.submit + this.createBindGroup +
        this.createShaderModule + this.createComputePipeline + this.createComputePipelineAsync;
    },
  };
  const wrap = <T extends object>(obj: T, name: string, before: (...args: unknown[]) => void, after?: (r: unknown) => void) => {
    const o = obj as unknown as Record<string, (...a: unknown[]) => unknown>;
    const orig = o[name].bind(obj);
    o[name] = (...args: unknown[]) => {
      before(...args);
      const r = orig(...args);
      after?.(r);
      return r;
    };
  };
  wrap(device, 'createBuffer', () => c.createBuffer++, (r) => {
    const b = r as GPUBuffer;
    c.live.add(b);
    const destroy = b.destroy.bind(b);
    b.destroy = () => {
      c.live.delete(b);
      destroy();
    };
  });
  wrap(device, 'createCommandEncoder', () => c.createCommandEncoder++, (r) => {
    wrap(r as GPUCommandEncoder, 'beginComputePass', () => c.beginComputePass++);
  });
  wrap(device, 'pushErrorScope', () => c.pushErrorScope++);
  wrap(device, 'createBindGroup', () => c.createBindGroup++);
  wrap(device, 'createComputePipeline', () => c.createComputePipeline++);
  wrap(device, 'createShaderModule', () => c.createShaderModule++);
  wrap(device, 'createComputePipelineAsync', () => c.createComputePipelineAsync++);
  wrap(device.queue, 'writeBuffer', () => c.writeBuffer++);
  wrap(device.queue, 'submit', () => c.submit++);
  return c;
}

/** Rejects with a clear message if `p` has not settled within `ms` (a hang detector, not a timing check). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HANG: ${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Settles to the value or the error, so a test can inspect a rejection. */
export async function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}

export const GPUBufferUsageFlags = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  STORAGE: 0x0080,
} as const;

