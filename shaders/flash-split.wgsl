// Split-keys path, first kernel (decoding: few query rows, many keys). The keys of each row are
// cut into params.splits chunks of params.keys_per_split; one invocation takes one (row, chunk),
// runs flash.wgsl's online softmax over it, 4 keys at a time, and writes the chunk's unnormalised
// accumulator with its max m and sum l. merge.wgsl combines the chunks.
// For Ev up to 64 the accumulator is 16 named vec4 (registers) in unrolled code; wider, an array.
override HEAD_VEC4: u32 = 16u;  // ceil(E / 4)
override VALUE_VEC4: u32 = 16u; // ceil(Ev / 4)
override NAMED: bool = true;    // Ev <= 64
override WG: u32 = 64u;
const MAX_VEC4: u32 = 64u;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let c = chunk_of(workgroup_index(wid, nwg) * WG + lid);
  if (!c.valid) {
    return;
  }
  let lanes = vec4<u32>(0u, 1u, 2u, 3u);
  var st = row_softmax();
  var x0 = vec4<f32>(0.0); var x1 = vec4<f32>(0.0); var x2 = vec4<f32>(0.0); var x3 = vec4<f32>(0.0);
  var x4 = vec4<f32>(0.0); var x5 = vec4<f32>(0.0); var x6 = vec4<f32>(0.0); var x7 = vec4<f32>(0.0);
  var x8 = vec4<f32>(0.0); var x9 = vec4<f32>(0.0); var x10 = vec4<f32>(0.0); var x11 = vec4<f32>(0.0);
  var x12 = vec4<f32>(0.0); var x13 = vec4<f32>(0.0); var x14 = vec4<f32>(0.0); var x15 = vec4<f32>(0.0);
  var acc: array<vec4<f32>, MAX_VEC4>; // used only when !NAMED
  for (var j = c.k0; j < c.end; j += 4u) {
    let jj = j + lanes;
    let r = min(c.k_row0 + jj, vec4<u32>(c.last)); // past the end: the last key, weight 0
    let live = jj < vec4<u32>(c.end); // keys past the chunk's end: value 0 too (v_block)
    var dots = vec4<f32>(0.0);
    for (var e = 0u; e < HEAD_VEC4; e++) {
      dots += load_q(c.q_row, e) * k_block(r, e);
    }
    let step = softmax_step(&st, dots, jj, c);
    let corr = step.corr;
    let p = step.p;
    if (NAMED) {
      if (VALUE_VEC4 > 0u) { x0 = x0 * corr + v_block(r, live, 0u) * p; }
      if (VALUE_VEC4 > 1u) { x1 = x1 * corr + v_block(r, live, 1u) * p; }
      if (VALUE_VEC4 > 2u) { x2 = x2 * corr + v_block(r, live, 2u) * p; }
      if (VALUE_VEC4 > 3u) { x3 = x3 * corr + v_block(r, live, 3u) * p; }
      if (VALUE_VEC4 > 4u) { x4 = x4 * corr + v_block(r, live, 4u) * p; }
      if (VALUE_VEC4 > 5u) { x5 = x5 * corr + v_block(r, live, 5u) * p; }
      if (VALUE_VEC4 > 6u) { x6 = x6 * corr + v_block(r, live, 6u) * p; }
      if (VALUE_VEC4 > 7u) { x7 = x7 * corr + v_block(r, live, 7u) * p; }
      if (VALUE_VEC4 > 8u) { x8 = x8 * corr + v_block(r, live, 8u) * p; }
      if (VALUE_VEC4 > 9u) { x9 = x9 * corr + v_block(r, live, 9u) * p; }
      if (VALUE_VEC4 > 10u) { x10 = x10 * corr + v_block(r, live, 10u) * p; }
      if (VALUE_VEC4 > 11u) { x11 = x11 * corr + v_block(r, live, 11u) * p; }
      if (VALUE_VEC4 > 12u) { x12 = x12 * corr + v_block(r, live, 12u) * p; }
      if (VALUE_VEC4 > 13u) { x13 = x13 * corr + v_block(r, live, 13u) * p; }
      if (VALUE_VEC4 > 14u) { x14 = x14 * corr + v_block(r, live, 14u) * p; }
      if (VALUE_VEC4 > 15u) { x15 = x15 * corr + v_block(r, live, 15u) * p; }
    } else {
      for (var e = 0u; e < VALUE_VEC4; e++) {
        acc[e] = acc[e] * corr + v_block(r, live, e) * p;
      }
    }
  }

  put_stats(c, st);
  if (NAMED) {
    if (VALUE_VEC4 > 0u) { put(c, 0u, x0); }
    if (VALUE_VEC4 > 1u) { put(c, 1u, x1); }
    if (VALUE_VEC4 > 2u) { put(c, 2u, x2); }
    if (VALUE_VEC4 > 3u) { put(c, 3u, x3); }
    if (VALUE_VEC4 > 4u) { put(c, 4u, x4); }
    if (VALUE_VEC4 > 5u) { put(c, 5u, x5); }
    if (VALUE_VEC4 > 6u) { put(c, 6u, x6); }
    if (VALUE_VEC4 > 7u) { put(c, 7u, x7); }
    if (VALUE_VEC4 > 8u) { put(c, 8u, x8); }
    if (VALUE_VEC4 > 9u) { put(c, 9u, x9); }
    if (VALUE_VEC4 > 10u) { put(c, 10u, x10); }
    if (VALUE_VEC4 > 11u) { put(c, 11u, x11); }
    if (VALUE_VEC4 > 12u) { put(c, 12u, x12); }
    if (VALUE_VEC4 > 13u) { put(c, 13u, x13); }
    if (VALUE_VEC4 > 14u) { put(c, 14u, x14); }
    if (VALUE_VEC4 > 15u) { put(c, 15u, x15); }
  } else {
    for (var e = 0u; e < VALUE_VEC4; e++) {
      put(c, e, acc[e]);
    }
  }
}
