// Which tile the fused kernel uses, per adapter and per call.
//
// compact (flash.wgsl): 4 query rows per invocation, q read from the buffer. Compiles in about
//   1 s on SwiftShader. Where loads are shared across quads (a CPU adapter, see quadSharing) it
//   holds q in registers too at heads up to 64 dims (COMPACT_Q_REGS; ~2.3 s to compile).
// wide (flash.wgsl): 16 query rows per invocation with q held in registers: every k and v load
//   serves 16 rows (8 where loads are quad-shared: WIDE_8_ROWS). On SwiftShader, where loads
//   (per-invocation gathers) dominate, that measured ~1.9x faster than compact (E=64 at L=S=1024,
//   E=128 at L=S=512); with quad-shared loads and q in registers on both tiles, ~1.3x at E=64 and,
//   at E=128, 1.4x on one VM and 0.77x on another. Compiling its unrolled code takes ~6-30 s there
//   for E=64 (by machine) and, at E=128, ~45 s with 8 rows, ~70-155 s with 16.
// workgroup (flash-tiled.wgsl): 64 query rows per workgroup, one per invocation, the keys staged
//   through workgroup memory a tile at a time: each k and v vec4 is read from the buffer once per
//   workgroup. The shape of flash attention on GPUs; on SwiftShader, where workgroup memory is no
//   cheaper than a storage buffer and barriers switch coroutines, it is the slowest of the three
//   (BENCHMARKS.md), so there it is only used when asked for.
// held-keys (flash-held-keys.wgsl or flash-held-keys-32.wgsl, then merge-rows.wgsl): the loops
//   turned around, for SwiftShader with 4-lane subgroups (quadSharing) and E, Ev multiples of
//   4 up to 128. An invocation holds 64 keys' k and v rows (32 where the heads have more than 64
//   dims, or the call few rows: heldKeysTile) in private arrays and streams the query rows past
//   them, so no accumulator is rewritten per block of keys (what costs most under SwiftShader's
//   JIT); a quad's 4 invocations are combined into one partial per row and chunk of 256 (128)
//   keys, which merge-rows.wgsl combines per row. Those partials take Lq·ceil(Lk/chunk)·Ev floats
//   per head (a quarter of the score matrix at Ev = 64 with chunks of 256, all of it at Ev = 128),
//   so the tile is only used while they fit one binding (heldKeysServes), and under 'auto' only for
//   calls of at least HELD_KEYS_MIN_ROWS query rows and keys (each invocation loads its keys once
//   for every row; with few rows or keys that load is the whole cost) and of at least
//   heldKeysMinQuads() quads (one per CPU thread: cpuThreads()); it runs only the chunks some row sees
//   (heldKeysChunks).
//
// 'auto' measures instead of guessing: a tile other than compact is used only on adapters where a
// one-time probe found it faster (src/tile-tuning.ts), for calls with at least 16 query rows, and
// only once its pipeline is compiled; until then calls run compact (tiered, like a JIT).
// ctx.prepare() runs the probe and the compiles ahead of time.

import type { Loads } from './shaders.js';

/** vec4 loads need every row of q, k and v to start on a 16-byte boundary: head sizes that are multiples of 4. */
export function loadsFor(shape: { headDim: number; valueDim: number }): Loads {
  return shape.headDim % 4 === 0 && shape.valueDim % 4 === 0 ? 'vec4' : 'scalar';
}

export type TileName = 'compact' | 'wide' | 'workgroup' | 'workgroup-split' | 'held-keys';
export type FusedTileChoice = 'auto' | TileName;
export const TILE_CHOICES: readonly FusedTileChoice[] = ['auto', 'compact', 'wide', 'workgroup', 'workgroup-split', 'held-keys'];

