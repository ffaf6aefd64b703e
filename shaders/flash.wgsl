// Fused path: softmax(q kᵀ · scale + mask) v without storing the score matrix (FlashAttention-2
// style online softmax). One invocation owns one query row of one (batch, head) and one chunk of
// its keys: it keeps the row's running max m, running sum l and an f32 accumulator, and rescales
// the accumulator when m grows. Memory is O((Lq + Lk)·E); keys past the causal limit are never read.
//
// With one split (prefill) the invocation writes the final row (and its log-sum-exp). With several
// (split-keys, for decoding: few rows, many keys) it writes the unnormalised accumulator, m and l
// for its chunk, and merge.wgsl combines the chunks.
//
// Keys go four at a time: four independent dot products give the arithmetic units parallel work,
// and the rescale and exp cost is paid once per four keys.
// q, k, v (bindings 2-4) and load_q/load_k/load_v come from lib/qkv-vec4.wgsl or lib/qkv-scalar.wgsl.
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // final rows, or partial accumulators
@group(0) @binding(6) var<storage, read_write> stats: array<f32>; // log-sum-exp, or (m, l) per partial

const MAX_VEC4: u32 = 64u;          // value dims up to 256
override HEAD_VEC4: u32 = 16u;      // ceil(E / 4): constant per pipeline so loops can unroll
override VALUE_VEC4: u32 = 16u;     // ceil(Ev / 4)
override SPLIT: bool = false;
override WRITE_LSE: bool = false;
override WG: u32 = 64u;
// Up to 32 vec4 (Ev <= 128) the accumulator is 32 named variables: fixed names stay in registers,
// while an array indexed in a loop becomes per-invocation memory (gathers on software adapters).
const NAMED_VEC4: u32 = 32u;
override NAMED_ACC: bool = true;

// One accumulator vec4 after four keys: rescale by the max correction, add p · v.
fn pv(a: vec4<f32>, correction: f32, p: vec4<f32>, r: vec4<u32>, c: u32) -> vec4<f32> {
  return a * correction + p.x * load_v(r.x, c) + p.y * load_v(r.y, c) + p.z * load_v(r.z, c) + p.w * load_v(r.w, c);
}

