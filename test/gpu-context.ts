// A context for GPU checks in Node: real Dawn (SwiftShader where there is no GPU), outputs poisoned
// with NaN before every run, and any uncaptured GPU error recorded so the check fails on it. No
// vitest here: scripts/gpu-check.ts runs it on a GPU machine without the test runner.
import { globals } from 'webgpu';
import { createAttention, type AttentionContext, type CreateAttentionOptions } from '../src/index.js';
import { type Dispatch, recordDispatches } from './dispatches.js';

export type { Dispatch } from './dispatches.js';

// Tests use GPUBufferUsage / GPUMapMode like browser code; in Node they come from Dawn's package.
// (The library itself does not need them.)
Object.assign(globalThis, globals);

export interface GPUFixture {
  ctx: AttentionContext;
  /** Uncaptured GPU errors seen so far (validation errors outside our error scopes). */
  errors: string[];
  /** Every pipeline set on a compute pass of the context's device, in order: which tile a call ran. */
  dispatched: Dispatch[];
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

