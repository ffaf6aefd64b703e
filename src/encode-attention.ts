// Chooses a path for a validated problem and records its kernels. Shared by the CPU-tensor API
// (which uploads first) and the GPU-resident encode() API.
import { AttentionInputError, DeviceLimitError } from './errors.js';
import { BufferUsage } from './gpu-constants.js';
import type { Constants, Recorder } from './recorder.js';
import type { KernelName, Loads } from './shaders.js';
import type { AttentionBuffers } from './types.js';
import {
  autoMayRetile, fusedTile, heldKeysChunks, heldKeysServes, loadsFor, namedBlocksFit, quadSharing, splitMergeWorkgroupSize, SPLIT_WORKGROUP_SIZE, splitTile, splitWorkgroupChunks,
  type DispatchTile, type FusedTile, type TileName, workgroupSplits,
} from './tiles.js';
import { CausalMode, causalOffset, kvRows, MaskKind, type Problem } from './validate.js';

export type Path = 'staged' | 'fused' | 'split-keys';

export interface Want {
  weights: boolean;
  logSumExp: boolean;
}

/** The buffers one recording reads and writes: the GPU-resident API's, or the ones attention() uploaded. */
export type ProblemBuffers = AttentionBuffers;

/** The fused kernel keeps each row's accumulator in registers (vec4 arrays of 64, so 256 floats). */
export const FUSED_MAX_DIM = 256;

/** Rows (B·H·Lq) below which a long key range is split across workgroups. */
const DECODE_ROWS = 1024;
const DECODE_MIN_KEYS = 256;
/** Split-keys aims for this many invocations, with at least this many keys each. */
const SPLIT_TARGET_INVOCATIONS = 4096;
const SPLIT_MIN_KEYS = 128;
/**
 * Invocations per split-keys workgroup. 16, not 64: decoding B1 H8 S=1024 is 8 heads x 8 chunks =
 * 64 invocations, which as one workgroup ran on one core of a CPU adapter (browser A/B: 1.3-1.5x).
 */
const SPLIT_WG = 16;

export function choosePath(p: Problem, want: Want): Path {
  const { headDim: E, valueDim: Ev, batch, heads, queryLength: Lq, keyLength: Lk } = p.shape;
  const fits = E <= FUSED_MAX_DIM && Ev <= FUSED_MAX_DIM;
  if (want.weights) {
    if (p.kernel === 'fused' || p.kernel === 'split-keys') {
      throw new AttentionInputError(
        `options.kernel '${p.kernel}' never stores the weights; attentionWithWeights needs kernel 'staged' or 'auto'`,
      );
    }
    return 'staged';
  }
  if (p.kernel === 'staged') {
    if (want.logSumExp) {
      throw new AttentionInputError(
        `options.kernel 'staged' does not compute the log-sum-exp; use kernel 'fused', 'split-keys' or 'auto'`,
      );
    }
    return 'staged';
  }
  if (!fits) {
    if (p.kernel === 'auto' && !want.logSumExp) return 'staged';
    if (want.logSumExp) {
      throw new AttentionInputError(
        `headDim ${E} and valueDim ${Ev}: the log-sum-exp comes from the fused kernels, which take dims up to ` +
          `${FUSED_MAX_DIM}; split the head or use attention() / attentionWithWeights() without it`,
      );
    }
    throw new AttentionInputError(
      `headDim ${E} and valueDim ${Ev}: the fused kernels take dims up to ${FUSED_MAX_DIM}; use kernel 'staged'`,
    );
  }
  if (p.kernel === 'fused' || p.kernel === 'split-keys') return p.kernel;
  const rows = batch * heads * Lq;
  return rows < DECODE_ROWS && Lk >= DECODE_MIN_KEYS ? 'split-keys' : 'fused';
}

export function chooseSplits(p: Problem, perItem = 1): { splits: number; keysPerSplit: number } {
  const { batch, heads, queryLength: Lq, keyLength: Lk } = p.shape;
  const rows = batch * heads * Lq;
  const wanted = Math.max(1, Math.ceil(SPLIT_TARGET_INVOCATIONS / (rows * perItem)));
  const most = Math.max(1, Math.ceil(Lk / SPLIT_MIN_KEYS));
  let splits = Math.min(wanted, most);
  const keysPerSplit = Math.ceil(Math.ceil(Lk / splits) / 4) * 4;
  splits = Math.ceil(Lk / keysPerSplit);
  return { splits, keysPerSplit };
}

