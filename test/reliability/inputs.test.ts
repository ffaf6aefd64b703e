// Bad input to the context API (attention, attentionWithWeights, attentionWithLogSumExp, encode)
// → AttentionInputError naming the argument and the values, before any GPU work (the device's
// entry points are counted), and the context stays usable: each bad call is followed by a good one.
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AttentionInputError,
  attentionReference,
  attentionReferenceFull,
  createAttention,
  DeviceLimitError,
  type AttentionBuffers,
  type AttentionContext,
  type AttentionOptions,
  type AttentionShape,
  type EncodeOptions,
  type Tensor,
} from '../../src/index.js';
import { makeInputs } from '../cases.js';
import { agrees, compare } from '../compare.js';
import { runSeed } from '../random.js';
import { readBuffer, upload } from '../gpu-buffers.js';
import { borrowedDevice, GPUBufferUsageFlags, type GPUCounters, instrument, uncapturedErrors } from './helpers.js';
import { poisoned } from '../gpu-fixture.js';

const seed = runSeed();
const z = (...shape: number[]): Tensor => ({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape });
type Args = [Tensor, Tensor, Tensor, AttentionOptions?];
const mask = (data: Uint8Array | Float32Array, shape: number[]) => ({ mask: { data, shape } });

// [name, arguments, what the message must say]
const badCalls: [string, () => Args, RegExp][] = [
  ['head dims differ', () => [z(2, 4, 16, 64), z(2, 4, 16, 8), z(2, 4, 16, 8)], /k\.shape \[2,4,16,8\] does not match q\.shape \[2,4,16,64\]: head dims 8 and 64/],
  ['k and v lengths differ', () => [z(1, 4, 8), z(1, 5, 8), z(1, 6, 8)], /k\.shape \[1,5,8\] and v\.shape \[1,6,8\]: key lengths 5 and 6/],
  ['k and v heads differ', () => [z(1, 4, 3, 8), z(1, 2, 3, 8), z(1, 1, 3, 8)], /head counts 2 and 1/],
  ['k and v ranks differ', () => [z(3, 8), z(3, 8), z(1, 3, 8)], /k\.shape \[3,8\] and v\.shape \[1,3,8\] have different ranks/],
  ['batch differs', () => [z(2, 1, 4, 8), z(3, 1, 4, 8), z(3, 1, 4, 8)], /q\.shape \[2,1,4,8\] has B=2, k\.shape \[3,1,4,8\] has B=3/],
  ['H not a multiple of Hkv', () => [z(1, 6, 4, 8), z(1, 4, 4, 8), z(1, 4, 4, 8)], /q has 6 heads and k\/v have 4/],
  ['q data length ≠ shape', () => [{ data: new Float32Array(5), shape: [2, 3] }, z(2, 3), z(2, 3)], /q\.data has 5 elements but q\.shape \[2,3\] needs 6/],
  ['v data length ≠ shape', () => [z(2, 3), z(2, 3), { data: new Float32Array(7), shape: [2, 3] }], /v\.data has 7 elements but v\.shape \[2,3\] needs 6/],
  ['rank 1', () => [z(4), z(4), z(4)], /q\.shape \[4\] has rank 1/],
  ['rank 5', () => [z(1, 1, 1, 2, 2), z(2, 2), z(2, 2)], /q\.shape \[1,1,1,2,2\] has rank 5/],
  ['k rank 5', () => [z(2, 2), z(1, 1, 1, 2, 2), z(2, 2)], /k\.shape \[1,1,1,2,2\] has rank 5/],
  ['non-integer dim', () => [{ data: new Float32Array(4), shape: [2, 2.5] }, z(2, 2), z(2, 2)], /q\.shape \[2,2\.5\]: dimension 1 is 2\.5/],
  ['negative dim', () => [z(2, 2), { data: new Float32Array(0), shape: [-2, 2] }, z(2, 2)], /k\.shape \[-2,2\]: dimension 0 is -2/],
  ['zero dim', () => [z(2, 2), z(2, 2), { data: new Float32Array(0), shape: [0, 2] }], /v\.shape \[0,2\]: dimension 0 is 0/],
  ['NaN dim', () => [{ data: new Float32Array(2), shape: [NaN, 2] }, z(2, 2), z(2, 2)], /dimension 0 is NaN/],
  ['string dim', () => [{ data: new Float32Array(4), shape: ['2', 2] as never }, z(2, 2), z(2, 2)], /q\.shape \["2",2\]: dimension 0 is "2"; every dimension must be a positive integer/],
  ['shape not an array', () => [{ data: new Float32Array(4), shape: 4 as never }, z(2, 2), z(2, 2)], /q\.shape must be an array of dimensions, got 4/],
  ['missing q', () => [undefined as unknown as Tensor, z(2, 2), z(2, 2)], /q is missing/],
  ['missing k', () => [z(2, 2), undefined as unknown as Tensor, z(2, 2)], /k is missing/],
  ['missing v', () => [z(2, 2), z(2, 2), null as unknown as Tensor], /v is missing.*got null/],
  ['data not a Float32Array', () => [{ data: [1, 2, 3, 4] as unknown as Float32Array, shape: [2, 2] }, z(2, 2), z(2, 2)], /q\.data must be a Float32Array, got Array/],
  ['data a Float64Array', () => [z(2, 2), { data: new Float64Array(4) as unknown as Float32Array, shape: [2, 2] }, z(2, 2)], /k\.data must be a Float32Array, got Float64Array/],
  ['unknown kernel', () => [z(2, 2), z(2, 2), z(2, 2), { kernel: 'fast' as never }], /options\.kernel is "fast"; expected one of 'auto', 'staged', 'fused', 'split-keys'/],
  ['unknown causal', () => [z(2, 2), z(2, 2), z(2, 2), { causal: 'left' as never }], /options\.causal is "left"/],
  ['unknown option', () => [z(2, 2), z(2, 2), z(2, 2), { casual: true } as never], /options\.casual is not an option/],
  ['scale NaN', () => [z(2, 2), z(2, 2), z(2, 2), { scale: NaN }], /options\.scale is NaN; expected a finite number/],
  ['scale Infinity', () => [z(2, 2), z(2, 2), z(2, 2), { scale: Infinity }], /options\.scale is Infinity/],
  ['scale a string', () => [z(2, 2), z(2, 2), z(2, 2), { scale: '0.5' as never }], /options\.scale is "0\.5"; expected a finite number/],
  ['scale a bigint', () => [z(2, 2), z(2, 2), z(2, 2), { scale: 1n as never }], /options\.scale is 1n; expected a finite number/],
  ['scale past float32', () => [z(2, 2), z(2, 2), z(2, 2), { scale: 1e39 }], /options\.scale is 1e\+39, past the float32 range the kernels compute in/],
  ['scale null', () => [z(2, 2), z(2, 2), z(2, 2), { scale: null as never }], /options\.scale is null; expected a finite number/],
  ['kernel null', () => [z(2, 2), z(2, 2), z(2, 2), { kernel: null as never }], /options\.kernel is null; expected one of/],
  ['options not an object', () => [z(2, 2), z(2, 2), z(2, 2), 3 as never], /options must be an object, got 3/],
  ['mask wrong shape', () => [z(1, 2, 3, 4), z(1, 2, 5, 4), z(1, 2, 5, 4), mask(new Uint8Array(12), [3, 4])], /options\.mask\.shape \[3,4\] does not fit B=1, H=2, Lq=3, Lk=5/],
  ['mask wrong length', () => [z(3, 4), z(5, 4), z(5, 4), mask(new Uint8Array(14), [3, 5])], /options\.mask\.data has 14 elements but options\.mask\.shape \[3,5\] needs 15/],
  ['mask wrong type', () => [z(3, 4), z(5, 4), z(5, 4), mask(new Int32Array(15) as never, [3, 5])], /Uint8Array.*Float32Array.*got Int32Array/],
  ['mask rank 1', () => [z(3, 4), z(5, 4), z(5, 4), mask(new Uint8Array(15), [15])], /options\.mask\.shape \[15\] has rank 1; expected \[3\|1,5\] or \[1\|1,1\|1,3\|1,5\]$/],
  ['mask rank 5', () => [z(3, 4), z(5, 4), z(5, 4), mask(new Uint8Array(15), [1, 1, 1, 3, 5])], /options\.mask\.shape \[1,1,1,3,5\] has rank 5; expected \[3\|1,5\] or/],
  ['mask rank 3', () => [z(2, 3, 4), z(2, 5, 4), z(2, 5, 4), mask(new Float32Array(30), [2, 3, 5])], /options\.mask\.shape \[2,3,5\] has rank 3/],
  ['mask bad broadcast', () => [z(2, 2, 3, 4), z(2, 2, 5, 4), z(2, 2, 5, 4), mask(new Uint8Array(45), [3, 1, 3, 5])], /\[3,1,3,5\] does not fit B=2/],
  ['mask query rows neither Lq nor 1', () => [z(2, 2, 3, 4), z(2, 2, 5, 4), z(2, 2, 5, 4), mask(new Uint8Array(20), [2, 1, 2, 5])], /options\.mask\.shape \[2,1,2,5\] does not fit B=2, H=2, Lq=3, Lk=5; expected \[3\|1,5\] or \[2\|1,2\|1,3\|1,5\]/],
  ['mask not an object', () => [z(3, 4), z(5, 4), z(5, 4), { mask: 1 as never }], /options\.mask must be \{ data, shape \}, got 1/],
  ['mask without shape', () => [z(3, 4), z(5, 4), z(5, 4), { mask: { data: new Uint8Array(15) } as never }], /options\.mask\.shape must be an array/],
  ['fused with E > 256', () => [z(2, 260), z(2, 260), z(2, 260), { kernel: 'fused' }], /headDim 260 and valueDim 260: the (fused kernels|log-sum-exp comes from the fused kernels, which) take dims up to 256|options\.kernel 'fused' never stores the weights/],
];

