// Staged path, kernel 1 of 3: scores = (q · kᵀ) · scale + mask, written as [bh, Lq, Lk].
// Keys hidden by the causal rule or a boolean mask get HIDDEN, so the softmax gives them weight 0.
// Each invocation computes a 4 x 4 block (4 query rows x 4 keys) in four named vec4 registers:
// register blocking with vec4 loads, no workgroup memory (barriers cost more than they save on
// software adapters, and fixed names keep the block out of per-invocation memory).
// q and k (bindings 2, 3) and load_q / load_k come from lib/qkv-vec4.wgsl or lib/qkv-scalar.wgsl;
// Invocation, SHARE_LANES, quad_lane and from_lanes4 from lib/lanes-none.wgsl, or on SwiftShader
// (4-lane subgroups) lib/lanes-quad.wgsl: the 4 invocations of a quad take the same 4
// query rows (and 4 different blocks of keys), so each loads one of the rows' q vec4 and shares it.
@group(0) @binding(5) var<storage, read_write> scores: array<f32>;

override HEAD_VEC4: u32 = 16u; // ceil(E / 4)
override WG_X: u32 = 8u;       // invocations along keys
override WG_Y: u32 = 8u;       // invocations along queries

// Applies the causal rule and the mask to one query row's four scores and stores them.
fn store_row(local_bh: u32, b: u32, h: u32, i: u32, j: vec4<u32>, raw: vec4<f32>) {
  if (i >= params.q_len) {
    return;
  }
  let end = key_end(i);
  let s = raw * params.scale;
  let base = (local_bh * params.q_len + i) * params.k_len;
  for (var c = 0u; c < 4u; c++) {
    if (j[c] < params.k_len) {
      var x = HIDDEN;
      if (j[c] < end) {
        x = with_mask(s[c], b, h, i, j[c]);
      }
      scores[base + j[c]] = x;
    }
  }
}

// vec4 e of the q rows qr, as the columns of a matrix: loaded by this invocation, or one row per
// lane of its quad and shared.
fn q_rows(qr: vec4<u32>, e: u32, id: Invocation) -> mat4x4<f32> {
  if (SHARE_LANES == 4u) {
    return from_lanes4(load_q(qr[quad_lane(id)], e));
  }
  return mat4x4<f32>(load_q(qr.x, e), load_q(qr.y, e), load_q(qr.z, e), load_q(qr.w, e));
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(id: Invocation) {
  let wid = id.wid;
  let nwg = id.nwg;
  let lid = id.lid;
  let tile_rows = 4u * WG_Y;
  let tile_cols = 4u * WG_X;
  let tiles_q = (params.q_len + tile_rows - 1u) / tile_rows;
  let tiles_k = (params.k_len + tile_cols - 1u) / tile_cols;
  let t = workgroup_index(wid, nwg);
  let local_bh = t / (tiles_q * tiles_k);
  if (local_bh >= params.bh_count) {
    return;
  }
  let tile = t % (tiles_q * tiles_k);
  let bh = params.bh_offset + local_bh;
  let b = bh / params.heads;
  let h = bh % params.heads;

  // Rows and keys strided by the workgroup size, so neighbouring invocations read neighbouring rows.
  let i = (tile / tiles_k) * tile_rows + lid.y + vec4<u32>(0u, 1u, 2u, 3u) * WG_Y;
  let j = (tile % tiles_k) * tile_cols + lid.x + vec4<u32>(0u, 1u, 2u, 3u) * WG_X;
  // Rows past the end read the last row (their results are not stored).
  let qr = bh * params.q_len + min(i, vec4<u32>(params.q_len - 1u));
  let kr = kv_row0(b, h) + min(j, vec4<u32>(params.k_len - 1u));

  var s0 = vec4<f32>(0.0);
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  var s3 = vec4<f32>(0.0);
  for (var e = 0u; e < HEAD_VEC4; e++) {
    let k0 = load_k(kr.x, e);
    let k1 = load_k(kr.y, e);
    let k2 = load_k(kr.z, e);
    let k3 = load_k(kr.w, e);
    let qm = q_rows(qr, e, id);
    s0 += vec4<f32>(dot(qm[0], k0), dot(qm[0], k1), dot(qm[0], k2), dot(qm[0], k3));
    s1 += vec4<f32>(dot(qm[1], k0), dot(qm[1], k1), dot(qm[1], k2), dot(qm[1], k3));
    s2 += vec4<f32>(dot(qm[2], k0), dot(qm[2], k1), dot(qm[2], k2), dot(qm[2], k3));
    s3 += vec4<f32>(dot(qm[3], k0), dot(qm[3], k1), dot(qm[3], k2), dot(qm[3], k3));
  }
  store_row(local_bh, b, h, i.x, j, s0);
  store_row(local_bh, b, h, i.y, j, s1);
  store_row(local_bh, b, h, i.z, j, s2);
  store_row(local_bh, b, h, i.w, j, s3);
}