/**
 * The split-keys path's kernel (decoding: few query rows, many keys), the other half of a tile
 * choice. 'invocation': flash-split.wgsl (flash-split-quad.wgsl where loads are quad-shared), one
 * invocation per (row, chunk of keys), sized for CPU adapters, where it streams K and V within
 * 1.2-1.5x of the copy bandwidth; on an NVIDIA H200 it took 6.2x (BENCHMARKS.md, "Real GPU").
 * 'workgroup': flash-decode.wgsl, a workgroup per (row, chunk), the keys of a block shared out
 * between its invocations (the GPU design). 'auto': invocation on software adapters; on GPUs
 * workgroup where each kv head serves at most SPLIT_WORKGROUP_MAX_ROWS query rows, else invocation.
 */
export type SplitTileName = 'invocation' | 'workgroup';
/** The tile a dispatch belongs to, for compile-failure messages: a fused tile, or the split-keys path's workgroup tile. */
export type DispatchTile = TileName | 'split-keys workgroup';
export type SplitTileChoice = 'auto' | SplitTileName;
export const SPLIT_TILE_CHOICES: readonly SplitTileChoice[] = ['auto', 'invocation', 'workgroup'];

/**
 * Under 'auto' on GPUs, the workgroup tile serves calls whose kv heads each serve at most this
 * many query rows (Lq · H / Hkv): its workgroups serve one row each, so every row re-reads its kv
 * head's keys, where the invocation tile's neighbouring invocations (rows) share them through the
 * caches. Decoding (Lq 1, GQA groups up to 8) qualifies; a chunk of 100 prefill rows does not.
 */
export const SPLIT_WORKGROUP_MAX_ROWS = 8;

export function splitTile(
  choice: SplitTileChoice, software: boolean, shape: { queryLength: number; heads: number; kvHeads: number },
): SplitTileName {
  if (choice !== 'auto') return choice;
  if (software) return 'invocation';
  return shape.queryLength * (shape.heads / shape.kvHeads) <= SPLIT_WORKGROUP_MAX_ROWS ? 'workgroup' : 'invocation';
}

/** flash-decode.wgsl's invocations per workgroup, and keys per block (at least Ev / 4, which is at most 64). */
export const SPLIT_WORKGROUP_SIZE = 64;
/** merge-decode.wgsl's invocations per workgroup (one workgroup per row), where the device allows it. */
export const SPLIT_MERGE_WORKGROUP_SIZE = 256;

/**
 * merge-decode.wgsl's workgroup size on this device: SPLIT_MERGE_WORKGROUP_SIZE, or fewer where the
 * device's limits are lower (a compatibility-mode device allows 128). Any size of at least
 * ceil(Ev / 4) = 64 serves (fewer groups, more chunks each); every WebGPU device allows 128.
 */
export function splitMergeWorkgroupSize(device: GPUDevice): number {
  const { maxComputeInvocationsPerWorkgroup: n, maxComputeWorkgroupSizeX: x } = device.limits;
  return Math.min(SPLIT_MERGE_WORKGROUP_SIZE, n, x);
}
/** The workgroup split tile aims for this many workgroups (rows x chunks) ... */
export const SPLIT_WORKGROUP_TARGET = 1024;
/**
 * ... in chunks of whole blocks of SPLIT_WORKGROUP_SIZE keys, at most this many per row, so that
 * merge-decode.wgsl's 16 groups (Ev = 64, 256 invocations) combine at most 16 chunks each.
 */
export const SPLIT_WORKGROUP_MAX_CHUNKS = 256;

/**
 * How the workgroup split tile divides each row's keys: enough chunks for SPLIT_WORKGROUP_TARGET
 * workgroups, each a whole number of blocks, at most SPLIT_WORKGROUP_MAX_CHUNKS. Decoding B1 H8
 * (8 rows): S=65536 128 chunks of 512 keys; S=8192 128 of 64; S=1024 16 of 64.
 */
export function splitWorkgroupChunks(rows: number, keyLength: number): { splits: number; keysPerSplit: number } {
  const block = SPLIT_WORKGROUP_SIZE;
  const wanted = Math.min(Math.max(1, Math.ceil(SPLIT_WORKGROUP_TARGET / rows)), SPLIT_WORKGROUP_MAX_CHUNKS);
  const keysPerSplit = Math.max(1, Math.ceil(keyLength / wanted / block)) * block;
  return { splits: Math.max(1, Math.ceil(keyLength / keysPerSplit)), keysPerSplit };
}

