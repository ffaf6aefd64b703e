// A context for GPU tests in Node: real Dawn (SwiftShader where there is no GPU), outputs poisoned
// with NaN before every run, and any uncaptured GPU error recorded so the test fails on it.
import { createAttention, type AttentionContext } from '../src/index.js';

export interface GPUFixture {
  ctx: AttentionContext;
  /** Uncaptured GPU errors seen so far (validation errors outside our error scopes). */
  errors: string[];
}

export async function gpuFixture(): Promise<GPUFixture> {
  const ctx = await createAttention({ debug: { poisonOutputs: true } } as Parameters<typeof createAttention>[0]);
  const errors: string[] = [];
  ctx.device.addEventListener('uncapturederror', (e) => {
    errors.push((e as GPUUncapturedErrorEvent).error.message);
  });
  return { ctx, errors };
}
