// Staged path, kernel 3 of 3: output = weights · v, [bh, Lq, Lk] x [kv_bh, Lk, Ev] -> [B, H, Lq, Ev].
// Each invocation owns TM query rows x 4 adjacent value columns (one vec4) in registers.
// Keys past the causal limit of the invocation's last row have weight 0 and are skipped.
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const TM: u32 = 4u;
override WG_X: u32 = 8u; // invocations along value columns (4 columns each)
override WG_Y: u32 = 8u; // invocations along queries

@compute @workgroup_size(WG_X, WG_Y)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let Ev = params.value_dim;
  let tile_rows = TM * WG_Y;
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
  let kv_bh = b * params.kv_heads + h / params.group;
  let c0 = (tile % tiles_c) * tile_cols + lid.x * 4u;
  if (c0 >= Ev) {
    return;
  }
  // Column indices clamped so loads stay in the row; the extra lanes are not written.
  let cc = vec4<u32>(c0, min(c0 + 1u, Ev - 1u), min(c0 + 2u, Ev - 1u), min(c0 + 3u, Ev - 1u));

  var rows: array<u32, TM>;
  var w_base: array<u32, TM>;
  var last_row = 0u;
  for (var r = 0u; r < TM; r++) {
    rows[r] = (tile / tiles_c) * tile_rows + lid.y + r * WG_Y;
    let i = min(rows[r], params.q_len - 1u);
    w_base[r] = (local_bh * params.q_len + i) * params.k_len;
    last_row = max(last_row, i);
  }
  let end = key_end(last_row);

  var acc: array<vec4<f32>, TM>;
  for (var j = 0u; j < end; j++) {
    let a = (kv_bh * params.k_len + j) * Ev;
    let vv = vec4<f32>(v[a + cc.x], v[a + cc.y], v[a + cc.z], v[a + cc.w]);
    for (var r = 0u; r < TM; r++) {
      acc[r] += weights[w_base[r] + j] * vv;
    }
  }

  for (var r = 0u; r < TM; r++) {
    let i = rows[r];
    if (i >= params.q_len) {
      continue;
    }
    let o = (bh * params.q_len + i) * Ev;
    for (var c = 0u; c < 4u; c++) {
      if (c0 + c < Ev) {
        out[o + c0 + c] = acc[r][c];
      }
    }
  }
}
