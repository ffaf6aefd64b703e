// The staged kernels' loads shared across a quad (4 invocations of one subgroup), on software
// adapters whose subgroups are 4 lanes wide (SwiftShader). There every storage load is a per-lane
// gather (~25 multiply-adds per vec4, whatever its width), and the 4 invocations of a quad work on
// the same 4 query rows: scores.wgsl loads each row's q vec4 once per quad instead of once per
// invocation, and weighted-sum.wgsl each row's weight. Lane l loads row l's value and
// quadBroadcast hands it to the others. Needs the quad to be 4 consecutive local invocation
// indices starting at a multiple of 4, with the same local_invocation_id.y (both kernels' x extent
// is a multiple of 4), and all 4 invocations live where the values are shared; src/tiles.ts
// (quadSharing) says where this holds (see lib/kv-share-quad.wgsl).
// Needs `enable subgroups;` (src/shaders.ts puts it first).
const SHARE_LANES: u32 = 4u;

struct Invocation {
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(subgroup_invocation_id) lane: u32,
}

fn quad_lane(id: Invocation) -> u32 {
  return id.lane & 3u;
}

// The 4 lanes' x, as a vec4 by lane.
fn from_lanes(x: f32) -> vec4<f32> {
  return vec4<f32>(quadBroadcast(x, 0u), quadBroadcast(x, 1u), quadBroadcast(x, 2u), quadBroadcast(x, 3u));
}
// The 4 lanes' x, as the columns of a matrix by lane.
fn from_lanes4(x: vec4<f32>) -> mat4x4<f32> {
  return mat4x4<f32>(quadBroadcast(x, 0u), quadBroadcast(x, 1u), quadBroadcast(x, 2u), quadBroadcast(x, 3u));
}
