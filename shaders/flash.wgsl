// Fused path: softmax(q kᵀ · scale + mask) v without storing the score matrix (FlashAttention-2
// style online softmax). One invocation owns ROWS query rows (4, 8 or 16: RG groups of 4) of one
// (batch, head) and streams all of its keys, 4 at a time. Per row it keeps the running max m, the
// running sum l and an f32 accumulator, and rescales the accumulator when m grows. Memory is
// O((Lq + Lk)·E); keys past the causal limit are never read. Writes the rows and, with WRITE_LSE,
// their log-sum-exp. (Decoding, with few rows and many keys, uses flash-split.wgsl.)
//
// On software adapters loads cost far more than arithmetic: every storage load is a gather per
// invocation. So every vec4 of k and v that is loaded serves all 4·RG rows, and with Q_REGS the
// query rows are loaded once into registers. The 4 x 4 blocks are mat4x4 products, per 4 rows:
//   S += Q_c · K_c      S[j] = the 4 rows' scores against key j (Q_c: vec4 c of the 4 rows, as rows)
//   A_c = A_c·diag(corr) + V_c · Pᵀ     A_c[r] = vec4 c of row r's accumulator
// For E and Ev up to 64 the blocks are named variables in unrolled code (written out below):
// fixed names stay in registers, while arrays indexed in a loop become per-invocation memory that
// is gathered like a storage buffer. Wider heads (up to 256) take the arrays. src/tiles.ts picks
// RG and Q_REGS: the wide tile (RG 4 with Q_REGS) runs ~1.9x faster on SwiftShader but takes ~30 s
// to compile there, the compact one (RG 1) about 1 s.
// q, k, v (bindings 2-4) and load_q / load_k / load_v come from lib/qkv-vec4.wgsl or qkv-scalar.wgsl.
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;

override HEAD_VEC4: u32 = 16u;  // ceil(E / 4)
override VALUE_VEC4: u32 = 16u; // ceil(Ev / 4)
override RG: u32 = 1u;          // groups of 4 query rows per invocation: 1, 2 or 4
override NAMED: bool = true;    // E and Ev <= 64: unrolled named blocks; otherwise arrays
override Q_REGS: bool = false;  // with NAMED: the query rows in named registers, loaded once
override WRITE_LSE: bool = false;
override WG: u32 = 64u;
const MAX_VEC4: u32 = 64u;

// One group of 4 query rows: which rows, how far each may look, and its online-softmax state.
struct Rows {
  live: vec4<bool>, // rows that exist
  ic: vec4<u32>,    // row index within the head, clamped to a real row
  q_row: vec4<u32>, // row in the q / output tensors
  end: vec4<u32>,   // one past the last key each row may see (0 for rows not in use)
  m: vec4<f32>,     // running max
  l: vec4<f32>,     // running sum
  nan: vec4<f32>,   // NaN once a row's scores were NaN (max() may drop it)
}

fn rows_of(bh: u32, first: u32) -> Rows {
  let i = first + vec4<u32>(0u, 1u, 2u, 3u);
  let live = i < vec4<u32>(params.q_len);
  let ic = min(i, vec4<u32>(params.q_len - 1u));
  let end = select(vec4<u32>(0u), vec4<u32>(key_end(ic.x), key_end(ic.y), key_end(ic.z), key_end(ic.w)), live);
  return Rows(live, ic, bh * params.q_len + ic, end, vec4<f32>(HIDDEN), vec4<f32>(0.0), vec4<f32>(0.0));
}

// vec4 e of the group's 4 query rows, one row of the result per query row.
fn q_block(q_row: vec4<u32>, e: u32) -> mat4x4<f32> {
  return transpose(mat4x4<f32>(load_q(q_row.x, e), load_q(q_row.y, e), load_q(q_row.z, e), load_q(q_row.w, e)));
}

// Column r scaled by f[r] (A · diag(f)).
fn cols(a: mat4x4<f32>, f: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(a[0] * f.x, a[1] * f.y, a[2] * f.z, a[3] * f.w);
}

struct Step {
  p: mat4x4<f32>, // Pᵀ: column r = row r's weights for the 4 keys
  corr: vec4<f32>, // e^(m_old − m_new) per row: how much the accumulators shrink
}

