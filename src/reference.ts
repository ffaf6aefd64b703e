// The CPU reference: every GPU result is checked against this. Sums in float64, stable softmax.
import { AttentionInputError } from './errors.js';
import type { AttentionOptions, Tensor } from './types.js';
import { causalOffset, CausalMode, MaskKind, resolveProblem, type CpuProblem } from './validate.js';

export interface ReferenceResult {
  output: Tensor;
  weights: Tensor;
  logSumExp: Tensor;
}

/**
 * softmax(q kᵀ · scale + mask) v in float64 on the CPU.
 * `rows` (optional) limits the work to some query rows (indices into Lq); other rows are left NaN.
 */
export function attentionReferenceFull(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options?: AttentionOptions,
  rows?: readonly number[],
): ReferenceResult {
  const p = resolveProblem(q, k, v, options);
  if (rows !== undefined) {
    const Lq = p.shape.queryLength;
    // findIndex, not find: an undefined entry is itself a bad row.
    const at = Array.isArray(rows) ? rows.findIndex((r) => !Number.isInteger(r) || r < 0 || r >= Lq) : -1;
    if (!Array.isArray(rows) || at >= 0) {
      const got = Array.isArray(rows) ? `${String(rows[at])} at index ${at}` : String(rows);
      throw new AttentionInputError(`rows must be an array of query row indices, integers from 0 to ${Lq - 1}; got ${got}`);
    }
  }
  return computeReference(p, rows, true);
}

/** softmax(q kᵀ · scale + mask) v on the CPU, float64 sums; output has q's rank. */
export function attentionReference(q: Tensor, k: Tensor, v: Tensor, options?: AttentionOptions): Tensor {
  // Only the output: no B·H·Lq·Lk weights array (2 GiB at B1 H32 L=S=4096).
  return computeReference(resolveProblem(q, k, v, options), undefined, false).output;
}

function computeReference(p: CpuProblem, rows: readonly number[] | undefined, withWeights: boolean): ReferenceResult {
  const { batch: B, heads: H, kvHeads: Hkv, queryLength: Lq, keyLength: Lk, headDim: E, valueDim: Ev } = p.shape;
  const { q: qd, k: kd, v: vd, mask: md } = p.data;
  // The mask's broadcast is read from its validated shape, not from the strides the kernels are
  // given (validate.ts), so that a wrong stride there cannot agree with itself in the tests.
  const [mb, mh, mq] = p.mask ? p.mask.dims : [1, 1, 1, 1];
  const out = new Float32Array(B * H * Lq * Ev);
  const weights = new Float32Array(withWeights ? B * H * Lq * Lk : 0);
  const lse = new Float32Array(B * H * Lq);
  if (rows) {
    out.fill(NaN);
    weights.fill(NaN);
    lse.fill(NaN);
  }
  const group = H / Hkv;
  const offset = causalOffset(p.causal, p.shape);
  const s = new Float64Array(Lk);
  const acc = new Float64Array(Ev);
  const rowList = rows ?? Array.from({ length: Lq }, (_, i) => i);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / group);
      const kBase = (b * Hkv + kvh) * Lk * E;
      const vBase = (b * Hkv + kvh) * Lk * Ev;
      // A dimension of 1 broadcasts: [mb, mh, mq, Lk] with mb in {1, B}, mh in {1, H}, mq in {1, Lq}.
      const maskBase = ((b % mb) * mh + (h % mh)) * mq * Lk;
      for (const i of rowList) {
        const qBase = ((b * H + h) * Lq + i) * E;
        let max = -Infinity;
        for (let j = 0; j < Lk; j++) {
          let visible = p.causal === CausalMode.None || j <= i + offset;
          let bias = 0;
          if (visible && p.mask && md) {
            const m = md[maskBase + (mq === 1 ? 0 : i) * Lk + j];
            if (p.mask.kind === MaskKind.Boolean) visible = m !== 0;
            else bias = m;
          }
          if (!visible) {
            s[j] = -Infinity;
            continue;
          }
          let dot = 0;
          for (let e = 0; e < E; e++) dot += qd[qBase + e] * kd[kBase + j * E + e];
          s[j] = dot * p.scale + bias;
          // A NaN score poisons its own row only (max becomes NaN, so the whole row is NaN).
          if (Number.isNaN(s[j]) || Number.isNaN(max)) max = NaN;
          else if (s[j] > max) max = s[j];
        }
        const row = (b * H + h) * Lq + i;
        acc.fill(0);
        if (max === -Infinity) {
          // Nothing to attend to: output 0, weights 0 (PyTorch gives NaN here).
          out.fill(0, row * Ev, (row + 1) * Ev);
          weights.fill(0, row * Lk, (row + 1) * Lk);
          lse[row] = -Infinity;
          continue;
        }
        let sum = 0;
        for (let j = 0; j < Lk; j++) {
          s[j] = Math.exp(s[j] - max);
          sum += s[j];
        }
        for (let j = 0; j < Lk; j++) {
          const w = s[j] / sum;
          weights[row * Lk + j] = w;
          if (w === 0) continue;
          for (let c = 0; c < Ev; c++) acc[c] += w * vd[vBase + j * Ev + c];
        }
        for (let c = 0; c < Ev; c++) out[row * Ev + c] = acc[c];
        lse[row] = max + Math.log(sum);
      }
    }
  }
  return {
    output: { data: out, shape: p.outputShape },
    weights: { data: weights, shape: p.weightsShape },
    logSumExp: { data: lse, shape: p.logSumExpShape },
  };
}
