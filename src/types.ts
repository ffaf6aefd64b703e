import type { FusedTileChoice, SplitTileChoice, TileName } from './tiles.js';

/** A dense row-major tensor on the CPU. */
export interface Tensor {
  data: Float32Array;
  shape: readonly number[];
}

/** An attention mask. Uint8Array: boolean, nonzero = may attend. Float32Array: added to the scaled scores. */
export interface AttentionMask {
  data: Uint8Array | Float32Array;
  /** [Lq, Lk] or [B|1, H|1, Lq, Lk]; a dimension of 1 broadcasts. */
  shape: readonly number[];
}

export type CausalOption = boolean | 'top-left' | 'bottom-right';
export type KernelChoice = 'auto' | 'staged' | 'fused' | 'split-keys';

export interface AttentionOptions {
  /** Multiplies Q·Kᵀ before the softmax. Default 1 / sqrt(E). */
  scale?: number;
  /** Which kernels run. 'auto' (default) picks the fused path, split-keys for decoding shapes, staged when weights are asked for. */
  kernel?: KernelChoice;
  /** true / 'top-left' (PyTorch's is_causal): query i sees keys j <= i. 'bottom-right': j <= i + (Lk - Lq). */
  causal?: CausalOption;
  /** Boolean (Uint8Array, nonzero = attend) or additive (Float32Array) mask. */
  mask?: AttentionMask;
}

/** Sizes of one attention problem, after rank normalisation to [B, H, L, E]. */
export interface AttentionShape {
  batch: number;
  heads: number;
  /** Heads of k and v; heads % kvHeads === 0 (GQA / MQA). */
  kvHeads: number;
  queryLength: number;
  keyLength: number;
  /** E: width of q and k rows. */
  headDim: number;
  /** Ev: width of v rows and of the output. */
  valueDim: number;
  /**
   * Rows per kv head that the k and v buffers hold, when that is more than keyLength: a KV cache
   * allocated for its longest sequence (k [B, kvHeads, keyCapacity, E], v [B, kvHeads, keyCapacity, Ev]),
   * of which the first keyLength rows of each head are attended to and the rest never read. Default keyLength.
   */
  keyCapacity?: number;
}

/**
 * Buffers for the GPU-resident API. All f32, row-major: q [B, H, Lq, E], k [B, kvHeads, keyCapacity, E],
 * v [B, kvHeads, keyCapacity, Ev], output [B, H, Lq, Ev] (keyCapacity: keyLength unless the shape says more).
 */
export interface AttentionBuffers {
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  output: GPUBuffer;
  /** Mask values: f32 for an additive mask, one byte per element for a boolean mask (padded to 4 bytes). */
  mask?: GPUBuffer;
  /** Softmax weights [B, H, Lq, Lk]; only the staged path writes them. */
  weights?: GPUBuffer;
  /** Per-row log-sum-exp of the scaled, masked scores [B, H, Lq] (natural log; a dead row gets the lowest f32, -3.4e38). */
  logSumExp?: GPUBuffer;
}

/** The mask as described to the GPU-resident API (its values live in `AttentionBuffers.mask`). */
export interface GPUMaskDescriptor {
  kind: 'boolean' | 'additive';
  shape: readonly number[];
}

export interface EncodeOptions extends Omit<AttentionOptions, 'mask'> {
  mask?: GPUMaskDescriptor;
}

export interface AttentionResultWithWeights {
  output: Tensor;
  weights: Tensor;
}

export interface AttentionResultWithLogSumExp {
  output: Tensor;
  /** [B, H, Lq] (rank follows q: q's leading dims without E). */
  logSumExp: Tensor;
}

