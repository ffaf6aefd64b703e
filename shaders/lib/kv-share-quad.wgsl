// k and v shared across a quad (4 invocations of one subgroup), for flash.wgsl on software
// adapters whose subgroups are 4 lanes wide (SwiftShader: a lane of its SIMD is an invocation).
// There a storage load is a per-lane gather costing ~25 multiply-adds per vec4, whatever its
// address; so each invocation of the quad loads one of the block's 4 keys and quadBroadcast hands
// it to the other three: a quarter of the gathers. Needs every invocation of a quad on the same
// (batch, head) and on the same key block: flash.wgsl pads each head's invocations to a multiple
// of SHARE_LANES and runs the quad's largest key range (keys past a row's end get weight 0).
// That padding assumes a quad is 4 consecutive local invocation indices starting at a multiple of
// 4, which WebGPU does not promise but SwiftShader does (its SIMD runs invocations 4k..4k+3); so
// src/tiles.ts (quadSharing) uses this file only on such adapters, and the tests check the results
// there against the float64 reference.
// Needs `enable subgroups;` (src/shaders.ts puts it first).
const SHARE_LANES: u32 = 4u;

struct Invocation {
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) lane: u32,
}

fn quad_lane(id: Invocation) -> u32 {
  return id.lane & 3u;
}

fn quad_max(x: u32) -> u32 {
  return max(max(quadBroadcast(x, 0u), quadBroadcast(x, 1u)), max(quadBroadcast(x, 2u), quadBroadcast(x, 3u)));
}

// The same blocks as k_block / v_block (lib/kv-blocks.wgsl): column j is vec4 e of key r[j]. This
// invocation loads key r[quad lane] only (`mine`).
fn k_share(r: vec4<u32>, mine: u32, e: u32) -> mat4x4<f32> {
  let x = load_k(mine, e);
  return mat4x4<f32>(quadBroadcast(x, 0u), quadBroadcast(x, 1u), quadBroadcast(x, 2u), quadBroadcast(x, 3u));
}

// A key past the end (`mine_live` false) reads as zeros, as in v_block.
fn v_share(r: vec4<u32>, live: vec4<bool>, mine: u32, mine_live: bool, c: u32) -> mat4x4<f32> {
  let x = select(vec4<f32>(0.0), load_v(mine, c), mine_live);
  return mat4x4<f32>(quadBroadcast(x, 0u), quadBroadcast(x, 1u), quadBroadcast(x, 2u), quadBroadcast(x, 3u));
}
