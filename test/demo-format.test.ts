// The demo's number formats: a tiny shape's numbers must read as numbers, never as 0 or Infinity.
import { describe, expect, it } from 'vitest';
import { maxAbsDiff, ms, rate, ratio } from '../demo/util';

describe('demo number formats', () => {
  it('a speed-up keeps two significant digits below 0.1 (0.0031× is not 0.00×)', () => {
    expect(ratio(3.254)).toBe('3.25×');
    expect(ratio(0.1)).toBe('0.10×');
    expect(ratio(0.0031)).toBe('0.0031×');
    expect(Number.parseFloat(ratio(2.7e-7))).toBeGreaterThan(0);
    expect(ratio(0)).toBe('0.00×');
    expect(ratio(Infinity)).toBe('Infinity×');
  });

  it('a rate keeps three significant digits below 0.1', () => {
    expect(rate(12.34567)).toBe('12.346');
    expect(rate(0.000412)).toBe('0.000412');
    expect(rate(0)).toBe('0.000');
  });

  it('a time switches to µs below 10 µs', () => {
    expect(ms(0.0042)).toBe('4.20 µs');
    expect(ms(0.5)).toBe('0.500 ms');
    expect(ms(12.345)).toBe('12.35 ms');
    expect(ms(12345)).toBe('12.3 s');
  });

  it('a max error is NaN, never 0, for an output of the wrong length or with a NaN', () => {
    const ref = new Float32Array([1, 2, 3]);
    expect(maxAbsDiff(new Float32Array([1, 2.5, 3]), ref)).toBe(0.5);
    expect(maxAbsDiff(new Float32Array(0), ref)).toBeNaN();
    expect(maxAbsDiff(new Float32Array([1, 2]), ref)).toBeNaN();
    expect(maxAbsDiff(new Float32Array([1, NaN, 3]), ref)).toBeNaN();
  });
});