/**
 * The kernels index bindings in u32: f32 arrays by element (16 GiB), a boolean mask by byte (4 GiB).
 * Bindings are held to that, whatever the device allows (some report more than 4 GiB).
 */
const F32_INDEX_BYTES = 2 ** 34;
const BYTE_INDEX_BYTES = 2 ** 32;

function maxBinding(device: GPUDevice, indexBytes = F32_INDEX_BYTES): number {
  return Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize, indexBytes);
}

/** What a binding of more than `limit` bytes is over: the device's limits, or what the kernels can index. */
function over(limit: number, indexBytes = F32_INDEX_BYTES): string {
  return limit === indexBytes
    ? `over the ${indexBytes / 2 ** 30} GiB the kernels can index`
    : `over this device's maxStorageBufferBindingSize/maxBufferSize (${limit})`;
}

function checkBinding(device: GPUDevice, name: string, bytes: number, hint: string, indexBytes = F32_INDEX_BYTES): void {
  const limit = maxBinding(device, indexBytes);
  if (bytes > limit) throw new DeviceLimitError(`${name} needs ${bytes} bytes, ${over(limit, indexBytes)}; ${hint}`);
}

/** The split-keys path's scratch: partials (Ev floats) and stats (2 floats) per row and chunk, each one binding. */
function checkChunkScratch(device: GPUDevice, rowChunks: number, Ev: number): void {
  const hint = "use kernel 'fused' for this shape";
  checkBinding(device, 'split-keys partials', rowChunks * Ev * 4, hint);
  checkBinding(device, 'split-keys stats', rowChunks * 2 * 4, hint);
}

/** Bytes a mask's binding spans: f32 per element (additive), or one byte each rounded to 4 (boolean). */
export function maskBytes(mask: { kind: MaskKind; elements: number }): number {
  return mask.kind === MaskKind.Boolean ? Math.ceil(mask.elements / 4) * 4 : mask.elements * 4;
}


/** Records the chosen path; returns which path ran. */
export function encodeProblem(rec: Recorder, p: Problem, b: ProblemBuffers, want: Want): Path {
  const path = choosePath(p, want);
  const s = p.shape;
  const dev = rec.device;
  const hint = 'split the call (fewer heads or batches per call)';
  // A KV cache is bound whole, spare rows included.
  const kvHint = kvRows(s) > s.keyLength
    ? `the whole cache (keyCapacity ${kvRows(s)} rows per kv head) is one binding: give it fewer rows, or one buffer per batch or group of kv heads and a call each`
    : hint;
  checkBinding(dev, 'q', s.batch * s.heads * s.queryLength * s.headDim * 4, hint);
  checkBinding(dev, 'k', s.batch * s.kvHeads * kvRows(s) * s.headDim * 4, kvHint);
  checkBinding(dev, 'v', s.batch * s.kvHeads * kvRows(s) * s.valueDim * 4, kvHint);
  checkBinding(dev, 'output', s.batch * s.heads * s.queryLength * s.valueDim * 4, hint);
  if (p.mask) {
    const boolean = p.mask.kind === MaskKind.Boolean;
    checkBinding(dev, `mask (${p.mask.elements} elements)`, maskBytes(p.mask),
      `give it shape [Lq, Lk] or a batch, head or query-row dimension of 1 where it repeats (a key-padding mask [B, 1, 1, Lk])${boolean ? '' : ', or a boolean mask (1 byte an element)'}`,
      boolean ? BYTE_INDEX_BYTES : F32_INDEX_BYTES);
  }
  const loads = loadsFor(s);
  if (path === 'staged') encodeStaged(rec, p, b, loads);
  else encodeFused(rec, p, b, loads, path === 'split-keys');
  return path;
}

