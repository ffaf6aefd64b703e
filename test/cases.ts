// The one table of named cases that every test layer runs (CPU, Node GPU, headless Chromium).
// Sizes sit on both sides of each tile edge: the staged kernels tile 32 rows x 32 keys (32 value
// columns), the fused kernel 4 keys a step, 4, 8 or 16 rows an invocation (compact, wide) or 64
// rows a workgroup with 8-32 keys a tile (workgroup tile) or 64 keys an invocation and 256 a quad
// (held-keys tile; 32 and 128 from 68 dims and for calls under 256 rows or keys, 512 causal), and
// vec4 head dims, and where it shares loads across quads of a subgroup,
// pads each head to whole quads.
import type { AttentionOptions, CausalOption, KernelChoice, Tensor } from '../src/types.js';
import { mulberry32 } from './random.js';

export type MaskSpec =
  | {
      kind: 'boolean' | 'additive';
      /** 2d [Lq,Lk]; batch1 [1,H,Lq,Lk] (one batch, broadcast); head1 [B,1,Lq,Lk]; full [B,H,Lq,Lk]; keys [B,1,1,Lk] (PyTorch's key-padding mask); keys2d [1,Lk]. */
      broadcast: '2d' | 'batch1' | 'head1' | 'full' | 'keys' | 'keys2d';
      density: number;
      /** Query rows masked everywhere (not with keys / keys2d). */
      deadRows?: number[];
      /** broadcast 'keys': batches whose keys are all masked, so every row of theirs has nothing to attend to. */
      deadBatches?: number[];
      /** Additive masks: the value of a masked-out entry (default -Infinity). */
      hidden?: number;
    };

/** torch.finfo(torch.float32).min: the additive mask value of Hugging Face models. */
export const F32_LOWEST = -3.4028234663852886e38;

export interface Case {
  name: string;
  B: number;
  H: number;
  Hkv?: number;
  Lq: number;
  Lk: number;
  E: number;
  Ev?: number;
  /** Rank of the tensors handed to the API (default 4). */
  rank?: 2 | 3 | 4;
  causal?: CausalOption;
  mask?: MaskSpec;
  scale?: number;
  /** 'integers': small integer q and k with scale 1, so logits are exact and large (overflow tests). */
  values?: { kind: 'uniform' } | { kind: 'integers'; max: number };
  /** Kernels this case runs on (default: all). */
  kernels?: KernelChoice[];
}

export const ALL_KERNELS: KernelChoice[] = ['staged', 'fused', 'split-keys', 'auto'];

