// Blocks of 4 keys for the fused kernels (flash, flash-split): column j is vec4 e (or c) of key
// row r[j], so every vec4 loaded serves all the rows an invocation holds.
fn k_block(r: vec4<u32>, e: u32) -> mat4x4<f32> {
  return mat4x4<f32>(load_k(r.x, e), load_k(r.y, e), load_k(r.z, e), load_k(r.w, e));
}

// Keys not `live` (past the end, where r repeats the last key) read as zeros: their weight is 0,
// and 0 times an Inf in that key's value row would turn the row NaN.
fn v_block(r: vec4<u32>, live: vec4<bool>, c: u32) -> mat4x4<f32> {
  let z = vec4<f32>(0.0);
  return mat4x4<f32>(select(z, load_v(r.x, c), live.x), select(z, load_v(r.y, c), live.y),
                     select(z, load_v(r.z, c), live.z), select(z, load_v(r.w, c), live.w));
}
