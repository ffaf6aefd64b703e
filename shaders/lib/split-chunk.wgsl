// What the two split-keys kernels (flash-split.wgsl, flash-split-quad.wgsl) share: which (row,
// chunk of keys) an index takes, the online-softmax step over a block of 4 keys, and where the
// chunk's unnormalised partial and its (max, sum) go for merge.wgsl.
@group(0) @binding(5) var<storage, read_write> partials: array<f32>; // [row, split, Ev]
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;    // [row, split, (m, l)]

struct Chunk {
  valid: bool,  // false past the last (row, chunk) of the grid
  i: u32,       // the query row within its head
  b: u32,
  h: u32,
  q_row: u32,   // the row in q
  slot: u32,    // (row, chunk) in partials and stats
  k0: u32,      // the chunk's first key and its end, cut at the row's causal limit
  end: u32,
  k_row0: u32,  // the head's first and last key rows in k and v
  last: u32,
}

// Rows vary fastest (neighbouring indices share keys), then chunks, then heads.
fn chunk_of(t: u32) -> Chunk {
  var c: Chunk;
  c.i = t % params.q_len;
  let split = (t / params.q_len) % params.splits;
  let local_bh = t / (params.q_len * params.splits);
  c.valid = local_bh < params.bh_count;
  let bh = params.bh_offset + local_bh;
  c.b = bh / params.heads;
  c.h = bh % params.heads;
  c.q_row = bh * params.q_len + c.i;
  c.slot = (local_bh * params.q_len + c.i) * params.splits + split;
  c.k0 = split * params.keys_per_split;
  c.end = min(min(c.k0 + params.keys_per_split, params.k_len), key_end(c.i));
  c.k_row0 = kv_row0(c.b, c.h);
  c.last = c.k_row0 + params.k_len - 1u;
  return c;
}

struct RowSoftmax {
  m: f32,
  l: f32,
  nan: f32, // NaN once a score was NaN (max() may drop it)
}

fn row_softmax() -> RowSoftmax {
  return RowSoftmax(HIDDEN, 0.0, 0.0);
}

struct Step {
  p: vec4<f32>,  // the 4 keys' weights against the row's new max
  corr: f32,     // what the accumulators are multiplied by first
}

// One block of 4 unscaled dot products `dots` of keys jj: scale, mask, the chunk's end, then the
// online softmax, which moves `st` on.
fn softmax_step(st: ptr<function, RowSoftmax>, dots: vec4<f32>, jj: vec4<u32>, c: Chunk) -> Step {
  var s = dots * params.scale;
  if (MASK_KIND != 0u) {
    let jc = min(jj, vec4<u32>(params.k_len - 1u));
    s = vec4<f32>(with_mask(s.x, c.b, c.h, c.i, jc.x), with_mask(s.y, c.b, c.h, c.i, jc.y),
                  with_mask(s.z, c.b, c.h, c.i, jc.z), with_mask(s.w, c.b, c.h, c.i, jc.w));
  }
  s = select(vec4<f32>(HIDDEN), s, jj < vec4<u32>(c.end)); // past the chunk or the causal limit
  // NaN iff a score is NaN (or +Inf beside -Inf, a NaN row anyway); quartered as in flash.wgsl.
  let sum = dot(s, vec4<f32>(0.25));
  (*st).nan = select((*st).nan, sum, is_nan(sum));
  let m_new = max((*st).m, max(max(s.x, s.y), max(s.z, s.w)));
  let corr = exp((*st).m - m_new);
  // A hidden key has weight 0 even while the row's max is still HIDDEN.
  let p = select(exp(s - vec4<f32>(m_new)), vec4<f32>(0.0), s <= vec4<f32>(HIDDEN));
  (*st).l = (*st).l * corr + (p.x + p.y + p.z + p.w);
  (*st).m = m_new;
  return Step(p, corr);
}

// A NaN score, or a +Inf max (an Inf in q or k: NaN in the reference, inf - inf), makes the
// chunk's sum NaN, which merge.wgsl carries to the row.
fn put_stats(c: Chunk, st: RowSoftmax) {
  stats[c.slot * 2u] = st.m;
  let nan = select(st.nan, nan_from(st.m), st.m > MAX_F32);
  stats[c.slot * 2u + 1u] = select(st.l, nan, is_nan(nan));
}

// Writes vec4 e of the chunk's partial, leaving out lanes past Ev.
fn put(c: Chunk, e: u32, x: vec4<f32>) {
  let base = c.slot * params.value_dim;
  for (var d = 0u; d < 4u; d++) {
    if (e * 4u + d < params.value_dim) { partials[base + e * 4u + d] = x[d]; }
  }
}
