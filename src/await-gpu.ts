// Waiting on the GPU in Node without a spinning CPU core.
//
// Dawn's Node bindings (the `webgpu` package) find finished GPU work by polling: while any GPU
// promise is pending they call `setImmediate` again and again, which keeps one CPU core busy for
// the whole wait. On a software adapter (SwiftShader), which runs the kernels on those same cores,
// that took a third of its speed on a 2-core machine: the multiply-add ceiling kernel ran at
// 23-29 GFLOP/s instead of 33-38, and `attention()` 1.35-1.6x slower (BENCHMARKS.md, session 7).
//
// While any promise passed to awaitGpu is pending, Dawn's poll callbacks run at once within
// SPIN_MS of the latest awaitGpu call and through `setTimeout(…, 0)` (about a millisecond apart)
// after that. While a wait on a software adapter is pending (`{ softwareAdapter: true }`: the
// library's own waits say so), the polls of those first SPIN_MS instead run after a NAP_MS sleep
// of the main thread (Atomics.wait): a spinning poll there took one of the cores the adapter runs
// the kernels on, for the whole of a short call (Node, 2 cores: decoding S=1024 end to end 3.5 ms
// against 1.8, BENCHMARKS.md, session 20), and a timer's millisecond is as long as the call.
// This covers every Dawn wait in the process during that time, not only the wrapped one. Dawn
// hands `setImmediate` an anonymous native function with no arguments and a `prototype`; every
// other callback (user code, Promise resolvers, bound functions) goes through untouched, and the
// original `setImmediate` is put back when the last wait settles. Where there is no
// `setImmediate` (browsers: their GPU process waits without spinning) this does nothing.

/** A wait shorter than this keeps Dawn's immediate polling, so short calls gain no timer latency. */
const SPIN_MS = 2;
/**
 * The sleep asked for before each of those polls while a wait on a software adapter is pending:
 * 50 µs, which Linux stretches to ~0.13-0.16 ms (1000 naps took 126 ms on this project's VM).
 */
const NAP_MS = 0.05;

type SetImmediate = (callback: (...args: unknown[]) => void, ...args: unknown[]) => unknown;
type SetTimeout = (callback: (...args: unknown[]) => void, ms: number, ...args: unknown[]) => unknown;

/**
 * One state per process, shared by every copy of this module (a bundled library and its source,
 * two versions in one app), so that copies never wrap each other's wrapper.
 */
interface State {
  pending: number;
  /** Of those, waits on a software adapter (optional: a copy of this module from before it may have made the state). */
  softwarePending?: number;
  lastWaitStart: number;
  original?: SetImmediate;
  wrapper?: SetImmediate;
  /** Captured before any wait, so faked timers installed later cannot catch Dawn's polls. */
  realSetTimeout: SetTimeout;
}

const STATE_KEY = Symbol.for('webgpu-attention.awaitGpu');

function globalScope(): { setImmediate?: SetImmediate; setTimeout: SetTimeout; [STATE_KEY]?: State } {
  return globalThis as unknown as { setImmediate?: SetImmediate; setTimeout: SetTimeout; [STATE_KEY]?: State };
}

function isNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof proc?.versions?.node === 'string' && typeof globalScope().setImmediate === 'function';
}

function state(): State {
  const scope = globalScope();
  return (scope[STATE_KEY] ??= { pending: 0, lastWaitStart: 0, realSetTimeout: scope.setTimeout });
}

/**
 * Dawn's poll callback: a native function with no name, no parameters and a `prototype` (a
 * function made by Node-API). User callbacks show their source; bound functions are named
 * "bound …"; Promise resolvers take a parameter and have no `prototype`.
 */
export function isDawnPoll(callback: unknown): boolean {
  return (
    typeof callback === 'function' &&
    callback.name === '' &&
    callback.length === 0 &&
    Object.prototype.hasOwnProperty.call(callback, 'prototype') &&
    Function.prototype.toString.call(callback).includes('[native code]')
  );
}

function install(s: State): void {
  const scope = globalScope();
  const base = scope.setImmediate!;
  const wrapper: SetImmediate = function (this: unknown, callback, ...args) {
    // A copy of the wrapper that outlived its waits (someone saved and restored it) passes through.
    if (s.pending > 0 && isDawnPoll(callback)) {
      if (performance.now() - s.lastWaitStart > SPIN_MS || ((s.softwarePending ?? 0) > 0 && !nap())) {
        return s.realSetTimeout(callback, 0, ...args);
      }
    }
    return base.call(this, callback, ...args);
  };
  // Keep what hangs off the original (Node's util.promisify.custom, for one).
  for (const key of Reflect.ownKeys(base)) {
    if (key === 'name' || key === 'length' || key === 'prototype') continue;
    const d = Object.getOwnPropertyDescriptor(base, key);
    if (d) Object.defineProperty(wrapper, key, d);
  }
  s.original = base;
  s.wrapper = wrapper;
  scope.setImmediate = wrapper;
}

let napCell: Int32Array | undefined;

/** Sleeps NAP_MS without spinning; false where the thread may not block (Electron's renderer), and the poll takes a timer. */
function nap(): boolean {
  try {
    Atomics.wait((napCell ??= new Int32Array(new SharedArrayBuffer(4))), 0, 0, NAP_MS);
    return true;
  } catch {
    return false;
  }
}

function release(s: State, software: boolean): void {
  s.pending--;
  if (software) s.softwarePending = (s.softwarePending ?? 1) - 1;
  if (s.pending > 0) return;
  const scope = globalScope();
  // If someone replaced setImmediate after us, leave theirs (ours only forwards to the original).
  if (scope.setImmediate === s.wrapper) scope.setImmediate = s.original;
  s.original = s.wrapper = undefined;
}

/** Options of awaitGpu. */
export interface AwaitGpuOptions {
  /**
   * The work runs on a software adapter (SwiftShader: its kernels use this process's CPU cores).
   * While such a wait is pending, the polls of a wait's first 2 ms sleep 50 µs each instead of
   * spinning. Default false: on a GPU the spin costs no kernel time and finds short work sooner.
   */
  softwareAdapter?: boolean;
}

/**
 * Resolves or rejects as `promise` does. In Node, while it is pending, Dawn's bindings poll for the
 * GPU about once a millisecond (after the first 2 ms) instead of in a tight loop, leaving the CPU
 * to the adapter and to your code. The library waits this way itself; wrap your own awaits on GPU
 * work with it when you use the GPU-resident API in Node:
 * `await awaitGpu(device.queue.onSubmittedWorkDone())` (with `{ softwareAdapter: true }` on
 * SwiftShader). Without `setImmediate` (browsers) it returns `promise` as is.
 */
export function awaitGpu<T>(promise: T | PromiseLike<T>, options?: AwaitGpuOptions): Promise<T> {
  // A thenable or a plain value is adopted first (a native promise is returned as it is).
  const p = Promise.resolve(promise);
  if (!isNode()) return p;
  const s = state();
  const software = options?.softwareAdapter === true;
  s.lastWaitStart = performance.now();
  if (software) s.softwarePending = (s.softwarePending ?? 0) + 1;
  if (s.pending++ === 0) install(s);
  return p.finally(() => release(s, software));
}
