// Which GPU error a call reports when its recording raised more than one. An allocation that runs
// out of memory leaves an invalid buffer, whose later use in the same call also fails validation;
// the out-of-memory error is the cause, so attention() must report that one. Real Dawn, with the
// out-of-memory error injected (SwiftShader does not run out of memory on these sizes) and the
// validation error it causes made real: the call's output buffer is created too big to be valid.
import { describe, expect, it } from 'vitest';
import { createAttention, GPUExecutionError } from '../../src/index.js';
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
});
