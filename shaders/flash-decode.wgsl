// Split-keys path, first kernel, for GPUs: one workgroup per (row, chunk of keys), where
// flash-split.wgsl gives each (row, chunk) to one invocation. On an NVIDIA H200 that design ran
// decoding S=65536 at 6.2x the time to stream K and V once (BENCHMARKS.md, "Real GPU"): every
// invocation walked its 128 keys alone (a long chain of dependent loads, few warps per SM), and
// the merge then walked 512 chunks per row. Here a workgroup of WG invocations takes a chunk in
// blocks of WG keys:
//   1. scores: invocation t takes key t of the block (q from workgroup memory, its k row read
//      whole), scales and masks it, and puts it in workgroup memory;
//   2. weighted sum: the invocations split into groups of VALUE_VEC4, one value vec4 each, and
//      group g takes keys g, g + groups, ... of the block, reading each key's v row coalesced
//      across its group. Each group keeps its own online softmax (max, sum), so no block-wide
//      reduction is needed inside the loop;
//   3. at the chunk's end the groups' (max, sum, accumulator) are combined in workgroup memory
//      into the chunk's partial and (max, sum), which merge-decode.wgsl combines across chunks
//      (as merge.wgsl does for flash-split.wgsl, but a workgroup per row).
// Chunks are a whole number of blocks (src/encode-attention.ts, chooseSplits); the last may be
// cut short by k_len or a causal limit.
override HEAD_VEC4: u32 = 16u;  // ceil(E / 4)
override VALUE_VEC4: u32 = 16u; // ceil(Ev / 4)
override WG: u32 = 64u;         // invocations, and keys per block; at least VALUE_VEC4
const MAX_VEC4: u32 = 64u;      // E, Ev <= 256

var<workgroup> q_row: array<vec4<f32>, MAX_VEC4>;
var<workgroup> scores: array<f32, WG>;
// The groups' (max, sum, NaN seen) and accumulators, for the combination at the chunk's end.
var<workgroup> group_m: array<f32, WG>;
var<workgroup> group_l: array<f32, WG>;
var<workgroup> group_nan: array<f32, WG>;
var<workgroup> group_acc: array<vec4<f32>, WG>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  // The chunk is the workgroup's (uniform): past the grid's last chunk, the whole workgroup leaves.
  let c = chunk_of(workgroup_index(wid, nwg));
  if (!c.valid) {
    return;
  }
  for (var e = lid; e < HEAD_VEC4; e += WG) {
    q_row[e] = load_q(c.q_row, e);
  }
  let groups = WG / VALUE_VEC4;
  let g = lid / VALUE_VEC4;    // this invocation's key group
  let col = lid % VALUE_VEC4;  // and its value vec4
  let sums = g < groups;       // invocations past groups * VALUE_VEC4 only compute scores
  var m = HIDDEN;
  var l = 0.0;
  var nan = 0.0; // NaN once one of the group's scores was NaN (max() may drop it)
  var acc = vec4<f32>(0.0);
  workgroupBarrier();

  for (var j0 = c.k0; j0 < c.end; j0 += WG) {
    // 1. The score of key j0 + lid (HIDDEN past the chunk's end).
    let j = j0 + lid;
    var s = HIDDEN;
    if (j < c.end) {
      let r = c.k_row0 + j;
      var d = 0.0;
      for (var e = 0u; e < HEAD_VEC4; e++) {
        d += dot(q_row[e], load_k(r, e));
      }
      s = with_mask(d * params.scale, c.b, c.h, c.i, j);
    }
    scores[lid] = s;
    workgroupBarrier();

    // 2. This group's keys of the block: first their max, then the weighted sum against it.
    if (sums) {
      var m_new = m;
      for (var x = g; x < WG; x += groups) {
        let sx = scores[x];
        m_new = max(m_new, sx);
        nan = select(nan, sx, is_nan(sx));
      }
      let corr = exp(m - m_new);
      // A factor of exactly 0 drops the accumulator: 0 times an Inf or NaN it holds (from value
      // rows of keys whose weight was not yet 0) must not become NaN.
      acc = select(acc * corr, vec4<f32>(0.0), corr == 0.0);
      l *= corr;
      m = m_new;
      for (var x = g; x < WG; x += groups) {
        let sx = scores[x];
        // A hidden key has weight 0 even while the max is still HIDDEN; a key of weight 0 adds
        // nothing, not even 0 times an Inf or NaN in its value row (padding under a large bias).
        // Selected, not branched on, so that the loop's loads can all be in flight at once.
        let p = select(exp(sx - m), 0.0, sx <= HIDDEN);
        let vx = load_v(min(c.k_row0 + j0 + x, c.last), col);
        l += p;
        acc += select(p * vx, vec4<f32>(0.0), p == 0.0);
      }
    }
    workgroupBarrier(); // before the next block's scores overwrite these
  }

  // 3. The groups combined: M = max m_g, L = Σ l_g e^(m_g - M), acc = Σ acc_g e^(m_g - M).
  if (sums) {
    group_acc[lid] = acc;
    if (col == 0u) {
      group_m[g] = m;
      group_l[g] = l;
      group_nan[g] = nan;
    }
  }
  workgroupBarrier();
  if (lid < VALUE_VEC4) {
    var big = HIDDEN;
    var nan_all = 0.0;
    for (var x = 0u; x < groups; x++) {
      big = max(big, group_m[x]);
      nan_all = select(nan_all, group_nan[x], is_nan(group_nan[x]));
    }
    var total = 0.0;
    var out = vec4<f32>(0.0);
    for (var x = 0u; x < groups; x++) {
      let w = exp(group_m[x] - big);
      if (w != 0.0) { // a group of weight 0 adds nothing (see above)
        total += group_l[x] * w;
        out += group_acc[x * VALUE_VEC4 + lid] * w;
      }
    }
    put(c, lid, out);
    if (lid == 0u) {
      put_stats(c, RowSoftmax(big, total, nan_all));
    }
  }
}
