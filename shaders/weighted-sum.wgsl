// Staged path, kernel 3 of 3: output = weights · v, [bh, Lq, Lk] x [kv_bh, Lk, Ev] -> [B, H, Lq, Ev].
// Each invocation owns 4 query rows x 4 adjacent value columns (one vec4 of v) in four named
// registers. Keys past the causal limit of the invocation's last row have weight 0 and are skipped.
// v (binding 4) and load_v come from lib/qkv-vec4.wgsl or lib/qkv-scalar.wgsl.
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

@compute @workgroup_size(WG_X, WG_Y)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
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
  if (c4 * 4u >= Ev) {
    return;
  }
  let i = (tile / tiles_c) * tile_rows + lid.y + vec4<u32>(0u, 1u, 2u, 3u) * WG_Y;
  let ic = min(i, vec4<u32>(params.q_len - 1u));
  let w = (local_bh * params.q_len + ic) * params.k_len;
  let end = key_end(max(max(ic.x, ic.y), max(ic.z, ic.w)));

  var a0 = vec4<f32>(0.0);
  var a1 = vec4<f32>(0.0);
  var a2 = vec4<f32>(0.0);
  var a3 = vec4<f32>(0.0);
  for (var j = 0u; j < end; j++) {
    let vv = load_v(v_row0 + j, c4);
    a0 += weights[w.x + j] * vv;
    a1 += weights[w.y + j] * vv;
    a2 += weights[w.z + j] * vv;
    a3 += weights[w.w + j] * vv;
  }
  store_row(bh, i.x, c4 * 4u, a0);
  store_row(bh, i.y, c4 * 4u, a1);
  store_row(bh, i.z, c4 * 4u, a2);
  store_row(bh, i.w, c4 * 4u, a3);
}
