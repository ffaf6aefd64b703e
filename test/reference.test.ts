// The CPU reference against values computed by hand (not by the code under test).
import { describe, expect, it } from 'vitest';
import { AttentionInputError, attentionReference, attentionReferenceFull } from '../src/index.js';

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

  it('a mask of one query row applies to every row (a key-padding mask [1,Lk] or [B,1,1,Lk], as in PyTorch)', () => {
    // Two rows with equal scores: the mask hides key 1 from both, so each averages keys 0 and 2.
    const q = t([[0], [0]]);
    const k = t([[0], [0], [0]]);
    const v = t([[1], [5], [7]]);
    close(attentionReference(q, k, v, { mask: { data: Uint8Array.from([1, 0, 1]), shape: [1, 3] } }).data, [4, 4]);
    // Batch 0 hides key 0, batch 1 key 2: (5 + 7) / 2 and (1 + 5) / 2 for both rows of each.
    const q2 = { data: new Float32Array(4), shape: [2, 1, 2, 1] };
    const k2 = { data: new Float32Array(6), shape: [2, 1, 3, 1] };
    const v2 = { data: Float32Array.from([1, 5, 7, 1, 5, 7]), shape: [2, 1, 3, 1] };
    const mask = { data: Uint8Array.from([0, 1, 1, 1, 1, 0]), shape: [2, 1, 1, 3] };
    close(attentionReference(q2, k2, v2, { mask }).data, [6, 6, 3, 3]);
  });

  it('a mask broadcast over batches ([1,H,Lq,Lk]) or heads ([B,1,Lq,Lk]) applies per head or per batch', () => {
    // B2 H2, one row and three keys of equal score everywhere; v = [1, 5, 7] for every kv head.
    const q = { data: new Float32Array(4), shape: [2, 2, 1, 1] };
    const k = { data: new Float32Array(12), shape: [2, 2, 3, 1] };
    const v = { data: Float32Array.from([1, 5, 7, 1, 5, 7, 1, 5, 7, 1, 5, 7]), shape: [2, 2, 3, 1] };
    // Per head: head 0 sees keys 0, 1 (mean 3), head 1 keys 1, 2 (mean 6), in both batches.
    const perHead = { data: Uint8Array.from([1, 1, 0, 0, 1, 1]), shape: [1, 2, 1, 3] };
    close(attentionReference(q, k, v, { mask: perHead }).data, [3, 6, 3, 6]);
    // Per batch: batch 0 sees key 2 only (7), batch 1 keys 0 and 2 (4), in both heads.
    const perBatch = { data: Uint8Array.from([0, 0, 1, 1, 0, 1]), shape: [2, 1, 1, 3] };
    close(attentionReference(q, k, v, { mask: perBatch }).data, [7, 7, 4, 4]);
  });

  it('rows: only those query rows are computed (the rest NaN); an index outside [0, Lq) is refused, not written into another head', () => {
    const q = { data: new Float32Array(4), shape: [2, 2, 1] };
    const k = { data: new Float32Array(6), shape: [2, 3, 1] };
    const v = { data: Float32Array.from([1, 5, 6, 2, 4, 9]), shape: [2, 3, 1] };
    const r = attentionReferenceFull(q, k, v, {}, [1]);
    expect(Array.from(r.output.data).map((x) => (Number.isNaN(x) ? 'NaN' : x))).toEqual(['NaN', 4, 'NaN', 5]);
    for (const rows of [[2], [-1], [0.5], 'x' as never]) {
      expect(() => attentionReferenceFull(q, k, v, {}, rows)).toThrow(AttentionInputError);
    }
    expect(() => attentionReferenceFull(q, k, v, {}, [2])).toThrow(/rows must be an array of query row indices, integers from 0 to 1; got 2/);
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