/** A tile of flash.wgsl: groups of 4 query rows per invocation, the keys streamed from the buffer. */
export interface RegisterTile {
  name: 'compact' | 'wide';
  /** Groups of 4 query rows per invocation (flash.wgsl's RG). */
  rowGroups: number;
  /** Query rows held in named registers (flash.wgsl's Q_REGS); needs E and Ev <= 128. */
  qInRegisters: boolean;
  /** Invocations per workgroup (flash.wgsl's WG). */
  workgroupSize: number;
}

/**
 * The tile of flash-tiled.wgsl: one query row per invocation, keys staged in workgroup memory;
 * 'workgroup-split' also splits the keys between workgroups (workgroupSplits), merge.wgsl after.
 */
export interface WorkgroupTile {
  name: 'workgroup' | 'workgroup-split';
  /** Query rows (and invocations) per workgroup. */
  workgroupSize: number;
  /** Keys per tile in workgroup memory (its TILE_KEYS). */
  tileKeys: number;
}

/**
 * The held-keys tile's two kernels, merged by merge-rows.wgsl: flash-held-keys.wgsl (64 keys per
 * invocation, a quad per chunk of 256; heads up to 64 dims) and flash-held-keys-32.wgsl (32 keys,
 * chunks of 128; heads up to 128 dims). heldKeysTile says which a call runs.
 */
export interface HeldKeysTile {
  name: 'held-keys';
  kernel: 'flash-held-keys' | 'flash-held-keys-32';
  /** Invocations per workgroup: one quad. */
  workgroupSize: number;
  /** Keys per chunk: a quad's 4 invocations' KEYS each (4·KEYS of the kernel). */
  chunkKeys: number;
}

export type FusedTile = RegisterTile | WorkgroupTile | HeldKeysTile;

export const HELD_KEYS: HeldKeysTile = { name: 'held-keys', kernel: 'flash-held-keys', workgroupSize: 4, chunkKeys: 256 };
export const HELD_KEYS_32: HeldKeysTile = { name: 'held-keys', kernel: 'flash-held-keys-32', workgroupSize: 4, chunkKeys: 128 };

/**
 * Under 'auto', the held-keys tile serves calls with at least this many query rows and keys that
 * some row sees, with or without a causal rule (on the 32-key kernel below the sizes of
 * HELD_KEYS_64_MIN_ROWS). Session 16, Node, against the tile 'auto' used there before: E=64
 * against wide, 1.4x at L=S=128 and 1.6x at 64 (by minimum; level by median), causal level at
 * 128 and 1.26x at 256; E=128 against compact, 1.76x at 128 and 1.07x at 64, causal 1.18x at 128.
 */
export const HELD_KEYS_MIN_ROWS = 128;
/**
 * Heads up to 64 dims run the 64-key kernel from this many query rows and visible keys, and from
 * HELD_KEYS_64_MIN_CAUSAL_ROWS under a causal rule; smaller calls the 32-key one. Session 16, Node,
 * E=64, both forced in one process (32-key against 64-key): L=S=128 1.63x, 256 0.98x, 512 0.91x,
 * 1024 0.92x; causal 256 1.12x, 512 1.02x, 1024 0.97x, 2048 0.91x. The 64-key kernel loads each
 * invocation's keys once for twice as many keys, and its partials are half as large; the 32-key
 * one has twice the quads to spread over the cores and skips keys under a causal rule by chunks
 * of 128 rather than 256. (Against wide, session 15, the 64-key kernel: 1.3x at L=S=256 and 0.8x
 * at 128; causal, Chromium 0.89x at 256, 1.13x at 512 and 1.40x at 1024.)
 */
export const HELD_KEYS_64_MIN_ROWS = 256;
export const HELD_KEYS_64_MIN_CAUSAL_ROWS = 512;

