// When may encode()'s scratch buffers go back to the pool? Only once the GPU has run the caller's
// commands. The library cannot see the caller's submit, so it watches the caller's encoder: once
// `finish()` has been called (the command buffer exists and is normally submitted at once), it
// waits for the queue to be idle past that point. Releasing any earlier would let the next call
// take the same buffers and overwrite them (a uniform block, say) before the caller's late submit
// runs: silently wrong results.
//
// Nothing the registry below holds may reach the encoder, or the encoder could never be collected.
// So each piece is built in a function of its own: V8 gives closures made in one function a shared
// scope, and a release callback made next to the encoder would keep it alive.
import { awaitGpu } from './await-gpu.js';

type Callbacks = (() => void)[];

const waiting = new WeakMap<GPUCommandEncoder, Callbacks>();

// An encoder dropped without finish() (an error path) never runs its commands: its scratch is free.
const dropped = new FinalizationRegistry<Callbacks>(runAll);

function runAll(callbacks: Callbacks): void {
  for (const f of callbacks.splice(0)) f();
}

/**
 * Calls `release` once `encoder.finish()` has been called and the work submitted by then (and in
 * the same task) is done, or once the encoder is garbage collected unfinished. `release` must not
 * refer to the encoder.
 */
export function afterSubmit(encoder: GPUCommandEncoder, queue: GPUQueue, release: () => void): void {
  let callbacks = waiting.get(encoder);
  if (!callbacks) {
    callbacks = [];
    waiting.set(encoder, callbacks);
    dropped.register(encoder, callbacks, callbacks);
    watchFinish(encoder, queue, callbacks);
  }
  callbacks.push(release);
}

/** Shadows the encoder's finish() with an own property, removed on the first call. */
function watchFinish(encoder: GPUCommandEncoder, queue: GPUQueue, callbacks: Callbacks): void {
  const finish = encoder.finish;
  Object.defineProperty(encoder, 'finish', {
    configurable: true,
    writable: true,
    value: function (this: GPUCommandEncoder, ...args: Parameters<GPUCommandEncoder['finish']>) {
      delete (encoder as { finish?: unknown }).finish;
      waiting.delete(encoder);
      dropped.unregister(callbacks);
      try {
        return finish.apply(this, args);
      } finally {
        // The submit follows finish() in the same task: wait for the queue after that task. A lost
        // device rejects: then nothing will run, and the scratch is free as well.
        setTimeout(() => awaitGpu(queue.onSubmittedWorkDone()).then(() => runAll(callbacks), () => runAll(callbacks)), 0);
      }
    },
  });
}
