// `npm run check:gpu`: the shared case table (test/cases.ts) on every kernel and every fused tile,
// against the float64 CPU reference, on the adapter Dawn finds (a real GPU where there is one). It
// is the core of test/gpu.test.ts and its forced-tile suites without vitest, so that it runs on a GPU machine that has only Node:
// scripts/gpu-pack.mjs bundles it and `bash .gpu/run.sh check` runs it there. Fresh seed each run
// (printed; --seed repeats one); outputs poisoned with NaN; any uncaptured GPU error fails it.
// Besides the fused tiles, 'split-invocation' and 'split-workgroup' force the split-keys path's
// tiles (every case that runs on split-keys, output and log-sum-exp). Each context also runs the
// numerics scenarios (test/numerics-scenarios.ts: huge logits, -Infinity masks, dead rows, NaN and
// Inf in q, k and v) on its kernels, since a GPU compiler may assume no NaN or Inf. On a forced tile
// every case's call must also have run that tile's kernels (test/dispatches.ts).
//   tsx scripts/gpu-check.ts [--tiles auto,compact,wide,workgroup,held-keys,split-workgroup] [--seed N] [--cases control,E 128]
import { parseArgs } from 'node:util';
import type { KernelChoice } from '../src/index.js';
import { quadSharing, softwareAdapter, TILE_CHOICES } from '../src/tiles.js';
import { ALL_KERNELS, cases as allCases, heldKeys32Cases as allHeldKeys32Cases, type Case } from '../test/cases.js';
import { agrees, type Agreement } from '../test/compare.js';
import { ranTile, tileRule } from '../test/dispatches.js';
import { gpuFixture, type GPUFixture } from '../test/gpu-context.js';
import { numericsScenarios } from '../test/numerics-scenarios.js';
import { runSeed } from '../test/random.js';
import { runCase, type CaseCheck } from '../test/run-case.js';

const { values } = parseArgs({ options: { tiles: { type: 'string' }, seed: { type: 'string' }, cases: { type: 'string' } } });
// --cases: only the table's cases whose names contain one of these (comma-separated) substrings.
const only = values.cases?.split(',').map((x) => x.trim()).filter(Boolean);
const picked = (c: Case) => !only || only.some((x) => c.name.includes(x));
const cases = allCases.filter(picked);
const heldKeys32Cases = allHeldKeys32Cases.filter(picked);
if (cases.length + heldKeys32Cases.length === 0) {
  console.error(`--cases: no case name contains ${only!.map((x) => JSON.stringify(x)).join(' or ')}`);
  process.exit(2);
}
const SPLIT_TILES = ['split-invocation', 'split-workgroup'] as const;
const CHOICES: readonly string[] = [...TILE_CHOICES, ...SPLIT_TILES];
let tiles = (values.tiles ?? CHOICES.join(',')).split(',').map((t) => t.trim());
const unknown = tiles.filter((t) => !CHOICES.includes(t));
if (unknown.length > 0) {
  console.error(`--tiles: unknown ${unknown.join(', ')}; expected some of ${CHOICES.join(', ')}`);
  process.exit(2);
}
if (values.seed !== undefined) {
  if (!/^\d+$/.test(values.seed)) {
    console.error(`--seed: expected a whole number, got ${JSON.stringify(values.seed)}`);
    process.exit(2);
  }
  process.env.TEST_SEED = values.seed;
}
const seed = runSeed();

let failures = 0;
let adapterShown = false;
let worst = { relL2: 0, maxAbs: 0 };

/** One failed check, printed with why. */
function fail(label: string, why: string): void {
  failures++;
  console.log(`  FAIL ${label}: ${why}`);
}

const threw = (e: unknown) => `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;

function record(label: string, a: Agreement): void {
  worst = { relL2: Math.max(worst.relL2, a.relL2), maxAbs: Math.max(worst.maxAbs, a.maxAbs) };
  if (!agrees(a)) {
    fail(label, JSON.stringify(a));
  }
}

/**
 * One case on one context: the output, and the log-sum-exp or the weights where asked. `rule`: on a
 * forced tile, the test/dispatches.ts rule its kernels must meet (a right answer from another tile,
 * e.g. after a compile fallback, would pass the comparison).
 */
async function check(fx: GPUFixture, where: string, c: Case, kernel: KernelChoice, what: CaseCheck, rule?: string): Promise<void> {
  const label = `${c.name} on ${kernel} (${where}), ${what}`;
  const from = fx.dispatched.length;
  try {
    for (const [result, a] of await runCase(fx.ctx, c, seed, kernel, what)) record(`${label} (${result})`, a);
    const ran = fx.dispatched.slice(from);
    if (rule && !ranTile(rule, c, ran, quadSharing(fx.ctx.device))) {
      fail(label, `not the ${rule} tile's kernels: ran ${[...new Set(ran.map((d) => d.kernel))].join(', ')}`);
    }
  } catch (e) {
    fail(label, threw(e));
  }
  if (fx.errors.length > 0) {
    fail(label, `uncaptured GPU errors ${JSON.stringify(fx.errors.splice(0))}`);
  }
}

