// Split-keys path, first kernel (decoding: few query rows, many keys). The keys of each row are
// cut into params.splits chunks of params.keys_per_split; one invocation takes one (row, chunk),
// runs flash.wgsl's online softmax over it, 4 keys at a time, and writes the chunk's unnormalised
// accumulator with its max m and sum l. merge.wgsl combines the chunks.
// For Ev up to 64 the accumulator is 16 named vec4 (registers) in unrolled code; wider, an array.
@group(0) @binding(5) var<storage, read_write> partials: array<f32>; // [row, split, Ev]
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;    // [row, split, (m, l)]

override HEAD_VEC4: u32 = 16u;  // ceil(E / 4)
override VALUE_VEC4: u32 = 16u; // ceil(Ev / 4)
override NAMED: bool = true;    // Ev <= 64
override WG: u32 = 64u;
const MAX_VEC4: u32 = 64u;

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
) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  // Rows vary fastest (neighbours share keys), then chunks, then heads.
  let i = t % params.q_len;
  let split = (t / params.q_len) % params.splits;
  let local_bh = t / (params.q_len * params.splits);
  if (local_bh >= params.bh_count) {
    return;
  }
  let local_row = local_bh * params.q_len + i;
  let bh = params.bh_offset + local_bh;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let kv_bh = b * params.kv_heads + h / params.group;
  let q_row = bh * params.q_len + i;
  let lanes = vec4<u32>(0u, 1u, 2u, 3u);

  // This chunk of keys, cut at the row's causal limit.
  let k0 = split * params.keys_per_split;
  let end = min(min(k0 + params.keys_per_split, params.k_len), key_end(i));
  let k_row0 = kv_bh * params.k_len;
  let last = k_row0 + params.k_len - 1u;

  var m = HIDDEN;
  var l = 0.0;
  var nan = 0.0; // NaN once a score was NaN (max() may drop it)
  var x0 = vec4<f32>(0.0); var x1 = vec4<f32>(0.0); var x2 = vec4<f32>(0.0); var x3 = vec4<f32>(0.0);
  var x4 = vec4<f32>(0.0); var x5 = vec4<f32>(0.0); var x6 = vec4<f32>(0.0); var x7 = vec4<f32>(0.0);
  var x8 = vec4<f32>(0.0); var x9 = vec4<f32>(0.0); var x10 = vec4<f32>(0.0); var x11 = vec4<f32>(0.0);
  var x12 = vec4<f32>(0.0); var x13 = vec4<f32>(0.0); var x14 = vec4<f32>(0.0); var x15 = vec4<f32>(0.0);
  var acc: array<vec4<f32>, MAX_VEC4>; // used only when !NAMED
  for (var j = k0; j < end; j += 4u) {
    let jj = j + lanes;
    let r = min(k_row0 + jj, vec4<u32>(last)); // past the end: the last key, weight 0
    var s = vec4<f32>(0.0);
    for (var e = 0u; e < HEAD_VEC4; e++) {
      s += load_q(q_row, e) * k_block(r, e);
    }
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
    if (NAMED) {
      if (VALUE_VEC4 > 0u) { x0 = x0 * corr + v_block(r, 0u) * p; }
      if (VALUE_VEC4 > 1u) { x1 = x1 * corr + v_block(r, 1u) * p; }
      if (VALUE_VEC4 > 2u) { x2 = x2 * corr + v_block(r, 2u) * p; }
      if (VALUE_VEC4 > 3u) { x3 = x3 * corr + v_block(r, 3u) * p; }
      if (VALUE_VEC4 > 4u) { x4 = x4 * corr + v_block(r, 4u) * p; }
      if (VALUE_VEC4 > 5u) { x5 = x5 * corr + v_block(r, 5u) * p; }
      if (VALUE_VEC4 > 6u) { x6 = x6 * corr + v_block(r, 6u) * p; }
      if (VALUE_VEC4 > 7u) { x7 = x7 * corr + v_block(r, 7u) * p; }
      if (VALUE_VEC4 > 8u) { x8 = x8 * corr + v_block(r, 8u) * p; }
      if (VALUE_VEC4 > 9u) { x9 = x9 * corr + v_block(r, 9u) * p; }
      if (VALUE_VEC4 > 10u) { x10 = x10 * corr + v_block(r, 10u) * p; }
      if (VALUE_VEC4 > 11u) { x11 = x11 * corr + v_block(r, 11u) * p; }
      if (VALUE_VEC4 > 12u) { x12 = x12 * corr + v_block(r, 12u) * p; }
      if (VALUE_VEC4 > 13u) { x13 = x13 * corr + v_block(r, 13u) * p; }
      if (VALUE_VEC4 > 14u) { x14 = x14 * corr + v_block(r, 14u) * p; }
      if (VALUE_VEC4 > 15u) { x15 = x15 * corr + v_block(r, 15u) * p; }
    } else {
      for (var c = 0u; c < VALUE_VEC4; c++) {
        acc[c] = acc[c] * corr + v_block(r, c) * p;
      }
    }
  }

  let slot = local_row * params.splits + split;
  stats[slot * 2u] = m;
  stats[slot * 2u + 1u] = select(l, nan, is_nan(nan));
  let base = slot * params.value_dim;
  if (NAMED) {
    if (VALUE_VEC4 > 0u) { put(base, 0u, x0); }
    if (VALUE_VEC4 > 1u) { put(base, 1u, x1); }
    if (VALUE_VEC4 > 2u) { put(base, 2u, x2); }
    if (VALUE_VEC4 > 3u) { put(base, 3u, x3); }
    if (VALUE_VEC4 > 4u) { put(base, 4u, x4); }
    if (VALUE_VEC4 > 5u) { put(base, 5u, x5); }
    if (VALUE_VEC4 > 6u) { put(base, 6u, x6); }
    if (VALUE_VEC4 > 7u) { put(base, 7u, x7); }
    if (VALUE_VEC4 > 8u) { put(base, 8u, x8); }
    if (VALUE_VEC4 > 9u) { put(base, 9u, x9); }
    if (VALUE_VEC4 > 10u) { put(base, 10u, x10); }
    if (VALUE_VEC4 > 11u) { put(base, 11u, x11); }
    if (VALUE_VEC4 > 12u) { put(base, 12u, x12); }
    if (VALUE_VEC4 > 13u) { put(base, 13u, x13); }
    if (VALUE_VEC4 > 14u) { put(base, 14u, x14); }
    if (VALUE_VEC4 > 15u) { put(base, 15u, x15); }
  } else {
    for (var c = 0u; c < VALUE_VEC4; c++) {
      put(base, c, acc[c]);
    }
  }
}
