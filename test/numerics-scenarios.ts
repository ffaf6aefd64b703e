// Numerics scenarios, shared by test/reliability/numerics.test.ts (vitest, SwiftShader) and
// scripts/gpu-check.ts (the GPU machine, which has Node but no vitest): logits up to ±1e4,
// -Infinity and huge finite values in additive masks, rows with nothing to attend to, NaN and Inf
// in q, k and v where the README's Semantics table says what must come out. A GPU compiler may
// assume no NaN or Inf unless told otherwise, so these are worth running on every adapter.
// Each scenario runs one call and returns what went wrong (empty when all is well).
// Lk = 300 so split-keys really splits (3 chunks of >= 100 keys).
import { attentionReferenceFull, type AttentionContext, type AttentionOptions, type KernelChoice, type Tensor } from '../src/index.js';
import { agrees, compare, LSE_FLOOR } from './compare.js';
import { mulberry32 } from './random.js';

const [B, H, Lq, Lk, E, Ev] = [1, 2, 6, 300, 4, 4];

/**
 * Where a scenario runs: the kernel asked for, and the context's tile ('auto' for a default
 * context; a fused tile's name, or 'split-invocation' / 'split-workgroup', where one is forced).
 */
export interface Where {
  kernel: KernelChoice;
  tile: string;
}

export interface NumericsScenario {
  name: string;
  applies(w: Where): boolean;
  run(ctx: AttentionContext, kernel: KernelChoice, seed: number): Promise<string[]>;
}

/** The tiles that give a key of weight 0 nothing, even 0 times an Inf or NaN in its value row (README). */
const WEIGHT_ZERO_TILES = ['workgroup', 'workgroup-split', 'split-workgroup'];

/** A tensor of the given shape, uniform in [-1, 1). */
function uniform(rnd: () => number, ...shape: number[]): Tensor {
  return { data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rnd() * 2 - 1), shape };
}

/** The scenarios' q, k and v (`lk` keys), uniform in [-1, 1), drawn in that order from one stream. */
function qkv(seed: number, lk = Lk): { q: Tensor; k: Tensor; v: Tensor } {
  const rnd = mulberry32(seed);
  return { q: uniform(rnd, B, H, Lq, E), k: uniform(rnd, B, H, lk, E), v: uniform(rnd, B, H, lk, Ev) };
}

/** The given rows of a [rows, width] f32 array, packed. */
export function rowsOf(data: Float32Array, width: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(data.subarray(r * width, (r + 1) * width), i * width));
  return out;
}

const rowOf = (data: Float32Array, width: number, r: number) => Array.from(data.subarray(r * width, (r + 1) * width));

type Check = (ok: boolean, what: () => string) => void;

/** Collects what went wrong, with the scenario's own words. */
function failures() {
  const list: string[] = [];
  const check: Check = (ok, what) => {
    if (!ok) list.push(what());
  };
  return { list, check };
}

/**
 * What a NaN or Inf confined to one row must give: `row` (of `rows`, `width` wide) NaN in the
 * reference and in `got`, and every other row of `got` agreeing with the reference.
 */
function confinedToRow(check: Check, what: string, got: Float32Array, ref: Float32Array, width: number, rows: number, row: number, floor = 0): void {
  const others = Array.from({ length: rows }, (_, r) => r).filter((r) => r !== row);
  const a = compare(rowsOf(got, width, others), rowsOf(ref, width, others), floor);
  check(agrees(a), () => `${what} of the rows other than row ${row} ${JSON.stringify(a)}`);
  check(rowOf(ref, width, row).every(Number.isNaN), () => `the reference's ${what} of row ${row} is not NaN`);
  const bad = rowOf(got, width, row);
  check(bad.every(Number.isNaN), () => `${what} of row ${row}: ${bad.slice(0, 8)}`);
}

/**
 * Integer q and k (|x| ≤ 50, E = 4, scale 1) so the logits are exact in f32 and reach ±1e4.
 * Head 0 has keys in [40, 50]: its row 0 sees logits of +6400…+10000 everywhere (a naive exp
 * overflows), its row 1 -6400…-10000 everywhere (a naive exp underflows to 0/0). Head 1 has keys in
 * [-50, 50], so its rows mix logits across ±1e4.
 */
