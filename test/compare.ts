// Agreement between a GPU result and the float64 reference: relative L2 and max abs error, NaN never passes.
export interface Agreement {
  relL2: number;
  /** The largest absolute error, leaving out errors within ULPS float32 ulps of the reference value. */
  maxAbs: number;
  /** NaN elements on either side: never allowed to pass. */
  nans: number;
  length: number;
}

/**
 * `floor` is the smallest per-element magnitude the relative L2 error is measured against. Outputs use 0
 * (purely relative). A log-sum-exp uses 1: an error δ in log Σ exp is a relative error δ in the softmax
 * denominator, so its tolerance is absolute, and a row whose LSE lands near 0 must not turn float32
 * rounding of the logits (~1e-7) into a huge relative error.
 */
export function compare(got: ArrayLike<number>, want: ArrayLike<number>, floor = 0): Agreement {
  let err = 0;
  let norm = 0;
  let maxAbs = 0;
  let nans = 0;
  if (got.length !== want.length) return { relL2: Infinity, maxAbs: Infinity, nans: 0, length: got.length };
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(g) || Number.isNaN(w)) {
      nans++;
      continue;
    }
    if (g === w) {
      if (Number.isFinite(w)) norm += w * w; // an exact match still counts toward the norm
      continue; // equal infinities add no error
    }
    const d = Math.abs(g - w);
    err += d * d;
    norm += w * w;
    if (!(d <= ULPS * f32Ulp(w))) maxAbs = Math.max(maxAbs, d);
  }
  const counted = want.length - nans;
  const relL2 = err === 0 ? 0 : Math.sqrt(err / Math.max(norm, counted * floor * floor, 1e-30));
  return { relL2, maxAbs, nans, length: got.length };
}

/**
 * A float32 result cannot come closer to a float64 value than half a float32 ulp, and at large
 * magnitudes (a log-sum-exp near -3.4e38) one ulp is far above MAX_ABS_TOL: errors within this many
 * ulps of the reference value do not count toward maxAbs. Below a magnitude of 64 this is tighter
 * than MAX_ABS_TOL anyway.
 */
export const ULPS = 4;

/** The spacing of float32 values at the magnitude of x (0 where x is not finite). */
export function f32Ulp(x: number): number {
  const a = Math.abs(x);
  if (!Number.isFinite(a)) return 0;
  if (a < 2 ** -126) return 2 ** -149; // subnormals
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

export const REL_L2_TOL = 1e-5;
export const MAX_ABS_TOL = 2e-5;
/** The floor for comparing log-sum-exp values (see `compare`). */
export const LSE_FLOOR = 1;

export function agrees(a: Agreement): boolean {
  return a.nans === 0 && a.relL2 <= REL_L2_TOL && a.maxAbs <= MAX_ABS_TOL && Number.isFinite(a.relL2);
}