/**
 * The held-keys kernel for a call (where heldKeysFit): 64 keys an invocation where the heads have
 * at most 64 dims and the call at least HELD_KEYS_64_MIN_ROWS query rows and visible keys
 * (HELD_KEYS_64_MIN_CAUSAL_ROWS under a causal rule), 32 otherwise. `causalOffset` as for
 * heldKeysChunks. Forced and 'auto' calls alike.
 */
export function heldKeysTile(shape: CallShape, causalOffset: number | undefined): HeldKeysTile {
  if (shape.headDim > 64 || shape.valueDim > 64) return HELD_KEYS_32;
  const rows = Math.min(shape.queryLength, visibleKeys(shape, causalOffset));
  return rows >= (causalOffset === undefined ? HELD_KEYS_64_MIN_ROWS : HELD_KEYS_64_MIN_CAUSAL_ROWS) ? HELD_KEYS : HELD_KEYS_32;
}
/** Quads of the tile probe's problem at E=64 (B1 H8 L=S=512: 8 heads, 2 chunks of 256 keys). */
export const HELD_KEYS_PROBE_QUADS = 16;

/**
 * Under 'auto', the held-keys tile serves calls with at least this many quads (one per (batch,
 * head) and chunk of keys, each on one thread of a CPU adapter): one per CPU thread where the
 * platform says how many (cpuThreads()), at most the probe's 16; 16 where it does not say. With
 * fewer quads than threads the tile leaves cores idle that the register tiles, with far more
 * invocations, would use (B1 H1, Lq 8192, Lk 256 is one quad). On this VM's 2 threads (session
 * 15, Node, against wide): B1 H8 L=S=256 (8 quads) 1.57x faster, B1 H1 Lq 4096 Lk 512 (2 quads) 1.58x.
 */
export function heldKeysMinQuads(threads: number | undefined): number {
  return threads && threads > 0 ? Math.min(HELD_KEYS_PROBE_QUADS, Math.ceil(threads)) : HELD_KEYS_PROBE_QUADS;
}

/**
 * The CPU threads this platform reports: `navigator.hardwareConcurrency` (browsers, Deno, Bun,
 * Node 21 and later), else Node's `os.availableParallelism()` through `process.getBuiltinModule`
 * (Node 20.16 and later, which have no `navigator`); undefined where neither exists. Reached through
 * globalThis so that bundlers for the browser see no `process` or `node:os` to polyfill. Asked
 * once per page or process (every fused call under 'auto' reads it; Node's answer is a system call).
 */
export function cpuThreads(): number | undefined {
  if (threadsKnown) return threads;
  threadsKnown = true;
  return (threads = platformThreads());
}
let threadsKnown = false;
let threads: number | undefined;

function platformThreads(): number | undefined {
  const g = globalThis as {
    navigator?: { hardwareConcurrency?: number };
    process?: { getBuiltinModule?: (id: string) => { availableParallelism?: () => number } | undefined };
  };
  const reported = g.navigator?.hardwareConcurrency;
  if (reported) return reported;
  try {
    return g.process?.getBuiltinModule?.('node:os')?.availableParallelism?.();
  } catch {
    return undefined;
  }
}

/** What the held-keys and workgroup-split tiles' chunking reads of a call's shape. */
type CallShape = { batch: number; heads: number; queryLength: number; keyLength: number; headDim: number; valueDim: number };

/**
 * The chunks (256 or 128 keys: heldKeysTile) the held-keys tile runs for a call: those holding a
 * key some query row may see. `causalOffset`: undefined without a causal rule; else key j is visible to row i when
 * j <= i + causalOffset (0 top-left, Lk - Lq bottom-right), so the last row sees the first
 * Lq + causalOffset keys, and a chunk past those holds no live score (a top-left call with
 * Lq 512 and Lk 16384 runs 2 chunks, not 64). Kernel grid, partials and merge all shrink with it.
 */
