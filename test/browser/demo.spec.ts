// The demo page (demo/, built by `npm run build:demo`, served by `vite preview` on port 4174).
import { chromium, expect, test, type Page } from '@playwright/test';
import { chromiumArgsNoWebGPU, chromiumLaunchOptions } from '../../scripts/chromium-launch.mjs';

// Each test opens its own page: they may run on either worker, beside the case-table files' tests.
test.describe.configure({ mode: 'parallel' });

/** The config's baseURL points at the demo; this is the same server if a config leaves it unset. */
const DEMO = 'http://localhost:4174/';

/** Opens the demo (or `url`, another server of it), waits until it is ready; returns the errors it logs from then on. */
async function open(page: Page, baseURL: string | undefined, url = baseURL ? '/' : DEMO): Promise<string[]> {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(`console.error: ${m.text()}`));
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  await page.goto(url);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 60_000 });
  return errors;
}

/** Clicks Run and waits for that run (not the one the page made on load) to finish. */
async function runPlayground(page: Page): Promise<string> {
  const status = page.getByTestId('run-status');
  const before = Number((await status.getAttribute('data-runs')) ?? 0);
  await page.getByTestId('run').click();
  await expect(status).toHaveAttribute('data-runs', String(before + 1), { timeout: 60_000 });
  return (await status.getAttribute('data-state')) ?? '';
}

test('a damaged or foreign saved tile measurement does not stop the page: it is dropped and the page works', async ({ context, baseURL }) => {
  const key = 'webgpu-attention tile measurements';
  for (const stored of ['{not json', JSON.stringify([{ adapter: 'x', verdict: 'fastest' }]), JSON.stringify({ verdict: 'wide' })]) {
    // A fresh page that stores the key before any of its scripts run (no earlier page left mid-work).
    const page = await context.newPage();
    await page.addInitScript(([k, v]) => localStorage.setItem(k, v), [key, stored] as const);
    const errors = await open(page, baseURL);
    await expect(page.locator('#seed-where')).toContainText('GPU');
    await expect(page.getByTestId('seed-output')).toContainText('1.002121');
    await expect(page.getByTestId('no-webgpu-banner')).toHaveCount(0);
    // Malformed (an AttentionInputError) is removed; text that is not JSON is left to be overwritten.
    const left = await page.evaluate((k) => localStorage.getItem(k), key);
    expect(left === null || left === stored).toBe(true);
    if (stored.startsWith('[') || stored.startsWith('{"')) expect(left).toBeNull();
    expect(errors).toEqual([]);
    await page.close();
  }
});

test('`npm start` (the dev server, from the sources) serves the same page: it loads, computes the worked example on the GPU, and logs no error', async ({ page, baseURL }) => {
  const errors = await open(page, baseURL, 'http://localhost:4176/');
  await expect(page.locator('#seed-where')).toContainText('GPU');
  await expect(page.getByTestId('seed-output')).toContainText('1.002121');
  expect(await runPlayground(page)).toBe('done');
  expect(errors).toEqual([]);
});

