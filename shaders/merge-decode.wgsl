// The split-keys path's merge after its workgroup tile (flash-decode.wgsl), for GPUs: one
// workgroup per row, its invocations sharing out the row's chunks. merge.wgsl gives each (row, 4
// columns) one invocation that walks every chunk in turn; on an NVIDIA H200 that walk cost about
// 0.5 us per chunk (decoding S=65536: 512 chunks, ~0.25 of its 0.43 ms; BENCHMARKS.md, "Real GPU").
// Here the invocations split into groups of Ev/4, one output vec4 each, as in flash-decode.wgsl;
// group g combines chunks g, g + groups, ... online (M = max m_s, L = Σ l_s·e^(m_s − M),
// out = Σ acc_s·e^(m_s − M), rescaled as M grows), and the groups are then combined in
// workgroup memory (lib/softmax-groups.wgsl); lib/merge-out.wgsl writes the row. The same answer
// as merge.wgsl: a chunk of weight 0 adds nothing (not even 0 times a non-finite partial), a NaN
// chunk sum makes the row NaN, a row with nothing visible gives 0.
@group(0) @binding(2) var<storage, read> partials: array<f32>; // [row, chunk, Ev]
@group(0) @binding(3) var<storage, read> stats: array<f32>;    // [row, chunk, (m, l)]

override WG: u32 = 256u; // at least ceil(Ev / 4), 64 for Ev up to 256

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let local_row = workgroup_index(wid, nwg); // uniform: past the last row the whole workgroup leaves
  if (local_row >= params.bh_count * params.q_len) {
    return;
  }
  let Ev = params.value_dim;
  let S = params.splits;
  let first = local_row * S;
  // Ev from the parameters, not an override: one pipeline serves every value width.
  let cols = (Ev + 3u) / 4u;
  let groups = WG / cols;
  let g = lid / cols;
  let col = lid % cols;
  let c0 = col * 4u;
  let cc = min(vec4<u32>(c0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(Ev - 1u)); // columns past Ev: not written
  var m = HIDDEN;
  var l = 0.0;
  var nan = 0.0; // NaN once a chunk's sum was NaN
  var acc = vec4<f32>(0.0);
  if (g < groups) {
    // No branch on a chunk's weight: every load of the loop can be in flight at once.
    for (var s = g; s < S; s += groups) {
      let ms = stats[(first + s) * 2u];
      let ls = stats[(first + s) * 2u + 1u];
      let p = (first + s) * Ev;
      let part = vec4<f32>(partials[p + cc.x], partials[p + cc.y], partials[p + cc.z], partials[p + cc.w]);
      nan = select(nan, ls, is_nan(ls));
      let m_new = max(m, ms);
      let a = exp(m - m_new);
      let b = exp(ms - m_new);
      acc = weigh(acc, a) + weigh(part, b);
      l = select(l * a, 0.0, a == 0.0) + select(ls * b, 0.0, b == 0.0);
      m = m_new;
    }
  }
  let r = combine_groups(lid, g, col, groups, cols, g < groups, Group(m, l, nan, acc));
  if (lid < cols) {
    write_merged(local_row, c0, r.acc, r.m, r.l, r.nan);
  }
}
