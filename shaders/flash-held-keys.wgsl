// Fused path, held-keys tile, for software adapters with 4-lane subgroups (SwiftShader). The
// other tiles hold query rows and stream the keys past them, rewriting every row's accumulator at
// each block of 4 keys; under SwiftShader's JIT a value rewritten every iteration costs 5-8x one
// that is only read (BENCHMARKS.md, session 9). This tile turns the loops around: an invocation
// loads KEYS keys of one head (their k and v rows) into private arrays once, then streams the
// head's query rows past them. For each row it computes the 64 scores, their max and weights and
// the weighted sum of its v rows in straight-line code that reads the held keys at constant
// indices, so no large value is rewritten per key. The 4 invocations of a quad hold 4
// consecutive chunks of KEYS keys: they share each q row's loads (quadBroadcast), combine their
// 4 partial results for the row into one (a chunk of 4·KEYS keys, params.keys_per_split) and each
// writes a quarter of it; merge-rows.wgsl then combines a row's chunks, as merge.wgsl does for
// split-keys. Its partials are params.splits × Ev floats per query row. flash-held-keys-32.wgsl
// is this kernel with 32 keys per invocation (heads up to 128 dims, and small calls); what the two
// share is in lib/held-keys.wgsl.
// Needs E, Ev <= 64 and multiples of 4 (vec4 loads), `enable subgroups;` (src/shaders.ts puts it
// first) and quads of 4 consecutive invocations starting at a multiple of 4 (src/tiles.ts offers
// this tile only where quadSharing holds; see lib/kv-share-quad.wgsl).
// Two things the speed depends on there (BENCHMARKS.md, session 14): straight-line code, since
// written as loops over the held keys the indices are run-time values and every read becomes a
// per-lane gather (7.5x slower; the helper functions below are inlined with constant arguments
// instead), and the held keys in a module-scope private array rather than a function's array
// passed to the helpers by pointer (1.4x faster in Chromium, 1.1-1.3x in Node). And the arithmetic
// written as dot() of a vec4 pair, for the scores and for Σ w·v alike (v is held transposed for
// that), 4 of them side by side: Subzero keeps far fewer of those values on the stack than of vec4
// multiply-adds accumulated per component (session 15: 1.4-1.6x on the kernel).
@group(0) @binding(5) var<storage, read_write> partials: array<vec4<f32>>; // [row, chunk, Ev / 4]
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;          // [row, chunk, (m, l)]

// E / 4 and Ev / 4: consts, not overrides, because they size `held` (a private array's length must
// be a const-expression); src/shaders.ts writes the call's values here (kernelSource, SOURCE_CONSTANTS).
const HEAD_VEC4: u32 = 16u;
const VALUE_VEC4: u32 = 16u;
override WG: u32 = 4u;
const KEYS: u32 = 64u;          // keys each invocation holds
const STRIDE: u32 = HEAD_VEC4;  // vec4 per held key row

// This invocation's held keys: k rows at [0, V_BASE), STRIDE vec4 a key; from V_BASE, v transposed
// (vec4 V_BASE + dim * 16 + g holds dimension dim of keys 4g..4g+3). At E = Ev = 64, on
// SwiftShader (4 lanes a SIMD group) that is 128 KiB of stack per group; twice that crashed the
// process in a prototype, so KEYS stays at 64. Sized to the head: SwiftShader's compile time grows
// with the array's length, not with the dims the call uses (2048 vec4 were ~3.4-4.2 s of a ~4.5 s
// compile at E = 4; likely its zero initializer, written element by element: BENCHMARKS.md, session 25).
const V_BASE: u32 = KEYS * STRIDE;
alias Held = array<vec4<f32>, V_BASE + VALUE_VEC4 * KEYS>;
var<private> held: Held;

// 16 vec4: a q row, or the 64 scores or weights of a row (keys 4g..4g+3 in e{g}).
struct Vec16 {
  e0: vec4<f32>, e1: vec4<f32>, e2: vec4<f32>, e3: vec4<f32>, e4: vec4<f32>, e5: vec4<f32>, e6: vec4<f32>, e7: vec4<f32>,
  e8: vec4<f32>, e9: vec4<f32>, e10: vec4<f32>, e11: vec4<f32>, e12: vec4<f32>, e13: vec4<f32>, e14: vec4<f32>, e15: vec4<f32>,
}