function bigLogits(rnd: () => number): { q: Tensor; k: Tensor; v: Tensor } {
  const q = new Float32Array(B * H * Lq * E);
  const k = new Float32Array(B * H * Lk * E);
  const v = Float32Array.from({ length: B * H * Lk * Ev }, () => rnd() * 2 - 1);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  for (let h = 0; h < H; h++) {
    for (let j = 0; j < Lk; j++) {
      for (let e = 0; e < E; e++) k[(h * Lk + j) * E + e] = h === 0 ? int(40, 50) : int(-50, 50);
    }
    for (let i = 0; i < Lq; i++) {
      for (let e = 0; e < E; e++) {
        const x = i === 0 ? 50 : i === 1 ? -50 : int(-50, 50);
        q[(h * Lq + i) * E + e] = x;
      }
    }
  }
  return { q: { data: q, shape: [B, H, Lq, E] }, k: { data: k, shape: [B, H, Lk, E] }, v: { data: v, shape: [B, H, Lk, Ev] } };
}

const everywhere = () => true;
const notStaged = (w: Where) => w.kernel !== 'staged';

export const numericsScenarios: NumericsScenario[] = [
  {
    name: 'logits up to ±1e4: the reference answer, no overflow, no NaN',
    applies: everywhere,
    async run(ctx, kernel, seed) {
      const { list, check } = failures();
      const { q, k, v } = bigLogits(mulberry32(seed));
      const options: AttentionOptions = { scale: 1, kernel };
      const ref = attentionReferenceFull(q, k, v, options);
      // The inputs really are extreme: every logit of row 0 is ≥ 6400, of row 1 ≤ -6400.
      check(ref.logSumExp.data[0] > 6400 && ref.logSumExp.data[1] < -6000, () => 'the inputs are not extreme');
      const out = await ctx.attention(q, k, v, options);
      check(out.data.every(Number.isFinite), () => 'an output is not finite');
      const a = compare(out.data, ref.output.data);
      check(agrees(a), () => `output ${JSON.stringify(a)}`);
      return list;
    },
  },
  {
    name: 'additive mask with -Infinity, -1e30 and +1e4, with ±1e4 logits',
    applies: everywhere,
    async run(ctx, kernel, seed) {
      const { list, check } = failures();
      const rnd = mulberry32(seed + 1);
      const { q, k, v } = bigLogits(rnd);
      // Per (head, row): 0 mixed -inf / finite; 1 every key -inf (dead → 0); 2 every key -1e30
      // (finite: a plain softmax, here the mean of v); 3 one key allowed; 4 large positive biases; 5 none.
      // The finite biases are multiples of 1/256, so logit + bias (integers up to 2e4) is exact in f32 as
      // in the float64 reference: an arbitrary bias would be rounded to f32's 1e-3 spacing near 1e4, an
      // error of the inputs' precision (up to ~1e-4 in the output), not of the kernels (CI seed 2044502422).
      const m = new Float32Array(H * Lq * Lk);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < Lq; i++) {
          for (let j = 0; j < Lk; j++) {
            const at = (h * Lq + i) * Lk + j;
            if (i === 0) m[at] = rnd() < 0.5 ? -Infinity : Math.round((rnd() * 100 - 50) * 256) / 256;
            else if (i === 1) m[at] = -Infinity;
            else if (i === 2) m[at] = -1e30;
            else if (i === 3) m[at] = j === 137 ? 0 : -Infinity;
            else if (i === 4) m[at] = rnd() < 0.1 ? 1e4 : 0;
            else m[at] = 0;
          }
        }
      }
      const options: AttentionOptions = { scale: 1, kernel, mask: { data: m, shape: [1, H, Lq, Lk] } };
      const ref = attentionReferenceFull(q, k, v, options);
      const out = await ctx.attention(q, k, v, options);
      const a = compare(out.data, ref.output.data);
      check(agrees(a), () => `output ${JSON.stringify(a)}`);
      for (let h = 0; h < H; h++) {
        const dead = rowOf(out.data, Ev, h * Lq + 1);
        check(dead.every((x) => x === 0), () => `head ${h}'s dead row reads ${dead}, not 0`);
        // One visible key: exactly that key's value row.
        const one = out.data.subarray((h * Lq + 3) * Ev, (h * Lq + 4) * Ev);
        const vRow = v.data.subarray((h * Lk + 137) * Ev, (h * Lk + 138) * Ev);
        const d = compare(one, vRow).maxAbs;
        check(d < 1e-6, () => `head ${h}'s row with one visible key is ${d} from that key's value row`);
      }
      return list;
    },
  },
  {
    // Scores of 2e38 (finite, but two of them sum past f32's 3.4e38) beside keys an additive -Infinity
    // hides, in every 4-key block: a NaN test on a block's plain sum read inf + (-inf) as a NaN score.
    name: 'scores near the f32 maximum beside keys masked with -Infinity: those keys weigh 0, no NaN',
    applies: everywhere,
    async run(ctx, kernel, seed) {
      const { list, check } = failures();
      const { v } = qkv(seed + 7);
      const q = new Float32Array(B * H * Lq * E);
      const k = new Float32Array(B * H * Lk * E);
      for (let r = 0; r < B * H * Lq; r++) q[r * E] = 2e19;
      for (let r = 0; r < B * H * Lk; r++) k[r * E] = 1e19; // every score 2e38
      // Keys 2, 6, 10, ... hidden: each block of 4 keys holds 2e38, 2e38, -Infinity, 2e38.
      const m = Float32Array.from({ length: Lk }, (_, j) => (j % 4 === 2 ? -Infinity : 0));
      const options: AttentionOptions = { scale: 1, kernel, mask: { data: m, shape: [1, Lk] } };
      const qt = { data: q, shape: [B, H, Lq, E] };
      const kt = { data: k, shape: [B, H, Lk, E] };
      const ref = attentionReferenceFull(qt, kt, v, options);
      const out = await ctx.attention(qt, kt, v, options);
      check(out.data.every(Number.isFinite), () => `an output is not finite: ${out.data.slice(0, 8)}`);
      const a = compare(out.data, ref.output.data);
      check(agrees(a), () => `output ${JSON.stringify(a)}`);
      return list;
    },
  },
  {
    name: 'dead rows → 0 (causal bottom-right with Lq > Lk, boolean mask rows of zeros)',
    applies: everywhere,
    async run(ctx, kernel, seed) {
      const { list, check } = failures();
      const rnd = mulberry32(seed + 2);
      const [lq, lk] = [12, 5];
      const q = uniform(rnd, H, lq, E);
      const k = uniform(rnd, H, lk, E);
      const v = uniform(rnd, H, lk, Ev);
      const mask = Uint8Array.from({ length: lq * lk }, (_, x) => (Math.floor(x / lk) === 9 ? 0 : 1));
      // bottom-right with Lq - Lk = 7: rows 0..6 see nothing; the mask kills row 9 too.
      const options: AttentionOptions = { causal: 'bottom-right', kernel, mask: { data: mask, shape: [lq, lk] } };
      const ref = attentionReferenceFull(q, k, v, options);
      const out = await ctx.attention(q, k, v, options);
      const a = compare(out.data, ref.output.data);
      check(agrees(a), () => `output ${JSON.stringify(a)}`);
      for (let h = 0; h < H; h++) {
        for (const i of [0, 3, 6, 9]) {
          const row = rowOf(out.data, Ev, h * lq + i);
          check(row.every((x) => x === 0), () => `head ${h} row ${i} reads ${row}, not 0`);
        }
        check(rowOf(out.data, Ev, h * lq + 7).some((x) => x !== 0), () => `head ${h} row 7 (it sees a key) reads 0`);
      }
      return list;
    },
  },
  {
    name: 'dead rows have log-sum-exp -Infinity',
    applies: notStaged,
    async run(ctx, kernel, seed) {
      const { list, check } = failures();
      const rnd = mulberry32(seed + 3);
      const q = { data: Float32Array.from({ length: 4 * E }, () => rnd()), shape: [4, E] };
      const k = { data: Float32Array.from({ length: Lk * E }, () => rnd()), shape: [Lk, E] };
      const m = new Float32Array(4 * Lk).fill(0);
      m.fill(-Infinity, Lk, 2 * Lk); // row 1 dead
      const options: AttentionOptions = { kernel, mask: { data: m, shape: [4, Lk] } };
      const got = await ctx.attentionWithLogSumExp(q, k, k, options);
      const ref = attentionReferenceFull(q, k, k, options);
      check(got.logSumExp.data[1] === -Infinity, () => `the dead row's log-sum-exp is ${got.logSumExp.data[1]}`);
      const al = compare(got.logSumExp.data, ref.logSumExp.data, LSE_FLOOR);
      const ao = compare(got.output.data, ref.output.data);
      check(agrees(al), () => `log-sum-exp ${JSON.stringify(al)}`);
      check(agrees(ao), () => `output ${JSON.stringify(ao)}`);
      return list;
    },
  },
  {
    // The reference (and the README) say the row itself reads NaN and no other row changes. WGSL
    // max() may drop a NaN, so softmax.wgsl, merge.wgsl and merge-rows.wgsl test scores by bit pattern.
    name: 'a NaN in one query row: the row reads NaN, every other row matches the reference',
    applies: everywhere,
    async run(ctx, kernel, seed) {
      const { list, check } = failures();
      const { q, k, v } = qkv(seed + 4);
      const nanRow = 1 * Lq + 2; // head 1, row 2
      q.data[nanRow * E + 1] = NaN;
      const options: AttentionOptions = { kernel };
      const ref = attentionReferenceFull(q, k, v, options).output.data;
      const out = await ctx.attention(q, k, v, options);
      confinedToRow(check, 'output', out.data, ref, Ev, B * H * Lq, nanRow);
      return list;
    },
  },
  {
    // An Inf in a query row gives that row scores of +Inf and -Inf: NaN in the reference (inf - inf).
    // The held-keys and workgroup tiles flag a +Inf score themselves, since SwiftShader's exp(NaN)
    // is +Inf and the chunk's sum would otherwise read +Inf, and the log-sum-exp with it.
    name: 'an Inf in a query row makes that row and its log-sum-exp NaN, and only that row',
    applies: notStaged,
    async run(ctx, kernel, seed) {
      const { list, check } = failures();
      const { q, k, v } = qkv(seed + 5);
      const infRow = 1 * Lq + 3; // head 1, row 3
      q.data[infRow * E] = Infinity;
      // Every key of head 1 positive in that dim: the row's scores are all +Inf, none -Inf (a block
      // holding +Inf and -Inf sums to NaN and would flag the row by accident).
      for (let j = 0; j < Lk; j++) k.data[(1 * Lk + j) * E] = Math.abs(k.data[(1 * Lk + j) * E]) + 0.01;
      const options: AttentionOptions = { kernel };
      const ref = attentionReferenceFull(q, k, v, options);
      const got = await ctx.attentionWithLogSumExp(q, k, v, options);
      confinedToRow(check, 'output', got.output.data, ref.output.data, Ev, B * H * Lq, infRow);
      // The log-sum-exp too: the tiles' own +Inf flag must not leak into the other rows of its quad or workgroup.
      confinedToRow(check, 'log-sum-exp', got.logSumExp.data, ref.logSumExp.data, 1, B * H * Lq, infRow, LSE_FLOOR);
      return list;
    },
  },
  {
    // The staged path's weights of such a row: NaN across the row, as the reference's (its sum is
    // NaN), also for keys whose score is -Inf, which exp alone would weigh 0.
    name: "an Inf in a query row makes that row's weights NaN, every one, and only that row's",
    applies: (w) => w.kernel === 'staged',
    async run(ctx, _kernel, seed) {
      const { list, check } = failures();
      const { q, k, v } = qkv(seed + 7);
      const infRow = 1 * Lq + 3;
      q.data[infRow * E] = Infinity;
      // Keys of both signs in that dim: scores of +Inf and -Inf in the row.
      for (let j = 0; j < Lk; j++) k.data[(1 * Lk + j) * E] = (j % 2 ? 1 : -1) * (Math.abs(k.data[(1 * Lk + j) * E]) + 0.01);
      const options: AttentionOptions = { kernel: 'staged' };
      const ref = attentionReferenceFull(q, k, v, options);
      const got = await ctx.attentionWithWeights(q, k, v, options);
      confinedToRow(check, 'weights', got.weights.data, ref.weights.data, Lk, B * H * Lq, infRow);
      return list;
    },
  },
  {
    // A NaN in one key's k row gives every row of its head a NaN score there, and the reference NaN
    // weights across those rows (their sum is NaN). WGSL max() may drop a NaN, so softmax.wgsl tests
    // the scores by bit pattern, whichever of a loop step's 4 keys the NaN is (key 101 is the second).
    name: "a NaN in one k row makes its head's weights NaN, every one, and no other head's",
    applies: (w) => w.kernel === 'staged',
    async run(ctx, _kernel, seed) {
      const { list, check } = failures();
      const { q, k, v } = qkv(seed + 8);
      k.data[(1 * Lk + 101) * E + 2] = NaN; // head 1, key 101
      const options: AttentionOptions = { kernel: 'staged' };
      const ref = attentionReferenceFull(q, k, v, options).weights.data;
      const got = (await ctx.attentionWithWeights(q, k, v, options)).weights.data;
      const head = Lq * Lk;
      const a = compare(got.subarray(0, head), ref.subarray(0, head));
      check(agrees(a), () => `head 0's weights ${JSON.stringify(a)}`);
      check(ref.subarray(head).every(Number.isNaN), () => "the reference's weights of head 1 are not all NaN");
      const numbers = got.subarray(head).filter((x) => !Number.isNaN(x)).length;
      check(numbers === 0, () => `${numbers} of head 1's ${head} weights are not NaN`);
      return list;
    },
  },
  {
    // Lk not a multiple of 4: the kernels that take keys 4 at a time reread the last key past the
    // end with weight 0, and must read its value as 0 too, or an Inf there (a key every row sees,
    // with a weight above 0, so the reference reads +Inf) turns the output NaN (0 · Inf).
    name: "an Inf in the last key's value row, Lk not a multiple of 4: +Inf as in the reference, not NaN",
    applies: everywhere,
    async run(ctx, kernel, seed) {
      const { list, check } = failures();
      const lk = Lk + 1;
      const { q, k, v } = qkv(seed + 9, lk);
      v.data[(1 * lk + lk - 1) * Ev] = Infinity; // head 1, the last key, column 0
      const options: AttentionOptions = { kernel };
      const ref = attentionReferenceFull(q, k, v, options).output.data;
      check(ref.filter((x) => x === Infinity).length === Lq, () => "the reference does not read +Inf once in each of head 1's rows");
      const out = await ctx.attention(q, k, v, options);
      const a = compare(out.data, ref);
      check(agrees(a), () => `output ${JSON.stringify(a)}`);
      return list;
    },
  },
  {
    // A boolean mask hides a key whatever its score: a NaN or Inf score there (NaN or Inf in k) is
    // left out as in the reference, not added to the row as NaN + -inf would be.
    name: 'NaN and Inf in k at keys a boolean mask hides stay out; a dead row stays 0',
    applies: everywhere,
    async run(ctx, kernel, seed) {
      const { list, check } = failures();
      const { q, k, v } = qkv(seed + 6);
      for (let h = 0; h < H; h++) {
        k.data[(h * Lk + 100) * E + 1] = NaN;
        k.data[(h * Lk + 201) * E] = Infinity;
      }
      // Keys 100 and 201 hidden from every row; row 1 sees nothing.
      const mask = Uint8Array.from({ length: Lq * Lk }, (_, x) => (x % Lk === 100 || x % Lk === 201 || Math.floor(x / Lk) === 1 ? 0 : 1));
      const options: AttentionOptions = { kernel, mask: { data: mask, shape: [Lq, Lk] } };
      const ref = attentionReferenceFull(q, k, v, options).output.data;
      check(ref.every(Number.isFinite), () => 'the reference is not finite');
      const out = await ctx.attention(q, k, v, options);
      const a = compare(out.data, ref);
      check(agrees(a), () => `output ${JSON.stringify(a)}`);
      for (let h = 0; h < H; h++) {
        const row = rowOf(out.data, Ev, h * Lq + 1);
        check(row.every((x) => x === 0), () => `head ${h}'s dead row reads ${row}`);
      }
      return list;
    },
  },
  {
    // The workgroup tiles (the fused kernel's and the split-keys path's) give no weight to a key past
    // a row's causal limit and skip keys of weight 0, so an Inf or NaN in a value row that a row gives
    // weight 0 stays out of it, as in the reference. (The register tiles and the split-keys path's
    // invocation tile weigh 4 keys at a time and may give such a row 0 · Inf = NaN: README.)
    name: 'Inf and NaN in value rows a row gives weight 0 stay out of that row, and in k rows past its causal limit',
    applies: (w) => WEIGHT_ZERO_TILES.includes(w.tile),
    async run(ctx, kernel, seed) {
      const { list, check } = failures();
      const rnd = mulberry32(seed + 5);
      const [lq, lk] = [70, 70]; // more rows than one workgroup (64), so a workgroup's rows differ in their limits
      const q = uniform(rnd, H, lq, E);
      const k = uniform(rnd, H, lk, E);
      const v = uniform(rnd, H, lk, Ev);
      for (let h = 0; h < H; h++) {
        v.data[(h * lk + 40) * Ev + 1] = NaN; // rows 0..39 may not see key 40 (causal top-left)
        v.data[(h * lk + 50) * Ev + 2] = Infinity; // nor key 50, which their workgroup (rows 0..63) loads
        v.data[(h * lk + 3) * Ev] = -Infinity; // key 3 is masked out for every row
        // k rows the workgroup loads but rows 0..39 may not see: their dot products are computed (the
        // tile's loops run a constant count) and must be dropped, not flag the row NaN.
        k.data[(h * lk + 45) * E + 1] = NaN;
        k.data[(h * lk + 50) * E] = Infinity;
      }
      const mask = Uint8Array.from({ length: lq * lk }, (_, x) => (x % lk === 3 ? 0 : 1));
      const options: AttentionOptions = { causal: true, kernel, mask: { data: mask, shape: [lq, lk] } };
      const ref = attentionReferenceFull(q, k, v, options).output.data;
      const out = await ctx.attention(q, k, v, options);
      const clean = Array.from({ length: H * lq }, (_, r) => r).filter((r) => r % lq < 40);
      check(rowsOf(ref, Ev, clean).every(Number.isFinite), () => "the reference's rows are not finite");
      const a = compare(rowsOf(out.data, Ev, clean), rowsOf(ref, Ev, clean));
      check(agrees(a), () => `rows that give the bad keys weight 0 ${JSON.stringify(a)}`);
      return list;
    },
  },
  {
    // Padding under a large finite bias (-1e4, whose weight underflows to exactly 0): keys before the
    // visible ones (their weight falls to 0 only once the row's max is seen) and a whole chunk after
    // them (the split tile's second chunk of 160 keys, merged with weight 0), with Inf and NaN in
    // their value rows.
    name: 'padded keys before and after the visible ones add nothing, Inf and NaN values too',
    applies: (w) => WEIGHT_ZERO_TILES.includes(w.tile),
    async run(ctx, kernel, seed) {
      const { list, check } = failures();
      const rnd = mulberry32(seed + 6);
      const [lq, lk] = [5, 300];
      const q = uniform(rnd, H, lq, E);
      const k = uniform(rnd, H, lk, E);
      const v = uniform(rnd, H, lk, Ev);
      for (let h = 0; h < H; h++) {
        v.data[(h * lk + 10) * Ev] = NaN;
        v.data[(h * lk + 139) * Ev + 1] = Infinity;
        v.data[(h * lk + 200) * Ev + 2] = NaN;
        v.data[(h * lk + 299) * Ev + 3] = -Infinity;
      }
      const bias = Float32Array.from({ length: lq * lk }, (_, x) => (x % lk >= 140 && x % lk < 160 ? 0 : -1e4));
      const options: AttentionOptions = { kernel, mask: { data: bias, shape: [lq, lk] } };
      const ref = attentionReferenceFull(q, k, v, options).output.data;
      check(ref.every(Number.isFinite), () => 'the reference is not finite');
      const out = await ctx.attention(q, k, v, options);
      const a = compare(out.data, ref);
      check(agrees(a), () => `padded keys ${JSON.stringify(a)}`);
      return list;
    },
  },
];
