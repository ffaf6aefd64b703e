// The fused cases on the workgroup-split tile and the split-keys cases on the split-keys path's
// workgroup tile, forced (Node, Dawn), against the float64 reference (test/gpu.test.ts's table).
import { describe, expect, it } from 'vitest';
import { SPLIT_WORKGROUP_MAX_CHUNKS, SPLIT_WORKGROUP_MAX_ROWS, SPLIT_WORKGROUP_TARGET, splitTile, splitWorkgroupChunks, WORKGROUP_SPLIT_MIN_KEYS, WORKGROUP_SPLIT_TARGET, workgroupSplits } from '../src/tiles.js';
import { fusedCases, fusedChecks, splitCases } from './fused-checks.js';
import { useGPUFixture } from './gpu-fixture.js';
import { runSeed } from './random.js';

const seed = runSeed();
const { checkFused, checkFusedLse } = fusedChecks(seed);

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
  it('split the keys of some cases: merge.wgsl ran after them', () => {
    const merges = workgroupSplit.current.dispatched.filter((d) => d.kernel === 'merge').length;
    expect(merges).toBeGreaterThan(4);
  });
});

// The split-keys path's workgroup tile (flash-decode.wgsl: a workgroup per (row, chunk), merge.wgsl
// after), which 'auto' uses on GPUs for decoding: forced here, every case that runs on split-keys,
// output and log-sum-exp. The table's Lk of 300 to 8192 make up to 128 chunks a row.
const splitWorkgroup = useGPUFixture({ splitKeysTile: 'workgroup' });
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
