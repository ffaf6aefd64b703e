// Waiting on the GPU in Node without a spinning CPU core.
//
// Dawn's Node bindings (the `webgpu` package) find finished GPU work by polling: while any GPU
// promise is pending they call `setImmediate` again and again, which keeps one CPU core busy for
// the whole wait. On a software adapter (SwiftShader), which runs the kernels on those same cores,
// that took a third of its speed on a 2-core machine: the multiply-add ceiling kernel ran at
// 23-29 GFLOP/s instead of 33-38, and `attention()` 1.35-1.6x slower (BENCHMARKS.md, session 7).
//
// While a promise passed to awaitGpu is pending, Dawn's poll callbacks (which it hands to
// `setImmediate` as anonymous native functions) run at once for the first SPIN_MS of the wait and
// then through `setTimeout(…, 0)`, about a millisecond apart. Every other `setImmediate` call goes
// through untouched, and the original function is put back when the last wait settles. Browsers
// have no `setImmediate` (their GPU process waits without spinning): there this does nothing.

/** A wait shorter than this keeps Dawn's immediate polling, so short calls gain no timer latency. */
const SPIN_MS = 2;

type SetImmediate = (callback: (...args: unknown[]) => void, ...args: unknown[]) => unknown;

let pending = 0;
let lastWaitStart = 0;
let original: SetImmediate | undefined;
let throttled: SetImmediate | undefined;

function globalScope(): { setImmediate?: SetImmediate } {
  return globalThis as unknown as { setImmediate?: SetImmediate };
}

function isNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof proc?.versions?.node === 'string' && typeof globalScope().setImmediate === 'function';
}

/** Dawn's poll callback: a native function with no name (user callbacks have source or a name). */
function isDawnPoll(callback: unknown): boolean {
  return (
    typeof callback === 'function' &&
    callback.name === '' &&
    Function.prototype.toString.call(callback).includes('[native code]')
  );
}

function install(): void {
  const scope = globalScope();
  const base = scope.setImmediate!;
  const wrapper: SetImmediate = function (this: unknown, callback, ...args) {
    if (isDawnPoll(callback) && performance.now() - lastWaitStart > SPIN_MS) {
      return setTimeout(callback, 0, ...args);
    }
    return base.call(this, callback, ...args);
  };
  // Keep what hangs off the original (Node's util.promisify.custom, for one).
  for (const key of Reflect.ownKeys(base)) {
    if (key === 'name' || key === 'length' || key === 'prototype') continue;
    const d = Object.getOwnPropertyDescriptor(base, key);
    if (d) Object.defineProperty(wrapper, key, d);
  }
  original = base;
  throttled = wrapper;
  scope.setImmediate = wrapper;
}

function release(): void {
  pending--;
  if (pending > 0) return;
  const scope = globalScope();
  // If someone replaced setImmediate after us, leave theirs (ours only forwards to the original).
  if (scope.setImmediate === throttled) scope.setImmediate = original;
  original = throttled = undefined;
}

/**
 * Resolves or rejects as `promise` does. In Node, while it is pending, Dawn's bindings poll for the
 * GPU about once a millisecond instead of in a tight loop, leaving the CPU to the adapter (and to
 * your code). Wrap your own awaits on GPU work with it when you use the GPU-resident API in Node:
 * `await awaitGpu(device.queue.onSubmittedWorkDone())`. In a browser it returns `promise` as is.
 */
export function awaitGpu<T>(promise: Promise<T>): Promise<T> {
  if (!isNode()) return promise;
  lastWaitStart = performance.now();
  if (pending++ === 0) install();
  return promise.finally(release);
}
