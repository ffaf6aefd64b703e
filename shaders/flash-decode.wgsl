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
// Chunks are a whole number of blocks (src/tiles.ts, splitWorkgroupChunks); the last may be cut
// short by k_len or a causal limit.
override HEAD_VEC4: u32 = 16u;  // ceil(E / 4)
override VALUE_VEC4: u32 = 16u; // ceil(Ev / 4)
override WG: u32 = 64u;         // invocations, and keys per block; at least VALUE_VEC4
const MAX_VEC4: u32 = 64u;      // E, Ev <= 256

var<workgroup> q_row: array<vec4<f32>, MAX_VEC4>;
var<workgroup> scores: array<f32, WG>;

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

    // 2. This group's keys of the block: first their max, then the weighted sum against it. The
    // loops count to a constant (per pipeline) so that a GPU compiler can unroll them and have
    // every load in flight at once; a step past the block (WG not a multiple of groups) has weight 0.
    let steps = (WG + groups - 1u) / groups;
    if (sums) {
      var m_new = m;
      for (var n = 0u; n < steps; n++) {
        let x = min(g + n * groups, WG - 1u); // past the block: a repeat of the last key, no change to the max
        let sx = scores[x];
        m_new = max(m_new, sx);
        // A NaN score, or +Inf (an Inf in q or k): the row is NaN, as in the reference (inf - inf).
        // Flagged here since exp(inf - inf) need not give NaN (SwiftShader's exp(NaN) is +Inf).
        nan = select(nan, nan_from(sx), is_nan(sx) || sx > MAX_F32);
      }
      let corr = exp(m - m_new);
      // A factor of exactly 0 drops the accumulator: 0 times an Inf or NaN it holds (from value
      // rows of keys whose weight was not yet 0) must not become NaN.
      acc = weigh(acc, corr);
      l *= corr;
      m = m_new;
      for (var n = 0u; n < steps; n++) {
        let x = g + n * groups;
        let sx = scores[min(x, WG - 1u)];
        // A hidden key has weight 0 even while the max is still HIDDEN; a key of weight 0 adds
        // nothing, not even 0 times an Inf or NaN in its value row (padding under a large bias).
        // Selected, not branched on, so that the loop's loads can all be in flight at once.
        let p = select(exp(sx - m), 0.0, sx <= HIDDEN || x >= WG);
        let vx = load_v(min(c.k_row0 + j0 + x, c.last), col);
        l += p;
        acc += weigh(vx, p);
      }
    }
    workgroupBarrier(); // before the next block's scores overwrite these
  }

  // 3. The groups combined (lib/softmax-groups.wgsl) into the chunk's partial and (max, sum).
  let r = combine_groups(lid, g, col, groups, VALUE_VEC4, sums, Group(m, l, nan, acc));
  if (lid < VALUE_VEC4) {
    put(c, lid, r.acc);
    if (lid == 0u) {
      put_stats(c, RowSoftmax(r.m, r.l, r.nan));
    }
  }
}
