// Run-time sizes shared by every attention kernel (one pipeline serves every shape).
// Prepended to each kernel's source by src/shaders.ts.
struct Params {
  batch: u32,
  heads: u32,
  kv_heads: u32,
  q_len: u32,
  k_len: u32,
  head_dim: u32,
  value_dim: u32,
  group: u32,             // heads / kv_heads: query head h reads kv head h / group
  scale: f32,
  causal: u32,            // 0: none, otherwise key j is visible to query i when j <= i + causal_offset
  causal_offset: i32,     // 0 top-left, k_len - q_len bottom-right
  mask_batch_stride: u32, // element strides of the mask; 0 where it broadcasts
  mask_head_stride: u32,
  bh_offset: u32,         // first (batch * heads + head) of this dispatch (staged path splits big problems)
  bh_count: u32,          // how many (batch, head) pairs this dispatch covers
  splits: u32,            // split-keys: key chunks per row
  keys_per_split: u32,
  kv_rows: u32,           // rows per kv head in the k and v buffers: k_len, or more in a preallocated cache
  mask_row_stride: u32,   // k_len, or 0 where the mask broadcasts over query rows ([B, 1, 1, Lk])
  // 1: write each row's log-sum-exp to the kernel's lse binding (flash, flash-tiled, the merges);
  // 0: that binding is a placeholder. A parameter, not an override, so that attention() and
  // attentionWithLogSumExp() on one shape share their pipelines (a compile is seconds on SwiftShader).
  write_lse: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

// The score of a key that may not be seen. WGSL cannot write -inf as a constant, so we use the
// lowest finite f32: exp(HIDDEN - m) is 0 for any real max m, and a row whose max is HIDDEN has
// nothing to attend to. Additive masks may still bring a real -inf, which behaves the same.
const HIDDEN: f32 = -0x1.fffffep+127f;

// NaN test by bit pattern: max() may drop NaN and compilers may fold x != x away, but a NaN in a
// query row must reach that row's output (and no other row's).
fn is_nan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// The largest finite f32: a score above it is +Inf.
const MAX_F32: f32 = 0x1.fffffep+127f;

// A quiet NaN made from x at run time (WGSL's constant expressions cannot hold a NaN); NaN stays NaN.
fn nan_from(x: f32) -> f32 {
  return bitcast<f32>(bitcast<u32>(x) | 0x7fc00000u);
}

fn is_nan4(x: vec4<f32>) -> vec4<bool> {
  return (bitcast<vec4<u32>>(x) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
}

// Work-item index from a dispatch folded into 2-D/3-D to respect maxComputeWorkgroupsPerDimension.
fn workgroup_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + nwg.x * (wid.y + nwg.y * wid.z);
}

// First row, in the k and v buffers, of the kv head that query head h of batch b reads (GQA:
// heads / kv_heads query heads share one; kv_rows rows per kv head, more than k_len in a cache).
fn kv_row0(b: u32, h: u32) -> u32 {
  return (b * params.kv_heads + h / params.group) * params.kv_rows;
}

// One past the last key query i may see under the causal rule, clamped to [0, k_len].
fn key_end(i: u32) -> u32 {
  if (params.causal == 0u) {
    return params.k_len;
  }
  return u32(clamp(i32(i) + params.causal_offset + 1, 0, i32(params.k_len)));
}
