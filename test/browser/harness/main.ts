// Runs the shared case table in a real page against the built library (dist/), for Playwright.
import { attentionReferenceFull, createAttention } from '../../../dist/index.js';
import type { AttentionContext, KernelChoice } from '../../../dist/index.js';
import { cases, makeInputs } from '../../cases.js';
import { compare } from '../../compare.js';

type Tile = 'auto' | 'wide' | 'workgroup';
const ctxPromises = new Map<Tile, Promise<AttentionContext>>();
const gpuErrors: string[] = [];

/** One context per fused tile: 'auto' (the default), and 'wide' and 'workgroup' forced so the browser's Tint compiles them too. */
function context(tile: Tile): Promise<AttentionContext> {
  let p = ctxPromises.get(tile);
  if (!p) {
    const options = { fusedTile: tile, debug: { poisonOutputs: true } } as Parameters<typeof createAttention>[0];
    p = createAttention(options).then((ctx) => {
      ctx.device.addEventListener('uncapturederror', (e) => gpuErrors.push((e as GPUUncapturedErrorEvent).error.message));
      return ctx;
    });
    ctxPromises.set(tile, p);
  }
  return p;
}

async function runCase(name: string, kernel: KernelChoice, seed: number, withWeights: boolean, tile: Tile = 'auto') {
  const c = cases.find((x) => x.name === name);
  if (!c) throw new Error(`no case named ${name}`);
  const ctx = await context(tile);
  const { q, k, v, options } = makeInputs(c, seed, kernel);
  const ref = attentionReferenceFull(q, k, v, options);
  if (withWeights) {
    const got = await ctx.attentionWithWeights(q, k, v, options);
    return { output: compare(got.output.data, ref.output.data), weights: compare(got.weights.data, ref.weights.data), gpuErrors };
  }
  const out = await ctx.attention(q, k, v, options);
  return { output: compare(out.data, ref.output.data), shapeOk: JSON.stringify(out.shape) === JSON.stringify(ref.output.shape), gpuErrors };
}

Object.assign(window, { runCase, caseNames: cases.map((c) => [c.name, c.kernels ?? null]) });
document.getElementById('status')!.textContent = 'ready';
