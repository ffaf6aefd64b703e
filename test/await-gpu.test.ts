// awaitGpu: while a GPU wait is pending in Node, Dawn's poll callbacks go through timers instead
// of a setImmediate loop; everything else about setImmediate and the promise stays as it was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awaitGpu } from '../src/index.js';
import { defaultLimitsDevice } from './gpu-fixture.js';

type Immediate = (callback: (...args: unknown[]) => void, ...args: unknown[]) => unknown;
const scope = globalThis as unknown as { setImmediate: Immediate };

/** A native function with no name, as Dawn hands to setImmediate (Proxy.revocable's revoke is one). */
function nativeAnonymous(onCall: () => void): (...args: unknown[]) => void {
  const { proxy, revoke } = Proxy.revocable({}, {});
  void proxy;
  expect(revoke.name).toBe('');
  expect(Function.prototype.toString.call(revoke)).toContain('[native code]');
  // revoke itself does nothing observable; count the calls through a proxy that keeps its identity checks.
  return new Proxy(revoke, { apply: (target, self, args) => (onCall(), Reflect.apply(target, self, args)) });
}

const settle = () => new Promise((r) => setTimeout(r, 5));

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

  it('keeps what hangs off setImmediate (util.promisify) and never touches ordinary callbacks', async () => {
    const { promisify } = await import('node:util');
    let resolve!: () => void;
    const wait = awaitGpu(new Promise<void>((r) => (resolve = r)));
    await settle(); // past the first milliseconds of the wait
    expect(await promisify(setImmediate)('value')).toBe('value');
    const handle = scope.setImmediate(() => {});
    expect(handle?.constructor?.name).toBe('Immediate');
    const bound = scope.setImmediate(function named() {}.bind(null));
    expect(bound?.constructor?.name).toBe('Immediate');
    resolve();
    await wait;
  });

  it("sends Dawn-like callbacks through timers only after the wait's first milliseconds", async () => {
    let calls = 0;
    const poll = nativeAnonymous(() => calls++);
    let resolve!: () => void;
    const wait = awaitGpu(new Promise<void>((r) => (resolve = r)));
    expect(scope.setImmediate(poll)?.constructor?.name).toBe('Immediate'); // a short wait spins
    await settle();
    expect(scope.setImmediate(poll)?.constructor?.name).toBe('Timeout');
    await settle();
    expect(calls).toBe(2); // both ran
    resolve();
    await wait;
    expect(scope.setImmediate(poll)?.constructor?.name).toBe('Immediate'); // no wait pending
    await settle();
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

// With real Dawn: a GPU job of a few hundred milliseconds, waited on plainly and through awaitGpu,
// counting how often Dawn's polling reaches setImmediate.
describe('awaitGpu with Dawn', () => {
  let device: GPUDevice;
  let gpu: GPU;
  beforeAll(async () => {
    ({ device, gpu } = await defaultLimitsDevice());
  });
  afterAll(() => {
    device?.destroy();
    void gpu;
  });

  async function longJob(wait: (p: Promise<undefined>) => Promise<undefined>): Promise<number> {
    const code = `
      @group(0) @binding(0) var<storage, read_write> out: array<f32>;
      @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
        var x = f32(g.x);
        for (var i = 0u; i < 20000u; i++) { x = fma(x, 0.999, 0.001); }
        out[g.x] = x;
      }`;
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
    const out = device.createBuffer({ size: 256 * 64 * 4, usage: GPUBufferUsage.STORAGE });
    const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(256);
    pass.end();
    const saved = scope.setImmediate;
    let immediates = 0;
    scope.setImmediate = (cb, ...args) => (immediates++, saved(cb, ...args));
    try {
      device.queue.submit([enc.finish()]);
      await wait(device.queue.onSubmittedWorkDone());
    } finally {
      scope.setImmediate = saved;
      out.destroy();
    }
    return immediates;
  }

  it("Dawn's polling reaches setImmediate far less often through awaitGpu", async () => {
    await longJob((p) => p); // compile and warm up
    const spinning = await longJob((p) => p);
    const quiet = await longJob(awaitGpu);
    // Plain waits poll in a loop for the whole job; awaitGpu only in its first 2 ms.
    expect(spinning).toBeGreaterThan(50);
    expect(quiet * 4).toBeLessThan(spinning);
  });
});
