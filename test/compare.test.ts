// The comparison every GPU test is judged by: it must fail what is wrong and not fail float32 rounding.
import { describe, expect, it } from 'vitest';
import { agrees, compare, f32Ulp, LSE_FLOOR } from './compare.js';

describe('compare', () => {
  it('counts exactly matching elements in the norm', () => {
    // One element off by 1e-6 among 99 equal ones of magnitude 1: relative L2 is 1e-6 / sqrt(100).
    const want = new Float64Array(100).fill(1);
    const got = Float64Array.from(want);
    got[0] += 1e-6;
    const a = compare(got, want);
    expect(a.relL2).toBeCloseTo(1e-7, 12);
    expect(agrees(a)).toBe(true);
  });

  it('judges a log-sum-exp near zero by absolute error, outputs near zero relatively', () => {
    const want = [1.2e-4, -3e-5];
    const rounded = [1.2e-4 + 8e-8, -3e-5]; // float32 rounding of the logits
    expect(agrees(compare(rounded, want))).toBe(false); // as an output this is a 6.7e-4 relative error
    expect(agrees(compare(rounded, want, LSE_FLOOR))).toBe(true);
    expect(agrees(compare([1.2e-4 + 3e-5, -3e-5], want, LSE_FLOOR))).toBe(false); // past MAX_ABS_TOL
    expect(agrees(compare([5 + 1e-4, 7], [5, 7], LSE_FLOOR))).toBe(false); // relative 1.2e-5 of a large LSE
  });

  it('allows a few float32 ulps of the reference where one ulp exceeds the absolute tolerance', () => {
    // A log-sum-exp at the lowest f32 plus log(33): float32 cannot hold it closer than an ulp (2e31).
    const want = [-3.4028234663852886e38 + Math.log(33), 2];
    const oneUlp = 2 ** (127 - 23);
    expect(agrees(compare([want[0] + oneUlp, 2], want, LSE_FLOOR))).toBe(true);
    expect(agrees(compare([want[0] + 5 * oneUlp, 2], want, LSE_FLOOR))).toBe(false);
    expect(f32Ulp(1)).toBe(2 ** -23);
    expect(f32Ulp(-3)).toBe(2 ** -22);
  });

  it('never passes NaN, a length mismatch, or a finite value where infinity was expected', () => {
    expect(agrees(compare([NaN, 1], [0, 1]))).toBe(false);
    expect(agrees(compare([0, 1], [NaN, 1]))).toBe(false);
    expect(agrees(compare([0, 1], [0, 1, 2]))).toBe(false);
    expect(agrees(compare([-1e30], [-Infinity], LSE_FLOOR))).toBe(false);
    expect(agrees(compare([-Infinity, 2], [-Infinity, 2], LSE_FLOOR))).toBe(true);
  });
});