const runsOn = (c: Case, kernel: KernelChoice) => (c.kernels ?? ALL_KERNELS).includes(kernel);
const fusedCases = cases.filter((c) => runsOn(c, 'fused'));

const started = performance.now();
console.log(`gpu-check: seed ${seed} (repeat with --seed ${seed}); tiles ${tiles.join(', ')}`);
for (const tile of tiles) {
  const t0 = performance.now();
  const failedBefore = failures;
  worst = { relL2: 0, maxAbs: 0 };
  const split = tile === 'split-invocation' ? 'invocation' : tile === 'split-workgroup' ? 'workgroup' : undefined;
  const fx = await gpuFixture(split ? { splitKeysTile: split } : { fusedTile: tile as (typeof TILE_CHOICES)[number] });
  if (!adapterShown) {
    adapterShown = true;
    const info = fx.ctx.device.adapterInfo;
    console.log(`adapter: ${info.vendor} ${info.architecture} ${info.device} (${info.description})`);
    // Unasked, the wide tile is left out on GPUs (on an H200 its pipelines did not compile in a
    // minute), and held-keys, which falls back to wide there.
    if (values.tiles === undefined && !softwareAdapter(fx.ctx.device)) {
      tiles = tiles.filter((t) => t !== 'wide' && t !== 'held-keys');
      console.log(`a GPU: the wide and held-keys tiles left out (--tiles ${CHOICES.join(',')} to include them)`);
    }
  }
  if (!tiles.includes(tile)) {
    fx.ctx.destroy();
    continue;
  }
  const where = split ? `splitKeysTile ${split}` : `fusedTile ${tile}`;
  let n = 0;
  const run = async (c: Case, kernel: KernelChoice, what: CaseCheck) => {
    n++;
    await check(fx, where, c, kernel, what, tile === 'auto' ? undefined : tileRule(tile, kernel));
  };
  if (tile === 'auto') {
    // The default context: every case on every kernel it runs on, the weights on the staged path,
    // and the log-sum-exp on the fused and split-keys paths.
    for (const c of cases) for (const kernel of c.kernels ?? ALL_KERNELS) await run(c, kernel, 'output');
    for (const c of cases.filter((x) => runsOn(x, 'staged'))) await run(c, 'staged', 'weights');
    for (const c of fusedCases) for (const kernel of ['fused', 'split-keys'] as const) await run(c, kernel, 'log-sum-exp');
  } else if (split) {
    // A split-keys tile forced: every case that runs on split-keys, and the log-sum-exp of those with fused.
    for (const c of cases.filter((x) => runsOn(x, 'split-keys'))) await run(c, 'split-keys', 'output');
    for (const c of fusedCases) await run(c, 'split-keys', 'log-sum-exp');
  } else {
    // A forced tile: every fused case, output and log-sum-exp (the held-keys tile also its own cases).
    const tileCases = tile === 'held-keys' ? [...fusedCases, ...heldKeys32Cases] : fusedCases;
    for (const c of tileCases) {
      await run(c, 'fused', 'output');
      await run(c, 'fused', 'log-sum-exp');
    }
  }
  // The numerics scenarios on this context's kernels.
  const kernels: KernelChoice[] = tile === 'auto' ? ['staged', 'fused', 'split-keys'] : split ? ['split-keys'] : ['fused'];
  for (const kernel of kernels) {
    for (const scenario of numericsScenarios.filter((x) => x.applies({ kernel, tile }))) {
      n++;
      const label = `${scenario.name}, on ${kernel} (${where})`;
      try {
        const failed = await scenario.run(fx.ctx, kernel, seed);
        if (failed.length > 0) fail(label, failed.join('; '));
      } catch (e) {
        fail(label, threw(e));
      }
    }
  }
  // Errors the GPU reports after the last case's results came back.
  await fx.ctx.device.queue.onSubmittedWorkDone();
  if (fx.errors.length > 0) {
    fail(where, `uncaptured GPU errors ${JSON.stringify(fx.errors.splice(0))}`);
  }
  const measured = fx.ctx.tileMeasurements().map((m) => `${m.verdict} (${JSON.stringify(m.probe)})`);
  fx.ctx.destroy();
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(
    `${where}: ${n} checks, ${failures - failedBefore} failed, worst relL2 ${worst.relL2.toExponential(2)}, ` +
      `worst maxAbs ${worst.maxAbs.toExponential(2)} (${s} s)${measured.length ? `; tile measurements: ${measured.join('; ')}` : ''}`,
  );
}
console.log(`gpu-check: ${failures === 0 ? 'all passed' : `${failures} FAILED`} (seed ${seed}, ${((performance.now() - started) / 1000).toFixed(1)} s)`);
process.exit(failures === 0 ? 0 : 1);
