// Scratch and transfer buffers, reused between calls. attention() holds a buffer until its call's
// GPU work is done, so its calls in flight never share one; encode()'s workspace returns buffers at
// once and its recordings share them (see DeviceState.workspace in context.ts). Idle buffers are
// capped (count, and bytes: 256 MiB, or up to 1 GiB what the latest calls had out at once); past the
// cap the least recently returned buffer is retired: destroyed, or dropped when lent.
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

/**
 * The byte cap grows to the latest calls' footprint up to this, so that a call whose buffers alone
 * pass the cap (decoding against 65536 keys: k and v 128 MiB each) finds them again when repeated
 * instead of making them anew every time; the next calls' release shrinks it back.
 */
export const MAX_ADAPTIVE_IDLE_BYTES = 1024 * 1024 * 1024;

export class BufferPool {
  private idle = new Map<string, GPUBuffer[]>();
  /** Idle buffers, least recently returned first: past a cap, the oldest go. */
  private order: GPUBuffer[] = [];
  private idleBytes = 0;
  private live = new Set<GPUBuffer>();
  /** Buffers taken and not yet returned (a second release of one is ignored). */
  private out = new Set<GPUBuffer>();
  private dropped = new DroppedBuffers();
  /** Bytes taken and not yet returned, and the most at once since the pool last had none out. */
  private inUse = 0;
  private busyPeak = 0;
  private destroyed = false;

  constructor(
    private readonly device: GPUDevice,
    private readonly limits: PoolLimits = DEFAULT_POOL_LIMITS,
    /** Told of every buffer the pool retires (tests). */
    private readonly onRetire: (buffer: GPUBuffer) => void = () => {},
  ) {}

  acquire(bytes: number, usage: number, label: string): GPUBuffer {
    const size = sizeClass(bytes, roundingLimit(this.device, usage));
    if (this.inUse === 0) this.busyPeak = 0; // a new call (or calls) begins
    this.inUse += size;
    this.busyPeak = Math.max(this.busyPeak, this.inUse);
    const reused = this.idle.get(`${usage}:${size}`)?.at(-1);
    if (reused) {
      this.unidle(reused);
      reused.label = label;
      this.out.add(reused);
      return reused;
    }
    const buffer = this.device.createBuffer({ size, usage, label });
    this.live.add(buffer);
    this.out.add(buffer);
    return buffer;
  }

  /** The idle byte cap now: the limit, or the latest calls' footprint up to MAX_ADAPTIVE_IDLE_BYTES. */
  private get byteCap(): number {
    return Math.max(this.limits.maxIdleBytes, Math.min(this.busyPeak, MAX_ADAPTIVE_IDLE_BYTES));
  }

  release(buffer: GPUBuffer): void {
    if (!this.out.delete(buffer)) return; // not taken from this pool, or returned already
    this.inUse -= buffer.size;
    const cap = this.byteCap;
    // After destroy(), nothing is kept: a buffer taken since (a probe resuming late) is destroyed.
    if (this.destroyed || buffer.size > cap || this.limits.maxIdleBuffers === 0) {
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
    while (this.order.length > this.limits.maxIdleBuffers || this.idleBytes > cap) {
      const old = this.order[0]!;
      this.unidle(old);
      this.retire(old);
    }
  }

  /** Takes an idle buffer out of its list, the return order and the idle bytes; false if it is not idle here. */
  private unidle(buffer: GPUBuffer): boolean {
    const list = this.idle.get(`${buffer.usage}:${buffer.size}`);
    const at = list?.lastIndexOf(buffer) ?? -1;
    if (!list || at < 0) return false;
    list.splice(at, 1);
    this.order.splice(this.order.indexOf(buffer), 1);
    this.idleBytes -= buffer.size;
    return true;
  }

  /**
   * Retires a buffer that must not be handed out again, whether it is still out or was returned and
   * sits idle: one a call or probe used that failed on the GPU (an allocation that ran out of memory
   * stays invalid).
   */
  discard(buffer: GPUBuffer): void {
    if (this.out.delete(buffer)) {
      this.inUse -= buffer.size;
    } else if (!this.unidle(buffer)) {
      return; // not this pool's, or retired already
    }
    this.retire(buffer);
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
    this.destroyed = true;
    for (const b of this.live) {
      this.onRetire(b);
      b.destroy();
    }
    this.live.clear();
    this.out.clear();
    this.inUse = 0;
    this.dropped.destroyAll();
    this.idle.clear();
    this.order = [];
    this.idleBytes = 0;
  }
}
