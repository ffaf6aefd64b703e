// Public entry point: re-exports only. The reference below stays in dist/index.d.ts, so the WebGPU
// types the public API names (GPUDevice, GPUBuffer, ...) resolve in a consumer's TypeScript.
/// <reference types="@webgpu/types" preserve="true" />
export { createAttention, type ContextDebugOptions } from './context.js';
export { awaitGpu, type AwaitGpuOptions } from './await-gpu.js';
export { attentionReference, attentionReferenceFull, type ReferenceResult } from './reference.js';
export {
  AttentionInputError,
  ContextDestroyedError,
  DeviceLimitError,
  DeviceLostError,
  GPUExecutionError,
  WebGPUUnavailableError,
} from './errors.js';
export type * from './types.js';
export type { FusedTileChoice, SplitTileChoice, TileName } from './tiles.js';