export interface AttentionContext {
  readonly device: GPUDevice;
  /** softmax(q kᵀ · scale + mask) v, output with q's rank: [B, H, Lq, Ev]. */
  attention(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Promise<Tensor>;
  /** Also returns the post-mask softmax weights [B, H, Lq, Lk] (runs the staged path). */
  attentionWithWeights(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Promise<AttentionResultWithWeights>;
  /** Also returns the per-row log-sum-exp [B, H, Lq], for merging attention over key chunks. */
  attentionWithLogSumExp(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Promise<AttentionResultWithLogSumExp>;
  /**
   * Records attention into the caller's encoder on the caller's buffers: no upload, no readback, no submit.
   * Record across awaits and submit whenever you like (or never): no later call changes what a
   * recording reads. The context must not be destroyed before the command buffer is submitted.
   * It never starts the tile measurement (that submits): call prepare(shape) once for tuned tiles.
   */
  encode(encoder: GPUCommandEncoder, buffers: AttentionBuffers, shape: AttentionShape, options?: EncodeOptions): void;
  /**
   * Compiles, without blocking the thread, every pipeline a call of this shape and these options
   * will use, and resolves when they are ready, so the first call does not compile. Under
   * fusedTile 'auto' this first measures the fused tiles against each other (once per adapter
   * and head size) and compiles the one chosen; otherwise that happens in the background while
   * the first calls run the compact tile.
   */
  prepare(shape: AttentionShape, options?: PrepareOptions): Promise<void>;
  /**
   * The measurements fusedTile 'auto' has made of the fused tiles on this context's adapter (one
   * per head size; shared by every context on the same adapter).
   */
  tileMeasurements(): TileMeasurement[];
  /** Frees every GPU object the context made; a borrowed device is left alive. Safe to call twice. */
  destroy(): void;
}

export interface PrepareOptions extends EncodeOptions {
  /** Prepare for attentionWithWeights (the staged path) / attentionWithLogSumExp. */
  weights?: boolean;
  logSumExp?: boolean;
}

export interface CreateAttentionOptions {
  /** Use this device (borrowed: never destroyed by the library). Default: ask navigator.gpu, or the `webgpu` package in Node. */
  device?: GPUDevice;
  /** Power preference passed to requestAdapter when the library creates its own device. */
  powerPreference?: GPUPowerPreference;
  /**
   * The fused kernel's tile (README: "Tiles"). 'compact': 4 rows per invocation, quick to compile.
   * 'wide': 16 rows with q in registers (8 on SwiftShader with 4-lane subgroups), faster on
   * software adapters; ~6-30 s (E=64) to ~45 s (E=128) to compile on SwiftShader; needs E and
   * Ev <= 128 (compact otherwise). 'workgroup': 64 rows per workgroup,
   * the keys staged through workgroup memory, the GPU design. 'workgroup-split': the same with the
   * keys also split between workgroups (chunks of at least 128 keys but the last, aiming at 1024 workgroups)
   * and a merge kernel after, for calls whose rows alone cannot fill a GPU. 'held-keys': 64 keys per
   * invocation (32 where E or Ev > 64, or the call has under 256 query rows or keys, 512 under a
   * causal rule) with the query rows streamed past them, and a merge kernel
   * after; for SwiftShader with 4-lane subgroups and E, Ev multiples of 4 up to 128 (wide
   * otherwise, and where its partial results, a quarter of the score matrix at Ev = 64 and all
   * of it at Ev = 128, exceed one binding).
   * 'auto' (default): compact, until the context has done 1e9 FLOPs of work that could take
   * another tile (calls with at least 16 query rows); then the other tiles (on software adapters
   * held-keys where it fits, else wide where E, Ev <= 128; elsewhere workgroup and
   * workgroup-split) are compiled in the
   * background and timed against compact once per adapter and head size, and the fastest is used
   * where it is at least 5 % faster than compact (held-keys only for calls with at least 128
   * query rows and keys and a quad of 4 invocations' keys per CPU thread, up to 16; the others
   * get compact).
   */
  fusedTile?: FusedTileChoice;
  /**
   * The split-keys path's kernel (decoding: under 1024 query rows in all and at least 256 keys;
   * README: "Split-keys"). 'invocation': one invocation per (row, chunk of keys), the design for
   * CPU adapters. 'workgroup': a workgroup of 64 invocations per (row, chunk of whole 64-key
   * blocks, aiming at 1024 workgroups), the design for GPUs. 'auto' (default): invocation on
   * software adapters; on GPUs workgroup where each kv head serves at most 8 query rows (Lq · H /
   * Hkv: decoding), invocation otherwise (the workgroup tile's rows do not share key reads);
   * until its pipelines are compiled (in the background, or by prepare()) calls run invocation,
   * and for good if they fail to compile.
   */
  splitKeysTile?: SplitTileChoice;
  /**
   * Tile measurements made earlier, as `ctx.tileMeasurements()` returned them (kept by the app, in
   * localStorage or a file, as JSON). Those of this context's adapter (the same name, kind, loads
   * sharing and workgroup memory limit) and of this version's kernels (`kernels`) count as measured: under fusedTile 'auto' calls of those
   * head sizes compile and use the chosen tile without timing the candidates again. The others are
   * ignored, as is one whose verdict is no longer a candidate for its head size, and one already
   * measured in this page or process. A malformed entry is an AttentionInputError.
   */
  tileMeasurements?: readonly TileMeasurement[];
}

/** A one-time measurement of the fused tiles against each other (README: "Tiles"). */
export interface TileMeasurement {
  /** The adapter the verdict applies to: `vendor / architecture / device / description`. */
  adapter: string;
  /**
   * What was measured: a hash of the tiles' kernels and settings (always set by this version). An
   * entry passed back to createAttention by another version of the library (another hash, or
   * none, as versions before the field saved) is measured again.
   */
  kernels?: string;
  /** Whether the kernels timed shared k and v loads across quads (SwiftShader with 4-lane subgroups). */
  quadShared: boolean;
  /** How the adapter was treated: 'software' (a CPU: the small probe, wide and held-keys) or 'gpu' (the workgroup tiles). */
  adapterKind: 'software' | 'gpu';
  /** The device's maxComputeWorkgroupStorageSize, which sizes the workgroup tiles' key tiles. */
  workgroupStorageSize: number;
  /** vec4 loads (E and Ev multiples of 4) or scalar ones. */
  loads: 'vec4' | 'scalar';
  headDim: number;
  valueDim: number;
  /** The probe problem (B=1, H=8, the call's head sizes; Lq=Lk=512 on software adapters, 2048 on GPUs). */
  probe: AttentionShape;
  /** Dispatches recorded per timed submit (more on fast adapters). */
  repeats: number;
  /** Best wall-clock ms per dispatch over the rounds, submit to onSubmittedWorkDone. */
  compactMs: number;
  /** The same for the wide tile, where it was a candidate (a software adapter where held-keys is not, E and Ev <= 128) and compiled. */
  wideMs?: number;
  /** The same for the workgroup tile, where it was a candidate (not a software adapter) and compiled. */
  workgroupMs?: number;
  /** The same for the workgroup-split tile (a candidate where workgroup is). */
  workgroupSplitMs?: number;
  /** The same for the held-keys tile, where it was a candidate (a software adapter sharing loads across quads, E and Ev multiples of 4 up to 128) and compiled. */
  heldKeysMs?: number;
  /** The fastest tile, if at least 5 % faster than compact; compact otherwise. */
  verdict: TileName;
}
