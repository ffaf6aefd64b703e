// When may encode()'s scratch buffers go back to the pool? Only once the GPU has run the caller's
// commands. The library cannot see the caller's submit, so it watches the caller's encoder: once
// `finish()` has been called (the command buffer exists and is normally submitted at once), it
// waits for the queue to be idle past that point. Releasing any earlier would let the next call
// take the same buffers and overwrite them (a uniform block, say) before the caller's late submit
// runs: silently wrong results.
import { awaitGpu } from './await-gpu.js';

const waiting = new WeakMap<GPUCommandEncoder, (() => void)[]>();

// An encoder dropped without finish() (an error path) never runs its commands: its scratch is free.
const dropped = new FinalizationRegistry<() => void>((release) => release());

/**
 * Calls `release` once `encoder.finish()` has been called and the work submitted by then (and in
 * the same task) is done, or once the encoder is garbage collected unfinished.
 */
export function afterSubmit(encoder: GPUCommandEncoder, queue: GPUQueue, release: () => void): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    dropped.unregister(token);
    release();
  };
  const token = {};
  dropped.register(encoder, once, token);
  let list = waiting.get(encoder);
  if (!list) {
    waiting.set(encoder, (list = []));
    // An own property shadowing the prototype's method, removed on the first call.
    const finish = encoder.finish;
    Object.defineProperty(encoder, 'finish', {
      configurable: true,
      writable: true,
      value: function (this: GPUCommandEncoder, ...args: Parameters<GPUCommandEncoder['finish']>) {
        delete (encoder as { finish?: unknown }).finish;
        const callbacks = waiting.get(encoder) ?? [];
        waiting.delete(encoder);
        try {
          return finish.apply(this, args);
        } finally {
          // The submit follows finish() in the same task: wait for the queue after that task.
          setTimeout(() => {
            awaitGpu(queue.onSubmittedWorkDone()).then(
              () => callbacks.forEach((f) => f()),
              () => callbacks.forEach((f) => f()), // device lost: nothing will run
            );
          }, 0);
        }
      },
    });
  }
  list.push(once);
}
