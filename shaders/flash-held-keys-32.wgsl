// Fused path, held-keys tile with 32 keys per invocation instead of flash-held-keys.wgsl's 64: the
// same loops turned around, for heads of up to 128 dims (a key's k and v rows of up to 32 vec4 each
// fit a private array of at most 2048 vec4, as there) and, at up to 64 dims, for calls with few query rows and
// keys (src/tiles.ts, heldKeysTile), where a chunk of half as many keys leaves more quads to spread
// over the cores and skips keys under a causal rule in finer steps. A quad's chunk is 4·32 = 128
// keys, so its partials are params.splits × Ev floats per query row: as many floats as the score
// matrix at Ev = 128. Everything else (quads, merge-rows.wgsl, the causal start, NaN and HIDDEN
// handling) is as in flash-held-keys.wgsl; the functions both use are in lib/held-keys.wgsl.
@group(0) @binding(5) var<storage, read_write> partials: array<vec4<f32>>; // [row, chunk, Ev / 4]
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;          // [row, chunk, (m, l)]

// E / 4 and Ev / 4: consts that src/shaders.ts writes per call (kernelSource, SOURCE_CONSTANTS), as in
// flash-held-keys.wgsl, where `held` is sized by them.
const HEAD_VEC4: u32 = 32u;
const VALUE_VEC4: u32 = 32u;
override WG: u32 = 4u;
const KEYS: u32 = 32u;          // keys each invocation holds
const STRIDE: u32 = HEAD_VEC4;  // vec4 per held key row (E, Ev <= 128)
// k rows at [0, V_BASE), STRIDE vec4 a key; from V_BASE, v transposed (vec4 V_BASE + dim * 8 + g
// holds dimension dim of keys 4g..4g+3). 2048 vec4 at E = Ev = 128.
const V_BASE: u32 = KEYS * STRIDE;
alias Held = array<vec4<f32>, V_BASE + VALUE_VEC4 * KEYS>;
var<private> held: Held;

// 32 vec4: a q row.
struct Vec32 {
  e0: vec4<f32>, e1: vec4<f32>, e2: vec4<f32>, e3: vec4<f32>, e4: vec4<f32>, e5: vec4<f32>, e6: vec4<f32>, e7: vec4<f32>,
  e8: vec4<f32>, e9: vec4<f32>, e10: vec4<f32>, e11: vec4<f32>, e12: vec4<f32>, e13: vec4<f32>, e14: vec4<f32>, e15: vec4<f32>,
  e16: vec4<f32>, e17: vec4<f32>, e18: vec4<f32>, e19: vec4<f32>, e20: vec4<f32>, e21: vec4<f32>, e22: vec4<f32>, e23: vec4<f32>,
  e24: vec4<f32>, e25: vec4<f32>, e26: vec4<f32>, e27: vec4<f32>, e28: vec4<f32>, e29: vec4<f32>, e30: vec4<f32>, e31: vec4<f32>,
}
// 8 vec4: the 32 scores or weights of a row (keys 4g..4g+3 in e{g}).
struct Vec8 {
  e0: vec4<f32>, e1: vec4<f32>, e2: vec4<f32>, e3: vec4<f32>, e4: vec4<f32>, e5: vec4<f32>, e6: vec4<f32>, e7: vec4<f32>,
}

