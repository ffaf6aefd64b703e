// What the two held-keys kernels share (flash-held-keys.wgsl, 64 keys per invocation, heads up to
// 64 dims; flash-held-keys-32.wgsl, 32 keys, up to 128): where an invocation works, filling the
// held keys, the rows a causal rule gives none of the chunk, the masked scores, the row's max and
// sum, the quad sums and the partials' writes. Each kernel declares HEAD_VEC4, VALUE_VEC4, KEYS,
// STRIDE, V_BASE, `held`, `partials` and `stats`.

// Where an invocation works: its quad's (batch, head) `bh` (b, h), chunk of keys and first key k0,
// the head's first row in the partials (row0) and the first row that sees any of the chunk (start).
// Everything the quad operations' control flow depends on is the same in the 4 lanes of a quad.
struct Place {
  live: bool, // false for the surplus quads of a folded grid
  bh: u32,
  b: u32,
  h: u32,
  chunk: u32,
  k0: u32,
  row0: u32,
  start: u32,
}

// Invocation t (lane `lane` of its quad): where it works and, for a live one, its held keys filled
// and the empty partials written of the rows that see none of its quad's chunk.
fn begin_chunk(t: u32, lane: u32) -> Place {
  let quad = t / 4u;
  let chunk = quad % params.splits;
  let local_bh = quad / params.splits;
  if (local_bh >= params.bh_count) {
    return Place(false, 0u, 0u, 0u, 0u, 0u, 0u, 0u);
  }
  let bh = params.bh_offset + local_bh;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let chunk_k0 = chunk * params.keys_per_split; // the quad's first key
  let k0 = chunk_k0 + lane * KEYS;              // this invocation's
  hold_keys(kv_row0(b, h), k0);
  let row0 = local_bh * params.q_len;
  return Place(true, bh, b, h, chunk, k0, row0, empty_rows(row0, chunk, chunk_k0, lane));
}

// Fills `held` with this invocation's KEYS keys from k0 (kv0: the kv head's first row): k rows at
// [0, V_BASE), STRIDE vec4 a key; from V_BASE, v transposed (vec4 V_BASE + dim * KEYS / 4 + g holds
// dimension dim of keys 4g..4g+3, so that Σ w·v is dot() of vec4 pairs too). Keys past k_len are
// zeros (their scores are HIDDEN anyway).
fn hold_keys(kv0: u32, k0: u32) {
  for (var j = 0u; j < KEYS; j++) {
    let key = k0 + j;
    let r = kv0 + min(key, params.k_len - 1u);
    let live = key < params.k_len;
    for (var e = 0u; e < HEAD_VEC4; e++) {
      held[j * STRIDE + e] = select(vec4<f32>(0.0), load_k(r, e), live);
    }
  }
  for (var g = 0u; g < KEYS / 4u; g++) {
    let key = vec4<u32>(k0 + 4u * g) + vec4<u32>(0u, 1u, 2u, 3u);
    let r = kv0 + min(key, vec4<u32>(params.k_len - 1u));
    let live = key < vec4<u32>(params.k_len);
    for (var c = 0u; c < VALUE_VEC4; c++) {
      let m = transpose(mat4x4<f32>(select(vec4<f32>(0.0), load_v(r.x, c), live.x), select(vec4<f32>(0.0), load_v(r.y, c), live.y),
                                    select(vec4<f32>(0.0), load_v(r.z, c), live.z), select(vec4<f32>(0.0), load_v(r.w, c), live.w)));
      held[V_BASE + (4u * c) * (KEYS / 4u) + g] = m[0];
      held[V_BASE + (4u * c + 1u) * (KEYS / 4u) + g] = m[1];
      held[V_BASE + (4u * c + 2u) * (KEYS / 4u) + g] = m[2];
      held[V_BASE + (4u * c + 3u) * (KEYS / 4u) + g] = m[3];
    }
  }
}

