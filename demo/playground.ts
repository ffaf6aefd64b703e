// Section 2 + 3a: random q, k, v of a chosen shape, run on the GPU and on the CPU reference;
// timings, GFLOP/s, max error, and a heatmap of one (batch, head) of the weights.
import { gpu, handleGpuError } from './gpu';
import { Heatmap } from './heatmap';
import { attentionReferenceFull, DeviceLostError, type AttentionOptions, type CausalOption, type KernelChoice } from './lib';
import { $, errorText, exclusive, h, maxAbsDiff, median, ms, nextFrame, randomTensor, rate, ratio, rng, sci, timeCall } from './util';

/** The heatmap needs all weights read back; above this many the playground skips it. */
const MAX_WEIGHTS = 4 << 20;
/**
 * The page's own limits (each field's range alone allows B16 H32 4096×4096): the CPU reference
 * keeps every weight (4 bytes per (query, key) pair, 64 MiB here) and runs on the page's thread
 * at ~1-4 GFLOP/s, so a larger run would freeze the tab for minutes.
 */
const MAX_PAIRS = 16 << 20;
const MAX_FLOPS = 4e9;
/** Floats in any one of q, k, v or the output (64 MiB: also under WebGPU's default 128 MiB binding). */
const MAX_TENSOR = 16 << 20;

/** A shape over the page's limits: reported in the status line, not as a console error. */
class TooLarge extends Error {}

const RESULTS = ['r-gpu', 'r-cpu', 'r-speedup', 'r-gflops', 'r-cpu-gflops', 'max-error', 'r-weights-error'];

interface Params {
  B: number;
  H: number;
  Lq: number;
  Lk: number;
  E: number;
  causal: 'off' | 'top-left' | 'bottom-right';
  density: number;
  kernel: KernelChoice;
}

const FIELDS: { id: keyof Params; label: string; min: number; max: number; value: number; step?: number; title?: string }[] = [
  { id: 'B', label: 'batch', min: 1, max: 16, value: 1 },
  { id: 'H', label: 'heads', min: 1, max: 32, value: 2 },
  { id: 'Lq', label: 'Lq', min: 1, max: 4096, value: 64, title: 'query length' },
  { id: 'Lk', label: 'Lk', min: 1, max: 4096, value: 64, title: 'key length' },
  { id: 'E', label: 'E', min: 1, max: 256, value: 32, title: 'head width (q, k and v rows)' },
  { id: 'density', label: 'mask density', min: 0, max: 0.95, value: 0, step: 0.05, title: 'fraction of (query, key) pairs hidden by a random boolean mask; 0 = no mask' },
];

let map: Heatmap;
let last: { weights: Float32Array; B: number; H: number; Lq: number; Lk: number } | null = null;

export function buildPlayground(): void {
  const form = $('playground-form') as HTMLFormElement;
  for (const f of FIELDS) {
    form.append(
      h(
        'label',
        { title: f.title },
        h('span', { text: f.label }),
        h('input', { type: 'number', id: `p-${f.id}`, name: f.id, min: f.min, max: f.max, step: f.step ?? 1, value: f.value, required: true }),
      ),
    );
  }
  form.append(
    select('causal', 'causal', ['off', 'top-left', 'bottom-right']),
    select('kernel', 'kernel', ['auto', 'staged', 'fused']),
    // Enabled by main.ts once the GPU context is made (registerRunButton): a run before that would
    // take the CPU-only path on a machine that has WebGPU.
    h('button', { type: 'submit', 'data-testid': 'run', id: 'run', class: 'primary', text: 'Run', disabled: true }),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void run();
  });

  map = new Heatmap('heatmap', 440);
  const bSel = h('input', { type: 'number', id: 'hm-batch', min: 0, value: 0, 'data-testid': 'heatmap-batch' });
  const hSel = h('input', { type: 'number', id: 'hm-head', min: 0, value: 0, 'data-testid': 'heatmap-head' });
  bSel.addEventListener('input', drawMap);
  hSel.addEventListener('input', drawMap);
  $('heatmap-controls').append(h('label', {}, h('span', { text: 'batch' }), bSel), h('label', {}, h('span', { text: 'head' }), hSel));
  $('heatmap-host').append(map.root);
}

