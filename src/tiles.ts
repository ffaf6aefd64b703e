// Which tile the fused kernel (flash.wgsl) uses, per adapter and per call.
//
// compact: 4 query rows per invocation, q read from the buffer. Compiles in about 1 s on
//   SwiftShader; the register footprint (16 mat4x4 accumulators) is the most a real GPU should
//   hold per invocation without workgroup-memory tiling. Where loads are shared across quads (a
//   CPU adapter, see quadSharing) it holds q in registers too (COMPACT_Q_REGS; 2-8 s to compile).
// wide: 16 query rows per invocation with q held in registers: every k and v load serves 16 rows
//   (8 rows where loads are quad-shared and the head has at most 64 dims: WIDE_8_ROWS).
//   On SwiftShader, where loads (per-invocation gathers) dominate, that measured ~1.9x faster
//   than compact (E=64 at L=S=1024, E=128 at L=S=512); with quad-shared loads and q in registers
//   on both tiles, ~1.0-1.2x. Compiling its unrolled code takes ~20-30 s there for E=64 (7.6 s
//   with 8 rows) and ~85-105 s for E=128.
//
// 'auto' measures instead of guessing: the wide tile is used only on adapters where a one-time
// probe found it faster (src/tile-tuning.ts), for heads of up to 128 dims with at least 16 query
// rows, and only once its pipeline is compiled; until then calls run compact (tiered, like a JIT).
// ctx.prepare() runs the probe and the compiles ahead of time.

export type FusedTileChoice = 'auto' | 'compact' | 'wide';

export interface FusedTile {
  name: 'compact' | 'wide';
  /** Groups of 4 query rows per invocation (flash.wgsl's RG). */
  rowGroups: number;
  /** Query rows held in named registers (flash.wgsl's Q_REGS); needs E and Ev <= 128. */
  qInRegisters: boolean;
  /** Invocations per workgroup (flash.wgsl's WG). */
  workgroupSize: number;
}

export const COMPACT: FusedTile = { name: 'compact', rowGroups: 1, qInRegisters: false, workgroupSize: 64 };
// Where loads are shared across quads (quadSharing: a CPU adapter), compact also keeps its 4 query
// rows in named registers: measured 1.4-1.5x faster there (Node, L=S=512 and 1024, E=64) for a 2.3 s
// (E=64) to 8 s (E=128) compile. On a GPU the 512-1024 more floats per invocation would spill.
export const COMPACT_Q_REGS: FusedTile = { ...COMPACT, qInRegisters: true };
// 16 per workgroup: a head of 128 rows is 8 wide invocations, so B1 H8 L=128 makes 4 workgroups
// rather than 1, and a CPU adapter spreads them over its cores (measured 1.28x at L=S=128).
export const WIDE: FusedTile = { name: 'wide', rowGroups: 4, qInRegisters: true, workgroupSize: 16 };
// The wide tile where loads are quad-shared and E, Ev <= 64: 8 rows per invocation, as fast as 16
// there within noise (minimum of alternating calls, 8 vs 16 rows: Node L=S=512 117.9 vs 136.4 ms,
// L=S=1024 525.9 vs 512.9; Chromium 107.2 vs 90.9 and 431.2 vs 477.0) for an 8 s compile instead
// of 20 s. At E=128 16 rows stay 1.26x faster (Node), so they keep WIDE.
export const WIDE_8_ROWS: FusedTile = { name: 'wide', rowGroups: 2, qInRegisters: true, workgroupSize: 32 };

/** The wide tile for these head sizes: 8 rows where loads are quad-shared and E, Ev <= 64, else 16. */
export function wideTile(shape: { headDim: number; valueDim: number }, quad: boolean): FusedTile {
  return quad && shape.headDim <= 64 && shape.valueDim <= 64 ? WIDE_8_ROWS : WIDE;
}

/** E and Ev up to 128: flash.wgsl's unrolled named blocks (its NAMED) fit; the wide tile needs them. */
export function namedBlocksFit(shape: { headDim: number; valueDim: number }): boolean {
  return Math.ceil(shape.headDim / 4) <= 32 && Math.ceil(shape.valueDim / 4) <= 32;
}

/**
 * The tile a call wants. Under 'auto', `wideWins` says whether this adapter's measurement chose
 * the wide tile and its pipeline for the call is compiled (it starts what is missing, in the
 * background); until both, the call runs compact. `quad`: loads are shared across quads
 * (quadSharing), so compact holds q in registers where the named blocks fit.
 */
export function chooseFusedTile(
  choice: FusedTileChoice,
  shape: { headDim: number; valueDim: number; queryLength: number },
  wideWins: () => boolean,
  quad = false,
): FusedTile {
  if (!namedBlocksFit(shape)) return COMPACT;
  const compact = quad ? COMPACT_Q_REGS : COMPACT;
  if (choice === 'compact') return compact;
  if (choice === 'wide') return wideTile(shape, quad);
  return autoMayWiden(shape) && wideWins() ? wideTile(shape, quad) : compact;
}

/**
 * Whether 'auto' considers the wide tile for a call of this shape at all (then the measurement
 * decides): its named blocks fit, and the head has at least 16 query rows (fewer would leave most
 * of a wide tile idle, as decoding shapes do).
 */
export function autoMayWiden(shape: { headDim: number; valueDim: number; queryLength: number }): boolean {
  return namedBlocksFit(shape) && shape.queryLength >= 16;
}

/**
 * Whether the fused kernel shares k and v loads across quads of a subgroup (flash.wgsl with
 * lib/kv-share-quad.wgsl): on a fallback (software, CPU) adapter whose subgroups are exactly 4
 * lanes wide, on a device with the 'subgroups' feature. That is SwiftShader (4-wide SIMD, one
 * invocation per lane), where a storage load is a per-lane gather and one gather per quad instead
 * of four measured 1.4-1.7x faster. GPUs keep the plain kernel: their loads are not the bottleneck
 * this works around, and COMPACT_Q_REGS would spill their registers.
 */
export function quadSharing(device: GPUDevice): boolean {
  let quad = quadSharingOf.get(device);
  if (quad === undefined) {
    type Info = GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; isFallbackAdapter?: boolean };
    const info = (device as { adapterInfo?: Info }).adapterInfo; // missing in older browsers: plain kernel
    quad = device.features.has('subgroups') && info?.isFallbackAdapter === true &&
      info.subgroupMinSize === 4 && info.subgroupMaxSize === 4;
    quadSharingOf.set(device, quad);
  }
  return quad;
}

// Asked on every fused call; a device's features and adapter never change.
const quadSharingOf = new WeakMap<GPUDevice, boolean>();