export function heldKeysChunks(shape: CallShape, causalOffset: number | undefined): number {
  return Math.max(1, Math.ceil(visibleKeys(shape, causalOffset) / heldKeysTile(shape, causalOffset).chunkKeys));
}

/** How many keys some query row sees: all, or under a causal rule the last row's Lq + offset. */
function visibleKeys(shape: CallShape, causalOffset: number | undefined): number {
  return causalOffset === undefined ? shape.keyLength : Math.min(shape.keyLength, shape.queryLength + causalOffset);
}

/** Bytes of the held-keys tile's partial results: one Ev-wide row per query row and chunk it runs. */
export function heldKeysPartialBytes(shape: CallShape, causalOffset: number | undefined): number {
  return shape.batch * shape.heads * shape.queryLength * heldKeysChunks(shape, causalOffset) * shape.valueDim * 4;
}

/**
 * Whether the held-keys tile, where it can run (fusedTile), takes a call of this shape: its
 * partials fit one binding (`maxBinding` bytes), and under 'auto' the call has at least
 * HELD_KEYS_MIN_ROWS query rows and keys that some row sees and `minQuads` quads
 * (heldKeysMinQuads(cpuThreads())) in the chunks it runs. `causalOffset` as
 * for heldKeysChunks. Otherwise the call runs wide (forced) or, under 'auto', compact.
 */
export function heldKeysServes(
  shape: CallShape, auto: boolean, maxBinding: number, causalOffset: number | undefined, minQuads = heldKeysMinQuads(cpuThreads()),
): boolean {
  const rows = Math.min(shape.queryLength, visibleKeys(shape, causalOffset));
  const long = rows >= HELD_KEYS_MIN_ROWS;
  const parallel = shape.batch * shape.heads * heldKeysChunks(shape, causalOffset) >= minQuads;
  return heldKeysPartialBytes(shape, causalOffset) <= maxBinding && (!auto || (long && parallel));
}

/** E and Ev multiples of 4 up to 128: what the held-keys kernels' private arrays and vec4 loads hold. */
export function heldKeysFit(shape: { headDim: number; valueDim: number }): boolean {
  return shape.headDim <= 128 && shape.valueDim <= 128 && shape.headDim % 4 === 0 && shape.valueDim % 4 === 0;
}

export const COMPACT: RegisterTile = { name: 'compact', rowGroups: 1, qInRegisters: false, workgroupSize: 64 };
// Where loads are shared across quads (quadSharing: a CPU adapter), compact also keeps its 4 query
// rows in named registers for q rows up to COMPACT_Q_REGS_MAX_DIM (E; Ev sizes the accumulators,
// named either way): measured 1.4-1.5x faster there (Node, L=S=512 and 1024, E=64) for a 2.3 s
// compile. On a GPU the 512-1024 more floats per invocation would spill.
export const COMPACT_Q_REGS: RegisterTile = { ...COMPACT, qInRegisters: true };
// Past 64 dims of q compact reads q from the buffer even where loads are quad-shared. At E=128 q in
// registers compiled in 14.3-15.6 s against 3.5 s, and prepare() took 24.7-25.8 s against
// 13.1-16.2. It ran as fast on short calls (Lq=64 Lk=512 0.98-0.99x, Lq=Lk=128 0.96-1.00x) and
// 1.2x faster on long ones (Lq=Lk=512, Lq=256 Lk=1024; minimum of 9-21 alternating calls, Node,
// session 29). Under 'auto' long calls at E=128 run held-keys, 1.8-2x faster than compact; the long
// calls held-keys declines (fewer quads than CPU threads, partials past a binding) now run compact
// ~1.2x slower than before, for a first call 11-12 s shorter: the trade taken.
export const COMPACT_Q_REGS_MAX_DIM = 64;
// 16 per workgroup: a head of 128 rows is 8 wide invocations, so B1 H8 L=128 makes 4 workgroups
// rather than 1, and a CPU adapter spreads them over its cores (measured 1.28x at L=S=128).
export const WIDE: RegisterTile = { name: 'wide', rowGroups: 4, qInRegisters: true, workgroupSize: 16 };
// The wide tile where loads are quad-shared: 8 rows per invocation. At E=64 as fast as 16 there
// within noise (minimum of alternating calls, 8 vs 16 rows: Node L=S=512 117.9 vs 136.4 ms,
// L=S=1024 525.9 vs 512.9; Chromium 107.2 vs 90.9 and 431.2 vs 477.0) for an 8 s compile instead
// of 20 s. At E=128 (session 22, B1 H8 L=S=512, forced wide) 8 rows compile ~3x faster:
// prepare() 44-48 s against 122-155 s. Calls ran 1.2-1.4x faster too, but on a slow day (session 6
// had measured 16 rows 1.26x faster); 'auto' does not time wide beside held-keys (since session 19
// past 64 dims, since session 29 at any head size), so this serves forced calls, where the compile
// matters more, and heads held-keys does not hold.
export const WIDE_8_ROWS: RegisterTile = { name: 'wide', rowGroups: 2, qInRegisters: true, workgroupSize: 32 };

