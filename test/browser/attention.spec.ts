// The shared case table in headless Chromium with real WebGPU, against the built library: every
// kernel under 'auto', the wide tile and the plain kernels, encode(). The table on the workgroup,
// workgroup-split, split-keys workgroup and held-keys tiles is in attention-tiles.spec.ts.
import { expect, test } from '@playwright/test';
import { ALL_KERNELS, cases } from '../cases.js';
import { type Agreement, check as checkOn, type Dispatch, expectRanTile, hasFused, type Mode, ok, seed, type Tile, useHarnessPage } from './harness-page.js';
import { ranPath } from '../dispatches.js';

const harness = useHarnessPage();
const check = (name: string, kernel: string, mode?: Mode, tile?: Tile) => checkOn(harness.page, name, kernel, mode, tile);
console.log(`browser case table: seed ${seed} (rerun with TEST_SEED=${seed})`);

for (const c of cases) {
  test(`${c.name} on every kernel (seed ${seed})`, async () => {
    for (const kernel of c.kernels ?? ALL_KERNELS) await check(c.name, kernel);
    if ((c.kernels ?? ALL_KERNELS).includes('staged')) await check(c.name, 'auto', 'weights');
    // The log-sum-exp, from the fused and split-keys paths (the staged path has none).
    if (hasFused(c)) for (const kernel of ['fused', 'split-keys']) await check(c.name, kernel, 'lse');
  });
}

// The fused kernel's wide tile (8 or 16 rows per invocation, q in registers) compiled by the
// browser's own Tint, which differs from Node's Dawn. Heads up to 8 dims, and one at E = 64, the
// benchmark's head size: the wide tile's compile time grows with the head size (E = 128 takes over
// a minute on SwiftShader); vitest runs every size in Node.
const wideCases = cases.filter((c) => hasFused(c) && ((c.E <= 8 && (c.Ev ?? c.E) <= 8) || c.name === 'E 64, rows 17'));
for (const c of wideCases) {
  test(`${c.name} on the wide tile (seed ${seed})`, () => check(c.name, 'fused', 'output', 'wide'));
}

// A device without 'subgroups': the plain fused and split-keys kernels, which GPUs run, compiled by
// Chromium's Tint (the other contexts share loads across quads on this adapter).
for (const c of cases.filter(hasFused)) {
  test(`${c.name} on the plain kernels (seed ${seed})`, async () => {
    await check(c.name, 'fused', 'output', 'plain');
    await check(c.name, 'split-keys', 'output', 'plain');
  });
}

// encode() on a preallocated KV cache (shape.keyCapacity), compiled by Chromium's Tint: GQA, causal
// bottom-right and a mask, on every kernel, the workgroup tile and the plain kernels.
// The recording's kernels are checked too: the forced tile's, or under 'auto' the asked path's.
for (const [kernel, tile] of [['fused', 'auto'], ['split-keys', 'auto'], ['staged', 'auto'], ['fused', 'workgroup'], ['fused', 'workgroup-split'], ['fused', 'plain'], ['split-keys', 'plain'], ['split-keys', 'split-workgroup']] as const) {
  test(`encode() on a KV cache with spare rows: ${kernel} (${tile}) (seed ${seed})`, async () => {
    const name = 'GQA + causal bottom-right + mask';
    const r = (await harness.page.evaluate(([n, kn, t, s]) => (window as any).runKvCache(n, kn, t, s), [name, kernel, tile, seed] as const)) as {
      output: Agreement;
      gpuErrors: string[];
      ran: Dispatch[];
      quad: boolean;
    };
    const what = `${name} on ${kernel} (${tile}), seed ${seed}`;
    expect(ok(r.output), `${what}: ${JSON.stringify(r.output)}`).toBe(true);
    expect(r.gpuErrors).toEqual([]);
    if (tile === 'auto') expect(ranPath(kernel, r.ran), `${what}: ran ${JSON.stringify(r.ran)}`).toBe(true);
    else expectRanTile(name, kernel, tile, r.ran, r.quad, what);
  });
}

// encode() in the browser: layers recorded across awaits with other calls in between, the command
// buffer finished, then submitted tasks later after another recording and call have run.
for (const kernel of ['fused', 'split-keys', 'staged']) {
  test(`encode(): two layers recorded across awaits, finished, submitted late on ${kernel} (seed ${seed})`, async () => {
    const r = (await harness.page.evaluate(([kn, s]) => (window as any).runEncode(kn, s), [kernel, seed] as const)) as {
      layers: Agreement[];
      untouched: boolean;
      gpuErrors: string[];
    };
    expect(r.untouched, "the caller's encoder has no own properties after encode()").toBe(true);
    r.layers.forEach((a, i) => expect(ok(a), `layer ${i + 1} on ${kernel}, seed ${seed}: ${JSON.stringify(a)}`).toBe(true));
    expect(r.gpuErrors).toEqual([]);
  });
}
