// No sharing across lanes: each invocation of the staged kernels (scores.wgsl, weighted-sum.wgsl)
// loads every value it uses. lib/lanes-quad.wgsl is the variant for 4-lane subgroups; the names
// are the same, so each kernel has one body and tests SHARE_LANES (a constant, folded away).
const SHARE_LANES: u32 = 1u;

struct Invocation {
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
}

fn quad_lane(id: Invocation) -> u32 {
  return 0u;
}

// Only called where SHARE_LANES is 4; here so that both variants compile.
fn from_lanes(x: f32) -> vec4<f32> {
  return vec4<f32>(x);
}
fn from_lanes4(x: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(x, x, x, x);
}
