// q, k, v as f32 arrays, for any E and Ev: a vec4 past the row's end is zero-padded.
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> k: array<f32>;
@group(0) @binding(4) var<storage, read> v: array<f32>;

fn load_q(row: u32, e4: u32) -> vec4<f32> {
  let n = params.head_dim;
  let a = row * n + e4 * 4u;
  var r = vec4<f32>(0.0);
  for (var x = 0u; x < 4u; x++) {
    if (e4 * 4u + x < n) { r[x] = q[a + x]; }
  }
  return r;
}
fn load_k(row: u32, e4: u32) -> vec4<f32> {
  let n = params.head_dim;
  let a = row * n + e4 * 4u;
  var r = vec4<f32>(0.0);
  for (var x = 0u; x < 4u; x++) {
    if (e4 * 4u + x < n) { r[x] = k[a + x]; }
  }
  return r;
}
fn load_v(row: u32, e4: u32) -> vec4<f32> {
  let n = params.value_dim;
  let a = row * n + e4 * 4u;
  var r = vec4<f32>(0.0);
  for (var x = 0u; x < 4u; x++) {
    if (e4 * 4u + x < n) { r[x] = v[a + x]; }
  }
  return r;
}
