// Every case of the shared table on every kernel, on a real WebGPU device in Node (Dawn),
// against the float64 CPU reference. Fresh inputs each run; the seed is in every failure message.
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuThreads, HELD_KEYS, HELD_KEYS_32, HELD_KEYS_64_MIN_CAUSAL_ROWS, HELD_KEYS_64_MIN_ROWS, HELD_KEYS_MIN_ROWS, HELD_KEYS_PROBE_QUADS, heldKeysChunks, heldKeysFit, heldKeysMinQuads, heldKeysPartialBytes, heldKeysServes, heldKeysTile, quadSharing, SPLIT_WORKGROUP_MAX_CHUNKS, SPLIT_WORKGROUP_MAX_ROWS, SPLIT_WORKGROUP_TARGET, splitTile, splitWorkgroupChunks, WORKGROUP_SPLIT_MIN_KEYS, WORKGROUP_SPLIT_TARGET, workgroupSplits, workgroupTile } from '../src/tiles.js';
import { attentionReferenceFull } from '../src/index.js';
import { ALL_KERNELS, cases, heldKeys32Cases, makeInputs, type Case } from './cases.js';
import { agrees, compare, LSE_FLOOR } from './compare.js';
import { deviceWithLimits, gpuFixture, type GPUFixture, useGPUFixture, usePlainFixture } from './gpu-fixture.js';
import { runSeed } from './random.js';
import { runCase } from './run-case.js';

const seed = runSeed();
const fixture = useGPUFixture();
// The same cases on the fused kernel's wide tile (8 or 16 rows per invocation, q in registers), which
// 'auto' picks only after measuring it faster on busy contexts: forced here so the table covers it.
const wide = useGPUFixture({ fusedTile: 'wide' });
// And on the workgroup tile (64 rows per workgroup, keys staged in workgroup memory), which 'auto'
// measures only on GPUs: forced here so SwiftShader checks it too.
const workgroup = useGPUFixture({ fusedTile: 'workgroup' });

const rows = cases.flatMap((c) => (c.kernels ?? ALL_KERNELS).map((kernel) => [c.name, kernel, c] as const));

