// The fused cases on the wide tile and the workgroup tile, forced (Node, Dawn), against the float64
// reference: one tile family of test/gpu.test.ts's table a file, so that vitest runs them side by side.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKGROUP_SPLIT_MIN_KEYS, workgroupSplits, workgroupTile } from '../src/tiles.js';
import type { Case } from './cases.js';
import { fusedCases, fusedChecks } from './fused-checks.js';
import { deviceWithLimits, gpuFixture, type GPUFixture, useGPUFixture } from './gpu-fixture.js';
import { runSeed } from './random.js';

const seed = runSeed();
const { checkFused, checkFusedLse } = fusedChecks(seed);

// The wide tile (8 or 16 rows per invocation, q in registers), which 'auto' picks only after
// measuring it faster on busy contexts: forced here so the table covers it.
const wide = useGPUFixture({ fusedTile: 'wide' });
// And the workgroup tile (64 rows per workgroup, keys staged in workgroup memory), which 'auto'
// measures only on GPUs: forced here so SwiftShader checks it too.
const workgroup = useGPUFixture({ fusedTile: 'workgroup' });

// A wide pipeline takes ~8-30 s (E = 64) to ~105 s (E = 128) to compile on SwiftShader: longer timeouts here.
describe(`every fused case on the wide tile (seed ${seed})`, { timeout: 300_000 }, () => {
  it.each(fusedCases.map((c) => [c.name, c] as const))('%s', (name, c) => checkFused(wide.current, 'wide', name, c));
  // The log-sum-exp runs the output's pipelines (params.write_lse): every case, for their run time only.
  it.each(fusedCases.map((c) => [c.name, c] as const))('%s, log-sum-exp', (name, c) => checkFusedLse(wide.current, 'wide', name, c));
});

// The workgroup tile: the fused cases of 256 keys or more, output and log-sum-exp. On the others
// the workgroup-split tile (test/gpu-split.test.ts) does not split, and runs this tile's very pipeline on the same
// inputs (src/encode-attention.ts: one chunk is the unsplit kernel), so they are checked there.
const unsplitCases = fusedCases.filter((c) => c.Lk >= WORKGROUP_SPLIT_MIN_KEYS * 2);
describe(`the fused cases of 256 keys or more on the workgroup tile (seed ${seed})`, { timeout: 120_000 }, () => {
  it('are a few, and the workgroup-split tile would split some of them', () => {
    expect(unsplitCases.length).toBeGreaterThan(5);
    const shape = (c: Case) => ({ batch: c.B, heads: c.H, queryLength: c.Lq, keyLength: c.Lk, headDim: c.E, valueDim: c.Ev ?? c.E });
    expect(unsplitCases.some((c) => workgroupSplits(shape(c), undefined).splits > 1)).toBe(true);
  });
  it.each(unsplitCases.map((c) => [c.name, c] as const))('%s', (name, c) => checkFused(workgroup.current, 'workgroup', name, c));
  it.each(unsplitCases.map((c) => [c.name, c] as const))('%s, log-sum-exp', (name, c) => checkFusedLse(workgroup.current, 'workgroup', name, c));
});

// A context that makes its own device asks a GPU for its workgroup memory limit (src/device.ts), 32
// KiB or more where WebGPU's default is 16: the workgroup tiles then hold twice the keys past 64
// dims. SwiftShader gets the default (the workgroup tile above; gpu-split.test.ts the workgroup-split tile), so the GPU's configuration is checked here
// on a device asking for SwiftShader's 32 KiB: three fused cases of 65-128 dims, both workgroup tiles.
describe(`the workgroup tiles with 32 KiB of workgroup memory, past 64 dims (seed ${seed})`, { timeout: 120_000 }, () => {
  let owned: { device: GPUDevice; gpu: GPU };
  const tiles: Record<string, GPUFixture> = {};
  // Heads of 65 to 128 dims, where the tile doubles (16 → 32 keys); a few, each is a compile.
  const wide = fusedCases.filter((c) => Math.max(c.E, c.Ev ?? c.E) > 64 && Math.max(c.E, c.Ev ?? c.E) <= 128).slice(0, 3);
  beforeAll(async () => {
    owned = await deviceWithLimits({ maxComputeWorkgroupStorageSize: 32768 });
    for (const tile of ['workgroup', 'workgroup-split'] as const) tiles[tile] = await gpuFixture({ device: owned.device, fusedTile: tile });
  });
  afterAll(() => {
    for (const fx of Object.values(tiles)) {
      expect(fx.errors, 'uncaptured GPU errors').toEqual([]);
      fx.ctx.destroy();
    }
    owned.device.destroy();
  });
  it('E=128 tiles hold 32 keys there (16 at the default limit)', () => {
    expect(workgroupTile({ headDim: 128, valueDim: 128 }, owned.device).tileKeys).toBe(32);
    expect(workgroupTile({ headDim: 128, valueDim: 128 }, { limits: { maxComputeWorkgroupStorageSize: 16384 } } as GPUDevice).tileKeys).toBe(16);
    expect(wide.length).toBe(3);
  });
  it.each(wide.flatMap((c) => (['workgroup', 'workgroup-split'] as const).map((t) => [c.name, t, c] as const)))('%s on %s', async (name, tile, c) => {
    const from = tiles[tile].dispatched.length;
    await checkFused(tiles[tile], tile, name, c);
    // The call ran the 32-key pipeline (a right answer from the 16-key one would pass the comparison).
    const keys = tiles[tile].dispatched.slice(from).filter((d) => d.kernel === 'flash-tiled').map((d) => d.constants.TILE_KEYS);
    expect(keys.length, 'flash-tiled dispatches').toBeGreaterThan(0);
    expect(keys.every((k) => k === 32), `TILE_KEYS ${keys}`).toBe(true);
  });
});
