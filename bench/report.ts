// Prints a results JSON as Markdown (for BENCHMARKS.md): `tsx bench/report.ts bench/results/reference-browser.json`.
import { readFileSync } from 'node:fs';
import type { BenchResults } from './suite';
import { evaluateTargets, formatTable, formatTargets, TIMING_NOTES } from './suite';

for (const file of process.argv.slice(2)) {
  const res = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  const m = res.meta as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const out: string[] = [];
  out.push(`### ${res.runner} run (${file.split('/').pop()})`, '');
  out.push(`- date ${m.date}; Node ${m.node}; ${m.os ?? ''}; ${m.cpus} CPUs (${m.cpu ?? '?'})`);
  if (res.runner === 'browser') out.push(`- ${m.chromium ?? 'chromium ?'}; peers: ${Object.values(m.peers ?? {}).join('; ') || 'none'}`);
  else out.push(`- \`webgpu\` package ${m.webgpuPackage} (Dawn)`);
  out.push(`- adapter: ${m.adapter?.vendor} / ${m.adapter?.architecture} / ${m.adapter?.description ?? ''}`);
  if (res.ceilings) {
    const c = res.ceilings;
    out.push(
      `- FMA ceiling **${c.fma.gflops.toFixed(2)} GFLOP/s** (median of ${c.fma.measurement.reps}, ${c.fma.measurement.timing}); ` +
        `copy bandwidth **${c.copy.gbps.toFixed(2)} GB/s** (read + write, ${(c.copy.bufferBytes / 2 ** 20).toFixed(0)} MiB buffers, median of ${c.copy.measurement.reps})` +
        (c.fmaLooped ? `; the looped FMA kernel (one step per iteration, not a ceiling) ${c.fmaLooped.gflops.toFixed(2)} GFLOP/s` : ''),
    );
  }
  out.push('', formatTable(res), '');
  // Recomputed from the rows, so a results file reads the same under the current rules.
  out.push('Targets (issue 5):', '', '```', formatTargets(evaluateTargets(res)), '```', '');
  out.push(...TIMING_NOTES.map((n) => `- ${n}`), '');
  console.log(out.join('\n'));
}
