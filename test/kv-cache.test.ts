// A preallocated KV cache: encode() on k and v buffers of [B, kvHeads, keyCapacity, E] of which
// only the first keyLength rows of each head are attended to (shape.keyCapacity). The rows past
// keyLength hold NaN, so a kernel that read one, or used the wrong head stride, fails the check.
import { describe, expect, it } from 'vitest';
import { AttentionInputError, attentionReferenceFull, DeviceLimitError, type AttentionShape, type KernelChoice } from '../src/index.js';
import { heldKeysFit, quadSharing } from '../src/tiles.js';
import { cases, makeInputs, type Case } from './cases.js';
import { agrees, compare, LSE_FLOOR } from './compare.js';
import { ranTile } from './dispatches.js';
import { kvCacheOf, maskDescriptor, nanBuffer, readBuffer, upload } from './gpu-buffers.js';
import { type GPUFixture, useGPUFixture, usePlainFixture } from './gpu-fixture.js';
import { runSeed } from './random.js';

const seed = runSeed();
const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

const picked = [
  'control', 'MQA 4 -> 1', 'GQA + causal bottom-right + mask', 'E != Ev (3, 33)',
  'scalar loads E 7 Ev 6, GQA + causal bottom-right + bool mask', 'decode 3 x 1000 bottom-right',
];

