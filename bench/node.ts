// `npm run bench`: our kernels, the ceilings and the CPU reference in Node, on Dawn's `webgpu` package.
// Peers only when asked (`--peers tfjs,ort`), through a navigator.gpu shim on the same Dawn instance,
// so that a GPU machine without a browser can compare with them too.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AttentionLib, BenchResults, Peer } from './suite';
import { SWIFTSHADER_ICDS } from '../src/device';
import { copySharedUploads } from './shared-uploads';
import { errorText, requestBenchDevice, runSuite } from './suite';
import { benchDir, defaultStem, hostMeta, libAvailable, libMeta, parseCli, printReport, renderChartStandalone, resultsDir, suiteConfig, writeResults } from './host';

const opts = parseCli('bench', 'node');
const log = (m: string) => console.log(m);

// Dawn needs SwiftShader's Vulkan driver named before it loads (it adds to, never replaces, real drivers).
const swiftshaderIcd = SWIFTSHADER_ICDS.find((p) => existsSync(p));
if (swiftshaderIcd) process.env.VK_ADD_DRIVER_FILES ??= swiftshaderIcd;

const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);
// Keep `gpu` referenced for the whole run: a collected instance takes its devices down with it.
// Dawn rounds timestamps down to 2^16 ns (65.5 µs) unless told not to: on a GPU, where a call
// takes 0.05-5 ms, that rounding was most of the reading (an H200, session 17).
const gpu = create(['disable-dawn-features=timestamp_quantization']);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.error('no WebGPU adapter from the `webgpu` package (is VK_ADD_DRIVER_FILES set to a Vulkan driver?)');
  process.exit(1);
}
const device = await requestBenchDevice(adapter);
const peers: Peer[] = [];
const peerNames = opts.peers.split(',').filter(Boolean);
if (peerNames.length > 0) {
  // TFJS's WebGPU backend and ORT's WebGPU EP ask navigator.gpu for their own adapter and device
  // (Node 20 has no navigator).
  const nav = ((globalThis as { navigator?: object }).navigator ??= {});
  Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  const { ortPeer, tfjsPeer } = await import('./page/peers');
  if (peerNames.includes('tfjs')) peers.push(tfjsPeer());
  if (peerNames.includes('ort')) {
    copySharedUploads(Object.getPrototypeOf(device.queue) as GPUQueue); // ORT's own device's queue shares it
    peers.push(ortPeer(pathToFileURL(join(benchDir, '../node_modules/onnxruntime-web/dist/')).href));
  }
}
device.addEventListener('uncapturederror', (e) => log(`uncaptured GPU error: ${(e as GPUUncapturedErrorEvent).error.message}`));

let lib: AttentionLib | undefined;
let libError: string | undefined;
if (libAvailable(opts.lib)) {
  try {
    lib = (await import(pathToFileURL(opts.lib).href)) as AttentionLib;
  } catch (e) {
    libError = `library failed to load: ${errorText(e)}`;
  }
} else {
  libError = `${opts.lib} missing (run npm run build)`;
}
if (libError) log(`warning: ${libError}; our kernels are recorded as errors`);

const info = adapter.info;
const isRealGpu = info.architecture !== 'swiftshader' && info.vendor !== 'google';
const cfg = suiteConfig(opts, isRealGpu);
log(`adapter ${info.vendor} ${info.architecture} (${info.description}); ${cfg.shapes.length} shapes`);
const meta = {
  ...hostMeta(),
  lib: libMeta(opts.lib),
  webgpuPackage: JSON.parse(readFileSync(join(benchDir, '../node_modules/webgpu/package.json'), 'utf8')).version,
  adapter: { vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description },
  features: [...adapter.features].sort(),
  limits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
};
const shaders = {
  fma: readFileSync(join(benchDir, 'shaders/fma-ceiling.wgsl'), 'utf8'),
  fmaLooped: readFileSync(join(benchDir, 'shaders/fma-looped.wgsl'), 'utf8'),
  copy: readFileSync(join(benchDir, 'shaders/copy-bandwidth.wgsl'), 'utf8'),
};
let exitCode = 0;
const stem = opts.out ?? defaultStem('node');
try {
  // The file is rewritten after every shape (meta.partial says how far it got), then once more at the end.
  const onShape = (partial: BenchResults) => void writeResults(partial, stem);
  const res = await runSuite('node', cfg, { device, lib, libError, shaders, peers, log, onShape }, meta);
  res.meta.finished = new Date().toISOString();
  printReport(res);
  log(`\nresults: ${writeResults(res, stem)}`);
  if (opts.chart) {
    const png = join(resultsDir, `${stem}.png`);
    try {
      await renderChartStandalone(res, png, log);
      log(`chart:   ${png}`);
    } catch (e) {
      log(`chart skipped (needs Chromium): ${errorText(e)}`);
    }
  }
} catch (e) {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  exitCode = 1;
}
device.destroy();
void gpu;
process.exit(exitCode);
