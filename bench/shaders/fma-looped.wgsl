// The arithmetic ceiling as first measured (and as ../shared/notes/webgpu-here.md measured it,
// "~5 GFLOP/s" on SwiftShader): 8 independent vec4 FMA chains, one step per loop iteration.
// Kept beside fma-ceiling.wgsl for comparison only: on SwiftShader its loop costs more than its
// multiply-adds, so it reports a fourth to a seventh of the adapter's throughput. Not the ceiling.
// FLOPs per invocation = iterations * 8 chains * 4 lanes * 2 (mul + add).
// The chains are summed and written once so the compiler cannot drop them; `iterations` and the
// coefficients come from a uniform so nothing can be folded at compile time.

struct Params {
  iterations: u32,
  mul: f32,
  add: f32,
  _pad: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> sink: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let seed = f32(gid.x) * 1e-6;
  let m = vec4<f32>(params.mul);
  let c = vec4<f32>(params.add);
  var a0 = vec4<f32>(seed, seed + 0.1, seed + 0.2, seed + 0.3);
  var a1 = a0 + 1.0;
  var a2 = a0 + 2.0;
  var a3 = a0 + 3.0;
  var a4 = a0 + 4.0;
  var a5 = a0 + 5.0;
  var a6 = a0 + 6.0;
  var a7 = a0 + 7.0;
  for (var i = 0u; i < params.iterations; i++) {
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    a4 = fma(a4, m, c);
    a5 = fma(a5, m, c);
    a6 = fma(a6, m, c);
    a7 = fma(a7, m, c);
  }
  sink[gid.x] = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
}
