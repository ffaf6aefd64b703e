// GFLOP/s against sequence length, drawn with uPlot; bench/browser.ts and bench/node.ts screenshot #chart.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { BenchResults } from '../suite';
import { gflops, shapeLabel } from '../suite';

const COLORS: Record<string, string> = {
  'ours:auto': '#1b7f3b',
  'ours:fused': '#2c6fbb',
  'ours:staged': '#8e44ad',
  tfjs: '#e67e22',
  ort: '#c0392b',
  'cpu-reference': '#7f8c8d',
};

export function drawChart(el: HTMLElement, res: BenchResults): void {
  // The L = S sweep (B1 H8 E64), non-causal solid and causal dashed; resident GFLOP/s.
  const sweep = res.shapes.filter((s) => s.group === 'sweep');
  const lengths = [...new Set(sweep.map((s) => s.Lq))].sort((a, b) => a - b);
  const impls = [...new Set(res.rows.map((r) => r.impl))].filter((i) => res.rows.some((r) => r.impl === i && r.resident));
  const series: uPlot.Series[] = [{ label: 'L = S' }];
  const anyGpuTime = res.rows.some((r) => r.resident?.timing === 'timestamp-query');
  const data: (number | null)[][] = [lengths];
  for (const impl of impls) {
    for (const causal of [false, true]) {
      const ys = lengths.map((L) => {
        const s = sweep.find((x) => x.Lq === L && x.causal === causal);
        const r = s && res.rows.find((x) => x.impl === impl && x.shapeId === s.id);
        const g = r && gflops(r, 'resident');
        return g === undefined ? null : g;
      });
      if (ys.every((y) => y === null)) continue;
      // A peer timed by wall clock (ORT) beside GPU times says so in its label.
      const wall = anyGpuTime && res.rows.some((r) => r.impl === impl && r.resident?.timing === 'wall-clock');
      series.push({ label: `${impl}${causal ? ' causal' : ''}${wall ? ' (wall clock)' : ''}`, spanGaps: true, stroke: COLORS[impl] ?? '#333', width: 2, dash: causal ? [6, 4] : undefined, points: { show: true } });
      data.push(ys);
    }
  }
  if (res.ceilings) {
    series.push({ label: 'FMA ceiling', stroke: '#000', width: 1, dash: [2, 3], points: { show: false } });
    data.push(lengths.map(() => res.ceilings!.fma.gflops));
  }
  el.innerHTML = '';
  const title = document.createElement('h2');
  title.textContent = `Attention GFLOP/s (GPU-resident${anyGpuTime ? ', GPU time' : ', wall clock'}) vs sequence length, ${res.runner} run`;
  const sub = document.createElement('p');
  const adapter = (res.meta.adapter ?? {}) as Record<string, string>;
  sub.textContent = `${sweep[0] ? shapeLabel({ ...sweep[0], Lq: 0, Lk: 0 }).replace(' L0 S0', ' L=S') : ''}; adapter ${adapter.vendor ?? '?'} ${adapter.architecture ?? ''}; causal dashed (nominal FLOPs); log-log axes.`;
  el.append(title, sub);
  new uPlot(
    {
      width: 880,
      height: 440,
      series,
      scales: { x: { time: false, distr: 3, log: 2 }, y: { distr: 3, log: 10 } },
      axes: [
        { label: 'sequence length L = S', values: (_u, v) => v.map((x) => (x == null ? '' : String(x))) },
        { label: 'GFLOP/s', size: 60, values: (_u, v) => v.map((x) => (x == null ? '' : x >= 1 ? x.toFixed(0) : x.toPrecision(1))) },
      ],
      legend: { show: true, live: false },
    },
    data as uPlot.AlignedData,
    el,
  );
}