// q · k of held keys j..j+3, the 4 dot products accumulated side by side (each q vec4 read once).
fn keys_dot4(j: u32, x: Vec16) -> vec4<f32> {
  let b = j * STRIDE;
  var d0 = dot(x.e0, held[b]);
  var d1 = dot(x.e0, held[b + STRIDE]);
  var d2 = dot(x.e0, held[b + 2u * STRIDE]);
  var d3 = dot(x.e0, held[b + 3u * STRIDE]);
  if (HEAD_VEC4 > 1u) { d0 += dot(x.e1, held[b + 1u]); d1 += dot(x.e1, held[b + STRIDE + 1u]); d2 += dot(x.e1, held[b + 2u * STRIDE + 1u]); d3 += dot(x.e1, held[b + 3u * STRIDE + 1u]); }
  if (HEAD_VEC4 > 2u) { d0 += dot(x.e2, held[b + 2u]); d1 += dot(x.e2, held[b + STRIDE + 2u]); d2 += dot(x.e2, held[b + 2u * STRIDE + 2u]); d3 += dot(x.e2, held[b + 3u * STRIDE + 2u]); }
  if (HEAD_VEC4 > 3u) { d0 += dot(x.e3, held[b + 3u]); d1 += dot(x.e3, held[b + STRIDE + 3u]); d2 += dot(x.e3, held[b + 2u * STRIDE + 3u]); d3 += dot(x.e3, held[b + 3u * STRIDE + 3u]); }
  if (HEAD_VEC4 > 4u) { d0 += dot(x.e4, held[b + 4u]); d1 += dot(x.e4, held[b + STRIDE + 4u]); d2 += dot(x.e4, held[b + 2u * STRIDE + 4u]); d3 += dot(x.e4, held[b + 3u * STRIDE + 4u]); }
  if (HEAD_VEC4 > 5u) { d0 += dot(x.e5, held[b + 5u]); d1 += dot(x.e5, held[b + STRIDE + 5u]); d2 += dot(x.e5, held[b + 2u * STRIDE + 5u]); d3 += dot(x.e5, held[b + 3u * STRIDE + 5u]); }
  if (HEAD_VEC4 > 6u) { d0 += dot(x.e6, held[b + 6u]); d1 += dot(x.e6, held[b + STRIDE + 6u]); d2 += dot(x.e6, held[b + 2u * STRIDE + 6u]); d3 += dot(x.e6, held[b + 3u * STRIDE + 6u]); }
  if (HEAD_VEC4 > 7u) { d0 += dot(x.e7, held[b + 7u]); d1 += dot(x.e7, held[b + STRIDE + 7u]); d2 += dot(x.e7, held[b + 2u * STRIDE + 7u]); d3 += dot(x.e7, held[b + 3u * STRIDE + 7u]); }
  if (HEAD_VEC4 > 8u) { d0 += dot(x.e8, held[b + 8u]); d1 += dot(x.e8, held[b + STRIDE + 8u]); d2 += dot(x.e8, held[b + 2u * STRIDE + 8u]); d3 += dot(x.e8, held[b + 3u * STRIDE + 8u]); }
  if (HEAD_VEC4 > 9u) { d0 += dot(x.e9, held[b + 9u]); d1 += dot(x.e9, held[b + STRIDE + 9u]); d2 += dot(x.e9, held[b + 2u * STRIDE + 9u]); d3 += dot(x.e9, held[b + 3u * STRIDE + 9u]); }
  if (HEAD_VEC4 > 10u) { d0 += dot(x.e10, held[b + 10u]); d1 += dot(x.e10, held[b + STRIDE + 10u]); d2 += dot(x.e10, held[b + 2u * STRIDE + 10u]); d3 += dot(x.e10, held[b + 3u * STRIDE + 10u]); }
  if (HEAD_VEC4 > 11u) { d0 += dot(x.e11, held[b + 11u]); d1 += dot(x.e11, held[b + STRIDE + 11u]); d2 += dot(x.e11, held[b + 2u * STRIDE + 11u]); d3 += dot(x.e11, held[b + 3u * STRIDE + 11u]); }
  if (HEAD_VEC4 > 12u) { d0 += dot(x.e12, held[b + 12u]); d1 += dot(x.e12, held[b + STRIDE + 12u]); d2 += dot(x.e12, held[b + 2u * STRIDE + 12u]); d3 += dot(x.e12, held[b + 3u * STRIDE + 12u]); }
  if (HEAD_VEC4 > 13u) { d0 += dot(x.e13, held[b + 13u]); d1 += dot(x.e13, held[b + STRIDE + 13u]); d2 += dot(x.e13, held[b + 2u * STRIDE + 13u]); d3 += dot(x.e13, held[b + 3u * STRIDE + 13u]); }
  if (HEAD_VEC4 > 14u) { d0 += dot(x.e14, held[b + 14u]); d1 += dot(x.e14, held[b + STRIDE + 14u]); d2 += dot(x.e14, held[b + 2u * STRIDE + 14u]); d3 += dot(x.e14, held[b + 3u * STRIDE + 14u]); }
  if (HEAD_VEC4 > 15u) { d0 += dot(x.e15, held[b + 15u]); d1 += dot(x.e15, held[b + STRIDE + 15u]); d2 += dot(x.e15, held[b + 2u * STRIDE + 15u]); d3 += dot(x.e15, held[b + 3u * STRIDE + 15u]); }
  return vec4<f32>(d0, d1, d2, d3);
}