export const cases: Case[] = [
  { name: 'control', B: 2, H: 4, Lq: 48, Lk: 48, E: 32 },
  { name: '1x1', B: 1, H: 1, Lq: 1, Lk: 1, E: 1 },
  { name: 'rank2 2x2', B: 1, H: 1, Lq: 2, Lk: 2, E: 2, rank: 2 },
  { name: 'rank3', B: 1, H: 3, Lq: 9, Lk: 11, E: 8, rank: 3 },
  { name: 'tile-1 31', B: 1, H: 2, Lq: 31, Lk: 31, E: 15 },
  { name: 'tile 32', B: 1, H: 2, Lq: 32, Lk: 32, E: 16 },
  { name: 'tile+1 33', B: 1, H: 2, Lq: 33, Lk: 33, E: 17 },
  { name: 'rows 63', B: 1, H: 1, Lq: 63, Lk: 20, E: 4 },
  { name: 'rows 64', B: 1, H: 1, Lq: 64, Lk: 21, E: 4 },
  { name: 'rows 65', B: 1, H: 1, Lq: 65, Lk: 22, E: 4 },
  // The wide fused tile takes 8 rows per invocation where loads are quad-shared, 16 without (src/tiles.ts).
  { name: 'rows 15', B: 1, H: 2, Lq: 15, Lk: 18, E: 16 },
  { name: 'rows 16', B: 1, H: 2, Lq: 16, Lk: 19, E: 16 },
  { name: 'E 64, rows 17', B: 1, H: 2, Lq: 17, Lk: 70, E: 64 },
  { name: 'Lq < Lk', B: 1, H: 2, Lq: 17, Lk: 95, E: 12 },
  { name: 'Lq > Lk', B: 1, H: 2, Lq: 95, Lk: 17, E: 12 },
  { name: 'E != Ev (5, 3)', B: 2, H: 1, Lq: 10, Lk: 13, E: 5, Ev: 3 },
  { name: 'E != Ev (3, 33)', B: 1, H: 2, Lq: 7, Lk: 34, E: 3, Ev: 33 },
  // Heads up to 128 take flash.wgsl's unrolled named blocks; wider ones take its arrays.
  { name: 'E 128, rows 18', B: 1, H: 1, Lq: 18, Lk: 23, E: 128 },
  // The E = 65 to 128 pipelines (named blocks of up to 32 vec4) with heads padded to whole quads
  // over several heads, causal and GQA (the same pipelines as the case above).
  { name: 'E 128, causal, GQA 4 -> 2, rows 70', B: 1, H: 4, Hkv: 2, Lq: 70, Lk: 53, E: 128, causal: true },
  { name: 'E 132', B: 1, H: 1, Lq: 9, Lk: 14, E: 132 },
  // flash.wgsl's arrays with causal and a mask; the workgroup tile's 16-key tiles at E = 132, Lk a multiple of 16.
  { name: 'E 132, causal + additive mask, Lk 48', B: 1, H: 2, Lq: 21, Lk: 48, E: 132, causal: true, mask: { kind: 'additive', broadcast: '2d', density: 0.7 } },
  { name: 'E 256', B: 1, H: 1, Lq: 20, Lk: 36, E: 256, Ev: 256 },
  { name: 'E 260 (staged only)', B: 1, H: 1, Lq: 5, Lk: 9, E: 260, kernels: ['staged', 'auto'] },
  { name: 'large logits (~300)', B: 1, H: 2, Lq: 19, Lk: 23, E: 16, values: { kind: 'integers', max: 5 }, scale: 1 },
  { name: 'logits ±1e4', B: 1, H: 1, Lq: 6, Lk: 40, E: 4, values: { kind: 'integers', max: 50 }, scale: 1 },
  { name: 'scale 0.37', B: 1, H: 2, Lq: 8, Lk: 8, E: 8, scale: 0.37 },
  // Semantics
  { name: 'causal top-left square', B: 1, H: 2, Lq: 33, Lk: 33, E: 8, causal: true },
  { name: 'causal top-left Lq < Lk', B: 1, H: 2, Lq: 9, Lk: 40, E: 8, causal: 'top-left' },
  { name: 'causal top-left Lq > Lk (dead rows none)', B: 1, H: 2, Lq: 40, Lk: 9, E: 8, causal: true },
  { name: 'causal bottom-right Lq < Lk', B: 1, H: 2, Lq: 9, Lk: 40, E: 8, causal: 'bottom-right' },
  // Many quads of invocations per head with different causal key ranges (the fused kernel shares
  // k and v across a quad where subgroups are 4 wide, and pads each head to whole quads).
  { name: 'causal, many quads per head', B: 1, H: 3, Lq: 150, Lk: 150, E: 8, causal: true },
  { name: 'causal bottom-right Lq > Lk (dead rows)', B: 1, H: 2, Lq: 40, Lk: 9, E: 8, causal: 'bottom-right' },
  // Over two workgroups of the workgroup tile (64 rows each) with no visible key at all, then one
  // where the first rows are dead and the rest see a growing prefix.
  { name: 'causal bottom-right Lq > Lk, dead workgroups', B: 1, H: 2, Lq: 150, Lk: 40, E: 8, causal: 'bottom-right' },
  { name: 'bool mask 2d', B: 2, H: 2, Lq: 12, Lk: 35, E: 8, mask: { kind: 'boolean', broadcast: '2d', density: 0.6 } },
  { name: 'bool mask [B,1,Lq,Lk]', B: 2, H: 3, Lq: 12, Lk: 14, E: 8, mask: { kind: 'boolean', broadcast: 'head1', density: 0.5 } },
  { name: 'bool mask [1,H,Lq,Lk]', B: 2, H: 3, Lq: 12, Lk: 14, E: 8, mask: { kind: 'boolean', broadcast: 'batch1', density: 0.5 } },
  { name: 'bool mask full + dead rows', B: 2, H: 2, Lq: 10, Lk: 37, E: 8, mask: { kind: 'boolean', broadcast: 'full', density: 0.3, deadRows: [0, 7] } },
  { name: 'additive mask 2d with -inf', B: 1, H: 2, Lq: 11, Lk: 33, E: 8, mask: { kind: 'additive', broadcast: '2d', density: 0.7 } },
  { name: 'additive mask full + dead rows', B: 2, H: 2, Lq: 9, Lk: 9, E: 8, mask: { kind: 'additive', broadcast: 'full', density: 0.5, deadRows: [3] } },
  { name: 'causal + bool mask', B: 1, H: 2, Lq: 20, Lk: 20, E: 8, causal: true, mask: { kind: 'boolean', broadcast: 'batch1', density: 0.5 } },
  // Masks broadcast over the query rows, as PyTorch's and Hugging Face's key-padding masks are.
  { name: 'key-padding bool mask [B,1,1,Lk] + a batch with no keys', B: 3, H: 2, Lq: 13, Lk: 37, E: 8, mask: { kind: 'boolean', broadcast: 'keys', density: 0.7, deadBatches: [1] } },
  { name: 'additive mask [1,Lk], causal bottom-right, GQA 4 -> 2', B: 1, H: 4, Hkv: 2, Lq: 9, Lk: 40, E: 16, causal: 'bottom-right', mask: { kind: 'additive', broadcast: 'keys2d', density: 0.6 } },
  { name: 'GQA 8 -> 2', B: 1, H: 8, Hkv: 2, Lq: 13, Lk: 29, E: 16 },
  { name: 'MQA 4 -> 1', B: 2, H: 4, Hkv: 1, Lq: 13, Lk: 29, E: 16 },
  { name: 'GQA + causal bottom-right + mask', B: 1, H: 4, Hkv: 2, Lq: 5, Lk: 30, E: 8, causal: 'bottom-right', mask: { kind: 'additive', broadcast: 'head1', density: 0.8 } },
  // Scalar loads (E, Ev not multiples of 4, E != Ev) with every option at once.
  { name: 'scalar loads E 7 Ev 6, GQA + causal bottom-right + bool mask', B: 1, H: 4, Hkv: 2, Lq: 19, Lk: 37, E: 7, Ev: 6, causal: 'bottom-right', mask: { kind: 'boolean', broadcast: 'head1', density: 0.6 } },
  { name: 'decode 1 x 700', B: 1, H: 4, Lq: 1, Lk: 700, E: 32 },
  { name: 'decode 3 x 1000 bottom-right', B: 1, H: 2, Hkv: 1, Lq: 3, Lk: 1000, E: 16, causal: 'bottom-right' },
  // Masked entries at the lowest f32 instead of -inf: every key of a row masked that way keeps
  // weight (uniform, as in PyTorch), it is not a row with nothing to attend to. Fused, staged and,
  // at Lk 300, split-keys over several chunks.
  { name: 'additive mask of lowest f32 + fully masked rows', B: 1, H: 2, Lq: 9, Lk: 33, E: 8, mask: { kind: 'additive', broadcast: 'full', density: 0.5, deadRows: [0, 5], hidden: F32_LOWEST } },
  { name: 'decode 2 x 300, additive mask of lowest f32 + fully masked row', B: 1, H: 2, Lq: 2, Lk: 300, E: 8, mask: { kind: 'additive', broadcast: 'head1', density: 0.4, deadRows: [1], hidden: F32_LOWEST } },
  // The held-keys tile's edges. Its 32-key kernel (calls this small): 32 keys per invocation (Lk 65:
  // one key in the third), 128 per quad (Lk 256: two chunks; Lk 257 with causal top-left, where
  // rows 0-127 see nothing of the second chunk and rows 0-255 nothing of the third).
  { name: 'Lk 65, bool mask, Lq 70', B: 1, H: 2, Lq: 70, Lk: 65, E: 16, mask: { kind: 'boolean', broadcast: '2d', density: 0.6 } },
  { name: 'Lk 256, additive mask, GQA 4 -> 2', B: 1, H: 4, Hkv: 2, Lq: 33, Lk: 256, E: 16, mask: { kind: 'additive', broadcast: 'batch1', density: 0.7 } },
  { name: 'Lk 257 in two chunks, causal top-left, Lq 260', B: 1, H: 2, Lq: 260, Lk: 257, E: 8, causal: true },
  // Its 64-key kernel (from 256 rows and keys, 512 under a causal rule): 64 keys per invocation, 256
  // per quad (Lk 513: one key in the third chunk; causal top-left Lq 520: rows 0-255 see nothing of
  // the second chunk).
  { name: 'E 64, Lq 260, Lk 513', B: 1, H: 1, Lq: 260, Lk: 513, E: 64 },
  { name: 'causal top-left + bool mask, Lq 520, Lk 600', B: 1, H: 1, Lq: 520, Lk: 600, E: 8, causal: true, mask: { kind: 'boolean', broadcast: '2d', density: 0.6 } },
  // Top-left causal with Lq < Lk: the held-keys tile runs only the chunk rows 0..69 see (1 of 5).
  { name: 'causal top-left Lq 70 < Lk 600', B: 1, H: 2, Lq: 70, Lk: 600, E: 8, causal: 'top-left' },
  { name: 'E != Ev (8, 32), Lk 257, causal bottom-right', B: 1, H: 2, Lq: 20, Lk: 257, E: 8, Ev: 32, causal: 'bottom-right' },
  // Heads of 68-128 dims take flash-held-keys-32.wgsl there: 32 keys per invocation, 128 per quad
  // (Lk 129: one key in the second chunk; Lq 130 top-left over 3 chunks, rows 0-127 seeing nothing
  // of the second). No masks at E = 128 here: each mask kind would compile another wide pipeline
  // (a minute or more on SwiftShader); heldKeys32Cases below has them.
  { name: 'E 128, Lk 129, causal bottom-right', B: 1, H: 2, Lq: 40, Lk: 129, E: 128, causal: 'bottom-right' },
  { name: 'E 128, Lq 130, Lk 300, causal top-left', B: 1, H: 1, Lq: 130, Lk: 300, E: 128, causal: true },
  // Split-keys over several chunks with a mask and a row with nothing to attend to.
  { name: 'decode 2 x 300, bool mask + dead row', B: 1, H: 2, Lq: 2, Lk: 300, E: 8, mask: { kind: 'boolean', broadcast: 'full', density: 0.5, deadRows: [1] } },
  // One row over many chunks: 64 of 128 keys on the invocation tile; 128 of 64 on the workgroup
  // tile, whose merge (merge-decode.wgsl, 16 groups at Ev = 64) then combines 8 chunks per group.
  { name: 'decode 1 x 8192, many chunks', B: 1, H: 1, Lq: 1, Lk: 8192, E: 64 },
];

