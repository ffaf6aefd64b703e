// Fused path, workgroup tile (for GPUs): softmax(q kᵀ · scale + mask) v without storing the score
// matrix, the keys streamed through workgroup memory. A workgroup takes WG consecutive query rows
// of one (batch, head), one row per invocation (its accumulator in registers); for every
// TILE_KEYS keys, its invocations load the tile's k and v rows into workgroup memory together
// (each vec4 read from the buffer once per workgroup instead of once per invocation), then each
// runs FlashAttention-2's online softmax over the tile for its row. Tiles past the causal limit of
// the workgroup's last row are never loaded, and a row's keys past its own limit get weight 0.
//
// Register budget (for GPUs, where this tile runs): the row's q is not held across the tile loop
// but re-read once per tile (HEAD_VEC4 loads from L1 against TILE_KEYS * HEAD_VEC4 dot products),
// the scores taken q vec4 by q vec4 over the tile's keys. Holding q as well put E + Ev + TILE_KEYS
// floats in each invocation: 288 at E = 128, past an NVIDIA GPU's 255 registers, and on an H200
// the tile ran E = 128 at 8x its E = 64 time for 2x the work (BENCHMARKS.md, session 17). Every
// loop over the tile counts to TILE_KEYS (a constant) and masks the keys past the row's end with
// selects, so that a compiler can unroll them and keep the scores in registers. Same
// outputs as flash.wgsl (log-sum-exp with write_lse, 0 for a row with nothing to attend to, NaN
// kept to its row); unlike it, a key of weight 0 (hidden, masked or underflowed, before or after
// the row's max) contributes nothing even where its value row holds Inf or NaN (merge.wgsl keeps
// that for a whole chunk of weight 0 under SPLIT).
//
// With SPLIT (the workgroup-split tile) a workgroup takes one chunk of keys_per_split keys of its
// rows instead of all of them, and writes each row's unnormalised accumulator and (max, sum) to
// `out` and `lse` as the split-keys partials and stats, which merge.wgsl then combines: more
// workgroups where the rows alone are too few to fill a GPU (B1 H8 L=S=1024 is 128 workgroups of
// 64 rows; an H200 has 132 compute units, each of which could run many).
//
// On GPUs workgroup memory is the fast shared memory every flash-attention kernel is built on. On
// SwiftShader (a CPU) a workgroup-memory read is a per-lane gather like a storage read and every
// barrier switches coroutines, so there flash.wgsl's register tiles are faster: src/tiles.ts only
// offers this tile to the one-time measurement on adapters that are not software ones (a fallback
// adapter, or SwiftShader by name).
// q, k, v (bindings 2-4) and load_q / load_k / load_v come from lib/qkv-vec4.wgsl or qkv-scalar.wgsl.
@group(0) @binding(5) var<storage, read_write> out: array<f32>;  // SPLIT: partials [row, chunk, Ev]
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;  // SPLIT: stats [row, chunk, (m, l)]

override HEAD_VEC4: u32 = 16u;   // ceil(E / 4)
override VALUE_VEC4: u32 = 16u;  // ceil(Ev / 4)
override WG: u32 = 64u;          // query rows per workgroup, one per invocation
override TILE_KEYS: u32 = 32u;   // keys per tile (at most MAX_TILE); src/tiles.ts fits k and v in workgroup memory
override SPLIT: bool = false;    // one chunk of keys per workgroup, partials out (above)
const MAX_VEC4: u32 = 64u;       // E, Ev <= 256
const MAX_TILE: u32 = 32u;

