// Public entry point: re-exports only.
export { createAttention, type ContextDebugOptions } from './context.js';
export { awaitGpu } from './await-gpu.js';
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