// q · k of held keys j..j+3, the 4 dot products accumulated side by side (each q vec4 read once).
fn keys_dot4(j: u32, x: Vec32) -> vec4<f32> {
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
  if (HEAD_VEC4 > 16u) { d0 += dot(x.e16, held[b + 16u]); d1 += dot(x.e16, held[b + STRIDE + 16u]); d2 += dot(x.e16, held[b + 2u * STRIDE + 16u]); d3 += dot(x.e16, held[b + 3u * STRIDE + 16u]); }
  if (HEAD_VEC4 > 17u) { d0 += dot(x.e17, held[b + 17u]); d1 += dot(x.e17, held[b + STRIDE + 17u]); d2 += dot(x.e17, held[b + 2u * STRIDE + 17u]); d3 += dot(x.e17, held[b + 3u * STRIDE + 17u]); }
  if (HEAD_VEC4 > 18u) { d0 += dot(x.e18, held[b + 18u]); d1 += dot(x.e18, held[b + STRIDE + 18u]); d2 += dot(x.e18, held[b + 2u * STRIDE + 18u]); d3 += dot(x.e18, held[b + 3u * STRIDE + 18u]); }
  if (HEAD_VEC4 > 19u) { d0 += dot(x.e19, held[b + 19u]); d1 += dot(x.e19, held[b + STRIDE + 19u]); d2 += dot(x.e19, held[b + 2u * STRIDE + 19u]); d3 += dot(x.e19, held[b + 3u * STRIDE + 19u]); }
  if (HEAD_VEC4 > 20u) { d0 += dot(x.e20, held[b + 20u]); d1 += dot(x.e20, held[b + STRIDE + 20u]); d2 += dot(x.e20, held[b + 2u * STRIDE + 20u]); d3 += dot(x.e20, held[b + 3u * STRIDE + 20u]); }
  if (HEAD_VEC4 > 21u) { d0 += dot(x.e21, held[b + 21u]); d1 += dot(x.e21, held[b + STRIDE + 21u]); d2 += dot(x.e21, held[b + 2u * STRIDE + 21u]); d3 += dot(x.e21, held[b + 3u * STRIDE + 21u]); }
  if (HEAD_VEC4 > 22u) { d0 += dot(x.e22, held[b + 22u]); d1 += dot(x.e22, held[b + STRIDE + 22u]); d2 += dot(x.e22, held[b + 2u * STRIDE + 22u]); d3 += dot(x.e22, held[b + 3u * STRIDE + 22u]); }
  if (HEAD_VEC4 > 23u) { d0 += dot(x.e23, held[b + 23u]); d1 += dot(x.e23, held[b + STRIDE + 23u]); d2 += dot(x.e23, held[b + 2u * STRIDE + 23u]); d3 += dot(x.e23, held[b + 3u * STRIDE + 23u]); }
  if (HEAD_VEC4 > 24u) { d0 += dot(x.e24, held[b + 24u]); d1 += dot(x.e24, held[b + STRIDE + 24u]); d2 += dot(x.e24, held[b + 2u * STRIDE + 24u]); d3 += dot(x.e24, held[b + 3u * STRIDE + 24u]); }
  if (HEAD_VEC4 > 25u) { d0 += dot(x.e25, held[b + 25u]); d1 += dot(x.e25, held[b + STRIDE + 25u]); d2 += dot(x.e25, held[b + 2u * STRIDE + 25u]); d3 += dot(x.e25, held[b + 3u * STRIDE + 25u]); }
  if (HEAD_VEC4 > 26u) { d0 += dot(x.e26, held[b + 26u]); d1 += dot(x.e26, held[b + STRIDE + 26u]); d2 += dot(x.e26, held[b + 2u * STRIDE + 26u]); d3 += dot(x.e26, held[b + 3u * STRIDE + 26u]); }
  if (HEAD_VEC4 > 27u) { d0 += dot(x.e27, held[b + 27u]); d1 += dot(x.e27, held[b + STRIDE + 27u]); d2 += dot(x.e27, held[b + 2u * STRIDE + 27u]); d3 += dot(x.e27, held[b + 3u * STRIDE + 27u]); }
  if (HEAD_VEC4 > 28u) { d0 += dot(x.e28, held[b + 28u]); d1 += dot(x.e28, held[b + STRIDE + 28u]); d2 += dot(x.e28, held[b + 2u * STRIDE + 28u]); d3 += dot(x.e28, held[b + 3u * STRIDE + 28u]); }
  if (HEAD_VEC4 > 29u) { d0 += dot(x.e29, held[b + 29u]); d1 += dot(x.e29, held[b + STRIDE + 29u]); d2 += dot(x.e29, held[b + 2u * STRIDE + 29u]); d3 += dot(x.e29, held[b + 3u * STRIDE + 29u]); }
  if (HEAD_VEC4 > 30u) { d0 += dot(x.e30, held[b + 30u]); d1 += dot(x.e30, held[b + STRIDE + 30u]); d2 += dot(x.e30, held[b + 2u * STRIDE + 30u]); d3 += dot(x.e30, held[b + 3u * STRIDE + 30u]); }
  if (HEAD_VEC4 > 31u) { d0 += dot(x.e31, held[b + 31u]); d1 += dot(x.e31, held[b + STRIDE + 31u]); d2 += dot(x.e31, held[b + 2u * STRIDE + 31u]); d3 += dot(x.e31, held[b + 3u * STRIDE + 31u]); }
  return vec4<f32>(d0, d1, d2, d3);
}

// Scores of held keys 4g..4g+3 (first key k0 of this invocation's chunk): scaled, masked, and
// HIDDEN from the row's end (its causal limit or k_len) on.
fn scores4(g: u32, x: Vec32, k0: u32, end: u32, b: u32, h: u32, i: u32) -> vec4<f32> {
  return masked_scores4(keys_dot4(4u * g, x), k0 + 4u * g, end, b, h, i);
}

