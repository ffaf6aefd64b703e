// q, k, v as vec4 arrays: used when E and Ev are multiples of 4. Software adapters turn every
// storage load into per-invocation gathers, so one vec4 load instead of four scalars pays 4x.
@group(0) @binding(2) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> v: array<vec4<f32>>;

// row: index of the row in its tensor (e.g. bh * q_len + i); e4: which vec4 of the row.
fn load_q(row: u32, e4: u32) -> vec4<f32> {
  return q[row * (params.head_dim >> 2u) + e4];
}
fn load_k(row: u32, e4: u32) -> vec4<f32> {
  return k[row * (params.head_dim >> 2u) + e4];
}
fn load_v(row: u32, e4: u32) -> vec4<f32> {
  return v[row * (params.value_dim >> 2u) + e4];
}
