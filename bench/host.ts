// Node-side helpers shared by bench/node.ts and bench/browser.ts: the page server, Chromium,
// the chart screenshot, result files and command-line options.
import { mkdirSync, writeFileSync, readFileSync, existsSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import type { Browser, Page } from '@playwright/test';
import type { ViteDevServer } from 'vite';
import type { BenchResults, BenchShape, RepeatPolicy, SuiteConfig } from './suite';
import { SPLIT_TILE_CHOICES, TILE_CHOICES } from '../src/tiles';
import { buildShapes, DEFAULT_POLICY, MIN_REPS, QUICK_POLICY, formatCeilings, formatTable, formatTargets, TIMING_NOTES, CPU_REFERENCE_MAX_FLOPS } from './suite';

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(benchDir, '..');
export const resultsDir = join(benchDir, 'results');
export const distEntry = join(repoRoot, 'dist', 'index.js');

// ---------------------------------------------------------------------------------------------
// Options

export interface CliOptions {
  quick: boolean;
  gpu: boolean;
  shapes?: string;
  kernels: string;
  peers: string;
  reps: number;
  budget: number;
  timeout: number;
  e2e: boolean;
  cpuReference: boolean;
  fusedTile?: string;
  splitTile?: string;
  peerMaxGflop?: number;
  stagedMaxGflop?: number;
  chart: boolean;
  out?: string;
  headed: boolean;
  lib: string;
}

const KERNEL_NAMES = ['auto', 'fused', 'staged', 'split-keys'];
const TILE_NAMES = [...TILE_CHOICES];
const SPLIT_TILE_NAMES = [...SPLIT_TILE_CHOICES];
/**
 * The peers. Both runners can run both; Node only when asked, on Dawn through a navigator.gpu shim
 * (the way to compare with them on a GPU machine without a browser; bench/node.ts).
 */
const PEER_NAMES = ['tfjs', 'ort'];
const DEFAULT_PEERS = { browser: 'tfjs,ort', node: '' } as const;

// Option parsers: a bad value stops the run with commander's message instead of being run as NaN.
/** --reps: the timing rule is the median of at least MIN_REPS timed runs, so fewer is refused. */
function repsArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < MIN_REPS) throw new InvalidArgumentError(`expected a whole number >= ${MIN_REPS} (a median of at least ${MIN_REPS} timed runs).`);
  return n;
}
function positive(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0.');
  return n;
}
function nonNegative(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number >= 0.');
  return n;
}
function listOf(known: string[], allowEmpty: boolean) {
  return (v: string): string => {
    const items = v.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = items.filter((x) => !known.includes(x));
    if (unknown.length > 0) throw new InvalidArgumentError(`unknown: ${unknown.join(', ')}; expected some of ${known.join(', ')}.`);
    if (!allowEmpty && items.length === 0) throw new InvalidArgumentError(`expected some of ${known.join(', ')}.`);
    return items.join(',');
  };
}

function oneOf(known: string[]) {
  return (v: string): string => {
    if (!known.includes(v)) throw new InvalidArgumentError(`expected one of ${known.join(', ')}.`);
    return v;
  };
}

