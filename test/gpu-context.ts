// A context for GPU checks in Node: real Dawn (SwiftShader where there is no GPU), outputs poisoned
// with NaN before every run, and any uncaptured GPU error recorded so the check fails on it. No
// vitest here: scripts/gpu-check.ts runs it on a GPU machine without the test runner.
import { globals } from 'webgpu';
import { createAttention, type AttentionContext, type CreateAttentionOptions } from '../src/index.js';

// Tests use GPUBufferUsage / GPUMapMode like browser code; in Node they come from Dawn's package.
// (The library itself does not need them.)
Object.assign(globalThis, globals);

/** A pipeline a compute pass set: its kernel (the label without 'webgpu-attention ') and override constants. */
export interface Dispatch {
  kernel: string;
  constants: Record<string, number>;
}

export interface GPUFixture {
  ctx: AttentionContext;
  /** Uncaptured GPU errors seen so far (validation errors outside our error scopes). */
  errors: string[];
  /** Every pipeline set on a compute pass of the context's device, in order: which tile a call ran. */
  dispatched: Dispatch[];
}

/**
 * Records the pipelines compute passes set on `device` (its pipelines are described as they are
 * created), so a test can tell which kernels and tile a call ran, not only that its answer was right.
 */
function recordDispatches(device: GPUDevice, into: Dispatch[]): void {
  const described = new WeakMap<GPUComputePipeline, Dispatch>();
  const describe = (d: GPUComputePipelineDescriptor): Dispatch => ({
    kernel: (d.label ?? '').replace(/^webgpu-attention /, ''),
    constants: { ...(d.compute.constants ?? {}) } as Record<string, number>,
  });
  const create = device.createComputePipeline.bind(device);
  device.createComputePipeline = (d) => {
    const p = create(d);
    described.set(p, describe(d));
    return p;
  };
  const createAsync = device.createComputePipelineAsync.bind(device);
  device.createComputePipelineAsync = (d) =>
    createAsync(d).then((p) => {
      described.set(p, describe(d));
      return p;
    });
  const encoder = device.createCommandEncoder.bind(device);
  device.createCommandEncoder = (d) => {
    const e = encoder(d);
    const begin = e.beginComputePass.bind(e);
    e.beginComputePass = (pd) => {
      const pass = begin(pd);
      const set = pass.setPipeline.bind(pass);
      pass.setPipeline = (p) => {
        into.push(described.get(p) ?? { kernel: 'not made on this device', constants: {} });
        set(p);
      };
      return pass;
    };
    return e;
  };
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
  const dispatched: Dispatch[] = [];
  recordDispatches(ctx.device, dispatched);
  return { ctx, errors, dispatched };
}

