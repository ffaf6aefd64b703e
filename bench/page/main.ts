// The browser side of the benchmark: bench/browser.ts opens this page and calls window.bench.run().
import fmaWgsl from '../shaders/fma-ceiling.wgsl?raw';
import fmaLoopedWgsl from '../shaders/fma-looped.wgsl?raw';
import copyWgsl from '../shaders/copy-bandwidth.wgsl?raw';
import type { AttentionLib, BenchResults, BenchShape, Peer, RepeatPolicy, SuiteConfig } from '../suite';
import { errorText, requestBenchDevice, runSuite } from '../suite';
import { drawChart } from './chart';
import { ortPeer, tfjsPeer } from './peers';

export interface PageConfig extends Omit<SuiteConfig, 'shapes' | 'policy'> {
  shapes: BenchShape[];
  policy: RepeatPolicy;
  /** URL of the built library (dist/index.js) as this server serves it. */
  libUrl: string;
  peers: string[];
  ortWasmPaths: string;
}

declare global {
  interface Window {
    bench: { run(cfg: PageConfig): Promise<BenchResults>; drawChart(res: BenchResults): void };
    /** Exposed by bench/browser.ts (Playwright exposeFunction) to stream progress to the terminal. */
    benchLog?: (msg: string) => Promise<void>;
  }
}

const status = document.getElementById('status')!;
const logEl = document.getElementById('log')!;

function log(msg: string): void {
  logEl.textContent += msg + '\n';
  void window.benchLog?.(msg);
}

async function run(cfg: PageConfig): Promise<BenchResults> {
  status.textContent = 'running ...';
  if (!navigator.gpu) throw new Error('no navigator.gpu in this browser');
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned null');
  const device = await requestBenchDevice(adapter);
  device.addEventListener('uncapturederror', (e) => log(`uncaptured GPU error: ${(e as GPUUncapturedErrorEvent).error.message}`));
  let lib: AttentionLib | undefined;
  let libError: string | undefined;
  try {
    lib = (await import(/* @vite-ignore */ cfg.libUrl)) as AttentionLib;
  } catch (e) {
    libError = `library not loaded (${cfg.libUrl}): ${errorText(e)}`;
    log(libError);
  }
  const peers: Peer[] = [];
  if (cfg.peers.includes('tfjs')) peers.push(tfjsPeer());
  if (cfg.peers.includes('ort')) peers.push(ortPeer(cfg.ortWasmPaths));
  const info = adapter.info;
  const meta = {
    userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency,
    adapter: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description },
    features: [...adapter.features].sort(),
    limits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
    crossOriginIsolated: globalThis.crossOriginIsolated,
  };
  const res = await runSuite('browser', { ...cfg }, { device, lib, libError, shaders: { fma: fmaWgsl, fmaLooped: fmaLoopedWgsl, copy: copyWgsl }, peers, log }, meta);
  device.destroy();
  status.textContent = 'done';
  return res;
}

window.bench = {
  run,
  drawChart: (res) => drawChart(document.getElementById('chart')!, res),
};
status.textContent = 'ready';