/** Parses the runner's command line (`argv` for tests: then errors throw instead of exiting). */
export function parseCli(name: string, runner: 'node' | 'browser', argv?: string[]): CliOptions {
  const cmd = new Command(name)
    .description('webgpu-attention benchmark (see BENCHMARKS.md)')
    .option('--quick', 'few small shapes, short budgets (smoke check)', false)
    .option('--gpu', 'real GPU: adds L=S=4096 (auto-enabled when the adapter is not SwiftShader)', false)
    .option('--shapes <list>', 'comma-separated substrings of shape ids; !x drops ids containing x (e.g. "L1024,S65536" or "!L2048")')
    .option('--kernels <list>', 'our kernels to time', listOf(KERNEL_NAMES, false), KERNEL_NAMES.join(','))
    .option('--reps <n>', `timed runs per measurement (median reported; at least ${MIN_REPS})`, repsArg)
    .option('--budget <seconds>', 'time budget per measurement: it can cut --reps, never below 5', positive)
    .option('--timeout <seconds>', 'per step (prepare, verify, resident, end-to-end)', positive, 300)
    .option('--staged-max-gflop <n>', 'skip our staged path above this many GFLOP (default: 2.2 on software adapters)', nonNegative)
    .option('--no-e2e', 'skip end-to-end timings')
    .option('--no-cpu-reference', 'skip timing the CPU reference')
    .option('--fused-tile <tile>', `force our fused kernel's tile (${TILE_NAMES.join(', ')}; default auto: measured per adapter)`, oneOf(TILE_NAMES))
    .option('--split-tile <tile>', `force our split-keys (decoding) path's tile (${SPLIT_TILE_NAMES.join(', ')}; default auto: invocation on software adapters, workgroup on GPUs)`, oneOf(SPLIT_TILE_NAMES))
    .option('--no-chart', 'skip the PNG chart')
    .option('--lib <path>', 'built library entry (default dist/index.js)')
    .option('--out <name>', 'results file stem under bench/results/ (default: <runner>-<timestamp>)');
  cmd
    .option('--peers <list>', `peers to run: ${PEER_NAMES.join(',')} (empty string for none)`, listOf(PEER_NAMES, true), DEFAULT_PEERS[runner])
    .option('--peer-max-gflop <n>', 'skip peers on shapes above this many GFLOP (default: 2.2 on software adapters, i.e. L=S <= 1024 at H8 E64; no limit on a real GPU)', nonNegative);
  if (runner === 'browser') cmd.option('--headed', 'show the browser window', false);
  if (argv) cmd.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  cmd.parse(argv ?? process.argv, argv ? { from: 'user' } : undefined);
  const o = cmd.opts();
  if (o.shapes !== undefined && buildShapes({ quick: o.quick, gpu: true, filter: o.shapes }).length === 0) {
    cmd.error(`error: --shapes '${o.shapes}' selects no shape (ids look like ${buildShapes({ quick: o.quick })[0].id})`);
  }
  return {
    quick: o.quick,
    gpu: o.gpu,
    shapes: o.shapes,
    kernels: o.kernels,
    peers: o.peers,
    reps: o.reps ?? (o.quick ? QUICK_POLICY : DEFAULT_POLICY).reps,
    budget: o.budget ?? (o.quick ? QUICK_POLICY : DEFAULT_POLICY).budgetMs / 1000,
    timeout: o.timeout,
    e2e: o.e2e,
    cpuReference: o.cpuReference,
    fusedTile: o.fusedTile,
    splitTile: o.splitTile,
    peerMaxGflop: o.peerMaxGflop,
    stagedMaxGflop: o.stagedMaxGflop,
    chart: o.chart,
    out: o.out,
    headed: o.headed ?? false,
    lib: o.lib ? resolve(o.lib) : distEntry,
  };
}

export function suiteConfig(o: CliOptions, isRealGpu: boolean): SuiteConfig {
  const shapes: BenchShape[] = buildShapes({ quick: o.quick, gpu: o.gpu || isRealGpu, filter: o.shapes });
  // parseCli checked --shapes against the GPU table, which has L=S=4096 too; this adapter's may not.
  if (shapes.length === 0) {
    throw new Error(`--shapes '${o.shapes}' selects no shape on this adapter (L=S=4096 is measured only on a real GPU or with --gpu)`);
  }
  const policy: RepeatPolicy = { warmup: 1, reps: o.reps, budgetMs: o.budget * 1000 };
  return {
    shapes,
    policy,
    kernels: o.kernels.split(',').map((s) => s.trim()).filter(Boolean),
    e2e: o.e2e,
    cpuReference: o.cpuReference,
    fusedTile: o.fusedTile,
    splitTile: o.splitTile,
    verifyMaxFlops: 4e10, // every default shape, L=S=4096 on a GPU included (the float64 reference: ~25 s and ~0.5 GiB there)
    // Software adapters: TFJS runs 0.3-0.5 GFLOP/s there (L=S=2048: ~20 s a run), so peers stop at
    // L=S=1024 unless asked.
    peerMaxFlops: (o.peerMaxGflop ?? (isRealGpu ? Infinity : 2.2)) * 1e9,
    // The staged path writes the whole score matrix; at L=S=2048 that alone is 128 MiB and minutes here.
    stagedMaxFlops: (o.stagedMaxGflop ?? (isRealGpu ? Infinity : 2.2)) * 1e9,
    timeoutMs: o.timeout * 1000,
    ceilings: true,
    rewarmFirst: isRealGpu,
    gpuTable: o.gpu || isRealGpu,
  };
}

// ---------------------------------------------------------------------------------------------
// Environment facts for the results file

export function hostMeta(): Record<string, unknown> {
  const cpu = (() => {
    try {
      const m = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/);
      return m?.[1];
    } catch {
      return undefined;
    }
  })();
  const chromium = (() => {
    try {
      return execFileSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return undefined;
    }
  })();
  const os = (() => {
    try {
      return readFileSync('/etc/os-release', 'utf8').match(/PRETTY_NAME="(.*)"/)?.[1];
    } catch {
      return undefined;
    }
  })();
  return { date: new Date().toISOString(), node: process.version, platform: `${process.platform} ${process.arch}`, os, cpu, cpus: cpus().length, chromium };
}