function encodeStaged(rec: Recorder, p: Problem, b: ProblemBuffers, loads: Loads): void {
  const { batch, heads, queryLength: Lq, keyLength: Lk, headDim: E, valueDim: Ev } = p.shape;
  const bhTotal = batch * heads;
  const perBH = Lq * Lk * 4;
  const limit = maxBinding(rec.device);
  let chunk: number;
  let scores: GPUBuffer;
  if (b.weights) {
    checkBinding(rec.device, `weights [${batch},${heads},${Lq},${Lk}]`, bhTotal * perBH,
      'ask for weights of fewer heads or shorter sequences per call, or use attention() without weights');
    chunk = bhTotal;
    scores = b.weights;
  } else {
    // The score matrix is scratch: process as many (batch, head) pairs at a time as fit one binding.
    chunk = Math.min(bhTotal, Math.floor(limit / perBH));
    if (chunk === 0) {
      throw new DeviceLimitError(
        `one head's score matrix (${Lq}×${Lk} f32 = ${perBH} bytes) is ${over(limit)}; ` +
          `use kernel 'fused' or 'auto', which never stores it`,
      );
    }
    scores = rec.scratch(chunk * perBH, BufferUsage.STORAGE, 'webgpu-attention scores');
  }
  const maskKind = p.mask?.kind ?? 0;
  // Where quads share loads (SwiftShader's 4-lane subgroups): each row's q and weights loaded once per quad.
  const quad = quadSharing(rec.device);
  for (let off = 0; off < bhTotal; off += chunk) {
    const count = Math.min(chunk, bhTotal - off);
    const params = rec.params(p, { bhOffset: off, bhCount: count });
    rec.dispatch(quad ? 'scores-quad' : 'scores', loads, { MASK_KIND: maskKind, HEAD_VEC4: Math.ceil(E / 4) },
      [[0, params], [1, b.mask ?? rec.dummyRead], [2, b.q], [3, b.k], [5, scores]],
      count * Math.ceil(Lq / 32) * Math.ceil(Lk / 32));
    rec.dispatch('softmax', 'scalar', {}, [[0, params], [2, scores]], Math.ceil((count * Lq) / 64));
    rec.dispatch(quad ? 'weighted-sum-quad' : 'weighted-sum', loads, {}, [[0, params], [4, b.v], [5, scores], [6, b.output]],
      count * Math.ceil(Lq / 32) * Math.ceil(Ev / 32));
  }
}

/**
 * One dispatch of a fused kernel: its kernel, constants and grid, and the tile it belongs to (for
 * compile-failure messages). `chunks`: the kernel writes each row's partial and (max, sum) per
 * chunk of keys instead of the row, and a merge kernel combines them (encodeChunks).
 */
interface KernelPlan {
  tile?: DispatchTile;
  kernel: KernelName;
  constants: Constants;
  workgroups: number;
  chunks?: ChunksPlan;
}

interface ChunksPlan {
  splits: number;
  keysPerSplit: number;
  merge: { kernel: 'merge' | 'merge-rows' | 'merge-decode'; constants: Constants; workgroups: number };
}

