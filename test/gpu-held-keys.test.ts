// The fused cases on the held-keys tile, forced (Node, Dawn), against the float64 reference
// (test/gpu.test.ts's table), and the rules by which 'auto' takes it.
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { cpuThreads, HELD_KEYS, HELD_KEYS_32, HELD_KEYS_64_MIN_CAUSAL_ROWS, HELD_KEYS_64_MIN_ROWS, HELD_KEYS_MIN_ROWS, HELD_KEYS_PROBE_QUADS, heldKeysChunks, heldKeysFit, heldKeysMinQuads, heldKeysPartialBytes, heldKeysServes, heldKeysTile, quadSharing } from '../src/tiles.js';
import { heldKeys32Cases, type Case } from './cases.js';
import { fusedCases, fusedChecks } from './fused-checks.js';
import { useGPUFixture } from './gpu-fixture.js';
import { runSeed } from './random.js';

const seed = runSeed();
const { checkFused, checkFusedLse } = fusedChecks(seed);

// The held-keys tile (64 keys per invocation; 32 from 68 dims and for small calls; the query rows streamed past them,
// merge-rows.wgsl after), which 'auto' measures on software adapters with 4-lane subgroups: forced
// here, every fused case whose heads it holds (E, Ev multiples of 4 up to 128) and heldKeys32Cases,
// with and without the log-sum-exp, and one it does not hold, which falls back to the wide tile.
const heldKeys = useGPUFixture({ fusedTile: 'held-keys' });
const heldCases = fusedCases.filter((c) => heldKeysFit({ headDim: c.E, valueDim: c.Ev ?? c.E }));

describe(`every fused case on the held-keys tile (seed ${seed})`, { timeout: 120_000 }, () => {
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
    // Fewer quads (one per head and 256 keys) than the CPU threads, or than the probe had: compact under 'auto'.
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

  // Each check asserts its own case's kernels (test/dispatches.ts); here, that both held-keys
  // kernels were among them where loads are shared across quads (this adapter: SwiftShader).
  it('the cases ran on flash-held-keys where loads are shared across quads, on wide elsewhere', () => {
    const quad = quadSharing(heldKeys.current.ctx.device);
    const kernels = heldKeys.current.dispatched.map((d) => d.kernel);
    expect(heldCases.length).toBeGreaterThan(20);
    expect(kernels.includes('flash-held-keys')).toBe(quad);
    expect(kernels.includes('flash-held-keys-32')).toBe(quad); // E 68 to 128, and few rows
    expect(heldKeys.current.dispatched.some((d) => /^flash(-quad)?$/.test(d.kernel) && (d.constants.RG ?? 1) > 1)).toBe(true); // the fallback's wide tile
  });
});
