// `npm run bench:browser`: runs the suite inside headless Chromium (WebGPU), with the peers.
// Starts a Vite dev server for bench/page/, opens it with Playwright, calls window.bench.run().
import { join } from 'node:path';
import type { Browser } from '@playwright/test';
import type { BenchResults } from './suite';
import { defaultStem, fsUrl, hostMeta, launchBrowser, libAvailable, libMeta, openBenchPage, parseCli, printReport, repoRoot, resultsDir, screenshotChart, startPageServer, suiteConfig, writeResults } from './host';

const opts = parseCli('bench:browser', 'browser');
const log = (m: string) => console.log(m);

const { server, url } = await startPageServer(opts.lib);
let browser: Browser | undefined;
let exitCode = 0;
try {
  browser = await launchBrowser(opts.headed);
  const page = await openBenchPage(browser, url, log);
  const adapter = await page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter();
    return a ? { vendor: a.info.vendor, architecture: a.info.architecture } : null;
  });
  if (!adapter) throw new Error('no WebGPU adapter in Chromium (see scripts/chromium-launch.mjs)');
  const isRealGpu = adapter.architecture !== 'swiftshader' && adapter.vendor !== 'google';
  const cfg = suiteConfig(opts, isRealGpu);
  if (!libAvailable(opts.lib)) log(`warning: ${opts.lib} missing (run npm run build); our kernels are recorded as errors`);
  log(`adapter ${adapter.vendor} ${adapter.architecture}; ${cfg.shapes.length} shapes; peers: ${opts.peers || 'none'}`);
  const pageCfg = {
    ...cfg,
    libUrl: fsUrl(opts.lib),
    peers: opts.peers.split(',').map((s) => s.trim()).filter(Boolean),
    ortWasmPaths: fsUrl(join(repoRoot, 'node_modules/onnxruntime-web/dist/')),
  };
  const started = hostMeta();
  const raw: BenchResults = await page.evaluate((c) => window.bench.run(c), pageCfg);
  raw.meta = { ...started, finished: new Date().toISOString(), lib: libMeta(opts.lib), ...raw.meta };
  printReport(raw);
  const stem = opts.out ?? defaultStem('browser');
  log(`\nresults: ${writeResults(raw, stem)}`);
  if (opts.chart) {
    const png = join(resultsDir, `${stem}.png`);
    await screenshotChart(page, raw, png);
    log(`chart:   ${png}`);
  }
} catch (e) {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  exitCode = 1;
} finally {
  await browser?.close();
  await server.close();
}
process.exit(exitCode);