describe(`every case on every kernel (seed ${seed}; rerun with TEST_SEED=${seed})`, () => {
  it.each(rows)('%s on %s', async (name, kernel, c) => {
    const { q, k, v, options } = makeInputs(c, seed, kernel);
    const ref = attentionReferenceFull(q, k, v, options);
    const out = await fixture.current.ctx.attention(q, k, v, options);
    expect(out.shape).toEqual(ref.output.shape);
    const a = compare(out.data, ref.output.data);
    expect(agrees(a), `${name} on ${kernel}, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
    expect(fixture.current.errors).toEqual([]);
  });
});

const weightCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('staged'));

describe(`attentionWithWeights returns the post-mask softmax (seed ${seed})`, () => {
  it.each(weightCases.map((c) => [c.name, c] as const))('%s', async (name, c) => {
    const { q, k, v, options } = makeInputs(c, seed);
    const ref = attentionReferenceFull(q, k, v, options);
    const got = await fixture.current.ctx.attentionWithWeights(q, k, v, options);
    expect(got.weights.shape).toEqual(ref.weights.shape);
    const aw = compare(got.weights.data, ref.weights.data);
    const ao = compare(got.output.data, ref.output.data);
    expect(agrees(aw), `${name} weights, seed ${seed}: ${JSON.stringify(aw)}`).toBe(true);
    expect(agrees(ao), `${name} output, seed ${seed}: ${JSON.stringify(ao)}`).toBe(true);
  });
});

const lseCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('fused'));

describe(`attentionWithLogSumExp matches the reference's log-sum-exp (seed ${seed})`, () => {
  it.each(lseCases.flatMap((c) => (['fused', 'split-keys'] as const).map((kn) => [c.name, kn, c] as const)))(
    '%s on %s',
    async (name, kernel, c) => {
      const { q, k, v, options } = makeInputs(c, seed, kernel);
      const ref = attentionReferenceFull(q, k, v, options);
      const got = await fixture.current.ctx.attentionWithLogSumExp(q, k, v, options);
      expect(got.logSumExp.shape).toEqual(ref.logSumExp.shape);
      const a = compare(got.logSumExp.data, ref.logSumExp.data, LSE_FLOOR);
      expect(agrees(a), `${name} lse on ${kernel}, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
      const ao = compare(got.output.data, ref.output.data);
      expect(agrees(ao), `${name} output on ${kernel}, seed ${seed}: ${JSON.stringify(ao)}`).toBe(true);
    },
  );
});

const fusedCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('fused'));
// The log-sum-exp is another pipeline per head size and mask kind: the cases up to E = 16.
const lseCasesSmall = fusedCases.filter((c) => c.E <= 16 && (c.Ev ?? c.E) <= 16);

/** A fused (or split-keys) case on one fixture's context (a tile forced there), against the reference. */
async function checkFused(fx: GPUFixture, tile: string, name: string, c: Case, kernel: 'fused' | 'split-keys' = 'fused'): Promise<void> {
  for (const [result, a] of await runCase(fx.ctx, c, seed, kernel, 'output')) {
    expect(agrees(a), `${name} ${result} on the ${tile} tile, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
  }
  expect(fx.errors).toEqual([]);
}

/** The same with the log-sum-exp. */
async function checkFusedLse(fx: GPUFixture, tile: string, name: string, c: Case, kernel: 'fused' | 'split-keys' = 'fused'): Promise<void> {
  for (const [result, a] of await runCase(fx.ctx, c, seed, kernel, 'log-sum-exp')) {
    expect(agrees(a), `${name} ${result} on the ${tile} tile, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
  }
}

// A wide pipeline takes ~8-30 s (E = 64) to ~105 s (E = 128) to compile on SwiftShader: longer timeouts here.
describe(`every fused case on the wide tile (seed ${seed})`, { timeout: 300_000 }, () => {
  it.each(fusedCases.map((c) => [c.name, c] as const))('%s', (name, c) => checkFused(wide.current, 'wide', name, c));
  it.each(lseCasesSmall.map((c) => [c.name, c] as const))('%s, log-sum-exp', (name, c) => checkFusedLse(wide.current, 'wide', name, c));
});

// The workgroup tile: the fused cases of 256 keys or more, output and log-sum-exp. On the others
// the workgroup-split tile (below) does not split, and runs this tile's very pipeline on the same
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
// dims. SwiftShader gets the default (the tests above), so the GPU's configuration is checked here
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
  it.each(wide.flatMap((c) => (['workgroup', 'workgroup-split'] as const).map((t) => [c.name, t, c] as const)))('%s on %s', (name, tile, c) =>
    checkFused(tiles[tile], tile, name, c));
});

// The workgroup-split tile (the same kernel with the keys split between workgroups, merge.wgsl
// after), which 'auto' measures on GPUs: every fused case, output and log-sum-exp. The table's
// cases make few workgroups, so every case with 256 or more keys that some row sees runs in chunks.
const workgroupSplit = useGPUFixture({ fusedTile: 'workgroup-split' });
describe(`every fused case on the workgroup-split tile (seed ${seed})`, { timeout: 120_000 }, () => {
  it('splits the keys where the rows make few workgroups', () => {
    const at = (batch: number, heads: number, queryLength: number, keyLength: number) => ({ batch, heads, queryLength, keyLength, headDim: 64, valueDim: 64 });
    // B1 H8 L=S=1024: 128 workgroups of 64 rows; 8 wanted for 1024, 1024 keys allow 8 chunks of 128.
    expect(workgroupSplits(at(1, 8, 1024, 1024), undefined)).toEqual({ splits: 8, keysPerSplit: 128 });
    expect(workgroupSplits(at(1, 8, 4096, 4096), undefined)).toEqual({ splits: 2, keysPerSplit: 2048 });
    expect(workgroupSplits(at(1, 8, 8192, 8192), undefined)).toEqual({ splits: 1, keysPerSplit: 8192 });
    expect(workgroupSplits(at(1, 1, 10, 255), undefined)).toEqual({ splits: 1, keysPerSplit: 255 }); // under 2 chunks of 128
    expect(workgroupSplits(at(1, 1, 10, 300), undefined)).toEqual({ splits: 2, keysPerSplit: 160 }); // whole 32-key tiles
    expect(workgroupSplits(at(1, 1, 10, 513), undefined)).toEqual({ splits: 4, keysPerSplit: 160 });
    // Causal: only the keys some row sees (top-left Lq 300 of Lk 4096: 300).
    expect(workgroupSplits(at(1, 1, 300, 4096), 0)).toEqual({ splits: 2, keysPerSplit: 160 });
    expect(workgroupSplits(at(1, 1, 300, 4096), 4096 - 300)).toEqual({ splits: 32, keysPerSplit: 128 });
    // Partials past one binding: one chunk (B1 H1, 1023 blocks of 64 rows, Ev 256: 2 chunks are ~128 MiB).
    const tall = { batch: 1, heads: 1, queryLength: 1023 * 64, keyLength: 256, headDim: 256, valueDim: 256 };
    expect(workgroupSplits(tall, undefined)).toEqual({ splits: 2, keysPerSplit: 128 });
    expect(workgroupSplits(tall, undefined, 2 ** 26)).toEqual({ splits: 1, keysPerSplit: 256 });
    expect(workgroupSplits(tall, undefined, 1023 * 64 * 2 * 256 * 4 - 1)).toEqual({ splits: 1, keysPerSplit: 256 });
    expect(workgroupSplits(tall, undefined, 1023 * 64 * 2 * 256 * 4)).toEqual({ splits: 2, keysPerSplit: 128 });
    // At Ev 1 the stats (max and sum: 8 bytes a row and chunk) are the larger binding, twice the partials.
    const narrow = { ...tall, valueDim: 1 };
    expect(workgroupSplits(narrow, undefined, 1023 * 64 * 2 * 8 - 1)).toEqual({ splits: 1, keysPerSplit: 256 });
    expect(workgroupSplits(narrow, undefined, 1023 * 64 * 2 * 8)).toEqual({ splits: 2, keysPerSplit: 128 });
    expect(WORKGROUP_SPLIT_TARGET).toBe(1024);
    expect(WORKGROUP_SPLIT_MIN_KEYS).toBe(128);
  });
  it.each(fusedCases.map((c) => [c.name, c] as const))('%s', (name, c) => checkFused(workgroupSplit.current, 'workgroup-split', name, c));
  it.each(fusedCases.map((c) => [c.name, c] as const))('%s, log-sum-exp', (name, c) => checkFusedLse(workgroupSplit.current, 'workgroup-split', name, c));
});

// The split-keys path's workgroup tile (flash-decode.wgsl: a workgroup per (row, chunk), merge.wgsl
// after), which 'auto' uses on GPUs for decoding: forced here, every case that runs on split-keys,
// output and log-sum-exp. The table's Lk of 300 to 8192 make up to 128 chunks a row.
const splitWorkgroup = useGPUFixture({ splitKeysTile: 'workgroup' });
const splitCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('split-keys'));
describe(`every split-keys case on the workgroup split tile (seed ${seed})`, { timeout: 120_000 }, () => {
  it('cuts the keys into whole blocks, aiming at 1024 workgroups', () => {
    expect(splitWorkgroupChunks(8, 65536)).toEqual({ splits: 128, keysPerSplit: 512 });
    expect(splitWorkgroupChunks(8, 8192)).toEqual({ splits: 128, keysPerSplit: 64 });
    expect(splitWorkgroupChunks(8, 1024)).toEqual({ splits: 16, keysPerSplit: 64 });
    expect(splitWorkgroupChunks(32, 65536)).toEqual({ splits: 32, keysPerSplit: 2048 });
    expect(splitWorkgroupChunks(1, 65536)).toEqual({ splits: 256, keysPerSplit: 256 }); // at most 256 chunks
    expect(splitWorkgroupChunks(4, 700)).toEqual({ splits: 11, keysPerSplit: 64 }); // the last chunk 60 keys
    expect(splitWorkgroupChunks(2, 300)).toEqual({ splits: 5, keysPerSplit: 64 });
    expect(splitWorkgroupChunks(1000, 300)).toEqual({ splits: 2, keysPerSplit: 192 });
    expect(splitWorkgroupChunks(2000, 5)).toEqual({ splits: 1, keysPerSplit: 64 });
    expect(SPLIT_WORKGROUP_TARGET).toBe(1024);
    expect(SPLIT_WORKGROUP_MAX_CHUNKS).toBe(256);
  });
  it("'auto' takes it on GPUs where each kv head serves at most 8 query rows", () => {
    const at = (queryLength: number, heads: number, kvHeads: number) => ({ queryLength, heads, kvHeads });
    expect(splitTile('auto', false, at(1, 8, 8))).toBe('workgroup');
    expect(splitTile('auto', false, at(1, 32, 4))).toBe('workgroup'); // GQA 8 query heads a kv head
    expect(splitTile('auto', false, at(2, 32, 4))).toBe('invocation');
    expect(splitTile('auto', false, at(9, 8, 8))).toBe('invocation');
    expect(splitTile('auto', true, at(1, 8, 8))).toBe('invocation'); // software adapters
    expect(splitTile('workgroup', true, at(100, 8, 8))).toBe('workgroup'); // forced
    expect(splitTile('invocation', false, at(1, 8, 8))).toBe('invocation');
    expect(SPLIT_WORKGROUP_MAX_ROWS).toBe(8);
  });
  it.each(splitCases.map((c) => [c.name, c] as const))('%s', (name, c) => checkFused(splitWorkgroup.current, 'split-keys workgroup', name, c, 'split-keys'));
  it.each(fusedCases.map((c) => [c.name, c] as const))('%s, log-sum-exp', (name, c) => checkFusedLse(splitWorkgroup.current, 'split-keys workgroup', name, c, 'split-keys'));
});

// The held-keys tile (64 keys per invocation; 32 from 68 dims and for small calls; the query rows streamed past them,
// merge-rows.wgsl after), which 'auto' measures on software adapters with 4-lane subgroups: forced
// here, every fused case whose heads it holds (E, Ev multiples of 4 up to 128) and heldKeys32Cases,
// with and without the log-sum-exp, and one it does not hold, which falls back to the wide tile.
const heldKeys = useGPUFixture({ fusedTile: 'held-keys' });
const heldCases = fusedCases.filter((c) => heldKeysFit({ headDim: c.E, valueDim: c.Ev ?? c.E }));

describe(`every fused case on the held-keys tile (seed ${seed})`, { timeout: 120_000 }, () => {
  const kernels: string[] = [];
  beforeAll(() => {
    const device = heldKeys.current.ctx.device;
    for (const name of ['createComputePipeline', 'createComputePipelineAsync'] as const) {
      const original = device[name].bind(device) as (d: GPUComputePipelineDescriptor) => unknown;
      (device as unknown as Record<string, unknown>)[name] = (d: GPUComputePipelineDescriptor) => {
        kernels.push(d.label ?? '');
        return original(d);
      };
    }
  });

  it.each(heldCases.map((c) => [c.name, c] as const))('%s', (name, c) => checkFused(heldKeys.current, 'held-keys', name, c));
  it.each(heldCases.map((c) => [c.name, c] as const))('%s, log-sum-exp', (name, c) => checkFusedLse(heldKeys.current, 'held-keys', name, c));
  it.each(heldKeys32Cases.map((c) => [c.name, c] as const))('%s', (name, c) => checkFused(heldKeys.current, 'held-keys', name, c));
  it.each(heldKeys32Cases.map((c) => [c.name, c] as const))('%s, log-sum-exp', (name, c) => checkFusedLse(heldKeys.current, 'held-keys', name, c));
  const other = fusedCases.find((c) => c.name === 'E != Ev (5, 3)') as Case;
  it(`${other.name}, which it does not hold (the wide tile instead)`, () => checkFused(heldKeys.current, 'held-keys', other.name, other));

  it("takes a call while its partials fit one binding, and under 'auto' only with enough query rows, keys and quads (more under a causal rule)", () => {
    const shape = { batch: 1, heads: 8, queryLength: 1024, keyLength: 1024, headDim: 64, valueDim: 64 };
    const partials = 8 * 1024 * 4 * 64 * 4; // 4 chunks of 256 keys per row
    expect(heldKeysServes(shape, true, partials, undefined)).toBe(true);
    expect(heldKeysServes(shape, false, partials - 1, undefined)).toBe(false);
    expect(heldKeysServes({ ...shape, keyLength: 1025 }, false, partials, undefined)).toBe(false); // a fifth chunk
    const short = { ...shape, queryLength: HELD_KEYS_MIN_ROWS - 1 };
    expect(heldKeysServes(short, true, partials, undefined)).toBe(false);
    expect(heldKeysServes(short, false, partials, undefined)).toBe(true); // forced: the tile runs
    expect(heldKeysServes({ ...shape, keyLength: HELD_KEYS_MIN_ROWS - 1 }, true, partials, undefined)).toBe(false);
    expect(heldKeysServes(shape, true, partials, 0)).toBe(true); // causal, 1024 rows and keys
    // Causal or not, from HELD_KEYS_MIN_ROWS rows and keys some row sees (16 heads: 16 quads of one chunk).
    const small = { ...shape, heads: 16, queryLength: HELD_KEYS_MIN_ROWS, keyLength: HELD_KEYS_MIN_ROWS };
    expect(heldKeysServes(small, true, Infinity, 0, 16)).toBe(true);
    expect(heldKeysServes(small, true, Infinity, undefined, 16)).toBe(true);
    expect(heldKeysServes({ ...small, queryLength: HELD_KEYS_MIN_ROWS - 1 }, true, Infinity, 0, 16)).toBe(false);
    expect(heldKeysServes({ ...small, keyLength: HELD_KEYS_MIN_ROWS + 50, queryLength: HELD_KEYS_MIN_ROWS - 1 }, true, Infinity, 0, 16)).toBe(false);
    // Which kernel: 64 keys an invocation from HELD_KEYS_64_MIN_ROWS rows and visible keys (causal: _CAUSAL_), else 32.
    const at = (queryLength: number, keyLength: number) => ({ ...shape, queryLength, keyLength });
    expect(heldKeysTile(at(HELD_KEYS_64_MIN_ROWS, HELD_KEYS_64_MIN_ROWS), undefined)).toBe(HELD_KEYS);
    expect(heldKeysTile(at(HELD_KEYS_64_MIN_ROWS - 1, 4096), undefined)).toBe(HELD_KEYS_32);
    expect(heldKeysTile(at(4096, HELD_KEYS_64_MIN_ROWS - 1), undefined)).toBe(HELD_KEYS_32);
    expect(heldKeysTile(at(HELD_KEYS_64_MIN_CAUSAL_ROWS, HELD_KEYS_64_MIN_CAUSAL_ROWS), 0)).toBe(HELD_KEYS);
    expect(heldKeysTile(at(HELD_KEYS_64_MIN_CAUSAL_ROWS - 1, HELD_KEYS_64_MIN_CAUSAL_ROWS - 1), 0)).toBe(HELD_KEYS_32);
    expect(heldKeysTile(at(1024, 4096), 0)).toBe(HELD_KEYS); // top-left: 1024 rows see 1024 keys
    expect(heldKeysTile(at(300, 4096), 0)).toBe(HELD_KEYS_32); // top-left: 300 rows see 300 keys
    expect(heldKeysTile(at(300, 4096), 4096 - 300)).toBe(HELD_KEYS_32); // bottom-right: 300 rows
    expect(heldKeysChunks(at(200, 1000), undefined)).toBe(8); // 32-key kernel: chunks of 128
    expect(heldKeysPartialBytes(at(200, 1000), undefined)).toBe(8 * 200 * 8 * 64 * 4);
    // Fewer quads (one per head and 256 keys) than the CPU threads, or than the probe had: wide under 'auto'.
    const tall = { batch: 1, heads: 1, queryLength: 8192, keyLength: 256 * 7, headDim: 64, valueDim: 64 };
    expect(heldKeysServes(tall, true, Infinity, undefined, 8)).toBe(false);
    expect(heldKeysServes(tall, true, Infinity, undefined, 7)).toBe(true);
    expect(heldKeysServes(tall, false, Infinity, undefined, 8)).toBe(true); // forced: the tile runs
    expect(heldKeysMinQuads(2)).toBe(2);
    expect(heldKeysMinQuads(64)).toBe(HELD_KEYS_PROBE_QUADS);
    expect(heldKeysMinQuads(undefined)).toBe(HELD_KEYS_PROBE_QUADS); // no thread count: the probe's
    expect(heldKeysMinQuads(0)).toBe(HELD_KEYS_PROBE_QUADS);
    // The platform's thread count: in Node 20 (no navigator) from os.availableParallelism().
    const threads = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? availableParallelism();
    expect(cpuThreads()).toBe(threads);
    expect(heldKeysMinQuads(cpuThreads())).toBe(Math.min(HELD_KEYS_PROBE_QUADS, threads));
    expect(heldKeysServes(shape, false, partials, 0)).toBe(true); // forced: the tile runs
    // Causal: only the chunks holding a key some row sees (the last row's limit is Lq + offset).
    const wideKeys = { ...shape, queryLength: 512, keyLength: 16384 };
    expect(heldKeysChunks(wideKeys, undefined)).toBe(64);
    expect(heldKeysChunks(wideKeys, 0)).toBe(2); // top-left: keys 0..511
    expect(heldKeysChunks(wideKeys, 16384 - 512)).toBe(64); // bottom-right: every key
    expect(heldKeysChunks({ ...shape, queryLength: 70, keyLength: 600 }, 0)).toBe(1);
    expect(heldKeysChunks({ ...shape, queryLength: 600, keyLength: 70 }, 0)).toBe(1);
    expect(heldKeysChunks({ ...shape, queryLength: 600, keyLength: 70 }, 70 - 600)).toBe(1);
    expect(heldKeysPartialBytes(wideKeys, 0)).toBe(8 * 512 * 2 * 64 * 4);
    expect(heldKeysServes(wideKeys, true, heldKeysPartialBytes(wideKeys, 0), 0)).toBe(true); // 16 quads of 2 chunks
    expect(heldKeysServes({ ...wideKeys, heads: 4 }, true, Infinity, 0, 16)).toBe(false); // 8 quads
    expect(heldKeysServes({ ...wideKeys, queryLength: 300 }, true, Infinity, 0, 16)).toBe(true); // 300 rows see 300 keys: 3 chunks of 128
    expect(heldKeysServes({ ...wideKeys, queryLength: 100 }, true, Infinity, 0, 1)).toBe(false); // 100 rows see 100 keys
    // Heads of 68 to 128 dims: 32 keys an invocation, chunks of 128, from 128 rows and keys under 'auto'.
    const e128 = { ...shape, headDim: 128, valueDim: 128 };
    expect(heldKeysTile(e128, undefined)).toBe(HELD_KEYS_32);
    expect(heldKeysTile({ ...e128, headDim: 64, valueDim: 64 }, undefined)).toBe(HELD_KEYS);
    expect(heldKeysTile({ ...e128, headDim: 64, valueDim: 68 }, undefined)).toBe(HELD_KEYS_32);
    expect(heldKeysChunks(e128, undefined)).toBe(8);
    expect(heldKeysChunks({ ...e128, keyLength: 129 }, undefined)).toBe(2);
    expect(heldKeysPartialBytes(e128, undefined)).toBe(8 * 1024 * 1024 * 4); // the score matrix's size
    const e128Short = { ...e128, heads: 16, queryLength: 128, keyLength: 128 };
    expect(heldKeysServes(e128Short, true, Infinity, undefined, 16)).toBe(true);
    expect(heldKeysServes(e128Short, true, Infinity, 0, 16)).toBe(true); // causal too
    expect(heldKeysServes({ ...e128Short, queryLength: 127 }, true, Infinity, 0, 16)).toBe(false);
    expect(heldKeysServes({ ...e128Short, keyLength: 127 }, true, Infinity, undefined, 16)).toBe(false);
    expect(heldKeysFit({ headDim: 128, valueDim: 128 })).toBe(true);
    expect(heldKeysFit({ headDim: 132, valueDim: 128 })).toBe(false);
    expect(heldKeysFit({ headDim: 128, valueDim: 66 })).toBe(false);
  });

  it('the cases ran on flash-held-keys where loads are shared across quads, on wide elsewhere', () => {
    const quad = quadSharing(heldKeys.current.ctx.device);
    expect(heldCases.length).toBeGreaterThan(20);
    expect(kernels.includes('webgpu-attention flash-held-keys')).toBe(quad);
    expect(kernels.includes('webgpu-attention flash-held-keys-32')).toBe(quad); // E 68 to 128, and few rows
    expect(kernels.some((k) => /webgpu-attention flash(-quad)?$/.test(k))).toBe(true); // the fallback's wide tile
  });
});

// Where the adapter has 4-lane subgroups (SwiftShader), the fixtures above run the fused kernel
// with k and v shared across quads (flash-quad) and split-keys with the dims split across quads
// (flash-split-quad). A device without the 'subgroups' feature runs the plain kernels, as real
// GPUs do: every fused case on the compact tile, on the wide tile the cases with heads up to 8 dims
// (each head size is a ~10-30 s compile of the wide tile), and every split-keys case.
describe(`every fused, split-keys and staged case on the plain kernels, without subgroups (seed ${seed})`, { timeout: 300_000 }, () => {
  const plainCompact = usePlainFixture();
  const plainWide = usePlainFixture({ fusedTile: 'wide' });

  it('the device has no subgroups, so no quad sharing', () => {
    expect(quadSharing(plainCompact.current.ctx.device)).toBe(false);
  });

  it("on SwiftShader the library's own device shares loads across quads (so the suites above test flash-quad and flash-split-quad)", () => {
    const device = fixture.current.ctx.device;
    const info = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    // SwiftShader in Dawn: 'subgroups', 4-lane subgroups, a fallback adapter. Elsewhere: the plain kernel.
    const expected = info?.architecture === 'swiftshader';
    expect(quadSharing(device)).toBe(expected);
  });

  it('only SwiftShader shares loads across quads: another CPU adapter with 4-lane subgroups keeps the plain kernels', () => {
    // Stand-in devices: quadSharing reads only the features and the adapter's info.
    const device = (architecture: string, subgroups = 4, features = ['subgroups']) => ({
      features: new Set(features),
      adapterInfo: { architecture, isFallbackAdapter: true, subgroupMinSize: subgroups, subgroupMaxSize: subgroups },
    }) as unknown as GPUDevice;
    expect(quadSharing(device('swiftshader'))).toBe(true);
    expect(quadSharing(device('llvmpipe'))).toBe(false); // its lanes need not be a quad's invocations in order
    expect(quadSharing(device(''))).toBe(false);
    expect(quadSharing(device('swiftshader', 8))).toBe(false);
    expect(quadSharing(device('swiftshader', 4, []))).toBe(false);
  });

  it.each(fusedCases.map((c) => [c.name, c] as const))('%s, compact', (name, c) => checkFused(plainCompact.current, 'plain compact', name, c));
  const small = fusedCases.filter((c) => c.E <= 8 && (c.Ev ?? c.E) <= 8);
  it.each(small.map((c) => [c.name, c] as const))('%s, wide', (name, c) => checkFused(plainWide.current, 'plain wide', name, c));
  it.each(lseCasesSmall.map((c) => [c.name, c] as const))('%s, compact, log-sum-exp', (name, c) => checkFusedLse(plainCompact.current, 'plain compact', name, c));
  const splitCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('split-keys'));
  it.each(splitCases.map((c) => [c.name, c] as const))('%s, split-keys', (name, c) => checkFused(plainCompact.current, 'plain split-keys', name, c, 'split-keys'));
  it.each(lseCasesSmall.map((c) => [c.name, c] as const))('%s, split-keys, log-sum-exp', (name, c) => checkFusedLse(plainCompact.current, 'plain split-keys', name, c, 'split-keys'));
  // The staged kernels without quad sharing (scores and weighted-sum; the suites above run scores-quad and weighted-sum-quad on SwiftShader).
  it.each(weightCases.map((c) => [c.name, c] as const))('%s, staged, weights', async (name, c) => {
    for (const [result, a] of await runCase(plainCompact.current.ctx, c, seed, 'staged', 'weights')) {
      expect(agrees(a), `${name} ${result} on the plain staged kernels, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
    }
    expect(plainCompact.current.errors).toEqual([]);
  });
});
