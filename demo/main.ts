// The demo page: wires the sections together. The GPU context is created once; everything still
// works (on the CPU reference) when WebGPU is missing.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { buildBench } from './bench';
import { gpu, initGpu } from './gpu';
import { buildPlayground, runOnce } from './playground';
import { runSeed } from './seed';
import { runSentence } from './sentence';
import { $, exclusive, registerRunButton } from './util';

declare global {
  interface Window {
    /** For tests and the console: the page's GPU state. */
    demo: { gpu: typeof gpu; ready: Promise<void> };
  }
}

async function main(): Promise<void> {
  buildPlayground();
  await initGpu();
  $('adapter').textContent = gpu.ctx
    ? `WebGPU adapter: ${gpu.adapter || 'unknown'}`
    : 'No WebGPU: showing CPU reference results only.';
  registerRunButton($('run') as HTMLButtonElement);
  buildBench();
  // The page's own first GPU work holds the page as a run does: a click meanwhile waits for it.
  await exclusive(async () => {
    await runSeed();
    await runSentence();
    await runOnce();
  });
  document.body.dataset.ready = 'true';
}

window.demo = { gpu, ready: main() };
