// Split-keys path, second kernel: combine each row's per-chunk partials (unnormalised accumulator,
// max m, sum l) into the final row: M = max m_s, L = Σ l_s·e^(m_s − M), out = Σ acc_s·e^(m_s − M) / L.
// A chunk with nothing visible has m = HIDDEN, l = 0 and adds nothing; a row with none gives 0.
// One invocation per (row, 4 value columns): decoding has few rows, so columns give the parallelism.
@group(0) @binding(2) var<storage, read> partials: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let Ev = params.value_dim;
  let col_groups = (Ev + 3u) / 4u;
  let t = workgroup_index(wid, nwg) * WG + lid;
  let local_row = t / col_groups;
  if (local_row >= params.bh_count * params.q_len) {
    return;
  }
  let c0 = (t % col_groups) * 4u;
  let S = params.splits;
  let first = local_row * S;
  let rs = row_stats(first, S);
  let M = rs.m;
  var L = 0.0;
  var sum = vec4<f32>(0.0);
  if (M > HIDDEN) {
    let cc = min(vec4<u32>(c0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(Ev - 1u));
    for (var s = 0u; s < S; s++) {
      let w = exp(stats[(first + s) * 2u] - M);
      // A chunk of weight 0 adds nothing, not even 0 times a non-finite partial (its keys' value
      // rows may hold Inf or NaN: padding under a large finite bias, say).
      if (w == 0.0) {
        continue;
      }
      L += stats[(first + s) * 2u + 1u] * w;
      let p = (first + s) * Ev;
      sum += w * vec4<f32>(partials[p + cc.x], partials[p + cc.y], partials[p + cc.z], partials[p + cc.w]);
    }
  }
  write_merged(local_row, c0, sum, M, L, rs.nan); // lib/merge-out.wgsl
}
