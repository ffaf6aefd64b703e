// Scratch and transfer buffers, reused between calls. attention() holds a buffer until its call's
// GPU work is done, so its calls in flight never share one; encode()'s workspace returns buffers at
// once and its recordings share them (see DeviceState.workspace in context.ts). Idle buffers are
// capped (count and bytes); past the cap a returned buffer is retired: destroyed, or dropped when lent.
import { BufferUsage } from './gpu-constants.js';

export interface PoolLimits {
  maxIdleBuffers: number;
  maxIdleBytes: number;
  /** Buffers lent to encode() recordings, which the caller submits: retired ones are dropped (DroppedBuffers). */
  lent?: boolean;
}

/** Sizes are rounded up to a power of two (≥ 256 bytes) so buffers fit many shapes; past `max`,
 * to a multiple of 256 that still fits `max`, else to a multiple of 4. */
export function sizeClass(bytes: number, max: number): number {
  let s = 256;
  while (s < bytes) s *= 2;
  if (s <= max) return s;
  const exact = Math.ceil(bytes / 4) * 4;
  return Math.max(exact, Math.min(Math.ceil(bytes / 256) * 256, Math.floor(max / 4) * 4));
}

/**
 * The largest size a pooled buffer may be rounded up to. Our kernels bind whole buffers, so a
 * STORAGE buffer must stay within maxStorageBufferBindingSize as well as maxBufferSize: rounding a
 * 150 MB request up to 256 MiB on a device with a 200 MB binding limit would fail validation.
 */
function roundingLimit(device: GPUDevice, usage: number): number {
  const l = device.limits;
  return usage & BufferUsage.STORAGE ? Math.min(l.maxBufferSize, l.maxStorageBufferBindingSize) : l.maxBufferSize;
}

/**
 * Buffers lent to encode() are dropped when retired, never destroyed: a command buffer the caller has
 * not submitted yet may bind them, and a destroyed buffer would fail that submit. They are freed by
 * the garbage collector once nothing refers to them, or by destroyAll() (the context's destroy()),
 * whichever comes first. Held weakly, so tracking them keeps none alive.
 */
export class DroppedBuffers {
  private refs = new Set<WeakRef<GPUBuffer>>();
  private sinceSweep = 0;

  add(buffer: GPUBuffer): void {
    this.refs.add(new WeakRef(buffer));
    if (++this.sinceSweep >= 256) {
      this.sinceSweep = 0;
      for (const r of this.refs) if (!r.deref()) this.refs.delete(r);
    }
  }

  destroyAll(): void {
    for (const r of this.refs) r.deref()?.destroy();
    this.refs.clear();
  }
}

export const DEFAULT_POOL_LIMITS: PoolLimits = { maxIdleBuffers: 64, maxIdleBytes: 256 * 1024 * 1024 };

export class BufferPool {
  private idle = new Map<string, GPUBuffer[]>();
  /** Idle buffers, least recently returned first: past a cap, the oldest go. */
  private order: GPUBuffer[] = [];
  private idleBytes = 0;
  private live = new Set<GPUBuffer>();
  private dropped = new DroppedBuffers();

  constructor(
    private readonly device: GPUDevice,
    private readonly limits: PoolLimits = DEFAULT_POOL_LIMITS,
    /** Told of every buffer the pool retires (tests). */
    private readonly onRetire: (buffer: GPUBuffer) => void = () => {},
  ) {}

  acquire(bytes: number, usage: number, label: string): GPUBuffer {
    const size = sizeClass(bytes, roundingLimit(this.device, usage));
    const reused = this.idle.get(`${usage}:${size}`)?.pop();
    if (reused) {
      this.order.splice(this.order.indexOf(reused), 1);
      this.idleBytes -= size;
      reused.label = label;
      return reused;
    }
    const buffer = this.device.createBuffer({ size, usage, label });
    this.live.add(buffer);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.live.has(buffer)) return;
    if (buffer.size > this.limits.maxIdleBytes || this.limits.maxIdleBuffers === 0) {
      this.retire(buffer);
      return;
    }
    const key = `${buffer.usage}:${buffer.size}`;
    let list = this.idle.get(key);
    if (!list) this.idle.set(key, (list = []));
    list.push(buffer);
    this.order.push(buffer);
    this.idleBytes += buffer.size;
    // Over a cap, evict the least recently returned buffers rather than the one just returned:
    // otherwise a pool filled by earlier shapes would never take buffers of the current one.
    while (this.order.length > this.limits.maxIdleBuffers || this.idleBytes > this.limits.maxIdleBytes) {
      const old = this.order.shift()!;
      const oldList = this.idle.get(`${old.usage}:${old.size}`)!;
      oldList.splice(oldList.indexOf(old), 1);
      this.idleBytes -= old.size;
      this.retire(old);
    }
  }

  /** Whether this pool's buffers are lent to encode() recordings (PoolLimits.lent). */
  get lent(): boolean {
    return this.limits.lent === true;
  }

  private retire(buffer: GPUBuffer): void {
    this.live.delete(buffer);
    this.onRetire(buffer);
    if (this.lent) this.dropped.add(buffer);
    else buffer.destroy();
  }

  /** Buffers the pool made and has not retired (in use or idle; for tests). */
  get liveBuffers(): number {
    return this.live.size;
  }

  /** Idle buffers and their bytes (for tests). */
  get idleStats(): { buffers: number; bytes: number } {
    return { buffers: this.order.length, bytes: this.idleBytes };
  }

  destroy(): void {
    for (const b of this.live) {
      this.onRetire(b);
      b.destroy();
    }
    this.live.clear();
    this.dropped.destroyAll();
    this.idle.clear();
    this.order = [];
    this.idleBytes = 0;
  }
}
