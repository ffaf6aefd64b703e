// Fused path: softmax(q kᵀ · scale + mask) v without storing the score matrix (FlashAttention-2
// style online softmax). One invocation owns ROWS query rows (4, or 1 for split-keys decoding) of
// one (batch, head) and one chunk of its keys. Per row it keeps the running max m, the running sum
// l and an f32 accumulator, and rescales the accumulator when m grows. Memory is O((Lq + Lk)·E);
// keys past the causal limit are never read.
//
// With one split (prefill) it writes the final rows (and their log-sum-exp). With several
// (split-keys, for decoding: few rows, many keys) it writes each chunk's unnormalised accumulator,
// m and l, and merge.wgsl combines the chunks.
//
// Register blocking: four keys a step, four rows an invocation, so every vec4 of k and v that is
// loaded serves four rows (loads, not arithmetic, bound this kernel on software adapters). The
// 4 x 4 blocks are mat4x4 products: scores_r += q_r · [k0 k1 k2 k3]; acc_r += [v0 v1 v2 v3] · p_r.
// q, k, v (bindings 2-4) and load_q / load_k / load_v come from lib/qkv-vec4.wgsl or qkv-scalar.wgsl.
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // final rows, or partial accumulators
@group(0) @binding(6) var<storage, read_write> stats: array<f32>; // log-sum-exp, or (m, l) per partial

override HEAD_VEC4: u32 = 16u;  // ceil(E / 4)
override VALUE_VEC4: u32 = 16u; // ceil(Ev / 4)
override ROWS: u32 = 4u;        // query rows per invocation: 4, or 1 when splitting keys
override SPLIT: bool = false;
override WRITE_LSE: bool = false;
override WG: u32 = 64u;
// Up to 16 vec4 per row (Ev <= 64) the accumulators are named variables, written out below:
// fixed names stay in registers, while an array indexed in a loop becomes per-invocation memory
// (gathers and scatters on software adapters). Wider values use the arrays.
const MAX_VEC4: u32 = 64u;
override NAMED_ACC: bool = true;

fn k_block(r: vec4<u32>, e: u32) -> mat4x4<f32> {
  return mat4x4<f32>(load_k(r.x, e), load_k(r.y, e), load_k(r.z, e), load_k(r.w, e));
}

fn v_block(r: vec4<u32>, c: u32) -> mat4x4<f32> {
  return mat4x4<f32>(load_v(r.x, c), load_v(r.y, c), load_v(r.z, c), load_v(r.w, c));
}

fn hsum(x: vec4<f32>) -> f32 {
  return x.x + x.y + x.z + x.w;
}

fn hmax(x: vec4<f32>) -> f32 {
  return max(max(x.x, x.y), max(x.z, x.w));
}

// Scaled, masked scores of one row for four keys, and their weights against the new max.
fn row_scores(raw: vec4<f32>, b: u32, h: u32, i: u32, j: vec4<u32>, end: u32) -> vec4<f32> {
  var s = raw * params.scale;
  if (MASK_KIND != 0u) {
    let jc = min(j, vec4<u32>(params.k_len - 1u));
    s += vec4<f32>(mask_bias(b, h, i, jc.x), mask_bias(b, h, i, jc.y), mask_bias(b, h, i, jc.z), mask_bias(b, h, i, jc.w));
  }
  // Keys past the chunk or the causal limit get HIDDEN.
  return select(vec4<f32>(HIDDEN), s, j < vec4<u32>(end));
}

fn weights(s: vec4<f32>, m: f32) -> vec4<f32> {
  // A hidden key has weight 0 even while the row's max is still HIDDEN.
  return select(exp(s - vec4<f32>(m)), vec4<f32>(0.0), s <= vec4<f32>(HIDDEN));
}

