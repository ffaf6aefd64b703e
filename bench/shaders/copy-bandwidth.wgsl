// Memory ceiling: vec4 copy of a large buffer. Bytes moved = read + write = 2 * buffer size.
// Grid-stride loop so a fixed dispatch covers any buffer size without hitting the
// 65535-workgroups-per-dimension limit; consecutive invocations touch consecutive vec4s.

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = arrayLength(&src);
  let stride = nwg.x * 64u;
  for (var i = gid.x; i < n; i += stride) {
    dst[i] = src[i];
  }
}
