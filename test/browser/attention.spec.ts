// The shared case table in headless Chromium with real WebGPU, against the built library.
import { expect, test, type Page } from '@playwright/test';
import { ALL_KERNELS, cases } from '../cases.js';
import { REL_L2_TOL, MAX_ABS_TOL } from '../compare.js';
import { runSeed } from '../random.js';

const seed = runSeed();
const HARNESS = 'http://localhost:4175/';

test.describe.configure({ mode: 'serial' });
console.log(`browser case table: seed ${seed} (rerun with TEST_SEED=${seed})`);

let page: Page;
test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  await page.goto(HARNESS);
  await expect(page.locator('#status')).toHaveText('ready', { timeout: 60_000 });
  const hasGPU = await page.evaluate(() => !!navigator.gpu);
  expect(hasGPU, 'navigator.gpu in headless Chromium (flags in scripts/chromium-launch.mjs)').toBe(true);
});
test.afterAll(async () => page?.close());

type Agreement = { relL2: number; maxAbs: number; nans: number };
const ok = (a: Agreement) => a.nans === 0 && a.relL2 <= REL_L2_TOL && a.maxAbs <= MAX_ABS_TOL;

for (const c of cases) {
  test(`${c.name} on every kernel`, async () => {
    for (const kernel of c.kernels ?? ALL_KERNELS) {
      const r = await page.evaluate(
        ([name, kn, s]) => (window as any).runCase(name, kn, s, false),
        [c.name, kernel, seed] as const,
      );
      expect(ok(r.output), `${c.name} on ${kernel}, seed ${seed}: ${JSON.stringify(r.output)}`).toBe(true);
      expect(r.shapeOk).toBe(true);
      expect(r.gpuErrors).toEqual([]);
    }
    if ((c.kernels ?? ALL_KERNELS).includes('staged')) {
      const r = await page.evaluate(([name, s]) => (window as any).runCase(name, 'auto', s, true), [c.name, seed] as const);
      expect(ok(r.weights), `${c.name} weights, seed ${seed}: ${JSON.stringify(r.weights)}`).toBe(true);
      expect(ok(r.output)).toBe(true);
    }
  });
}

// The fused kernel's wide tile (16 rows per invocation, q in registers) compiled by the browser's
// own Tint, which differs from Node's Dawn. Heads up to 8 dims only: the wide tile's compile time
// grows with the head size (~35 s at E = 64 on SwiftShader); vitest runs every size in Node.
/** One case on the fused kernel with a tile forced, against the reference. */
async function checkOnTile(name: string, tile: 'wide' | 'workgroup'): Promise<void> {
  const r = await page.evaluate(([n, s, t]) => (window as any).runCase(n, 'fused', s, false, t), [name, seed, tile] as const);
  expect(ok(r.output), `${name} on the ${tile} tile, seed ${seed}: ${JSON.stringify(r.output)}`).toBe(true);
  expect(r.shapeOk).toBe(true);
  expect(r.gpuErrors).toEqual([]);
}

const wideCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('fused') && c.E <= 8 && (c.Ev ?? c.E) <= 8);
for (const c of wideCases) {
  test(`${c.name} on the wide tile`, () => checkOnTile(c.name, 'wide'));
}

// The workgroup tile (keys staged in workgroup memory, barriers), which 'auto' measures only on
// GPUs: every fused case, compiled by Chromium's Tint and run on its SwiftShader.
const workgroupCases = cases.filter((c) => (c.kernels ?? ALL_KERNELS).includes('fused'));
test('every fused case on the workgroup tile', async () => {
  for (const c of workgroupCases) await checkOnTile(c.name, 'workgroup');
});
