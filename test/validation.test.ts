// Invalid input throws a named error whose message names the argument and the values,
// before any GPU work (these run on the CPU reference, which shares the validation).
import { describe, expect, it } from 'vitest';
import { AttentionInputError, attentionReference, attentionReferenceFull } from '../src/index.js';
import type { AttentionOptions, Tensor } from '../src/index.js';

const z = (...shape: number[]): Tensor => ({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape });
const call = (q: Tensor, k: Tensor, v: Tensor, o?: AttentionOptions) => () => attentionReference(q, k, v, o);

describe('input validation', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['head dims differ', call(z(2, 4, 16, 64), z(2, 4, 16, 8), z(2, 4, 16, 8)), /k\.shape \[2,4,16,8\].*q\.shape \[2,4,16,64\].*head dims 8 and 64/],
    ['k and v lengths differ', call(z(1, 4, 8), z(1, 5, 8), z(1, 6, 8)), /key lengths 5 and 6/],
    ['batch differs', call(z(2, 1, 4, 8), z(3, 1, 4, 8), z(3, 1, 4, 8)), /B=2.*B=3/],
    ['H not a multiple of Hkv', call(z(1, 6, 4, 8), z(1, 4, 4, 8), z(1, 4, 4, 8)), /6 heads.*4.*multiple/],
    ['data length wrong', call({ data: new Float32Array(5), shape: [2, 3] }, z(2, 3), z(2, 3)), /q\.data has 5 elements but q\.shape \[2,3\] needs 6/],
    ['rank 1', call(z(4), z(4), z(4)), /q\.shape \[4\] has rank 1/],
    ['rank 5', call(z(1, 1, 1, 2, 2), z(2, 2), z(2, 2)), /rank 5/],
    ['non-integer dim', call({ data: new Float32Array(4), shape: [2, 2.5] }, z(2, 2), z(2, 2)), /dimension 1 is 2\.5/],
    ['negative dim', call({ data: new Float32Array(0), shape: [-2, 2] }, z(2, 2), z(2, 2)), /dimension 0 is -2/],
    ['missing k', call(z(2, 2), undefined as unknown as Tensor, z(2, 2)), /k is missing/],
    ['data not Float32Array', call({ data: [1, 2, 3, 4] as unknown as Float32Array, shape: [2, 2] }, z(2, 2), z(2, 2)), /q\.data must be a Float32Array, got Array/],
    ['unknown kernel', call(z(2, 2), z(2, 2), z(2, 2), { kernel: 'fast' as never }), /options\.kernel is "fast"/],
    ['unknown causal', call(z(2, 2), z(2, 2), z(2, 2), { causal: 'left' as never }), /options\.causal is "left"/],
    ['unknown option', call(z(2, 2), z(2, 2), z(2, 2), { casual: true } as never), /options\.casual is not an option/],
    ['bad scale', call(z(2, 2), z(2, 2), z(2, 2), { scale: NaN }), /options\.scale is NaN/],
    ['mask wrong shape', call(z(1, 2, 3, 4), z(1, 2, 5, 4), z(1, 2, 5, 4), { mask: { data: new Uint8Array(12), shape: [3, 4] } }), /options\.mask\.shape \[3,4\].*Lq=3, Lk=5/],
    ['mask wrong length', call(z(3, 4), z(5, 4), z(5, 4), { mask: { data: new Uint8Array(14), shape: [3, 5] } }), /options\.mask\.data has 14 elements.*needs 15/],
    ['mask wrong type', call(z(3, 4), z(5, 4), z(5, 4), { mask: { data: new Int32Array(15) as never, shape: [3, 5] } }), /Uint8Array.*Float32Array.*got Int32Array/],
    ['mask bad broadcast', call(z(2, 2, 3, 4), z(2, 2, 5, 4), z(2, 2, 5, 4), { mask: { data: new Uint8Array(45), shape: [3, 1, 3, 5] } }), /\[3,1,3,5\] does not fit B=2/],
    // Found by a review: each threw a TypeError, or an error naming the wrong thing, or a 2 MB message.
    ['data null', call({ data: null as never, shape: [2, 2] }, z(2, 2), z(2, 2)), /q\.data must be a Float32Array, got null/],
    ['q not a tensor', call(5 as never, z(2, 2), z(2, 2)), /q is not a tensor: expected \{ data: Float32Array, shape: number\[\] \}, got 5/],
    ['causal a bigint', call(z(2, 2), z(2, 2), z(2, 2), { causal: 1n as never }), /options\.causal is 1n; expected true/],
    ['kernel a bigint', call(z(2, 2), z(2, 2), z(2, 2), { kernel: 2n as never }), /options\.kernel is 2n; expected one of/],
    ['data given as the shape', call({ data: new Float32Array(4), shape: new Float32Array(1 << 20) as never }, z(2, 2), z(2, 2)), /^q\.shape \[0,0,0,0,0,0,…\] has rank 1048576; expected rank 2/],
  ];
  it.each(cases)('%s → AttentionInputError naming the values', (_name, fn, message) => {
    expect(fn).toThrow(AttentionInputError);
    expect(fn).toThrow(message);
  });
});

describe('the reference reads what was validated', () => {
  it('a mask shape given as an array-like is read as validated (it threw "not iterable" in the reference)', () => {
    const q = { data: Float32Array.from([1, 0, 0, 1]), shape: [2, 2] };
    const mask = { data: Uint8Array.from([1, 0, 1, 1]), shape: { 0: 2, 1: 2, length: 2 } as unknown as number[] };
    const out = attentionReference(q, q, q, { mask });
    expect(Array.from(out.data.subarray(0, 2))).toEqual([1, 0]); // row 0 sees key 0 only
  });
  it('rows with an undefined entry are refused (they gave all-NaN output)', () => {
    const q = { data: new Float32Array(4), shape: [2, 2] };
    expect(() => attentionReferenceFull(q, q, q, undefined, [undefined as never])).toThrow(/rows must be an array of query row indices, integers from 0 to 1; got undefined at index 0/);
  });
});
