// Split-keys path on adapters whose subgroups are 4 lanes wide (see lib/kv-share-quad.wgsl for
// why and where): the same work as flash-split.wgsl, but each (row, chunk) is taken by a quad of 4
// invocations that split the head and value dims between them. Lane l holds vec4s l, l+4, l+8, …
// of the query row and of the accumulator, loads only those vec4s of each key and value, and a
// quad sum (two quadSwaps) completes every score in all four lanes. Every vec4 of K and V is still
// loaded once, but each invocation carries a quarter of the values around the key loop: on
// SwiftShader a gather costs more the more values are live across it (BENCHMARKS.md, session 8).
// Needs `enable subgroups;` (src/shaders.ts puts it first), and quads of 4 consecutive local
// invocation indices, as SwiftShader runs them; the tests check it against the float64 reference.
override HEAD_VEC4: u32 = 16u;  // ceil(E / 4), at most 64
override VALUE_VEC4: u32 = 16u; // ceil(Ev / 4), at most 64
override WG: u32 = 64u;         // a multiple of 4

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) sg_lane: u32,
) {
  let lane = sg_lane & 3u;
  // The quad's (row, chunk), the same for its four lanes, and so are the loop bounds below.
  let c = chunk_of((workgroup_index(wid, nwg) * WG + lid) >> 2u);
  if (!c.valid) {
    return; // the whole quad
  }
  let lanes = vec4<u32>(0u, 1u, 2u, 3u);

  // This lane's vec4s of the query row (zero past E).
  var q0 = vec4<f32>(0.0); var q1 = vec4<f32>(0.0); var q2 = vec4<f32>(0.0); var q3 = vec4<f32>(0.0);
  var q4 = vec4<f32>(0.0); var q5 = vec4<f32>(0.0); var q6 = vec4<f32>(0.0); var q7 = vec4<f32>(0.0);
  var q8 = vec4<f32>(0.0); var q9 = vec4<f32>(0.0); var q10 = vec4<f32>(0.0); var q11 = vec4<f32>(0.0);
  var q12 = vec4<f32>(0.0); var q13 = vec4<f32>(0.0); var q14 = vec4<f32>(0.0); var q15 = vec4<f32>(0.0);
  if (HEAD_VEC4 > 0u) { q0 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 0u, HEAD_VEC4 - 1u)), lane + 0u < HEAD_VEC4); }
  if (HEAD_VEC4 > 4u) { q1 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 4u, HEAD_VEC4 - 1u)), lane + 4u < HEAD_VEC4); }
  if (HEAD_VEC4 > 8u) { q2 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 8u, HEAD_VEC4 - 1u)), lane + 8u < HEAD_VEC4); }
  if (HEAD_VEC4 > 12u) { q3 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 12u, HEAD_VEC4 - 1u)), lane + 12u < HEAD_VEC4); }
  if (HEAD_VEC4 > 16u) { q4 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 16u, HEAD_VEC4 - 1u)), lane + 16u < HEAD_VEC4); }
  if (HEAD_VEC4 > 20u) { q5 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 20u, HEAD_VEC4 - 1u)), lane + 20u < HEAD_VEC4); }
  if (HEAD_VEC4 > 24u) { q6 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 24u, HEAD_VEC4 - 1u)), lane + 24u < HEAD_VEC4); }
  if (HEAD_VEC4 > 28u) { q7 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 28u, HEAD_VEC4 - 1u)), lane + 28u < HEAD_VEC4); }
  if (HEAD_VEC4 > 32u) { q8 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 32u, HEAD_VEC4 - 1u)), lane + 32u < HEAD_VEC4); }
  if (HEAD_VEC4 > 36u) { q9 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 36u, HEAD_VEC4 - 1u)), lane + 36u < HEAD_VEC4); }
  if (HEAD_VEC4 > 40u) { q10 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 40u, HEAD_VEC4 - 1u)), lane + 40u < HEAD_VEC4); }
  if (HEAD_VEC4 > 44u) { q11 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 44u, HEAD_VEC4 - 1u)), lane + 44u < HEAD_VEC4); }
  if (HEAD_VEC4 > 48u) { q12 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 48u, HEAD_VEC4 - 1u)), lane + 48u < HEAD_VEC4); }
  if (HEAD_VEC4 > 52u) { q13 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 52u, HEAD_VEC4 - 1u)), lane + 52u < HEAD_VEC4); }
  if (HEAD_VEC4 > 56u) { q14 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 56u, HEAD_VEC4 - 1u)), lane + 56u < HEAD_VEC4); }
  if (HEAD_VEC4 > 60u) { q15 = select(vec4<f32>(0.0), load_q(c.q_row, min(lane + 60u, HEAD_VEC4 - 1u)), lane + 60u < HEAD_VEC4); }
  var st = row_softmax();
  var x0 = vec4<f32>(0.0); var x1 = vec4<f32>(0.0); var x2 = vec4<f32>(0.0); var x3 = vec4<f32>(0.0);
  var x4 = vec4<f32>(0.0); var x5 = vec4<f32>(0.0); var x6 = vec4<f32>(0.0); var x7 = vec4<f32>(0.0);
  var x8 = vec4<f32>(0.0); var x9 = vec4<f32>(0.0); var x10 = vec4<f32>(0.0); var x11 = vec4<f32>(0.0);
  var x12 = vec4<f32>(0.0); var x13 = vec4<f32>(0.0); var x14 = vec4<f32>(0.0); var x15 = vec4<f32>(0.0);
  for (var j = c.k0; j < c.end; j += 4u) {
    let jj = j + lanes;
    let r = min(c.k_row0 + jj, vec4<u32>(c.last)); // past the end: the last key, weight 0
    let live = jj < vec4<u32>(c.end); // keys past the chunk's end: value 0 too (v_block)
    var dots = vec4<f32>(0.0);
    if (HEAD_VEC4 > 0u) { dots += select(vec4<f32>(0.0), q0 * k_block(r, min(lane + 0u, HEAD_VEC4 - 1u)), lane + 0u < HEAD_VEC4); }
    if (HEAD_VEC4 > 4u) { dots += select(vec4<f32>(0.0), q1 * k_block(r, min(lane + 4u, HEAD_VEC4 - 1u)), lane + 4u < HEAD_VEC4); }
    if (HEAD_VEC4 > 8u) { dots += select(vec4<f32>(0.0), q2 * k_block(r, min(lane + 8u, HEAD_VEC4 - 1u)), lane + 8u < HEAD_VEC4); }
    if (HEAD_VEC4 > 12u) { dots += select(vec4<f32>(0.0), q3 * k_block(r, min(lane + 12u, HEAD_VEC4 - 1u)), lane + 12u < HEAD_VEC4); }
    if (HEAD_VEC4 > 16u) { dots += select(vec4<f32>(0.0), q4 * k_block(r, min(lane + 16u, HEAD_VEC4 - 1u)), lane + 16u < HEAD_VEC4); }
    if (HEAD_VEC4 > 20u) { dots += select(vec4<f32>(0.0), q5 * k_block(r, min(lane + 20u, HEAD_VEC4 - 1u)), lane + 20u < HEAD_VEC4); }
    if (HEAD_VEC4 > 24u) { dots += select(vec4<f32>(0.0), q6 * k_block(r, min(lane + 24u, HEAD_VEC4 - 1u)), lane + 24u < HEAD_VEC4); }
    if (HEAD_VEC4 > 28u) { dots += select(vec4<f32>(0.0), q7 * k_block(r, min(lane + 28u, HEAD_VEC4 - 1u)), lane + 28u < HEAD_VEC4); }
    if (HEAD_VEC4 > 32u) { dots += select(vec4<f32>(0.0), q8 * k_block(r, min(lane + 32u, HEAD_VEC4 - 1u)), lane + 32u < HEAD_VEC4); }
    if (HEAD_VEC4 > 36u) { dots += select(vec4<f32>(0.0), q9 * k_block(r, min(lane + 36u, HEAD_VEC4 - 1u)), lane + 36u < HEAD_VEC4); }
    if (HEAD_VEC4 > 40u) { dots += select(vec4<f32>(0.0), q10 * k_block(r, min(lane + 40u, HEAD_VEC4 - 1u)), lane + 40u < HEAD_VEC4); }
    if (HEAD_VEC4 > 44u) { dots += select(vec4<f32>(0.0), q11 * k_block(r, min(lane + 44u, HEAD_VEC4 - 1u)), lane + 44u < HEAD_VEC4); }
    if (HEAD_VEC4 > 48u) { dots += select(vec4<f32>(0.0), q12 * k_block(r, min(lane + 48u, HEAD_VEC4 - 1u)), lane + 48u < HEAD_VEC4); }
    if (HEAD_VEC4 > 52u) { dots += select(vec4<f32>(0.0), q13 * k_block(r, min(lane + 52u, HEAD_VEC4 - 1u)), lane + 52u < HEAD_VEC4); }
    if (HEAD_VEC4 > 56u) { dots += select(vec4<f32>(0.0), q14 * k_block(r, min(lane + 56u, HEAD_VEC4 - 1u)), lane + 56u < HEAD_VEC4); }
    if (HEAD_VEC4 > 60u) { dots += select(vec4<f32>(0.0), q15 * k_block(r, min(lane + 60u, HEAD_VEC4 - 1u)), lane + 60u < HEAD_VEC4); }
    dots += quadSwapX(dots); // the quad's partial dot products: the same sum, in the same order, in all lanes
    dots += quadSwapY(dots);
    let step = softmax_step(&st, dots, jj, c);
    let corr = step.corr;
    let p = step.p;
    if (VALUE_VEC4 > 0u) { x0 = x0 * corr + v_block(r, live, min(lane + 0u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 4u) { x1 = x1 * corr + v_block(r, live, min(lane + 4u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 8u) { x2 = x2 * corr + v_block(r, live, min(lane + 8u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 12u) { x3 = x3 * corr + v_block(r, live, min(lane + 12u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 16u) { x4 = x4 * corr + v_block(r, live, min(lane + 16u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 20u) { x5 = x5 * corr + v_block(r, live, min(lane + 20u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 24u) { x6 = x6 * corr + v_block(r, live, min(lane + 24u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 28u) { x7 = x7 * corr + v_block(r, live, min(lane + 28u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 32u) { x8 = x8 * corr + v_block(r, live, min(lane + 32u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 36u) { x9 = x9 * corr + v_block(r, live, min(lane + 36u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 40u) { x10 = x10 * corr + v_block(r, live, min(lane + 40u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 44u) { x11 = x11 * corr + v_block(r, live, min(lane + 44u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 48u) { x12 = x12 * corr + v_block(r, live, min(lane + 48u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 52u) { x13 = x13 * corr + v_block(r, live, min(lane + 52u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 56u) { x14 = x14 * corr + v_block(r, live, min(lane + 56u, VALUE_VEC4 - 1u)) * p; }
    if (VALUE_VEC4 > 60u) { x15 = x15 * corr + v_block(r, live, min(lane + 60u, VALUE_VEC4 - 1u)) * p; }
  }

  if (lane == 0u) {
    put_stats(c, st);
  }
  if (VALUE_VEC4 > 0u) { put(c, lane + 0u, x0); }
  if (VALUE_VEC4 > 4u) { put(c, lane + 4u, x1); }
  if (VALUE_VEC4 > 8u) { put(c, lane + 8u, x2); }
  if (VALUE_VEC4 > 12u) { put(c, lane + 12u, x3); }
  if (VALUE_VEC4 > 16u) { put(c, lane + 16u, x4); }
  if (VALUE_VEC4 > 20u) { put(c, lane + 20u, x5); }
  if (VALUE_VEC4 > 24u) { put(c, lane + 24u, x6); }
  if (VALUE_VEC4 > 28u) { put(c, lane + 28u, x7); }
  if (VALUE_VEC4 > 32u) { put(c, lane + 32u, x8); }
  if (VALUE_VEC4 > 36u) { put(c, lane + 36u, x9); }
  if (VALUE_VEC4 > 40u) { put(c, lane + 40u, x10); }
  if (VALUE_VEC4 > 44u) { put(c, lane + 44u, x11); }
  if (VALUE_VEC4 > 48u) { put(c, lane + 48u, x12); }
  if (VALUE_VEC4 > 52u) { put(c, lane + 52u, x13); }
  if (VALUE_VEC4 > 56u) { put(c, lane + 56u, x14); }
  if (VALUE_VEC4 > 60u) { put(c, lane + 60u, x15); }
}
