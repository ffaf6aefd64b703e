// The demo's number formats: a tiny shape's numbers must read as numbers, never as 0 or Infinity.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { maxAbsDiff, ms, rate, ratio, timeCall } from '../demo/util';

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

// timeCall on a page clock that ticks in 0.1 ms steps (not cross-origin isolated), simulated: each
// call of the timed function advances the time by what it costs.
describe('the demo times a call', () => {
  afterEach(() => vi.restoreAllMocks());
  const coarseClock = (costs: (call: number) => number) => {
    let now = 0;
    let calls = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => Math.floor(now / 0.1) * 0.1);
    return () => {
      now += costs(calls++);
      return calls;
    };
  };

  // A cold first run, or a pause of the busy page that inflates one reading, must not size the batch
  // (a CI run read '0.00 µs').
  it.each([
    ['whose first (cold) run took 3 ms', 0, 3],
    ['that read 3 ms once, on its first warm run,', 1, 3],
    ['whose first run was paused for 150 ms', 0, 150],
  ])('a 1 µs call %s reads about 1 µs, not 0', (_, slowCall, slowMs) => {
    const fn = coarseClock((i) => (i === slowCall ? slowMs : 0.001));
    const t = timeCall(fn, 5, 300).ms;
    expect(t).toBeGreaterThan(0.0008);
    expect(t).toBeLessThan(0.0012);
  });

  it('a call of 150 ms is timed as it comes: its first run is a sample', () => {
    const fn = coarseClock(() => 150);
    const { ms: t, result: calls } = timeCall(fn, 3, 300);
    expect(t).toBeCloseTo(150, 5);
    expect(calls).toBe(2); // the budget (300 ms) is spent after two runs
  });
});
