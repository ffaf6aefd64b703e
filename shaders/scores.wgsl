// Staged path, kernel 1 of 3: scores = (q · kᵀ) · scale + mask, written as [bh, Lq, Lk].
// Keys hidden by the causal rule or a boolean mask get -inf, so the softmax gives them weight 0.
// Each invocation computes a TM x TN block in registers (register blocking, no workgroup memory:
// on software adapters barriers cost more than the loads they save).
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> k: array<f32>;
@group(0) @binding(4) var<storage, read_write> scores: array<f32>;

const TM: u32 = 4u; // query rows per invocation
const TN: u32 = 4u; // keys per invocation
override WG_X: u32 = 8u; // invocations along keys
override WG_Y: u32 = 8u; // invocations along queries

@compute @workgroup_size(WG_X, WG_Y)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
) {
  let tile_rows = TM * WG_Y;
  let tile_cols = TN * WG_X;
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
  let kv_bh = b * params.kv_heads + h / params.group;
  let E = params.head_dim;

  // Rows and keys are strided by the workgroup width so neighbours touch neighbouring rows.
  var rows: array<u32, TM>;
  var q_base: array<u32, TM>;
  for (var r = 0u; r < TM; r++) {
    rows[r] = (tile / tiles_k) * tile_rows + lid.y + r * WG_Y;
    q_base[r] = (bh * params.q_len + min(rows[r], params.q_len - 1u)) * E;
  }
  var cols: array<u32, TN>;
  var k_base: array<u32, TN>;
  for (var c = 0u; c < TN; c++) {
    cols[c] = (tile % tiles_k) * tile_cols + lid.x + c * WG_X;
    k_base[c] = (kv_bh * params.k_len + min(cols[c], params.k_len - 1u)) * E;
  }

  var acc: array<array<f32, TN>, TM>;
  let e4_end = E & ~3u;
  for (var e = 0u; e < e4_end; e += 4u) {
    var kv: array<vec4<f32>, TN>;
    for (var c = 0u; c < TN; c++) {
      let a = k_base[c] + e;
      kv[c] = vec4<f32>(k[a], k[a + 1u], k[a + 2u], k[a + 3u]);
    }
    for (var r = 0u; r < TM; r++) {
      let a = q_base[r] + e;
      let qv = vec4<f32>(q[a], q[a + 1u], q[a + 2u], q[a + 3u]);
      for (var c = 0u; c < TN; c++) {
        acc[r][c] += dot(qv, kv[c]);
      }
    }
  }
  for (var e = e4_end; e < E; e++) {
    for (var r = 0u; r < TM; r++) {
      for (var c = 0u; c < TN; c++) {
        acc[r][c] += q[q_base[r] + e] * k[k_base[c] + e];
      }
    }
  }

  for (var r = 0u; r < TM; r++) {
    let i = rows[r];
    if (i >= params.q_len) {
      continue;
    }
    let end = key_end(i);
    for (var c = 0u; c < TN; c++) {
      let j = cols[c];
      if (j >= params.k_len) {
        continue;
      }
      var s = HIDDEN;
      if (j < end) {
        s = acc[r][c] * params.scale + mask_bias(b, h, i, j);
      }
      scores[(local_bh * params.q_len + i) * params.k_len + j] = s;
    }
  }
}
