// The benchmark's method (bench/suite.ts): how many warm-up and timed runs a measurement gets, what
// it reports, and how we are compared with a peer. Fake runs and rows, no GPU.
import { describe, expect, it, vi } from 'vitest';
import {
  buildShapes, evaluateTargets, MAX_REPS, measure, measureWithin, MIN_REPS, MIN_TIMED_MS, speedup, WARMUP_MIN_MS,
  type BenchResults, type BenchRow, type BenchShape, type Measurement, type Sample,
} from '../bench/suite';

describe('bench measure()', () => {
  it('warms a short call up for at least WARMUP_MIN_MS and times it for at least MIN_TIMED_MS', async () => {
    // A fake clock (bench/suite.ts reads performance.now()) that each run moves on by 4 ms: no real
    // time, so the counts are exact on any machine.
    expect([WARMUP_MIN_MS, MIN_TIMED_MS, MAX_REPS]).toEqual([250, 250, 200]);
    let clock = 1000;
    const spy = vi.spyOn(globalThis.performance, 'now').mockImplementation(() => clock);
    try {
      const starts: number[] = [];
      const m = await measure(async () => {
        starts.push(clock);
        clock += 4;
        return { wallMs: 4 };
      }, { warmup: 1, reps: 9, budgetMs: 10_000 });
      // Warm-up: runs until 250 ms have passed, 4 ms each: 63 runs (252 ms).
      expect(m.warmup).toBe(63);
      expect(starts[m.warmup] - starts[0]).toBe(252);
      // Timed: 250 ms / 4 ms = 62 runs (above policy.reps 9, under MAX_REPS), spanning 248 ms.
      expect(m.reps).toBe(62);
      expect(starts.length).toBe(63 + 62);
      expect(clock - starts[m.warmup]).toBe(248);
      expect(m.samplesMs).toEqual(Array(62).fill(4));
      expect(m.timing).toBe('wall-clock');
    } finally {
      spy.mockRestore();
    }
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
    // A policy under MIN_REPS (a smoke check) gets what it asks for, even for a short call.
    const smoke = await measure(async () => ({ wallMs: 0.5 }), { warmup: 1, reps: 2, budgetMs: 1000 });
    expect(smoke.reps).toBe(2);
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

describe('a measurement that times out', () => {
  it('starts no further run: the loop does not go on timing in the background while the next step is measured', async () => {
    let runs = 0;
    const slow = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 40));
      return { wallMs: 40 };
    };
    const err = await measureWithin(slow, { warmup: 1, reps: 50, budgetMs: 60_000 }, 150, 'slow resident').then(() => null, (e: Error) => e);
    expect(err?.message).toBe('timeout after 0 s: slow resident');
    const atTimeout = runs;
    await new Promise((r) => setTimeout(r, 300));
    expect(runs, 'at most the run in flight finishes after the timeout').toBeLessThanOrEqual(atTimeout);
  });
});

// How the bench compares us with a peer (bench/suite.ts speedup() and evaluateTargets()).
describe('bench speed-ups and the TFJS target', () => {
  const m = (wallMs: number, gpuMs?: number): Measurement => ({
    ms: gpuMs ?? wallMs, wallMs, gpuMs, timing: gpuMs ? 'timestamp-query' : 'wall-clock', reps: 5, warmup: 1, samplesMs: [],
  });
  const rowsFor = (s: BenchShape, ours: Measurement, tfjs: Measurement, ort: Measurement): BenchRow[] => [
    { impl: 'ours:auto', shapeId: s.id, shape: s, flops: 1, resident: ours },
    { impl: 'tfjs', shapeId: s.id, shape: s, flops: 1, resident: tfjs },
    { impl: 'ort', shapeId: s.id, shape: s, flops: 1, resident: ort },
  ];

  it('compares GPU time with GPU time where both sides have it, else wall clock with wall clock', () => {
    const [s] = buildShapes();
    const rows = rowsFor(s, m(2.5, 1.5), m(30, 27), m(60));
    expect(speedup(rows, rows[0], 'tfjs')).toEqual({ ratio: 27 / 1.5, basis: 'gpu', wallRatio: 30 / 2.5 });
    expect(speedup(rows, rows[0], 'ort')).toEqual({ ratio: 60 / 2.5, basis: 'wall', wallRatio: 60 / 2.5 });
    const failed = [rows[0], { ...rows[1], error: 'wrong answer' }];
    expect(speedup(failed, rows[0], 'tfjs')).toBeUndefined();
  });

  it('judges >= 10x TFJS on every shape of the table by GPU time and names the wall-clock misses', () => {
    const shapes = buildShapes();
    const rows = shapes.flatMap((s, i) =>
      // The last shape: 18x by GPU time, 8x by wall clock (a short call behind the browser's completion check).
      i === shapes.length - 1 ? rowsFor(s, m(3.5, 1.5), m(28, 27), m(60)) : rowsFor(s, m(10, 9), m(200, 190), m(100)));
    const res: BenchResults = { runner: 'browser', meta: {}, shapes, rows };
    const tfjs = evaluateTargets(res).find((t) => t.target.includes('TFJS'))!;
    expect(tfjs.met).toBe(true);
    expect(tfjs.value).toContain('by GPU time: 0 of');
    expect(tfjs.value).toContain(`by wall clock: 1 below (${shapes[shapes.length - 1].id}: 8.000x)`);
    // A shape under 10x by GPU time is a miss.
    rows[rows.length - 2] = { ...rows[rows.length - 2], resident: m(28, 14) };
    expect(evaluateTargets(res).find((t) => t.target.includes('TFJS'))!.met).toBe(false);
    // Only part of the table compared: never a pass.
    const part: BenchResults = { ...res, shapes: shapes.slice(0, 2), rows: rows.slice(0, 6) };
    expect(evaluateTargets(part).find((t) => t.target.includes('TFJS'))!.met).toBeNull();
  });

  it("a shape where our kernel failed or was wrong is a miss naming it, not undecided, and another kernel of ours is not judged in its place", () => {
    const shapes = buildShapes();
    const rows = shapes.flatMap((s) => [...rowsFor(s, m(10, 9), m(200, 190), m(100)), { impl: 'ours:fused', shapeId: s.id, shape: s, flops: 1, resident: m(1, 1) }]);
    const res: BenchResults = { runner: 'browser', meta: {}, shapes, rows, ceilings: undefined };
    const wrong = shapes[3].id;
    const at = rows.findIndex((r) => r.impl === 'ours:auto' && r.shapeId === wrong);
    rows[at] = { ...rows[at], resident: undefined, error: 'wrong answer: relative error 3.1e-1' };
    for (const peer of ['TFJS', 'ORT']) {
      const t = evaluateTargets(res).find((x) => x.target.includes(peer))!;
      expect(t.met, peer).toBe(false);
      expect(t.value).toContain(`ours failed on 1 shape(s) the peer ran (${wrong}: ours:auto wrong answer: relative error 3.1e-1)`);
    }
    // The staged path skipped by --staged-max-gflop is not a failure: the next kernel is judged.
    const staged: BenchResults = {
      ...res,
      rows: shapes.flatMap((s) => [
        { impl: 'ours:staged', shapeId: s.id, shape: s, flops: 1, error: 'skipped: above --staged-max-gflop (2.2 GFLOP)' },
        ...rowsFor(s, m(10, 9), m(200, 190), m(100)).slice(1),
        { impl: 'ours:split-keys', shapeId: s.id, shape: s, flops: 1, resident: m(10, 9) },
      ]),
    };
    expect(evaluateTargets(staged).find((x) => x.target.includes('TFJS'))!.met).toBe(true);
    // The decode target: our decode kernel failing there is a miss.
    const decode = shapes.find((s) => s.id === 'B1-H8-L1-S65536-E64')!;
    const failedDecode: BenchResults = {
      ...res,
      ceilings: { fma: { gflops: 5 }, copy: { gbps: 4 } } as BenchResults['ceilings'],
      rows: [{ impl: 'ours:auto', shapeId: decode.id, shape: decode, flops: 1, error: 'timeout after 300 s: ours:auto resident' }],
    };
    const d = evaluateTargets(failedDecode).find((x) => x.target.startsWith('decode'))!;
    expect(d.met).toBe(false);
    expect(d.value).toContain('ours:auto failed: timeout after 300 s');
  });

  // Every shape passing, judged under three conditions that must keep the verdict undecided.
  const passing = (shapes: BenchShape[]) => shapes.flatMap((s) => rowsFor(s, m(10, 9), m(200, 190), m(100)));
  const peerVerdicts = (res: BenchResults) => evaluateTargets(res).filter((t) => /TFJS|ORT/.test(t.target));

  it("a real GPU's table counts L=S=4096 even where --shapes left it out (meta.config.gpuTable)", () => {
    const shapes = buildShapes(); // the software table: no 4096
    const res: BenchResults = { runner: 'browser', meta: { config: { gpuTable: true } }, shapes, rows: passing(shapes) };
    for (const t of peerVerdicts(res)) {
      expect(t.met, t.target).toBeNull();
      expect(t.value).toContain(`2 of the table's ${buildShapes({ gpu: true }).length} shapes without a comparison`);
    }
    // The same rows on a software adapter's run: a pass.
    for (const t of peerVerdicts({ ...res, meta: { config: { gpuTable: false } } })) expect(t.met, t.target).toBe(true);
  });

  it('a Node run does not pass the peer targets, which the issue judges in a browser run', () => {
    const shapes = buildShapes();
    for (const t of peerVerdicts({ runner: 'node', meta: {}, shapes, rows: passing(shapes) })) {
      expect(t.met, t.target).toBeNull();
      expect(t.value).toContain('a Node run');
    }
  });

  it("a row of ours the run should have verified and did not (the CPU reference failed) is not judged", () => {
    const shapes = buildShapes();
    const rows = passing(shapes).map((r) => (r.impl === 'ours:auto' ? { ...r, relError: 1e-7 } : r));
    const res: BenchResults = { runner: 'browser', meta: { config: { verifyMaxFlops: 10 } }, shapes, rows };
    for (const t of peerVerdicts(res)) expect(t.met, t.target).toBe(true);
    const at = rows.findIndex((r) => r.impl === 'ours:auto');
    rows[at] = { ...rows[at], relError: undefined };
    for (const t of peerVerdicts(res)) {
      expect(t.met, t.target).toBeNull();
      expect(t.value).toContain('1 of the table');
    }
    // The decode and fused targets too.
    const decode = shapes.find((s) => s.id === 'B1-H8-L1-S65536-E64')!;
    const fused = shapes.find((s) => s.id === 'B1-H8-L1024-S1024-E64')!;
    const one: BenchResults = {
      runner: 'browser', meta: { config: { verifyMaxFlops: 10 } }, shapes,
      ceilings: { fma: { gflops: 1e-9 }, copy: { gbps: 1e-3 } } as BenchResults['ceilings'], // every target met by these rows
      rows: [
        { impl: 'ours:auto', shapeId: decode.id, shape: decode, flops: 1, resident: m(1, 1) },
        { impl: 'ours:fused', shapeId: fused.id, shape: fused, flops: 1, resident: m(1, 1), e2e: m(1) },
      ],
    };
    const t = evaluateTargets(one);
    expect(t.find((x) => x.target.startsWith('decode'))!.met).toBeNull();
    expect(t.find((x) => x.target.startsWith('fused'))!.met).toBeNull();
    // Verified, the same rows pass.
    one.rows = one.rows.map((r) => ({ ...r, relError: 1e-7 }));
    const v = evaluateTargets(one);
    expect(v.find((x) => x.target.startsWith('decode'))!.met).toBe(true);
    expect(v.find((x) => x.target.startsWith('fused'))!.met).toBe(true);
  });
});