const good = makeInputs({ name: 'good', B: 2, H: 2, Hkv: 1, Lq: 9, Lk: 13, E: 8, causal: 'bottom-right' }, seed);

describe(`context API: bad input → AttentionInputError before any GPU work (seed ${seed})`, () => {
  let device: GPUDevice;
  let counters: GPUCounters;
  let ctx: AttentionContext;
  let errors: string[];
  let want: Float32Array;

  beforeAll(async () => {
    device = await borrowedDevice();
    counters = instrument(device);
    errors = uncapturedErrors(device);
    ctx = await createAttention(poisoned({ device }));
    want = attentionReference(good.q, good.k, good.v, good.options).data;
  });
  afterAll(() => {
    expect(errors, 'uncaptured GPU errors').toEqual([]);
    ctx.destroy();
    device.destroy();
  });

  const expectGoodCall = async () => {
    const out = await ctx.attention(good.q, good.k, good.v, good.options);
    const a = compare(out.data, want);
    expect(agrees(a), `good call after a bad one, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
  };

  const entryPoints = ['attention', 'attentionWithWeights', 'attentionWithLogSumExp'] as const;
  it.each(badCalls.flatMap(([name, args, message]) => entryPoints.map((fn) => [name, fn, args, message] as const)))(
    '%s via %s, then a good call',
    async (_name, fn, args, message) => {
      const before = counters.work();
      const created = counters.live.size;
      const [q, k, v, o] = args();
      const err = await ctx[fn](q, k, v, o).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(AttentionInputError);
      expect(err.name).toBe('AttentionInputError');
      expect(err.message).toMatch(message);
      expect(counters.work() - before, 'GPU calls during a rejected call').toBe(0);
      expect(counters.live.size).toBe(created);
      await expectGoodCall();
    },
  );

  it('kernel choices that cannot give what is asked → AttentionInputError before any GPU work', async () => {
    const { q, k, v } = good;
    const before = counters.work();
    await expect(ctx.attentionWithWeights(q, k, v, { kernel: 'fused' })).rejects.toThrow(/options\.kernel 'fused' never stores the weights/);
    await expect(ctx.attentionWithWeights(q, k, v, { kernel: 'split-keys' })).rejects.toThrow(AttentionInputError);
    await expect(ctx.attentionWithLogSumExp(q, k, v, { kernel: 'staged' })).rejects.toThrow(/'staged' does not compute the log-sum-exp/);
    // 'auto' takes the staged path for heads over 256, which has no log-sum-exp: the message must not send the user there.
    const wide = z(2, 260);
    const err = await ctx.attentionWithLogSumExp(wide, wide, wide).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(AttentionInputError);
    expect(err?.message).toMatch(/headDim 260 and valueDim 260: the log-sum-exp comes from the fused kernels, which take dims up to 256/);
    expect(err?.message).not.toMatch(/use kernel 'staged'/);
    expect(counters.work() - before).toBe(0);
    await expectGoodCall();
  });

  it("prepare()'s own options: booleans, not both, and a typo names them → AttentionInputError before any GPU work", async () => {
    const shapeArg = { batch: 1, heads: 2, kvHeads: 2, queryLength: 4, keyLength: 4, headDim: 8, valueDim: 8 };
    const before = counters.work();
    await expect(ctx.prepare(shapeArg, { weights: 'yes' as never })).rejects.toThrow(/options\.weights is "yes"; expected true or false/);
    await expect(ctx.prepare(shapeArg, { logSumExp: 1 as never })).rejects.toThrow(/options\.logSumExp is 1; expected true or false/);
    await expect(ctx.prepare(shapeArg, { weights: true, logSumExp: true })).rejects.toThrow(/both true, but no call returns both/);
    await expect(ctx.prepare(shapeArg, { weight: true } as never)).rejects.toThrow(/options\.weight is not an option; known options are .*weights, logSumExp/);
    await expect(ctx.prepare(shapeArg, 3 as never)).rejects.toThrow(/options must be an object, got 3/);
    expect(counters.work() - before, 'GPU calls during rejected prepare() calls').toBe(0);
    await expect(ctx.prepare(shapeArg, { weights: true, causal: true })).resolves.toBeUndefined();
    await expect(ctx.prepare(shapeArg, { logSumExp: false })).resolves.toBeUndefined();
    await expectGoodCall();
  });

  it('an unknown fusedTile or splitKeysTile → AttentionInputError naming the choices, before any GPU work', async () => {
    const before = counters.work();
    await expect(createAttention(poisoned({ device, fusedTile: 'huge' as never }))).rejects.toThrow(
      /options\.fusedTile must be one of 'auto', 'compact', 'wide', 'workgroup', 'workgroup-split', 'held-keys', got "huge"/,
    );
    await expect(createAttention(poisoned({ device, splitKeysTile: 'held-keys' as never }))).rejects.toThrow(
      /options\.splitKeysTile must be one of 'auto', 'invocation', 'workgroup', got "held-keys"/,
    );
    expect(counters.work() - before).toBe(0);
    await expectGoodCall();
  });

  it('malformed tileMeasurements → AttentionInputError naming the entry and field, before any GPU work', async () => {
    const good = {
      adapter: 'google / swiftshader / - / -', quadShared: true, adapterKind: 'software', workgroupStorageSize: 16384,
      loads: 'vec4', headDim: 64, valueDim: 64, probe: { batch: 1, heads: 8 }, repeats: 1, compactMs: 60, heldKeysMs: 30, verdict: 'held-keys',
    };
    const bad = (tileMeasurements: unknown) => createAttention(poisoned({ device, tileMeasurements: tileMeasurements as never }));
    const before = counters.work();
    await expect(bad({ ...good })).rejects.toThrow(/options\.tileMeasurements must be an array of what ctx\.tileMeasurements\(\) returns, got \{"adapter"/);
    await expect(bad([good, 'held-keys'])).rejects.toThrow(/options\.tileMeasurements\[1\] must be an object, got "held-keys"/);
    await expect(bad([{ ...good, verdict: 'fastest' }])).rejects.toThrow(
      /options\.tileMeasurements\[0\]\.verdict must be one of 'compact', 'wide', 'workgroup', 'workgroup-split', 'held-keys', got "fastest"; pass entries as ctx\.tileMeasurements\(\) returned them/,
    );
    await expect(bad([{ ...good, heldKeysMs: undefined }])).rejects.toThrow(/\[0\]\.heldKeysMs must be the time of the verdict's tile \('held-keys'\), got undefined/);
    await expect(bad([{ ...good, compactMs: -1 }])).rejects.toThrow(/\[0\]\.compactMs must be a positive number of milliseconds, got -1/);
    await expect(bad([{ ...good, wideMs: null }])).rejects.toThrow(/\[0\]\.wideMs must be a positive number of milliseconds or absent, got null/);
    await expect(bad([{ ...good, kernels: 7 }])).rejects.toThrow(/\[0\]\.kernels must be a string or absent, got 7/);
    await expect(bad([{ ...good, headDim: 6.5 }])).rejects.toThrow(/\[0\]\.headDim must be a positive integer, got 6\.5/);
    await expect(bad([{ ...good, adapterKind: undefined }])).rejects.toThrow(/\[0\]\.adapterKind must be 'software' or 'gpu', got undefined/);
    await expect(bad([{ ...good, loads: 'f16' }])).rejects.toThrow(/\[0\]\.loads must be 'vec4' or 'scalar', got "f16"/);
    // Loads that do not follow from the head sizes would file the verdict under other head sizes
    // (vec4 at 125 and 128 is the key of E = Ev = 128), whose candidates were never checked.
    await expect(bad([{ ...good, headDim: 125, valueDim: 128 }])).rejects.toThrow(/\[0\]\.loads must be 'scalar' for headDim 125 and valueDim 128, got "vec4"/);
    await expect(bad([{ ...good, loads: 'scalar' }])).rejects.toThrow(/\[0\]\.loads must be 'vec4' for headDim 64 and valueDim 64, got "scalar"/);
    await expect(bad([good, { ...good, quadShared: 1 }])).rejects.toThrow(/\[1\]\.quadShared must be a boolean, got 1/);
    await expect(bad([{ ...good, probe: null }])).rejects.toThrow(AttentionInputError);
    expect(counters.work() - before).toBe(0);
    const ctx2 = await bad([good, { ...good, adapter: 'elsewhere', verdict: 'compact' }]); // well formed: accepted
    ctx2.destroy();
    await expectGoodCall();
  });

  it("createAttention's own options: not an object, a typo, a bad powerPreference or device → AttentionInputError", async () => {
    const before = counters.work();
    await expect(createAttention(null as never)).rejects.toThrow(/createAttention's options must be an object, got null/);
    await expect(createAttention(poisoned({ device, fusedtile: 'wide' } as never))).rejects.toThrow(
      /options\.fusedtile is not an option; known options are device, powerPreference, fusedTile, splitKeysTile, tileMeasurements$/,
    );
    await expect(createAttention({ powerPreference: 'fast' as never })).rejects.toThrow(
      /options\.powerPreference is "fast"; expected 'low-power', 'high-performance' or nothing/,
    );
    await expect(createAttention({ device: {} as never })).rejects.toThrow(/options\.device must be a GPUDevice/);
    await expect(createAttention({ device: null as never })).rejects.toThrow(AttentionInputError);
    expect(counters.work() - before).toBe(0);
    await expectGoodCall();
  });

  it('reads the inputs as the call is made: changing or replacing them afterwards changes nothing', async () => {
    const c = makeInputs({ name: 'late', B: 1, H: 2, Lq: 7, Lk: 11, E: 8, mask: { kind: 'boolean', broadcast: '2d', density: 0.6 } }, seed + 1);
    const expected = attentionReference(c.q, c.k, c.v, c.options).data;
    const copy = (t: Tensor): Tensor => ({ data: t.data.slice(), shape: [...t.shape] });
    const [q, k, v] = [copy(c.q), copy(c.k), copy(c.v)];
    const options = { mask: { data: (c.options.mask!.data as Uint8Array).slice(), shape: [...c.options.mask!.shape] } };
    const pending = ctx.attention(q, k, v, options);
    q.data.fill(0); // the same arrays changed...
    options.mask.data.fill(0);
    v.data = new Float32Array(3); // ...or others put in their place
    k.shape = [1];
    options.mask = { data: new Uint8Array(1), shape: [1, 1] };
    const a = compare((await pending).data, expected);
    expect(agrees(a), `inputs changed after the call, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
  });

  it('tensors and masks on shared memory (SharedArrayBuffer, also from another realm) are read like any others', async () => {
    const c = makeInputs({ name: 'shared', B: 1, H: 2, Lq: 6, Lk: 9, E: 8, mask: { kind: 'boolean', broadcast: '2d', density: 0.6 } }, seed + 2);
    const shared = <T extends Float32Array | Uint8Array>(a: T): T => {
      const out = new (a.constructor as new (b: SharedArrayBuffer) => T)(new SharedArrayBuffer(a.byteLength));
      out.set(a);
      return out;
    };
    // q on shared memory made in another realm (a vm context), where instanceof SharedArrayBuffer is false.
    const foreign = new Float32Array(runInNewContext(`new SharedArrayBuffer(${c.q.data.byteLength})`) as SharedArrayBuffer);
    foreign.set(c.q.data);
    const q = { data: foreign, shape: c.q.shape };
    const k = { data: shared(c.k.data), shape: c.k.shape };
    const v = { data: shared(c.v.data), shape: c.v.shape };
    const options = { mask: { data: shared(c.options.mask!.data as Uint8Array), shape: c.options.mask!.shape } };
    const a = compare((await ctx.attention(q, k, v, options)).data, attentionReference(c.q, c.k, c.v, c.options).data);
    expect(agrees(a), `shared memory, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
  });

  it('typed arrays made in another realm (an iframe, a vm context, jsdom) are taken as Float32Array and Uint8Array', async () => {
    const c = makeInputs({ name: 'realm', B: 1, H: 2, Lq: 5, Lk: 7, E: 4, mask: { kind: 'boolean', broadcast: '2d', density: 0.6 } }, seed + 3);
    const foreign = <T extends Float32Array | Uint8Array>(a: T): T => {
      const out = runInNewContext(`new ${a.constructor.name}(${a.length})`) as T;
      expect(out instanceof a.constructor).toBe(false); // really from elsewhere
      out.set(a);
      return out;
    };
    const q = { data: foreign(c.q.data), shape: c.q.shape };
    const options = { mask: { data: foreign(c.options.mask!.data as Uint8Array), shape: c.options.mask!.shape } };
    const want = attentionReference(c.q, c.k, c.v, c.options).data;
    for (const got of [(await ctx.attention(q, c.k, c.v, options)).data, attentionReference(q, c.k, c.v, options).data]) {
      const a = compare(got, want);
      expect(agrees(a), `another realm, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
    }
  });

  it('a rejected call is a rejected promise, never a synchronous throw', () => {
    let p: Promise<unknown> | undefined;
    expect(() => (p = ctx.attention(z(4), z(4), z(4)))).not.toThrow();
    return expect(p).rejects.toThrow(AttentionInputError);
  });

  it('many bad calls interleaved with good ones in flight: the good ones are right', async () => {
    const calls = Array.from({ length: 12 }, (_, i) =>
      i % 2 ? ctx.attention(...(badCalls[i % badCalls.length][1]())).then(() => 'resolved', (e) => e) : ctx.attention(good.q, good.k, good.v, good.options),
    );
    const results = await Promise.all(calls);
    results.forEach((r, i) => {
      if (i % 2) expect(r).toBeInstanceOf(AttentionInputError);
      else expect(agrees(compare((r as Tensor).data, want))).toBe(true);
    });
  });
});