/**
 * Cases only the held-keys tile's 32-key kernel (flash-held-keys-32.wgsl) runs, in Node's GPU
 * tests with that tile forced: E != Ev and masks at head sizes over 64, which on the other tiles
 * would each compile a wide pipeline of their own (a minute or more on SwiftShader).
 */
export const heldKeys32Cases: Case[] = [
  { name: 'E 96 != Ev 128, bool mask + dead row, Lk 200', B: 1, H: 2, Lq: 37, Lk: 200, E: 96, Ev: 128, mask: { kind: 'boolean', broadcast: 'full', density: 0.6, deadRows: [3] } },
  { name: 'E 128 != Ev 68, GQA 4 -> 2, causal bottom-right + additive mask, Lk 161', B: 1, H: 4, Hkv: 2, Lq: 45, Lk: 161, E: 128, Ev: 68, causal: 'bottom-right', mask: { kind: 'additive', broadcast: 'head1', density: 0.7 } },
  { name: 'E 68 != Ev 4, Lk 33, causal top-left', B: 2, H: 1, Lq: 50, Lk: 33, E: 68, Ev: 4, causal: true },
  { name: 'E 4 != Ev 100, Lk 128', B: 1, H: 2, Lq: 20, Lk: 128, E: 4, Ev: 100 },
];

