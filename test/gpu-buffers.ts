// GPU buffers for the tests of the GPU-resident API (encode()), in Node and in the browser harness:
// upload, NaN-poisoned outputs, read back, a mask's descriptor, and a KV cache with spare rows.
// Uses the WebGPU globals (GPUBufferUsage, GPUMapMode): the browser's, or in Node those test/gpu-fixture.ts installs.
import type { AttentionMask, GPUMaskDescriptor } from '../src/types.js';

/** A buffer holding `data` (padded to whole words); STORAGE, COPY_DST and COPY_SRC unless `usage` says otherwise. */
export function upload(
  device: GPUDevice, data: Float32Array | Uint8Array,
  usage: number = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
): GPUBuffer {
  const b = device.createBuffer({ size: Math.max(4, Math.ceil(data.byteLength / 4) * 4), usage, mappedAtCreation: true });
  new Uint8Array(b.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  b.unmap();
  return b;
}

/** An output buffer poisoned with NaN, so an element a kernel forgets to write shows. */
export function nanBuffer(device: GPUDevice, floats: number): GPUBuffer {
  return upload(device, new Float32Array(floats).fill(NaN));
}

/** Reads `floats` f32 values of a buffer back. */
export async function readBuffer(device: GPUDevice, buffer: GPUBuffer, floats: number): Promise<Float32Array> {
  const staging = device.createBuffer({ size: floats * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(buffer, 0, staging, 0, floats * 4);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const data = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return data;
}

/** encode()'s description of a CPU mask (the data goes in its own buffer). */
export function maskDescriptor(mask: AttentionMask | undefined): GPUMaskDescriptor | undefined {
  return mask && { kind: mask.data instanceof Uint8Array ? 'boolean' : 'additive', shape: mask.shape };
}

/** `heads` blocks of `Lk` rows of `width` floats laid out in a cache of `capacity` rows each, the spare rows NaN. */
export function kvCacheOf(data: Float32Array, heads: number, Lk: number, width: number, capacity: number): Float32Array {
  const out = new Float32Array(heads * capacity * width).fill(NaN);
  for (let h = 0; h < heads; h++) out.set(data.subarray(h * Lk * width, (h + 1) * Lk * width), h * capacity * width);
  return out;
}
