// The benchmark's repeat policy (bench/suite.ts measure()): how many warm-up and timed runs a
// measurement gets, and what it reports. Fake runs, no GPU: this checks the bench's method only.
import { describe, expect, it } from 'vitest';
import { MAX_REPS, measure, MIN_REPS, MIN_TIMED_MS, WARMUP_MIN_MS, type Sample } from '../bench/suite';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('bench measure()', () => {
  it('warms a short call up for at least WARMUP_MIN_MS and times it for at least MIN_TIMED_MS', async () => {
    const starts: number[] = [];
    const m = await measure(async () => {
      const t0 = performance.now();
      starts.push(t0);
      await sleep(4);
      return { wallMs: performance.now() - t0 };
    }, { warmup: 1, reps: 9, budgetMs: 10_000 });
    expect(m.warmup).toBeGreaterThan(1);
    expect(starts.length).toBe(m.warmup + m.reps);
    // The first timed run starts after the warm-up's WARMUP_MIN_MS.
    expect(starts[m.warmup] - starts[0]).toBeGreaterThanOrEqual(WARMUP_MIN_MS);
    expect(m.reps).toBeGreaterThan(9);
    expect(m.reps).toBeLessThanOrEqual(MAX_REPS);
    // Sized by the first timed run: MIN_TIMED_MS / its wall clock, so the timed runs span about that.
    expect(m.reps).toBe(Math.min(MAX_REPS, Math.floor(MIN_TIMED_MS / Math.max(m.samplesMs[0], 1e-3))));
    expect(m.samplesMs).toHaveLength(m.reps);
    expect(m.timing).toBe('wall-clock');
  });

  it('gives a slow call policy.reps runs, cut by the budget but never below MIN_REPS', async () => {
    let calls = 0;
    const slow = async (): Promise<Sample> => {
      calls++;
      return { wallMs: 1000 }; // reports 1 s without taking it
    };
    const cut = await measure(slow, { warmup: 1, reps: 9, budgetMs: 3000 });
    expect(cut.reps).toBe(MIN_REPS);
    const full = await measure(slow, { warmup: 1, reps: 9, budgetMs: 60_000 });
    expect(full.reps).toBe(9);
    expect(calls).toBe(cut.warmup + cut.reps + full.warmup + full.reps);
  });

  it('caps the timed runs of an instant call at MAX_REPS and reports the median GPU time', async () => {
    let i = 0;
    const m = await measure(async () => ({ wallMs: 0.001, gpuMs: 1 + (i++ % 3) }), { warmup: 1, reps: 5, budgetMs: 1000 });
    expect(m.reps).toBe(MAX_REPS);
    expect(m.timing).toBe('timestamp-query');
    expect(m.ms).toBe(m.gpuMs);
    const sorted = [...m.samplesMs].sort((a, b) => a - b);
    expect(m.ms).toBe((sorted[MAX_REPS / 2 - 1] + sorted[MAX_REPS / 2]) / 2);
  });
});
