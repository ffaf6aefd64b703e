// Device loss and GPU errors. Calls in flight when the device dies settle with DeviceLostError
// within seconds (every await is raced against a hang detector, never timed); later calls on a
// borrowed device keep rejecting with the same error; a context that owns its device replaces it.
// GPU validation errors inside our kernels reject with GPUExecutionError naming the kernels.
import { describe, expect, it } from 'vitest';
import {
  attentionReference,
  createAttention,
  DeviceLostError,
  GPUExecutionError,
  type AttentionOptions,
  type Tensor,
} from '../../src/index.js';
import { makeInputs, type Case } from '../cases.js';
import { agrees, compare } from '../compare.js';
import { runSeed } from '../random.js';
import { readBuffer, upload } from '../gpu-buffers.js';
import { borrowedDevice, GPUBufferUsageFlags, settle, uncapturedErrors, within } from './helpers.js';
import { poisoned } from '../gpu-fixture.js';

const seed = runSeed();
const HANG_MS = 10_000;
// The staged kernels compile fastest on SwiftShader, and every new device compiles afresh.
const shape: Case = { name: 'loss', B: 1, H: 4, Lq: 96, Lk: 96, E: 16 };
const inputs = (i: number) => makeInputs(shape, seed + i, 'staged');

/** A call that resolved although the device went away mid-flight must still be right (finished before the loss). */
function expectResolvedRight(results: { ok: boolean; value?: unknown }[], at: (i: number) => ReturnType<typeof inputs>, what: string) {
  results.forEach((r, i) => {
    if (!r.ok) return;
    const { q, k, v, options } = at(i);
    const value = r.value as Tensor | { output: Tensor };
    const out = 'output' in value ? value.output : value;
    const a = compare(out.data, attentionReference(q, k, v, options).data);
    expect(agrees(a), `${what} ${i} resolved, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
  });
}

async function expectCorrect(p: Promise<Tensor>, q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions, what: string) {
  const out = await within(p, HANG_MS, what);
  const a = compare(out.data, attentionReference(q, k, v, o).data);
  expect(agrees(a), `${what}, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
}

/** Resolves once the device's queue has seen `n` more submits. */
function submitsSeen(device: GPUDevice, n: number): Promise<void> {
  const submit = device.queue.submit.bind(device.queue);
  let seen = 0;
  return new Promise((resolve) => {
    device.queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
      submit(buffers);
      if (++seen === n) resolve();
    };
  });
}

// Node's own setImmediate, taken before this file makes any GPU call (awaitGpu swaps it while waits are pending).
const nodeSetImmediate = globalThis.setImmediate;

/** Resolves once every GPU wait the library wrapped in awaitGpu has settled: Node's setImmediate is back. */
async function gpuWaitsSettled(original: unknown): Promise<void> {
  const scope = globalThis as { setImmediate?: unknown };
  while (scope.setImmediate !== original) await new Promise((r) => setTimeout(r, 10));
}

describe(`device loss (seed ${seed}; rerun with TEST_SEED=${seed})`, () => {
  it('borrowed device destroyed with calls submitted: all reject with DeviceLostError, later calls too, no hang', async () => {
    const device = await borrowedDevice();
    const errors = uncapturedErrors(device);
    const ctx = await createAttention(poisoned({ device }));
    const warm = inputs(0);
    await expectCorrect(ctx.attention(warm.q, warm.k, warm.v, warm.options), warm.q, warm.k, warm.v, warm.options, 'warm-up');

    const submitted = submitsSeen(device, 8);
    const calls = Array.from({ length: 8 }, (_, i) => {
      const { q, k, v, options } = inputs(i + 1);
      return i % 2 ? ctx.attention(q, k, v, options) : ctx.attentionWithWeights(q, k, v, options);
    });
    await within(submitted, HANG_MS, 'the calls reaching queue.submit');
    device.destroy();
    const results = await within(Promise.all(calls.map((c) => settle(c as Promise<unknown>))), HANG_MS, 'calls in flight after destroy()');
    for (const r of results) {
      // A call may have finished before the destroy took effect; none may hang or fail otherwise.
      if (!r.ok) expect(r.error).toBeInstanceOf(DeviceLostError);
    }
    expectResolvedRight(results, (i) => inputs(i + 1), 'call');
    expect(results.some((r) => !r.ok)).toBe(true);
    const first = results.find((r) => !r.ok) as { error: DeviceLostError };
    expect(first.error.reason).toBe('destroyed');
    expect(first.error.message).toMatch(/The GPU device was lost \(destroyed.*Create a new device and a new context/);

    // Later calls: the same error, at once, without touching the dead device.
    const { q, k, v } = inputs(20);
    for (const call of [() => ctx.attention(q, k, v), () => ctx.attentionWithLogSumExp(q, k, v), () => ctx.attentionWithWeights(q, k, v)]) {
      const err = await within(call().catch((e) => e), HANG_MS, 'a call after the loss');
      expect(err).toBe(first.error);
    }
    expect(() => ctx.encode({} as GPUCommandEncoder, {} as never, {} as never)).toThrow(DeviceLostError);
    expect(ctx.device).toBe(device); // a borrowed device is never replaced
    ctx.destroy();
    ctx.destroy();
    expect(errors).toEqual([]);
    // No GPU wait is left pending on the dead device (awaitGpu would keep Dawn's polling throttled).
    await within(gpuWaitsSettled(nodeSetImmediate), HANG_MS, "the library's GPU waits settling");
  });

  it('borrowed device destroyed right after the calls start (before they submit): they reject with DeviceLostError', async () => {
    const device = await borrowedDevice();
    const ctx = await createAttention(poisoned({ device }));
    const calls = Array.from({ length: 4 }, (_, i) => {
      const { q, k, v, options } = inputs(i + 30);
      return settle(ctx.attention(q, k, v, options));
    });
    device.destroy();
    const results = await within(Promise.all(calls), HANG_MS, 'calls started just before destroy()');
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect((r as { error: unknown }).error).toBeInstanceOf(DeviceLostError);
    }
    const later = await within(settle(ctx.attention(inputs(34).q, inputs(34).k, inputs(34).v)), HANG_MS, 'a later call');
    expect(later.ok).toBe(false);
    expect((later as { error: unknown }).error).toBeInstanceOf(DeviceLostError);
    ctx.destroy();
  });

  it('owned device destroyed: calls in flight reject with DeviceLostError; the next call gets a new device and is right', async () => {
    const ctx = await createAttention(poisoned());
    const errors = uncapturedErrors(ctx.device);
    const a = inputs(40);
    await expectCorrect(ctx.attention(a.q, a.k, a.v, a.options), a.q, a.k, a.v, a.options, 'first call');
    const first = ctx.device;
    const submitted = submitsSeen(first, 3);
    const inflight = [41, 42, 43].map((i) => {
      const { q, k, v, options } = inputs(i);
      return settle(ctx.attention(q, k, v, options));
    });
    await within(submitted, HANG_MS, 'the calls reaching queue.submit');
    first.destroy();
    const results = await within(Promise.all(inflight), HANG_MS, 'calls in flight');
    for (const r of results) if (!r.ok) expect(r.error).toBeInstanceOf(DeviceLostError);
    expectResolvedRight(results, (i) => inputs(41 + i), 'in-flight call');
    expect(results.some((r) => !r.ok)).toBe(true);
    expect((results.find((r) => !r.ok) as { error: Error }).error.message).toMatch(/The next attention or prepare\(\) call creates a new device/);

    const b = inputs(44);
    await expectCorrect(ctx.attention(b.q, b.k, b.v, b.options), b.q, b.k, b.v, b.options, 'the call after the loss');
    expect(ctx.device).not.toBe(first);
    expect(errors).toEqual([]);
    ctx.destroy();
    await within(gpuWaitsSettled(nodeSetImmediate), HANG_MS, "the library's GPU waits settling");
  });

  it('owned device: ctx.device.destroy() and an immediate call (before device.lost settles) → that call already succeeds', async () => {
    const ctx = await createAttention(poisoned());
    const first = ctx.device;
    first.destroy();
    // Several at once: one new device, not one each.
    const calls = [50, 51, 52].map((i) => {
      const { q, k, v, options } = inputs(i);
      return expectCorrect(ctx.attention(q, k, v, options), q, k, v, options, `call ${i} right after destroy()`);
    });
    await Promise.all(calls);
    expect(ctx.device).not.toBe(first);
    const second = ctx.device;
    const c = inputs(53);
    await expectCorrect(ctx.attention(c.q, c.k, c.v, c.options), c.q, c.k, c.v, c.options, 'a later call');
    expect(ctx.device).toBe(second);
    ctx.destroy();
    const lost = await within(second.lost, HANG_MS, 'the owned device being destroyed by ctx.destroy()');
    expect(lost.reason).toBe('destroyed');
  });

  it('owned device lost: encode() throws DeviceLostError saying what to do; after prepare() it records on the new device', async () => {
    const ctx = await createAttention(poisoned());
    const first = ctx.device;
    const { q, k, v } = inputs(60);
    const shapeArg = { batch: 1, heads: 4, kvHeads: 4, queryLength: 96, keyLength: 96, headDim: 16, valueDim: 16 };
    first.destroy();
    const buffersOn = (device: GPUDevice) => ({
      q: upload(device, q.data), k: upload(device, k.data), v: upload(device, v.data),
      output: upload(device, new Float32Array(4 * 96 * 16)),
    });
    expect(() => ctx.encode(first.createCommandEncoder(), buffersOn(first), shapeArg, { kernel: 'staged' })).toThrow(
      /device was lost.*encode\(\) cannot.*await ctx\.prepare\(shape\) first/,
    );
    const err = (() => { try { ctx.encode(first.createCommandEncoder(), buffersOn(first), shapeArg); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(DeviceLostError);

    await within(ctx.prepare(shapeArg, { kernel: 'staged' }), HANG_MS, 'prepare() after the loss');
    const second = ctx.device;
    expect(second).not.toBe(first);
    const errors = uncapturedErrors(second);
    const bufs = buffersOn(second);
    const encoder = second.createCommandEncoder();
    ctx.encode(encoder, bufs, shapeArg, { kernel: 'staged' });
    second.queue.submit([encoder.finish()]);
    const got = await within(readBuffer(second, bufs.output, 4 * 96 * 16), HANG_MS, 'read back');
    const a = compare(got, attentionReference(q, k, v).data);
    expect(agrees(a), `encode() on the new device, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
    expect(errors).toEqual([]);
    ctx.destroy();
  });
});

describe(`GPU errors inside our kernels (seed ${seed})`, () => {
  it.each(['staged', 'fused'] as const)(
    'a validation error while the %s kernels run → GPUExecutionError naming them, no console noise; the context stays usable',
    async (kernel) => {
      // Realistic trigger without a driver bug: a buffer destroyed under a recorded bind group
      // ("used in submit while destroyed"). We swap one binding of our first bind group for a
      // destroyed buffer, as a buggy shared-buffer scheme or an early destroy() would.
      const device = await borrowedDevice();
      const errors = uncapturedErrors(device);
      const ctx = await createAttention(poisoned({ device }));
      const { q, k, v } = inputs(60);
      const options: AttentionOptions = { kernel };
      const createBindGroup = device.createBindGroup.bind(device);
      let sabotage = true;
      device.createBindGroup = (d: GPUBindGroupDescriptor) => {
        if (sabotage) {
          sabotage = false;
          const dead = device.createBuffer({ size: 1 << 16, usage: GPUBufferUsageFlags.STORAGE });
          dead.destroy();
          const entries = Array.from(d.entries, (e) => (e.binding === 2 ? { binding: 2, resource: { buffer: dead } } : e));
          return createBindGroup({ ...d, entries });
        }
        return createBindGroup(d);
      };
      const err = await within(ctx.attention(q, k, v, options).catch((e) => e), HANG_MS, 'the failing call');
      expect(err).toBeInstanceOf(GPUExecutionError);
      expect(err.kernel).toBe(kernel);
      expect(err.kind).toBe('validation');
      expect(err.message).toMatch(kernel === 'staged' ? /'staged' kernels \(scores or scores-quad, softmax, weighted-sum or weighted-sum-quad\)/ : /'fused' kernels \(flash, flash-quad, flash-tiled \(and merge on the workgroup-split tile\), or flash-held-keys or flash-held-keys-32 and merge-rows\)/);
      expect(err.message).toMatch(/destroyed/i);
      expect(errors, 'nothing escaped as an uncaptured error').toEqual([]);
      await expectCorrect(ctx.attention(q, k, v, options), q, k, v, options, 'the next call');
      expect(errors).toEqual([]);
      ctx.destroy();
      device.destroy();
    },
  );

  it("encode() with a destroyed buffer: the error is the caller's, in the caller's error scope; the context is unharmed", async () => {
    const device = await borrowedDevice();
    const errors = uncapturedErrors(device);
    const ctx = await createAttention(poisoned({ device }));
    const { q, k, v } = inputs(70);
    const shapeArg = { batch: 1, heads: 4, kvHeads: 4, queryLength: 96, keyLength: 96, headDim: 16, valueDim: 16 };
    const bufs = { q: upload(device, q.data), k: upload(device, k.data), v: upload(device, v.data), output: upload(device, new Float32Array(4 * 96 * 16)) };
    bufs.k.destroy();
    device.pushErrorScope('validation');
    const encoder = device.createCommandEncoder();
    ctx.encode(encoder, bufs, shapeArg, { kernel: 'staged' }); // no throw: encode cannot know
    device.queue.submit([encoder.finish()]);
    const scoped = await within(device.popErrorScope(), HANG_MS, 'the caller popping its scope');
    expect(scoped).not.toBeNull();
    expect(scoped!.message).toMatch(/destroyed/i);
    expect(errors).toEqual([]);
    // Same context, fresh buffers: right answer.
    bufs.k = upload(device, k.data);
    const enc2 = device.createCommandEncoder();
    ctx.encode(enc2, bufs, shapeArg, { kernel: 'staged' });
    device.queue.submit([enc2.finish()]);
    const got = await within(readBuffer(device, bufs.output, 4 * 96 * 16), HANG_MS, 'read back');
    expect(agrees(compare(got, attentionReference(q, k, v).data))).toBe(true);
    await expectCorrect(ctx.attention(q, k, v, { kernel: 'staged' }), q, k, v, {}, 'attention() after');
    expect(errors).toEqual([]);
    ctx.destroy();
    device.destroy();
  });
});