export interface CaseInputs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  options: AttentionOptions;
}

function shapeOf(rank: number, B: number, H: number, L: number, E: number): number[] {
  if (rank === 2) return [L, E];
  if (rank === 3) return [H, L, E];
  return [B, H, L, E];
}

/** Builds a case's tensors and options from a seed. */
export function makeInputs(c: Case, seed: number, kernel?: KernelChoice): CaseInputs {
  const rnd = mulberry32(seed);
  const Hkv = c.Hkv ?? c.H;
  const Ev = c.Ev ?? c.E;
  const rank = c.rank ?? 4;
  const vals = c.values ?? { kind: 'uniform' };
  const fill = (n: number, integers: boolean) =>
    Float32Array.from({ length: n }, () =>
      integers && vals.kind === 'integers'
        ? Math.round((rnd() * 2 - 1) * vals.max)
        : rnd() * 2 - 1,
    );
  const q = { data: fill(c.B * c.H * c.Lq * c.E, true), shape: shapeOf(rank, c.B, c.H, c.Lq, c.E) };
  const k = { data: fill(c.B * Hkv * c.Lk * c.E, true), shape: shapeOf(rank, c.B, Hkv, c.Lk, c.E) };
  const v = { data: fill(c.B * Hkv * c.Lk * Ev, false), shape: shapeOf(rank, c.B, Hkv, c.Lk, Ev) };
  const options: AttentionOptions = {};
  if (c.scale !== undefined) options.scale = c.scale;
  if (c.causal !== undefined) options.causal = c.causal;
  if (kernel) options.kernel = kernel;
  if (c.mask) {
    const m = c.mask;
    const mb = m.broadcast === 'full' || m.broadcast === 'head1' ? c.B : 1;
    const mh = m.broadcast === 'full' || m.broadcast === 'batch1' ? c.H : 1;
    const shape =
      m.broadcast === '2d' ? [c.Lq, c.Lk]
      : m.broadcast === 'keys2d' ? [1, c.Lk]
      : m.broadcast === 'keys' ? [c.B, 1, 1, c.Lk]
      : [mb, mh, c.Lq, c.Lk];
    const n = shape.reduce((a, b) => a * b, 1);
    const keep = Array.from({ length: n }, () => rnd() < m.density);
    for (const row of m.deadRows ?? []) {
      for (let base = 0; base < n; base += c.Lq * c.Lk) keep.fill(false, base + row * c.Lk, base + (row + 1) * c.Lk);
    }
    for (const b of m.deadBatches ?? []) keep.fill(false, b * c.Lk, (b + 1) * c.Lk);
    options.mask =
      m.kind === 'boolean'
        ? { data: Uint8Array.from(keep, (x) => (x ? 1 + Math.floor(rnd() * 254) : 0)), shape }
        : { data: Float32Array.from(keep, (x) => (x ? rnd() * 4 - 2 : (m.hidden ?? -Infinity))), shape };
  }
  return { q, k, v, options };
}