function encodeFused(rec: Recorder, p: Problem, b: ProblemBuffers, loads: Loads, splitKeys: boolean): void {
  const { batch, heads, queryLength: Lq, keyLength: Lk, headDim: E, valueDim: Ev } = p.shape;
  const bhTotal = batch * heads;
  const rows = bhTotal * Lq;
  const named = namedBlocksFit(p.shape);
  const common = { MASK_KIND: p.mask?.kind ?? 0, HEAD_VEC4: Math.ceil(E / 4), VALUE_VEC4: Math.ceil(Ev / 4) };
  // merge.wgsl (the split-keys path, the workgroup-split tile): one invocation per row and 4 columns.
  const merge = { kernel: 'merge' as const, constants: {}, workgroups: Math.ceil((rows * Math.ceil(Ev / 4)) / 64) };
  if (!splitKeys) {
    const quad = quadSharing(rec.device);
    // The causal offset, for the held-keys and workgroup-split tiles' chunks (they run only those some row sees).
    const offset = p.causal === CausalMode.None ? undefined : causalOffset(p.causal, p.shape);
    const plan = (t: FusedTile): KernelPlan => {
      if (t.name === 'held-keys') {
        // merge-rows.wgsl: past 64 value dims, two invocations per row (16 vec4 each).
        const halves = Ev > 64;
        const splits = heldKeysChunks(p.shape, offset);
        return {
          tile: t.name,
          kernel: t.kernel,
          constants: { ...common, WG: t.workgroupSize },
          // One quad per (batch, head) and chunk of keys that some row sees.
          workgroups: (bhTotal * splits * 4) / t.workgroupSize,
          chunks: {
            splits,
            keysPerSplit: t.chunkKeys,
            merge: { kernel: 'merge-rows', constants: { VALUE_VEC4: Ev / 4, HALVES: halves }, workgroups: Math.ceil((rows * (halves ? 2 : 1)) / 64) },
          },
        };
      }
      if ('tileKeys' in t) {
        const blocks = bhTotal * Math.ceil(Lq / t.workgroupSize);
        const split = t.name === 'workgroup-split' ? workgroupSplits(p.shape, offset, maxBinding(rec.device)) : undefined;
        // One chunk (split.splits 1): the unsplit kernel, no merge.
        return split && split.splits > 1
          ? {
              tile: t.name,
              kernel: 'flash-tiled',
              // Partials out; the log-sum-exp comes from the merge.
              constants: { ...common, WG: t.workgroupSize, TILE_KEYS: t.tileKeys, SPLIT: true },
              workgroups: blocks * split.splits,
              chunks: { ...split, merge },
            }
          : {
              tile: t.name,
              kernel: 'flash-tiled',
              constants: { ...common, WG: t.workgroupSize, TILE_KEYS: t.tileKeys },
              workgroups: blocks,
            };
      }
      return {
        tile: t.name,
        kernel: quad ? 'flash-quad' : 'flash',
        constants: { ...common, NAMED: named, RG: t.rowGroups, Q_REGS: t.qInRegisters, WG: t.workgroupSize },
        // Invocations per head: one per 4·RG query rows, padded to whole quads when they share loads.
        workgroups: Math.ceil((bhTotal * Math.ceil(Math.ceil(Lq / (4 * t.rowGroups)) / (quad ? 4 : 1)) * (quad ? 4 : 1)) / t.workgroupSize),
      };
    };
    const planOf = (name: TileName) => plan(fusedTile(name, p.shape, quad, rec.device, offset));
    // A tile is ready when its kernel and its merge are compiled (both asked, so that both compile in the background).
    const ready = (t: TileName) => {
      const pl = planOf(t);
      const kernelReady = rec.ready(pl.kernel, loads, pl.constants);
      const mergeReady = !pl.chunks || rec.ready(pl.chunks.merge.kernel, 'scalar', pl.chunks.merge.constants);
      return kernelReady && mergeReady;
    };
    const auto = rec.fusedTile === 'auto';
    // The held-keys tile declines calls too short or too narrow for it (heldKeysServes).
    const declined = (t: TileName) =>
      fusedTile(t, p.shape, quad, rec.device, offset).name === 'held-keys' && !heldKeysServes(p.shape, auto, maxBinding(rec.device), offset);
    let name: TileName = auto ? 'compact' : rec.fusedTile;
    if (auto && autoMayRetile(p.shape, rec.software)) {
      const flops = 4 * bhTotal * Lq * Lk * E;
      // A verdict this call declines is not asked for (ready() would compile it in the background
      // for nothing): the call takes compact, as prepare() does.
      name = rec.measuredTile(loads, p.shape, flops, ready, declined);
    }
    // Declined: forced, wide; under 'auto', compact (the one tile timed beside held-keys).
    if (declined(name)) name = auto ? 'compact' : 'wide';
    const pl = planOf(name);
    if (pl.chunks) {
      encodeChunks(rec, p, b, loads, pl, pl.chunks, pl.tile ?? 'fused');
      return;
    }
    const params = rec.params(p, { bhOffset: 0, bhCount: bhTotal, splits: 1, keysPerSplit: Lk, writeLse: !!b.logSumExp });
    rec.dispatch(pl.kernel, loads, pl.constants,
      [[0, params], [1, b.mask ?? rec.dummyRead], [2, b.q], [3, b.k], [4, b.v], [5, b.output], [6, b.logSumExp ?? rec.dummyWrite]],
      pl.workgroups, pl.tile);
    return;
  }
  if (splitTile(rec.splitTile, rec.software, p.shape) === 'workgroup') {
    // flash-decode.wgsl: a workgroup per (row, chunk); merge-decode.wgsl: a workgroup per row.
    const { splits, keysPerSplit } = splitWorkgroupChunks(rows, Lk);
    checkChunkScratch(rec.device, rows * splits, Ev);
    const kernel: KernelPlan = {
      tile: 'split-keys workgroup', kernel: 'flash-decode', constants: { ...common, WG: SPLIT_WORKGROUP_SIZE }, workgroups: rows * splits,
    };
    const mergeRows = {
      kernel: 'merge-decode' as const,
      constants: { WG: splitMergeWorkgroupSize(rec.device) },
      workgroups: rows,
    };
    // Under 'auto', once both pipelines are compiled (in the background until then, as the fused
    // tiles are): calls run the invocation tile meanwhile, and for good if a compile fails. Forced,
    // the dispatch compiles them now; asking ready() as well would compile each a second time.
    const ready = () => {
      const decodeReady = rec.ready(kernel.kernel, loads, kernel.constants);
      const mergeReady = rec.ready(mergeRows.kernel, 'scalar', mergeRows.constants);
      return decodeReady && mergeReady;
    };
    if (rec.splitTile !== 'auto' || ready()) {
      encodeChunks(rec, p, b, loads, kernel, { splits, keysPerSplit, merge: mergeRows }, 'split');
      return;
    }
  }
  // On SwiftShader (4-lane subgroups) a quad takes each (row, chunk), the dims split between its lanes.
  const quad = quadSharing(rec.device);
  const perItem = quad ? 4 : 1;
  const { splits, keysPerSplit } = chooseSplits(p, perItem);
  checkChunkScratch(rec.device, rows * splits, Ev);
  const kernel: KernelPlan = {
    kernel: quad ? 'flash-split-quad' : 'flash-split',
    constants: quad ? { ...common, WG: SPLIT_WG } : { ...common, NAMED: Math.ceil(Ev / 4) <= 16, WG: SPLIT_WG },
    workgroups: Math.ceil((rows * splits * perItem) / SPLIT_WG),
  };
  encodeChunks(rec, p, b, loads, kernel, { splits, keysPerSplit, merge }, 'split');
}

