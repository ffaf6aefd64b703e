// The harness page the case-table specs share: one page per block of a spec file's tests, opened in
// that file's beforeAll, every error it logs failing the run, and check(), which runs one case in the
// page against the float64 reference.
import { expect, test, type Page } from '@playwright/test';
import { ALL_KERNELS, cases } from '../cases.js';
import { REL_L2_TOL, MAX_ABS_TOL } from '../compare.js';
import { type Dispatch, ranTile, tileRule } from '../dispatches.js';
import { runSeed } from '../random.js';

export const seed = runSeed();
const HARNESS = 'http://localhost:4175/';

export type Agreement = { relL2: number; maxAbs: number; nans: number };
export type { Dispatch };
type Result = { output: Agreement; weights?: Agreement; lse?: Agreement; shapeOk: boolean; gpuErrors: string[]; ran: Dispatch[]; quad: boolean };
export type Mode = 'output' | 'weights' | 'lse';
export type Tile = 'auto' | 'wide' | 'workgroup' | 'workgroup-split' | 'held-keys' | 'plain' | 'split-workgroup';
export const ok = (a: Agreement) => a.nans === 0 && a.relL2 <= REL_L2_TOL && a.maxAbs <= MAX_ABS_TOL;
export const hasFused = (c: (typeof cases)[number]) => (c.kernels ?? ALL_KERNELS).includes('fused');

/**
 * Opens the harness page before a block of the file's tests and checks its console after. No test
 * needs another's work (contexts are made on first use; a case's pipelines are its own), so the
 * file runs in parallel mode: Playwright cuts it into a block of consecutive tests per worker, each
 * block with a page of its own (session 30: the workers ended within 1 s of each other; 34 s apart
 * when each file went whole to one worker).
 */
export function useHarnessPage(): { readonly page: Page } {
  const holder = { page: undefined as unknown as Page };
  const consoleErrors: string[] = [];
  test.describe.configure({ mode: 'parallel' });
  test.beforeAll(async ({ browser }) => {
    const page = (holder.page = await browser.newPage());
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
    await holder.page?.close();
    expect(consoleErrors, 'errors logged by the page').toEqual([]);
  });
  return holder;
}

/** One case in the page against the float64 reference; every failure names the case, kernel, tile and seed. */
export async function check(page: Page, name: string, kernel: string, mode: Mode = 'output', tile: Tile = 'auto'): Promise<{ quad: boolean }> {
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
  // A forced tile: the call ran its kernels (another tile's right answer would pass the comparison).
  if (tile !== 'auto') expectRanTile(name, kernel, tile, r.ran, r.quad, what);
  return { quad: r.quad };
}

/** Fails unless the pipelines a call set (`ran`) are the forced tile's for case `name`. */
export function expectRanTile(name: string, kernel: string, tile: Exclude<Tile, 'auto'>, ran: Dispatch[], quad: boolean, what: string): void {
  const rule = tileRule(tile, kernel);
  const c = cases.find((x) => x.name === name)!;
  expect(ranTile(rule, c, ran, quad), `${what}: the ${rule} tile's kernels, but the call ran ${JSON.stringify(ran)}`).toBe(true);
}
