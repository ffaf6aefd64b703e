// The Node bench's copy of shared-memory uploads (bench/shared-uploads.ts), which ORT's WebGPU EP
// needs on Dawn's Node binding: the bytes that land are the ones asked for, whatever the view.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copySharedUploads } from '../bench/shared-uploads';
import { awaitGpu } from '../src/await-gpu';
import { deviceWithLimits } from './gpu-fixture';

describe('copySharedUploads', () => {
  let device: GPUDevice;
  let gpu: GPU; // kept referenced while the device lives
  let restore: () => void;
  beforeAll(async () => {
    ({ device, gpu } = await deviceWithLimits({}));
    restore = copySharedUploads(Object.getPrototypeOf(device.queue) as GPUQueue);
  });
  afterAll(() => {
    restore();
    device.destroy();
    expect(gpu).toBeDefined();
  });

  // Uploads at byte 8 of a buffer poisoned with 0xee, then reads the whole buffer back.
  async function upload(write: (buffer: GPUBuffer) => void): Promise<Uint8Array> {
    const size = 64;
    const target = device.createBuffer({ size, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
    device.queue.writeBuffer(target, 0, new Uint8Array(size).fill(0xee));
    write(target);
    const read = device.createBuffer({ size, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(target, 0, read, 0, size);
    device.queue.submit([enc.finish()]);
    await awaitGpu(read.mapAsync(GPUMapMode.READ), { softwareAdapter: true });
    const bytes = new Uint8Array(read.getMappedRange().slice(0));
    read.destroy();
    target.destroy();
    return bytes;
  }
  const expected = (payload: Uint8Array) => {
    const e = new Uint8Array(64).fill(0xee);
    e.set(payload, 8);
    return e;
  };
  // Dawn's Node types (and @webgpu/types) take no typed array on shared memory, which is the point.
  const put = (b: GPUBuffer, data: ArrayBufferView, dataOffset?: number, size?: number) =>
    device.queue.writeBuffer(b, 8, data as unknown as BufferSource, dataOffset, size);
  const sharedFloats = () => {
    const f = new Float32Array(new SharedArrayBuffer(40));
    f.forEach((_, i) => (f[i] = i + 0.5));
    return f;
  };

  it('a Float32Array on shared memory, with an offset and a size in elements', async () => {
    const f = sharedFloats();
    const got = await upload((b) => put(b, f, 2, 5));
    expect(got).toEqual(expected(new Uint8Array(f.buffer.slice(8, 28))));
  });

  it('a whole view into shared memory, and a subarray of it', async () => {
    const f = sharedFloats();
    expect(await upload((b) => put(b, f))).toEqual(expected(new Uint8Array(f.buffer.slice(0))));
    const sub = f.subarray(3, 7);
    expect(await upload((b) => put(b, sub))).toEqual(expected(new Uint8Array(f.buffer.slice(12, 28))));
  });

  it('a DataView on shared memory, with offset and size in bytes', async () => {
    const f = sharedFloats();
    const dv = new DataView(f.buffer, 4, 32);
    const got = await upload((b) => put(b, dv, 4, 12));
    expect(got).toEqual(expected(new Uint8Array(f.buffer.slice(8, 20))));
  });

  it('plain memory goes through unchanged', async () => {
    const f = new Float32Array(10).map((_, i) => i + 0.25);
    const got = await upload((b) => put(b, f, 1, 4));
    expect(got).toEqual(expected(new Uint8Array(f.buffer.slice(4, 20))));
  });
});
