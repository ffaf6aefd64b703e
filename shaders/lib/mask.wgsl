// Mask lookup, shared by the kernels that apply masks (scores, flash).
// MASK_KIND 0: none; 1: boolean bytes (nonzero = attend), packed four to a u32;
// 2: additive f32 (bit patterns in a u32 array so both kinds share one binding).
override MASK_KIND: u32 = 0u;

@group(0) @binding(1) var<storage, read> mask: array<u32>;

// Added to the scaled score of (b, h, i, j): 0, a bias, or HIDDEN for a key that may not be seen.
fn mask_bias(b: u32, h: u32, i: u32, j: u32) -> f32 {
  if (MASK_KIND == 0u) {
    return 0.0;
  }
  let idx = b * params.mask_batch_stride + h * params.mask_head_stride + i * params.k_len + j;
  if (MASK_KIND == 1u) {
    let byte = (mask[idx >> 2u] >> ((idx & 3u) * 8u)) & 0xffu;
    return select(HIDDEN, 0.0, byte != 0u);
  }
  return bitcast<f32>(mask[idx]);
}
