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
  // The max and sum passes take 4 keys a loop step (a loop iteration costs SwiftShader as much as
  // ~10 multiply-adds of vec4s). In the last step the keys past the row's end reread its last key:
  // harmless to the max and the NaN check, left out of the sum, and written back unchanged.
  var m = HIDDEN;
  var nan_seen = false;
  var nan = 0.0;
  for (var j = 0u; j < n; j += 4u) {
    let x = row4(base, j, n);
    m = max(m, max(max(x.x, x.y), max(x.z, x.w)));
    let bad = is_nan4(x);
    nan = select(nan, select(select(select(x.w, x.z, bad.z), x.y, bad.y), x.x, bad.x), any(bad));
    nan_seen = nan_seen || any(bad);
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
  for (var j = 0u; j < n; j += 4u) {
    let p = exp(row4(base, j, n) - vec4<f32>(m));
    put4(base, j, n, p);
    let live = vec4<u32>(j) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(n);
    sum += dot(select(vec4<f32>(0.0), p, live), vec4<f32>(1.0));
  }
  let inv = 1.0 / sum;
  for (var j = 0u; j < n; j += 4u) {
    put4(base, j, n, row4(base, j, n) * inv);
  }
}

// Scores j..j+3 of the row at base (n long); past the end, the row's last score again.
fn row4(base: u32, j: u32, n: u32) -> vec4<f32> {
  let last = n - 1u;
  return vec4<f32>(scores[base + j], scores[base + min(j + 1u, last)], scores[base + min(j + 2u, last)], scores[base + min(j + 3u, last)]);
}

// Writes x to scores j..j+3 of the row as row4 read them (past the end, the last score again, with
// the same value, since all 4 come from one read of it).
fn put4(base: u32, j: u32, n: u32, x: vec4<f32>) {
  let last = n - 1u;
  scores[base + j] = x.x;
  scores[base + min(j + 1u, last)] = x.y;
  scores[base + min(j + 2u, last)] = x.z;
  scores[base + min(j + 3u, last)] = x.w;
}
