// Node runner only: Dawn's Node binding takes no view of a SharedArrayBuffer in writeBuffer, which
// ORT's threaded wasm build uploads from (its tensors live in shared wasm memory).
/**
 * Makes `queue.writeBuffer` copy a view of shared memory into a plain buffer before the upload
 * (ORT's upload otherwise fails with "Invalid argument"; called directly with such a view,
 * writeBuffer crashes the process, which is why the library copies such views itself,
 * src/context.ts). Other data goes through unchanged. Returns a function that puts the original back.
 */
export function copySharedUploads(proto: GPUQueue): () => void {
  const writeBuffer = proto.writeBuffer;
  proto.writeBuffer = function (this: GPUQueue, buffer: GPUBuffer, offset: number, data: BufferSource | SharedArrayBuffer, dataOffset = 0, size?: number) {
    const view = ArrayBuffer.isView(data) ? data : undefined;
    if (!view || Object.prototype.toString.call(view.buffer) !== '[object SharedArrayBuffer]') {
      return writeBuffer.call(this, buffer, offset, data as BufferSource, dataOffset, size);
    }
    // dataOffset and size count elements of a typed array, bytes of a DataView.
    const unit = (view as Partial<Float32Array>).BYTES_PER_ELEMENT ?? 1;
    const bytes = (size ?? view.byteLength / unit - dataOffset) * unit;
    const copy = new Uint8Array(bytes);
    copy.set(new Uint8Array(view.buffer, view.byteOffset + dataOffset * unit, bytes));
    return writeBuffer.call(this, buffer, offset, copy);
  };
  return () => {
    proto.writeBuffer = writeBuffer;
  };
}