// Writes vec4 number c of the live rows (columns of x), leaving out lanes past Ev.
fn put(base: vec4<u32>, c: u32, x: mat4x4<f32>, mul: vec4<f32>, live: vec4<bool>) {
  for (var r = 0u; r < ROWS; r++) {
    if (live[r]) {
      let y = x[r] * mul[r];
      for (var e = 0u; e < 4u; e++) {
        if (c * 4u + e < params.value_dim) { out[base[r] + c * 4u + e] = y[e]; }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  let groups = (params.q_len + ROWS - 1u) / ROWS;
  let local_bh = t / (groups * params.splits);
  if (local_bh >= params.bh_count) {
    return;
  }
  // Row groups vary fastest (neighbouring invocations share keys); for decoding, splits do.
  let g = t % groups;
  let split = (t / groups) % params.splits;
  let bh = params.bh_offset + local_bh;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let kv_bh = b * params.kv_heads + h / params.group;
  let lanes = vec4<u32>(0u, 1u, 2u, 3u);
  let i = g * ROWS + lanes;
  let live = (lanes < vec4<u32>(ROWS)) & (i < vec4<u32>(params.q_len));
  let ic = min(i, vec4<u32>(params.q_len - 1u));
  let qr = bh * params.q_len + ic;

  // Each row's key range: this split's chunk, cut at its causal limit (0 for lanes not in use).
  let k0 = split * params.keys_per_split;
  let chunk_end = min(k0 + params.keys_per_split, params.k_len);
  let end = select(vec4<u32>(0u), min(vec4<u32>(chunk_end),
      vec4<u32>(key_end(ic.x), key_end(ic.y), key_end(ic.z), key_end(ic.w))), live);
  let k1 = max(max(end.x, end.y), max(end.z, end.w));

  var m = vec4<f32>(HIDDEN);
  var l = vec4<f32>(0.0);
  // A NaN score (a NaN in the query row) must reach that row's output; max() may drop it.
  var nan = vec4<f32>(0.0);
  var acc0: array<vec4<f32>, MAX_VEC4>; // the arrays are used only when !NAMED_ACC
  var acc1: array<vec4<f32>, MAX_VEC4>;
  var acc2: array<vec4<f32>, MAX_VEC4>;
  var acc3: array<vec4<f32>, MAX_VEC4>;
  var x0_0 = vec4<f32>(0.0); var x1_0 = vec4<f32>(0.0); var x2_0 = vec4<f32>(0.0); var x3_0 = vec4<f32>(0.0);
  var x0_1 = vec4<f32>(0.0); var x1_1 = vec4<f32>(0.0); var x2_1 = vec4<f32>(0.0); var x3_1 = vec4<f32>(0.0);
  var x0_2 = vec4<f32>(0.0); var x1_2 = vec4<f32>(0.0); var x2_2 = vec4<f32>(0.0); var x3_2 = vec4<f32>(0.0);
  var x0_3 = vec4<f32>(0.0); var x1_3 = vec4<f32>(0.0); var x2_3 = vec4<f32>(0.0); var x3_3 = vec4<f32>(0.0);
  var x0_4 = vec4<f32>(0.0); var x1_4 = vec4<f32>(0.0); var x2_4 = vec4<f32>(0.0); var x3_4 = vec4<f32>(0.0);
  var x0_5 = vec4<f32>(0.0); var x1_5 = vec4<f32>(0.0); var x2_5 = vec4<f32>(0.0); var x3_5 = vec4<f32>(0.0);
  var x0_6 = vec4<f32>(0.0); var x1_6 = vec4<f32>(0.0); var x2_6 = vec4<f32>(0.0); var x3_6 = vec4<f32>(0.0);
  var x0_7 = vec4<f32>(0.0); var x1_7 = vec4<f32>(0.0); var x2_7 = vec4<f32>(0.0); var x3_7 = vec4<f32>(0.0);
  var x0_8 = vec4<f32>(0.0); var x1_8 = vec4<f32>(0.0); var x2_8 = vec4<f32>(0.0); var x3_8 = vec4<f32>(0.0);
  var x0_9 = vec4<f32>(0.0); var x1_9 = vec4<f32>(0.0); var x2_9 = vec4<f32>(0.0); var x3_9 = vec4<f32>(0.0);
  var x0_10 = vec4<f32>(0.0); var x1_10 = vec4<f32>(0.0); var x2_10 = vec4<f32>(0.0); var x3_10 = vec4<f32>(0.0);
  var x0_11 = vec4<f32>(0.0); var x1_11 = vec4<f32>(0.0); var x2_11 = vec4<f32>(0.0); var x3_11 = vec4<f32>(0.0);
  var x0_12 = vec4<f32>(0.0); var x1_12 = vec4<f32>(0.0); var x2_12 = vec4<f32>(0.0); var x3_12 = vec4<f32>(0.0);
  var x0_13 = vec4<f32>(0.0); var x1_13 = vec4<f32>(0.0); var x2_13 = vec4<f32>(0.0); var x3_13 = vec4<f32>(0.0);
  var x0_14 = vec4<f32>(0.0); var x1_14 = vec4<f32>(0.0); var x2_14 = vec4<f32>(0.0); var x3_14 = vec4<f32>(0.0);
  var x0_15 = vec4<f32>(0.0); var x1_15 = vec4<f32>(0.0); var x2_15 = vec4<f32>(0.0); var x3_15 = vec4<f32>(0.0);
  let k_row0 = kv_bh * params.k_len;
  let last = k_row0 + params.k_len - 1u;

  for (var j = k0; j < k1; j += 4u) {
    let jj = j + lanes;
    let r = min(k_row0 + jj, vec4<u32>(last)); // keys past the end read the last key, weight 0
    var s0 = vec4<f32>(0.0);
    var s1 = vec4<f32>(0.0);
    var s2 = vec4<f32>(0.0);
    var s3 = vec4<f32>(0.0);
    for (var e = 0u; e < HEAD_VEC4; e++) {
      let K = k_block(r, e);
      s0 += load_q(qr.x, e) * K;
      if (ROWS > 1u) {
        s1 += load_q(qr.y, e) * K;
        s2 += load_q(qr.z, e) * K;
        s3 += load_q(qr.w, e) * K;
      }
    }
    s0 = row_scores(s0, b, h, ic.x, jj, end.x);
    if (ROWS > 1u) {
      s1 = row_scores(s1, b, h, ic.y, jj, end.y);
      s2 = row_scores(s2, b, h, ic.z, jj, end.z);
      s3 = row_scores(s3, b, h, ic.w, jj, end.w);
    }
    let sums = vec4<f32>(hsum(s0), hsum(s1), hsum(s2), hsum(s3)); // NaN iff a score is NaN
    nan = select(nan, sums, is_nan4(sums));
    let m_new = max(m, vec4<f32>(hmax(s0), hmax(s1), hmax(s2), hmax(s3)));
    let corr = exp(m - m_new);
    let p0 = weights(s0, m_new.x);
    let p1 = weights(s1, m_new.y);
    let p2 = weights(s2, m_new.z);
    let p3 = weights(s3, m_new.w);
    l = l * corr + vec4<f32>(hsum(p0), hsum(p1), hsum(p2), hsum(p3));
    m = m_new;
    if (NAMED_ACC) {
      if (VALUE_VEC4 > 0u) { let V = v_block(r, 0u); x0_0 = x0_0 * corr.x + V * p0; if (ROWS > 1u) { x1_0 = x1_0 * corr.y + V * p1; x2_0 = x2_0 * corr.z + V * p2; x3_0 = x3_0 * corr.w + V * p3; } }
      if (VALUE_VEC4 > 1u) { let V = v_block(r, 1u); x0_1 = x0_1 * corr.x + V * p0; if (ROWS > 1u) { x1_1 = x1_1 * corr.y + V * p1; x2_1 = x2_1 * corr.z + V * p2; x3_1 = x3_1 * corr.w + V * p3; } }
      if (VALUE_VEC4 > 2u) { let V = v_block(r, 2u); x0_2 = x0_2 * corr.x + V * p0; if (ROWS > 1u) { x1_2 = x1_2 * corr.y + V * p1; x2_2 = x2_2 * corr.z + V * p2; x3_2 = x3_2 * corr.w + V * p3; } }
      if (VALUE_VEC4 > 3u) { let V = v_block(r, 3u); x0_3 = x0_3 * corr.x + V * p0; if (ROWS > 1u) { x1_3 = x1_3 * corr.y + V * p1; x2_3 = x2_3 * corr.z + V * p2; x3_3 = x3_3 * corr.w + V * p3; } }
      if (VALUE_VEC4 > 4u) { let V = v_block(r, 4u); x0_4 = x0_4 * corr.x + V * p0; if (ROWS > 1u) { x1_4 = x1_4 * corr.y + V * p1; x2_4 = x2_4 * corr.z + V * p2; x3_4 = x3_4 * corr.w + V * p3; } }
      if (VALUE_VEC4 > 5u) { let V = v_block(r, 5u); x0_5 = x0_5 * corr.x + V * p0; if (ROWS > 1u) { x1_5 = x1_5 * corr.y + V * p1; x2_5 = x2_5 * corr.z + V * p2; x3_5 = x3_5 * corr.w + V * p3; } }
      if (VALUE_VEC4 > 6u) { let V = v_block(r, 6u); x0_6 = x0_6 * corr.x + V * p0; if (ROWS > 1u) { x1_6 = x1_6 * corr.y + V * p1; x2_6 = x2_6 * corr.z + V * p2; x3_6 = x3_6 * corr.w + V * p3; } }
      if (VALUE_VEC4 > 7u) { let V = v_block(r, 7u); x0_7 = x0_7 * corr.x + V * p0; if (ROWS > 1u) { x1_7 = x1_7 * corr.y + V * p1; x2_7 = x2_7 * corr.z + V * p2; x3_7 = x3_7 * corr.w + V * p3; } }
      if (VALUE_VEC4 > 8u) { let V = v_block(r, 8u); x0_8 = x0_8 * corr.x + V * p0; if (ROWS > 1u) { x1_8 = x1_8 * corr.y + V * p1; x2_8 = x2_8 * corr.z + V * p2; x3_8 = x3_8 * corr.w + V * p3; } }
      if (VALUE_VEC4 > 9u) { let V = v_block(r, 9u); x0_9 = x0_9 * corr.x + V * p0; if (ROWS > 1u) { x1_9 = x1_9 * corr.y + V * p1; x2_9 = x2_9 * corr.z + V * p2; x3_9 = x3_9 * corr.w + V * p3; } }
      if (VALUE_VEC4 > 10u) { let V = v_block(r, 10u); x0_10 = x0_10 * corr.x + V * p0; if (ROWS > 1u) { x1_10 = x1_10 * corr.y + V * p1; x2_10 = x2_10 * corr.z + V * p2; x3_10 = x3_10 * corr.w + V * p3; } }
      if (VALUE_VEC4 > 11u) { let V = v_block(r, 11u); x0_11 = x0_11 * corr.x + V * p0; if (ROWS > 1u) { x1_11 = x1_11 * corr.y + V * p1; x2_11 = x2_11 * corr.z + V * p2; x3_11 = x3_11 * corr.w + V * p3; } }
      if (VALUE_VEC4 > 12u) { let V = v_block(r, 12u); x0_12 = x0_12 * corr.x + V * p0; if (ROWS > 1u) { x1_12 = x1_12 * corr.y + V * p1; x2_12 = x2_12 * corr.z + V * p2; x3_12 = x3_12 * corr.w + V * p3; } }
      if (VALUE_VEC4 > 13u) { let V = v_block(r, 13u); x0_13 = x0_13 * corr.x + V * p0; if (ROWS > 1u) { x1_13 = x1_13 * corr.y + V * p1; x2_13 = x2_13 * corr.z + V * p2; x3_13 = x3_13 * corr.w + V * p3; } }
      if (VALUE_VEC4 > 14u) { let V = v_block(r, 14u); x0_14 = x0_14 * corr.x + V * p0; if (ROWS > 1u) { x1_14 = x1_14 * corr.y + V * p1; x2_14 = x2_14 * corr.z + V * p2; x3_14 = x3_14 * corr.w + V * p3; } }
      if (VALUE_VEC4 > 15u) { let V = v_block(r, 15u); x0_15 = x0_15 * corr.x + V * p0; if (ROWS > 1u) { x1_15 = x1_15 * corr.y + V * p1; x2_15 = x2_15 * corr.z + V * p2; x3_15 = x3_15 * corr.w + V * p3; } }
    } else {
      for (var c = 0u; c < VALUE_VEC4; c++) {
        let V = v_block(r, c);
        acc0[c] = acc0[c] * corr.x + V * p0;
        if (ROWS > 1u) {
          acc1[c] = acc1[c] * corr.y + V * p1;
          acc2[c] = acc2[c] * corr.z + V * p2;
          acc3[c] = acc3[c] * corr.w + V * p3;
        }
      }
    }
  }

  l = select(l, nan, is_nan4(nan));
  var base: vec4<u32>;
  var mul = vec4<f32>(1.0);
  if (SPLIT) {
    // Partials: the unnormalised accumulator with its m and l, for merge.wgsl.
    let slot = ((local_bh * params.q_len + ic) * params.splits + split);
    base = slot * params.value_dim;
    for (var x = 0u; x < ROWS; x++) {
      if (live[x]) {
        stats[slot[x] * 2u] = m[x];
        stats[slot[x] * 2u + 1u] = l[x];
      }
    }
  } else {
    let row = bh * params.q_len + ic;
    base = row * params.value_dim;
    // A row with nothing to attend to (l == 0) gives 0, not 0/0.
    mul = select(select(vec4<f32>(0.0), 1.0 / l, l > vec4<f32>(0.0)), nan, is_nan4(nan));
    if (WRITE_LSE) {
      let lse = select(vec4<f32>(HIDDEN), m + log(l), l > vec4<f32>(0.0));
      for (var x = 0u; x < ROWS; x++) {
        if (live[x]) { stats[row[x]] = lse[x]; }
      }
    }
  }
  if (NAMED_ACC) {
    if (VALUE_VEC4 > 0u) { put(base, 0u, mat4x4<f32>(x0_0, x1_0, x2_0, x3_0), mul, live); }
    if (VALUE_VEC4 > 1u) { put(base, 1u, mat4x4<f32>(x0_1, x1_1, x2_1, x3_1), mul, live); }
    if (VALUE_VEC4 > 2u) { put(base, 2u, mat4x4<f32>(x0_2, x1_2, x2_2, x3_2), mul, live); }
    if (VALUE_VEC4 > 3u) { put(base, 3u, mat4x4<f32>(x0_3, x1_3, x2_3, x3_3), mul, live); }
    if (VALUE_VEC4 > 4u) { put(base, 4u, mat4x4<f32>(x0_4, x1_4, x2_4, x3_4), mul, live); }
    if (VALUE_VEC4 > 5u) { put(base, 5u, mat4x4<f32>(x0_5, x1_5, x2_5, x3_5), mul, live); }
    if (VALUE_VEC4 > 6u) { put(base, 6u, mat4x4<f32>(x0_6, x1_6, x2_6, x3_6), mul, live); }
    if (VALUE_VEC4 > 7u) { put(base, 7u, mat4x4<f32>(x0_7, x1_7, x2_7, x3_7), mul, live); }
    if (VALUE_VEC4 > 8u) { put(base, 8u, mat4x4<f32>(x0_8, x1_8, x2_8, x3_8), mul, live); }
    if (VALUE_VEC4 > 9u) { put(base, 9u, mat4x4<f32>(x0_9, x1_9, x2_9, x3_9), mul, live); }
    if (VALUE_VEC4 > 10u) { put(base, 10u, mat4x4<f32>(x0_10, x1_10, x2_10, x3_10), mul, live); }
    if (VALUE_VEC4 > 11u) { put(base, 11u, mat4x4<f32>(x0_11, x1_11, x2_11, x3_11), mul, live); }
    if (VALUE_VEC4 > 12u) { put(base, 12u, mat4x4<f32>(x0_12, x1_12, x2_12, x3_12), mul, live); }
    if (VALUE_VEC4 > 13u) { put(base, 13u, mat4x4<f32>(x0_13, x1_13, x2_13, x3_13), mul, live); }
    if (VALUE_VEC4 > 14u) { put(base, 14u, mat4x4<f32>(x0_14, x1_14, x2_14, x3_14), mul, live); }
    if (VALUE_VEC4 > 15u) { put(base, 15u, mat4x4<f32>(x0_15, x1_15, x2_15, x3_15), mul, live); }
  } else {
    for (var c = 0u; c < VALUE_VEC4; c++) {
      put(base, c, mat4x4<f32>(acc0[c], acc1[c], acc2[c], acc3[c]), mul, live);
    }
  }
}