// Writes vec4 number c of a row, leaving out the lanes past Ev.
fn put(base: u32, c: u32, x: vec4<f32>) {
  for (var e = 0u; e < 4u; e++) {
    if (c * 4u + e < params.value_dim) { out[base + c * 4u + e] = x[e]; }
  }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  let per_bh = params.q_len * params.splits;
  let local_bh = t / per_bh;
  if (local_bh >= params.bh_count) {
    return;
  }
  // Rows vary fastest (neighbouring invocations share keys); for decoding, splits do.
  let i = t % params.q_len;
  let split = (t / params.q_len) % params.splits;
  let bh = params.bh_offset + local_bh;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let kv_bh = b * params.kv_heads + h / params.group;
  let Ev = params.value_dim;

  let k0 = split * params.keys_per_split;
  let k1 = min(k0 + params.keys_per_split, key_end(i));

  let q_row = bh * params.q_len + i;

  var m = HIDDEN;
  var l = 0.0;
  var acc: array<vec4<f32>, MAX_VEC4>; // only when !NAMED_ACC
  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  var a4 = vec4<f32>(0.0);
  var a5 = vec4<f32>(0.0);
  var a6 = vec4<f32>(0.0);
  var a7 = vec4<f32>(0.0);
  var a8 = vec4<f32>(0.0);
  var a9 = vec4<f32>(0.0);
  var a10 = vec4<f32>(0.0);
  var a11 = vec4<f32>(0.0);
  var a12 = vec4<f32>(0.0);
  var a13 = vec4<f32>(0.0);
  var a14 = vec4<f32>(0.0);
  var a15 = vec4<f32>(0.0);
  var a16 = vec4<f32>(0.0);
  var a17 = vec4<f32>(0.0);
  var a18 = vec4<f32>(0.0);
  var a19 = vec4<f32>(0.0);
  var a20 = vec4<f32>(0.0);
  var a21 = vec4<f32>(0.0);
  var a22 = vec4<f32>(0.0);
  var a23 = vec4<f32>(0.0);
  var a24 = vec4<f32>(0.0);
  var a25 = vec4<f32>(0.0);
  var a26 = vec4<f32>(0.0);
  var a27 = vec4<f32>(0.0);
  var a28 = vec4<f32>(0.0);
  var a29 = vec4<f32>(0.0);
  var a30 = vec4<f32>(0.0);
  var a31 = vec4<f32>(0.0);
  let k_row0 = kv_bh * params.k_len;
  let last = params.k_len - 1u;

  for (var j = k0; j < k1; j += 4u) {
    let j1 = min(j + 1u, last);
    let j2 = min(j + 2u, last);
    let j3 = min(j + 3u, last);
    var s = vec4<f32>(0.0);
    for (var e = 0u; e < HEAD_VEC4; e++) {
      let qe = load_q(q_row, e);
      s.x += dot(qe, load_k(k_row0 + j, e));
      s.y += dot(qe, load_k(k_row0 + j1, e));
      s.z += dot(qe, load_k(k_row0 + j2, e));
      s.w += dot(qe, load_k(k_row0 + j3, e));
    }
    s *= params.scale;
    // Keys past the chunk or the causal limit, or hidden by the mask, get HIDDEN. Whole-vector
    // operations: indexing a vector with a loop variable is slow on software adapters.
    if (MASK_KIND != 0u) {
      s += vec4<f32>(mask_bias(b, h, i, j), mask_bias(b, h, i, j1), mask_bias(b, h, i, j2), mask_bias(b, h, i, j3));
    }
    s = select(vec4<f32>(HIDDEN), s, vec4<u32>(j, j + 1u, j + 2u, j + 3u) < vec4<u32>(k1));
    let m_new = max(m, max(max(s.x, s.y), max(s.z, s.w)));
    if (m_new <= HIDDEN) {
      continue; // every key so far is hidden
    }
    let correction = exp(m - m_new);
    let p = exp(s - vec4<f32>(m_new));
    l = l * correction + (p.x + p.y + p.z + p.w);
    m = m_new;
    let r = vec4<u32>(k_row0 + j, k_row0 + j1, k_row0 + j2, k_row0 + j3);
    if (NAMED_ACC) {
      if (VALUE_VEC4 > 0u) { a0 = pv(a0, correction, p, r, 0u); }
      if (VALUE_VEC4 > 1u) { a1 = pv(a1, correction, p, r, 1u); }
      if (VALUE_VEC4 > 2u) { a2 = pv(a2, correction, p, r, 2u); }
      if (VALUE_VEC4 > 3u) { a3 = pv(a3, correction, p, r, 3u); }
      if (VALUE_VEC4 > 4u) { a4 = pv(a4, correction, p, r, 4u); }
      if (VALUE_VEC4 > 5u) { a5 = pv(a5, correction, p, r, 5u); }
      if (VALUE_VEC4 > 6u) { a6 = pv(a6, correction, p, r, 6u); }
      if (VALUE_VEC4 > 7u) { a7 = pv(a7, correction, p, r, 7u); }
      if (VALUE_VEC4 > 8u) { a8 = pv(a8, correction, p, r, 8u); }
      if (VALUE_VEC4 > 9u) { a9 = pv(a9, correction, p, r, 9u); }
      if (VALUE_VEC4 > 10u) { a10 = pv(a10, correction, p, r, 10u); }
      if (VALUE_VEC4 > 11u) { a11 = pv(a11, correction, p, r, 11u); }
      if (VALUE_VEC4 > 12u) { a12 = pv(a12, correction, p, r, 12u); }
      if (VALUE_VEC4 > 13u) { a13 = pv(a13, correction, p, r, 13u); }
      if (VALUE_VEC4 > 14u) { a14 = pv(a14, correction, p, r, 14u); }
      if (VALUE_VEC4 > 15u) { a15 = pv(a15, correction, p, r, 15u); }
      if (VALUE_VEC4 > 16u) { a16 = pv(a16, correction, p, r, 16u); }
      if (VALUE_VEC4 > 17u) { a17 = pv(a17, correction, p, r, 17u); }
      if (VALUE_VEC4 > 18u) { a18 = pv(a18, correction, p, r, 18u); }
      if (VALUE_VEC4 > 19u) { a19 = pv(a19, correction, p, r, 19u); }
      if (VALUE_VEC4 > 20u) { a20 = pv(a20, correction, p, r, 20u); }
      if (VALUE_VEC4 > 21u) { a21 = pv(a21, correction, p, r, 21u); }
      if (VALUE_VEC4 > 22u) { a22 = pv(a22, correction, p, r, 22u); }
      if (VALUE_VEC4 > 23u) { a23 = pv(a23, correction, p, r, 23u); }
      if (VALUE_VEC4 > 24u) { a24 = pv(a24, correction, p, r, 24u); }
      if (VALUE_VEC4 > 25u) { a25 = pv(a25, correction, p, r, 25u); }
      if (VALUE_VEC4 > 26u) { a26 = pv(a26, correction, p, r, 26u); }
      if (VALUE_VEC4 > 27u) { a27 = pv(a27, correction, p, r, 27u); }
      if (VALUE_VEC4 > 28u) { a28 = pv(a28, correction, p, r, 28u); }
      if (VALUE_VEC4 > 29u) { a29 = pv(a29, correction, p, r, 29u); }
      if (VALUE_VEC4 > 30u) { a30 = pv(a30, correction, p, r, 30u); }
      if (VALUE_VEC4 > 31u) { a31 = pv(a31, correction, p, r, 31u); }
    } else {
      for (var c = 0u; c < VALUE_VEC4; c++) {
        acc[c] = pv(acc[c], correction, p, r, c);
      }
    }
  }

  var base: u32;
  var mul = 1.0;
  if (SPLIT) {
    // Partial: the unnormalised accumulator with its m and l, for merge.wgsl.
    let slot = (local_bh * params.q_len + i) * params.splits + split;
    base = slot * Ev;
    stats[slot * 2u] = m;
    stats[slot * 2u + 1u] = l;
  } else {
    let row = bh * params.q_len + i;
    base = row * Ev;
    // A row with nothing to attend to (l == 0) gives 0, not 0/0.
    mul = select(0.0, 1.0 / l, l > 0.0);
    if (WRITE_LSE) {
      stats[row] = select(HIDDEN, m + log(l), l > 0.0);
    }
  }
  if (NAMED_ACC) {
    if (VALUE_VEC4 > 0u) { put(base, 0u, a0 * mul); }
    if (VALUE_VEC4 > 1u) { put(base, 1u, a1 * mul); }
    if (VALUE_VEC4 > 2u) { put(base, 2u, a2 * mul); }
    if (VALUE_VEC4 > 3u) { put(base, 3u, a3 * mul); }
    if (VALUE_VEC4 > 4u) { put(base, 4u, a4 * mul); }
    if (VALUE_VEC4 > 5u) { put(base, 5u, a5 * mul); }
    if (VALUE_VEC4 > 6u) { put(base, 6u, a6 * mul); }
    if (VALUE_VEC4 > 7u) { put(base, 7u, a7 * mul); }
    if (VALUE_VEC4 > 8u) { put(base, 8u, a8 * mul); }
    if (VALUE_VEC4 > 9u) { put(base, 9u, a9 * mul); }
    if (VALUE_VEC4 > 10u) { put(base, 10u, a10 * mul); }
    if (VALUE_VEC4 > 11u) { put(base, 11u, a11 * mul); }
    if (VALUE_VEC4 > 12u) { put(base, 12u, a12 * mul); }
    if (VALUE_VEC4 > 13u) { put(base, 13u, a13 * mul); }
    if (VALUE_VEC4 > 14u) { put(base, 14u, a14 * mul); }
    if (VALUE_VEC4 > 15u) { put(base, 15u, a15 * mul); }
    if (VALUE_VEC4 > 16u) { put(base, 16u, a16 * mul); }
    if (VALUE_VEC4 > 17u) { put(base, 17u, a17 * mul); }
    if (VALUE_VEC4 > 18u) { put(base, 18u, a18 * mul); }
    if (VALUE_VEC4 > 19u) { put(base, 19u, a19 * mul); }
    if (VALUE_VEC4 > 20u) { put(base, 20u, a20 * mul); }
    if (VALUE_VEC4 > 21u) { put(base, 21u, a21 * mul); }
    if (VALUE_VEC4 > 22u) { put(base, 22u, a22 * mul); }
    if (VALUE_VEC4 > 23u) { put(base, 23u, a23 * mul); }
    if (VALUE_VEC4 > 24u) { put(base, 24u, a24 * mul); }
    if (VALUE_VEC4 > 25u) { put(base, 25u, a25 * mul); }
    if (VALUE_VEC4 > 26u) { put(base, 26u, a26 * mul); }
    if (VALUE_VEC4 > 27u) { put(base, 27u, a27 * mul); }
    if (VALUE_VEC4 > 28u) { put(base, 28u, a28 * mul); }
    if (VALUE_VEC4 > 29u) { put(base, 29u, a29 * mul); }
    if (VALUE_VEC4 > 30u) { put(base, 30u, a30 * mul); }
    if (VALUE_VEC4 > 31u) { put(base, 31u, a31 * mul); }
  } else {
    for (var c = 0u; c < VALUE_VEC4; c++) {
      put(base, c, acc[c] * mul);
    }
  }
}