// vec4 c of Σ_j w_j v_j over the 32 held keys (v held transposed: dims 4c..4c+3 side by side).
fn weighted(c: u32, w: Vec8) -> vec4<f32> {
  // Columns past Ev (whose sums the caller discards) read the last column's keys: every read stays
  // in the array, which is sized to Ev, without relying on the robustness clamp.
  let b = V_BASE + 4u * min(c, VALUE_VEC4 - 1u) * 8u;
  var z = vec4<f32>(dot(w.e0, held[b + 0u]), dot(w.e0, held[b + 8u]), dot(w.e0, held[b + 16u]), dot(w.e0, held[b + 24u]));
  z += vec4<f32>(dot(w.e1, held[b + 1u]), dot(w.e1, held[b + 9u]), dot(w.e1, held[b + 17u]), dot(w.e1, held[b + 25u]));
  z += vec4<f32>(dot(w.e2, held[b + 2u]), dot(w.e2, held[b + 10u]), dot(w.e2, held[b + 18u]), dot(w.e2, held[b + 26u]));
  z += vec4<f32>(dot(w.e3, held[b + 3u]), dot(w.e3, held[b + 11u]), dot(w.e3, held[b + 19u]), dot(w.e3, held[b + 27u]));
  z += vec4<f32>(dot(w.e4, held[b + 4u]), dot(w.e4, held[b + 12u]), dot(w.e4, held[b + 20u]), dot(w.e4, held[b + 28u]));
  z += vec4<f32>(dot(w.e5, held[b + 5u]), dot(w.e5, held[b + 13u]), dot(w.e5, held[b + 21u]), dot(w.e5, held[b + 29u]));
  z += vec4<f32>(dot(w.e6, held[b + 6u]), dot(w.e6, held[b + 14u]), dot(w.e6, held[b + 22u]), dot(w.e6, held[b + 30u]));
  z += vec4<f32>(dot(w.e7, held[b + 7u]), dot(w.e7, held[b + 15u]), dot(w.e7, held[b + 23u]), dot(w.e7, held[b + 31u]));
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
    // The row's q, one gather per lane: lane l loads vec4s l, l + 4, ..., l + 28 (clamped into the
    // row, read only for l < E / 4).
    let ql0 = load_q(q_row, min(lane + 0u, HEAD_VEC4 - 1u));
    let ql1 = load_q(q_row, min(lane + 4u, HEAD_VEC4 - 1u));
    let ql2 = load_q(q_row, min(lane + 8u, HEAD_VEC4 - 1u));
    let ql3 = load_q(q_row, min(lane + 12u, HEAD_VEC4 - 1u));
    let ql4 = load_q(q_row, min(lane + 16u, HEAD_VEC4 - 1u));
    let ql5 = load_q(q_row, min(lane + 20u, HEAD_VEC4 - 1u));
    let ql6 = load_q(q_row, min(lane + 24u, HEAD_VEC4 - 1u));
    let ql7 = load_q(q_row, min(lane + 28u, HEAD_VEC4 - 1u));
    let x = Vec32(
      quadBroadcast(ql0, 0u), quadBroadcast(ql0, 1u), quadBroadcast(ql0, 2u), quadBroadcast(ql0, 3u),
      quadBroadcast(ql1, 0u), quadBroadcast(ql1, 1u), quadBroadcast(ql1, 2u), quadBroadcast(ql1, 3u),
      quadBroadcast(ql2, 0u), quadBroadcast(ql2, 1u), quadBroadcast(ql2, 2u), quadBroadcast(ql2, 3u),
      quadBroadcast(ql3, 0u), quadBroadcast(ql3, 1u), quadBroadcast(ql3, 2u), quadBroadcast(ql3, 3u),
      quadBroadcast(ql4, 0u), quadBroadcast(ql4, 1u), quadBroadcast(ql4, 2u), quadBroadcast(ql4, 3u),
      quadBroadcast(ql5, 0u), quadBroadcast(ql5, 1u), quadBroadcast(ql5, 2u), quadBroadcast(ql5, 3u),
      quadBroadcast(ql6, 0u), quadBroadcast(ql6, 1u), quadBroadcast(ql6, 2u), quadBroadcast(ql6, 3u),
      quadBroadcast(ql7, 0u), quadBroadcast(ql7, 1u), quadBroadcast(ql7, 2u), quadBroadcast(ql7, 3u));
    let s = Vec8(
      scores4(0u, x, k0, end, b, h, i),
      scores4(1u, x, k0, end, b, h, i),
      scores4(2u, x, k0, end, b, h, i),
      scores4(3u, x, k0, end, b, h, i),
      scores4(4u, x, k0, end, b, h, i),
      scores4(5u, x, k0, end, b, h, i),
      scores4(6u, x, k0, end, b, h, i),
      scores4(7u, x, k0, end, b, h, i));
    // NaN tracking by bit pattern (max() may drop a NaN): a NaN score makes the row's output NaN.
    let bad = is_nan4(s.e0) | is_nan4(s.e1) | is_nan4(s.e2) | is_nan4(s.e3) | is_nan4(s.e4) | is_nan4(s.e5) | is_nan4(s.e6) |
      is_nan4(s.e7);
    let mv = max(max(max(s.e0, s.e1), max(s.e2, s.e3)), max(max(s.e4, s.e5), max(s.e6, s.e7)));
    let m = row_max(mv);
    let m_exp = select(m, 0.0, m == HIDDEN); // as in flash-held-keys.wgsl: all weights 0 while m is HIDDEN
    let w = Vec8(weights4(s.e0, m_exp), weights4(s.e1, m_exp), weights4(s.e2, m_exp), weights4(s.e3, m_exp),
                 weights4(s.e4, m_exp), weights4(s.e5, m_exp), weights4(s.e6, m_exp), weights4(s.e7, m_exp));
    let lv = w.e0 + w.e1 + w.e2 + w.e3 + w.e4 + w.e5 + w.e6 + w.e7;
    let l = row_sum(lv, any(bad), m);
    let m_quad = quad_max(m);
    let f = exp(m - m_quad);
    let l_quad = quad_sum1(l * f);
    // Every output vec4 computed without a branch, as in flash-held-keys.wgsl.
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
    let z16 = select(vec4<f32>(0.0), quad_sum(weighted(16u, w) * f), VALUE_VEC4 > 16u);
    let z17 = select(vec4<f32>(0.0), quad_sum(weighted(17u, w) * f), VALUE_VEC4 > 17u);
    let z18 = select(vec4<f32>(0.0), quad_sum(weighted(18u, w) * f), VALUE_VEC4 > 18u);
    let z19 = select(vec4<f32>(0.0), quad_sum(weighted(19u, w) * f), VALUE_VEC4 > 19u);
    let z20 = select(vec4<f32>(0.0), quad_sum(weighted(20u, w) * f), VALUE_VEC4 > 20u);
    let z21 = select(vec4<f32>(0.0), quad_sum(weighted(21u, w) * f), VALUE_VEC4 > 21u);
    let z22 = select(vec4<f32>(0.0), quad_sum(weighted(22u, w) * f), VALUE_VEC4 > 22u);
    let z23 = select(vec4<f32>(0.0), quad_sum(weighted(23u, w) * f), VALUE_VEC4 > 23u);
    let z24 = select(vec4<f32>(0.0), quad_sum(weighted(24u, w) * f), VALUE_VEC4 > 24u);
    let z25 = select(vec4<f32>(0.0), quad_sum(weighted(25u, w) * f), VALUE_VEC4 > 25u);
    let z26 = select(vec4<f32>(0.0), quad_sum(weighted(26u, w) * f), VALUE_VEC4 > 26u);
    let z27 = select(vec4<f32>(0.0), quad_sum(weighted(27u, w) * f), VALUE_VEC4 > 27u);
    let z28 = select(vec4<f32>(0.0), quad_sum(weighted(28u, w) * f), VALUE_VEC4 > 28u);
    let z29 = select(vec4<f32>(0.0), quad_sum(weighted(29u, w) * f), VALUE_VEC4 > 29u);
    let z30 = select(vec4<f32>(0.0), quad_sum(weighted(30u, w) * f), VALUE_VEC4 > 30u);
    let z31 = select(vec4<f32>(0.0), quad_sum(weighted(31u, w) * f), VALUE_VEC4 > 31u);
    let slot = (at.row0 + i) * params.splits + at.chunk;
    put_stats(slot, m_quad, l_quad, lane);
    let base = slot * VALUE_VEC4;
    put(base, lane + 0u, pick(z0, z1, z2, z3, lane));
    put(base, lane + 4u, pick(z4, z5, z6, z7, lane));
    put(base, lane + 8u, pick(z8, z9, z10, z11, lane));
    put(base, lane + 12u, pick(z12, z13, z14, z15, lane));
    put(base, lane + 16u, pick(z16, z17, z18, z19, lane));
    put(base, lane + 20u, pick(z20, z21, z22, z23, lane));
    put(base, lane + 24u, pick(z24, z25, z26, z27, lane));
    put(base, lane + 28u, pick(z28, z29, z30, z31, lane));
  }
}