// Under a causal rule the rows before the returned one see none of the quad's chunk (its first key
// chunk_k0): they get an empty partial (m HIDDEN, l 0, zeros, which the merge weighs by 0) without
// computing anything. row0: the head's first row in the partials.
fn empty_rows(row0: u32, chunk: u32, chunk_k0: u32, lane: u32) -> u32 {
  var start = 0u;
  if (params.causal != 0u) {
    start = u32(clamp(i32(chunk_k0) - params.causal_offset, 0, i32(params.q_len)));
  }
  for (var i = 0u; i < start; i++) {
    let slot = (row0 + i) * params.splits + chunk;
    put_stats(slot, HIDDEN, 0.0, lane);
    for (var x = 0u; x < (VALUE_VEC4 + 3u) / 4u; x++) {
      put(slot * VALUE_VEC4, 4u * x + lane, vec4<f32>(0.0));
    }
  }
  return start;
}

// 4 scores (the dot products of keys jj..jj+3) scaled, masked, and HIDDEN from the row's end (its
// causal limit or k_len) on.
fn masked_scores4(dots: vec4<f32>, jj0: u32, end: u32, b: u32, h: u32, i: u32) -> vec4<f32> {
  var s = dots * params.scale;
  let jj = vec4<u32>(jj0) + vec4<u32>(0u, 1u, 2u, 3u);
  if (MASK_KIND != 0u) {
    let jc = min(jj, vec4<u32>(params.k_len - 1u));
    s = vec4<f32>(with_mask(s.x, b, h, i, jc.x), with_mask(s.y, b, h, i, jc.y),
                  with_mask(s.z, b, h, i, jc.z), with_mask(s.w, b, h, i, jc.w));
  }
  return select(vec4<f32>(HIDDEN), s, jj < vec4<u32>(end));
}

// Weights of 4 scores against `m_exp` (the row's max, or 0 while that is HIDDEN: see the kernels).
fn weights4(s: vec4<f32>, m_exp: f32) -> vec4<f32> {
  return exp(s - vec4<f32>(m_exp));
}

// The row's sum of weights from their 4-lane partial sums `lv`, or NaN where a score is NaN (`bad`)
// or +Inf (the max `m` says so), as in the reference (exp(inf - inf)); the exp would not give it:
// SwiftShader's exp(NaN) is +Inf.
fn row_sum(lv: vec4<f32>, bad: bool, m: f32) -> f32 {
  return select(lv.x + lv.y + lv.z + lv.w, nan_from(bitcast<f32>(params.k_len)), bad || m > MAX_F32);
}

// The row's largest score from the 4 lanes' maxima `mv`; an additive -inf gives no max below HIDDEN.
fn row_max(mv: vec4<f32>) -> f32 {
  return max(HIDDEN, max(max(mv.x, mv.y), max(mv.z, mv.w)));
}

// The largest of x over the quad, in every lane.
fn quad_max(x: f32) -> f32 {
  return max(max(quadBroadcast(x, 0u), quadBroadcast(x, 1u)), max(quadBroadcast(x, 2u), quadBroadcast(x, 3u)));
}

// Lane 0 writes the quad's max and sum for the row's partial in `slot`.
fn put_stats(slot: u32, m: f32, l: f32, lane: u32) {
  if (lane == 0u) {
    stats[slot * 2u] = m;
    stats[slot * 2u + 1u] = l;
  }
}

// The sum of x over the quad, in every lane.
fn quad_sum(x: vec4<f32>) -> vec4<f32> {
  let y = x + quadSwapX(x);
  return y + quadSwapY(y);
}
fn quad_sum1(x: f32) -> f32 {
  let y = x + quadSwapX(x);
  return y + quadSwapY(y);
}

// Lane l of the quad writes vec4s l, l + 4, l + 8, ... of a row's partial: a, b, c or d by lane.
fn pick(a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>, lane: u32) -> vec4<f32> {
  return select(select(select(a, b, lane == 1u), c, lane == 2u), d, lane == 3u);
}

fn put(base: u32, c: u32, x: vec4<f32>) {
  if (c < VALUE_VEC4) {
    partials[base + c] = x;
  }
}

