// The one place the demo imports the library from (the sources, so `npm start` needs no build).
export {
  createAttention,
  attentionReference,
  attentionReferenceFull,
  WebGPUUnavailableError,
  DeviceLostError,
  ContextDestroyedError,
  AttentionInputError,
  GPUExecutionError,
} from '../src/index';
export type { AttentionContext, AttentionOptions, AttentionMask, Tensor, KernelChoice, CausalOption, TileMeasurement } from '../src/index';
