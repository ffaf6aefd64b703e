// Held-keys tile, second kernel: combine each row's per-chunk partials (unnormalised accumulator,
// max m, sum l) into the final row, as merge.wgsl does for split-keys: M = max m_s,
// L = Σ l_s·e^(m_s − M), out = Σ acc_s·e^(m_s − M) / L. A chunk with nothing visible has
// m = HIDDEN, l = 0 and adds nothing; a row with none gives 0; a NaN sum (a NaN in the query row)
// makes the row NaN.
// One invocation per row, reading vec4s (Ev is a multiple of 4 up to 128 on this tile; past 64, two
// per row, each with half the columns: HALVES): prefill has rows enough for every core, and a row's
// stats and weights are then read and computed once or twice, where merge.wgsl (one invocation per
// 4 columns, for decoding's few rows) repeats them per column group.
@group(0) @binding(2) var<storage, read> partials: array<vec4<f32>>; // [row, chunk, Ev / 4]
@group(0) @binding(3) var<storage, read> stats: array<f32>;          // [row, chunk, (m, l)]
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;

override WG: u32 = 64u;
override VALUE_VEC4: u32 = 16u; // Ev / 4
override HALVES: bool = false;   // Ev > 64: invocation 2r takes row r's vec4s 0..15, 2r + 1 its 16..31

// Lane c of the row's output: acc scaled by mul, or the row's NaN.
fn put(o: u32, c0: u32, c: u32, acc: vec4<f32>, mul: f32, nan_seen: bool, nan: f32) {
  if (c0 + c < VALUE_VEC4) {
    out[o + c] = select(acc * mul, vec4<f32>(nan), nan_seen);
  }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  let local_row = select(t, t >> 1u, HALVES);
  let c0 = select(0u, (t & 1u) * 16u, HALVES); // the first of this invocation's 16 vec4s
  if (local_row >= params.bh_count * params.q_len) {
    return;
  }
  let S = params.splits;
  let first = local_row * S;
  let rs = row_stats(first, S);
  let M = rs.m;
  let nan_seen = rs.nan_seen;
  let nan = rs.nan;
  // The accumulators as named values: written at constant positions, they stay out of a
  // run-time-indexed private array (a per-lane gather and scatter on SwiftShader).
  var L = 0.0;
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
  if (M > HIDDEN) {
    for (var s = 0u; s < S; s++) {
      let w = exp(stats[(first + s) * 2u] - M);
      L += stats[(first + s) * 2u + 1u] * w;
      let p = (first + s) * VALUE_VEC4 + c0;
      a0 += w * partials[p];
      if (VALUE_VEC4 > c0 + 1u) { a1 += w * partials[p + 1u]; }
      if (VALUE_VEC4 > c0 + 2u) { a2 += w * partials[p + 2u]; }
      if (VALUE_VEC4 > c0 + 3u) { a3 += w * partials[p + 3u]; }
      if (VALUE_VEC4 > c0 + 4u) { a4 += w * partials[p + 4u]; }
      if (VALUE_VEC4 > c0 + 5u) { a5 += w * partials[p + 5u]; }
      if (VALUE_VEC4 > c0 + 6u) { a6 += w * partials[p + 6u]; }
      if (VALUE_VEC4 > c0 + 7u) { a7 += w * partials[p + 7u]; }
      if (VALUE_VEC4 > c0 + 8u) { a8 += w * partials[p + 8u]; }
      if (VALUE_VEC4 > c0 + 9u) { a9 += w * partials[p + 9u]; }
      if (VALUE_VEC4 > c0 + 10u) { a10 += w * partials[p + 10u]; }
      if (VALUE_VEC4 > c0 + 11u) { a11 += w * partials[p + 11u]; }
      if (VALUE_VEC4 > c0 + 12u) { a12 += w * partials[p + 12u]; }
      if (VALUE_VEC4 > c0 + 13u) { a13 += w * partials[p + 13u]; }
      if (VALUE_VEC4 > c0 + 14u) { a14 += w * partials[p + 14u]; }
      if (VALUE_VEC4 > c0 + 15u) { a15 += w * partials[p + 15u]; }
    }
  }
  let mul = select(0.0, 1.0 / L, L > 0.0);
  let row = params.bh_offset * params.q_len + local_row;
  let o = row * VALUE_VEC4 + c0;
  put(o, c0, 0u, a0, mul, nan_seen, nan);
  put(o, c0, 1u, a1, mul, nan_seen, nan);
  put(o, c0, 2u, a2, mul, nan_seen, nan);
  put(o, c0, 3u, a3, mul, nan_seen, nan);
  put(o, c0, 4u, a4, mul, nan_seen, nan);
  put(o, c0, 5u, a5, mul, nan_seen, nan);
  put(o, c0, 6u, a6, mul, nan_seen, nan);
  put(o, c0, 7u, a7, mul, nan_seen, nan);
  put(o, c0, 8u, a8, mul, nan_seen, nan);
  put(o, c0, 9u, a9, mul, nan_seen, nan);
  put(o, c0, 10u, a10, mul, nan_seen, nan);
  put(o, c0, 11u, a11, mul, nan_seen, nan);
  put(o, c0, 12u, a12, mul, nan_seen, nan);
  put(o, c0, 13u, a13, mul, nan_seen, nan);
  put(o, c0, 14u, a14, mul, nan_seen, nan);
  put(o, c0, 15u, a15, mul, nan_seen, nan);
  if (params.write_lse != 0u && c0 == 0u) {
    lse[row] = select(select(HIDDEN, M + log(L), L > 0.0), nan, nan_seen);
  }
}
