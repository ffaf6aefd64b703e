// Section 4: a small in-browser sweep, GFLOP/s vs length for the staged and fused kernels and the
// CPU reference (B1 H4 E64, L = 64..512: well under 30 s on a software adapter).
import uPlot from 'uplot';
import { gpu, handleGpuError, onGpuLost } from './gpu';
import { attentionReference, GPUExecutionError, type KernelChoice } from './lib';
import { $, errorText, exclusive, h, median, ms, nextFrame, randomTensor, registerRunButton, rng, timeCall } from './util';

const LENGTHS = [64, 128, 256, 512];
const H = 4;
const E = 64;
const KERNELS: KernelChoice[] = ['staged', 'fused'];
const COLOURS = { staged: '#1d91c0', fused: '#e6550d', cpu: '#555' };

let plot: uPlot | null = null;

export function buildBench(): void {
  const btn = $('bench-run') as HTMLButtonElement;
  // One run at a time with the playground (exclusive): they share the GPU context and the thread.
  btn.addEventListener('click', () => void exclusive(runBench));
  registerRunButton(btn, () => gpu.lost);
  if (!gpu.ctx) btn.title = 'no WebGPU: only the CPU reference will be measured';
  onGpuLost(() => {
    btn.disabled = true;
  });
}

async function runBench(): Promise<void> {
  const status = $('bench-status');
  status.dataset.state = 'running';
  const series: Record<string, (number | null)[]> = { staged: [], fused: [], cpu: [] };
  const rows: HTMLTableRowElement[] = [];
  const table = $('bench-table');
  table.replaceChildren(h('tr', {}, ...['L', 'staged', 'fused', 'CPU reference'].map((t) => h('th', { text: t }))));
  const started = performance.now();
  try {
    for (const L of LENGTHS) {
      const rand = rng(L);
      const q = randomTensor([1, H, L, E], rand);
      const k = randomTensor([1, H, L, E], rand);
      const v = randomTensor([1, H, L, E], rand);
      const flops = 4 * H * L * L * E;
      const cells: string[] = [String(L)];
      for (const kernel of KERNELS) {
        const ctx = gpu.ctx;
        if (!ctx) {
          series[kernel]!.push(null);
          cells.push('n/a');
          continue;
        }
        status.textContent = `L = ${L}: ${kernel} kernel${kernel === 'fused' && L === LENGTHS[0] ? ' (its tiles are measured once per adapter first)' : ''}…`;
        // Compiles, and for 'fused' runs the one-time tile measurement now rather than in the
        // background halfway through the timed runs (which could then switch tiles mid-sweep).
        // A tile that fails to compile here (a verdict saved by an older browser, say) is not the end:
        // prepare() says so, and the calls fall back to a tile that compiled.
        await ctx.prepare({ batch: 1, heads: H, kvHeads: H, queryLength: L, keyLength: L, headDim: E, valueDim: E }, { kernel })
          .catch((e: unknown) => {
            if (!(e instanceof GPUExecutionError)) throw e;
            console.warn(e.message);
          });
        await ctx.attention(q, k, v, { kernel }); // warm-up: buffer allocation
        const times: number[] = [];
        let spent = 0;
        while (times.length < 5 && (times.length < 2 || spent < 400)) {
          const t0 = performance.now();
          await ctx.attention(q, k, v, { kernel });
          const dt = performance.now() - t0;
          times.push(dt);
          spent += dt;
        }
        const t = median(times);
        series[kernel]!.push(flops / t / 1e6);
        cells.push(`${(flops / t / 1e6).toFixed(3)} GFLOP/s (${ms(t)})`);
      }
      status.textContent = `L = ${L}: CPU reference…`;
      await nextFrame();
      const t = timeCall(() => attentionReference(q, k, v), 3, 300).ms;
      series.cpu!.push(flops / t / 1e6);
      cells.push(`${(flops / t / 1e6).toFixed(3)} GFLOP/s (${ms(t)})`);
      const tr = h('tr', {}, ...cells.map((c) => h('td', { class: 'num', text: c })));
      rows.push(tr);
      table.append(tr);
      draw(LENGTHS.slice(0, series.cpu!.length), series);
    }
    status.textContent = `done in ${((performance.now() - started) / 1000).toFixed(1)} s (B1 H${H} E${E}; GPU times include upload and readback)`;
    status.dataset.state = 'done';
  } catch (e) {
    if (!handleGpuError(e)) console.error(e);
    status.textContent = `failed: ${errorText(e)}`;
    status.dataset.state = 'error';
  }
}

function draw(xs: number[], s: Record<string, (number | null)[]>): void {
  const host = $('bench-chart');
  const data: uPlot.AlignedData = [xs, s.staged!, s.fused!, s.cpu!];
  if (plot) {
    plot.setData(data);
    return;
  }
  const width = Math.min(720, host.clientWidth || 720);
  plot = new uPlot(
    {
      width,
      height: 300,
      scales: { x: { distr: 3, log: 2, time: false }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { label: 'sequence length L = Lq = Lk', values: (_u, ticks) => ticks.map(String) },
        { label: 'GFLOP/s', size: 60 },
      ],
      series: [
        { label: 'L' },
        { label: 'staged', stroke: COLOURS.staged, width: 2, points: { size: 7 } },
        { label: 'fused', stroke: COLOURS.fused, width: 2, points: { size: 7 } },
        { label: 'CPU reference', stroke: COLOURS.cpu, width: 2, dash: [6, 4], points: { size: 7 } },
      ],
    },
    data,
    host,
  );
}
