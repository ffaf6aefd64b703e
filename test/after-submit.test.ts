// encode()'s scratch goes back to the pool once the caller has finished the encoder and the queue
// has run that work, or once an encoder dropped unfinished is garbage collected (src/after-submit.ts).
// A stand-in encoder and queue: what is checked is when `release` runs, not GPU work.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { afterSubmit } from '../src/after-submit.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

class StandInEncoder {
  finished = 0;
  finish(): object {
    this.finished++;
    return {};
  }
}
const encoderOf = () => new StandInEncoder() as unknown as GPUCommandEncoder;

function queue(): { queue: GPUQueue; idle: () => void } {
  let idle!: () => void;
  const done = new Promise<undefined>((r) => (idle = () => r(undefined)));
  return { queue: { onSubmittedWorkDone: () => done } as unknown as GPUQueue, idle };
}

describe('afterSubmit', () => {
  it('releases only after finish() and the queue has run the work, once, for every call on the encoder', async () => {
    const encoder = encoderOf();
    const q = queue();
    const released: string[] = [];
    afterSubmit(encoder, q.queue, () => released.push('a'));
    afterSubmit(encoder, q.queue, () => released.push('b'));
    await tick(5);
    expect(released, 'nothing before finish()').toEqual([]);
    encoder.finish();
    expect(Object.prototype.hasOwnProperty.call(encoder, 'finish'), 'the prototype method is back').toBe(false);
    expect((encoder as unknown as StandInEncoder).finished).toBe(1);
    await tick(5);
    expect(released, 'nothing before the queue is idle').toEqual([]);
    q.idle();
    await tick(5);
    expect(released).toEqual(['a', 'b']);
    encoder.finish();
    await tick(5);
    expect(released).toEqual(['a', 'b']);
  });

  it('releases the scratch of an encoder dropped unfinished when it is collected', async () => {
    let released = 0;
    (() => {
      for (let i = 0; i < 3; i++) afterSubmit(encoderOf(), queue().queue, () => released++);
    })();
    for (let i = 0; i < 50 && released < 3; i++) {
      gc();
      await tick(10);
    }
    expect(released).toBe(3);
  });

  it('a finished encoder is not released early when it is collected before the queue is idle', async () => {
    const q = queue();
    let released = 0;
    (() => {
      const encoder = encoderOf();
      afterSubmit(encoder, q.queue, () => released++);
      encoder.finish();
    })();
    for (let i = 0; i < 10; i++) {
      gc();
      await tick(10);
    }
    expect(released).toBe(0);
    q.idle();
    await tick(5);
    expect(released).toBe(1);
  });
});