describe(`encode(): bad buffers, shapes and options → AttentionInputError, nothing recorded (seed ${seed})`, () => {
  let device: GPUDevice;
  let counters: GPUCounters;
  let ctx: AttentionContext;
  let errors: string[];
  const S = GPUBufferUsageFlags.STORAGE;
  const shape: AttentionShape = { batch: 2, heads: 2, kvHeads: 1, queryLength: 9, keyLength: 13, headDim: 8, valueDim: 8 };
  let bufs: AttentionBuffers;
  const held: GPUBuffer[] = [];
  const make = (bytes: number, usage: number = S) => {
    const b = device.createBuffer({ size: bytes, usage });
    held.push(b);
    return b;
  };

  beforeAll(async () => {
    device = await borrowedDevice();
    counters = instrument(device);
    errors = uncapturedErrors(device);
    ctx = await createAttention(poisoned({ device }));
    bufs = {
      q: upload(device, good.q.data),
      k: upload(device, good.k.data),
      v: upload(device, good.v.data),
      output: make(2 * 2 * 9 * 8 * 4, S | GPUBufferUsageFlags.COPY_SRC | GPUBufferUsageFlags.COPY_DST),
    };
    held.push(bufs.q, bufs.k, bufs.v);
  });
  afterAll(() => {
    expect(errors, 'uncaptured GPU errors').toEqual([]);
    ctx.destroy();
    held.forEach((b) => b.destroy());
    device.destroy();
  });

  const qBytes = 2 * 2 * 9 * 8 * 4;
  const badEncodes: [string, () => [AttentionBuffers, AttentionShape, EncodeOptions?], RegExp][] = [
    ['q too small', () => [{ ...bufs, q: make(qBytes - 4) }, shape], new RegExp(`buffers\\.q has ${qBytes - 4} bytes but the shape needs ${qBytes}`)],
    ['output too small', () => [{ ...bufs, output: make(16) }, shape], /buffers\.output has 16 bytes but the shape needs 1152/],
    ['k without STORAGE usage', () => [{ ...bufs, k: make(13 * 8 * 4 * 2, GPUBufferUsageFlags.COPY_DST) }, shape], /buffers\.k \(usage 0x8\) lacks GPUBufferUsage\.STORAGE/],
    ['missing v', () => [{ ...bufs, v: undefined as never }, shape], /buffers\.v is missing or not a GPUBuffer/],
    ['buffers not an object', () => [null as never, shape], /buffers must be \{ q, k, v, output/],
    ['weights buffer too small', () => [{ ...bufs, weights: make(64) }, shape], /buffers\.weights has 64 bytes but the shape needs 1872/],
    ['logSumExp without STORAGE', () => [{ ...bufs, logSumExp: make(256, GPUBufferUsageFlags.COPY_DST) }, shape], /buffers\.logSumExp \(usage 0x8\) lacks GPUBufferUsage\.STORAGE/],
    ['mask buffer without options.mask', () => [{ ...bufs, mask: make(256) }, shape], /buffers\.mask was given but options\.mask/],
    ['mask buffer missing', () => [bufs, shape, { mask: { kind: 'boolean', shape: [9, 13] } }], /buffers\.mask is missing/],
    ['boolean mask buffer too small', () => [{ ...bufs, mask: make(112) }, shape, { mask: { kind: 'boolean', shape: [9, 13] } }], /buffers\.mask has 112 bytes but the shape needs 120/],
    // A boolean mask of 120 bytes in a buffer of 122, as a key-padding mask sized for an odd capacity: a storage
    // binding's size must be a multiple of 4, and the kernels bind whole buffers.
    ['boolean mask buffer of a size not a multiple of 4', () => [{ ...bufs, mask: make(122) }, shape, { mask: { kind: 'boolean', shape: [9, 13] } }], /buffers\.mask has 122 bytes, not a multiple of 4, and a storage binding's size must be one; allocate 124 bytes/],
    ['output of a size not a multiple of 4', () => [{ ...bufs, output: make(1154) }, shape], /buffers\.output has 1154 bytes, not a multiple of 4/],
    ['additive mask buffer too small', () => [{ ...bufs, mask: make(120) }, shape, { mask: { kind: 'additive', shape: [9, 13] } }], /buffers\.mask has 120 bytes but the shape needs 468/],
    ['unknown mask kind', () => [{ ...bufs, mask: make(468) }, shape, { mask: { kind: 'bool' as never, shape: [9, 13] } }], /options\.mask\.kind is "bool"/],
    ['mask wrong shape', () => [{ ...bufs, mask: make(468) }, shape, { mask: { kind: 'additive', shape: [13, 9] } }], /options\.mask\.shape \[13,9\] does not fit B=2, H=2, Lq=9, Lk=13/],
    ['heads not a multiple of kvHeads', () => [bufs, { ...shape, heads: 3, kvHeads: 2 }], /heads 3 is not a multiple of kvHeads 2/],
    ['non-integer headDim', () => [bufs, { ...shape, headDim: 7.5 }], /shape\.headDim is 7\.5; expected a positive integer/],
    ['zero keyLength', () => [bufs, { ...shape, keyLength: 0 }], /shape\.keyLength is 0/],
    ['missing batch', () => [bufs, { ...shape, batch: undefined as never }], /shape\.batch is undefined/],
    ['shape missing', () => [bufs, undefined as never], /shape is missing/],
    ['unknown option', () => [bufs, shape, { causl: true } as never], /options\.causl is not an option/],
    ['weights on the fused kernel', () => [{ ...bufs, weights: make(1872) }, shape, { kernel: 'fused' }], /'fused' never stores the weights/],
    ['weights and logSumExp both', () => [{ ...bufs, weights: make(1872), logSumExp: make(144) }, shape], /buffers\.weights and buffers\.logSumExp were both given, but no path writes both/],
    ['an unknown buffer (a typo)', () => [{ ...bufs, weight: make(1872) } as never, shape], /buffers\.weight is not a buffer this call takes; known buffers are q, k, v, output, mask, weights, logSumExp/],
    ['output is q', () => [{ ...bufs, output: bufs.q }, shape], /buffers\.output is the same GPUBuffer as buffers\.q; the kernels write output/],
    ['logSumExp is output', () => [{ ...bufs, logSumExp: bufs.output }, shape], /buffers\.output is the same GPUBuffer as buffers\.logSumExp/],
  ];

  it('a buffer past maxStorageBufferBindingSize → DeviceLimitError naming the limit, nothing recorded (the kernels bind whole buffers)', () => {
    const limit = device.limits.maxStorageBufferBindingSize;
    const big = { size: limit + 4, usage: S, label: 'stand-in' } as unknown as GPUBuffer; // never reaches the GPU
    const encoder = device.createCommandEncoder();
    const before = counters.work();
    expect(() => ctx.encode(encoder, { ...bufs, k: big }, shape)).toThrow(
      new RegExp(`buffers\\.k has ${limit + 4} bytes, over this device's maxStorageBufferBindingSize \\(${limit}\\)`),
    );
    expect(() => ctx.encode(encoder, { ...bufs, k: big }, shape)).toThrow(DeviceLimitError);
    expect(counters.work()).toBe(before);
    encoder.finish();
  });

  it.each(badEncodes)('%s → AttentionInputError, nothing recorded, then a good encode works', async (_name, args, message) => {
    const [b, s, o] = args();
    const encoder = device.createCommandEncoder();
    const before = counters.work();
    const created = counters.live.size;
    let err: unknown;
    try {
      ctx.encode(encoder, b, s, o);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AttentionInputError);
    expect((err as Error).message).toMatch(message);
    expect(counters.work() - before, 'GPU calls during a rejected encode').toBe(0);
    expect(counters.live.size).toBe(created);
    device.queue.submit([encoder.finish()]); // the caller's encoder is still valid and empty
    await goodEncode();
  });

  it('a bad encoder argument → AttentionInputError', () => {
    expect(() => ctx.encode({} as GPUCommandEncoder, bufs, shape)).toThrow(/encoder must be a GPUCommandEncoder/);
  });

  const ref = attentionReferenceFull(good.q, good.k, good.v, good.options).output.data;
  async function goodEncode() {
    device.queue.writeBuffer(bufs.output, 0, new Float32Array(ref.length).fill(NaN)); // poisoned: the encode must write it all
    const encoder = device.createCommandEncoder();
    ctx.encode(encoder, bufs, shape, { causal: 'bottom-right' });
    device.queue.submit([encoder.finish()]);
    const got = await readBuffer(device, bufs.output, ref.length);
    const a = compare(got, ref);
    expect(agrees(a), `good encode after a bad one, seed ${seed}: ${JSON.stringify(a)}`).toBe(true);
  }
});
