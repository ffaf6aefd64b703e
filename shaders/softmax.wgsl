// Staged path, kernel 2 of 3: numerically stable softmax over each score row, in place.
// One invocation per row, three passes (max, exp and sum, normalise): no barriers, which is
// what software adapters need; rows are many (B·H·Lq), so the GPU still fills.
// A row whose keys are all hidden becomes all zeros instead of NaN; a row with a NaN score
// (a NaN in its query) or a +Inf one (an Inf in q or k, +Inf in an additive mask) becomes all NaN,
// as the reference gives (exp(inf - inf) is NaN, and the row's sum with it; exp's answer for it
// here differs by adapter: SwiftShader's is +Inf).
@group(0) @binding(2) var<storage, read_write> scores: array<f32>;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = workgroup_index(wid, nwg) * WG + lid;
  if (row >= params.bh_count * params.q_len) {
    return;
  }
  let n = params.k_len;
  let base = row * n;
  var m = HIDDEN;
  var nan_seen = false;
  var nan = 0.0;
  for (var j = 0u; j < n; j++) {
    let x = scores[base + j];
    m = max(m, x);
    if (is_nan(x)) {
      nan_seen = true;
      nan = x;
    }
  }
  if (nan_seen || m > MAX_F32) {
    let fill = select(nan_from(m), nan, nan_seen);
    for (var j = 0u; j < n; j++) {
      scores[base + j] = fill;
    }
    return;
  }
  if (m <= HIDDEN) {
    for (var j = 0u; j < n; j++) {
      scores[base + j] = 0.0;
    }
    return;
  }
  var sum = 0.0;
  for (var j = 0u; j < n; j++) {
    let p = exp(scores[base + j] - m);
    scores[base + j] = p;
    sum += p;
  }
  let inv = 1.0 / sum;
  for (var j = 0u; j < n; j++) {
    scores[base + j] *= inv;
  }
}