/** The wide tile: 8 rows where loads are quad-shared, else 16. */
export function wideTile(quad: boolean): RegisterTile {
  return quad ? WIDE_8_ROWS : WIDE;
}

/** E and Ev up to 128: flash.wgsl's unrolled named blocks (its NAMED) fit; the wide tile needs them. */
export function namedBlocksFit(shape: { headDim: number; valueDim: number }): boolean {
  return Math.ceil(shape.headDim / 4) <= 32 && Math.ceil(shape.valueDim / 4) <= 32;
}

/** Query rows per workgroup of the workgroup tile: 64, as ONNX Runtime's and llama.cpp's GPU kernels use. */
export const WORKGROUP_ROWS = 64;
const MAX_TILE_KEYS = 32; // flash-tiled.wgsl's MAX_TILE

/**
 * The workgroup tile for these head sizes: up to 32 keys per tile, as many as fit the device's
 * workgroup memory with their k and v rows (32 at E = Ev = 64 in the default 16 KiB, 8 at 256).
 */
export function workgroupTile(shape: { headDim: number; valueDim: number }, device: GPUDevice, split = false): WorkgroupTile {
  const bytesPerKey = (Math.ceil(shape.headDim / 4) + Math.ceil(shape.valueDim / 4)) * 16;
  let tileKeys = MAX_TILE_KEYS;
  while (tileKeys > 4 && tileKeys * bytesPerKey > device.limits.maxComputeWorkgroupStorageSize) tileKeys /= 2;
  return { name: split ? 'workgroup-split' : 'workgroup', workgroupSize: WORKGROUP_ROWS, tileKeys };
}

/**
 * Workgroups the workgroup-split tile aims for. On an NVIDIA H200 (132 compute units) the
 * workgroup tile's time grew with L, not L², up to B1 H8 L=S=2048 (0.17, 0.26, 0.52, 1.02 ms
 * from 256 to 2048; session 17): 128 workgroups of 64 rows at L=S=1024, two warps per unit, each
 * walking every key. 1024 is several per unit on the largest GPUs; the one-time measurement
 * decides per adapter whether splitting pays at all.
 */
export const WORKGROUP_SPLIT_TARGET = 1024;
/** The least keys per chunk (4 tiles of 32): fewer, and writing and merging partials outweighs the work. */
export const WORKGROUP_SPLIT_MIN_KEYS = 128;

/**
 * How the workgroup-split tile divides a call's keys: enough chunks for WORKGROUP_SPLIT_TARGET
 * workgroups, none but the last under WORKGROUP_SPLIT_MIN_KEYS keys, over the keys some row sees
 * (a causal call's last row's limit, as heldKeysChunks); chunks a whole number of 32-key tiles.
 * One chunk (the unsplit kernel, no merge) where the rows alone make enough workgroups, or where
 * the partials or stats (chunkScratchBytes) would exceed `maxBinding` bytes.
 */
