// Split-keys path on adapters whose subgroups are 4 lanes wide (see lib/kv-share-quad.wgsl for
// why and where): the same work as flash-split.wgsl, but each (row, chunk) is taken by a quad of 4
// invocations that split the head and value dims between them. Lane l holds vec4s l, l+4, l+8, …
// of the query row and of the accumulator, loads only those vec4s of each key and value, and a
// quad sum (two quadSwaps) completes every score in all four lanes. Every vec4 of K and V is still
// loaded once, but each invocation carries a quarter of the values around the key loop: on
// SwiftShader a gather costs more the more values are live across it (BENCHMARKS.md, session 8).
// Needs `enable subgroups;` (src/shaders.ts puts it first), and quads of 4 consecutive local
// invocation indices, as SwiftShader runs them; the tests check it against the float64 reference.
@group(0) @binding(5) var<storage, read_write> partials: array<f32>; // [row, split, Ev]
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;    // [row, split, (m, l)]

override HEAD_VEC4: u32 = 16u;  // ceil(E / 4), at most 64
override VALUE_VEC4: u32 = 16u; // ceil(Ev / 4), at most 64
override WG: u32 = 64u;         // a multiple of 4

// Writes vec4 c of the partial, leaving out lanes past Ev.
fn put(base: u32, c: u32, x: vec4<f32>) {
  for (var e = 0u; e < 4u; e++) {
    if (c * 4u + e < params.value_dim) { partials[base + c * 4u + e] = x[e]; }
  }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) sg_lane: u32,
) {
  let lane = sg_lane & 3u;
  let t = (workgroup_index(wid, nwg) * WG + lid) >> 2u; // the quad's (row, chunk)
  // Rows vary fastest, then chunks, then heads.
  let i = t % params.q_len;
  let split = (t / params.q_len) % params.splits;
  let local_bh = t / (params.q_len * params.splits);
  if (local_bh >= params.bh_count) {
    return; // the whole quad: all four lanes have the same t
  }
  let local_row = local_bh * params.q_len + i;
  let bh = params.bh_offset + local_bh;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let kv_bh = b * params.kv_heads + h / params.group;
  let q_row = bh * params.q_len + i;
  let lanes = vec4<u32>(0u, 1u, 2u, 3u);

  // This chunk of keys, cut at the row's causal limit: the same for the whole quad.
  let k0 = split * params.keys_per_split;
  let end = min(min(k0 + params.keys_per_split, params.k_len), key_end(i));
  let k_row0 = kv_bh * params.k_len;
  let last = k_row0 + params.k_len - 1u;

  // This lane's vec4s of the query row (zero past E).
  var q0 = vec4<f32>(0.0); var q1 = vec4<f32>(0.0); var q2 = vec4<f32>(0.0); var q3 = vec4<f32>(0.0);
  var q4 = vec4<f32>(0.0); var q5 = vec4<f32>(0.0); var q6 = vec4<f32>(0.0); var q7 = vec4<f32>(0.0);
  var q8 = vec4<f32>(0.0); var q9 = vec4<f32>(0.0); var q10 = vec4<f32>(0.0); var q11 = vec4<f32>(0.0);
  var q12 = vec4<f32>(0.0); var q13 = vec4<f32>(0.0); var q14 = vec4<f32>(0.0); var q15 = vec4<f32>(0.0);
  if (HEAD_VEC4 > 0u) { q0 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 0u, HEAD_VEC4 - 1u)), lane + 0u < HEAD_VEC4); }
  if (HEAD_VEC4 > 4u) { q1 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 4u, HEAD_VEC4 - 1u)), lane + 4u < HEAD_VEC4); }
  if (HEAD_VEC4 > 8u) { q2 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 8u, HEAD_VEC4 - 1u)), lane + 8u < HEAD_VEC4); }
  if (HEAD_VEC4 > 12u) { q3 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 12u, HEAD_VEC4 - 1u)), lane + 12u < HEAD_VEC4); }
  if (HEAD_VEC4 > 16u) { q4 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 16u, HEAD_VEC4 - 1u)), lane + 16u < HEAD_VEC4); }
  if (HEAD_VEC4 > 20u) { q5 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 20u, HEAD_VEC4 - 1u)), lane + 20u < HEAD_VEC4); }
  if (HEAD_VEC4 > 24u) { q6 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 24u, HEAD_VEC4 - 1u)), lane + 24u < HEAD_VEC4); }
  if (HEAD_VEC4 > 28u) { q7 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 28u, HEAD_VEC4 - 1u)), lane + 28u < HEAD_VEC4); }
  if (HEAD_VEC4 > 32u) { q8 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 32u, HEAD_VEC4 - 1u)), lane + 32u < HEAD_VEC4); }
  if (HEAD_VEC4 > 36u) { q9 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 36u, HEAD_VEC4 - 1u)), lane + 36u < HEAD_VEC4); }
  if (HEAD_VEC4 > 40u) { q10 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 40u, HEAD_VEC4 - 1u)), lane + 40u < HEAD_VEC4); }
  if (HEAD_VEC4 > 44u) { q11 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 44u, HEAD_VEC4 - 1u)), lane + 44u < HEAD_VEC4); }
  if (HEAD_VEC4 > 48u) { q12 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 48u, HEAD_VEC4 - 1u)), lane + 48u < HEAD_VEC4); }
  if (HEAD_VEC4 > 52u) { q13 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 52u, HEAD_VEC4 - 1u)), lane + 52u < HEAD_VEC4); }
  if (HEAD_VEC4 > 56u) { q14 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 56u, HEAD_VEC4 - 1u)), lane + 56u < HEAD_VEC4); }
  if (HEAD_VEC4 > 60u) { q15 = select(vec4<f32>(0.0), load_q(q_row, min(lane + 60u, HEAD_VEC4 - 1u)), lane + 60u < HEAD_VEC4); }
  var m = HIDDEN;
  var l = 0.0;
  var nan = 0.0; // NaN once a score was NaN (max() may drop it)
  var x0 = vec4<f32>(0.0); var x1 = vec4<f32>(0.0); var x2 = vec4<f32>(0.0); var x3 = vec4<f32>(0.0);
  var x4 = vec4<f32>(0.0); var x5 = vec4<f32>(0.0); var x6 = vec4<f32>(0.0); var x7 = vec4<f32>(0.0);
  var x8 = vec4<f32>(0.0); var x9 = vec4<f32>(0.0); var x10 = vec4<f32>(0.0); var x11 = vec4<f32>(0.0);
  var x12 = vec4<f32>(0.0); var x13 = vec4<f32>(0.0); var x14 = vec4<f32>(0.0); var x15 = vec4<f32>(0.0);
  for (var j = k0; j < end; j += 4u) {
    let jj = j + lanes;
    let r = min(k_row0 + jj, vec4<u32>(last)); // past the end: the last key, weight 0
    var s = vec4<f32>(0.0);
    if (HEAD_VEC4 > 0u) { s += select(vec4<f32>(0.0), q0 * k_block(r, min(lane + 0u, HEAD_VEC4 - 1u)), lane + 0u < HEAD_VEC4); }
    if (HEAD_VEC4 > 4u) { s += select(vec4<f32>(0.0), q1 * k_block(r, min(lane + 4u, HEAD_VEC4 - 1u)), lane + 4u < HEAD_VEC4); }
    if (HEAD_VEC4 > 8u) { s += select(vec4<f32>(0.0), q2 * k_block(r, min(lane + 8u, HEAD_VEC4 - 1u)), lane + 8u < HEAD_VEC4); }
    if (HEAD_VEC4 > 12u) { s += select(vec4<f32>(0.0), q3 * k_block(r, min(lane + 12u, HEAD_VEC4 - 1u)), lane + 12u < HEAD_VEC4); }
    if (HEAD_VEC4 > 16u) { s += select(vec4<f32>(0.0), q4 * k_block(r, min(lane + 16u, HEAD_VEC4 - 1u)), lane + 16u < HEAD_VEC4); }
    if (HEAD_VEC4 > 20u) { s += select(vec4<f32>(0.0), q5 * k_block(r, min(lane + 20u, HEAD_VEC4 - 1u)), lane + 20u < HEAD_VEC4); }
    if (HEAD_VEC4 > 24u) { s += select(vec4<f32>(0.0), q6 * k_block(r, min(lane + 24u, HEAD_VEC4 - 1u)), lane + 24u < HEAD_VEC4); }
    if (HEAD_VEC4 > 28u) { s += select(vec4<f32>(0.0), q7 * k_block(r, min(lane + 28u, HEAD_VEC4 - 1u)), lane + 28u < HEAD_VEC4); }
    if (HEAD_VEC4 > 32u) { s += select(vec4<f32>(0.0), q8 * k_block(r, min(lane + 32u, HEAD_VEC4 - 1u)), lane + 32u < HEAD_VEC4); }
    if (HEAD_VEC4 > 36u) { s += select(vec4<f32>(0.0), q9 * k_block(r, min(lane + 36u, HEAD_VEC4 - 1u)), lane + 36u < HEAD_VEC4); }
    if (HEAD_VEC4 > 40u) { s += select(vec4<f32>(0.0), q10 * k_block(r, min(lane + 40u, HEAD_VEC4 - 1u)), lane + 40u < HEAD_VEC4); }
    if (HEAD_VEC4 > 44u) { s += select(vec4<f32>(0.0), q11 * k_block(r, min(lane + 44u, HEAD_VEC4 - 1u)), lane + 44u < HEAD_VEC4); }
    if (HEAD_VEC4 > 48u) { s += select(vec4<f32>(0.0), q12 * k_block(r, min(lane + 48u, HEAD_VEC4 - 1u)), lane + 48u < HEAD_VEC4); }
    if (HEAD_VEC4 > 52u) { s += select(vec4<f32>(0.0), q13 * k_block(r, min(lane + 52u, HEAD_VEC4 - 1u)), lane + 52u < HEAD_VEC4); }
    if (HEAD_VEC4 > 56u) { s += select(vec4<f32>(0.0), q14 * k_block(r, min(lane + 56u, HEAD_VEC4 - 1u)), lane + 56u < HEAD_VEC4); }
    if (HEAD_VEC4 > 60u) { s += select(vec4<f32>(0.0), q15 * k_block(r, min(lane + 60u, HEAD_VEC4 - 1u)), lane + 60u < HEAD_VEC4); }
    s += quadSwapX(s); // the quad's partial dot products: the same sum, in the same order, in all lanes
    s += quadSwapY(s);
    s *= params.scale;
    if (MASK_KIND != 0u) {
      let jc = min(jj, vec4<u32>(params.k_len - 1u));
      s += vec4<f32>(mask_bias(b, h, i, jc.x), mask_bias(b, h, i, jc.y), mask_bias(b, h, i, jc.z), mask_bias(b, h, i, jc.w));
    }
    s = select(vec4<f32>(HIDDEN), s, jj < vec4<u32>(end)); // past the chunk or the causal limit
    let sum = s.x + s.y + s.z + s.w; // NaN iff a score is NaN
    nan = select(nan, sum, is_nan(sum));
    let m_new = max(m, max(max(s.x, s.y), max(s.z, s.w)));
    let corr = exp(m - m_new);
    // A hidden key has weight 0 even while the row's max is still HIDDEN.
    let p = select(exp(s - vec4<f32>(m_new)), vec4<f32>(0.0), s <= vec4<f32>(HIDDEN));
    l = l * corr + (p.x + p.y + p.z + p.w);
    m = m_new;
    if (VALUE_VEC4 > 0u) { x0 = x0 * corr + v_block(r, min(lane + 0u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 4u) { x1 = x1 * corr + v_block(r, min(lane + 4u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 8u) { x2 = x2 * corr + v_block(r, min(lane + 8u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 12u) { x3 = x3 * corr + v_block(r, min(lane + 12u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 16u) { x4 = x4 * corr + v_block(r, min(lane + 16u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 20u) { x5 = x5 * corr + v_block(r, min(lane + 20u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 24u) { x6 = x6 * corr + v_block(r, min(lane + 24u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 28u) { x7 = x7 * corr + v_block(r, min(lane + 28u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 32u) { x8 = x8 * corr + v_block(r, min(lane + 32u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 36u) { x9 = x9 * corr + v_block(r, min(lane + 36u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 40u) { x10 = x10 * corr + v_block(r, min(lane + 40u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 44u) { x11 = x11 * corr + v_block(r, min(lane + 44u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 48u) { x12 = x12 * corr + v_block(r, min(lane + 48u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 52u) { x13 = x13 * corr + v_block(r, min(lane + 52u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 56u) { x14 = x14 * corr + v_block(r, min(lane + 56u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 60u) { x15 = x15 * corr + v_block(r, min(lane + 60u, VALUE_VEC4 - 1u)) * p; }
  }

  let slot = local_row * params.splits + split;
  if (lane == 0u) {
    stats[slot * 2u] = m;
    stats[slot * 2u + 1u] = select(l, nan, is_nan(nan));
  }
  let base = slot * params.value_dim;
  if (VALUE_VEC4 > 0u) { put(base, lane + 0u, x0); }
  if (VALUE_VEC4 > 4u) { put(base, lane + 4u, x1); }
  if (VALUE_VEC4 > 8u) { put(base, lane + 8u, x2); }
  if (VALUE_VEC4 > 12u) { put(base, lane + 12u, x3); }
  if (VALUE_VEC4 > 16u) { put(base, lane + 16u, x4); }
  if (VALUE_VEC4 > 20u) { put(base, lane + 20u, x5); }
  if (VALUE_VEC4 > 24u) { put(base, lane + 24u, x6); }
  if (VALUE_VEC4 > 28u) { put(base, lane + 28u, x7); }
  if (VALUE_VEC4 > 32u) { put(base, lane + 32u, x8); }
  if (VALUE_VEC4 > 36u) { put(base, lane + 36u, x9); }
  if (VALUE_VEC4 > 40u) { put(base, lane + 40u, x10); }
  if (VALUE_VEC4 > 44u) { put(base, lane + 44u, x11); }
  if (VALUE_VEC4 > 48u) { put(base, lane + 48u, x12); }
  if (VALUE_VEC4 > 52u) { put(base, lane + 52u, x13); }
  if (VALUE_VEC4 > 56u) { put(base, lane + 56u, x14); }
  if (VALUE_VEC4 > 60u) { put(base, lane + 60u, x15); }
}
