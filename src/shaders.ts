// The one module that imports WGSL. Each kernel is its own file under shaders/; the pieces it
// shares with others (shaders/lib/: the parameter block, the q/k/v loaders, the mask lookup, the
// key-block loads and their quad sharing, the split-keys chunk, the merges' stats pass, what the
// two held-keys kernels share) are prepended here. Vite inlines the strings at build time.
import paramsWgsl from '../shaders/lib/params.wgsl?raw';
import maskWgsl from '../shaders/lib/mask.wgsl?raw';
import kvBlocksWgsl from '../shaders/lib/kv-blocks.wgsl?raw';
import splitChunkWgsl from '../shaders/lib/split-chunk.wgsl?raw';
import mergeStatsWgsl from '../shaders/lib/merge-stats.wgsl?raw';
import mergeOutWgsl from '../shaders/lib/merge-out.wgsl?raw';
import softmaxGroupsWgsl from '../shaders/lib/softmax-groups.wgsl?raw';
import heldKeysLibWgsl from '../shaders/lib/held-keys.wgsl?raw';
import kvShareNoneWgsl from '../shaders/lib/kv-share-none.wgsl?raw';
import kvShareQuadWgsl from '../shaders/lib/kv-share-quad.wgsl?raw';
import lanesNoneWgsl from '../shaders/lib/lanes-none.wgsl?raw';
import lanesQuadWgsl from '../shaders/lib/lanes-quad.wgsl?raw';
import qkvVec4Wgsl from '../shaders/lib/qkv-vec4.wgsl?raw';
import qkvScalarWgsl from '../shaders/lib/qkv-scalar.wgsl?raw';
import scoresWgsl from '../shaders/scores.wgsl?raw';
import softmaxWgsl from '../shaders/softmax.wgsl?raw';
import weightedSumWgsl from '../shaders/weighted-sum.wgsl?raw';
import flashWgsl from '../shaders/flash.wgsl?raw';
import flashTiledWgsl from '../shaders/flash-tiled.wgsl?raw';
import flashSplitWgsl from '../shaders/flash-split.wgsl?raw';
import flashSplitQuadWgsl from '../shaders/flash-split-quad.wgsl?raw';
import flashDecodeWgsl from '../shaders/flash-decode.wgsl?raw';
import flashHeldKeysWgsl from '../shaders/flash-held-keys.wgsl?raw';
import flashHeldKeys32Wgsl from '../shaders/flash-held-keys-32.wgsl?raw';
import mergeWgsl from '../shaders/merge.wgsl?raw';
import mergeRowsWgsl from '../shaders/merge-rows.wgsl?raw';
import mergeDecodeWgsl from '../shaders/merge-decode.wgsl?raw';

// 'scores-quad' and 'weighted-sum-quad' are the staged kernels with each query row's loads shared
// across quads of a subgroup (lib/lanes-quad.wgsl). 'flash-quad' is flash.wgsl with k and v loads
// shared across quads of a subgroup, and
// 'flash-split-quad' the split-keys kernel with the dims split across a quad (both need the
// device's 'subgroups' feature; src/tiles.ts says where they are used). 'flash-tiled' is the fused
// kernel's workgroup tile, 'flash-held-keys' its held-keys tile (subgroups too; merge-rows.wgsl follows it)
// and 'flash-held-keys-32' that tile with 32 keys per invocation (heads up to 128 dims; small calls).
// 'flash-decode' is the split-keys path's kernel for GPUs, a workgroup per (row, chunk), and
// 'merge-decode' its merge, a workgroup per row.
export type KernelName =
  | 'scores' | 'scores-quad' | 'softmax' | 'weighted-sum' | 'weighted-sum-quad' | 'flash' | 'flash-quad' | 'flash-tiled' | 'flash-held-keys' | 'flash-held-keys-32' | 'flash-split'
  | 'flash-split-quad' | 'flash-decode' | 'merge' | 'merge-rows' | 'merge-decode';

/**
 * The most storage buffers one kernel binds (flash: mask, q, k, v, output, log-sum-exp). WebGPU's
 * core default is 8 (and compatibility mode's today); early compatibility-mode implementations
 * reported 4, and createAttention refuses such a device.
 */
export const KERNEL_STORAGE_BUFFERS = 6;