function select(id: string, label: string, options: string[]): HTMLElement {
  const s = h('select', { id: `p-${id}`, name: id });
  for (const o of options) s.append(h('option', { value: o, text: o }));
  return h('label', {}, h('span', { text: label }), s);
}

function params(): Params {
  const num = (id: string) => Number(($(`p-${id}`) as HTMLInputElement).value);
  const int = (id: keyof Params, f = FIELDS.find((x) => x.id === id)!) => Math.min(f.max, Math.max(f.min, Math.round(num(id))));
  return {
    B: int('B'),
    H: int('H'),
    Lq: int('Lq'),
    Lk: int('Lk'),
    E: int('E'),
    density: Math.min(0.95, Math.max(0, num('density') || 0)),
    causal: ($('p-causal') as HTMLSelectElement).value as Params['causal'],
    kernel: ($('p-kernel') as HTMLSelectElement).value as KernelChoice,
  };
}

function setResult(id: string, text: string): void {
  $(id).textContent = text;
}

let runs = 0;

/** One playground run, unless the page is running something else (the benchmark). */
export async function run(): Promise<void> {
  await exclusive(runOnce);
}

/** One playground run; the caller holds the page (exclusive). */
export async function runOnce(): Promise<void> {
  const status = $('run-status');
  status.dataset.state = 'running';
  for (const id of RESULTS) setResult(id, '…');
  $('max-error').classList.remove('bad');
  delete $('max-error').dataset.value;
  try {
    const p = params();
    const pairs = p.B * p.H * p.Lq * p.Lk;
    if (pairs > MAX_PAIRS) {
      throw new TooLarge(
        `B·H·Lq·Lk is ${pairs.toLocaleString()}, above this page's ${MAX_PAIRS.toLocaleString()} ` +
          '(the CPU reference keeps every weight): make the batch, heads or lengths smaller',
      );
    }
    if (4 * pairs * p.E > MAX_FLOPS) {
      throw new TooLarge(
        `4·B·H·Lq·Lk·E is ${(4 * pairs * p.E / 1e9).toFixed(2)} GFLOP, above this page's ${MAX_FLOPS / 1e9} GFLOP ` +
          '(the CPU reference would hold the page for a long time): make the shape smaller',
      );
    }
    const tensor = p.B * p.H * Math.max(p.Lq, p.Lk) * p.E;
    if (tensor > MAX_TENSOR) {
      throw new TooLarge(
        `B·H·max(Lq, Lk)·E is ${tensor.toLocaleString()} floats, above this page's ${MAX_TENSOR.toLocaleString()} ` +
          'for one of q, k, v or the output: make the batch, heads, lengths or E smaller',
      );
    }
    const rand = rng(1234);
    const q = randomTensor([p.B, p.H, p.Lq, p.E], rand);
    const k = randomTensor([p.B, p.H, p.Lk, p.E], rand);
    const v = randomTensor([p.B, p.H, p.Lk, p.E], rand);
    const opts: AttentionOptions = { kernel: p.kernel };
    if (p.causal !== 'off') opts.causal = p.causal as CausalOption;
    if (p.density > 0) {
      const m = new Uint8Array(p.B * p.H * p.Lq * p.Lk);
      for (let i = 0; i < m.length; i++) m[i] = rand() >= p.density ? 1 : 0;
      opts.mask = { data: m, shape: [p.B, p.H, p.Lq, p.Lk] };
    }
    const flops = 4 * p.B * p.H * p.Lq * p.Lk * p.E;
    const wantWeights = p.B * p.H * p.Lq * p.Lk <= MAX_WEIGHTS;

    status.textContent = 'running the CPU reference…';
    await nextFrame();
    const { ms: cpuMs, result: ref } = timeCall(() => attentionReferenceFull(q, k, v, opts), 5, 300);
    setResult('r-cpu', ms(cpuMs));
    setResult('r-cpu-gflops', rate(flops / cpuMs / 1e6));

    let weights: Float32Array | null = wantWeights ? ref.weights.data : null;
    let weightsFrom = 'CPU reference';
    const ctx = gpu.ctx;
    let gpuLost = false;
    if (ctx) try {
      status.textContent = 'running on the GPU (the first call compiles the shaders)…';
      await nextFrame();
      const c0 = performance.now();
      let out = await ctx.attention(q, k, v, opts);
      const coldMs = performance.now() - c0;
      const gpuTimes: number[] = [];
      let spent = 0;
      while (gpuTimes.length < 7 && (gpuTimes.length < 2 || spent < 500)) {
        const t0 = performance.now();
        out = await ctx.attention(q, k, v, opts);
        const dt = performance.now() - t0;
        gpuTimes.push(dt);
        spent += dt;
      }
      const gpuMs = median(gpuTimes);
      const err = maxAbsDiff(out.data, ref.output.data);
      setResult('r-gpu', `${ms(gpuMs)} (first call ${ms(coldMs)})`);
      setResult('r-speedup', ratio(cpuMs / gpuMs));
      setResult('r-gflops', rate(flops / gpuMs / 1e6));
      setResult('max-error', sci(err));
      $('max-error').dataset.value = String(err);
      $('max-error').classList.toggle('bad', !(err < 1e-4));
      if (wantWeights) {
        status.textContent = 'reading the weights back (staged kernel)…';
        const wr = await ctx.attentionWithWeights(q, k, v, { ...opts, kernel: 'auto' });
        weights = wr.weights.data;
        weightsFrom = 'GPU, staged kernel';
        setResult('r-weights-error', sci(maxAbsDiff(weights, ref.weights.data)));
      } else setResult('r-weights-error', 'not read back');
    } catch (e) {
      // The device lost mid-run: the banner says so; the CPU results and map of this run still stand.
      if (!(e instanceof DeviceLostError)) throw e;
      handleGpuError(e);
      gpuLost = true;
      weights = wantWeights ? ref.weights.data : null;
      weightsFrom = 'CPU reference';
    }
    if (!ctx || gpuLost) {
      const why = gpuLost ? 'n/a (GPU device lost)' : 'n/a (no WebGPU)';
      for (const id of ['r-gpu', 'r-speedup', 'r-gflops', 'max-error', 'r-weights-error']) setResult(id, why);
    }

    if (weights) {
      last = { weights, B: p.B, H: p.H, Lq: p.Lq, Lk: p.Lk };
      showMap(true);
      ($('hm-batch') as HTMLInputElement).max = String(p.B - 1);
      ($('hm-head') as HTMLInputElement).max = String(p.H - 1);
      drawMap();
      $('heatmap-note').textContent = `weights from the ${weightsFrom}; colours scaled to this head's largest weight.`;
    } else {
      last = null;
      showMap(false);
      $('heatmap-note').textContent = `B·H·Lq·Lk above ${MAX_WEIGHTS.toLocaleString()}: weights not read back, no heatmap.`;
    }
    status.textContent = `done${gpuLost ? ' on the CPU only (the GPU device was lost during the run)' : ''}: ` +
      `B${p.B} H${p.H} Lq${p.Lq} Lk${p.Lk} E${p.E}, ${(flops / 1e6).toFixed(1)} MFLOP`;
    status.dataset.state = 'done';
  } catch (e) {
    if (!(e instanceof TooLarge) && !handleGpuError(e)) console.error(e);
    status.textContent = `failed: ${e instanceof TooLarge ? e.message : errorText(e)}`;
    status.dataset.state = 'error';
    // Nothing is still running: fields this run did not reach say so, and no map of an older run stays.
    for (const id of RESULTS) if ($(id).textContent === '…') setResult(id, '–');
    last = null;
    showMap(false);
    $('heatmap-note').textContent = 'no heatmap: the run failed.';
  } finally {
    // Tests wait for this counter to move: one more finished run (done or error).
    status.dataset.runs = String(++runs);
  }
}

/** Shows or hides the playground's heatmap and its batch/head controls. */
function showMap(on: boolean): void {
  map.root.hidden = !on;
  $('heatmap-controls').hidden = !on;
}

function drawMap(): void {
  if (!last) return;
  const clamp = (id: string, n: number) => {
    const el = $(id) as HTMLInputElement;
    const x = Math.min(n - 1, Math.max(0, Math.round(Number(el.value) || 0)));
    if (String(x) !== el.value) el.value = String(x);
    return x;
  };
  const b = clamp('hm-batch', last.B);
  const hd = clamp('hm-head', last.H);
  const n = last.Lq * last.Lk;
  const off = (b * last.H + hd) * n;
  map.draw({ weights: last.weights.subarray(off, off + n), rows: last.Lq, cols: last.Lk });
}
