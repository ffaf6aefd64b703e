// Which GPU error a call reports when its recording raised more than one. An allocation that runs
// out of memory leaves an invalid buffer, whose later use in the same call also fails validation;
// the out-of-memory error is the cause, so attention() must report that one. Real Dawn, with the
// out-of-memory error injected (SwiftShader does not run out of memory on these sizes) and the
// validation error it causes made real: the call's output buffer is created too big to be valid.
import { describe, expect, it } from 'vitest';
import { attentionReference, createAttention, GPUExecutionError } from '../../src/index.js';
import { agrees, compare } from '../compare.js';
import { defaultLimitsDevice } from '../gpu-fixture.js';

describe('GPU errors', () => {
  it('an out-of-memory error is reported as such, not as the validation errors it causes', async () => {
    const { device, gpu } = await defaultLimitsDevice();
    const scopes: GPUErrorFilter[] = [];
    const push = device.pushErrorScope.bind(device);
    const pop = device.popErrorScope.bind(device);
    const create = device.createBuffer.bind(device);
    let armed = false;
    const real: (GPUError | null)[] = [];
    device.pushErrorScope = (filter: GPUErrorFilter) => {
      scopes.push(filter);
      push(filter);
    };
    device.popErrorScope = async () => {
      const filter = scopes.pop();
      const error = await pop();
      if (armed) real.push(error);
      return armed && filter === 'out-of-memory' ? ({ message: 'injected: out of memory' } as GPUError) : error;
    };
    device.createBuffer = (d: GPUBufferDescriptor) =>
      create(armed && d.label === 'webgpu-attention output' ? { ...d, size: device.limits.maxBufferSize + 4 } : d);
    const ctx = await createAttention({ device });
    try {
      const t = { data: new Float32Array(64).fill(0.5), shape: [1, 1, 8, 8] };
      armed = true;
      const err = await ctx.attention(t, t, t).then(() => null, (e: unknown) => e);
      expect(real.some((e) => e !== null), 'the real validation error the invalid output buffer causes').toBe(true);
      expect(err).toBeInstanceOf(GPUExecutionError);
      expect((err as GPUExecutionError).kind).toBe('out-of-memory');
      expect((err as Error).message).toMatch(/GPU out-of-memory error in webgpu-attention's '\w[\w-]*' kernels .*injected: out of memory/);
    } finally {
      ctx.destroy();
      device.destroy();
      void gpu;
    }
  });

  // An allocation that ran out of memory leaves an invalid buffer of the requested size and usage: if
  // the call that failed on it returned it to the pool, every later call of that shape would take it
  // and fail too. Injected as an invalid buffer (MAP_READ | STORAGE is not a valid usage) that reports
  // the usage asked for, as such a buffer does.
  // The invalid buffer is q, an upload: its creation and write must fail inside the call's own
  // error scopes (they were made before the scopes were pushed, so both errors went uncaptured).
  it("a call that failed on the GPU returns none of its buffers to the pool: the next call of that shape works; its errors are the call's, none uncaptured", async () => {
    const { device, gpu } = await defaultLimitsDevice();
    const uncaptured: string[] = [];
    device.addEventListener('uncapturederror', (e) => uncaptured.push((e as GPUUncapturedErrorEvent).error.message));
    const create = device.createBuffer.bind(device);
    let armed = false;
    device.createBuffer = (d: GPUBufferDescriptor) => {
      if (!armed || d.label !== 'webgpu-attention q') return create(d);
      armed = false;
      const b = create({ ...d, usage: d.usage | GPUBufferUsage.MAP_READ });
      Object.defineProperty(b, 'usage', { value: d.usage });
      return b;
    };
    const ctx = await createAttention({ device });
    try {
      const q = { data: new Float32Array(64).map((_, i) => Math.sin(i)), shape: [1, 1, 8, 8] };
      const k = { data: new Float32Array(64).map((_, i) => Math.cos(i)), shape: [1, 1, 8, 8] };
      armed = true;
      const err = await ctx.attention(q, k, k).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(GPUExecutionError);
      expect(armed, 'the invalid buffer was made').toBe(false);
      const again = await ctx.attention(q, k, k);
      expect(agrees(compare(again.data, attentionReference(q, k, k).data))).toBe(true);
      await device.queue.onSubmittedWorkDone();
      expect(uncaptured).toEqual([]);
    } finally {
      ctx.destroy();
      device.destroy();
      void gpu;
    }
  });
});
