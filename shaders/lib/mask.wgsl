// Mask lookup, shared by the kernels that apply masks (scores, and every fused and split-keys kernel).
// MASK_KIND 0: none; 1: boolean bytes (nonzero = attend), packed four to a u32;
// 2: additive f32 (bit patterns in a u32 array so both kinds share one binding).
override MASK_KIND: u32 = 0u;

@group(0) @binding(1) var<storage, read> mask: array<u32>;

// The lowest f32 above HIDDEN. A score plus a finite bias can round to exactly HIDDEN (a bias of
// -3.4e38, the torch.finfo(float32).min that Hugging Face masks use); such a score is kept here, one
// step above, so it stays a real score: a row masked that way everywhere gets the softmax of equal
// scores (uniform weights), as in PyTorch and the float64 reference, not the zeros of a row with
// nothing to attend to. A bias of -inf still hides its key.
const ABOVE_HIDDEN: f32 = -0x1.fffffcp+127f;

// The scaled score s of (b, h, i, j) with the mask applied: s, s + a bias, or HIDDEN for a key
// that may not be seen.
fn with_mask(s: f32, b: u32, h: u32, i: u32, j: u32) -> f32 {
  if (MASK_KIND == 0u) {
    return s;
  }
  let idx = b * params.mask_batch_stride + h * params.mask_head_stride + i * params.mask_row_stride + j;
  if (MASK_KIND == 1u) {
    let byte = (mask[idx >> 2u] >> ((idx & 3u) * 8u)) & 0xffu;
    return select(HIDDEN, s, byte != 0u);
  }
  let x = s + bitcast<f32>(mask[idx]);
  return select(x, ABOVE_HIDDEN, x == HIDDEN);
}
