// Runs the shared case table in a real page against the built library (dist/), for Playwright.
import { attentionReferenceFull, createAttention } from '../../../dist/index.js';
import type { AttentionContext, KernelChoice } from '../../../dist/index.js';
import { cases, makeInputs } from '../../cases.js';
import { compare, LSE_FLOOR } from '../../compare.js';

/** 'plain': a device without 'subgroups', so the plain kernels run (as on GPUs), not the quad-shared ones. */
type Tile = 'auto' | 'wide' | 'workgroup' | 'plain';
type Mode = 'output' | 'weights' | 'lse';
const ctxPromises = new Map<Tile, Promise<AttentionContext>>();
const gpuErrors: string[] = [];

/** One context per fused tile: 'auto' (the default), and 'wide' and 'workgroup' forced so the browser's Tint compiles them too. */
function context(tile: Tile): Promise<AttentionContext> {
  let p = ctxPromises.get(tile);
  if (!p) {
    p = (async () => {
      let device: GPUDevice | undefined;
      if (tile === 'plain') {
        const adapter = await navigator.gpu.requestAdapter();
        if (!adapter) throw new Error('no WebGPU adapter');
        device = await adapter.requestDevice({
          requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
        });
      }
      const options = { device, fusedTile: tile === 'plain' ? 'compact' : tile, debug: { poisonOutputs: true } } as Parameters<typeof createAttention>[0];
      const ctx = await createAttention(options);
      ctx.device.addEventListener('uncapturederror', (e) => gpuErrors.push((e as GPUUncapturedErrorEvent).error.message));
      return ctx;
    })();
    ctxPromises.set(tile, p);
  }
  return p;
}

async function runCase(name: string, kernel: KernelChoice, seed: number, mode: Mode = 'output', tile: Tile = 'auto') {
  const c = cases.find((x) => x.name === name);
  if (!c) throw new Error(`no case named ${name}`);
  const ctx = await context(tile);
  const { q, k, v, options } = makeInputs(c, seed, kernel);
  const ref = attentionReferenceFull(q, k, v, options);
  const same = (a: readonly number[], b: readonly number[]) => JSON.stringify(a) === JSON.stringify(b);
  if (mode === 'weights') {
    const got = await ctx.attentionWithWeights(q, k, v, options);
    return {
      output: compare(got.output.data, ref.output.data),
      weights: compare(got.weights.data, ref.weights.data),
      shapeOk: same(got.output.shape, ref.output.shape) && same(got.weights.shape, ref.weights.shape),
      gpuErrors,
    };
  }
  if (mode === 'lse') {
    const got = await ctx.attentionWithLogSumExp(q, k, v, options);
    return {
      output: compare(got.output.data, ref.output.data),
      lse: compare(got.logSumExp.data, ref.logSumExp.data, LSE_FLOOR),
      shapeOk: same(got.output.shape, ref.output.shape) && same(got.logSumExp.shape, ref.logSumExp.shape),
      gpuErrors,
    };
  }
  const out = await ctx.attention(q, k, v, options);
  return { output: compare(out.data, ref.output.data), shapeOk: same(out.shape, ref.output.shape), gpuErrors };
}

Object.assign(window, { runCase, caseNames: cases.map((c) => [c.name, c.kernels ?? null]) });
document.getElementById('status')!.textContent = 'ready';
