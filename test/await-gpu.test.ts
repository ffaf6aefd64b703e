// awaitGpu: while a GPU wait is pending in Node, Dawn's poll callbacks go through timers (or, on a
// software adapter, naps) instead of a setImmediate loop; everything else about setImmediate and the promise stays as it was.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { awaitGpu, createAttention } from '../src/index.js';
import { isDawnPoll } from '../src/await-gpu.js';
import { defaultLimitsDevice } from './gpu-fixture.js';

type Immediate = (callback: (...args: unknown[]) => void, ...args: unknown[]) => unknown;
const scope = globalThis as unknown as { setImmediate: Immediate };

/** 5 ms: past awaitGpu's 2 ms of immediate polling. */
const pastSpin = () => new Promise((r) => setTimeout(r, 5));

/**
 * performance.now held still, so that no pause of this process (another test file shares the
 * cores) ends a wait's first 2 ms between two lines; `skipSpin` moves it on by 5 ms.
 */
function heldClock(): { skipSpin: () => void; restore: () => void } {
  let now = performance.now();
  const spy = vi.spyOn(performance, 'now').mockImplementation(() => now);
  return { skipSpin: () => void (now += 5), restore: () => spy.mockRestore() };
}

describe('awaitGpu', () => {
  it('resolves and rejects as the promise does, and puts setImmediate back after the last wait', async () => {
    const before = scope.setImmediate;
    let resolveA!: (v: number) => void;
    let rejectB!: (e: Error) => void;
    const a = awaitGpu(new Promise<number>((r) => (resolveA = r)));
    const b = awaitGpu(new Promise<number>((_, r) => (rejectB = r)));
    expect(scope.setImmediate).not.toBe(before);
    resolveA(42);
    expect(await a).toBe(42);
    expect(scope.setImmediate).not.toBe(before); // b still waits
    rejectB(new Error('device lost'));
    await expect(b).rejects.toThrow('device lost');
    expect(scope.setImmediate).toBe(before);
  });

  it('adopts a thenable or a plain value, and still puts setImmediate back', async () => {
    const before = scope.setImmediate;
    expect(await awaitGpu(42)).toBe(42);
    expect(await awaitGpu({ then: (r: (v: number) => void) => r(7) } as PromiseLike<number>)).toBe(7);
    expect(scope.setImmediate).toBe(before);
  });

  it('keeps what hangs off setImmediate (util.promisify) and never touches ordinary callbacks', async () => {
    const { promisify } = await import('node:util');
    let resolve!: () => void;
    const wait = awaitGpu(new Promise<void>((r) => (resolve = r)));
    await pastSpin(); // past the first milliseconds of the wait
    expect(await promisify(setImmediate)('value')).toBe('value');
    const handle = scope.setImmediate(() => {});
    expect(handle?.constructor?.name).toBe('Immediate');
    const bound = scope.setImmediate(function named() {}.bind(null));
    expect(bound?.constructor?.name).toBe('Immediate');
    // A Promise resolver is native and anonymous too, but not Dawn's: `await` on it must not slow down.
    let resolverHandle: unknown;
    await new Promise<void>((r) => (resolverHandle = scope.setImmediate(r as () => void)));
    expect(resolverHandle?.constructor?.name).toBe('Immediate');
    resolve();
    await wait;
  });

  it('is a pass-through where there is no setImmediate (browsers)', async () => {
    const saved = scope.setImmediate;
    try {
      (scope as { setImmediate?: Immediate }).setImmediate = undefined;
      const p = Promise.resolve(7);
      expect(awaitGpu(p)).toBe(p);
    } finally {
      scope.setImmediate = saved;
    }
  });
});