// One block of raw scores (S[j]: the rows against key j) → masked, scaled weights; updates m, l.
fn online_softmax(raw: mat4x4<f32>, g: ptr<function, Rows>, b: u32, h: u32, j0: u32) -> Step {
  var s = raw * params.scale;
  for (var j = 0u; j < 4u; j++) {
    if (MASK_KIND != 0u) {
      let jc = min(j0 + j, params.k_len - 1u);
      s[j] += vec4<f32>(mask_bias(b, h, (*g).ic.x, jc), mask_bias(b, h, (*g).ic.y, jc),
                        mask_bias(b, h, (*g).ic.z, jc), mask_bias(b, h, (*g).ic.w, jc));
    }
    // Keys past the end or the causal limit get HIDDEN.
    s[j] = select(vec4<f32>(HIDDEN), s[j], vec4<u32>(j0 + j) < (*g).end);
  }
  let sum = s[0] + s[1] + s[2] + s[3]; // NaN iff a score is NaN
  (*g).nan = select((*g).nan, sum, is_nan4(sum));
  let m_new = max((*g).m, max(max(s[0], s[1]), max(s[2], s[3])));
  let corr = exp((*g).m - m_new);
  var p = mat4x4<f32>();
  for (var j = 0u; j < 4u; j++) {
    // A hidden key has weight 0 even while the row's max is still HIDDEN.
    p[j] = select(exp(s[j] - m_new), vec4<f32>(0.0), s[j] <= vec4<f32>(HIDDEN));
  }
  (*g).l = (*g).l * corr + (p[0] + p[1] + p[2] + p[3]);
  (*g).m = m_new;
  return Step(transpose(p), corr);
}

// Writes vec4 c of the group's live rows (columns of a, times mul), leaving out lanes past Ev.
fn put(g: Rows, c: u32, a: mat4x4<f32>, mul: vec4<f32>) {
  for (var r = 0u; r < 4u; r++) {
    if (g.live[r]) {
      let y = a[r] * mul[r];
      let base = g.q_row[r] * params.value_dim + c * 4u;
      for (var e = 0u; e < 4u; e++) {
        if (c * 4u + e < params.value_dim) { out[base + e] = y[e]; }
      }
    }
  }
}