// Scores of held keys 4g..4g+3 (first key k0 of this invocation's chunk): scaled, masked, and
// HIDDEN from the row's end (its causal limit or k_len) on.
fn scores4(g: u32, x: Vec16, k0: u32, end: u32, b: u32, h: u32, i: u32) -> vec4<f32> {
  return masked_scores4(keys_dot4(4u * g, x), k0 + 4u * g, end, b, h, i);
}

// vec4 c of Σ_j w_j v_j over the 64 held keys (v held transposed: dims 4c..4c+3 side by side).
fn weighted(c: u32, w: Vec16) -> vec4<f32> {
  // Columns past Ev (whose sums the caller discards) read the last column's keys: every read stays
  // in the array, which is sized to Ev, without relying on the robustness clamp.
  let b = V_BASE + 4u * min(c, VALUE_VEC4 - 1u) * 16u;
  var z = vec4<f32>(dot(w.e0, held[b]), dot(w.e0, held[b + 16u]), dot(w.e0, held[b + 32u]), dot(w.e0, held[b + 48u]));
  z += vec4<f32>(dot(w.e1, held[b + 1u]), dot(w.e1, held[b + 17u]), dot(w.e1, held[b + 33u]), dot(w.e1, held[b + 49u]));
  z += vec4<f32>(dot(w.e2, held[b + 2u]), dot(w.e2, held[b + 18u]), dot(w.e2, held[b + 34u]), dot(w.e2, held[b + 50u]));
  z += vec4<f32>(dot(w.e3, held[b + 3u]), dot(w.e3, held[b + 19u]), dot(w.e3, held[b + 35u]), dot(w.e3, held[b + 51u]));
  z += vec4<f32>(dot(w.e4, held[b + 4u]), dot(w.e4, held[b + 20u]), dot(w.e4, held[b + 36u]), dot(w.e4, held[b + 52u]));
  z += vec4<f32>(dot(w.e5, held[b + 5u]), dot(w.e5, held[b + 21u]), dot(w.e5, held[b + 37u]), dot(w.e5, held[b + 53u]));
  z += vec4<f32>(dot(w.e6, held[b + 6u]), dot(w.e6, held[b + 22u]), dot(w.e6, held[b + 38u]), dot(w.e6, held[b + 54u]));
  z += vec4<f32>(dot(w.e7, held[b + 7u]), dot(w.e7, held[b + 23u]), dot(w.e7, held[b + 39u]), dot(w.e7, held[b + 55u]));
  z += vec4<f32>(dot(w.e8, held[b + 8u]), dot(w.e8, held[b + 24u]), dot(w.e8, held[b + 40u]), dot(w.e8, held[b + 56u]));
  z += vec4<f32>(dot(w.e9, held[b + 9u]), dot(w.e9, held[b + 25u]), dot(w.e9, held[b + 41u]), dot(w.e9, held[b + 57u]));
  z += vec4<f32>(dot(w.e10, held[b + 10u]), dot(w.e10, held[b + 26u]), dot(w.e10, held[b + 42u]), dot(w.e10, held[b + 58u]));
  z += vec4<f32>(dot(w.e11, held[b + 11u]), dot(w.e11, held[b + 27u]), dot(w.e11, held[b + 43u]), dot(w.e11, held[b + 59u]));
  z += vec4<f32>(dot(w.e12, held[b + 12u]), dot(w.e12, held[b + 28u]), dot(w.e12, held[b + 44u]), dot(w.e12, held[b + 60u]));
  z += vec4<f32>(dot(w.e13, held[b + 13u]), dot(w.e13, held[b + 29u]), dot(w.e13, held[b + 45u]), dot(w.e13, held[b + 61u]));
  z += vec4<f32>(dot(w.e14, held[b + 14u]), dot(w.e14, held[b + 30u]), dot(w.e14, held[b + 46u]), dot(w.e14, held[b + 62u]));
  z += vec4<f32>(dot(w.e15, held[b + 15u]), dot(w.e15, held[b + 31u]), dot(w.e15, held[b + 47u]), dot(w.e15, held[b + 63u]));
  return z;
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) lane_id: u32,
) {
  let lane = lane_id & 3u;
  let at = begin_chunk(workgroup_index(wid, nwg) * WG + lid, lane);
  if (!at.live) {
    return;
  }
  let bh = at.bh;
  let b = at.b;
  let h = at.h;
  let k0 = at.k0;

  for (var i = at.start; i < params.q_len; i++) {
    let q_row = bh * params.q_len + i;
    let end = key_end(i);
    // The row's q, one gather per lane: lane l loads vec4s l, l + 4, l + 8 and l + 12 (clamped
    // into the row, read only for l < E / 4: without a branch, whose merged values cost 1.1x).
    let ql0 = load_q(q_row, min(lane, HEAD_VEC4 - 1u));
    let ql1 = load_q(q_row, min(lane + 4u, HEAD_VEC4 - 1u));
    let ql2 = load_q(q_row, min(lane + 8u, HEAD_VEC4 - 1u));
    let ql3 = load_q(q_row, min(lane + 12u, HEAD_VEC4 - 1u));
    let x = Vec16(quadBroadcast(ql0, 0u), quadBroadcast(ql0, 1u), quadBroadcast(ql0, 2u), quadBroadcast(ql0, 3u),
                  quadBroadcast(ql1, 0u), quadBroadcast(ql1, 1u), quadBroadcast(ql1, 2u), quadBroadcast(ql1, 3u),
                  quadBroadcast(ql2, 0u), quadBroadcast(ql2, 1u), quadBroadcast(ql2, 2u), quadBroadcast(ql2, 3u),
                  quadBroadcast(ql3, 0u), quadBroadcast(ql3, 1u), quadBroadcast(ql3, 2u), quadBroadcast(ql3, 3u));
    let s = Vec16(
      scores4(0u, x, k0, end, b, h, i),
      scores4(1u, x, k0, end, b, h, i),
      scores4(2u, x, k0, end, b, h, i),
      scores4(3u, x, k0, end, b, h, i),
      scores4(4u, x, k0, end, b, h, i),
      scores4(5u, x, k0, end, b, h, i),
      scores4(6u, x, k0, end, b, h, i),
      scores4(7u, x, k0, end, b, h, i),
      scores4(8u, x, k0, end, b, h, i),
      scores4(9u, x, k0, end, b, h, i),
      scores4(10u, x, k0, end, b, h, i),
      scores4(11u, x, k0, end, b, h, i),
      scores4(12u, x, k0, end, b, h, i),
      scores4(13u, x, k0, end, b, h, i),
      scores4(14u, x, k0, end, b, h, i),
      scores4(15u, x, k0, end, b, h, i));
    // NaN tracking by bit pattern (max() may drop a NaN): a NaN score makes the row's output NaN.
    let bad = is_nan4(s.e0) | is_nan4(s.e1) | is_nan4(s.e2) | is_nan4(s.e3) | is_nan4(s.e4) | is_nan4(s.e5) | is_nan4(s.e6) |
      is_nan4(s.e7) | is_nan4(s.e8) | is_nan4(s.e9) | is_nan4(s.e10) | is_nan4(s.e11) | is_nan4(s.e12) | is_nan4(s.e13) |
      is_nan4(s.e14) | is_nan4(s.e15);
    let mv = max(max(max(max(s.e0, s.e1), max(s.e2, s.e3)), max(max(s.e4, s.e5), max(s.e6, s.e7))),
                 max(max(max(s.e8, s.e9), max(s.e10, s.e11)), max(max(s.e12, s.e13), max(s.e14, s.e15))));
    let m = row_max(mv);
    // A hidden key must get weight 0. Against any real max, exp(HIDDEN - m) is 0 (even the lowest
    // real score, one step above HIDDEN, is 2^104 above it); while the max is HIDDEN (nothing to
    // see in this chunk) the weights are taken against 0 instead, which makes them all 0 too. This
    // costs one select per row where a select per weight measured ~25 % of the kernel's time.
    let m_exp = select(m, 0.0, m == HIDDEN);
    let w = Vec16(
weights4(s.e0, m_exp), weights4(s.e1, m_exp), weights4(s.e2, m_exp), weights4(s.e3, m_exp), weights4(s.e4, m_exp), weights4(s.e5, m_exp), weights4(s.e6, m_exp), weights4(s.e7, m_exp), weights4(s.e8, m_exp), weights4(s.e9, m_exp), weights4(s.e10, m_exp), weights4(s.e11, m_exp), weights4(s.e12, m_exp), weights4(s.e13, m_exp), weights4(s.e14, m_exp), weights4(s.e15, m_exp));
    let lv = w.e0 + w.e1 + w.e2 + w.e3 + w.e4 + w.e5 + w.e6 + w.e7 + w.e8 + w.e9 + w.e10 + w.e11 + w.e12 + w.e13 + w.e14 + w.e15;
    let l = row_sum(lv, any(bad), m);

    // The quad's 4 chunks as one: rescale each to the quad's max and sum (exp(0) = 1 while all are HIDDEN).
    let m_quad = quad_max(m);
    let f = exp(m - m_quad);
    let l_quad = quad_sum1(l * f);
    // Every output vec4 computed without a branch (those past Ev from clamped reads, then discarded, not
    // written): a value assigned under a branch and read after it cost 1.1x on the whole kernel
    // (session 15; at Ev = 32 this way is 0.9x for the wasted half).
    let z0 = quad_sum(weighted(0u, w) * f);
    let z1 = select(vec4<f32>(0.0), quad_sum(weighted(1u, w) * f), VALUE_VEC4 > 1u);
    let z2 = select(vec4<f32>(0.0), quad_sum(weighted(2u, w) * f), VALUE_VEC4 > 2u);
    let z3 = select(vec4<f32>(0.0), quad_sum(weighted(3u, w) * f), VALUE_VEC4 > 3u);
    let z4 = select(vec4<f32>(0.0), quad_sum(weighted(4u, w) * f), VALUE_VEC4 > 4u);
    let z5 = select(vec4<f32>(0.0), quad_sum(weighted(5u, w) * f), VALUE_VEC4 > 5u);
    let z6 = select(vec4<f32>(0.0), quad_sum(weighted(6u, w) * f), VALUE_VEC4 > 6u);
    let z7 = select(vec4<f32>(0.0), quad_sum(weighted(7u, w) * f), VALUE_VEC4 > 7u);
    let z8 = select(vec4<f32>(0.0), quad_sum(weighted(8u, w) * f), VALUE_VEC4 > 8u);
    let z9 = select(vec4<f32>(0.0), quad_sum(weighted(9u, w) * f), VALUE_VEC4 > 9u);
    let z10 = select(vec4<f32>(0.0), quad_sum(weighted(10u, w) * f), VALUE_VEC4 > 10u);
    let z11 = select(vec4<f32>(0.0), quad_sum(weighted(11u, w) * f), VALUE_VEC4 > 11u);
    let z12 = select(vec4<f32>(0.0), quad_sum(weighted(12u, w) * f), VALUE_VEC4 > 12u);
    let z13 = select(vec4<f32>(0.0), quad_sum(weighted(13u, w) * f), VALUE_VEC4 > 13u);
    let z14 = select(vec4<f32>(0.0), quad_sum(weighted(14u, w) * f), VALUE_VEC4 > 14u);
    let z15 = select(vec4<f32>(0.0), quad_sum(weighted(15u, w) * f), VALUE_VEC4 > 15u);
    let slot = (at.row0 + i) * params.splits + at.chunk;
    put_stats(slot, m_quad, l_quad, lane);
    let base = slot * VALUE_VEC4;
    put(base, lane, pick(z0, z1, z2, z3, lane));
    put(base, lane + 4u, pick(z4, z5, z6, z7, lane));
    put(base, lane + 8u, pick(z8, z9, z10, z11, lane));
    put(base, lane + 12u, pick(z12, z13, z14, z15, lane));
  }
}
