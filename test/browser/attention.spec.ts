// The shared case table in headless Chromium with real WebGPU, against the built library.
import { expect, test, type Page } from '@playwright/test';
import { ALL_KERNELS, cases } from '../cases.js';
import { REL_L2_TOL, MAX_ABS_TOL } from '../compare.js';
import { runSeed } from '../random.js';
import { heldKeysFit } from '../../src/tiles.js';

const seed = runSeed();
const HARNESS = 'http://localhost:4175/';

test.describe.configure({ mode: 'serial' });
console.log(`browser case table: seed ${seed} (rerun with TEST_SEED=${seed})`);

let page: Page;
const consoleErrors: string[] = [];
test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  // Every error the page logs fails the run, except the browser's own request for a favicon.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) consoleErrors.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(HARNESS);
  await expect(page.locator('#status')).toHaveText('ready', { timeout: 60_000 });
  const hasGPU = await page.evaluate(() => !!navigator.gpu);
  expect(hasGPU, 'navigator.gpu in headless Chromium (flags in scripts/chromium-launch.mjs)').toBe(true);
});
test.afterAll(async () => {
  await page?.close();
  expect(consoleErrors, 'errors logged by the page').toEqual([]);
});

type Agreement = { relL2: number; maxAbs: number; nans: number };
type Result = { output: Agreement; weights?: Agreement; lse?: Agreement; shapeOk: boolean; gpuErrors: string[] };
type Mode = 'output' | 'weights' | 'lse';
type Tile = 'auto' | 'wide' | 'workgroup' | 'workgroup-split' | 'held-keys' | 'plain' | 'split-workgroup';
const ok = (a: Agreement) => a.nans === 0 && a.relL2 <= REL_L2_TOL && a.maxAbs <= MAX_ABS_TOL;

/** One case in the page against the float64 reference; every failure names the case, kernel, tile and seed. */
async function check(name: string, kernel: string, mode: Mode = 'output', tile: Tile = 'auto'): Promise<void> {
  const what = `${name} on ${kernel}${tile === 'auto' ? '' : ` (${tile} tile)`}${mode === 'output' ? '' : `, ${mode}`}, seed ${seed}`;
  const r = (await page
    .evaluate(([n, kn, s, m, t]) => (window as any).runCase(n, kn, s, m, t), [name, kernel, seed, mode, tile] as const)
    .catch((e: unknown) => {
      throw new Error(`${what}: ${String(e)}`);
    })) as Result;
  expect(ok(r.output), `${what}: ${JSON.stringify(r.output)}`).toBe(true);
  if (mode === 'weights') expect(ok(r.weights!), `${what}: ${JSON.stringify(r.weights)}`).toBe(true);
  if (mode === 'lse') expect(ok(r.lse!), `${what}: ${JSON.stringify(r.lse)}`).toBe(true);
  expect(r.shapeOk, `${what}: shape`).toBe(true);
  expect(r.gpuErrors, `${what}: uncaptured GPU errors`).toEqual([]);
}

const hasFused = (c: (typeof cases)[number]) => (c.kernels ?? ALL_KERNELS).includes('fused');

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

// The workgroup tile (keys staged in workgroup memory, barriers), which 'auto' measures only on
// GPUs, compiled by Chromium's Tint and run on its SwiftShader: the fused cases of 256 keys or more.
// On the others the workgroup-split tile (below) does not split and runs this tile's very pipeline.
test(`the fused cases of 256 keys or more on the workgroup tile (seed ${seed})`, async () => {
  const some = cases.filter((c) => hasFused(c) && c.Lk >= 256);
  expect(some.length).toBeGreaterThan(5);
  for (const c of some) await check(c.name, 'fused', 'output', 'workgroup');
});

