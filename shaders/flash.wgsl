// Fused path: softmax(q kᵀ · scale + mask) v without storing the score matrix (FlashAttention-2
// style online softmax). One invocation owns one query row of one (batch, head) and one chunk of
// its keys: it keeps the row's running max m, running sum l and an f32 accumulator, and rescales
// the accumulator when m grows. Memory is O((Lq + Lk)·E); keys past the causal limit are never read.
//
// With one split (prefill) the invocation writes the final row (and its log-sum-exp). With several
// (split-keys, for decoding: few rows, many keys) it writes the unnormalised accumulator, m and l
// for its chunk, and merge.wgsl combines the chunks.
//
// Keys go four at a time: four independent dot products give the arithmetic units parallel work,
// and the rescale and exp cost is paid once per four keys.
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> k: array<f32>;
@group(0) @binding(4) var<storage, read> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // final rows, or partial accumulators
@group(0) @binding(6) var<storage, read_write> stats: array<f32>; // log-sum-exp, or (m, l) per partial

const MAX_VEC4: u32 = 64u;          // head and value dims up to 256
override HEAD_VEC4: u32 = 16u;      // ceil(E / 4): constant per pipeline so loops unroll
override VALUE_VEC4: u32 = 16u;     // ceil(Ev / 4)
override SPLIT: bool = false;
override WRITE_LSE: bool = false;
override WG: u32 = 64u;

fn load_vec4_q(base: u32, e: u32, n: u32) -> vec4<f32> {
  let a = base + e;
  if (e + 3u < n) {
    return vec4<f32>(q[a], q[a + 1u], q[a + 2u], q[a + 3u]);
  }
  var r = vec4<f32>(0.0);
  for (var x = 0u; x < 4u; x++) {
    if (e + x < n) { r[x] = q[a + x]; }
  }
  return r;
}

fn load_vec4_k(base: u32, e: u32, n: u32) -> vec4<f32> {
  let a = base + e;
  if (e + 3u < n) {
    return vec4<f32>(k[a], k[a + 1u], k[a + 2u], k[a + 3u]);
  }
  var r = vec4<f32>(0.0);
  for (var x = 0u; x < 4u; x++) {
    if (e + x < n) { r[x] = k[a + x]; }
  }
  return r;
}

fn load_vec4_v(base: u32, e: u32, n: u32) -> vec4<f32> {
  let a = base + e;
  if (e + 3u < n) {
    return vec4<f32>(v[a], v[a + 1u], v[a + 2u], v[a + 3u]);
  }
  var r = vec4<f32>(0.0);
  for (var x = 0u; x < 4u; x++) {
    if (e + x < n) { r[x] = v[a + x]; }
  }
  return r;
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let t = workgroup_index(wid, nwg) * WG + lid;
  let per_bh = params.q_len * params.splits;
  let local_bh = t / per_bh;
  if (local_bh >= params.bh_count) {
    return;
  }
  // Rows vary fastest (neighbouring invocations share keys); for decoding, splits do.
  let i = t % params.q_len;
  let split = (t / params.q_len) % params.splits;
  let bh = params.bh_offset + local_bh;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let kv_bh = b * params.kv_heads + h / params.group;
  let E = params.head_dim;
  let Ev = params.value_dim;

  let k0 = split * params.keys_per_split;
  let k1 = min(k0 + params.keys_per_split, key_end(i));

  // The query row, pre-scaled, in registers.
  var qv: array<vec4<f32>, MAX_VEC4>;
  let q_base = (bh * params.q_len + i) * E;
  for (var e = 0u; e < HEAD_VEC4; e++) {
    qv[e] = load_vec4_q(q_base, e * 4u, E) * params.scale;
  }

  var m = HIDDEN;
  var l = 0.0;
  var acc: array<vec4<f32>, MAX_VEC4>;
  let k_row0 = kv_bh * params.k_len;
  let last = params.k_len - 1u;

  for (var j = k0; j < k1; j += 4u) {
    let j1 = min(j + 1u, last);
    let j2 = min(j + 2u, last);
    let j3 = min(j + 3u, last);
    var s = vec4<f32>(0.0);
    for (var e = 0u; e < HEAD_VEC4; e++) {
      let qe = qv[e];
      s.x += dot(qe, load_vec4_k((k_row0 + j) * E, e * 4u, E));
      s.y += dot(qe, load_vec4_k((k_row0 + j1) * E, e * 4u, E));
      s.z += dot(qe, load_vec4_k((k_row0 + j2) * E, e * 4u, E));
      s.w += dot(qe, load_vec4_k((k_row0 + j3) * E, e * 4u, E));
    }
    // Keys past the chunk, the causal limit or hidden by the mask get -inf.
    for (var x = 0u; x < 4u; x++) {
      if (j + x < k1) {
        s[x] += mask_bias(b, h, i, j + x);
      } else {
        s[x] = HIDDEN;
      }
    }
    let m_new = max(m, max(max(s.x, s.y), max(s.z, s.w)));
    if (m_new <= HIDDEN) {
      continue; // every key so far is hidden
    }
    let correction = exp(m - m_new);
    let p = exp(s - vec4<f32>(m_new));
    l = l * correction + (p.x + p.y + p.z + p.w);
    m = m_new;
    let v0 = (k_row0 + j) * Ev;
    let v1 = (k_row0 + j1) * Ev;
    let v2 = (k_row0 + j2) * Ev;
    let v3 = (k_row0 + j3) * Ev;
    for (var c = 0u; c < VALUE_VEC4; c++) {
      let cc = c * 4u;
      acc[c] = acc[c] * correction
        + p.x * load_vec4_v(v0, cc, Ev) + p.y * load_vec4_v(v1, cc, Ev)
        + p.z * load_vec4_v(v2, cc, Ev) + p.w * load_vec4_v(v3, cc, Ev);
    }
  }

  if (SPLIT) {
    let slot = (local_bh * params.q_len + i) * params.splits + split;
    for (var c = 0u; c < VALUE_VEC4; c++) {
      for (var x = 0u; x < 4u; x++) {
        if (c * 4u + x < Ev) { out[slot * Ev + c * 4u + x] = acc[c][x]; }
      }
    }
    stats[slot * 2u] = m;
    stats[slot * 2u + 1u] = l;
    return;
  }

  let row = bh * params.q_len + i;
  // A row with nothing to attend to (l == 0) gives 0, not 0/0.
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var c = 0u; c < VALUE_VEC4; c++) {
    for (var x = 0u; x < 4u; x++) {
      if (c * 4u + x < Ev) { out[row * Ev + c * 4u + x] = acc[c][x] * inv; }
    }
  }
  if (WRITE_LSE) {
    stats[row] = select(HIDDEN, m + log(l), l > 0.0);
  }
}
