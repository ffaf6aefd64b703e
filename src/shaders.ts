// The one module that imports WGSL. Each kernel is its own file under shaders/; the shared
// parameter block and mask lookup are prepended here. Vite inlines the strings at build time.
import paramsWgsl from '../shaders/lib/params.wgsl?raw';
import maskWgsl from '../shaders/lib/mask.wgsl?raw';
import qkvVec4Wgsl from '../shaders/lib/qkv-vec4.wgsl?raw';
import qkvScalarWgsl from '../shaders/lib/qkv-scalar.wgsl?raw';
import scoresWgsl from '../shaders/scores.wgsl?raw';
import softmaxWgsl from '../shaders/softmax.wgsl?raw';
import weightedSumWgsl from '../shaders/weighted-sum.wgsl?raw';
import flashWgsl from '../shaders/flash.wgsl?raw';
import mergeWgsl from '../shaders/merge.wgsl?raw';

export type KernelName = 'scores' | 'softmax' | 'weighted-sum' | 'flash' | 'flash-vec4' | 'merge';

export const kernelSources: Record<KernelName, string> = {
  scores: paramsWgsl + maskWgsl + scoresWgsl,
  softmax: paramsWgsl + softmaxWgsl,
  'weighted-sum': paramsWgsl + weightedSumWgsl,
  // The fused kernel reads q, k, v through loaders: vec4 when E and Ev are multiples of 4.
  flash: paramsWgsl + maskWgsl + qkvScalarWgsl + flashWgsl,
  'flash-vec4': paramsWgsl + maskWgsl + qkvVec4Wgsl + flashWgsl,
  merge: paramsWgsl + mergeWgsl,
};
