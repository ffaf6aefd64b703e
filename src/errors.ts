/** Bad arguments: thrown before any GPU work; the context stays usable. */
export class AttentionInputError extends Error {
  override name = 'AttentionInputError';
}

/** No WebGPU here (no navigator.gpu, no `webgpu` package, or no adapter). The message says what to install or set. */
export class WebGPUUnavailableError extends Error {
  override name = 'WebGPUUnavailableError';
}

/** The device was lost or destroyed while (or before) the call ran. */
export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
  constructor(message: string, readonly reason?: string) {
    super(message);
  }
}

/** A request the device cannot hold (a limit named in the message). */
export class DeviceLimitError extends Error {
  override name = 'DeviceLimitError';
}

/** A GPU validation or out-of-memory error raised by one of our kernels (the message names it). */
export class GPUExecutionError extends Error {
  override name = 'GPUExecutionError';
  constructor(
    message: string,
    /** The path whose kernels ran ('staged', 'fused' or 'split-keys'). */
    readonly kernel?: string,
    /** 'validation' or 'out-of-memory'. */
    readonly kind?: string,
  ) {
    super(message);
  }
}

/** The context was destroyed and then used. */
export class ContextDestroyedError extends Error {
  override name = 'ContextDestroyedError';
}