export function workgroupSplits(
  shape: CallShape, causalOffset: number | undefined, maxBinding = Infinity,
): { splits: number; keysPerSplit: number } {
  const blocks = shape.batch * shape.heads * Math.ceil(shape.queryLength / WORKGROUP_ROWS);
  const visible = Math.max(1, visibleKeys(shape, causalOffset));
  const wanted = Math.ceil(WORKGROUP_SPLIT_TARGET / blocks);
  const most = Math.max(1, Math.floor(visible / WORKGROUP_SPLIT_MIN_KEYS));
  const unsplit = { splits: 1, keysPerSplit: shape.keyLength };
  if (Math.min(wanted, most) <= 1) return unsplit;
  const keysPerSplit = Math.ceil(visible / Math.min(wanted, most) / MAX_TILE_KEYS) * MAX_TILE_KEYS;
  const splits = Math.ceil(visible / keysPerSplit);
  const bytes = chunkScratchBytes(shape.batch * shape.heads * shape.queryLength * splits, shape.valueDim);
  return bytes <= maxBinding ? { splits, keysPerSplit } : unsplit;
}

/**
 * The larger of the two scratch bindings a chunked call writes for `rowChunks` (query row, chunk)
 * pairs: the partials (Ev floats each) or the stats (max and sum: 2 floats each, the larger where Ev
 * is 1). Both must fit one binding.
 */
export function chunkScratchBytes(rowChunks: number, valueDim: number): number {
  return rowChunks * Math.max(valueDim, 2) * 4;
}

/**
 * The tile of this name for a call: wide falls back to compact where the named blocks do not fit
 * (E or Ev > 128), held-keys to wide where it cannot run (no quads, or head sizes it does not
 * hold). `quad`: loads are shared across quads (quadSharing), so compact holds q in registers
 * where E is at most COMPACT_Q_REGS_MAX_DIM.
 */
export function fusedTile(
  name: TileName, shape: CallShape, quad: boolean, device: GPUDevice, causalOffset: number | undefined,
): FusedTile {
  if (name === 'workgroup' || name === 'workgroup-split') return workgroupTile(shape, device, name === 'workgroup-split');
  if (name === 'held-keys') {
    if (quad && heldKeysFit(shape)) return heldKeysTile(shape, causalOffset);
    name = 'wide';
  }
  if (!namedBlocksFit(shape)) return COMPACT;
  if (name === 'wide') return wideTile(quad);
  return quad && shape.headDim <= COMPACT_Q_REGS_MAX_DIM ? COMPACT_Q_REGS : COMPACT;
}

/**
 * The tiles the one-time measurement times against compact for these head sizes: on software (CPU)
 * adapters held-keys where loads are shared across quads and it fits, else wide where its named
 * blocks fit (below: not beside held-keys); on other adapters (GPUs) workgroup and
 * workgroup-split. Not wide on GPUs: its 8-16 rows of unrolled registers are a CPU's shape, and on
 * an NVIDIA H200 (Dawn on Vulkan, driver 580, session 17) its pipelines did not compile in a
 * minute (E=128: prepare() past 60 s; the case table on it past 70 s) where compact and workgroup
 * took seconds. `fusedTile: 'wide'` still forces it.
 */
export function tileCandidates(shape: { headDim: number; valueDim: number }, software: boolean, quad = false): TileName[] {
  const tiles: TileName[] = ['compact'];
  const heldKeys = software && quad && heldKeysFit(shape);
  if (software && namedBlocksFit(shape) && !heldKeys) tiles.push('wide');
  if (!software) tiles.push('workgroup', 'workgroup-split');
  if (heldKeys) tiles.push('held-keys');
  return tiles;
}