/**
 * A kernel that writes each row's unnormalised partial and (max, sum) per chunk of keys (the
 * split-keys path, the held-keys and workgroup-split tiles), then the merge that combines them
 * ([row, chunk, Ev] partials, [row, chunk, (m, l)] stats). Both dispatches carry the plan's tile.
 */
function encodeChunks(rec: Recorder, p: Problem, b: ProblemBuffers, loads: Loads, k: KernelPlan, c: ChunksPlan, label: string): void {
  const { batch, heads, queryLength: Lq, valueDim: Ev } = p.shape;
  const rows = batch * heads * Lq;
  const partials = rec.scratch(rows * c.splits * Ev * 4, BufferUsage.STORAGE, `webgpu-attention ${label} partials`);
  const stats = rec.scratch(rows * c.splits * 8, BufferUsage.STORAGE, `webgpu-attention ${label} stats`);
  const params = rec.params(p, { bhOffset: 0, bhCount: batch * heads, splits: c.splits, keysPerSplit: c.keysPerSplit, writeLse: !!b.logSumExp });
  rec.dispatch(k.kernel, loads, k.constants,
    [[0, params], [1, b.mask ?? rec.dummyRead], [2, b.q], [3, b.k], [4, b.v], [5, partials], [6, stats]],
    k.workgroups, k.tile);
  rec.dispatch(c.merge.kernel, 'scalar', c.merge.constants,
    [[0, params], [2, partials], [3, stats], [4, b.output], [5, b.logSumExp ?? rec.dummyWrite]],
    c.merge.workgroups, k.tile);
}