async function check(fx: GPUFixture, label: string, c: Case, kernel: KernelChoice, extra: number, lse = false) {
  const device = fx.ctx.device;
  const { q, k, v, options } = makeInputs(c, seed);
  const Hkv = c.Hkv ?? c.H;
  const Ev = c.Ev ?? c.E;
  const capacity = c.Lk + extra;
  const shape: AttentionShape = {
    batch: c.B, heads: c.H, kvHeads: Hkv, queryLength: c.Lq, keyLength: c.Lk, headDim: c.E, valueDim: Ev, keyCapacity: capacity,
  };
  const bufs = {
    q: upload(device, q.data),
    k: upload(device, kvCacheOf(k.data, c.B * Hkv, c.Lk, c.E, capacity)),
    v: upload(device, kvCacheOf(v.data, c.B * Hkv, c.Lk, Ev, capacity)),
  };
  const mask = options.mask ? upload(device, options.mask.data) : undefined;
  const maskDesc = maskDescriptor(options.mask);
  const outFloats = c.B * c.H * c.Lq * Ev;
  const wFloats = c.B * c.H * c.Lq * c.Lk;
  const output = nanBuffer(device, outFloats);
  const weights = kernel === 'staged' ? nanBuffer(device, wFloats) : undefined;
  const lseFloats = c.B * c.H * c.Lq;
  const logSumExp = lse ? nanBuffer(device, lseFloats) : undefined;
  const encoder = device.createCommandEncoder();
  const from = fx.dispatched.length;
  fx.ctx.encode(encoder, { ...bufs, mask, output, weights, logSumExp }, shape, { scale: options.scale, causal: options.causal, mask: maskDesc, kernel });
  device.queue.submit([encoder.finish()]);
  // A forced tile: the recording holds its kernels (another tile's right answer would pass).
  if (label !== 'auto') {
    const ran = fx.dispatched.slice(from);
    const rule = label.replace(/ tile$/, '');
    expect(ranTile(rule, c, ran, quadSharing(device)), `${c.name} on the ${label}: ran ${JSON.stringify(ran)}`).toBe(true);
  }
  const ref = attentionReferenceFull(q, k, v, options);
  const a = compare(await readBuffer(device, output, outFloats), ref.output.data);
  expect(agrees(a), `${c.name} on ${label} ${kernel}, capacity ${capacity}, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
  if (weights) {
    const w = compare(await readBuffer(device, weights, wFloats), ref.weights.data);
    expect(agrees(w), `${c.name} weights, capacity ${capacity}, seed ${seed}: ${JSON.stringify(w)}`).toBe(true);
  }
  if (logSumExp) {
    const l = compare(await readBuffer(device, logSumExp, lseFloats), ref.logSumExp.data, LSE_FLOOR);
    expect(agrees(l), `${c.name} log-sum-exp, capacity ${capacity}, seed ${seed}: ${JSON.stringify(l)}`).toBe(true);
  }
  for (const b of [bufs.q, bufs.k, bufs.v, output, weights, mask, logSumExp]) b?.destroy();
}

const rows = picked.flatMap((name) => (['fused', 'split-keys', 'staged'] as const).map((kernel) => [name, kernel] as const));

describe(`encode() on a preallocated KV cache, shape.keyCapacity (seed ${seed}; rerun with TEST_SEED=${seed})`, () => {
  const fx = useGPUFixture();
  const workgroup = useGPUFixture({ fusedTile: 'workgroup' });
  const wide = useGPUFixture({ fusedTile: 'wide' });
  const heldKeys = useGPUFixture({ fusedTile: 'held-keys' });
  const workgroupSplit = useGPUFixture({ fusedTile: 'workgroup-split' });
  const splitWorkgroup = useGPUFixture({ splitKeysTile: 'workgroup' });

  it.each(rows)('%s on %s', async (name, kernel) => {
    const c = cases.find((x) => x.name === name)!;
    await check(fx.current, 'auto', c, kernel, 5);
    await check(fx.current, 'auto', c, kernel, 37);
  });

  // A cache far longer than its filled part, and the log-sum-exp output.
  it.each([['1x1', 4095], ['MQA 4 -> 1', 4000], ['decode 3 x 1000 bottom-right', 3096]] as const)(
    '%s in a cache of %i spare rows, fused and split-keys, with the log-sum-exp',
    async (name, extra) => {
      const c = cases.find((x) => x.name === name)!;
      await check(fx.current, 'auto', c, 'fused', extra, true);
      await check(fx.current, 'auto', c, 'split-keys', extra, true);
    },
  );

  it.each(picked)('%s on the workgroup tile', (name) => check(workgroup.current, 'workgroup tile', cases.find((x) => x.name === name)!, 'fused', 7));

  // The held-keys tile, on the picked cases whose heads it holds (E, Ev multiples of 4 up to 64),
  // with keys over several chunks of 256 in a cache with spare rows, and the log-sum-exp.
  it.each(picked.filter((n) => { const c = cases.find((x) => x.name === n)!; return heldKeysFit({ headDim: c.E, valueDim: c.Ev ?? c.E }); }))(
    '%s on the held-keys tile', (name) => check(heldKeys.current, 'held-keys tile', cases.find((x) => x.name === name)!, 'fused', 7));
  it('decode 3 x 1000 bottom-right on the held-keys tile, 3096 spare rows, with the log-sum-exp', () =>
    check(heldKeys.current, 'held-keys tile', cases.find((x) => x.name === 'decode 3 x 1000 bottom-right')!, 'fused', 3096, true));

  // The workgroup-split tile: keys in chunks (decoding 3 x 1000: 7 of 160) read from a cache with spare rows.
  it.each(picked)('%s on the workgroup-split tile', (name) =>
    check(workgroupSplit.current, 'workgroup-split tile', cases.find((x) => x.name === name)!, 'fused', 7));
  it('decode 3 x 1000 bottom-right on the workgroup-split tile, 3096 spare rows, with the log-sum-exp', () =>
    check(workgroupSplit.current, 'workgroup-split tile', cases.find((x) => x.name === 'decode 3 x 1000 bottom-right')!, 'fused', 3096, true));

  // The split-keys path's workgroup tile: chunks of 64-key blocks read from a cache with spare rows
  // (the last key's row clamped for the v reads of a block's past-the-end steps).
  it.each(picked)('%s on the split-keys workgroup tile', (name) =>
    check(splitWorkgroup.current, 'split-keys workgroup tile', cases.find((x) => x.name === name)!, 'split-keys', 7));
  it('decode 3 x 1000 bottom-right on the split-keys workgroup tile, 3096 spare rows, with the log-sum-exp', () =>
    check(splitWorkgroup.current, 'split-keys workgroup tile', cases.find((x) => x.name === 'decode 3 x 1000 bottom-right')!, 'split-keys', 3096, true));

  // The wide tile compiles per head size for seconds: one case with 8-dim heads.
  it('GQA + causal bottom-right + mask on the wide tile', () =>
    check(wide.current, 'wide tile', cases.find((x) => x.name === 'GQA + causal bottom-right + mask')!, 'fused', 7));

  it('keyCapacity below keyLength, not an integer, or misspelt: AttentionInputError; k and v sized by keyCapacity', async () => {
    const device = fx.current.ctx.device;
    const shape: AttentionShape = { batch: 1, heads: 2, kvHeads: 2, queryLength: 1, keyLength: 8, headDim: 4, valueDim: 4 };
    const buf = (floats: number) => device.createBuffer({ size: floats * 4, usage: USAGE });
    const enc = device.createCommandEncoder();
    const ok = { q: buf(8), k: buf(2 * 8 * 4), v: buf(2 * 8 * 4), output: buf(8) };
    expect(() => fx.current.ctx.encode(enc, ok, { ...shape, keyCapacity: 7 })).toThrow(AttentionInputError);
    expect(() => fx.current.ctx.encode(enc, ok, { ...shape, keyCapacity: 7 })).toThrow(/shape\.keyCapacity is 7; expected an integer of at least keyLength \(8\)/);
    expect(() => fx.current.ctx.encode(enc, ok, { ...shape, keyCapacity: 8.5 })).toThrow(/keyCapacity is 8\.5/);
    // A cache of 16 rows per head needs k and v of 2 * 16 * 4 floats: the buffers for 8 rows are too small.
    expect(() => fx.current.ctx.encode(enc, ok, { ...shape, keyCapacity: 16 })).toThrow(/buffers\.k has 256 bytes but the shape needs 512/);
    expect(() => fx.current.ctx.encode(enc, ok, { ...shape, keyCapacity: '16' as unknown as number })).toThrow(/keyCapacity is "16"/);
    // A cache no binding of this device can hold: DeviceLimitError naming k and the cache, not advice
    // to allocate a bigger buffer.
    const huge = () => fx.current.ctx.encode(enc, ok, { ...shape, keyCapacity: 2 ** 40 });
    expect(huge).toThrow(DeviceLimitError);
    expect(huge).toThrow(/k needs .* bytes.*keyCapacity 1099511627776 rows per kv head/);
    // A misspelt field is an error, not a default: keycapacity would read heads past the first at the wrong rows.
    expect(() => fx.current.ctx.encode(enc, ok, { ...shape, keycapacity: 16 } as AttentionShape)).toThrow(
      /shape\.keycapacity is not a field of the shape; known fields are batch, heads, kvHeads, queryLength, keyLength, headDim, valueDim, keyCapacity/,
    );
    await expect(fx.current.ctx.prepare({ ...shape, key_length: 8 } as AttentionShape)).rejects.toThrow(/shape\.key_length is not a field of the shape/);
    fx.current.ctx.encode(enc, ok, { ...shape, keyCapacity: 8 }); // the same as leaving it out
    enc.finish();
    for (const b of Object.values(ok)) b.destroy();
  });
});

// The plain kernels (a device without subgroups, as most GPUs run them).
describe(`the same on the plain kernels, without subgroups (seed ${seed})`, () => {
  const plain = usePlainFixture();
  it.each(picked)('%s, fused and split-keys', async (name) => {
    const c = cases.find((x) => x.name === name)!;
    await check(plain.current, 'plain compact', c, 'fused', 11);
    await check(plain.current, 'plain split-keys', c, 'split-keys', 11);
  });
});
