// Scratch and transfer buffers, reused between calls. A buffer is handed to one call at a time
// and comes back only when that call's GPU work is done, so calls in flight never share one.
// Idle buffers are capped (count and bytes); past the cap a returned buffer is destroyed.

export interface PoolLimits {
  maxIdleBuffers: number;
  maxIdleBytes: number;
}

/** Sizes are rounded up to a power of two (≥ 256 bytes) so buffers fit many shapes; near the
 * device's largest buffer, to a multiple of 256 instead. */
function sizeClass(bytes: number, max: number): number {
  let s = 256;
  while (s < bytes) s *= 2;
  return s <= max ? s : Math.ceil(bytes / 256) * 256;
}

export class BufferPool {
  private idle = new Map<string, GPUBuffer[]>();
  private idleBytes = 0;
  private idleCount = 0;
  private live = new Set<GPUBuffer>();

  constructor(
    private readonly device: GPUDevice,
    private readonly limits: PoolLimits = { maxIdleBuffers: 64, maxIdleBytes: 256 * 1024 * 1024 },
  ) {}

  acquire(bytes: number, usage: number, label: string): GPUBuffer {
    const size = sizeClass(bytes, this.device.limits.maxBufferSize);
    const key = `${usage}:${size}`;
    const list = this.idle.get(key);
    const reused = list?.pop();
    if (reused) {
      this.idleBytes -= size;
      this.idleCount--;
      reused.label = label;
      return reused;
    }
    const buffer = this.device.createBuffer({ size, usage, label });
    this.live.add(buffer);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.live.has(buffer)) return;
    if (this.idleCount >= this.limits.maxIdleBuffers || this.idleBytes + buffer.size > this.limits.maxIdleBytes) {
      this.live.delete(buffer);
      buffer.destroy();
      return;
    }
    const key = `${buffer.usage}:${buffer.size}`;
    let list = this.idle.get(key);
    if (!list) this.idle.set(key, (list = []));
    list.push(buffer);
    this.idleBytes += buffer.size;
    this.idleCount++;
  }

  /** Buffers the pool made and has not destroyed (in use or idle). */
  get liveBuffers(): number {
    return this.live.size;
  }

  destroy(): void {
    for (const b of this.live) b.destroy();
    this.live.clear();
    this.idle.clear();
    this.idleBytes = 0;
    this.idleCount = 0;
  }
}
