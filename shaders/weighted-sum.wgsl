// Staged path, kernel 3 of 3: output = weights · v, [bh, Lq, Lk] x [kv_bh, Lk, Ev] -> [B, H, Lq, Ev].
// Each invocation owns 4 query rows x 4 adjacent value columns (one vec4 of v) in four named
// registers. Keys past the causal limit of the invocation's last row have weight 0 and are skipped.
// v (binding 4) and load_v come from lib/qkv-vec4.wgsl or lib/qkv-scalar.wgsl; Invocation,
// SHARE_LANES, quad_lane and from_lanes from lib/lanes-none.wgsl, or on SwiftShader (4-lane
// subgroups) lib/lanes-quad.wgsl: the 4 invocations of a quad take the same 4 query rows (and
// 4 different value columns), so each loads one row's weight per key and shares it.
@group(0) @binding(5) var<storage, read> weights: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

override WG_X: u32 = 8u; // invocations along value columns (4 columns each)
override WG_Y: u32 = 8u; // invocations along queries

fn store_row(bh: u32, i: u32, c0: u32, x: vec4<f32>) {
  if (i >= params.q_len) {
    return;
  }
  let base = (bh * params.q_len + i) * params.value_dim + c0;
  for (var c = 0u; c < 4u; c++) {
    if (c0 + c < params.value_dim) {
      out[base + c] = x[c];
    }
  }
}

// The weights of key j for the 4 rows whose weight rows start at w: loaded by this invocation, or
// one row per lane of its quad and shared.
fn row_weights(w: vec4<u32>, j: u32, id: Invocation) -> vec4<f32> {
  if (SHARE_LANES == 4u) {
    return from_lanes(weights[w[quad_lane(id)] + j]);
  }
  return vec4<f32>(weights[w.x + j], weights[w.y + j], weights[w.z + j], weights[w.w + j]);
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(id: Invocation) {
  let wid = id.wid;
  let nwg = id.nwg;
  let lid = id.lid;
  let Ev = params.value_dim;
  let tile_rows = 4u * WG_Y;
  let tile_cols = 4u * WG_X;
  let tiles_q = (params.q_len + tile_rows - 1u) / tile_rows;
  let tiles_c = (Ev + tile_cols - 1u) / tile_cols;
  let t = workgroup_index(wid, nwg);
  let local_bh = t / (tiles_q * tiles_c);
  if (local_bh >= params.bh_count) {
    return;
  }
  let tile = t % (tiles_q * tiles_c);
  let bh = params.bh_offset + local_bh;
  let b = bh / params.heads;
  let h = bh % params.heads;
  let v_row0 = kv_row0(b, h);
  let c4 = (tile % tiles_c) * WG_X + lid.x; // which vec4 of the value row
  // Past the row's end: nothing to write. Where a quad shares its loads, every lane must stay to
  // share them, and reads the row's last vec4 instead (its results are not stored).
  if (c4 * 4u >= Ev && SHARE_LANES == 1u) {
    return;
  }
  let cv = min(c4, (Ev + 3u) / 4u - 1u);
  let i = (tile / tiles_c) * tile_rows + lid.y + vec4<u32>(0u, 1u, 2u, 3u) * WG_Y;
  let ic = min(i, vec4<u32>(params.q_len - 1u));
  let w = (local_bh * params.q_len + ic) * params.k_len;
  let end = key_end(max(max(ic.x, ic.y), max(ic.z, ic.w)));

  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  // 4 keys an iteration (a loop iteration costs SwiftShader as much as ~10 multiply-adds of vec4s).
  // Keys from `end` on, in the last block, read the last key again and count with value 0, which
  // adds nothing (a weight of 0 instead would add 0 · v: NaN where the last key's v holds an Inf).
  let zero = vec4<f32>(0.0);
  for (var j = 0u; j < end; j += 4u) {
    let j1 = min(j + 1u, end - 1u);
    let j2 = min(j + 2u, end - 1u);
    let j3 = min(j + 3u, end - 1u);
    let v0 = load_v(v_row0 + j, cv);
    let v1 = select(zero, load_v(v_row0 + j1, cv), j + 1u < end);
    let v2 = select(zero, load_v(v_row0 + j2, cv), j + 2u < end);
    let v3 = select(zero, load_v(v_row0 + j3, cv), j + 3u < end);
    let w0 = row_weights(w, j, id);
    let w1 = row_weights(w, j1, id);
    let w2 = row_weights(w, j2, id);
    let w3 = row_weights(w, j3, id);
    a0 += w0.x * v0 + w1.x * v1 + w2.x * v2 + w3.x * v3;
    a1 += w0.y * v0 + w1.y * v1 + w2.y * v2 + w3.y * v3;
    a2 += w0.z * v0 + w1.z * v1 + w2.z * v2 + w3.z * v3;
    a3 += w0.w * v0 + w1.w * v1 + w2.w * v2 + w3.w * v3;
  }
  store_row(bh, i.x, c4 * 4u, a0);
  store_row(bh, i.y, c4 * 4u, a1);
  store_row(bh, i.z, c4 * 4u, a2);
  store_row(bh, i.w, c4 * 4u, a3);
}
