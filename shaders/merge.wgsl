// Split-keys path, second kernel: combine each row's per-chunk partials (unnormalised accumulator,
// max m, sum l) into the final row: M = max m_s, L = Σ l_s·e^(m_s − M), out = Σ acc_s·e^(m_s − M) / L.
// A chunk with nothing visible has m = -inf, l = 0 and adds nothing; a row with none gives 0.
@group(0) @binding(2) var<storage, read> partials: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;

override WRITE_LSE: bool = false;
override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let local_row = workgroup_index(wid, nwg) * WG + lid;
  if (local_row >= params.bh_count * params.q_len) {
    return;
  }
  let S = params.splits;
  let Ev = params.value_dim;
  var M = HIDDEN;
  for (var s = 0u; s < S; s++) {
    M = max(M, stats[(local_row * S + s) * 2u]);
  }
  let row = params.bh_offset * params.q_len + local_row;
  var L = 0.0;
  if (M > HIDDEN) {
    for (var s = 0u; s < S; s++) {
      L += stats[(local_row * S + s) * 2u + 1u] * exp(stats[(local_row * S + s) * 2u] - M);
    }
  }
  let inv = select(0.0, 1.0 / L, L > 0.0);
  for (var c = 0u; c < Ev; c++) {
    var sum = 0.0;
    if (L > 0.0) {
      for (var s = 0u; s < S; s++) {
        let w = exp(stats[(local_row * S + s) * 2u] - M);
        sum += partials[(local_row * S + s) * Ev + c] * w;
      }
    }
    out[row * Ev + c] = sum * inv;
  }
  if (WRITE_LSE) {
    lse[row] = select(HIDDEN, M + log(L), L > 0.0);
  }
}
