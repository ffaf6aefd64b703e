// src/shaders.ts's kernelSource writes the held-keys kernels' head sizes into their source (their
// private array of held keys is sized by them), and leaves every other kernel's overrides alone.
import { describe, expect, it } from 'vitest';
import { kernelSource, SOURCE_CONSTANTS } from '../src/shaders.js';

describe('kernelSource', () => {
  it.each(['flash-held-keys', 'flash-held-keys-32'] as const)('%s: HEAD_VEC4 and VALUE_VEC4 written in as consts, which size the held array', (kernel) => {
    expect(SOURCE_CONSTANTS[kernel]).toEqual(['HEAD_VEC4', 'VALUE_VEC4']);
    const src = kernelSource(kernel, 'vec4', { HEAD_VEC4: 3, VALUE_VEC4: 25, MASK_KIND: 1, WG: 4 });
    expect(src.match(/^const HEAD_VEC4: u32 = \d+u;$/gm)).toEqual(['const HEAD_VEC4: u32 = 3u;']);
    expect(src.match(/^const VALUE_VEC4: u32 = \d+u;$/gm)).toEqual(['const VALUE_VEC4: u32 = 25u;']);
    expect(src).not.toMatch(/override (HEAD|VALUE)_VEC4/);
    expect(src).toMatch(/^const STRIDE: u32 = HEAD_VEC4;/m);
    expect(src).toMatch(/^alias Held = array<vec4<f32>, V_BASE \+ VALUE_VEC4 \* KEYS>;$/m);
    // The overrides that stay overrides are not written in.
    expect(src).toMatch(/^override MASK_KIND: u32 = 0u;$/m);
    expect(src).toMatch(/^override WG: u32 = 4u;$/m);
  });

  it('refuses a head size that is not a whole number of at least 1, naming the kernel and the constant', () => {
    expect(() => kernelSource('flash-held-keys', 'vec4', { HEAD_VEC4: 0, VALUE_VEC4: 1 })).toThrow(/flash-held-keys: HEAD_VEC4 must be a whole number >= 1, got 0/);
    expect(() => kernelSource('flash-held-keys-32', 'vec4', { HEAD_VEC4: 2, VALUE_VEC4: 1.5 })).toThrow(/flash-held-keys-32: VALUE_VEC4 must be a whole number >= 1, got 1.5/);
    expect(() => kernelSource('flash-held-keys', 'vec4', { HEAD_VEC4: true, VALUE_VEC4: 1 })).toThrow(/HEAD_VEC4 must be a whole number/);
  });

  it('leaves the source as its file has it without those constants, and other kernels with their overrides', () => {
    expect(kernelSource('flash-held-keys', 'vec4')).toMatch(/^const HEAD_VEC4: u32 = 16u;$/m);
    const flash = kernelSource('flash-quad', 'vec4', { HEAD_VEC4: 3, VALUE_VEC4: 3 });
    expect(flash).toBe(kernelSource('flash-quad', 'vec4'));
    expect(flash).toMatch(/^override HEAD_VEC4: u32 = 16u;/m);
  });
});