// With real Dawn: its poll callback, captured from a real wait, and a GPU job long enough that
// polling matters, waited on plainly and through awaitGpu.
describe('awaitGpu with Dawn', () => {
  let device: GPUDevice;
  let gpu: GPU;
  let pipeline: GPUComputePipeline;
  let params: GPUBuffer;
  let out: GPUBuffer;
  let bind: GPUBindGroup;
  beforeAll(async () => {
    ({ device, gpu } = await defaultLimitsDevice());
    const code = `
      @group(0) @binding(0) var<uniform> steps: u32;
      @group(0) @binding(1) var<storage, read_write> out: array<f32>;
      @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
        var x = f32(g.x);
        for (var i = 0u; i < steps; i++) { x = fma(x, 0.999, 0.001); }
        out[g.x] = x;
      }`;
    pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
    params = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    out = device.createBuffer({ size: 256 * 64 * 4, usage: GPUBufferUsage.STORAGE });
    bind = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: params } }, { binding: 1, resource: { buffer: out } }],
    });
  });
  afterAll(() => {
    params?.destroy();
    out?.destroy();
    device?.destroy();
    void gpu;
  });

  /** Runs `steps` loop steps per invocation; returns how often setImmediate was called and the wall time. */
  async function job(steps: number, wait: (p: Promise<undefined>) => Promise<undefined>) {
    device.queue.writeBuffer(params, 0, new Uint32Array([steps, 0, 0, 0]));
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(256);
    pass.end();
    const saved = scope.setImmediate;
    const callbacks: unknown[] = [];
    scope.setImmediate = (cb, ...args) => (callbacks.push(cb), saved(cb, ...args));
    const t0 = performance.now();
    try {
      device.queue.submit([enc.finish()]);
      await wait(device.queue.onSubmittedWorkDone());
    } finally {
      scope.setImmediate = saved;
    }
    return { callbacks, ms: performance.now() - t0 };
  }

  /**
   * A plain wait's setImmediate callbacks, from a job long enough to have some: a 1-step job can
   * finish before Dawn polls at all (seen once in a clean-clone CI run on a busy machine).
   */
  async function polledJob() {
    let steps = 1;
    let r = await job(steps, (p) => p);
    while (r.callbacks.length === 0 && steps < 1 << 20) {
      steps *= 8;
      r = await job(steps, (p) => p);
    }
    expect(r.callbacks.length, `no setImmediate from Dawn in a plain wait of ${steps} steps`).toBeGreaterThan(0);
    return r;
  }

  it("recognises Dawn's poll callback and nothing else", async () => {
    const { callbacks } = await polledJob();
    expect(callbacks.length).toBeGreaterThan(0);
    expect(callbacks.every(isDawnPoll)).toBe(true);
    let resolver: unknown;
    void new Promise((r) => (resolver = r));
    const { revoke } = Proxy.revocable({}, {});
    for (const other of [resolver, revoke, () => {}, function named() {}, function () {}.bind(null), Math.max, setTimeout]) {
      expect(isDawnPoll(other)).toBe(false);
    }
  });

  it("sends Dawn's polls through timers only after the wait's first milliseconds, and only while a wait is pending", async () => {
    const poll = (await polledJob()).callbacks[0] as () => void;
    const clock = heldClock();
    try {
      let resolve!: () => void;
      const wait = awaitGpu(new Promise<void>((r) => (resolve = r)));
      const wrapper = scope.setImmediate;
      expect(scope.setImmediate(poll)?.constructor?.name).toBe('Immediate'); // a short wait spins
      clock.skipSpin();
      expect(scope.setImmediate(poll)?.constructor?.name).toBe('Timeout');
      resolve();
      await wait;
      expect(scope.setImmediate).not.toBe(wrapper);
      expect(scope.setImmediate(poll)?.constructor?.name).toBe('Immediate'); // no wait pending
      // A copy of the wrapper kept past its waits (saved and restored by someone else) passes through.
      expect(wrapper(poll)?.constructor?.name).toBe('Immediate');
    } finally {
      clock.restore();
    }
    await pastSpin();
  });

  it("naps before each poll of a wait's first milliseconds while a wait on a software adapter is pending, and only then", async () => {
    const poll = (await polledJob()).callbacks[0] as () => void;
    const atomics = Atomics as unknown as { wait: (...args: unknown[]) => string };
    const realWait = atomics.wait;
    const naps: unknown[][] = [];
    const open: (() => void)[] = []; // resolved in `finally` too, so a failure here leaves no wait pending
    const pending = (options?: { softwareAdapter: boolean }) => {
      let resolve!: () => void;
      const wait = awaitGpu(new Promise<void>((r) => open.push((resolve = r))), options);
      return async () => (resolve(), await wait);
    };
    const clock = heldClock();
    try {
      atomics.wait = (...args: unknown[]) => (naps.push(args), 'timed-out');
      const endGpu = pending();
      expect(scope.setImmediate(poll)?.constructor?.name).toBe('Immediate'); // a GPU's wait spins
      expect(naps).toHaveLength(0);
      const endSoftware = pending({ softwareAdapter: true });
      expect(scope.setImmediate(poll)?.constructor?.name).toBe('Immediate');
      expect(naps).toHaveLength(1);
      expect(naps[0][3]).toBe(0.05); // 50 µs
      scope.setImmediate(() => {}); // not Dawn's: never delayed
      expect(naps).toHaveLength(1);
      clock.skipSpin();
      expect(scope.setImmediate(poll)?.constructor?.name).toBe('Timeout'); // past the first 2 ms: a timer, no nap
      expect(naps).toHaveLength(1);
      await endSoftware();
      const endGpu2 = pending(); // a new wait's first milliseconds, no software wait left: spins again
      expect(scope.setImmediate(poll)?.constructor?.name).toBe('Immediate');
      expect(naps).toHaveLength(1);
      await endGpu2();
      await endGpu();
      // Where the thread may not block (Electron's renderer throws), the poll takes a timer instead.
      atomics.wait = () => {
        throw new TypeError('Atomics.wait cannot be called in this context');
      };
      const endBlocked = pending({ softwareAdapter: true });
      expect(scope.setImmediate(poll)?.constructor?.name).toBe('Timeout');
      await endBlocked();
    } finally {
      clock.restore();
      atomics.wait = realWait;
      open.forEach((resolve) => resolve());
    }
    await pastSpin();
  });

  it("Dawn's polling reaches setImmediate far less often through awaitGpu", async () => {
    // Long enough on any adapter for polling to matter: double the work until a plain wait takes 100 ms.
    let steps = 2000;
    let spinning = await job(steps, (p) => p);
    while (spinning.ms < 100 && steps < 1 << 26) {
      steps *= 2;
      spinning = await job(steps, (p) => p);
    }
    const quiet = await job(steps, awaitGpu);
    // Plain waits poll in a loop for the whole job; awaitGpu only in its first 2 ms.
    expect(spinning.callbacks.length).toBeGreaterThan(50);
    expect(quiet.callbacks.length * 4).toBeLessThan(spinning.callbacks.length);
  });

  it("puts setImmediate back once the library's own waits are done", async () => {
    const before = scope.setImmediate;
    const ctx = await createAttention({ device, fusedTile: 'compact' });
    try {
      const t = (n: number) => ({ data: new Float32Array(n).fill(0.5), shape: [1, 1, 8, 4] });
      const outp = await ctx.attention(t(32), t(32), t(32));
      expect(outp.data[0]).toBeCloseTo(0.5, 6);
      expect(scope.setImmediate).toBe(before);
    } finally {
      ctx.destroy();
    }
  });
});