var<workgroup> k_tile: array<vec4<f32>, TILE_KEYS * HEAD_VEC4>;
var<workgroup> v_tile: array<vec4<f32>, TILE_KEYS * VALUE_VEC4>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  // Everything up to the key loop's bound depends only on the workgroup: barriers stay uniform.
  // Row blocks vary fastest, then chunks of keys (one chunk, all keys, without SPLIT), then heads.
  let w = workgroup_index(wid, nwg);
  let per_head = (params.q_len + WG - 1u) / WG;
  let per_bh = per_head * params.splits;
  let local_bh = w / per_bh;
  if (local_bh >= params.bh_count) {
    return; // surplus workgroups of a folded grid
  }
  let bh = params.bh_offset + local_bh;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let kv0 = kv_row0(b, h); // the kv head's first row
  let first = (w % per_head) * WG;
  let split = (w % per_bh) / per_head;
  let k_lo = split * params.keys_per_split; // this workgroup's keys: [k_lo, k_hi)
  let k_hi = min(k_lo + params.keys_per_split, params.k_len);
  // key_end grows with the row, so the workgroup's last row sees the most keys.
  let k_stop = min(key_end(min(first + WG, params.q_len) - 1u), k_hi);

  let i = first + lid;
  let live = i < params.q_len;
  let ic = min(i, params.q_len - 1u);
  let q_row = bh * params.q_len + ic;
  let end = select(0u, min(key_end(ic), k_hi), live); // one past the last key this row may see here

  var acc: array<vec4<f32>, MAX_VEC4>;
  for (var c = 0u; c < VALUE_VEC4; c++) {
    acc[c] = vec4<f32>(0.0);
  }
  var m = HIDDEN;  // running max
  var l = 0.0;     // running sum
  var nan = 0.0;   // NaN once a score of this row was NaN (max() may drop it)
  var s: array<f32, MAX_TILE>; // this row's scores in the current tile
  var wt: array<f32, MAX_TILE>; // and their weights

  for (var t0 = k_lo; t0 < k_stop; t0 += TILE_KEYS) {
    workgroupBarrier(); // every invocation is done with the previous tile
    for (var x = lid; x < TILE_KEYS * HEAD_VEC4; x += WG) {
      let j = t0 + x / HEAD_VEC4;
      let kv = load_k(kv0 + min(j, params.k_len - 1u), x % HEAD_VEC4);
      k_tile[x] = select(vec4<f32>(0.0), kv, j < params.k_len);
    }
    for (var x = lid; x < TILE_KEYS * VALUE_VEC4; x += WG) {
      let j = t0 + x / VALUE_VEC4;
      let vv = load_v(kv0 + min(j, params.k_len - 1u), x % VALUE_VEC4);
      v_tile[x] = select(vec4<f32>(0.0), vv, j < params.k_len);
    }
    workgroupBarrier();

    // This row's keys in the tile: up to its own end (the causal limit or k_len), not the
    // workgroup's. The dot products of the others are computed (the loops keep a constant trip
    // count) but their scores are HIDDEN, whatever their k rows hold, and they weigh nothing.
    let n = select(0u, min(TILE_KEYS, end - t0), end > t0);
    for (var j = 0u; j < TILE_KEYS; j++) {
      s[j] = 0.0;
    }
    for (var e = 0u; e < HEAD_VEC4; e++) {
      let qe = load_q(q_row, e);
      for (var j = 0u; j < TILE_KEYS; j++) {
        s[j] += dot(qe, k_tile[j * HEAD_VEC4 + e]);
      }
    }
    var m_tile = HIDDEN;
    for (var j = 0u; j < TILE_KEYS; j++) {
      let sc = select(HIDDEN, with_mask(s[j] * params.scale, b, h, ic, min(t0 + j, params.k_len - 1u)), j < n);
      // A NaN score, or +Inf (an Inf in q or k): the row is NaN, as in the reference (inf - inf).
      // Flagged here since exp(inf - inf) need not give NaN (SwiftShader's exp(NaN) is +Inf).
      nan = select(nan, nan_from(sc), is_nan(sc) || sc > MAX_F32);
      s[j] = sc;
      m_tile = max(m_tile, sc);
    }
    let m_new = max(m, m_tile);
    let corr = exp(m - m_new); // 1 while both are HIDDEN; l and acc are 0 then anyway
    l *= corr;
    for (var c = 0u; c < VALUE_VEC4; c++) {
      // corr = 0: every earlier key's weight is 0 now; drop them, Inf or NaN values too.
      acc[c] = select(acc[c] * corr, vec4<f32>(0.0), corr == 0.0);
    }
    // The weights in an array of their own: the P·V nest below indexes it by its outer loop, which
    // a compiler may not unroll, and then only `wt` (one write and one read a key) goes to local
    // memory, not the scores the nest above accumulates into.
    for (var j = 0u; j < TILE_KEYS; j++) {
      // A masked or hidden key has weight 0 even while the row's max is still HIDDEN.
      let p = select(exp(s[j] - m_new), 0.0, s[j] <= HIDDEN);
      wt[j] = p;
      l += p;
    }
    for (var j = 0u; j < TILE_KEYS; j++) {
      // A key of weight 0 adds nothing, not even 0 times a non-finite value (as in the float64
      // reference): its product is selected away, not branched around.
      let p = wt[j];
      for (var c = 0u; c < VALUE_VEC4; c++) {
        acc[c] = select(acc[c], fma(vec4<f32>(p), v_tile[j * VALUE_VEC4 + c], acc[c]), p != 0.0);
      }
    }
    m = m_new;
  }

  if (!live) {
    return;
  }
  // 1/l (0 for a row with nothing to attend to, NaN for a NaN row), as flash.wgsl's finish().
  let is_nan_row = is_nan(nan);
  var mul = select(select(0.0, 1.0 / l, l > 0.0), nan, is_nan_row);
  var base = q_row * params.value_dim;
  if (SPLIT) {
    // This chunk's (max, sum) as split-chunk.wgsl's put_stats writes them (a NaN row's sum is its
    // NaN), and the accumulator as it is: merge.wgsl scales and normalises.
    let slot = (local_bh * params.q_len + i) * params.splits + split;
    lse[slot * 2u] = m;
    lse[slot * 2u + 1u] = select(l, nan, is_nan_row);
    mul = 1.0;
    base = slot * params.value_dim;
  } else if (params.write_lse != 0u) {
    lse[q_row] = select(select(HIDDEN, m + log(l), l > 0.0), nan, is_nan_row);
  }
  for (var c = 0u; c < VALUE_VEC4; c++) {
    let y = acc[c] * mul;
    for (var e = 0u; e < 4u; e++) {
      if (c * 4u + e < params.value_dim) {
        out[base + c * 4u + e] = y[e];
      }
    }
  }
}
