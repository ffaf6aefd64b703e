// Which tile the fused kernel (flash.wgsl) uses, per adapter and per call.
//
// compact: 4 query rows per invocation, q read from the buffer. Compiles in about 1 s on
//   SwiftShader; the register footprint (16 mat4x4 accumulators) is the most a real GPU should hold
//   per invocation without workgroup-memory tiling.
// wide: 16 query rows per invocation with q held in registers: every k and v load serves 16 rows.
//   On SwiftShader, where loads (per-invocation gathers) dominate, that measured ~1.9x faster at
//   L=S=1024, but compiling it takes ~30 s there (unrolled code for 16 rows x 64 dims).
//
// 'auto' uses wide only where it pays: on a software adapter (a CPU has no register file limit
// to respect, and loads are what costs), for heads of up to 64 dims, on calls big enough to run
// long with at least 16 query rows per head, and only once its pipeline is compiled. The first such call starts that compile in the
// background and runs compact meanwhile (tiered, like a JIT); ctx.prepare() waits for it.
// On hardware adapters 'auto' stays compact: the wide tile's ~2,000 registers per invocation
// would spill. (A workgroup-memory/subgroup tile for real GPUs is not written yet.)

export type FusedTileChoice = 'auto' | 'compact' | 'wide';

export interface FusedTile {
  name: 'compact' | 'wide';
  /** Groups of 4 query rows per invocation (flash.wgsl's RG). */
  rowGroups: number;
  /** Query rows held in named registers (flash.wgsl's Q_REGS); needs E and Ev <= 64. */
  qInRegisters: boolean;
}

export const COMPACT: FusedTile = { name: 'compact', rowGroups: 1, qInRegisters: false };
export const WIDE: FusedTile = { name: 'wide', rowGroups: 4, qInRegisters: true };

/** Calls with fewer nominal FLOPs (4·B·H·Lq·Lk·E) stay compact under 'auto' (L=S=256 at H8 E64 is 1.3e8). */
export const WIDE_MIN_FLOPS = 1e8;

/** E and Ev up to 64: flash.wgsl's unrolled named blocks (its NAMED) fit; the wide tile needs them. */
export function namedBlocksFit(shape: { headDim: number; valueDim: number }): boolean {
  return Math.ceil(shape.headDim / 4) <= 16 && Math.ceil(shape.valueDim / 4) <= 16;
}

/** SwiftShader, llvmpipe, WARP and other CPU adapters: the wide tile is for them. */
export function isSoftwareAdapter(device: GPUDevice): boolean {
  const info = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo; // missing in older browsers
  if (!info) return false;
  if (info.isFallbackAdapter) return true;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return /swiftshader|llvmpipe|lavapipe|softpipe|warp|software/.test(text);
}

/**
 * The tile a call wants: wide or compact. Under 'auto', `wideReady` says whether the wide pipeline
 * is compiled (and starts its compile if not); until it is, the call runs compact.
 */
export function chooseFusedTile(
  choice: FusedTileChoice,
  device: GPUDevice,
  shape: { headDim: number; valueDim: number; queryLength: number },
  flops: number,
  wideReady: () => boolean,
): FusedTile {
  if (!namedBlocksFit(shape) || choice === 'compact') return COMPACT;
  if (choice === 'wide') return WIDE;
  // A head with fewer than 16 query rows would leave most of a wide tile idle (decoding shapes).
  if (!isSoftwareAdapter(device) || flops < WIDE_MIN_FLOPS || shape.queryLength < 16) return COMPACT;
  return wideReady() ? WIDE : COMPACT;
}
