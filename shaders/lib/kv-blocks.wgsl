// Blocks of 4 keys for the fused kernels (flash, flash-split): column j is vec4 e (or c) of key
// row r[j], so every vec4 loaded serves all the rows an invocation holds.
fn k_block(r: vec4<u32>, e: u32) -> mat4x4<f32> {
  return mat4x4<f32>(load_k(r.x, e), load_k(r.y, e), load_k(r.z, e), load_k(r.w, e));
}

fn v_block(r: vec4<u32>, c: u32) -> mat4x4<f32> {
  return mat4x4<f32>(load_v(r.x, c), load_v(r.y, c), load_v(r.z, c), load_v(r.w, c));
}
