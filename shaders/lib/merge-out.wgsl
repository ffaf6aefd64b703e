// How merge.wgsl and merge-decode.wgsl write a merged row: out = acc / L for up to 4 columns from
// c0 (those past Ev are not written), NaN for a row whose chunks saw a NaN, 0 for a row with
// nothing to attend to (L = 0); with write_lse, the invocation of column 0 writes M + log L
// (HIDDEN for a row with nothing to attend to, which the API reports as -Infinity).
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> lse: array<f32>;

fn write_merged(local_row: u32, c0: u32, acc: vec4<f32>, M: f32, L: f32, nan: f32) {
  let Ev = params.value_dim;
  let nan_seen = is_nan(nan);
  let mul = select(0.0, 1.0 / L, L > 0.0);
  let row = params.bh_offset * params.q_len + local_row;
  for (var d = 0u; d < 4u; d++) {
    if (c0 + d < Ev) {
      out[row * Ev + c0 + d] = select(acc[d] * mul, nan, nan_seen);
    }
  }
  if (params.write_lse != 0u && c0 == 0u) {
    lse[row] = select(select(HIDDEN, M + log(L), L > 0.0), nan, nan_seen);
  }
}