/** How a kernel reads q, k and v: as vec4 arrays (E and Ev multiples of 4) or as scalars. */
export type Loads = 'vec4' | 'scalar';

const uses = { scores: true, 'scores-quad': true, softmax: false, 'weighted-sum': true, 'weighted-sum-quad': true, flash: true, 'flash-quad': true, 'flash-tiled': true,
  'flash-held-keys': true, 'flash-held-keys-32': true, 'flash-split': true, 'flash-split-quad': true, 'flash-decode': true, merge: false,
  'merge-rows': false, 'merge-decode': false };
const body: Record<KernelName, string> = {
  scores: maskWgsl + lanesNoneWgsl + scoresWgsl,
  'scores-quad': maskWgsl + lanesQuadWgsl + scoresWgsl,
  softmax: softmaxWgsl,
  'weighted-sum': lanesNoneWgsl + weightedSumWgsl,
  'weighted-sum-quad': lanesQuadWgsl + weightedSumWgsl,
  flash: maskWgsl + kvBlocksWgsl + kvShareNoneWgsl + flashWgsl,
  'flash-quad': maskWgsl + kvBlocksWgsl + kvShareQuadWgsl + flashWgsl,
  'flash-tiled': maskWgsl + flashTiledWgsl,
  'flash-held-keys': maskWgsl + heldKeysLibWgsl + flashHeldKeysWgsl,
  'flash-held-keys-32': maskWgsl + heldKeysLibWgsl + flashHeldKeys32Wgsl,
  'flash-split': maskWgsl + kvBlocksWgsl + splitChunkWgsl + flashSplitWgsl,
  'flash-split-quad': maskWgsl + kvBlocksWgsl + splitChunkWgsl + flashSplitQuadWgsl,
  'flash-decode': maskWgsl + splitChunkWgsl + softmaxGroupsWgsl + flashDecodeWgsl,
  merge: mergeStatsWgsl + mergeOutWgsl + mergeWgsl,
  'merge-rows': mergeStatsWgsl + mergeRowsWgsl,
  'merge-decode': softmaxGroupsWgsl + mergeOutWgsl + mergeDecodeWgsl,
};

/**
 * The constants a kernel's source has written in rather than set as overrides: the held-keys
 * kernels' head sizes, which size their private array of held keys (a private array's length must
 * be a const-expression, and SwiftShader's compile time grows with it). Each value gets its own
 * shader module.
 */
export const SOURCE_CONSTANTS: Partial<Record<KernelName, readonly string[]>> = {
  'flash-held-keys': ['HEAD_VEC4', 'VALUE_VEC4'],
  'flash-held-keys-32': ['HEAD_VEC4', 'VALUE_VEC4'],
};

/**
 * A kernel's full source: the shared parameter block, the q/k/v loaders it needs, its own file,
 * with the values `constants` gives for its SOURCE_CONSTANTS written in.
 */
export function kernelSource(kernel: KernelName, loads: Loads, constants: Record<string, number | boolean> = {}): string {
  const loaders = uses[kernel] ? (loads === 'vec4' ? qkvVec4Wgsl : qkvScalarWgsl) : '';
  // Directives come before any declaration; the quad operations run in loops whose bounds these
  // kernels make uniform per quad, which WGSL's uniformity analysis cannot see.
  const quadKernel = kernel === 'flash-quad' || kernel === 'flash-split-quad' || kernel === 'flash-held-keys' ||
    kernel === 'flash-held-keys-32' || kernel === 'scores-quad' || kernel === 'weighted-sum-quad';
  const directives = quadKernel ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n' : '';
  let own = body[kernel];
  for (const name of SOURCE_CONSTANTS[kernel] ?? []) {
    const value = constants[name];
    if (value === undefined) continue; // the file's own value (a source read for its text, as limits.test.ts does)
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new Error(`${kernel}: ${name} must be a whole number >= 1, got ${value}`);
    const line = new RegExp(`^const ${name}: u32 = \\d+u;$`, 'm');
    if (!line.test(own)) throw new Error(`${kernel}: its source has no "const ${name}: u32 = ...u;" line to write ${name} into`);
    own = own.replace(line, `const ${name}: u32 = ${value}u;`);
  }
  return directives + paramsWgsl + loaders + own;
}
