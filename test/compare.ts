// Agreement between a GPU result and the float64 reference: relative L2 and max abs error, NaN never passes.
export interface Agreement {
  relL2: number;
  maxAbs: number;
  /** NaN elements on either side: never allowed to pass. */
  nans: number;
  length: number;
}

export function compare(got: ArrayLike<number>, want: ArrayLike<number>): Agreement {
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
    if (g === w) continue; // also covers equal infinities
    const d = Math.abs(g - w);
    err += d * d;
    norm += w * w;
    maxAbs = Math.max(maxAbs, d);
  }
  const relL2 = err === 0 ? 0 : Math.sqrt(err / Math.max(norm, 1e-30));
  return { relL2, maxAbs, nans, length: got.length };
}

export const REL_L2_TOL = 1e-5;
export const MAX_ABS_TOL = 2e-5;

export function agrees(a: Agreement): boolean {
  return a.nans === 0 && a.relL2 <= REL_L2_TOL && a.maxAbs <= MAX_ABS_TOL && Number.isFinite(a.relL2);
}
