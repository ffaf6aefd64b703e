// WebGPU flag values from the spec. We use the numbers rather than the GPUBufferUsage globals so
// the library works in Node without copying the `webgpu` package's globals onto globalThis.
export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
  INDIRECT: 0x0100,
} as const;

export const MapMode = { READ: 0x0001 } as const;