test('loads without console errors and shows the worked example', async ({ page, baseURL }) => {
  const errors = await open(page, baseURL);
  await expect(page.locator('#adapter')).toContainText('WebGPU adapter');
  await expect(page.locator('#seed-where')).toContainText('GPU');
  const seed = page.getByTestId('seed-output');
  for (const n of ['1.002121', '1.102121', '1.004946', '1.104946']) await expect(seed).toContainText(n);
  // The K-instead-of-Kᵀ answer is shown and differs.
  const wrong = (await page.getByTestId('seed-wrong-output').textContent()) ?? '';
  expect(wrong).toMatch(/\d\.\d{6}/);
  expect(wrong).not.toContain('1.002121');
  await expect(page.getByTestId('no-webgpu-banner')).toHaveCount(0);
  await expect(page.getByTestId('device-lost-banner')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('Run agrees with the CPU reference (max error < 1e-5) on every kernel', async ({ page, baseURL }) => {
  const errors = await open(page, baseURL);
  await page.locator('#p-Lq').fill('37');
  await page.locator('#p-Lk').fill('70');
  await page.locator('#p-E').fill('24');
  await page.locator('#p-causal').selectOption('bottom-right');
  await page.locator('#p-density').fill('0.3');
  for (const kernel of ['auto', 'staged', 'fused']) {
    await page.locator('#p-kernel').selectOption(kernel);
    expect(await runPlayground(page), await page.getByTestId('run-status').textContent() ?? '').toBe('done');
    const text = (await page.getByTestId('max-error').textContent()) ?? '';
    const err = Number(text);
    expect(Number.isFinite(err), `max-error reads "${text}"`).toBe(true);
    expect(err, `${kernel}: max error ${text}`).toBeLessThan(1e-5);
    await expect(page.locator('#r-gflops')).toHaveText(/^\d+\.\d+$/);
  }
  expect(errors).toEqual([]);
});

test('a shape over the page limits fails at once in words; the map follows the run it shows', async ({ page, baseURL }) => {
  const errors = await open(page, baseURL);
  const fill = async (v: Record<string, string>) => {
    for (const [id, x] of Object.entries(v)) await page.locator(`#p-${id}`).fill(x);
  };
  const map = page.getByTestId('heatmap');
  await expect(map).toBeVisible();
  // Inside every field's range, but 8.6e9 (query, key) pairs: refused before anything is allocated.
  await fill({ B: '16', H: '32', Lq: '4096', Lk: '4096', E: '1', density: '0.5' });
  expect(await runPlayground(page)).toBe('error');
  // "At once": the CPU reference never ran (its time reads '–', below), rather than a wall-clock bound.
  await expect(page.getByTestId('run-status')).toContainText(/B·H·Lq·Lk is 8,589,934,592, above this page's/);
  for (const id of ['r-gpu', 'r-cpu', 'max-error']) await expect(page.locator(`#${id}`)).toHaveText('–');
  await expect(map).toBeHidden();
  // Few pairs but a 2 GiB k and v: refused as well.
  await fill({ Lq: '1', Lk: '4096', E: '256', density: '0' });
  expect(await runPlayground(page)).toBe('error');
  await expect(page.getByTestId('run-status')).toContainText(/B·H·max\(Lq, Lk\)·E is 536,870,912 floats, above this page's/);
  // Above the heatmap's read-back limit: the run is done, and no older map stays on show.
  await fill({ B: '1', H: '1', Lq: '4096', Lk: '1100', E: '1', density: '0' });
  expect(await runPlayground(page)).toBe('done');
  await expect(map).toBeHidden();
  await expect(page.locator('#heatmap-note')).toContainText('weights not read back');
  await fill({ Lq: '8', Lk: '8', E: '4' });
  expect(await runPlayground(page)).toBe('done');
  await expect(map).toBeVisible();
  expect(errors).toEqual([]);
});

test('heatmaps are drawn and the hover read-out works', async ({ page, baseURL }) => {
  const errors = await open(page, baseURL);
  for (const id of ['heatmap', 'sentence-heatmap']) {
    const stats = await page.getByTestId(id).evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const colours = new Set<number>();
      let nonWhite = 0;
      for (let i = 0; i < d.length; i += 4) {
        colours.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
        if (d[i]! < 240 || d[i + 1]! < 240 || d[i + 2]! < 240) nonWhite++;
      }
      return { w: c.width, h: c.height, colours: colours.size, nonWhite: nonWhite / (d.length / 4) };
    });
    expect(stats.w * stats.h, id).toBeGreaterThan(100 * 100);
    expect(stats.colours, `${id}: distinct colours`).toBeGreaterThan(10);
    expect(stats.nonWhite, `${id}: painted fraction`).toBeGreaterThan(0.3);
  }
  const map = page.getByTestId('heatmap');
  const box = (await map.boundingBox())!;
  await map.hover({ position: { x: box.width * 0.6, y: box.height * 0.6 } });
  await expect(page.getByTestId('heatmap-readout')).toHaveText(/query \d+, key \d+: weight \d\.\d{6}/);

  // Which cell reads which weight: 4 queries, 4 keys, causal, on head 1 of 2. Query 0 sees only
  // key 0 (weight 1), key 3 only query 3; a swapped row and column, or the wrong head, reads otherwise.
  for (const [id, x] of Object.entries({ B: '1', H: '2', Lq: '4', Lk: '4', E: '4', density: '0' })) await page.locator(`#p-${id}`).fill(x);
  await page.locator('#p-causal').selectOption('top-left');
  expect(await runPlayground(page)).toBe('done');
  await page.getByTestId('heatmap-head').fill('1');
  const [left, top, cell] = ((await map.getAttribute('data-cells')) ?? '').split(',').map(Number);
  const at = async (i: number, j: number) => {
    await map.hover({ position: { x: left! + (j + 0.5) * cell!, y: top! + (i + 0.5) * cell! } });
    return (await page.getByTestId('heatmap-readout').textContent()) ?? '';
  };
  expect(await at(0, 0)).toBe('query 0, key 0: weight 1.000000');
  expect(await at(0, 3)).toBe('query 0, key 3: weight 0.000000');
  expect(await at(3, 0)).toMatch(/^query 3, key 0: weight 0\.(?!0{6})\d{6}$/);
  expect(await at(2, 3)).toBe('query 2, key 3: weight 0.000000');
  // The causal pattern is every head's: the heads' random weights tell them apart.
  const head1 = await at(3, 0);
  await page.getByTestId('heatmap-head').fill('0');
  const head0 = await at(3, 0);
  expect(head0).toMatch(/^query 3, key 0: weight 0\.(?!0{6})\d{6}$/);
  expect(head0, 'head 0 and head 1 read the same weight').not.toBe(head1);
  await page.getByTestId('heatmap-head').fill('1');

  // Without a mouse: the map takes focus and the arrow keys move between cells.
  await map.focus();
  const readout = page.getByTestId('heatmap-readout');
  await expect(readout).toHaveText('query 0, key 0: weight 1.000000');
  for (let n = 0; n < 3; n++) await page.keyboard.press('ArrowRight');
  await expect(readout).toHaveText('query 0, key 3: weight 0.000000');
  for (let n = 0; n < 5; n++) await page.keyboard.press('ArrowDown'); // stops at the last row
  await expect(readout).toHaveText(/^query 3, key 3: weight 0\.(?!0{6})\d{6}$/);
  await page.keyboard.press('Home');
  await expect(readout).toHaveText(head1);
  expect(errors).toEqual([]);
});

test('a tiny shape gets a CPU time and rate that are numbers (timed in batches under the clock step), not 0 ms and Infinity', async ({ page, baseURL }) => {
  const errors = await open(page, baseURL);
  for (const id of ['B', 'H', 'Lq', 'Lk', 'E']) await page.locator(`#p-${id}`).fill('1');
  expect(await runPlayground(page)).toBe('done');
  const cpu = (await page.locator('#r-cpu').textContent()) ?? '';
  expect(cpu).toMatch(/^\d+\.\d+ (ms|µs)$/);
  expect(Number.parseFloat(cpu), `CPU time "${cpu}"`).toBeGreaterThan(0);
  const rate = Number((await page.locator('#r-cpu-gflops').textContent()) ?? '');
  expect(Number.isFinite(rate) && rate > 0, `CPU GFLOP/s ${rate}`).toBe(true);
  const speedup = (await page.locator('#r-speedup').textContent()) ?? '';
  expect(Number.parseFloat(speedup), `speed-up "${speedup}"`).toBeGreaterThan(0);
  expect(errors).toEqual([]);
});

test('one run at a time: the benchmark button waits while the playground runs, and is back after', async ({ page, baseURL }) => {
  const errors = await open(page, baseURL);
  for (const [id, x] of Object.entries({ B: '1', H: '8', Lq: '256', Lk: '256', E: '64' })) await page.locator(`#p-${id}`).fill(x);
  const status = page.getByTestId('run-status');
  const before = Number((await status.getAttribute('data-runs')) ?? 0);
  await expect(page.getByTestId('bench-run')).toBeEnabled();
  // The buttons are read on the page as the run's state changes, so a run faster than a round trip
  // from the test (a real GPU) is checked as well as a slow one.
  await page.evaluate(() => {
    const seen: string[] = ((window as unknown as { seen: string[] }).seen = []);
    const st = document.querySelector('[data-testid="run-status"]') as HTMLElement;
    const button = (id: string) => (document.querySelector(`[data-testid="${id}"]`) as HTMLButtonElement).disabled;
    new MutationObserver(() => seen.push(`${st.dataset.state} run ${button('run') ? 'off' : 'on'} bench ${button('bench-run') ? 'off' : 'on'}`))
      .observe(st, { attributes: true, attributeFilter: ['data-state'] });
  });
  await page.getByTestId('run').click();
  await expect(status).toHaveAttribute('data-runs', String(before + 1), { timeout: 60_000 });
  const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
  expect(seen[0]).toBe('running run off bench off');
  await expect(page.getByTestId('bench-run')).toBeEnabled();
  await expect(page.getByTestId('run')).toBeEnabled();
  expect(errors).toEqual([]);
});

test('leaving the page mid-run logs no error: the calls that pagehide cut short are not failures', async ({ page, baseURL }) => {
  // A leaving page's console reaches no listener of the test's, so console.error is kept in
  // sessionStorage, which the next page of the tab reads.
  await page.addInitScript(() => {
    const keep = (what: string) => sessionStorage.setItem('errors', `${sessionStorage.getItem('errors') ?? ''}${what}\n`);
    const log = console.error.bind(console);
    console.error = (...args: unknown[]) => {
      keep(`console.error: ${args.map(String).join(' ')}`);
      log(...args);
    };
    window.addEventListener('error', (e) => keep(`error: ${e.message}`));
    window.addEventListener('unhandledrejection', (e) => keep(`unhandled rejection: ${String(e.reason)}`));
    // What the run was doing as the page left: the test is about a run cut short.
    window.addEventListener('pagehide', () => sessionStorage.setItem('state at pagehide', document.querySelector<HTMLElement>('[data-testid="run-status"]')?.dataset.state ?? ''));
  });
  expect(await open(page, baseURL)).toEqual([]);
  for (const [id, x] of Object.entries({ B: '1', H: '8', Lq: '256', Lk: '256', E: '16' })) await page.locator(`#p-${id}`).fill(x);
  // The page leaves as the run's first GPU call starts (E = 16, not compiled yet: the call compiles
  // first), so pagehide destroys the context with that call in flight, on a fast GPU as on SwiftShader.
  await page.evaluate(() => {
    const ctx = window.demo.gpu.ctx!;
    const attention = ctx.attention.bind(ctx);
    ctx.attention = (...args: Parameters<typeof attention>) => {
      const call = attention(...args);
      location.href = '?again';
      return call;
    };
  });
  await page.getByTestId('run').click();
  await page.waitForURL(/\?again$/, { timeout: 60_000 });
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 60_000 });
  expect(await page.evaluate(() => sessionStorage.getItem('state at pagehide'))).toBe('running');
  expect(await page.evaluate(() => sessionStorage.getItem('errors'))).toBeNull();
});

test('keyboard: Run pressed with Enter keeps the focus through the run (the button is disabled meanwhile), so Enter runs again', async ({ page, baseURL }) => {
  const errors = await open(page, baseURL);
  const run = page.getByTestId('run');
  const status = page.getByTestId('run-status');
  await run.focus();
  for (let i = 0; i < 2; i++) {
    const before = Number((await status.getAttribute('data-runs')) ?? 0);
    await page.keyboard.press('Enter');
    await expect(status).toHaveAttribute('data-runs', String(before + 1), { timeout: 60_000 });
    await expect(run).toBeEnabled();
    await expect(run).toBeFocused();
  }
  expect(errors).toEqual([]);
});

test('a lost device shows a banner with a reload button', async ({ page, baseURL }) => {
  await open(page, baseURL);
  await page.evaluate(() => window.demo.gpu.ctx!.device.destroy());
  const banner = page.getByTestId('device-lost-banner');
  await expect(banner).toBeVisible();
  await expect(banner.getByTestId('reload')).toBeVisible();
  // The page still answers: Run falls back to the CPU reference.
  expect(await runPlayground(page)).toBe('done');
  await expect(page.getByTestId('max-error')).toContainText('n/a');
});

test('a WebGPU that never answers (requestAdapter never settles): after the timeout a banner says so, and the CPU parts work', async ({ page, baseURL }) => {
  await page.addInitScript(() => {
    if (navigator.gpu) navigator.gpu.requestAdapter = () => new Promise(() => {});
  });
  const errors = await open(page, baseURL, `${baseURL ? '/' : DEMO}?gpu-timeout-ms=1500`);
  const banner = page.getByTestId('no-webgpu-banner');
  await expect(banner).toBeVisible();
  await expect(banner).toContainText('did not answer within 1.5 s');
  await expect(page.locator('#seed-where')).toContainText('CPU reference');
  await expect(page.getByTestId('seed-output')).toContainText('1.002121');
  expect(await runPlayground(page)).toBe('done');
  expect(errors).toEqual([]);
});

test('a WebGPU that answers only after the timeout: the page has gone on without it, and destroys the device that came late', async ({ page, baseURL }) => {
  await page.addInitScript(() => {
    const gpu = navigator.gpu;
    if (!gpu) return;
    const requestAdapter = gpu.requestAdapter.bind(gpu);
    gpu.requestAdapter = async (options) => {
      const adapter = await requestAdapter(options);
      await new Promise((r) => setTimeout(r, 3000)); // past the page's 1.5 s
      if (adapter) {
        const requestDevice = adapter.requestDevice.bind(adapter);
        adapter.requestDevice = async (d) => ((window as unknown as { lateDevice: GPUDevice }).lateDevice = await requestDevice(d));
      }
      return adapter;
    };
  });
  const errors = await open(page, baseURL, `${baseURL ? '/' : DEMO}?gpu-timeout-ms=1500`);
  await expect(page.getByTestId('no-webgpu-banner')).toContainText('did not answer within 1.5 s');
  await expect(page.locator('#seed-where')).toContainText('CPU reference');
  await page.waitForFunction(() => 'lateDevice' in window, undefined, { timeout: 30_000 });
  const lost = await page.evaluate(() => Promise.race([
    (window as unknown as { lateDevice: GPUDevice }).lateDevice.lost.then((info) => info.reason),
    new Promise((r) => setTimeout(() => r('still alive after 10 s'), 10_000)),
  ]));
  expect(lost).toBe('destroyed');
  expect(errors).toEqual([]);
});

test('without WebGPU: a banner says how to enable it, the CPU parts still work', async ({ baseURL }) => {
  const browser = await chromium.launch(chromiumLaunchOptions(chromiumArgsNoWebGPU));
  try {
    const page = await browser.newPage({ baseURL });
    const unusable = await page.evaluate(async () => !navigator.gpu || !(await navigator.gpu.requestAdapter()));
    expect(unusable, 'navigator.gpu must be unusable in this browser').toBe(true);
    const errors = await open(page, baseURL);
    const banner = page.getByTestId('no-webgpu-banner');
    await expect(banner).toBeVisible();
    await expect(banner).toContainText('--enable-unsafe-webgpu');
    await expect(banner).toContainText('chrome://flags');
    await expect(page.locator('#seed-where')).toContainText('CPU reference');
    for (const n of ['1.002121', '1.102121', '1.004946', '1.104946']) await expect(page.getByTestId('seed-output')).toContainText(n);
    expect(await runPlayground(page)).toBe('done');
    await expect(page.locator('#r-cpu')).toHaveText(/ms|s$/);
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
  }
});