// Why wide is not timed beside held-keys. Where held-keys is a candidate, 'auto' runs it on every
// call of at least 128 rows with a quad per CPU thread (heldKeysServes); wide would only serve the
// calls it declines. Past 64 dims wide lost to compact in every quad-shared probe since session 9
// (compact against wide, ms: 131.6/172.3, 129.5/155.9, 125.2/146.1, 118.4/149.1, 128.3/147.0,
// 123.5/152.8) while its compile made up ~60 of prepare()'s 68 s (session 19: no longer timed past
// 64 dims). At E=64 (session 29, Node, forced tiles, minimum of 11-15 alternating calls) it was no
// faster than compact on the calls held-keys declines: H8 Lq=64 Lk=512 1.00x, Lq=Lk=100 0.92x,
// Lq=32 Lk=1024 1.01x, Lq=16 Lk=256 0.62x, H4 Lq=120 Lk=2048 0.81x, H1 Lq=2048 Lk=256 (one
// quad) 0.88x, H1 Lq=1024 Lk=200 (declined from 3 CPU threads) 0.93x; and with its compile
// prepare() at E=64 took 28.5-28.9 s, without it 14.8-15.0 s. So it is timed only where held-keys
// cannot run (no quads, heads held-keys does not hold), and a call held-keys declines runs
// compact; `fusedTile: 'wide'` still forces it.

/**
 * Whether 'auto' considers a tile other than compact for a call of this shape (then the
 * measurement decides): there is another candidate, and the head has at least 16 query rows (fewer
 * would leave most of a wide tile or a workgroup idle, as decoding shapes do).
 */
export function autoMayRetile(shape: { headDim: number; valueDim: number; queryLength: number }, software: boolean): boolean {
  return shape.queryLength >= 16 && tileCandidates(shape, software).length > 1;
}

/**
 * Whether the adapter is a software (CPU) one, where the measurement skips the workgroup tile:
 * a fallback adapter, or SwiftShader by name (older browsers have no adapterInfo: a GPU is assumed).
 */
export function softwareAdapter(device: GPUDevice): boolean {
  let software = softwareOf.get(device);
  if (software === undefined) {
    software = softwareAdapterInfo((device as { adapterInfo?: GPUAdapterInfo }).adapterInfo);
    softwareOf.set(device, software);
  }
  return software;
}

/** The same question of an adapter's info (GPUAdapter.info, or a device's adapterInfo). */
export function softwareAdapterInfo(info: GPUAdapterInfo | undefined): boolean {
  const i = info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  return i?.isFallbackAdapter === true || i?.architecture === 'swiftshader';
}

// Asked on every fused call under 'auto'; a device's adapter never changes.
const softwareOf = new WeakMap<GPUDevice, boolean>();

/**
 * Whether the fused kernel shares k and v loads across quads of a subgroup (flash.wgsl with
 * lib/kv-share-quad.wgsl): on SwiftShader (adapter architecture 'swiftshader', a fallback adapter)
 * with subgroups exactly 4 lanes wide, on a device with the 'subgroups' feature. SwiftShader runs 4
 * invocations on the 4 lanes of a SIMD register, where a storage load is a per-lane gather and one
 * gather per quad instead of four measured 1.4-1.7x faster. GPUs keep the plain kernel: their loads
 * are not the bottleneck this works around, and COMPACT_Q_REGS would spill their registers. Other
 * CPU adapters keep it too: the quad kernels take a quad's lanes (subgroup_invocation_id & 3) to be
 * its invocations in local_invocation_index order, which WebGPU does not promise and the tests check
 * on SwiftShader only.
 */
export function quadSharing(device: GPUDevice): boolean {
  let quad = quadSharingOf.get(device);
  if (quad === undefined) {
    type Info = GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; isFallbackAdapter?: boolean };
    const info = (device as { adapterInfo?: Info }).adapterInfo; // missing in older browsers: plain kernel
    quad = device.features.has('subgroups') && info?.isFallbackAdapter === true && info.architecture === 'swiftshader' &&
      info.subgroupMinSize === 4 && info.subgroupMaxSize === 4;
    quadSharingOf.set(device, quad);
  }
  return quad;
}

// Asked on every fused call; a device's features and adapter never change.
const quadSharingOf = new WeakMap<GPUDevice, boolean>();