// 1/l per row (0 for a row with nothing to attend to, NaN for a NaN row); writes the log-sum-exp.
fn finish(g: Rows) -> vec4<f32> {
  let nan = is_nan4(g.nan);
  if (WRITE_LSE) {
    let lse_r = select(select(vec4<f32>(HIDDEN), g.m + log(g.l), g.l > vec4<f32>(0.0)), g.nan, nan);
    for (var r = 0u; r < 4u; r++) {
      if (g.live[r]) { lse[g.q_row[r]] = lse_r[r]; }
    }
  }
  return select(select(vec4<f32>(0.0), 1.0 / g.l, g.l > vec4<f32>(0.0)), g.nan, nan);
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  let rows = 4u * RG;
  let groups = (params.q_len + rows - 1u) / rows;
  let local_bh = t / groups; // neighbouring invocations take neighbouring rows of one head: they share keys
  if (local_bh >= params.bh_count) {
    return;
  }
  let bh = params.bh_offset + local_bh;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let kv_bh = b * params.kv_heads + h / params.group;
  let first = (t % groups) * rows;
  var g0 = rows_of(bh, first);
  var g1 = rows_of(bh, first + 4u);
  var g2 = rows_of(bh, first + 8u);
  var g3 = rows_of(bh, first + 12u);
  var k1 = max(max(g0.end.x, g0.end.y), max(g0.end.z, g0.end.w));
  if (RG > 1u) { k1 = max(k1, max(max(g1.end.x, g1.end.y), max(g1.end.z, g1.end.w))); }
  if (RG > 2u) {
    k1 = max(k1, max(max(g2.end.x, g2.end.y), max(g2.end.z, g2.end.w)));
    k1 = max(k1, max(max(g3.end.x, g3.end.y), max(g3.end.z, g3.end.w)));
  }
  let qr0 = g0.q_row; let qr1 = g1.q_row; let qr2 = g2.q_row; let qr3 = g3.q_row;
  let k_row0 = kv_bh * params.k_len;
  let last = k_row0 + params.k_len - 1u;

  // Named blocks (NAMED): Q<group>_<vec4> the query rows, A<group>_<vec4> the accumulators.
  var Q0_0: mat4x4<f32>; var Q1_0: mat4x4<f32>; var Q2_0: mat4x4<f32>; var Q3_0: mat4x4<f32>;
  var Q0_1: mat4x4<f32>; var Q1_1: mat4x4<f32>; var Q2_1: mat4x4<f32>; var Q3_1: mat4x4<f32>;
  var Q0_2: mat4x4<f32>; var Q1_2: mat4x4<f32>; var Q2_2: mat4x4<f32>; var Q3_2: mat4x4<f32>;
  var Q0_3: mat4x4<f32>; var Q1_3: mat4x4<f32>; var Q2_3: mat4x4<f32>; var Q3_3: mat4x4<f32>;
  var Q0_4: mat4x4<f32>; var Q1_4: mat4x4<f32>; var Q2_4: mat4x4<f32>; var Q3_4: mat4x4<f32>;
  var Q0_5: mat4x4<f32>; var Q1_5: mat4x4<f32>; var Q2_5: mat4x4<f32>; var Q3_5: mat4x4<f32>;
  var Q0_6: mat4x4<f32>; var Q1_6: mat4x4<f32>; var Q2_6: mat4x4<f32>; var Q3_6: mat4x4<f32>;
  var Q0_7: mat4x4<f32>; var Q1_7: mat4x4<f32>; var Q2_7: mat4x4<f32>; var Q3_7: mat4x4<f32>;
  var Q0_8: mat4x4<f32>; var Q1_8: mat4x4<f32>; var Q2_8: mat4x4<f32>; var Q3_8: mat4x4<f32>;
  var Q0_9: mat4x4<f32>; var Q1_9: mat4x4<f32>; var Q2_9: mat4x4<f32>; var Q3_9: mat4x4<f32>;
  var Q0_10: mat4x4<f32>; var Q1_10: mat4x4<f32>; var Q2_10: mat4x4<f32>; var Q3_10: mat4x4<f32>;
  var Q0_11: mat4x4<f32>; var Q1_11: mat4x4<f32>; var Q2_11: mat4x4<f32>; var Q3_11: mat4x4<f32>;
  var Q0_12: mat4x4<f32>; var Q1_12: mat4x4<f32>; var Q2_12: mat4x4<f32>; var Q3_12: mat4x4<f32>;
  var Q0_13: mat4x4<f32>; var Q1_13: mat4x4<f32>; var Q2_13: mat4x4<f32>; var Q3_13: mat4x4<f32>;
  var Q0_14: mat4x4<f32>; var Q1_14: mat4x4<f32>; var Q2_14: mat4x4<f32>; var Q3_14: mat4x4<f32>;
  var Q0_15: mat4x4<f32>; var Q1_15: mat4x4<f32>; var Q2_15: mat4x4<f32>; var Q3_15: mat4x4<f32>;
  var A0_0: mat4x4<f32>; var A1_0: mat4x4<f32>; var A2_0: mat4x4<f32>; var A3_0: mat4x4<f32>;
  var A0_1: mat4x4<f32>; var A1_1: mat4x4<f32>; var A2_1: mat4x4<f32>; var A3_1: mat4x4<f32>;
  var A0_2: mat4x4<f32>; var A1_2: mat4x4<f32>; var A2_2: mat4x4<f32>; var A3_2: mat4x4<f32>;
  var A0_3: mat4x4<f32>; var A1_3: mat4x4<f32>; var A2_3: mat4x4<f32>; var A3_3: mat4x4<f32>;
  var A0_4: mat4x4<f32>; var A1_4: mat4x4<f32>; var A2_4: mat4x4<f32>; var A3_4: mat4x4<f32>;
  var A0_5: mat4x4<f32>; var A1_5: mat4x4<f32>; var A2_5: mat4x4<f32>; var A3_5: mat4x4<f32>;
  var A0_6: mat4x4<f32>; var A1_6: mat4x4<f32>; var A2_6: mat4x4<f32>; var A3_6: mat4x4<f32>;
  var A0_7: mat4x4<f32>; var A1_7: mat4x4<f32>; var A2_7: mat4x4<f32>; var A3_7: mat4x4<f32>;
  var A0_8: mat4x4<f32>; var A1_8: mat4x4<f32>; var A2_8: mat4x4<f32>; var A3_8: mat4x4<f32>;
  var A0_9: mat4x4<f32>; var A1_9: mat4x4<f32>; var A2_9: mat4x4<f32>; var A3_9: mat4x4<f32>;
  var A0_10: mat4x4<f32>; var A1_10: mat4x4<f32>; var A2_10: mat4x4<f32>; var A3_10: mat4x4<f32>;
  var A0_11: mat4x4<f32>; var A1_11: mat4x4<f32>; var A2_11: mat4x4<f32>; var A3_11: mat4x4<f32>;
  var A0_12: mat4x4<f32>; var A1_12: mat4x4<f32>; var A2_12: mat4x4<f32>; var A3_12: mat4x4<f32>;
  var A0_13: mat4x4<f32>; var A1_13: mat4x4<f32>; var A2_13: mat4x4<f32>; var A3_13: mat4x4<f32>;
  var A0_14: mat4x4<f32>; var A1_14: mat4x4<f32>; var A2_14: mat4x4<f32>; var A3_14: mat4x4<f32>;
  var A0_15: mat4x4<f32>; var A1_15: mat4x4<f32>; var A2_15: mat4x4<f32>; var A3_15: mat4x4<f32>;
  // Arrays (heads wider than 64): accumulators only; q is read from the buffer.
  var acc0: array<mat4x4<f32>, MAX_VEC4>;
  var acc1: array<mat4x4<f32>, MAX_VEC4>;
  var acc2: array<mat4x4<f32>, MAX_VEC4>;
  var acc3: array<mat4x4<f32>, MAX_VEC4>;
  if (NAMED && Q_REGS) {
    if (HEAD_VEC4 > 0u) { Q0_0 = q_block(qr0, 0u); if (RG > 1u) { Q1_0 = q_block(qr1, 0u); } if (RG > 2u) { Q2_0 = q_block(qr2, 0u); Q3_0 = q_block(qr3, 0u); } }
    if (HEAD_VEC4 > 1u) { Q0_1 = q_block(qr0, 1u); if (RG > 1u) { Q1_1 = q_block(qr1, 1u); } if (RG > 2u) { Q2_1 = q_block(qr2, 1u); Q3_1 = q_block(qr3, 1u); } }
    if (HEAD_VEC4 > 2u) { Q0_2 = q_block(qr0, 2u); if (RG > 1u) { Q1_2 = q_block(qr1, 2u); } if (RG > 2u) { Q2_2 = q_block(qr2, 2u); Q3_2 = q_block(qr3, 2u); } }
    if (HEAD_VEC4 > 3u) { Q0_3 = q_block(qr0, 3u); if (RG > 1u) { Q1_3 = q_block(qr1, 3u); } if (RG > 2u) { Q2_3 = q_block(qr2, 3u); Q3_3 = q_block(qr3, 3u); } }
    if (HEAD_VEC4 > 4u) { Q0_4 = q_block(qr0, 4u); if (RG > 1u) { Q1_4 = q_block(qr1, 4u); } if (RG > 2u) { Q2_4 = q_block(qr2, 4u); Q3_4 = q_block(qr3, 4u); } }
    if (HEAD_VEC4 > 5u) { Q0_5 = q_block(qr0, 5u); if (RG > 1u) { Q1_5 = q_block(qr1, 5u); } if (RG > 2u) { Q2_5 = q_block(qr2, 5u); Q3_5 = q_block(qr3, 5u); } }
    if (HEAD_VEC4 > 6u) { Q0_6 = q_block(qr0, 6u); if (RG > 1u) { Q1_6 = q_block(qr1, 6u); } if (RG > 2u) { Q2_6 = q_block(qr2, 6u); Q3_6 = q_block(qr3, 6u); } }
    if (HEAD_VEC4 > 7u) { Q0_7 = q_block(qr0, 7u); if (RG > 1u) { Q1_7 = q_block(qr1, 7u); } if (RG > 2u) { Q2_7 = q_block(qr2, 7u); Q3_7 = q_block(qr3, 7u); } }
    if (HEAD_VEC4 > 8u) { Q0_8 = q_block(qr0, 8u); if (RG > 1u) { Q1_8 = q_block(qr1, 8u); } if (RG > 2u) { Q2_8 = q_block(qr2, 8u); Q3_8 = q_block(qr3, 8u); } }
    if (HEAD_VEC4 > 9u) { Q0_9 = q_block(qr0, 9u); if (RG > 1u) { Q1_9 = q_block(qr1, 9u); } if (RG > 2u) { Q2_9 = q_block(qr2, 9u); Q3_9 = q_block(qr3, 9u); } }
    if (HEAD_VEC4 > 10u) { Q0_10 = q_block(qr0, 10u); if (RG > 1u) { Q1_10 = q_block(qr1, 10u); } if (RG > 2u) { Q2_10 = q_block(qr2, 10u); Q3_10 = q_block(qr3, 10u); } }
    if (HEAD_VEC4 > 11u) { Q0_11 = q_block(qr0, 11u); if (RG > 1u) { Q1_11 = q_block(qr1, 11u); } if (RG > 2u) { Q2_11 = q_block(qr2, 11u); Q3_11 = q_block(qr3, 11u); } }
    if (HEAD_VEC4 > 12u) { Q0_12 = q_block(qr0, 12u); if (RG > 1u) { Q1_12 = q_block(qr1, 12u); } if (RG > 2u) { Q2_12 = q_block(qr2, 12u); Q3_12 = q_block(qr3, 12u); } }
    if (HEAD_VEC4 > 13u) { Q0_13 = q_block(qr0, 13u); if (RG > 1u) { Q1_13 = q_block(qr1, 13u); } if (RG > 2u) { Q2_13 = q_block(qr2, 13u); Q3_13 = q_block(qr3, 13u); } }
    if (HEAD_VEC4 > 14u) { Q0_14 = q_block(qr0, 14u); if (RG > 1u) { Q1_14 = q_block(qr1, 14u); } if (RG > 2u) { Q2_14 = q_block(qr2, 14u); Q3_14 = q_block(qr3, 14u); } }
    if (HEAD_VEC4 > 15u) { Q0_15 = q_block(qr0, 15u); if (RG > 1u) { Q1_15 = q_block(qr1, 15u); } if (RG > 2u) { Q2_15 = q_block(qr2, 15u); Q3_15 = q_block(qr3, 15u); } }
  }

  for (var j = 0u; j < k1; j += 4u) {
    let r = min(k_row0 + j + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last)); // past the end: the last key, weight 0
    // Explicit initialisers: a var declared in a loop must restart at zero every iteration.
    var S0 = mat4x4<f32>();
    var S1 = mat4x4<f32>();
    var S2 = mat4x4<f32>();
    var S3 = mat4x4<f32>();
    if (NAMED && Q_REGS) {
      if (HEAD_VEC4 > 0u) { let K = k_block(r, 0u); S0 += Q0_0 * K; if (RG > 1u) { S1 += Q1_0 * K; } if (RG > 2u) { S2 += Q2_0 * K; S3 += Q3_0 * K; } }
      if (HEAD_VEC4 > 1u) { let K = k_block(r, 1u); S0 += Q0_1 * K; if (RG > 1u) { S1 += Q1_1 * K; } if (RG > 2u) { S2 += Q2_1 * K; S3 += Q3_1 * K; } }
      if (HEAD_VEC4 > 2u) { let K = k_block(r, 2u); S0 += Q0_2 * K; if (RG > 1u) { S1 += Q1_2 * K; } if (RG > 2u) { S2 += Q2_2 * K; S3 += Q3_2 * K; } }
      if (HEAD_VEC4 > 3u) { let K = k_block(r, 3u); S0 += Q0_3 * K; if (RG > 1u) { S1 += Q1_3 * K; } if (RG > 2u) { S2 += Q2_3 * K; S3 += Q3_3 * K; } }
      if (HEAD_VEC4 > 4u) { let K = k_block(r, 4u); S0 += Q0_4 * K; if (RG > 1u) { S1 += Q1_4 * K; } if (RG > 2u) { S2 += Q2_4 * K; S3 += Q3_4 * K; } }
      if (HEAD_VEC4 > 5u) { let K = k_block(r, 5u); S0 += Q0_5 * K; if (RG > 1u) { S1 += Q1_5 * K; } if (RG > 2u) { S2 += Q2_5 * K; S3 += Q3_5 * K; } }
      if (HEAD_VEC4 > 6u) { let K = k_block(r, 6u); S0 += Q0_6 * K; if (RG > 1u) { S1 += Q1_6 * K; } if (RG > 2u) { S2 += Q2_6 * K; S3 += Q3_6 * K; } }
      if (HEAD_VEC4 > 7u) { let K = k_block(r, 7u); S0 += Q0_7 * K; if (RG > 1u) { S1 += Q1_7 * K; } if (RG > 2u) { S2 += Q2_7 * K; S3 += Q3_7 * K; } }
      if (HEAD_VEC4 > 8u) { let K = k_block(r, 8u); S0 += Q0_8 * K; if (RG > 1u) { S1 += Q1_8 * K; } if (RG > 2u) { S2 += Q2_8 * K; S3 += Q3_8 * K; } }
      if (HEAD_VEC4 > 9u) { let K = k_block(r, 9u); S0 += Q0_9 * K; if (RG > 1u) { S1 += Q1_9 * K; } if (RG > 2u) { S2 += Q2_9 * K; S3 += Q3_9 * K; } }
      if (HEAD_VEC4 > 10u) { let K = k_block(r, 10u); S0 += Q0_10 * K; if (RG > 1u) { S1 += Q1_10 * K; } if (RG > 2u) { S2 += Q2_10 * K; S3 += Q3_10 * K; } }
      if (HEAD_VEC4 > 11u) { let K = k_block(r, 11u); S0 += Q0_11 * K; if (RG > 1u) { S1 += Q1_11 * K; } if (RG > 2u) { S2 += Q2_11 * K; S3 += Q3_11 * K; } }
      if (HEAD_VEC4 > 12u) { let K = k_block(r, 12u); S0 += Q0_12 * K; if (RG > 1u) { S1 += Q1_12 * K; } if (RG > 2u) { S2 += Q2_12 * K; S3 += Q3_12 * K; } }
      if (HEAD_VEC4 > 13u) { let K = k_block(r, 13u); S0 += Q0_13 * K; if (RG > 1u) { S1 += Q1_13 * K; } if (RG > 2u) { S2 += Q2_13 * K; S3 += Q3_13 * K; } }
      if (HEAD_VEC4 > 14u) { let K = k_block(r, 14u); S0 += Q0_14 * K; if (RG > 1u) { S1 += Q1_14 * K; } if (RG > 2u) { S2 += Q2_14 * K; S3 += Q3_14 * K; } }
      if (HEAD_VEC4 > 15u) { let K = k_block(r, 15u); S0 += Q0_15 * K; if (RG > 1u) { S1 += Q1_15 * K; } if (RG > 2u) { S2 += Q2_15 * K; S3 += Q3_15 * K; } }
    } else {
      for (var e = 0u; e < HEAD_VEC4; e++) {
        let K = k_block(r, e);
        S0 += q_block(qr0, e) * K;
        if (RG > 1u) { S1 += q_block(qr1, e) * K; }
        if (RG > 2u) { S2 += q_block(qr2, e) * K; S3 += q_block(qr3, e) * K; }
      }
    }
    let w0 = online_softmax(S0, &g0, b, h, j);
    let P0 = w0.p; let corr0 = w0.corr;
    var P1 = mat4x4<f32>(); var corr1 = vec4<f32>(1.0);
    var P2 = mat4x4<f32>(); var corr2 = vec4<f32>(1.0);
    var P3 = mat4x4<f32>(); var corr3 = vec4<f32>(1.0);
    if (RG > 1u) { let w = online_softmax(S1, &g1, b, h, j); P1 = w.p; corr1 = w.corr; }
    if (RG > 2u) {
      let w2 = online_softmax(S2, &g2, b, h, j); P2 = w2.p; corr2 = w2.corr;
      let w3 = online_softmax(S3, &g3, b, h, j); P3 = w3.p; corr3 = w3.corr;
    }
    if (NAMED) {
      if (VALUE_VEC4 > 0u) { let V = v_block(r, 0u); A0_0 = cols(A0_0, corr0) + V * P0; if (RG > 1u) { A1_0 = cols(A1_0, corr1) + V * P1; } if (RG > 2u) { A2_0 = cols(A2_0, corr2) + V * P2; A3_0 = cols(A3_0, corr3) + V * P3; } }
      if (VALUE_VEC4 > 1u) { let V = v_block(r, 1u); A0_1 = cols(A0_1, corr0) + V * P0; if (RG > 1u) { A1_1 = cols(A1_1, corr1) + V * P1; } if (RG > 2u) { A2_1 = cols(A2_1, corr2) + V * P2; A3_1 = cols(A3_1, corr3) + V * P3; } }
      if (VALUE_VEC4 > 2u) { let V = v_block(r, 2u); A0_2 = cols(A0_2, corr0) + V * P0; if (RG > 1u) { A1_2 = cols(A1_2, corr1) + V * P1; } if (RG > 2u) { A2_2 = cols(A2_2, corr2) + V * P2; A3_2 = cols(A3_2, corr3) + V * P3; } }
      if (VALUE_VEC4 > 3u) { let V = v_block(r, 3u); A0_3 = cols(A0_3, corr0) + V * P0; if (RG > 1u) { A1_3 = cols(A1_3, corr1) + V * P1; } if (RG > 2u) { A2_3 = cols(A2_3, corr2) + V * P2; A3_3 = cols(A3_3, corr3) + V * P3; } }
      if (VALUE_VEC4 > 4u) { let V = v_block(r, 4u); A0_4 = cols(A0_4, corr0) + V * P0; if (RG > 1u) { A1_4 = cols(A1_4, corr1) + V * P1; } if (RG > 2u) { A2_4 = cols(A2_4, corr2) + V * P2; A3_4 = cols(A3_4, corr3) + V * P3; } }
      if (VALUE_VEC4 > 5u) { let V = v_block(r, 5u); A0_5 = cols(A0_5, corr0) + V * P0; if (RG > 1u) { A1_5 = cols(A1_5, corr1) + V * P1; } if (RG > 2u) { A2_5 = cols(A2_5, corr2) + V * P2; A3_5 = cols(A3_5, corr3) + V * P3; } }
      if (VALUE_VEC4 > 6u) { let V = v_block(r, 6u); A0_6 = cols(A0_6, corr0) + V * P0; if (RG > 1u) { A1_6 = cols(A1_6, corr1) + V * P1; } if (RG > 2u) { A2_6 = cols(A2_6, corr2) + V * P2; A3_6 = cols(A3_6, corr3) + V * P3; } }
      if (VALUE_VEC4 > 7u) { let V = v_block(r, 7u); A0_7 = cols(A0_7, corr0) + V * P0; if (RG > 1u) { A1_7 = cols(A1_7, corr1) + V * P1; } if (RG > 2u) { A2_7 = cols(A2_7, corr2) + V * P2; A3_7 = cols(A3_7, corr3) + V * P3; } }
      if (VALUE_VEC4 > 8u) { let V = v_block(r, 8u); A0_8 = cols(A0_8, corr0) + V * P0; if (RG > 1u) { A1_8 = cols(A1_8, corr1) + V * P1; } if (RG > 2u) { A2_8 = cols(A2_8, corr2) + V * P2; A3_8 = cols(A3_8, corr3) + V * P3; } }
      if (VALUE_VEC4 > 9u) { let V = v_block(r, 9u); A0_9 = cols(A0_9, corr0) + V * P0; if (RG > 1u) { A1_9 = cols(A1_9, corr1) + V * P1; } if (RG > 2u) { A2_9 = cols(A2_9, corr2) + V * P2; A3_9 = cols(A3_9, corr3) + V * P3; } }
      if (VALUE_VEC4 > 10u) { let V = v_block(r, 10u); A0_10 = cols(A0_10, corr0) + V * P0; if (RG > 1u) { A1_10 = cols(A1_10, corr1) + V * P1; } if (RG > 2u) { A2_10 = cols(A2_10, corr2) + V * P2; A3_10 = cols(A3_10, corr3) + V * P3; } }
      if (VALUE_VEC4 > 11u) { let V = v_block(r, 11u); A0_11 = cols(A0_11, corr0) + V * P0; if (RG > 1u) { A1_11 = cols(A1_11, corr1) + V * P1; } if (RG > 2u) { A2_11 = cols(A2_11, corr2) + V * P2; A3_11 = cols(A3_11, corr3) + V * P3; } }
      if (VALUE_VEC4 > 12u) { let V = v_block(r, 12u); A0_12 = cols(A0_12, corr0) + V * P0; if (RG > 1u) { A1_12 = cols(A1_12, corr1) + V * P1; } if (RG > 2u) { A2_12 = cols(A2_12, corr2) + V * P2; A3_12 = cols(A3_12, corr3) + V * P3; } }
      if (VALUE_VEC4 > 13u) { let V = v_block(r, 13u); A0_13 = cols(A0_13, corr0) + V * P0; if (RG > 1u) { A1_13 = cols(A1_13, corr1) + V * P1; } if (RG > 2u) { A2_13 = cols(A2_13, corr2) + V * P2; A3_13 = cols(A3_13, corr3) + V * P3; } }
      if (VALUE_VEC4 > 14u) { let V = v_block(r, 14u); A0_14 = cols(A0_14, corr0) + V * P0; if (RG > 1u) { A1_14 = cols(A1_14, corr1) + V * P1; } if (RG > 2u) { A2_14 = cols(A2_14, corr2) + V * P2; A3_14 = cols(A3_14, corr3) + V * P3; } }
      if (VALUE_VEC4 > 15u) { let V = v_block(r, 15u); A0_15 = cols(A0_15, corr0) + V * P0; if (RG > 1u) { A1_15 = cols(A1_15, corr1) + V * P1; } if (RG > 2u) { A2_15 = cols(A2_15, corr2) + V * P2; A3_15 = cols(A3_15, corr3) + V * P3; } }
    } else {
      for (var c = 0u; c < VALUE_VEC4; c++) {
        let V = v_block(r, c);
        acc0[c] = cols(acc0[c], corr0) + V * P0;
        if (RG > 1u) { acc1[c] = cols(acc1[c], corr1) + V * P1; }
        if (RG > 2u) { acc2[c] = cols(acc2[c], corr2) + V * P2; acc3[c] = cols(acc3[c], corr3) + V * P3; }
      }
    }
  }

  let mul0 = finish(g0);
  var mul1: vec4<f32>; var mul2: vec4<f32>; var mul3: vec4<f32>;
  if (RG > 1u) { mul1 = finish(g1); }
  if (RG > 2u) { mul2 = finish(g2); mul3 = finish(g3); }
  if (NAMED) {
    if (VALUE_VEC4 > 0u) { put(g0, 0u, A0_0, mul0); if (RG > 1u) { put(g1, 0u, A1_0, mul1); } if (RG > 2u) { put(g2, 0u, A2_0, mul2); put(g3, 0u, A3_0, mul3); } }
    if (VALUE_VEC4 > 1u) { put(g0, 1u, A0_1, mul0); if (RG > 1u) { put(g1, 1u, A1_1, mul1); } if (RG > 2u) { put(g2, 1u, A2_1, mul2); put(g3, 1u, A3_1, mul3); } }
    if (VALUE_VEC4 > 2u) { put(g0, 2u, A0_2, mul0); if (RG > 1u) { put(g1, 2u, A1_2, mul1); } if (RG > 2u) { put(g2, 2u, A2_2, mul2); put(g3, 2u, A3_2, mul3); } }
    if (VALUE_VEC4 > 3u) { put(g0, 3u, A0_3, mul0); if (RG > 1u) { put(g1, 3u, A1_3, mul1); } if (RG > 2u) { put(g2, 3u, A2_3, mul2); put(g3, 3u, A3_3, mul3); } }
    if (VALUE_VEC4 > 4u) { put(g0, 4u, A0_4, mul0); if (RG > 1u) { put(g1, 4u, A1_4, mul1); } if (RG > 2u) { put(g2, 4u, A2_4, mul2); put(g3, 4u, A3_4, mul3); } }
    if (VALUE_VEC4 > 5u) { put(g0, 5u, A0_5, mul0); if (RG > 1u) { put(g1, 5u, A1_5, mul1); } if (RG > 2u) { put(g2, 5u, A2_5, mul2); put(g3, 5u, A3_5, mul3); } }
    if (VALUE_VEC4 > 6u) { put(g0, 6u, A0_6, mul0); if (RG > 1u) { put(g1, 6u, A1_6, mul1); } if (RG > 2u) { put(g2, 6u, A2_6, mul2); put(g3, 6u, A3_6, mul3); } }
    if (VALUE_VEC4 > 7u) { put(g0, 7u, A0_7, mul0); if (RG > 1u) { put(g1, 7u, A1_7, mul1); } if (RG > 2u) { put(g2, 7u, A2_7, mul2); put(g3, 7u, A3_7, mul3); } }
    if (VALUE_VEC4 > 8u) { put(g0, 8u, A0_8, mul0); if (RG > 1u) { put(g1, 8u, A1_8, mul1); } if (RG > 2u) { put(g2, 8u, A2_8, mul2); put(g3, 8u, A3_8, mul3); } }
    if (VALUE_VEC4 > 9u) { put(g0, 9u, A0_9, mul0); if (RG > 1u) { put(g1, 9u, A1_9, mul1); } if (RG > 2u) { put(g2, 9u, A2_9, mul2); put(g3, 9u, A3_9, mul3); } }
    if (VALUE_VEC4 > 10u) { put(g0, 10u, A0_10, mul0); if (RG > 1u) { put(g1, 10u, A1_10, mul1); } if (RG > 2u) { put(g2, 10u, A2_10, mul2); put(g3, 10u, A3_10, mul3); } }
    if (VALUE_VEC4 > 11u) { put(g0, 11u, A0_11, mul0); if (RG > 1u) { put(g1, 11u, A1_11, mul1); } if (RG > 2u) { put(g2, 11u, A2_11, mul2); put(g3, 11u, A3_11, mul3); } }
    if (VALUE_VEC4 > 12u) { put(g0, 12u, A0_12, mul0); if (RG > 1u) { put(g1, 12u, A1_12, mul1); } if (RG > 2u) { put(g2, 12u, A2_12, mul2); put(g3, 12u, A3_12, mul3); } }
    if (VALUE_VEC4 > 13u) { put(g0, 13u, A0_13, mul0); if (RG > 1u) { put(g1, 13u, A1_13, mul1); } if (RG > 2u) { put(g2, 13u, A2_13, mul2); put(g3, 13u, A3_13, mul3); } }
    if (VALUE_VEC4 > 14u) { put(g0, 14u, A0_14, mul0); if (RG > 1u) { put(g1, 14u, A1_14, mul1); } if (RG > 2u) { put(g2, 14u, A2_14, mul2); put(g3, 14u, A3_14, mul3); } }
    if (VALUE_VEC4 > 15u) { put(g0, 15u, A0_15, mul0); if (RG > 1u) { put(g1, 15u, A1_15, mul1); } if (RG > 2u) { put(g2, 15u, A2_15, mul2); put(g3, 15u, A3_15, mul3); } }
  } else {
    for (var c = 0u; c < VALUE_VEC4; c++) {
      put(g0, c, acc0[c], mul0);
      if (RG > 1u) { put(g1, c, acc1[c], mul1); }
      if (RG > 2u) { put(g2, c, acc2[c], mul2); put(g3, c, acc3[c], mul3); }
    }
  }
}
