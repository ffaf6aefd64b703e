// No sharing: every invocation loads its own k and v blocks (see lib/kv-share-quad.wgsl for the
// variant used where subgroups are 4 lanes wide). Same functions, so flash.wgsl has one body.
const SHARE_LANES: u32 = 1u;

struct Invocation {
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
}

fn quad_lane(id: Invocation) -> u32 {
  return 0u;
}

fn quad_max(x: u32) -> u32 {
  return x;
}

fn k_share(r: vec4<u32>, mine: u32, e: u32) -> mat4x4<f32> {
  return k_block(r, e);
}

fn v_share(r: vec4<u32>, live: vec4<bool>, mine: u32, mine_live: bool, c: u32) -> mat4x4<f32> {
  return v_block(r, live, c);
}