// The workgroup-split tile (the same kernel with the keys split between workgroups, then
// merge.wgsl), which 'auto' also measures only on GPUs: every fused case, output and log-sum-exp.
test(`every fused case on the workgroup-split tile (seed ${seed})`, async () => {
  for (const c of cases.filter(hasFused)) {
    await check(c.name, 'fused', 'output', 'workgroup-split');
    await check(c.name, 'fused', 'lse', 'workgroup-split');
  }
});

// The split-keys path's workgroup tile (flash-decode.wgsl, then merge.wgsl), GPUs' default: every
// case that runs on split-keys, output and log-sum-exp, compiled by Chromium's Tint.
test(`every split-keys case on the split-keys path's workgroup tile (seed ${seed})`, async () => {
  for (const c of cases.filter((x) => (x.kernels ?? ALL_KERNELS).includes('split-keys'))) {
    await check(c.name, 'split-keys', 'output', 'split-workgroup');
    if (hasFused(c)) await check(c.name, 'split-keys', 'lse', 'split-workgroup');
  }
});

// The held-keys tile (64 keys per invocation, then merge-rows.wgsl), which 'auto' measures on software
// adapters with 4-lane subgroups (this one): every fused case whose heads it holds, output and
// log-sum-exp, compiled by Chromium's Tint.
test(`every fused case on the held-keys tile (seed ${seed})`, async () => {
  const held = cases.filter((c) => hasFused(c) && heldKeysFit({ headDim: c.E, valueDim: c.Ev ?? c.E }));
  expect(held.length).toBeGreaterThan(20);
  for (const c of held) {
    await check(c.name, 'fused', 'output', 'held-keys');
    await check(c.name, 'fused', 'lse', 'held-keys');
  }
});

// A device without 'subgroups': the plain fused and split-keys kernels, which GPUs run, compiled by
// Chromium's Tint (the contexts above share loads across quads on this adapter).
for (const c of cases.filter(hasFused)) {
  test(`${c.name} on the plain kernels (seed ${seed})`, async () => {
    await check(c.name, 'fused', 'output', 'plain');
    await check(c.name, 'split-keys', 'output', 'plain');
  });
}

// encode() on a preallocated KV cache (shape.keyCapacity), compiled by Chromium's Tint: GQA, causal
// bottom-right and a mask, on every kernel, the workgroup tile and the plain kernels.
for (const [kernel, tile] of [['fused', 'auto'], ['split-keys', 'auto'], ['staged', 'auto'], ['fused', 'workgroup'], ['fused', 'workgroup-split'], ['fused', 'plain'], ['split-keys', 'plain'], ['split-keys', 'split-workgroup']]) {
  test(`encode() on a KV cache with spare rows: ${kernel} (${tile}) (seed ${seed})`, async () => {
    const name = 'GQA + causal bottom-right + mask';
    const r = (await page.evaluate(([n, kn, t, s]) => (window as any).runKvCache(n, kn, t, s), [name, kernel, tile, seed] as const)) as {
      output: Agreement;
      gpuErrors: string[];
    };
    expect(ok(r.output), `${name} on ${kernel} (${tile}), seed ${seed}: ${JSON.stringify(r.output)}`).toBe(true);
    expect(r.gpuErrors).toEqual([]);
  });
}

// encode() in the browser: layers recorded across awaits with other calls in between, the command
// buffer finished, then submitted tasks later after another recording and call have run.
for (const kernel of ['fused', 'split-keys', 'staged']) {
  test(`encode(): two layers recorded across awaits, finished, submitted late on ${kernel} (seed ${seed})`, async () => {
    const r = (await page.evaluate(([kn, s]) => (window as any).runEncode(kn, s), [kernel, seed] as const)) as {
      layers: Agreement[];
      untouched: boolean;
      gpuErrors: string[];
    };
    expect(r.untouched, "the caller's encoder has no own properties after encode()").toBe(true);
    r.layers.forEach((a, i) => expect(ok(a), `layer ${i + 1} on ${kernel}, seed ${seed}: ${JSON.stringify(a)}`).toBe(true));
    expect(r.gpuErrors).toEqual([]);
  });
}