// ---------------------------------------------------------------------------------------------
// Page server and browser

/** `libEntry`: the library build the page imports (--lib), whose folder the server may serve wherever it is. */
export async function startPageServer(libEntry?: string): Promise<{ server: ViteDevServer; url: string }> {
  const { createServer } = await import('vite');
  const server = await createServer({
    configFile: false,
    root: join(benchDir, 'page'),
    // Our own optimizer cache: sharing node_modules/.vite with the project's Vite/Vitest runs makes
    // each invalidate the other's pre-bundled deps (the page then fails with 504 Outdated Optimize Dep).
    cacheDir: join(repoRoot, 'node_modules/.vite-bench'),
    logLevel: 'warn',
    clearScreen: false,
    server: { host: '127.0.0.1', port: 5199, strictPort: false, fs: { allow: [repoRoot, ...(libEntry ? [dirname(libEntry)] : [])] }, hmr: false },
    // Pre-bundle every dependency up front: a dependency discovered mid-run would make Vite
    // reload the page and lose the run. ORT is already ESM and loads its own wasm (wasmPaths).
    optimizeDeps: {
      noDiscovery: true,
      include: ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-webgpu', 'onnx-proto', 'uplot'],
      exclude: ['onnxruntime-web'],
    },
  });
  await server.listen();
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite server has no local URL');
  return { server, url };
}

/** The page-side URL of a file in the repository (Vite's /@fs/ prefix for files outside the page root). */
export function fsUrl(absPath: string): string {
  return `/@fs${absPath}`;
}

export async function launchBrowser(headed = false): Promise<Browser> {
  const { chromium } = await import('@playwright/test');
  const { chromiumLaunchOptions } = await import('../scripts/chromium-launch.mjs');
  return chromium.launch({ ...chromiumLaunchOptions(), headless: !headed });
}

export async function openBenchPage(browser: Browser, url: string, log: (m: string) => void): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  page.on('pageerror', (e) => log(`[page error] ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') log(`[page ${m.type()}] ${m.text().slice(0, 300)}`);
  });
  await page.exposeFunction('benchLog', (msg: string) => log(msg));
  await page.goto(url, { timeout: 120_000 });
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', undefined, { timeout: 180_000 });
  return page;
}

export async function screenshotChart(page: Page, res: BenchResults, file: string): Promise<void> {
  await page.evaluate((r) => window.bench.drawChart(r), res);
  await page.locator('#chart').screenshot({ path: file });
}

/** For the Node run: draw the chart in the same page (no WebGPU needed), if Chromium is here. */
export async function renderChartStandalone(res: BenchResults, file: string, log: (m: string) => void): Promise<void> {
  const { server, url } = await startPageServer();
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const page = await openBenchPage(browser, url, log);
    await screenshotChart(page, res, file);
  } finally {
    await browser?.close();
    await server.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Output

export function printReport(res: BenchResults, log: (m: string) => void = console.log): void {
  log('');
  if (res.ceilings) log(formatCeilings(res.ceilings));
  log('');
  log(formatTable(res));
  log('');
  for (const n of TIMING_NOTES) log(`  * ${n}`);
  log(`  * CPU reference timed only up to ${(CPU_REFERENCE_MAX_FLOPS / 1e9).toFixed(2)} GFLOP (L=S <= 512 at H8 E64); larger shapes are skipped, not extrapolated.`);
  if (res.targets) {
    log('');
    log('Targets (issue 5):');
    log(formatTargets(res.targets));
  }
}

export function writeResults(res: BenchResults, stem: string): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${stem}.json`);
  writeFileSync(file, JSON.stringify(res, null, 2) + '\n');
  return file;
}

export function defaultStem(runner: string): string {
  return `${runner}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`;
}

/** Which build of the library ran: path, size and a short sha256 (the core changes between runs). */
export function libMeta(entry: string): Record<string, unknown> {
  if (!existsSync(entry)) return { path: entry, missing: true };
  const buf = readFileSync(entry);
  return { path: entry.startsWith(repoRoot) ? entry.slice(repoRoot.length + 1) : entry, bytes: buf.length, sha256: createHash('sha256').update(buf).digest('hex').slice(0, 16), mtime: statSync(entry).mtime.toISOString() };
}

export function libAvailable(entry = distEntry): boolean {
  return existsSync(entry);
}
