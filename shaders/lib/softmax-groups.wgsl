// What flash-decode.wgsl and merge-decode.wgsl share: their invocations work in groups of `cols`
// (one value vec4 each, `groups` groups), each group keeping its own online softmax over its share
// of the keys or chunks: max m, sum l, the NaN it saw, and its accumulator. At the end the groups
// are combined here, in workgroup memory: M = max m_g, L = Σ l_g·e^(m_g − M), acc = Σ acc_g·e^(m_g − M).
var<workgroup> group_m: array<f32, WG>;
var<workgroup> group_l: array<f32, WG>;
var<workgroup> group_nan: array<f32, WG>;
var<workgroup> group_acc: array<vec4<f32>, WG>;

// Weight w times x, or 0 where w is 0 (x may then be Inf or NaN: a key or chunk of weight 0 adds
// nothing, as in the float64 reference).
fn weigh(x: vec4<f32>, w: f32) -> vec4<f32> {
  return select(x * w, vec4<f32>(0.0), w == 0.0);
}

struct Group {
  m: f32,
  l: f32,
  nan: f32, // NaN once a score (or a chunk's sum) was NaN: max() may drop it
  acc: vec4<f32>,
}

// The workgroup's groups combined; every invocation calls it (it holds a barrier) and invocation
// `col` < cols gets the combination of column `col` (the others get nothing useful). `sums`: this
// invocation belongs to a group (invocations past groups · cols only helped compute scores).
fn combine_groups(lid: u32, g: u32, col: u32, groups: u32, cols: u32, sums: bool, mine: Group) -> Group {
  if (sums) {
    group_acc[lid] = mine.acc;
    if (col == 0u) {
      group_m[g] = mine.m;
      group_l[g] = mine.l;
      group_nan[g] = mine.nan;
    }
  }
  workgroupBarrier();
  var r = Group(HIDDEN, 0.0, 0.0, vec4<f32>(0.0));
  if (lid < cols) {
    for (var x = 0u; x < groups; x++) {
      r.m = max(r.m, group_m[x]);
      r.nan = select(r.nan, group_nan[x], is_nan(group_nan[x]));
    }
    for (var x = 0u; x < groups; x++) {
      let w = exp(group_m[x] - r.m);
      r.l += select(group_l[x] * w, 0.0, w == 0.0);
      r.acc += weigh(group_acc[x * cols + lid], w);
    }
  }
  return r;
}
