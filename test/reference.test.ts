// The CPU reference against values computed by hand (not by the code under test).
import { describe, expect, it } from 'vitest';
import { attentionReference, attentionReferenceFull } from '../src/index.js';

const t = (rows: number[][]) => ({ data: Float32Array.from(rows.flat()), shape: [rows.length, rows[0].length] });
const close = (got: Float32Array, want: number[], tol = 1e-6) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(Math.abs(got[i] - w)).toBeLessThanOrEqual(tol));
};

describe('attentionReference (CPU, float64)', () => {
  it("gives the seed article's answer: softmax(Q Kᵀ / √2) V", () => {
    const q = t([[0.1, 0.2], [0.3, 0.4]]);
    const k = t([[0.5, 0.6], [0.7, 0.8]]);
    const v = t([[0.9, 1.0], [1.1, 1.2]]);
    const out = attentionReference(q, k, v);
    expect(out.shape).toEqual([2, 2]);
    close(out.data, [1.002121, 1.102121, 1.004946, 1.104946], 1e-6);
  });

  it('averages the values when every score is equal', () => {
    const q = t([[0, 0]]);
    const k = t([[1, 2], [3, 4], [5, 6]]);
    const v = t([[1, 10], [2, 20], [6, 60]]);
    close(attentionReference(q, k, v).data, [3, 30]);
  });

  it('follows an additive bias: a bias of ln 2 doubles a weight', () => {
    const q = t([[0]]);
    const k = t([[0], [0]]);
    const v = t([[3], [6]]);
    const mask = { data: Float32Array.from([Math.log(2), 0]), shape: [1, 2] };
    // weights 2/3 and 1/3: 2/3 * 3 + 1/3 * 6 = 4
    close(attentionReference(q, k, v, { mask }).data, [4], 1e-6);
  });

  it('top-left causal: query 0 sees only key 0; bottom-right: the last query sees every key', () => {
    const q = t([[0], [0]]);
    const k = t([[0], [0], [0]]);
    const v = t([[1], [2], [6]]);
    // top-left: row 0 → key 0 → 1; row 1 → keys 0,1 → 1.5
    close(attentionReference(q, k, v, { causal: true }).data, [1, 1.5]);
    // bottom-right (offset 1): row 0 → keys 0,1 → 1.5; row 1 → all → 3
    close(attentionReference(q, k, v, { causal: 'bottom-right' }).data, [1.5, 3]);
  });

  it('gives 0 output, 0 weights and -inf log-sum-exp to a row with nothing to attend to', () => {
    const q = t([[1], [1]]);
    const k = t([[1], [2]]);
    const v = t([[5], [7]]);
    const mask = { data: Uint8Array.from([0, 0, 1, 0]), shape: [2, 2] };
    const r = attentionReferenceFull(q, k, v, { mask });
    close(r.output.data, [0, 5]);
    close(r.weights.data, [0, 0, 1, 0]);
    expect(r.logSumExp.data[0]).toBe(-Infinity);
    expect(r.logSumExp.data[1]).toBeCloseTo(1, 6); // one visible key with score 1·1·(1/√1)
  });

  it('maps query heads to kv heads in groups (GQA)', () => {
    // 2 query heads, 1 kv head: both heads read the same k, v.
    const q = { data: Float32Array.from([0, 0]), shape: [2, 1, 1] };
    const k = { data: Float32Array.from([0, 0]), shape: [1, 2, 1] };
    const v = { data: Float32Array.from([2, 4]), shape: [1, 2, 1] };
    close(attentionReference(q, k, v).data, [3, 3]);
  });

  it('stays finite for logits of ±1e4 (stable softmax)', () => {
    const q = t([[100]]);
    const k = t([[100], [99], [-100]]);
    const v = t([[1], [2], [3]]);
    // scores 1e4, 9900, -1e4: weights ≈ [1, e^-100, 0]
    close(attentionReference(q, k, v, { scale: 1 }).data, [1]);
  });

  it('keeps a NaN in one query row in that row', () => {
    const q = t([[NaN], [1]]);
    const k = t([[1], [2]]);
    const v = t([[5], [7]]);
    const out = attentionReference(q, k, v).data;
    expect(Number.isNaN(out[0])).toBe(true);
    expect(Number.isFinite(out[1])).toBe(true);
  });
});
