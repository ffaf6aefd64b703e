// The one-time tile measurement: it survives a context that goes away in the middle of it (the
// interrupted measurement is not kept as a verdict, so the next context measures), and its verdicts
// are shared only between devices of an adapter that can be named.
import { describe, expect, it, vi } from 'vitest';
import { ContextDestroyedError, createAttention, GPUExecutionError } from '../../src/index.js';
import { adapterName, HOT_FLOPS, kernelsFingerprint, TileTuner } from '../../src/tile-tuning.js';
import { tileCandidates } from '../../src/tiles.js';
import { borrowedDevice, uncapturedErrors } from './helpers.js';
import { poisoned } from '../gpu-fixture.js';

// A head size no other test in this file measures (verdicts are shared per adapter and head size),
// and a small one: the wide tile's compile grows with it (E = 20 took 7-14 s a compile, E = 8 ~2.5 s).
const shape = { batch: 1, heads: 1, kvHeads: 1, queryLength: 16, keyLength: 16, headDim: 8, valueDim: 8 };

describe('tile measurement interrupted', () => {
  it('a context destroyed while its candidates compile: prepare() rejects, and the next context gets a verdict', async () => {
    const first = await borrowedDevice();
    const ctx1 = await createAttention(poisoned({ device: first, fusedTile: 'auto' }));
    // Destroy the context as soon as the measurement asks for its first candidate's pipeline.
    const compile = first.createComputePipelineAsync.bind(first);
    first.createComputePipelineAsync = (d: GPUComputePipelineDescriptor) => {
      queueMicrotask(() => ctx1.destroy());
      return compile(d);
    };
    const second = await borrowedDevice(); // the same adapter: the verdict would be shared
    const ctx2 = await createAttention(poisoned({ device: second, fusedTile: 'auto' }));
    try {
      const err = await ctx1.prepare(shape, { kernel: 'fused' }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(ContextDestroyedError);
      const errors = uncapturedErrors(second);
      await ctx2.prepare(shape, { kernel: 'fused' });
      const measured = ctx2.tileMeasurements().filter((m) => m.headDim === 8);
      expect(measured).toHaveLength(1);
      expect(measured[0].compactMs).toBeGreaterThan(0);
      expect(errors).toEqual([]);
    } finally {
      ctx1.destroy();
      ctx2.destroy();
      first.destroy();
      second.destroy();
    }
  }, 120_000);

  it('a measurement that fails for another reason than a compile is retried only after another HOT_FLOPS of work', async () => {
    let probes = 0;
    const device = {
      adapterInfo: { vendor: 'test', architecture: 'retry', device: '', description: '' },
      features: new Set(),
      limits: { maxComputeWorkgroupStorageSize: 16384 },
    } as unknown as GPUDevice;
    const tuner = new TileTuner(device, async () => {
      probes++;
      throw new Error('the device went away'); // not a GPUExecutionError: not a tile that cannot compile
    }, false);
    const settled = () => new Promise((r) => setTimeout(r, 10));
    expect(tuner.verdict('vec4', 64, 64, HOT_FLOPS)).toBeUndefined(); // enough work: the measurement starts
    await settled();
    expect(probes).toBe(1);
    // Asked of the tuner itself, not only of the probe count after a pause (a probe may start late).
    const measure = vi.spyOn(tuner, 'measure');
    expect(tuner.verdict('vec4', 64, 64, 1)).toBeUndefined(); // the failure was not cached as a verdict...
    await settled();
    expect(measure).not.toHaveBeenCalled(); // ...and a little more work does not start it again at once
    expect(probes).toBe(1);
    measure.mockRestore();
    tuner.verdict('vec4', 64, 64, HOT_FLOPS);
    await settled();
    expect(probes).toBe(2);
  });
});

describe('which adapter a verdict belongs to', () => {
  const device = (info: Partial<GPUAdapterInfo> | undefined) => ({ adapterInfo: info }) as unknown as GPUDevice;
  it('an adapter that reveals nothing is not named (its verdict stays with the device, not shared with every such adapter)', () => {
    expect(adapterName(device(undefined))).toBeNull();
    expect(adapterName(device({ vendor: '', architecture: '', device: '', description: '' }))).toBeNull();
  });
  it('an adapter that reveals something is named by all four fields', () => {
    expect(adapterName(device({ vendor: 'google', architecture: 'swiftshader', device: '', description: '' }))).toBe('google / swiftshader / - / -');
    expect(adapterName(device({ vendor: 'nvidia', architecture: '', device: '0x2330', description: 'H100' }))).toBe('nvidia / - / 0x2330 / H100');
  });
});

describe('which tiles the measurement times', () => {
  const e64 = { headDim: 64, valueDim: 64 };
  it('on a software adapter: compact and held-keys where loads are quad-shared, compact and wide where they are not', () => {
    expect(tileCandidates(e64, true, true)).toEqual(['compact', 'held-keys']);
    expect(tileCandidates(e64, true, false)).toEqual(['compact', 'wide']);
    expect(tileCandidates({ headDim: 132, valueDim: 132 }, true, true)).toEqual(['compact']);
  });
  it('not wide beside held-keys at any head size (no faster than compact on the calls held-keys declines, and its compile doubled prepare()); wide where held-keys cannot run', () => {
    expect(tileCandidates({ headDim: 128, valueDim: 128 }, true, true)).toEqual(['compact', 'held-keys']);
    expect(tileCandidates({ headDim: 8, valueDim: 8 }, true, true)).toEqual(['compact', 'held-keys']);
    expect(tileCandidates({ headDim: 64, valueDim: 68 }, true, true)).toEqual(['compact', 'held-keys']);
    expect(tileCandidates({ headDim: 128, valueDim: 128 }, true, false)).toEqual(['compact', 'wide']);
    expect(tileCandidates({ headDim: 6, valueDim: 6 }, true, true)).toEqual(['compact', 'wide']); // held-keys needs multiples of 4
    expect(tileCandidates({ headDim: 126, valueDim: 126 }, true, true)).toEqual(['compact', 'wide']); // not multiples of 4: no held-keys
  });
  it('on a GPU: compact and the workgroup tiles, not wide (it did not compile in a minute on an H200)', () => {
    expect(tileCandidates(e64, false)).toEqual(['compact', 'workgroup', 'workgroup-split']);
    expect(tileCandidates({ headDim: 128, valueDim: 128 }, false)).toEqual(['compact', 'workgroup', 'workgroup-split']);
  });
});

describe('the measurement beside held-keys', () => {
  // SwiftShader with 4-lane subgroups (held-keys is a candidate) whose probe runs take these ms;
  // `name` keeps each test's measurements apart (they are kept per adapter).
  const tuned = async (name: string, ms: Record<string, number>, dims = 128) => {
    const device = {
      adapterInfo: { vendor: 'test', architecture: 'swiftshader', device: name, description: '', isFallbackAdapter: true, subgroupMinSize: 4, subgroupMaxSize: 4 },
      features: new Set(['subgroups']),
      limits: { maxComputeWorkgroupStorageSize: 16384 },
    } as unknown as GPUDevice;
    const tuner = new TileTuner(device, async (_shape, tile, repeats) => ms[tile] * repeats, true);
    const m = await tuner.measure('vec4', dims, dims);
    return { tuner, m };
  };

  // So a call held-keys declines runs compact (encode-attention.ts; end to end in caching.test.ts).
  it('times no wide tile, at E=64 as at E=128, however fast it would be', async () => {
    for (const dims of [64, 128]) {
      const { m } = await tuned(`fallback-${dims}`, { compact: 118, wide: 50, 'held-keys': 64 }, dims);
      expect(m?.verdict).toBe('held-keys');
      expect(m?.wideMs).toBeUndefined();
    }
  });

  it('times each tile in as many rounds as asked: five by default, one for tests (debug.probeRounds)', async () => {
    const runs = async (name: string, rounds?: number) => {
      const device = {
        adapterInfo: { vendor: 'test', architecture: 'rounds', device: name, description: '', isFallbackAdapter: true, subgroupMinSize: 4, subgroupMaxSize: 4 },
        features: new Set(['subgroups']),
        limits: { maxComputeWorkgroupStorageSize: 16384 },
      } as unknown as GPUDevice;
      const timed: string[] = [];
      const tuner = new TileTuner(device, async (_shape, tile, repeats) => (timed.push(`${tile}x${repeats}`), 40 * repeats), true, [], rounds);
      expect((await tuner.measure('vec4', 64, 64))?.verdict).toBe('compact');
      return timed;
    };
    const five = await runs('default');
    const one = await runs('one', 1);
    const tiles = new Set(five.map((t) => t.split('x')[0])).size;
    expect(tiles).toBeGreaterThan(1);
    expect(five.length - one.length).toBe(4 * tiles); // four more timed runs of each tile
  });

});

// Stand-in devices (no GPU): what the tuner keeps, shares and hands out.
describe('the measurement bookkeeping', () => {
  const gpuLike = (info?: Partial<GPUAdapterInfo>) =>
    ({ adapterInfo: info, features: new Set(), limits: { maxComputeWorkgroupStorageSize: 16384 } }) as unknown as GPUDevice;
  const settled = () => new Promise((r) => setTimeout(r, 10));

  it('work counts per head size: calls at E=64 do not make one small call at E=128 start its measurement', async () => {
    const probed: number[] = [];
    const tuner = new TileTuner(gpuLike({ vendor: 'test', architecture: 'hot-per-head' }), async (s) => {
      probed.push(s.headDim);
      return 10;
    }, false);
    // Whether a measurement starts is asked of the tuner itself (measure()), not only of the probes
    // seen after a pause, which a late probe could pass.
    const measure = vi.spyOn(tuner, 'measure');
    const measuredHeads = () => measure.mock.calls.map((c) => c[1]);
    tuner.verdict('vec4', 64, 64, HOT_FLOPS / 2);
    tuner.verdict('vec4', 128, 128, HOT_FLOPS / 2); // together 1e9, but for two head sizes
    await settled();
    expect(measuredHeads()).toEqual([]);
    expect(probed).toEqual([]);
    tuner.verdict('vec4', 64, 64, HOT_FLOPS / 2);
    await settled();
    expect(measuredHeads()).toEqual([64]);
    expect(new Set(probed)).toEqual(new Set([64]));
    tuner.verdict('vec4', 128, 128, 1);
    await settled();
    expect(measuredHeads(), 'a call of 1 FLOP at E=128 started its measurement').toEqual([64]);
    expect(probed.includes(128), 'a call of 1 FLOP at E=128 started its measurement').toBe(false);
    measure.mockRestore();
  });

  it('an adapter that cannot be named: two contexts on one device share one measurement; another device measures its own', async () => {
    const device = gpuLike(undefined);
    let first = 0;
    let second = 0;
    const t1 = new TileTuner(device, async () => (first++, 10), false);
    const t2 = new TileTuner(device, async () => (second++, 10), false);
    const m1 = await t1.measure('vec4', 64, 64);
    expect(await t2.measure('vec4', 64, 64)).toBe(m1);
    expect(first).toBeGreaterThan(0);
    expect(second).toBe(0);
    let other = 0;
    await new TileTuner(gpuLike(undefined), async () => (other++, 10), false).measure('vec4', 64, 64);
    expect(other).toBeGreaterThan(0);
  });

  it('a candidate that ran out of memory fails the measurement (retried later), instead of being dropped for good', async () => {
    const tuner = new TileTuner(gpuLike({ vendor: 'test', architecture: 'oom' }), async (_s, tile) => {
      if (tile === 'workgroup-split') throw new GPUExecutionError('GPU out-of-memory error in the tile probe', 'fused', 'out-of-memory');
      return 10;
    }, false);
    expect(await tuner.measure('vec4', 64, 64)).toBeNull();
    expect(tuner.measurements()).toEqual([]); // no verdict kept without that tile
  });

  it('tileMeasurements() hands out copies: editing one changes no verdict', async () => {
    const tuner = new TileTuner(gpuLike({ vendor: 'test', architecture: 'copies' }), async (_s, tile, r) => (tile === 'workgroup' ? 1 : 10) * r, false);
    await tuner.measure('vec4', 64, 64);
    const [m] = tuner.measurements();
    expect(m.verdict).toBe('workgroup');
    m.verdict = 'compact';
    m.probe.queryLength = 1;
    expect(tuner.verdict('vec4', 64, 64, 0)).toBe('workgroup');
    expect(tuner.measurements()[0].probe.queryLength).toBe(2048);
  });

  it('a measurement records what it measured (kernelsFingerprint), so that an entry saved by another version can be told apart', async () => {
    const device = { adapterInfo: { vendor: 'test', architecture: 'fingerprint' }, features: new Set(), limits: { maxComputeWorkgroupStorageSize: 16384 } } as unknown as GPUDevice;
    const tuner = new TileTuner(device, async (_shape, tile) => (tile === 'compact' ? 10 : 5), false);
    tuner.verdict('vec4', 64, 64, HOT_FLOPS);
    for (let i = 0; i < 100 && tuner.measurements().length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const [m] = tuner.measurements();
    expect(m.kernels).toMatch(/^[0-9a-f]{8}$/);
    expect(m.kernels).toBe(kernelsFingerprint());
    // As JSON gives it back, it is adopted by a tuner of that adapter (and not when the hash differs: caching.test.ts).
    const other = { ...device, adapterInfo: { vendor: 'test', architecture: 'fingerprint-2' } } as unknown as GPUDevice;
    const again = new TileTuner(other, async () => 1, false, [JSON.parse(JSON.stringify({ ...m, adapter: adapterName(other) }))]);
    expect(again.measurements().map((x) => x.adapter)).toEqual([adapterName(other)]);
  });

  it("an earlier measurement's times of tiles that are no longer candidates are dropped: what it keeps says only what this version would time", () => {
    const info = { vendor: 'test', architecture: 'swiftshader', device: 'stale-times', description: '', isFallbackAdapter: true, subgroupMinSize: 4, subgroupMaxSize: 4 };
    const device = { adapterInfo: info, features: new Set(['subgroups']), limits: { maxComputeWorkgroupStorageSize: 16384 } } as unknown as GPUDevice;
    const earlier = {
      adapter: adapterName(device)!, kernels: kernelsFingerprint(), quadShared: true, adapterKind: 'software' as const, workgroupStorageSize: 16384,
      loads: 'vec4' as const, headDim: 128, valueDim: 128, probe: { batch: 1, heads: 8, kvHeads: 8, queryLength: 512, keyLength: 512, headDim: 128, valueDim: 128 },
      // Wide is not a candidate beside held-keys (it was in older versions), nor workgroup on a software adapter.
      repeats: 1, compactMs: 100, heldKeysMs: 40, wideMs: 50, workgroupMs: 5, verdict: 'held-keys' as const,
    };
    const tuner = new TileTuner(device, async () => 1, true, [earlier]);
    expect(tuner.verdict('vec4', 128, 128, 0)).toBe('held-keys');
    const [kept] = tuner.measurements();
    expect(kept.wideMs).toBeUndefined();
    expect(kept.workgroupMs).toBeUndefined();
    expect(kept.heldKeysMs).toBe(40);
  });
});

describe('measurements at once', () => {
  it('run one after another: two head sizes measured together never interleave their probes', async () => {
    const log: string[] = [];
    const device = { adapterInfo: { vendor: 'test', architecture: 'one-at-a-time' }, features: new Set(), limits: { maxComputeWorkgroupStorageSize: 16384 } } as unknown as GPUDevice;
    const tuner = new TileTuner(device, async (s, tile) => {
      log.push(`${s.headDim} start ${tile}`);
      await new Promise((r) => setTimeout(r, 1));
      log.push(`${s.headDim} end ${tile}`);
      return 10;
    }, false);
    await Promise.all([tuner.measure('vec4', 64, 64), tuner.measure('vec4', 32, 32)]);
    const heads = log.map((l) => l.split(' ')[0]);
    const switches = heads.filter((x, i) => i > 0 && x !== heads[i - 1]).length;
    expect(switches, log.join('\n')).toBe(1);
  });
});
