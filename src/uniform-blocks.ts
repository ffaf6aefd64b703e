// The kernels' uniform parameter blocks: one GPU buffer per distinct content, filled when it is
// made and never written again. A command buffer that binds one is right whenever it is submitted,
// since no later call can change what it reads: encode()'s callers may submit long after
// recording, with other calls run in between. Repeated calls (same shape and options) find their
// blocks here, and so their bind groups in the cache.
import { DroppedBuffers } from './buffer-pool.js';
import { BufferUsage } from './gpu-constants.js';

interface Block {
  buffer: GPUBuffer;
  /** Bound by an encode() recording, which the caller may not have submitted yet. */
  lent: boolean;
}

export class UniformBlocks {
  /** Least recently used first. */
  private blocks = new Map<string, Block>();
  private dropped = new DroppedBuffers();

  constructor(
    private readonly device: GPUDevice,
    private readonly capacity = 64,
    /** Told of every block retired (tests). */
    private readonly onRetire: (buffer: GPUBuffer) => void = () => {},
  ) {}

  /** The block holding `data` (a multiple of 4 bytes); `lent`: for an encode() recording. */
  get(data: ArrayBuffer, lent: boolean, label: string): GPUBuffer {
    const key = new Uint32Array(data).join(',');
    let block = this.blocks.get(key);
    if (block) {
      this.blocks.delete(key); // re-insert: most recently used last
    } else {
      const buffer = this.device.createBuffer({ size: data.byteLength, usage: BufferUsage.UNIFORM, mappedAtCreation: true, label });
      new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data));
      buffer.unmap();
      block = { buffer, lent: false };
    }
    block.lent ||= lent;
    this.blocks.set(key, block);
    return block.buffer;
  }

  /**
   * Keeps at most `capacity` blocks, retiring the least recently used. Call it as a call starts,
   * before it records: every earlier attention() call has submitted its commands by then, so their
   * blocks may be destroyed. A block lent to encode() is only dropped (DroppedBuffers).
   */
  trim(): void {
    for (const [key, block] of this.blocks) {
      if (this.blocks.size <= this.capacity) break;
      this.blocks.delete(key);
      this.onRetire(block.buffer);
      if (block.lent) this.dropped.add(block.buffer);
      else block.buffer.destroy();
    }
  }

  /** Blocks held (for tests). */
  get size(): number {
    return this.blocks.size;
  }

  destroy(): void {
    for (const block of this.blocks.values()) {
      this.onRetire(block.buffer);
      block.buffer.destroy();
    }
    this.blocks.clear();
    this.dropped.destroyAll();
  }
}
